//! Twin of the second half of seed 003-02 (`seeds/003_fcaa9a4a1c6a37cf.txt`,
//! lines 58-68 of the block at lines 44-70): `Pool(processes=4).map` squares
//! `range(10)`, and the results are printed after the pool is gone.
//!
//! ```python
//! ### Пул процессов
//!
//! from multiprocessing import Pool
//!
//! def square(n):
//!     return n * n
//!
//! if __name__ == '__main__':
//!     with Pool(processes=4) as pool:
//!         results = pool.map(square, range(10))
//!     print(results)  # Вывод: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
//! ```
//!
//! The seed's block holds two programs in one fence: first a Queue round
//! trip (a child puts "Обработка завершена!", the parent gets and prints it),
//! then this Pool example. Only the Pool half is twinned here; the Queue
//! round trip of the same block is `examples/queue_round_trip_003_02.rs`.
//!
//! Differences: the pool lives in an inner block that ends before the
//! `println!`, as Python's `with` block ends before its `print`; dropping
//! the pool there terminates its workers, and `results` is an ordinary
//! `Vec<u64>` that outlives it. `map` returns the values in input order, or
//! the first failed item's error.
//!
//! Output: `[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]`

use multiproc::{Pool, pool_task};

#[pool_task]
fn square(n: u64) -> u64 {
    n * n
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let results = {
        let pool = Pool::new(4)?;
        pool.map(square, 0..10u64)?
    };
    println!("{results:?}"); // Вывод: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
    Ok(())
}
