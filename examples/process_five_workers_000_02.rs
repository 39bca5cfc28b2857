//! Twin of seed 000-02 (`seeds/000_e111410dd4036288.txt`, lines 59-74):
//! start five processes, each given its number, then join them all.
//!
//! ```python
//! from multiprocessing import Process
//!
//! def worker(number):
//!     print(f"Процесс {number} запущен")
//!
//! if __name__ == "__main__":
//!     processes = []
//!     for i in range(5):
//!         p = Process(target=worker, args=(i,))
//!         processes.append(p)
//!         p.start()
//!
//!     for p in processes:
//!         p.join()
//! ```
//!
//! Differences: `args=(i,)` becomes a typed argument, `worker.spawn(i)`, which
//! the compiler checks against `worker`'s signature (Python finds a wrong
//! argument count only when the child calls `worker`). As in Python, the five
//! lines can come out in any order: the children run at the same time.
//!
//! Output (in some order): `Процесс 0 запущен` … `Процесс 4 запущен`

use multiproc::process;

#[process]
fn worker(number: u32) {
    println!("Процесс {number} запущен");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut processes = Vec::new();
    for i in 0..5 {
        processes.push(worker.spawn(i)?);
    }

    for p in processes {
        p.join()?;
    }
    Ok(())
}
