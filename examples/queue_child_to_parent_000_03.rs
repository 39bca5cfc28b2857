//! Twin of seed 000-03 (`seeds/000_e111410dd4036288.txt`, lines 81-93):
//! a child puts a message on a Queue and the parent gets it.
//!
//! ```python
//! from multiprocessing import Process, Queue
//!
//! def worker(q):
//!     q.put("Привет из процесса")
//!
//! if __name__ == "__main__":
//!     q = Queue()
//!     p = Process(target=worker, args=(q,))
//!     p.start()
//!     print(q.get())
//!     p.join()
//! ```
//!
//! Differences: the queue is typed, `Queue<String>`, so `get()` gives back a
//! `String` rather than whatever object was pickled. `spawn` moves its
//! argument, so the child gets `q.clone()`, another handle to the same
//! queue, and the parent keeps `q`. Python's order (get, then join) matters
//! there: a child whose feeder thread still holds items cannot exit until
//! they are read. multiproc buffers nothing in the producer, so joining the
//! child first would work too; the twin keeps the seed's order.
//!
//! Output: `Привет из процесса`

use multiproc::{Queue, process};

#[process]
fn worker(q: Queue<String>) {
    q.put("Привет из процесса".to_string())
        .expect("the queue has room");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let q: Queue<String> = Queue::new()?;
    let p = worker.spawn(q.clone())?;
    println!("{}", q.get()?);
    p.join()?;
    Ok(())
}
