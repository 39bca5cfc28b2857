//! Twin of the first half of seed 003-02 (`seeds/003_fcaa9a4a1c6a37cf.txt`,
//! lines 45-55 of the block at lines 44-70): a child puts "Обработка
//! завершена!" on a Queue, and the parent gets and prints it.
//!
//! ```python
//! from multiprocessing import Process, Queue
//!
//! def worker(queue):
//!     queue.put("Обработка завершена!")
//!
//! if __name__ == '__main__':
//!     queue = Queue()
//!     p = Process(target=worker, args=(queue,))
//!     p.start()
//!     print(queue.get())  # Ожидание завершения обработки
//!     p.join()
//! ```
//!
//! The seed's block holds two programs in one fence: this Queue round trip,
//! then `Pool(processes=4).map` of squares, whose twin is
//! `examples/pool_map_squares_003_02.rs`.
//!
//! Differences: the queue is typed, `Queue<String>`, so `get()` gives back a
//! `String`. `spawn` moves its argument, so the child gets `queue.clone()`,
//! another handle to the same queue, and the parent keeps `queue`. As the
//! seed's comment says, the parent's `get()` is what waits for the work to
//! be done; `join()` then only reaps the child.
//!
//! Output: `Обработка завершена!`

use multiproc::{Queue, process};

#[process]
fn worker(queue: Queue<String>) {
    queue
        .put("Обработка завершена!".to_string())
        .expect("the queue has room");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue: Queue<String> = Queue::new()?;
    let p = worker.spawn(queue.clone())?;
    println!("{}", queue.get()?); // Ожидание завершения обработки
    p.join()?;
    Ok(())
}
