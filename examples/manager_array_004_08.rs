//! Twin of seed 004-08 (`seeds/004_8543553e03f2e93b.txt`, lines 204-217):
//! an element of a Manager Array set by a child.
//!
//! ```python
//! import multiprocessing
//!
//! def update_array(shared_array):
//!     shared_array[0] = 99
//!
//! if __name__ == "__main__":
//!     manager = multiprocessing.Manager()
//!     shared_array = manager.Array('i', [0, 0, 0]) # 'i' указывает на целые числа
//!     process = multiprocessing.Process(target=update_array, args=(shared_array,))
//!     process.start()
//!     process.join()
//!     print("Разделяемый массив:", shared_array[:])
//! ```
//!
//! Differences: Python's `manager.Array` is an `array.array` kept in the
//! server, reached through a proxy that offers only `len`, `[i]` and
//! `[i] = x`. A manager list of `i32` does all of that, so
//! `manager.Array('i', [0, 0, 0])` is `manager.list_from([0i32, 0, 0])`,
//! `shared_array[0] = 99` is `set(0, 99)`, and `shared_array[:]` is
//! `to_vec()`. Python prints the slice as `array('i', [99, 0, 0])`, since a
//! slice of an `array.array` is another one; the twin prints the `Vec`,
//! `[99, 0, 0]`. The manager is shut down when `manager` and the proxy are
//! dropped at the end of `main`, where Python does it at exit. A child
//! meets a failed proxy call with `expect`; the parent's `join` reports that
//! panic as an error.
//!
//! Output: `Разделяемый массив: [99, 0, 0]`

use multiproc::{ListProxy, Manager, process};

#[process]
fn update_array(shared_array: ListProxy<i32>) {
    shared_array.set(0, 99).expect("the array has an item 0");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let shared_array = manager.list_from([0i32, 0, 0])?;
    let process = update_array.spawn(shared_array.clone())?;
    process.join()?;
    println!("Разделяемый массив: {:?}", shared_array.to_vec()?);
    Ok(())
}
