//! Twin of seed 000-05 (`seeds/000_e111410dd4036288.txt`, lines 116-129):
//! a Manager dict written by a child and printed by the parent.
//!
//! ```python
//! from multiprocessing import Manager, Process
//!
//! def worker(d, key, value):
//!     d[key] = value
//!
//! if __name__ == "__main__":
//!     with Manager() as manager:
//!         d = manager.dict()
//!         p = Process(target=worker, args=(d, 'key', 'value'))
//!         p.start()
//!         p.join()
//!         print(d)
//! ```
//!
//! Differences: `Manager()` is `Manager::start()`, and the `with` block is
//! the scope of `manager`: the server process is shut down once the handle
//! and every proxy made from it are dropped, at the end of `main`. The dict
//! is typed, `DictProxy<String, String>`, and `d[key] = value` is
//! `d.insert(key, value)`, one round trip to the server as in Python. A
//! proxy call can fail (the server may be gone), so it returns a `Result`;
//! the child meets a failure with `expect`, and the parent's `join` turns
//! that panic into an error. Rust has no `repr`, so `dict_repr` prints the
//! items the way Python prints a dict of strings.
//!
//! Output: `{'key': 'value'}`

use multiproc::{DictProxy, Manager, process};

#[process]
fn worker(d: DictProxy<String, String>, key: String, value: String) {
    d.insert(key, value).expect("the manager is running");
}

/// Python's `repr` of a dict of strings (without quotes in them).
fn dict_repr(items: &[(String, String)]) -> String {
    let entries: Vec<String> = items.iter().map(|(k, v)| format!("'{k}': '{v}'")).collect();
    format!("{{{}}}", entries.join(", "))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = Manager::start()?;
    let d = manager.dict::<String, String>()?;
    let p = worker.spawn(d.clone(), "key".to_string(), "value".to_string())?;
    p.join()?;
    println!("{}", dict_repr(&d.items()?));
    Ok(())
}
