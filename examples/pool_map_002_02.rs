//! Twin of seed 002-02 (`seeds/002_77e87984367f21bb.txt`, lines 47-59):
//! `Pool(processes=4).map` squares a list of five numbers.
//!
//! ```python
//! from multiprocessing import Pool
//!
//! def square(n):
//!     return n * n
//!
//! if __name__ == '__main__':
//!     with Pool(processes=4) as pool:  # 4 параллельных процесса
//!         values = [1, 2, 3, 4, 5]
//!         results = pool.map(square, values)
//!         print(results)  # [1, 4, 9, 16, 25]
//! ```
//!
//! Differences: Rust has no keyword arguments; `Pool::builder().processes(4)`
//! is the spelled-out form of `Pool(processes=4)` (`Pool::new(4)` is the short
//! one). `map` returns the values in input order, as a `Vec`, or the first
//! failed item's error. The pool is terminated when `pool` is dropped at the
//! end of `main`, like leaving the `with` block.
//!
//! Output: `[1, 4, 9, 16, 25]`

use multiproc::{Pool, pool_task};

#[pool_task]
fn square(n: u64) -> u64 {
    n * n
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::builder().processes(4).build()?; // 4 параллельных процесса
    let values = vec![1, 2, 3, 4, 5];
    let results = pool.map(square, values)?;
    println!("{results:?}"); // [1, 4, 9, 16, 25]
    Ok(())
}
