//! Pool throughput and latency next to Python's `multiprocessing.Pool`.
//! Run with `cargo bench --bench pool`.

mod common;

use std::time::{Duration, Instant};

use ipc_channel::ipc::{IpcOneShotServer, IpcSender};
use multiproc::{Pool, pool_task, process};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[pool_task]
fn inc(x: u64) -> u64 {
    x + 1
}

/// CPU-bound countdown from the seed tutorial 001 (`while n > 0: n -= 1`).
/// Never inlined, so that the serial loop, rayon and the workers all run the
/// same machine code: inlined copies of this one-instruction loop ran at
/// speeds up to 2x apart depending on where they landed.
#[pool_task]
#[inline(never)]
fn countdown(n: u64) -> u64 {
    let mut n = std::hint::black_box(n);
    while n > 0 {
        n = std::hint::black_box(n - 1);
    }
    n
}

/// The raw ipc-channel echo used as the floor for `apply`.
#[derive(Serialize, Deserialize)]
enum Echo {
    Hello(IpcSender<u64>),
    Pong(u64),
}

#[process]
fn ipc_echo(server: String) {
    let to_parent = IpcSender::<Echo>::connect(server).unwrap();
    let (to_child, pings) = ipc_channel::ipc::channel::<u64>().unwrap();
    to_parent.send(Echo::Hello(to_child)).unwrap();
    while let Ok(ping) = pings.recv() {
        to_parent.send(Echo::Pong(ping)).unwrap();
    }
}

/// Median round trip of a u64 over ipc-channel to another process and back.
fn ipc_round_trip() -> Duration {
    let (server, name) = IpcOneShotServer::<Echo>::new().unwrap();
    let child = ipc_echo.builder().daemon(true).spawn(name).unwrap();
    let (pongs, hello) = server.accept().unwrap();
    let Echo::Hello(pings) = hello else {
        panic!("expected hello")
    };
    let round_trip = common::median_of_rounds(5, 200, || {
        pings.send(7).unwrap();
        assert!(matches!(pongs.recv().unwrap(), Echo::Pong(7)));
    });
    drop(pings);
    drop(child);
    round_trip
}

/// How long each of the long tasks takes.
const LONG_MS: u64 = 300;

#[pool_task]
fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn per_sec(items: usize, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64()
}

fn main() {
    let pool = Pool::new(2).unwrap();
    pool.map(inc, 0..10_000u64).unwrap();

    const N: u64 = 1_000_000;
    let map_auto = common::median_of_rounds(9, 1, || {
        assert_eq!(pool.map(inc, 0..N).unwrap().len(), N as usize);
    });
    const N1: u64 = 20_000;
    let map_one = common::median_of_rounds(5, 1, || {
        assert_eq!(pool.map_chunked(inc, 0..N1, 1).unwrap().len(), N1 as usize);
    });
    let apply = common::median_of_rounds(5, 200, || {
        pool.apply(inc, (1,)).unwrap();
    });
    // As many long tasks as workers: each must get its own worker.
    let spread = common::median_of_rounds(5, 1, || {
        pool.map(sleep_ms, [LONG_MS, LONG_MS]).unwrap();
    });

    let twin = common::Twin::run("pool.py");
    let py = |name: &str| twin.get(name);
    common::header("multiproc / Python");
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
    println!(
        "| map of 2 tasks of {LONG_MS} ms on 2 workers (ideal: one task's time) | {:.0} ms | {:.0} ms | {:.2}x |",
        spread.as_secs_f64() * 1e3,
        py("spread") * 1e3,
        py("spread") / spread.as_secs_f64()
    );
    let raw = ipc_round_trip();
    println!(
        "| raw ipc-channel round trip to a process (floor for apply) | {:.1} µs | | apply = {:.1}x the floor |",
        raw.as_secs_f64() * 1e6,
        apply.as_secs_f64() / raw.as_secs_f64()
    );

    // Serial, multiproc and rayon are timed in turn in each round, so that a
    // noisy moment hits all three; the ratios are medians over the rounds.
    let work = 20_000_000u64;
    let jobs = 8;
    let threads = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let time = |f: &dyn Fn()| {
        let started = Instant::now();
        f();
        started.elapsed().as_secs_f64()
    };
    let mut rounds: Vec<(f64, f64)> = (0..7)
        .map(|_| {
            let serial = time(&|| {
                (0..jobs).for_each(|_| {
                    countdown(work);
                })
            });
            let ours = time(&|| drop(pool.map_chunked(countdown, vec![work; jobs], 1).unwrap()));
            let rayon = time(&|| {
                threads.install(|| {
                    (0..jobs).into_par_iter().for_each(|_| {
                        countdown(work);
                    })
                })
            });
            (serial / ours, serial / rayon)
        })
        .collect();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ours = median(&mut rounds.iter().map(|r| r.0).collect());
    let theirs = median(&mut rounds.iter().map(|r| r.1).collect());
    let relative = median(&mut rounds.iter_mut().map(|r| r.0 / r.1).collect());
    println!(
        "| CPU-bound countdown, 8 jobs on 2 workers: speedup over serial | {ours:.2}x | {:.2}x | rayon (2 threads): {theirs:.2}x; multiproc / rayon = {relative:.2} |",
        py("countdown_speedup"),
    );
}
