//! Lock and shared-value costs, next to Python's `multiprocessing`.
//! Run with `cargo bench --bench sync`.

mod common;

use std::time::Instant;

use multiproc::{Lock, Value, process};

#[process]
fn add_locked(v: Value<i64>, times: u64) {
    for _ in 0..times {
        *v.lock() += 1;
    }
}

fn main() {
    const ROUNDS: u32 = 1_000_000;
    let lock = Lock::new().unwrap();
    let uncontended = common::median_of_rounds(5, 1, || {
        for _ in 0..ROUNDS {
            drop(std::hint::black_box(lock.acquire()));
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

    let idle = idle_waiters_cpu();

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
    println!(
        "| CPU used by {WAITERS} threads blocked on a held Lock, per second idle | {:.2} ms | Python: {:.2} ms | lower is better |",
        idle * 1e3,
        py("idle_waiters_cpu") * 1e3
    );
}

const WAITERS: usize = 100;

/// Seconds of CPU per second of wall time that `WAITERS` threads blocked on a
/// held lock use: waiting must cost nothing while nothing happens.
fn idle_waiters_cpu() -> f64 {
    let lock = Lock::new().unwrap();
    let held = lock.acquire();
    std::thread::scope(|s| {
        for _ in 0..WAITERS {
            s.spawn(|| drop(lock.acquire()));
        }
        // A blocked waiter looks whether the owner died at intervals that
        // double from 10 ms to 1 s: measured once they have grown.
        std::thread::sleep(std::time::Duration::from_secs(3));
        let (cpu, wall) = (common::process_cpu(), Instant::now());
        std::thread::sleep(std::time::Duration::from_secs(2));
        let used = (common::process_cpu() - cpu) / wall.elapsed().as_secs_f64();
        drop(held);
        used
    })
}
