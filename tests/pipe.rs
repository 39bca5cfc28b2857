//! Behaviour of `Connection`, `pipe`, `wait` and `Fd`.

use std::io::{Read, Seek, Write};
use std::time::{Duration, Instant};

mod common;

use common::temp_file;
use multiproc::{Connection, Error, Fd, Pool, Waitable, pool_task, process};

#[process]
fn echo_server(conn: Connection<String>) -> usize {
    let mut served = 0;
    while let Ok(msg) = conn.recv() {
        conn.send(format!("echo: {msg}")).unwrap();
        served += 1;
    }
    served
}

#[process]
fn send_then_sleep(conn: Connection<u32>) {
    conn.send(1).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

/// Receives a descriptor when it can open none: whether that receive is
/// an error (`Some(true)`), rather than one that waits for ever (`None`).
#[process]
fn receive_a_descriptor_with_none_left(conn: Connection<Fd>) -> Option<bool> {
    // SAFETY: plain system calls on this child's own descriptors and
    // limits; the duplicate is closed at once.
    unsafe {
        // The lowest free number: every one below it is open.
        let free = libc::dup(0);
        libc::close(free);
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = free as libc::rlim_t;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    let (said, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || said.send(conn.recv().is_err()));
    // A bound for a hang, not a speed.
    heard.recv_timeout(Duration::from_secs(20)).ok()
}

#[process]
fn write_to(file: Fd, text: String) {
    std::fs::File::from(file)
        .write_all(text.as_bytes())
        .unwrap();
}

#[process]
fn receive_fd_and_write(conn: Connection<Fd>) {
    let file = conn.recv().unwrap();
    std::fs::File::from(file)
        .write_all(b"via a connection")
        .unwrap();
}

#[pool_task]
fn pool_echo(conn: Connection<u64>, x: u64) -> u64 {
    conn.send(x * 10).unwrap();
    x
}

fn contents(mut file: std::fs::File) -> String {
    let mut text = String::new();
    file.rewind().unwrap();
    file.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn a_descriptor_that_cannot_be_received_is_an_error_not_a_hang() {
    let (here, there) = multiproc::pipe::<Fd>().unwrap();
    let child = receive_a_descriptor_with_none_left.spawn(there).unwrap();
    here.send(Fd::from(std::fs::File::open("/dev/null").unwrap()))
        .unwrap();
    assert_eq!(child.join().unwrap(), Some(true));
}

#[test]
fn a_duplex_pipe_carries_messages_both_ways() {
    let (a, b) = multiproc::pipe::<String>().unwrap();
    a.send("ping".to_string()).unwrap();
    assert_eq!(b.recv().unwrap(), "ping");
    let pong = "pong".to_string();
    b.send(&pong).unwrap();
    assert_eq!(a.recv().unwrap(), "pong");
}

#[test]
fn a_connection_is_an_ordinary_argument() {
    let (here, there) = multiproc::pipe::<String>().unwrap();
    let server = echo_server.spawn(there).unwrap();
    for i in 0..100 {
        here.send(format!("{i}")).unwrap();
        assert_eq!(here.recv().unwrap(), format!("echo: {i}"));
    }
    drop(here);
    assert_eq!(server.join().unwrap(), 100);
}

#[test]
fn messages_keep_their_boundaries_and_64_mib_messages_work() {
    let (a, b) = multiproc::pipe::<Vec<u8>>().unwrap();
    let big = vec![7u8; 64 << 20];
    let writer = std::thread::spawn(move || {
        a.send_bytes(b"").unwrap();
        a.send_bytes(&big).unwrap();
        a.send_bytes(b"x").unwrap();
        a.send(Vec::new()).unwrap();
    });
    assert_eq!(b.recv_bytes().unwrap(), b"");
    let received = b.recv_bytes().unwrap();
    assert_eq!(received.len(), 64 << 20);
    assert!(received.iter().all(|&byte| byte == 7));
    assert_eq!(b.recv_bytes().unwrap(), b"x");
    assert_eq!(b.recv().unwrap(), Vec::<u8>::new());
    writer.join().unwrap();
}

#[test]
fn an_undecodable_message_is_an_error_and_the_connection_stays_usable() {
    let (a, b) = multiproc::pipe::<String>().unwrap();
    a.send_bytes(&[0xff, 0xff, 0xff]).unwrap();
    a.send("fine".to_string()).unwrap();
    assert!(matches!(b.recv(), Err(Error::Codec { .. })));
    assert_eq!(b.recv().unwrap(), "fine");
}

#[test]
fn a_closed_or_dead_peer_gives_disconnected_not_a_hang() {
    let (a, b) = multiproc::pipe::<u32>().unwrap();
    drop(a);
    assert!(matches!(b.recv(), Err(Error::Disconnected)));
    assert!(matches!(b.send(1), Err(Error::Disconnected)));

    let (here, there) = multiproc::pipe::<u32>().unwrap();
    let child = send_then_sleep.spawn(there).unwrap();
    assert_eq!(here.recv().unwrap(), 1);
    child.kill().unwrap();
    let started = Instant::now();
    assert!(matches!(here.recv(), Err(Error::Disconnected)));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(child.join().is_err());
}

#[test]
fn poll_try_recv_and_recv_timeout_do_not_block() {
    let (a, b) = multiproc::pipe::<u8>().unwrap();
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
    assert_eq!(b.try_recv().unwrap(), None);
    let started = Instant::now();
    assert!(matches!(
        b.recv_timeout(Duration::from_millis(50)),
        Err(Error::Timeout(_))
    ));
    assert!(started.elapsed() >= Duration::from_millis(50));
    a.send(3).unwrap();
    assert!(b.poll(None).unwrap());
    assert_eq!(b.try_recv().unwrap(), Some(3));
    a.send(4).unwrap();
    assert_eq!(b.recv_timeout(Duration::from_secs(5)).unwrap(), 4);
}

#[test]
fn a_one_way_pipe_refuses_the_wrong_direction() {
    let (rx, tx) = multiproc::pipe_oneway::<u8>().unwrap();
    tx.send(1).unwrap();
    assert_eq!(rx.recv().unwrap(), 1);
    assert!(rx.send(2).is_err());
    assert!(tx.recv().is_err());
}

#[test]
fn wait_reports_the_ready_connections() {
    let (a1, b1) = multiproc::pipe::<u8>().unwrap();
    let (a2, b2) = multiproc::pipe::<u8>().unwrap();
    let objects: [&dyn Waitable; 2] = [&b1, &b2];
    assert!(
        multiproc::wait(&objects, Some(Duration::from_millis(10)))
            .unwrap()
            .is_empty()
    );
    a2.send(2).unwrap();
    assert_eq!(multiproc::wait(&objects, None).unwrap(), [1]);
    a1.send(1).unwrap();
    assert_eq!(multiproc::wait(&objects, None).unwrap(), [0, 1]);
}

#[test]
fn an_open_file_can_be_passed_to_a_child() {
    let (path, file) = temp_file("arg");
    write_to
        .spawn(Fd::from(file.try_clone().unwrap()), "from the child".into())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(contents(file), "from the child");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_descriptor_can_be_sent_over_a_connection() {
    let (path, file) = temp_file("send-handle");
    let (here, there) = multiproc::pipe::<Fd>().unwrap();
    let child = receive_fd_and_write.spawn(there).unwrap();
    here.send(Fd::from(file.try_clone().unwrap())).unwrap();
    child.join().unwrap();
    assert_eq!(contents(file), "via a connection");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn pool_tasks_take_connections_as_arguments() {
    let pool = Pool::new(2).unwrap();
    let (here, there) = multiproc::pipe::<u64>().unwrap();
    let calls: Vec<_> = (0..20u64)
        .map(|x| (there.try_clone().unwrap(), x))
        .collect();
    let values = pool.starmap_chunked(pool_echo, calls, 3).unwrap();
    assert_eq!(values, (0..20).collect::<Vec<_>>());
    let mut sent: Vec<u64> = (0..20).map(|_| here.recv().unwrap()).collect();
    sent.sort_unstable();
    assert_eq!(sent, (0..20).map(|x| x * 10).collect::<Vec<_>>());
}

#[process]
fn open_for_the_parent(path: String) -> Fd {
    Fd::from(std::fs::File::open(path).unwrap())
}

#[pool_task]
fn open_in_a_pool(path: String) -> Fd {
    Fd::from(std::fs::File::open(path).unwrap())
}

#[test]
fn a_file_opened_by_a_process_or_pool_task_is_returned_open() {
    let (path, _) = temp_file("returned");
    std::fs::write(&path, "opened by the child").unwrap();
    let path_text = path.to_string_lossy().into_owned();
    let from_process = open_for_the_parent
        .spawn(path_text.clone())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(
        contents(std::fs::File::from(from_process)),
        "opened by the child"
    );
    let pool = Pool::new(1).unwrap();
    let from_pool = pool.map(open_in_a_pool, vec![path_text; 3]).unwrap();
    for fd in from_pool {
        assert_eq!(contents(std::fs::File::from(fd)), "opened by the child");
    }
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_handle_cannot_go_to_a_manager_and_the_error_says_why() {
    let manager = multiproc::Manager::start().unwrap();
    let list = manager.list::<Fd>().unwrap();
    let err = list
        .push(Fd::from(std::fs::File::open("/dev/null").unwrap()))
        .unwrap_err();
    assert!(matches!(err, Error::Codec { .. }), "{err:?}");
    assert!(err.to_string().contains("not to a manager"), "{err}");
}

#[test]
fn send_timeout_gives_up_when_the_peer_stops_reading() {
    let (a, b) = multiproc::pipe::<Vec<u8>>().unwrap();
    a.send_timeout(vec![1, 2], Duration::from_secs(10)).unwrap();
    assert_eq!(b.recv().unwrap(), [1, 2]);
    // Far more than the socket holds, and `b` does not read.
    let big = vec![7u8; 16 << 20];
    assert!(matches!(
        a.send_timeout(&big, Duration::from_millis(100)),
        Err(multiproc::Error::Timeout(_))
    ));
    // Part of it went out: this end stopped sending rather than garble the stream.
    assert!(matches!(
        a.send(vec![3]),
        Err(multiproc::Error::Disconnected)
    ));
    assert!(matches!(b.recv(), Err(multiproc::Error::Disconnected)));
}
