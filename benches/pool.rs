//! Pool throughput and latency next to Python's `multiprocessing.Pool`.
//! Run with `cargo bench --bench pool`.

mod common;

use std::time::{Duration, Instant};

use multiproc::{Pool, pool_task};

#[pool_task]
fn inc(x: u64) -> u64 {
    x + 1
}

/// CPU-bound countdown from the seed tutorial 001 (`while n > 0: n -= 1`).
#[pool_task]
fn countdown(n: u64) -> u64 {
    let mut n = std::hint::black_box(n);
    while n > 0 {
        n = std::hint::black_box(n - 1);
    }
    n
}

fn per_sec(items: usize, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64()
}

fn main() {
    let pool = Pool::new(2).unwrap();
    pool.map(inc, 0..10_000u64).unwrap();

    const N: u64 = 1_000_000;
    let map_auto = common::median_of_rounds(5, 1, || {
        assert_eq!(pool.map(inc, 0..N).unwrap().len(), N as usize);
    });
    const N1: u64 = 20_000;
    let map_one = common::median_of_rounds(3, 1, || {
        assert_eq!(pool.map_chunked(inc, 0..N1, 1).unwrap().len(), N1 as usize);
    });
    let apply = common::median_of_rounds(5, 200, || {
        pool.apply(inc, (1,)).unwrap();
    });

    let python = common::python_twin("pool.py", &[]);
    let py = |name: &str| python.iter().find(|(n, _)| n == name).map(|(_, v)| *v).unwrap();

    println!("| benchmark | multiproc | Python | multiproc / Python |");
    println!("|---|---|---|---|");
    let ours = per_sec(N as usize, map_auto);
    println!(
        "| map of 1,000,000 trivial tasks, automatic chunks | {:.1} M items/s | {:.1} M items/s | {:.1}x |",
        ours / 1e6,
        py("map_auto") / 1e6,
        ours / py("map_auto")
    );
    let ours = per_sec(N1 as usize, map_one);
    println!(
        "| map with chunk size 1 | {:.0} k tasks/s | {:.0} k tasks/s | {:.1}x |",
        ours / 1e3,
        py("map_one") / 1e3,
        ours / py("map_one")
    );
    println!(
        "| apply round trip on a warm pool | {:.1} µs | {:.1} µs | {:.1}x faster |",
        apply.as_secs_f64() * 1e6,
        py("apply") * 1e6,
        py("apply") / apply.as_secs_f64()
    );

    let work = 20_000_000u64;
    let jobs = 8;
    let started = Instant::now();
    for _ in 0..jobs {
        countdown(work);
    }
    let serial = started.elapsed();
    let parallel = common::median_of_rounds(3, 1, || {
        pool.map_chunked(countdown, vec![work; jobs], 1).unwrap();
    });
    println!(
        "| CPU-bound countdown, 8 jobs on 2 workers: speedup over serial | {:.2}x | {:.2}x | |",
        serial.as_secs_f64() / parallel.as_secs_f64(),
        py("countdown_speedup"),
    );
}
