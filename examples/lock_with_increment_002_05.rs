//! Twin of seed 002-05 (`seeds/002_77e87984367f21bb.txt`, lines 102-108):
//! a `with lock:` increment of a shared value.
//!
//! ```python
//! def worker(lock, shared_resource):
//!     with lock:
//!         shared_resource.value += 1
//!         print(f"Процесс {shared_resource.value}")
//! ```
//!
//! Differences: the seed shows only the worker. The twin adds the `main`
//! the tutorial leaves out: a `Value('i', 0)` (`Value::<i32>::new(0)`) and
//! a Lock shared by five children started together and then joined. `with
//! lock:` is a scope holding the guard that `lock.acquire()` returns; the
//! lock is released when the guard is dropped at the end of the scope. The
//! increment and the print happen under the lock, so each child prints a
//! different number, 1 to 5, and they come out in that order (which child
//! prints which number varies). The parent checks that the value ends at 5.
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
    let _guard = lock.acquire();
    shared_resource.set(shared_resource.get() + 1);
    println!("Процесс {}", shared_resource.get());
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
