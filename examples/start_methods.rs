//! The three start methods, each running seed 000-02 ("start five processes,
//! each given its number, then join them all"; see
//! `process_five_workers_000_02.rs`), plus what sets them apart: a forked
//! child starts with a copy of the parent's memory.
//!
//! ```python
//! import multiprocessing as mp
//!
//! def worker(number):
//!     print(f"Процесс {number} запущен")
//!
//! if __name__ == "__main__":
//!     for method in ["spawn", "fork", "forkserver"]:
//!         ctx = mp.get_context(method)
//!         processes = [ctx.Process(target=worker, args=(i,)) for i in range(5)]
//!         for p in processes:
//!             p.start()
//!         for p in processes:
//!             p.join()
//! ```
//!
//! Differences: the method is chosen per process with
//! `builder().start_method(..)` (or for the whole program with
//! `multiproc::set_start_method`), and each group's lines are collected and
//! printed in order, so the output is the same on every run.
//!
//! Output: for each of `spawn`, `fork` and `forkserver`, a heading, five lines
//! `Процесс N запущен`, and whether the child saw the parent's memory.

use std::sync::atomic::{AtomicU32, Ordering};

use multiproc::process;

/// Changed by `main` after the program started: only a forked child sees it.
static SETTING: AtomicU32 = AtomicU32::new(0);

#[process]
fn worker(number: u32) -> String {
    format!("Процесс {number} запущен")
}

#[process]
fn read_setting() -> u32 {
    SETTING.load(Ordering::Relaxed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    SETTING.store(7, Ordering::Relaxed);
    // All three on Linux; macOS has no fork server.
    for method in multiproc::get_all_start_methods() {
        println!("== {}", method.name());
        let processes = (0..5)
            .map(|i| worker.builder().start_method(method).spawn(i))
            .collect::<Result<Vec<_>, _>>()?;
        for p in processes {
            println!("{}", p.join()?);
        }
        let seen = read_setting
            .builder()
            .start_method(method)
            .spawn()?
            .join()?;
        println!("the child saw SETTING = {seen}");
    }
    Ok(())
}
