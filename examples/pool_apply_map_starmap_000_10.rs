//! Twin of seed 000-10 (`seeds/000_e111410dd4036288.txt`, lines 209-228):
//! one pool used three ways: `apply` for one call, `map` over a range, and
//! `starmap` over a list of argument tuples.
//!
//! ```python
//! from multiprocessing import Pool
//!
//! def worker(x):
//!     return x*x
//!
//! if __name__ == "__main__":
//!     with Pool(4) as p:
//!         # apply
//!         result = p.apply(worker, (5,))
//!         print(result)
//!
//!         # map
//!         results = p.map(worker, range(10))
//!         print(results)
//!
//!         # starmap
//!         results = p.starmap(worker, [(i,) for i in range(10)])
//!         print(results)
//! ```
//!
//! Differences: as in Python, `apply` takes the arguments as a tuple, `(5,)`,
//! and `starmap` takes an iterator of tuples, each unpacked into the task's
//! parameters; the compiler checks that the tuples match `worker`'s
//! parameters, where Python would fail in a worker at run time. `map` and
//! `starmap` return the values in input order, or the first failed item's
//! error. Dropping the pool at the end of `main` terminates it, like leaving
//! the `with` block.
//!
//! Output:
//!
//! ```text
//! 25
//! [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
//! [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
//! ```

use multiproc::{Pool, pool_task};

#[pool_task]
fn worker(x: u64) -> u64 {
    x * x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = Pool::new(4)?;

    // apply
    let result = p.apply(worker, (5,))?;
    println!("{result}");

    // map
    let results = p.map(worker, 0..10u64)?;
    println!("{results:?}");

    // starmap
    let results = p.starmap(worker, (0..10u64).map(|i| (i,)))?;
    println!("{results:?}");

    Ok(())
}
