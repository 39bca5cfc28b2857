//! Twin of seed 003-01 (`seeds/003_fcaa9a4a1c6a37cf.txt`, lines 21-42):
//! five processes print that they started, sleep, and print that they ended.
//!
//! ```python
//! import multiprocessing
//! import time
//!
//! def worker(name):
//!     print(f'Процесс {name} запущен.')
//!     time.sleep(2)
//!     print(f'Процесс {name} завершён.')
//!
//! if __name__ == '__main__':
//!     processes = []
//!     for i in range(5):
//!         p = multiprocessing.Process(target=worker, args=(i,))
//!         processes.append(p)
//!         p.start()
//!
//!     for p in processes:
//!         p.join()
//!
//!     print('Все процессы завершены.')
//! ```
//!
//! Differences: the sleep is 200 ms instead of 2 s, so that the example runs
//! quickly in tests. As in Python, the children's lines interleave in any
//! order (each child's "запущен" comes before its own "завершён"); the last
//! line is always the parent's, printed after every join.
//!
//! Output (children's lines in some order):
//!
//! ```text
//! Процесс 0 запущен.
//! …
//! Процесс 4 завершён.
//! Все процессы завершены.
//! ```

use std::time::Duration;

use multiproc::process;

#[process]
fn worker(name: u32) {
    println!("Процесс {name} запущен.");
    std::thread::sleep(Duration::from_millis(200));
    println!("Процесс {name} завершён.");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut processes = Vec::new();
    for i in 0..5 {
        processes.push(worker.spawn(i)?);
    }

    for p in processes {
        p.join()?;
    }

    println!("Все процессы завершены.");
    Ok(())
}
