//! Twin of seed 002-06 (`seeds/002_77e87984367f21bb.txt`, lines 112-121):
//! an explicit acquire, then `try` / `finally: release`.
//!
//! ```python
//! def worker(lock, shared_resource):
//!     lock.acquire()
//!     try:
//!         shared_resource.value += 1
//!         print(f"Процесс {shared_resource.value}")
//!     finally:
//!         lock.release()
//! ```
//!
//! Differences: the seed shows only the worker; the twin adds the same
//! `main` as the twin of 002-05 (five children sharing a Lock and a
//! `Value::<i32>`, started together, then joined). Rust has no `release()`
//! to forget: `lock.acquire()` returns a guard, and dropping it releases the
//! lock. The explicit `drop(guard)` stands for the `finally:` block; the
//! guard's drop also runs if the body panics and unwinds, which is what
//! `finally` is for. Each child prints a different number, 1 to 5, in that
//! order; the parent checks that the value ends at 5.
//!
//! Output:
//!
//! ```text
//! Процесс 1
//! Процесс 2
//! Процесс 3
//! Процесс 4
//! Процесс 5
//! ```

use multiproc::{Lock, Value, process};

#[process]
fn worker(lock: Lock, shared_resource: Value<i32>) {
    let guard = lock.acquire();
    // try:
    shared_resource.set(shared_resource.get() + 1);
    println!("Процесс {}", shared_resource.get());
    // finally: lock.release(); also run on a panic, as the guard is dropped.
    drop(guard);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lock = Lock::new()?;
    let shared_resource = Value::<i32>::new(0)?;

    let processes = (0..5)
        .map(|_| worker.spawn(lock.clone(), shared_resource.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    for p in processes {
        p.join()?;
    }

    assert_eq!(shared_resource.get(), 5);
    Ok(())
}
