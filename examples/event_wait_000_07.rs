//! Twin of seed 000-07 (`seeds/000_e111410dd4036288.txt`, lines 154-169):
//! a child waits on an Event until the parent sets it.
//!
//! ```python
//! from multiprocessing import Process, Event
//!
//! def worker(event):
//!     print("Ждем сигнал...")
//!     event.wait()
//!     print("Сигнал получен!")
//!
//! if __name__ == "__main__":
//!     event = Event()
//!     p = Process(target=worker, args=(event,))
//!     p.start()
//!     input("Нажмите Enter для отправки сигнала\n")
//!     event.set()
//!     p.join()
//! ```
//!
//! Differences: the seed waits for Enter on stdin before it sets the event;
//! this twin does not read stdin (so that it runs unattended, in tests too)
//! and sets the event 100 ms after printing the same prompt. The prompt is
//! kept so that the output matches the seed's. The child's first line and
//! the parent's prompt can come out in either order; "Сигнал получен!" is
//! always last, since the child prints it only once the event is set.
//!
//! Output (the first two lines in either order):
//!
//! ```text
//! Ждем сигнал...
//! Нажмите Enter для отправки сигнала
//! Сигнал получен!
//! ```

use std::time::Duration;

use multiproc::{Event, process};

#[process]
fn worker(event: Event) {
    println!("Ждем сигнал...");
    event.wait();
    println!("Сигнал получен!");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let event = Event::new()?;
    let p = worker.spawn(event.clone())?;
    // Python: input("Нажмите Enter для отправки сигнала\n"); here a short sleep.
    println!("Нажмите Enter для отправки сигнала");
    std::thread::sleep(Duration::from_millis(100));
    event.set();
    p.join()?;
    Ok(())
}
