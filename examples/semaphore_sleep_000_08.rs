//! Twin of seed 000-08 (`seeds/000_e111410dd4036288.txt`, lines 174-188):
//! a Semaphore(2) limits the workers that sleep inside it.
//!
//! ```python
//! from multiprocessing import Process, Semaphore
//!
//! def worker(semaphore, number):
//!     with semaphore:
//!         print(f"Процесс {number} запущен")
//!         time.sleep(2)
//!
//! if __name__ == "__main__":
//!     semaphore = Semaphore(2)
//!     for i in range(5):
//!         p = Process(target=worker, args=(semaphore, i))
//!         p.start()
//!         p.join()
//! ```
//!
//! Differences: the seed forgets `import time`, so each Python child fails
//! with a `NameError` after printing its line; the twin sleeps as intended,
//! 50 ms instead of 2 s so that it runs quickly in tests. `with semaphore:`
//! is a scope holding the permit that `semaphore.acquire()` returns; the
//! permit is given back when it is dropped. As in the seed, the loop joins
//! each child before starting the next, so only one child at a time ever
//! holds a permit and the limit of two never binds (to see it bind, start
//! all five and join them afterwards). The lines come out in order.
//!
//! Output (one line every 50 ms):
//!
//! ```text
//! Процесс 0 запущен
//! Процесс 1 запущен
//! Процесс 2 запущен
//! Процесс 3 запущен
//! Процесс 4 запущен
//! ```

use std::time::Duration;

use multiproc::{Semaphore, process};

#[process]
fn worker(semaphore: Semaphore, number: u32) {
    let _permit = semaphore.acquire();
    println!("Процесс {number} запущен");
    std::thread::sleep(Duration::from_millis(50));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let semaphore = Semaphore::new(2)?;
    for i in 0..5 {
        let p = worker.spawn(semaphore.clone(), i)?;
        p.join()?;
    }
    // Every permit was given back.
    assert_eq!(semaphore.value(), 2);
    Ok(())
}
