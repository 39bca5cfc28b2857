//! Twin of seed 001-07 (`seeds/001_185cbd479786a44e.txt`, lines 130-155):
//! a producer process and a consumer process over a Queue.
//!
//! ```python
//! from multiprocessing import Process, Queue
//!
//! # Создание очереди для обмена данными между процессами
//! queue = Queue()
//!
//! # Функция для записи данных в очередь
//! def producer(queue):
//!     data = [1, 2, 3]
//!     queue.put(data)
//!
//! # Функция для чтения данных из очереди
//! def consumer(queue):
//!     data = queue.get()
//!     print("Data received in consumer:", data)
//!
//! # Создание процессов для продюсера и консьюмера
//! producer_process = Process(target=producer, args=(queue,))
//! consumer_process = Process(target=consumer, args=(queue,))
//!
//! producer_process.start()
//! consumer_process.start()
//!
//! producer_process.join()
//! consumer_process.join()
//! ```
//!
//! Differences: the seed creates the queue and starts the processes at
//! module level, without an `if __name__ == "__main__":` guard. That works
//! only with the `fork` start method; with `spawn` (the default on Windows
//! and macOS) or `forkserver` (the default on Linux from Python 3.14) each
//! child imports the module again and tries to start processes of its own.
//! Here the children never run `main`, so no guard is needed.
//!
//! The queue is typed, `Queue<Vec<i32>>`: the list `[1, 2, 3]` is one item,
//! as in Python, and `{:?}` prints it as Python prints a list. `spawn` moves
//! its argument, so the producer gets a clone of the handle and the consumer
//! the original; the parent does not use the queue itself.
//!
//! Output: `Data received in consumer: [1, 2, 3]`

use multiproc::{Queue, process};

// Функция для записи данных в очередь
#[process]
fn producer(queue: Queue<Vec<i32>>) {
    let data = vec![1, 2, 3];
    queue.put(data).expect("the queue has room");
}

// Функция для чтения данных из очереди
#[process]
fn consumer(queue: Queue<Vec<i32>>) {
    let data = queue.get().expect("the producer puts one item");
    println!("Data received in consumer: {data:?}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Создание очереди для обмена данными между процессами
    let queue: Queue<Vec<i32>> = Queue::new()?;

    // Создание процессов для продюсера и консьюмера
    let producer_process = producer.spawn(queue.clone())?;
    let consumer_process = consumer.spawn(queue)?;

    producer_process.join()?;
    consumer_process.join()?;
    Ok(())
}
