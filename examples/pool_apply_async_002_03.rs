//! Twin of seed 002-03 (`seeds/002_77e87984367f21bb.txt`, lines 63-79):
//! a pool of two runs one call synchronously with `apply` and one
//! asynchronously with `apply_async`, whose result is fetched with `get()`.
//!
//! ```python
//! from multiprocessing import Pool
//!
//! def double(x):
//!     return x * 2
//!
//! if __name__ == '__main__':
//!     with Pool(2) as pool:
//!         # apply — синхронный вызов
//!         result = pool.apply(double, (10,))
//!         print('Синхронный результат:', result)  # 20
//!
//!         # apply_async — асинхронный вызов
//!         async_result = pool.apply_async(double, (15,))
//!         print('Асинхронный результат:', async_result.get())  # 30
//! ```
//!
//! Differences: `apply_async` returns an `AsyncResult<u64>`, typed by the
//! task's return type, so `get()` needs no cast; it returns a `Result`, whose
//! error is the task's panic (with its message and location) or a lost
//! worker, where Python re-raises the exception. `AsyncResult` also has
//! `ready()`, `wait()`, `try_get()` and `get_timeout()`, and is a
//! `std::future::Future` that can be `.await`ed. Dropping the pool at the
//! end of `main` terminates it, like leaving the `with` block.
//!
//! Output:
//!
//! ```text
//! Синхронный результат: 20
//! Асинхронный результат: 30
//! ```

use multiproc::{AsyncResult, Pool, pool_task};

#[pool_task]
fn double(x: u64) -> u64 {
    x * 2
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::new(2)?;

    // apply — синхронный вызов
    let result = pool.apply(double, (10,))?;
    println!("Синхронный результат: {result}"); // 20

    // apply_async — асинхронный вызов
    let async_result: AsyncResult<u64> = pool.apply_async(double, (15,))?;
    println!("Асинхронный результат: {}", async_result.get()?); // 30

    Ok(())
}
