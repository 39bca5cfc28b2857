//! Twin of seed 000-09 (`seeds/000_e111410dd4036288.txt`, lines 195-204):
//! a pool of four workers squares `range(10)` with `map`.
//!
//! ```python
//! from multiprocessing import Pool
//!
//! def worker(x):
//!     return x*x
//!
//! if __name__ == "__main__":
//!     with Pool(4) as p:
//!         print(p.map(worker, range(10)))
//! ```
//!
//! Differences: the task is marked `#[pool_task]`, which registers it so that
//! the workers can find it (Python pickles the function by name instead) and
//! fixes its argument and result types: `u64` in, `u64` out. `map` takes any
//! `IntoIterator`, here the range `0..10`, and returns the values in input
//! order, or the first failed item's error. Leaving Python's `with` block
//! terminates the pool; here dropping `p` at the end of `main` does the same.
//! Python's `print` of a list and Rust's `{:?}` of a `Vec` look alike.
//!
//! Output: `[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]`

use multiproc::{Pool, pool_task};

#[pool_task]
fn worker(x: u64) -> u64 {
    x * x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = Pool::new(4)?;
    println!("{:?}", p.map(worker, 0..10u64)?);
    Ok(())
}
