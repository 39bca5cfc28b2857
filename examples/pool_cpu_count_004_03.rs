//! Twin of seed 004-03 (`seeds/004_8543553e03f2e93b.txt`, lines 70-87):
//! a pool with one worker per CPU squares five numbers with `map`.
//!
//! The seed's block is not valid Python as printed: its first two lines are a
//! garbled `import multiprocessing` / `from multiprocessing import Pool`, and
//! the bodies lost their indentation. Quoted here as intended:
//!
//! ```python
//! import multiprocessing
//! from multiprocessing import Pool
//!
//! def square(n):
//!     return n * n
//!
//! if __name__ == '__main__':
//!     # Определяем количество доступных ядер процессора
//!     num_processors = multiprocessing.cpu_count()
//!     # Создаем пул процессов
//!     with Pool(processes=num_processors) as pool:
//!         # Задаем список чисел для обработки
//!         numbers = [1, 2, 3, 4, 5]
//!         # Используем Pool для распределения работы по процессам
//!         results = pool.map(square, numbers)
//!     print(results)
//! ```
//!
//! Differences: `multiproc::cpu_count()` is `multiprocessing.cpu_count()`;
//! `Pool::new(n)` is `Pool(processes=n)`. As in Python, a pool built without
//! a size (`Pool::builder().build()`) already has `cpu_count()` workers, so
//! the explicit count only makes the choice visible. The pool lives in an
//! inner block that ends before the `print`, as Python's `with` block does;
//! the results are an ordinary `Vec` that outlives it.
//!
//! Output: `[1, 4, 9, 16, 25]`

use multiproc::{Pool, pool_task};

#[pool_task]
fn square(n: u64) -> u64 {
    n * n
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Определяем количество доступных ядер процессора
    let num_processors = multiproc::cpu_count();
    let results = {
        // Создаем пул процессов
        let pool = Pool::new(num_processors)?;
        // Задаем список чисел для обработки
        let numbers = vec![1, 2, 3, 4, 5];
        // Используем Pool для распределения работы по процессам
        pool.map(square, numbers)?
    };
    println!("{results:?}");
    Ok(())
}
