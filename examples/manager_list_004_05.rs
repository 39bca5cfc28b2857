//! Twin of seed 004-05 (`seeds/004_8543553e03f2e93b.txt`, lines 153-166):
//! a Manager list appended to by a child.
//!
//! ```python
//! import multiprocessing
//!
//! def append_to_list(shared_list, value):
//!     shared_list.append(value)
//!
//! if __name__ == "__main__":
//!     manager = multiprocessing.Manager()
//!     shared_list = manager.list()
//!     process = multiprocessing.Process(target=append_to_list, args=(shared_list, 42))
//!     process.start()
//!     process.join()
//!     print("Разделяемый список:", shared_list)
//! ```
//!
//! Differences: the list is typed, `ListProxy<i32>`, and `append` is
//! `push`. Printing a Python proxy asks the server for the list's `repr`;
//! here `to_vec()` fetches a copy in one round trip, and its `Debug` form is
//! the same `[42]`. The manager is not in a `with` block in the seed, so
//! Python shuts it down at exit; here that happens when `manager` and the
//! proxy are dropped at the end of `main`. A child meets a failed proxy
//! call with `expect`; the parent's `join` reports that panic as an error.
//!
//! Output: `Разделяемый список: [42]`

use multiproc::{ListProxy, Manager, process};

#[process]
fn append_to_list(shared_list: ListProxy<i32>, value: i32) {
    shared_list.push(value).expect("the manager is running");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let shared_list = manager.list::<i32>()?;
    let process = append_to_list.spawn(shared_list.clone(), 42)?;
    process.join()?;
    println!("Разделяемый список: {:?}", shared_list.to_vec()?);
    Ok(())
}
