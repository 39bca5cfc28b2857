//! Twin of seed 001-06 (`seeds/001_185cbd479786a44e.txt`, lines 105-122):
//! a shared `Value('i')` set by a child and read by the parent.
//!
//! ```python
//! from multiprocessing import Process, Value
//!
//! # Создание переменной типа Value для разделяемой памяти
//! shared_var = Value('i', 0)
//!
//! # Функция, которая будет выполнена в отдельном процессе
//! def worker_func(shared_var):
//!     shared_var.value = 123
//!
//! # Создание и запуск процесса
//! worker_process = Process(target=worker_func, args=(shared_var,))
//! worker_process.start()
//! worker_process.join()
//!
//! # Чтение значения переменной из основного процесса
//! print("Value in main process:", shared_var.value)
//! ```
//!
//! Differences: `Value('i', 0)` is `Value::<i32>::new(0)`, and
//! `shared_var.value = 123` is `shared_var.set(123)`; `.value` read is
//! `get()`. The seed has no `if __name__ == "__main__":` guard, so with the
//! spawn start method (the default on Windows and macOS) each child would
//! re-run the module and start a child of its own; a Rust child runs only
//! the `#[process]` function, so `main` needs no guard.
//!
//! Output: `Value in main process: 123`

use multiproc::{Value, process};

#[process]
fn worker_func(shared_var: Value<i32>) {
    shared_var.set(123);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shared_var = Value::<i32>::new(0)?;

    let worker_process = worker_func.spawn(shared_var.clone())?;
    worker_process.join()?;

    println!("Value in main process: {}", shared_var.get());
    Ok(())
}
