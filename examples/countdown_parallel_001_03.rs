//! Twin of seed 001-03 (`seeds/001_185cbd479786a44e.txt`, lines 34-57):
//! the countdown of `countdown_sequential_001_02`, run in two processes at
//! once and timed, to show the speedup.
//!
//! ```python
//! import time
//! import multiprocessing
//!
//! def task(n=100_000_000):
//!     while n:
//!         n -= 1
//!
//! if __name__  ==  '__main__':
//!     start = time.perf_counter()
//!
//!     p1 = multiprocessing.Process(target=task)
//!     p2 = multiprocessing.Process(target=task)
//!
//!     p1.start()
//!     p2.start()
//!
//!     p1.join()
//!     p2.join()
//!
//!     finish = time.perf_counter()
//!
//!     print(f'Выполнение заняло {finish-start: .2f} секунд.')
//! ```
//!
//! Differences: as in the sequential twin, the count comes from the first
//! command-line argument and defaults to 50 000 000 (half of Python's
//! default), so that a debug build finishes in about 0.1 s. Rust has no
//! default arguments, so the parent passes the count to each child:
//! `task.spawn(n)`. With two free cores the time is about half of the
//! sequential one, plus a few milliseconds to start the children; with
//! a small count that start-up cost is what you see.
//!
//! In Python the speedup is the whole point, because threads would be held
//! back by the GIL. Rust has no GIL, so two threads would do as well here;
//! processes are for isolation (a crash or a leak stays in the child), not for
//! speed.
//!
//! Output: `Выполнение заняло  0.10 секунд.` (the time varies)
//!
//! Run: `cargo run --release --example countdown_parallel_001_03 -- 1000000000`

use std::hint::black_box;
use std::time::Instant;

use multiproc::process;

const DEFAULT_COUNT: u64 = 50_000_000;

#[process]
fn task(mut n: u64) {
    while n != 0 {
        n = black_box(n - 1);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => DEFAULT_COUNT,
    };

    let start = Instant::now();

    let p1 = task.spawn(n)?;
    let p2 = task.spawn(n)?;

    p1.join()?;
    p2.join()?;

    let elapsed = start.elapsed().as_secs_f64();

    println!("Выполнение заняло  {elapsed:.2} секунд.");
    Ok(())
}
