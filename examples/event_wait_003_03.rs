//! Twin of seed 003-03 (`seeds/003_fcaa9a4a1c6a37cf.txt`, lines 76-94):
//! a child waits on an Event; the parent sets it after a pause.
//!
//! ```python
//! from multiprocessing import Process, Event
//! import time
//!
//! def worker(event):
//!     print("Ожидание сигнала...")
//!     event.wait()  # Ожидание события
//!     print("Сигнал получен! Выполнение продолжается.")
//!
//! if __name__ == '__main__':
//!     event = Event()
//!     p = Process(target=worker, args=(event,))
//!     p.start()
//!     time.sleep(3)
//!     print("Отправка сигнала...")
//!     event.set()  # Уведомляет о событии
//!     p.join()
//! ```
//!
//! Differences: the parent sleeps 100 ms instead of 3 s, so that the
//! example runs quickly in tests. The pause makes it all but certain that
//! the child prints its first line before the parent's, but nothing
//! guarantees it, in Python either. The child's last line always comes
//! after the parent's, which is printed before the event is set.
//!
//! Output:
//!
//! ```text
//! Ожидание сигнала...
//! Отправка сигнала...
//! Сигнал получен! Выполнение продолжается.
//! ```

use std::time::Duration;

use multiproc::{Event, process};

#[process]
fn worker(event: Event) {
    println!("Ожидание сигнала...");
    event.wait(); // Ожидание события
    println!("Сигнал получен! Выполнение продолжается.");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let event = Event::new()?;
    let p = worker.spawn(event.clone())?;
    std::thread::sleep(Duration::from_millis(100));
    println!("Отправка сигнала...");
    event.set(); // Уведомляет о событии
    p.join()?;
    Ok(())
}
