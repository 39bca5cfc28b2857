//! Twin of seed 004-14 (`seeds/004_8543553e03f2e93b.txt`, lines 404-438):
//! a producer and a consumer over a Pipe; the consumer polls, and the parent
//! ends it with a `None` sentinel.
//!
//! ```python
//! import multiprocessing
//!
//! # Функция производителя, отправляющая данные через канал
//! def producer(connection):
//!     data_to_send = ["сообщение 1", "сообщение 2", "сообщение 3"]
//!     for msg in data_to_send:
//!         connection.send(msg)
//!         print(f"Отправлено: {msg}")
//!     connection.close()
//!
//! # Функция потребителя, получающая данные из канала
//! def consumer(connection):
//!     while connection.poll():  # Проверка наличия данных в канале
//!         msg = connection.recv()
//!         print(f"Получено: {msg}")
//!     print("Процесс получил все данные")
//!     connection.close()
//!
//! if __name__ == '__main__':
//!     parent_conn, child_conn = multiprocessing.Pipe()
//!
//!     producer_process = multiprocessing.Process(target=producer, args=(parent_conn,))
//!     consumer_process = multiprocessing.Process(target=consumer, args=(child_conn,))
//!
//!     producer_process.start()
//!     consumer_process.start()
//!
//!     producer_process.join()
//!
//!     # Чтобы завершить работу потребителя, отправляем None
//!     parent_conn.send(None)
//!
//!     consumer_process.join()
//! ```
//!
//! Differences: the Python consumer is racy. `poll()` without a timeout
//! does not wait, so if the consumer starts before the first message arrives
//! it prints "Процесс получил все данные" having received nothing; if it
//! catches up with the producer it stops halfway; and the `None` sentinel is
//! never looked at: it is either printed as `Получено: None` or left unread.
//! Here the consumer keeps the `poll()` loop but gives it a timeout (100 ms)
//! and stops only on the sentinel, so it always receives all three messages
//! and nothing else. While `poll` reports nothing the consumer could do other
//! work; here it just polls again.
//!
//! The messages are `Option<String>`: `Some(text)` is a message and `None`
//! is the sentinel, so the sentinel is part of the type instead of a value
//! that happens to fit any pickled object. The producer and, after it has
//! finished, the parent both send on the same end, as in Python; since
//! `spawn` moves its argument, the producer gets a `try_clone()` of that end.
//! `connection.close()` is the end of each function, where the connection
//! is dropped.
//!
//! Output: the producer's lines and the consumer's lines interleave in some
//! order, each process's own lines in this order:
//!
//! ```text
//! Отправлено: сообщение 1
//! Отправлено: сообщение 2
//! Отправлено: сообщение 3
//! Получено: сообщение 1
//! Получено: сообщение 2
//! Получено: сообщение 3
//! Процесс получил все данные
//! ```

use std::time::Duration;

use multiproc::{Connection, process};

/// `Some(text)` is a message, `None` tells the consumer to stop.
type Message = Option<String>;

#[process]
fn producer(connection: Connection<Message>) {
    let data_to_send = ["сообщение 1", "сообщение 2", "сообщение 3"];
    for msg in data_to_send {
        connection
            .send(Some(msg.to_string()))
            .expect("the consumer holds the other end");
        println!("Отправлено: {msg}");
    }
}

#[process]
fn consumer(connection: Connection<Message>) {
    loop {
        // Проверка наличия данных в канале
        if !connection
            .poll(Some(Duration::from_millis(100)))
            .expect("poll")
        {
            continue;
        }
        match connection.recv().expect("a message or the sentinel") {
            Some(msg) => println!("Получено: {msg}"),
            None => break,
        }
    }
    println!("Процесс получил все данные");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (parent_conn, child_conn) = multiproc::pipe::<Message>()?;

    let producer_process = producer.spawn(parent_conn.try_clone()?)?;
    let consumer_process = consumer.spawn(child_conn)?;

    producer_process.join()?;

    // Чтобы завершить работу потребителя, отправляем None
    parent_conn.send(None)?;

    consumer_process.join()?;
    Ok(())
}
