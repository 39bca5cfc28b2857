//! Pipe ping-pong between two processes, next to a raw Unix socket pair and
//! to Python's `multiprocessing.Pipe`. Run with `cargo bench --bench pipe`.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use multiproc::{Connection, Fd, process};

/// Echoes 8-byte messages on a raw socket until it closes.
#[process]
fn raw_echo(socket: Fd) {
    let mut socket = UnixStream::from(std::os::fd::OwnedFd::from(socket));
    let mut buf = [0u8; 8];
    while socket.read_exact(&mut buf).is_ok() {
        socket.write_all(&buf).unwrap();
    }
}

/// Echoes messages on a connection until it closes.
#[process]
fn conn_echo(conn: Connection<u64>) {
    while let Ok(x) = conn.recv() {
        conn.send(x).unwrap();
    }
}

fn main() {
    let (mut here, there) = UnixStream::pair().unwrap();
    let raw_child = raw_echo.spawn(Fd::from(there)).unwrap();
    let mut buf = [0u8; 8];
    let raw = common::median_of_rounds(5, 2000, || {
        here.write_all(&7u64.to_le_bytes()).unwrap();
        here.read_exact(&mut buf).unwrap();
    });
    drop(here);
    raw_child.join().unwrap();

    let (here, there) = multiproc::pipe::<u64>().unwrap();
    let child = conn_echo.spawn(there).unwrap();
    let ours = common::median_of_rounds(5, 2000, || {
        here.send(7).unwrap();
        assert_eq!(here.recv().unwrap(), 7);
    });
    drop(here);
    child.join().unwrap();

    let python = common::python_twin("pipe.py", &[]);
    common::header("Python / multiproc");
    for (name, secs) in &python {
        common::report("Pipe ping-pong round trip", ours, name, *secs);
    }
    println!(
        "| raw Unix socketpair round trip, blocking reads | {:.1} µs | | Connection (which spins briefly before it blocks) = {:.2}x this |",
        raw.as_secs_f64() * 1e6,
        ours.as_secs_f64() / raw.as_secs_f64()
    );
}
