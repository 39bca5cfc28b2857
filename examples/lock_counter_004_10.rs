//! Twin of seed 004-10 (`seeds/004_8543553e03f2e93b.txt`, lines 277-299):
//! a shared counter behind a Lock, five processes × 1000 increments.
//!
//! ```python
//! import multiprocessing
//!
//! def increment(counter, lock):
//!     for _ in range(1000):
//!         lock.acquire()
//!         counter.value += 1
//!         lock.release()
//!
//! if __name__ == "__main__":
//!     counter = multiprocessing.Value('i', 0)
//!     lock = multiprocessing.Lock()
//!
//!     processes = [multiprocessing.Process(target=increment, args=(counter, lock)) for _ in range(5)]
//!
//!     for process in processes:
//!         process.start()
//!
//!     for process in processes:
//!         process.join()
//!
//!     print("Итоговое значение счетчика с Lock:", counter.value)
//! ```
//!
//! Differences: `Value('i', 0)` is `Value::<i32>::new(0)`. `lock.acquire()`
//! returns a guard, and the lock is released when the guard is dropped at
//! the end of each loop iteration, so no `release()` can be forgotten.
//! `counter.value += 1` is spelled as a read then a write,
//! `counter.set(counter.get() + 1)`: like Python's, it is not atomic on its
//! own, and only the Lock makes the total come out right. (A `Value` also
//! has a lock of its own, as Python's does with `get_lock()`:
//! `*counter.lock() += 1` would be enough without the separate Lock.)
//! `spawn` starts a process at once, so the list of processes is built
//! already started.
//!
//! Output: `Итоговое значение счетчика с Lock: 5000`

use multiproc::{Lock, Value, process};

#[process]
fn increment(counter: Value<i32>, lock: Lock) {
    for _ in 0..1000 {
        let _guard = lock.acquire();
        counter.set(counter.get() + 1);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let counter = Value::<i32>::new(0)?;
    let lock = Lock::new()?;

    let processes = (0..5)
        .map(|_| increment.spawn(counter.clone(), lock.clone()))
        .collect::<Result<Vec<_>, _>>()?;

    for process in processes {
        process.join()?;
    }

    println!("Итоговое значение счетчика с Lock: {}", counter.get());
    Ok(())
}
