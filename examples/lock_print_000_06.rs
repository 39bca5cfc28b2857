//! Twin of seed 000-06 (`seeds/000_e111410dd4036288.txt`, lines 136-149):
//! a Lock around a print in five processes.
//!
//! ```python
//! from multiprocessing import Process, Lock
//!
//! def worker(lock, number):
//!     with lock:
//!         print(f"Процесс {number} запущен")
//!
//! if __name__ == "__main__":
//!     lock = Lock()
//!     for i in range(5):
//!         p = Process(target=worker, args=(lock, i))
//!         p.start()
//!         p.join()
//! ```
//!
//! Differences: `with lock:` is a scope holding the guard that
//! `lock.acquire()` returns; the lock is released when the guard is dropped
//! at the end of the scope. Each child gets `lock.clone()`, another handle
//! to the same lock. As in the seed, the loop joins each child before it
//! starts the next, so the lock is never contended and the lines come out
//! in order.
//!
//! Output:
//!
//! ```text
//! Процесс 0 запущен
//! Процесс 1 запущен
//! Процесс 2 запущен
//! Процесс 3 запущен
//! Процесс 4 запущен
//! ```

use multiproc::{Lock, process};

#[process]
fn worker(lock: Lock, number: u32) {
    let _guard = lock.acquire();
    println!("Процесс {number} запущен");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    for i in 0..5 {
        let p = worker.spawn(lock.clone(), i)?;
        p.join()?;
    }
    Ok(())
}
