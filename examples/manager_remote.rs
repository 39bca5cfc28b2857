//! A manager served over TCP and used by a second process that knows only
//! its address and key: Python's remote manager. The server publishes two
//! queues by name; the worker connects, looks them up, takes jobs from one
//! and puts results on the other; a client with the wrong key is refused.
//!
//! Not a twin of a seed block: the tutorials use only a local `Manager()`.
//! This is the Python it mirrors, the "Using a remote manager" recipe of
//! Python's documentation in one program:
//!
//! ```python
//! import queue
//! from multiprocessing import AuthenticationError, Process
//! from multiprocessing.managers import BaseManager
//!
//! job_queue, result_queue = queue.Queue(), queue.Queue()
//!
//! def get_jobs():
//!     return job_queue
//!
//! def get_results():
//!     return result_queue
//!
//! class QueueManager(BaseManager):
//!     pass
//!
//! QueueManager.register("jobs", callable=get_jobs)
//! QueueManager.register("results", callable=get_results)
//!
//! def worker(address):
//!     m = QueueManager(address=address, authkey=b"secret")
//!     m.connect()
//!     jobs, results = m.jobs(), m.results()
//!     done = 0
//!     while (n := jobs.get()) is not None:
//!         results.put((n, n * n))
//!         done += 1
//!     results.put(done)
//!
//! if __name__ == "__main__":
//!     server = QueueManager(address=("127.0.0.1", 0), authkey=b"secret")
//!     server.start()
//!     try:
//!         QueueManager(address=server.address, authkey=b"guess").connect()
//!     except AuthenticationError:
//!         print("wrong key: refused")
//!     p = Process(target=worker, args=(server.address,))
//!     p.start()
//!     jobs, results = server.jobs(), server.results()
//!     for n in range(1, 6):
//!         jobs.put(n)
//!     jobs.put(None)
//!     for _ in range(5):
//!         n, square = results.get()
//!         print(f"{n} * {n} = {square}")
//!     print(f"the worker did {results.get()} jobs")
//!     p.join()
//! ```
//!
//! Differences: `BaseManager(address=..., authkey=...).start()` is
//! `Manager::serve(address, key)`, and port 0 picks a free port, which
//! `server.address()` reports. Python registers each shared object as a
//! method of a `BaseManager` subclass, in both programs; here the server
//! gives a proxy a name with `publish`, and a client gets it back with
//! `lookup`, which checks that it is the type asked for. `m.connect()` is
//! `Manager::connect(address, key)`, which answers the challenge at once,
//! so a wrong key fails there with `Error::Authentication`, Python's
//! `AuthenticationError`. The queues are typed: `None` is the stop
//! sentinel of a `QueueProxy<Option<u32>>`. The worker gets only the
//! address, as another program would, and reaches the queues over TCP even
//! though it runs on the same machine. A Python process has no return
//! value, so the worker puts its count on the results queue; here the
//! worker returns it and `join` gives it back.
//!
//! Output:
//!
//! ```text
//! wrong key: refused
//! 1 * 1 = 1
//! 2 * 2 = 4
//! 3 * 3 = 9
//! 4 * 4 = 16
//! 5 * 5 = 25
//! the worker did 5 jobs
//! ```

use multiproc::{Error, Manager, QueueProxy, process};

const KEY: &[u8] = b"secret";

/// Connects to the manager at `address`, squares each job until the `None`
/// sentinel, and returns how many it did.
#[process]
fn worker(address: String) -> u32 {
    let manager = Manager::connect(&address, KEY).expect("the manager knows the key");
    let jobs: QueueProxy<Option<u32>> = manager.lookup("jobs").expect("`jobs` is published");
    let results: QueueProxy<(u32, u32)> =
        manager.lookup("results").expect("`results` is published");
    let mut done = 0;
    while let Some(n) = jobs.get().expect("the manager is running") {
        results.put((n, n * n)).expect("the manager is running");
        done += 1;
    }
    done
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Manager::serve("127.0.0.1:0", KEY)?;
    match Manager::connect(&server.address(), b"guess") {
        Err(Error::Authentication { .. }) => println!("wrong key: refused"),
        Err(other) => return Err(other.into()),
        Ok(_) => return Err("the manager accepted a wrong key".into()),
    }

    let jobs = server.queue::<Option<u32>>()?;
    let results = server.queue::<(u32, u32)>()?;
    server.publish("jobs", &jobs)?;
    server.publish("results", &results)?;

    let p = worker.spawn(server.address())?;
    for n in 1..=5 {
        jobs.put(Some(n))?;
    }
    jobs.put(None)?;
    for _ in 0..5 {
        let (n, square) = results.get()?;
        println!("{n} * {n} = {square}");
    }
    println!("the worker did {} jobs", p.join()?);
    Ok(())
}
