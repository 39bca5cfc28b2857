//! Twin of seed 000-01 (`seeds/000_e111410dd4036288.txt`, lines 37-47):
//! start one process running `worker` and wait for it.
//!
//! ```python
//! from multiprocessing import Process
//!
//! def worker():
//!     print("Рабочий процесс запущен")
//!
//! if __name__ == "__main__":
//!     p = Process(target=worker)
//!     p.start()
//!     p.join()
//! ```
//!
//! Differences: `Process(target=worker)` followed by `start()` is one call,
//! `worker.spawn()`, so a handle always belongs to a started process. Python
//! needs the `if __name__ == "__main__"` guard so that the child does not run
//! the parent's code again; here the child never runs `main` at all. Python's
//! `join()` returns `None` even when the child crashed (you must look at
//! `exitcode`); here `join()` gives back the function's return value, or an
//! error if the child panicked or was killed.
//!
//! Output: `Рабочий процесс запущен`

use multiproc::process;

#[process]
fn worker() {
    println!("Рабочий процесс запущен");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = worker.spawn()?;
    p.join()?;
    Ok(())
}
