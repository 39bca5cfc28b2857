//! Twin of seed 001-02 (`seeds/001_185cbd479786a44e.txt`, lines 17-31):
//! a CPU-bound countdown run twice, one after the other, and timed.
//!
//! ```python
//! import time
//!
//! def task(n=100_000_000):
//!     while n:
//!         n -= 1
//!
//! if __name__ == '__main__':
//!     start = time.perf_counter()
//!     task()
//!     task()
//!     finish = time.perf_counter()
//!
//!     print(f'Выполнение заняло {finish-start: .2f} секунд.')
//! ```
//!
//! This is the baseline without multiprocessing; `countdown_parallel_001_03`
//! runs the same two countdowns in two processes.
//!
//! Differences: Python's 100 000 000 steps take seconds; Rust counts far
//! faster, so the count comes from the first command-line argument and
//! defaults to 50 000 000 (half of Python's default), which takes about
//! 0.2 s even in a debug build. `black_box` keeps the optimizer from
//! deleting the loop, whose result is unused (in a release build it would
//! otherwise take no time at all).
//! Rust's format strings have no `' '` sign flag, so the space that
//! `{x: .2f}` puts before a positive number is written out.
//!
//! Output: `Выполнение заняло  0.20 секунд.` (the time varies)
//!
//! Run: `cargo run --release --example countdown_sequential_001_02 -- 1000000000`

use std::hint::black_box;
use std::time::Instant;

const DEFAULT_COUNT: u64 = 50_000_000;

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
    task(n);
    task(n);
    let elapsed = start.elapsed().as_secs_f64();

    println!("Выполнение заняло  {elapsed:.2} секунд.");
    Ok(())
}
