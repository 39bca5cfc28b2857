//! Python's `concurrent.futures.ProcessPoolExecutor`, done with a [`Pool`]:
//! submit tasks, collect their results as they complete and in submission
//! order, see one task's panic fail that task's future only, and poll a
//! future without blocking.
//!
//! Not a twin of a seed block: the tutorials stop at `multiprocessing.Pool`.
//! This is the Python it mirrors:
//!
//! ```python
//! import time
//! from concurrent.futures import ProcessPoolExecutor, TimeoutError, as_completed
//!
//! def slow_square(n, millis):
//!     time.sleep(millis / 1000)
//!     return n * n
//!
//! def risky(n):
//!     if n == 3:
//!         raise ValueError(f"risky refuses {n}")
//!     return n * 10
//!
//! if __name__ == "__main__":
//!     with ProcessPoolExecutor(max_workers=2) as executor:
//!         futures = [executor.submit(slow_square, n, 50 * (4 - n)) for n in range(4)]
//!         print(f"submitted {len(futures)} tasks to 2 worker processes")
//!         for future in as_completed(futures):
//!             n = futures.index(future)
//!             print(f"done: slow_square({n}) = {future.result()}")
//!         print("in submission order:", [f.result() for f in futures])
//!
//!         risky_futures = [(n, executor.submit(risky, n)) for n in range(1, 5)]
//!         for n, future in risky_futures:
//!             try:
//!                 print(f"risky({n}) = {future.result()}")
//!             except ValueError as e:
//!                 print(f"risky({n}) failed: {e}")
//!
//!         future = executor.submit(slow_square, 7, 300)
//!         print("ready right away:", future.done())
//!         try:
//!             future.result(timeout=0.02)
//!         except TimeoutError:
//!             print("get_timeout(20ms): no result within 20ms")
//!         print(f"after wait(): ready = {future.done()}, result = {future.result()}")
//! ```
//!
//! Mapping: `executor.submit(f, *args)` is `pool.apply_async(f, (args,))`,
//! which returns an [`AsyncResult`]; `future.result()` is `get()`,
//! `future.result(timeout)` is `get_timeout`, `future.done()` is `ready()`,
//! and `try_get()` returns the result only if it has already arrived.
//! `as_completed` has no ready-made twin; the small helper below waits on
//! each handle in a scoped thread and reports them in the order they finish.
//! `pool.map` and `pool.imap_unordered` cover `executor.map` and the common
//! "as completed" case for one function.
//!
//! Differences: a task's panic comes back as that future's
//! `Error::Panicked`, with the panic message and location, where Python
//! re-raises the pickled exception; the worker lives on and the other futures
//! succeed. If a worker process dies outright (killed, out of memory),
//! Python marks the whole executor broken and fails every pending future
//! with `BrokenProcessPool`; here only the tasks that worker was running
//! fail (`Error::WorkerLost`), and a new worker takes its place. The
//! worker's panic message also goes to stderr, from Rust's default panic
//! hook; stdout is as shown below. The sleeps are 50–300 ms, short enough
//! for tests.
//!
//! Everything here blocks the calling thread and needs no async runtime.
//! `AsyncResult` also implements `std::future::Future`, so in async code
//! `handle.await` gives the same `Result` as `handle.get()`, without blocking
//! the executor's thread.
//!
//! Output (the "done" lines in some order):
//!
//! ```text
//! submitted 4 tasks to 2 worker processes
//! done: slow_square(3) = 9
//! done: slow_square(1) = 1
//! done: slow_square(0) = 0
//! done: slow_square(2) = 4
//! in submission order: [0, 1, 4, 9]
//! risky(1) = 10
//! risky(2) = 20
//! risky(3) failed: risky refuses 3
//! risky(4) = 40
//! ready right away: false
//! get_timeout(20ms): no result within 20ms
//! after wait(): ready = true, try_get() = Some(49)
//! ```

use std::sync::mpsc;
use std::time::Duration;

use multiproc::{AsyncResult, Error, Pool, pool_task};

#[pool_task]
fn slow_square(n: u64, millis: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    n * n
}

#[pool_task]
fn risky(n: u64) -> u64 {
    if n == 3 {
        panic!("risky refuses {n}");
    }
    n * 10
}

/// Python's `as_completed`: calls `each(index, result)` for every future, in
/// the order they finish.
fn as_completed<T: Send>(
    futures: &[AsyncResult<T>],
    mut each: impl FnMut(usize, multiproc::Result<T>),
) {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for (index, future) in futures.iter().enumerate() {
            let tx = tx.clone();
            scope.spawn(move || tx.send((index, future.get())));
        }
        drop(tx);
        for (index, result) in rx {
            each(index, result);
        }
    });
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let executor = Pool::new(2)?;

    // Later submissions sleep less, so they tend to finish first.
    let futures = (0..4)
        .map(|n| executor.apply_async(slow_square, (n, 50 * (4 - n))))
        .collect::<Result<Vec<AsyncResult<u64>>, Error>>()?;
    println!(
        "submitted {} tasks to {} worker processes",
        futures.len(),
        executor.processes()
    );
    let mut failed = None;
    as_completed(&futures, |n, result| match result {
        Ok(value) => println!("done: slow_square({n}) = {value}"),
        Err(e) => failed = Some(e),
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    // `get` may be called again: the results stay in the handles.
    let in_order = futures
        .iter()
        .map(AsyncResult::get)
        .collect::<Result<Vec<u64>, Error>>()?;
    println!("in submission order: {in_order:?}");

    // One panicking task fails its own future; the others succeed.
    let risky_futures = (1..5)
        .map(|n| Ok((n, executor.apply_async(risky, (n,))?)))
        .collect::<Result<Vec<_>, Error>>()?;
    for (n, future) in risky_futures {
        match future.get() {
            Ok(value) => println!("risky({n}) = {value}"),
            Err(Error::Panicked { message, .. }) => println!("risky({n}) failed: {message}"),
            Err(e) => return Err(e.into()),
        }
    }

    // Polling without blocking, and waiting with a time limit.
    let future = executor.apply_async(slow_square, (7, 300))?;
    println!("ready right away: {}", future.ready());
    match future.get_timeout(Duration::from_millis(20)) {
        Err(Error::Timeout(limit)) => println!("get_timeout(20ms): no result within {limit:?}"),
        other => println!("get_timeout(20ms): {other:?}"),
    }
    future.wait();
    println!(
        "after wait(): ready = {}, try_get() = {:?}",
        future.ready(),
        future.try_get().transpose()?
    );

    Ok(())
}
