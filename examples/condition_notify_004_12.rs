//! Rust twin of seed 004-12 (`004_8543553e03f2e93b.txt`, lines 329–349):
//! three processes each increment a shared value under a `Condition` and notify.
//!
//! ```python
//! def worker_with_condition(condition, shared_resource):
//!     with condition:
//!         shared_resource.value += 1
//!         print(f"Процесс {multiprocessing.current_process().name} увеличил общий ресурс до {shared_resource.value}")
//!         condition.notify()
//!
//! if __name__ == "__main__":
//!     condition = multiprocessing.Condition()
//!     shared_resource = multiprocessing.Value('i', 0)
//!     processes = [multiprocessing.Process(target=worker_with_condition, args=(condition, shared_resource)) for _ in range(3)]
//!     ...start and join each
//! ```
//!
//! What differs: nothing waits on the condition in the seed, so its `notify`
//! wakes no one; the twin keeps it as written. The condition's lock serializes
//! the increments, so the values printed are 1, 2 and 3 in that order (the
//! process names may come in any order). Prints, for example:
//!
//! ```text
//! Процесс Process-1 увеличил общий ресурс до 1
//! Процесс Process-2 увеличил общий ресурс до 2
//! Процесс Process-3 увеличил общий ресурс до 3
//! ```

use multiproc::{Condition, Value, process};

#[process]
fn worker_with_condition(condition: Condition, shared_resource: Value<i32>) {
    let _guard = condition.acquire();
    *shared_resource.lock() += 1;
    println!(
        "Процесс {} увеличил общий ресурс до {}",
        multiproc::current_process().name(),
        shared_resource.get()
    );
    condition.notify_one();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let condition = Condition::new()?;
    let shared_resource = Value::new(0i32)?;
    let processes = (0..3)
        .map(|_| worker_with_condition.spawn(condition.clone(), shared_resource.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    for process in processes {
        process.join()?;
    }
    Ok(())
}
