//! Twin of seed 002-04 (`seeds/002_77e87984367f21bb.txt`, lines 82-93):
//! `imap_unordered` cubes four numbers and the parent prints each result as
//! soon as it is ready.
//!
//! ```python
//! from multiprocessing import Pool
//!
//! def cube(x):
//!     return x ** 3
//!
//! if __name__ == '__main__':
//!     with Pool(4) as pool:
//!         for res in pool.imap_unordered(cube, [2, 4, 6, 8]):
//!             print('Результат по готовности:', res)
//! ```
//!
//! Differences: `imap_unordered` returns an iterator of `Result<u64>`: a
//! failed item (a panic, a lost worker) comes as an `Err` for that item only,
//! and a loop may report it and go on to the others; in Python, `next()`
//! raises the exception, which ends a plain `for` loop. Here the `?` stops at
//! the first error, as Python's loop does. As in Python, the results come in
//! the order the workers finish them, which varies from run to run; `imap`
//! keeps input order.
//!
//! Output (in some order):
//!
//! ```text
//! Результат по готовности: 8
//! Результат по готовности: 64
//! Результат по готовности: 216
//! Результат по готовности: 512
//! ```

use multiproc::{Pool, pool_task};

#[pool_task]
fn cube(x: u64) -> u64 {
    x.pow(3)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::new(4)?;
    for res in pool.imap_unordered(cube, [2u64, 4, 6, 8])? {
        println!("Результат по готовности: {}", res?);
    }
    Ok(())
}
