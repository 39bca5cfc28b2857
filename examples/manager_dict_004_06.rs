//! Twin of seed 004-06 (`seeds/004_8543553e03f2e93b.txt`, lines 170-183):
//! a Manager dict updated by a child.
//!
//! ```python
//! import multiprocessing
//!
//! def update_dict(shared_dict, key, value):
//!     shared_dict[key] = value
//!
//! if __name__ == "__main__":
//!     manager = multiprocessing.Manager()
//!     shared_dict = manager.dict()
//!     process = multiprocessing.Process(target=update_dict, args=(shared_dict, 'key', 'value'))
//!     process.start()
//!     process.join()
//!     print("Разделяемый словарь:", shared_dict)
//! ```
//!
//! Differences: the dict is typed, `DictProxy<String, String>`, and
//! `shared_dict[key] = value` is `shared_dict.insert(key, value)`. Rust has
//! no `repr`, so `dict_repr` prints the items the way Python prints a dict
//! of strings. The manager is shut down when `manager` and the proxy are
//! dropped at the end of `main`, where Python does it at exit. A child meets
//! a failed proxy call with `expect`; the parent's `join` reports that panic
//! as an error. The same block with `with Manager()` is seed 000-05,
//! `manager_dict_000_05`.
//!
//! Output: `Разделяемый словарь: {'key': 'value'}`

use multiproc::{DictProxy, Manager, process};

#[process]
fn update_dict(shared_dict: DictProxy<String, String>, key: String, value: String) {
    shared_dict
        .insert(key, value)
        .expect("the manager is running");
}

/// Python's `repr` of a dict of strings (without quotes in them).
fn dict_repr(items: &[(String, String)]) -> String {
    let entries: Vec<String> = items.iter().map(|(k, v)| format!("'{k}': '{v}'")).collect();
    format!("{{{}}}", entries.join(", "))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let shared_dict = manager.dict::<String, String>()?;
    let process = update_dict.spawn(shared_dict.clone(), "key".to_string(), "value".to_string())?;
    process.join()?;
    println!("Разделяемый словарь: {}", dict_repr(&shared_dict.items()?));
    Ok(())
}
