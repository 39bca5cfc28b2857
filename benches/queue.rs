//! Queue throughput between processes, next to Python's `multiprocessing.Queue`.
//! Run with `cargo bench --bench queue`.

mod common;

use std::time::Instant;

use multiproc::Bytes;
use multiproc::{Queue, process};

#[process]
fn put_small(q: Queue<u64>, count: u64) {
    for i in 0..count {
        q.put(i).unwrap();
    }
}

#[process]
fn put_big(q: Queue<Bytes>, count: u64, size: usize) {
    let item = Bytes::from(vec![7u8; size]);
    for _ in 0..count {
        q.put(item.clone()).unwrap();
    }
}

#[process]
fn get_small(q: Queue<u64>, count: u64) {
    for _ in 0..count {
        q.get().unwrap();
    }
}

/// Items per second from one producer process to this process.
fn small(count: u64) -> f64 {
    let q = Queue::new().unwrap();
    let started = Instant::now();
    let producer = put_small.spawn(q.clone(), count).unwrap();
    for _ in 0..count {
        q.get().unwrap();
    }
    let elapsed = started.elapsed();
    producer.join().unwrap();
    count as f64 / elapsed.as_secs_f64()
}

/// Bytes per second of 1 MiB items from one producer process to this process.
fn big(count: u64) -> f64 {
    const SIZE: usize = 1 << 20;
    let q = Queue::<Bytes>::new().unwrap();
    let started = Instant::now();
    let producer = put_big.spawn(q.clone(), count, SIZE).unwrap();
    for _ in 0..count {
        assert_eq!(q.get().unwrap().len(), SIZE);
    }
    let elapsed = started.elapsed();
    producer.join().unwrap();
    (count as usize * SIZE) as f64 / elapsed.as_secs_f64()
}

/// Aggregate items per second with 4 producer and 4 consumer processes.
fn four_by_four(per_producer: u64) -> f64 {
    let q = Queue::new().unwrap();
    let started = Instant::now();
    let consumers: Vec<_> = (0..4)
        .map(|_| get_small.spawn(q.clone(), per_producer).unwrap())
        .collect();
    let producers: Vec<_> = (0..4)
        .map(|_| put_small.spawn(q.clone(), per_producer).unwrap())
        .collect();
    for p in producers.into_iter().chain(consumers) {
        p.join().unwrap();
    }
    (4 * per_producer) as f64 / started.elapsed().as_secs_f64()
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let small = median((0..5).map(|_| small(200_000)).collect());
    let big = median((0..5).map(|_| big(200)).collect());
    let fours = median((0..3).map(|_| four_by_four(50_000)).collect());
    let twin = common::Twin::run("queue_twin.py");
    let py = |name: &str| twin.get(name);
    common::header("multiproc / Python");
    println!(
        "| Queue, 1 producer → 1 consumer, small items | {:.2} M items/s | {:.2} M items/s | {:.1}x |",
        small / 1e6,
        py("small") / 1e6,
        small / py("small")
    );
    println!(
        "| Queue, 1 MiB items | {:.2} GB/s | {:.2} GB/s | {:.1}x |",
        big / 1e9,
        py("big") / 1e9,
        big / py("big")
    );
    println!(
        "| Queue, 4 producers × 4 consumers, aggregate | {:.2} M items/s | {:.2} M items/s | {:.1}x |",
        fours / 1e6,
        py("four_by_four") / 1e6,
        fours / py("four_by_four")
    );
}
