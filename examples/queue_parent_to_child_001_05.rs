//! Twin of seed 001-05 (`seeds/001_185cbd479786a44e.txt`, lines 74-94):
//! the parent puts data into a Queue and a child worker gets it.
//!
//! ```python
//! from multiprocessing import Process, Queue
//!
//! # Функция, которая будет выполнена в новом процессе
//! def worker_func(queue):
//!     data = queue.get()  # Получить данные из очереди
//!     print('Received data in worker:', data)
//!
//! # Создание очереди для обмена данными между процессами
//! queue = Queue()
//!
//! # Создание и запуск нового процесса с передачей очереди данных
//! worker_process = Process(target=worker_func, args=(queue,))
//! worker_process.start()
//!
//! # Передача данных из основного процесса в рабочий процесс через очередь
//! data_to_send = 'Hello from main process!'
//! queue.put(data_to_send)
//!
//! worker_process.join()  # Ожидание завершения работы рабочего процесса
//! ```
//!
//! Differences: the seed creates the queue and starts the process at module
//! level, without an `if __name__ == "__main__":` guard. That works only
//! with the `fork` start method; with `spawn` (the default on Windows and
//! macOS) or `forkserver` (the default on Linux from Python 3.14) the child
//! imports the module again and tries to start a process of its own. Here
//! the child never runs `main`, so no guard is needed.
//!
//! The queue is typed, `Queue<String>`. `spawn` moves its argument, so the
//! worker gets `queue.clone()`, another handle to the same queue, and the
//! parent keeps `queue` to put into. The worker starts before anything is
//! put, as in Python, and its `get()` waits for the item. Python's
//! `print(a, b)` puts a space between its arguments; the format string does
//! the same.
//!
//! Output: `Received data in worker: Hello from main process!`

use multiproc::{Queue, process};

#[process]
fn worker_func(queue: Queue<String>) {
    let data = queue.get().expect("the parent puts one item"); // Получить данные из очереди
    println!("Received data in worker: {data}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Создание очереди для обмена данными между процессами
    let queue: Queue<String> = Queue::new()?;

    // Создание и запуск нового процесса с передачей очереди данных
    let worker_process = worker_func.spawn(queue.clone())?;

    // Передача данных из основного процесса в рабочий процесс через очередь
    let data_to_send = "Hello from main process!".to_string();
    queue.put(data_to_send)?;

    worker_process.join()?; // Ожидание завершения работы рабочего процесса
    Ok(())
}
