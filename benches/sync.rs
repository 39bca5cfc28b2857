//! Lock and shared-value costs, next to Python's `multiprocessing`.
//! Run with `cargo bench --bench sync`.

mod common;

use std::time::Instant;

use multiproc::{Lock, Value, process};

#[process]
fn add_locked(v: Value<i64>, times: u64) {
    for _ in 0..times {
        *v.lock().unwrap() += 1;
    }
}

fn main() {
    const ROUNDS: u32 = 1_000_000;
    let lock = Lock::new().unwrap();
    let uncontended = common::median_of_rounds(5, 1, || {
        for _ in 0..ROUNDS {
            drop(std::hint::black_box(lock.acquire().unwrap()));
        }
    }) / ROUNDS;

    const TIMES: u64 = 100_000;
    let per_op = common::median_of_rounds(3, 1, || {
        let v = Value::new(0i64).unwrap();
        let started = Instant::now();
        let children: Vec<_> = (0..2)
            .map(|_| add_locked.spawn(v.clone(), TIMES).unwrap())
            .collect();
        for child in children {
            child.join().unwrap();
        }
        assert_eq!(v.get(), 2 * TIMES as i64, "the count must be exact");
        std::hint::black_box(started.elapsed());
    }) / (2 * TIMES as u32);

    let twin = common::Twin::run("sync_twin.py");
    let py = |name: &str| twin.get(name);
    common::header("Python / multiproc");
    common::report(
        "uncontended Lock acquire+release",
        uncontended,
        "Lock",
        py("uncontended"),
    );
    common::report(
        "locked Value += 1, two processes × 100,000 (per op, spawn included)",
        per_op,
        "Value",
        py("value_per_op"),
    );
}
