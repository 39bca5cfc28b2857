//! Twin of seed 004-09 (`seeds/004_8543553e03f2e93b.txt`, lines 221-243):
//! a Manager Value counter behind a Manager Lock, three processes.
//!
//! ```python
//! import multiprocessing
//!
//! def increment_counter(counter, lock):
//!     with lock:
//!         counter.value += 1
//!
//! if __name__ == "__main__":
//!     manager = multiprocessing.Manager()
//!     counter = manager.Value('i', 0) # Счетчик
//!     lock = manager.Lock()
//!
//!     processes = []
//!     for _ in range(3):
//!         process = multiprocessing.Process(target=increment_counter, args=(counter, lock))
//!         processes.append(process)
//!         process.start()
//!
//!     for process in processes:
//!         process.join()
//!
//!     print("Итоговое значение счетчика:", counter.value)
//! ```
//!
//! (The seed's first line starts with a stray space, an `IndentationError`
//! in Python; the quote leaves it out.)
//!
//! Differences: `manager.Value('i', 0)` is `manager.value(0i32)` and
//! `manager.Lock()` is `manager.lock()`. `with lock:` is the guard that
//! `lock.acquire()` returns, which releases the lock when it is dropped at
//! the end of `increment_counter`. `counter.value += 1` is two round trips
//! to the server, a `get` then a `set`, as in Python, and only the lock
//! keeps two children from reading the same value. A manager value also
//! has a lock-free read-modify-write that Python lacks:
//! `counter.update(|n| n + 1)` sends the new value with the one it was
//! computed from, and the server stores it only if the value is still that
//! one (otherwise the closure runs again on the newer value), so the three
//! children would count to 3 with no lock at all. `spawn` starts a process
//! at once, so the list of processes is built already started. A child
//! meets a failed proxy call with `expect`; the parent's `join` reports
//! that panic as an error.
//!
//! Output: `Итоговое значение счетчика: 3`

use multiproc::{LockProxy, Manager, ValueProxy, process};

#[process]
fn increment_counter(counter: ValueProxy<i32>, lock: LockProxy) {
    let _guard = lock.acquire().expect("the manager is running");
    let value = counter.get().expect("the manager is running");
    counter.set(value + 1).expect("the manager is running");
    // Without `lock`, the atomic alternative is the one call
    // `counter.update(|n| n + 1).expect("the manager is running");`
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let counter = manager.value(0i32)?;
    let lock = manager.lock()?;

    let processes = (0..3)
        .map(|_| increment_counter.spawn(counter.clone(), lock.clone()))
        .collect::<Result<Vec<_>, _>>()?;

    for process in processes {
        process.join()?;
    }

    println!("Итоговое значение счетчика: {}", counter.get()?);
    Ok(())
}
