//! Twin of the prose section "Общие дескрипторы файлов" (shared file
//! descriptors) of seed 001 (`seeds/001_185cbd479786a44e.txt`, lines 191-193),
//! which has no code:
//!
//! > Общие дескрипторы файлов могут быть использованы для обмена данными между
//! > процессами с помощью файловой системы. В Python вы можете создать общий
//! > дескриптор файла с помощью модуля os и передать его между процессами для
//! > обмена данными через файл.
//!
//! In Python that means either relying on `fork` (the child inherits the
//! parent's descriptors, so passing the number `fd` as an argument works;
//! with `spawn` or `forkserver` the number means nothing in the child, and an
//! open file object cannot be pickled at all), or sending it explicitly:
//!
//! ```python
//! from multiprocessing import Pipe, Process, reduction
//!
//! def child(conn):
//!     fd = reduction.recv_handle(conn)
//!     ...
//!
//! parent_conn, child_conn = Pipe()
//! p = Process(target=child, args=(child_conn,))
//! p.start()
//! reduction.send_handle(parent_conn, fd, p.pid)
//! ```
//!
//! Here a [`multiproc::Fd`] does both with any start-up: it is an ordinary
//! argument of a `#[process]` function, and an ordinary message on a
//! `Connection<Fd>`. Either way the child receives its own duplicate of the
//! descriptor (through `SCM_RIGHTS`) that refers to the same open file,
//! file offset included.
//!
//! The example:
//!
//! 1. The parent opens a temporary file for reading and appending.
//! 2. Two children, started together, each get an `Fd` as an argument and
//!    append one line. The file is in append mode and each line is one
//!    `write`, so the lines never mix, but their order varies.
//! 3. The parent's own offset has moved past both lines: it shares the open
//!    file with the children. It rewinds and prints the contents.
//! 4. A third child, already running, receives an `Fd` over a one-way pipe
//!    (Python's `send_handle` / `recv_handle`), reads the file from the start
//!    and returns how many lines it found.
//!
//! Output (the two middle lines in either order):
//!
//! ```text
//! Позиция в файле после записи потомков: 74 байт
//! Содержимое файла:
//! Строка от процесса 1
//! Строка от процесса 2
//! Процесс, получивший дескриптор через Connection, прочитал строк: 2
//! ```

use std::fs::File;
use std::io::{Read, Seek, Write};

use multiproc::{Connection, Fd, process};

/// Appends one line to the shared file with a single `write`.
#[process]
fn append_line(number: u32, file: Fd) {
    let mut file = File::from(file);
    let line = format!("Строка от процесса {number}\n");
    file.write_all(line.as_bytes())
        .expect("append to the shared file");
}

/// Waits for a descriptor on `conn`, then counts the lines of its file.
#[process]
fn count_lines(conn: Connection<Fd>) -> usize {
    let mut file = File::from(conn.recv().expect("a descriptor from the parent"));
    let mut text = String::new();
    file.rewind().expect("rewind the shared file");
    file.read_to_string(&mut text)
        .expect("read the shared file");
    text.lines().count()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("multiproc-shared-fd-{}.txt", std::process::id());
    let path = std::env::temp_dir().join(name);
    let mut file = File::options()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)?;
    file.set_len(0)?;

    let writers = [
        append_line.spawn(1, Fd::from(file.try_clone()?))?,
        append_line.spawn(2, Fd::from(file.try_clone()?))?,
    ];
    for writer in writers {
        writer.join()?;
    }

    println!(
        "Позиция в файле после записи потомков: {} байт",
        file.stream_position()?
    );
    let mut text = String::new();
    file.rewind()?;
    file.read_to_string(&mut text)?;
    println!("Содержимое файла:");
    print!("{text}");

    let (receiving_end, sending_end) = multiproc::pipe_oneway::<Fd>()?;
    let reader = count_lines.spawn(receiving_end)?;
    sending_end.send(Fd::from(file.try_clone()?))?;
    println!(
        "Процесс, получивший дескриптор через Connection, прочитал строк: {}",
        reader.join()?
    );

    drop(file);
    std::fs::remove_file(&path)?;
    Ok(())
}
