//! Twin of seed 004-13 (`seeds/004_8543553e03f2e93b.txt`, lines 353-382):
//! a Semaphore(2) around the use of a shared value by two processes.
//!
//! ```python
//! import multiprocessing
//!
//! def worker_with_semaphore(semaphore, value):
//!     semaphore.acquire()
//!     try:
//!         print(f"Поток {multiprocessing.current_process().name} захватил семафор")
//!         print(f"Значение переменной: {value.value}")
//!         value.value += 1
//!     finally:
//!         semaphore.release()
//!         print(f"Поток {multiprocessing.current_process().name} освободил семафор")
//!
//! if __name__ == "__main__":
//!     semaphore = multiprocessing.Semaphore(2)
//!     value = multiprocessing.Value('i', 0)
//!
//!     processes = [
//!         multiprocessing.Process(target=worker_with_semaphore, args=(semaphore, value)),
//!         multiprocessing.Process(target=worker_with_semaphore, args=(semaphore, value))
//!     ]
//!
//!     for process in processes:
//!         process.start()
//!
//!     for process in processes:
//!         process.join()
//!
//!     print("Итоговое значение переменной:", value.value)
//! ```
//!
//! Differences: a Semaphore(2) lets both processes in at once, so it
//! excludes nothing here, and the seed's `value.value += 1` (a read, then a
//! write) races: Python can end with 1 instead of 2. The twin increments
//! under the value's own lock, `*value.lock() += 1` (Python's
//! `with value.get_lock(): value.value += 1`), so the total is always 2.
//! The permit is a guard given back when dropped; the explicit
//! `drop(permit)` stands for the `finally:` block (it would also run on a
//! panic). The children are named `Process-1` and `Process-2`, as in
//! Python, and the seed's word "Поток" (thread) is kept though they are
//! processes. Both children may read 0, or one 0 and the other 1; their
//! lines interleave in any order, and the parent's line is last.
//!
//! Output (one possible order):
//!
//! ```text
//! Поток Process-1 захватил семафор
//! Значение переменной: 0
//! Поток Process-1 освободил семафор
//! Поток Process-2 захватил семафор
//! Значение переменной: 1
//! Поток Process-2 освободил семафор
//! Итоговое значение переменной: 2
//! ```

use multiproc::{Semaphore, Value, current_process, process};

#[process]
fn worker_with_semaphore(semaphore: Semaphore, value: Value<i32>) {
    let name = current_process().name().to_string();
    let permit = semaphore.acquire();
    // try:
    println!("Поток {name} захватил семафор");
    println!("Значение переменной: {}", value.get());
    *value.lock() += 1;
    // finally:
    drop(permit);
    println!("Поток {name} освободил семафор");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let semaphore = Semaphore::new(2)?;
    let value = Value::<i32>::new(0)?;

    let processes = [
        worker_with_semaphore.spawn(semaphore.clone(), value.clone())?,
        worker_with_semaphore.spawn(semaphore.clone(), value.clone())?,
    ];

    for process in processes {
        process.join()?;
    }

    println!("Итоговое значение переменной: {}", value.get());
    Ok(())
}
