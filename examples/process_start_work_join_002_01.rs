//! Twin of seed 002-01 (`seeds/002_77e87984367f21bb.txt`, lines 31-37):
//! start a process, do other work while it runs, then wait for it.
//!
//! ```python
//! p = Process(target=f,args=()) #передает функцию и аргументы второму процессу.
//! p.start() #запускает процесс.
//!
//! # тут может быть логика которая не требует завершения дочернего процесса.
//! p.join() #ожидание заверешения второго процесса и продолжение с этого места
//! ```
//!
//! The seed leaves `f` and the other work out; here `f` sleeps 200 ms and
//! returns a string, and the parent sums 1..=1000 meanwhile.
//!
//! Differences: `Process(...)` and `start()` are one call, `f.spawn()`; the
//! empty `args=()` is a call with no arguments. Python's `join()` returns
//! `None`, so a result needs a Queue or a Pipe; here `join()` returns what `f`
//! returned.
//!
//! Output:
//!
//! ```text
//! родитель: сумма 1..=1000 = 500500
//! потомок ещё работает: true
//! потомок вернул: готово
//! ```

use std::time::Duration;

use multiproc::process;

#[process]
fn f() -> String {
    std::thread::sleep(Duration::from_millis(200));
    "готово".to_string()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = f.spawn()?;

    // Work that does not need the child's result.
    let sum: u32 = (1..=1000).sum();
    println!("родитель: сумма 1..=1000 = {sum}");
    println!("потомок ещё работает: {}", p.is_alive());

    let result = p.join()?;
    println!("потомок вернул: {result}");
    Ok(())
}
