//! Twin of seed 001-08 (`seeds/001_185cbd479786a44e.txt`, lines 161-185):
//! a sender process and a receiver process talk over a Pipe.
//!
//! ```python
//! from multiprocessing import Process, Pipe
//!
//! # Создание канала для обмена данными между процессами
//! parent_conn, child_conn = Pipe()
//!
//! # Функция, которая будет отправлять данные в канал
//! def sender(connection):
//!     connection.send("Hello from sender!")
//!
//! # Функция, которая будет принимать данные из канала
//! def receiver(connection):
//!     data = connection.recv()
//!     print("Data received in receiver:", data)
//!
//! # Создание и запуск процессов
//! sender_process = Process(target=sender, args=(parent_conn,))
//! receiver_process = Process(target=receiver, args=(child_conn,))
//!
//! sender_process.start()
//! receiver_process.start()
//!
//! sender_process.join()
//! receiver_process.join()
//! ```
//!
//! Differences: the seed creates and starts the processes at module level,
//! without an `if __name__ == "__main__":` guard. That works only with the
//! `fork` start method; with `spawn` (the default on Windows and macOS) or
//! `forkserver` (the default on Linux from Python 3.14) each child imports
//! the module again and fails trying to start processes of its own. Here the
//! children never run `main`, so no guard is needed.
//!
//! The text around the seed calls pipes one-way, but `Pipe()` is duplex by
//! default; the example uses one direction only, so it takes
//! `multiproc::pipe_oneway()` (Python's `Pipe(duplex=False)`), which returns
//! `(receiver, sender)` and turns a send on the wrong end into an error.
//! Both ends are moved into the children, so the parent keeps no copies.
//! Python's `print(a, b)` puts a space between its arguments; the format
//! string does the same.
//!
//! Output: `Data received in receiver: Hello from sender!`

use multiproc::{Connection, process};

#[process]
fn sender(connection: Connection<String>) {
    connection
        .send("Hello from sender!".to_string())
        .expect("the receiver holds the other end");
}

#[process]
fn receiver(connection: Connection<String>) {
    let data = connection.recv().expect("a message from the sender");
    println!("Data received in receiver: {data}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (receiving_end, sending_end) = multiproc::pipe_oneway::<String>()?;

    let sender_process = sender.spawn(sending_end)?;
    let receiver_process = receiver.spawn(receiving_end)?;

    sender_process.join()?;
    receiver_process.join()?;
    Ok(())
}
