//! Twin of seed 004-07 (`seeds/004_8543553e03f2e93b.txt`, lines 187-200):
//! a Manager Value set by a child.
//!
//! ```python
//! import multiprocessing
//!
//! def update_value(shared_value):
//!     shared_value.value = 100
//!
//! if __name__ == "__main__":
//!     manager = multiprocessing.Manager()
//!     shared_value = manager.Value('i', 0) # 'i' указывает на целое число
//!     process = multiprocessing.Process(target=update_value, args=(shared_value,))
//!     process.start()
//!     process.join()
//!     print("Разделяемая переменная:", shared_value.value)
//! ```
//!
//! Differences: `manager.Value('i', 0)` is `manager.value(0i32)`. Python's
//! manager only stores the typecode `'i'` and would hold any object; here
//! the type is `i32`, and a proxy received as another type is an error.
//! `shared_value.value = 100` is `set(100)`, and reading `.value` is
//! `get()`, each a round trip to the server. The manager is shut down when
//! `manager` and the proxy are dropped at the end of `main`, where Python
//! does it at exit. A child meets a failed proxy call with `expect`; the
//! parent's `join` reports that panic as an error. The shared-memory
//! `Value` without a manager is seed 001-06, `value_set_by_child_001_06`.
//!
//! Output: `Разделяемая переменная: 100`

use multiproc::{Manager, ValueProxy, process};

#[process]
fn update_value(shared_value: ValueProxy<i32>) {
    shared_value.set(100).expect("the manager is running");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let shared_value = manager.value(0i32)?;
    let process = update_value.spawn(shared_value.clone())?;
    process.join()?;
    println!("Разделяемая переменная: {}", shared_value.get()?);
    Ok(())
}
