//! Twin of seed 004-11 (`seeds/004_8543553e03f2e93b.txt`, lines 303-325):
//! one Event waited on by two processes.
//!
//! ```python
//! import multiprocessing
//!
//! def wait_for_event(event, message):
//!     print(f"Ожидание события в процессе: {message}")
//!     event.wait()
//!     print(f"Событие произошло в процессе: {message}")
//!
//! if __name__ == "__main__":
//!     event = multiprocessing.Event()
//!
//!     process1 = multiprocessing.Process(target=wait_for_event, args=(event, "Процесс 1"))
//!     process2 = multiprocessing.Process(target=wait_for_event, args=(event, "Процесс 2"))
//!
//!     process1.start()
//!     process2.start()
//!
//!     print("Запускаем событие")
//!     event.set()
//!
//!     process1.join()
//!     process2.join()
//! ```
//!
//! Differences: none in behaviour. As in Python, the parent sets the event
//! right after starting the children, so a child may find it already set
//! when it starts waiting; the lines interleave in any order, except that
//! each child's "Ожидание" comes before its own "Событие произошло", and
//! both "Событие произошло" lines come after "Запускаем событие", which the
//! parent prints before setting the event.
//!
//! Output (one possible order):
//!
//! ```text
//! Запускаем событие
//! Ожидание события в процессе: Процесс 1
//! Событие произошло в процессе: Процесс 1
//! Ожидание события в процессе: Процесс 2
//! Событие произошло в процессе: Процесс 2
//! ```

use multiproc::{Event, process};

#[process]
fn wait_for_event(event: Event, message: String) {
    println!("Ожидание события в процессе: {message}");
    event.wait();
    println!("Событие произошло в процессе: {message}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let event = Event::new()?;

    let process1 = wait_for_event.spawn(event.clone(), "Процесс 1".to_string())?;
    let process2 = wait_for_event.spawn(event.clone(), "Процесс 2".to_string())?;

    println!("Запускаем событие");
    event.set();

    process1.join()?;
    process2.join()?;
    Ok(())
}
