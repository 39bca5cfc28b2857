//! Large buffers crossing to another process: 100 MiB as a pool task's
//! argument, as its return value, as a `Queue` item and as a `Connection`
//! message, as `Bytes`, as `Vec<u8>` and as `Vec<f64>`, next to Python's
//! `bytes` and `array('d')` in the same run. The receiver reads a byte of
//! every page, so that a mapping is not counted as free; freeing a buffer
//! once it has arrived is left out of the time where the receiver can keep
//! it (not in a pool task, which drops its argument before it answers),
//! on both sides. Run with `cargo bench --bench bytes`.

mod common;

use std::sync::OnceLock;
use std::time::Instant;

use multiproc::{Bytes, Connection, Pool, Queue, pool_task, process};

const SIZE: usize = 100 << 20;
const ROUNDS: usize = 5;

/// A byte of every page, summed: touches the whole buffer.
fn touch(bytes: &[u8]) -> u64 {
    bytes.iter().step_by(4096).map(|&b| u64::from(b)).sum()
}

fn touch_floats(floats: &[f64]) -> u64 {
    floats.iter().step_by(512).map(|&f| f as u64).sum()
}

/// The buffers a worker returns, made once per process so that making
/// them is not timed.
fn made() -> &'static (Bytes, Vec<u8>, Vec<f64>) {
    static MADE: OnceLock<(Bytes, Vec<u8>, Vec<f64>)> = OnceLock::new();
    MADE.get_or_init(|| {
        (
            Bytes::from(vec![1u8; SIZE]),
            vec![1u8; SIZE],
            vec![1.0; SIZE / 8],
        )
    })
}

#[pool_task]
fn take_bytes(data: Bytes) -> u64 {
    touch(&data)
}

#[pool_task]
fn take_vec(data: Vec<u8>) -> u64 {
    touch(&data)
}

#[pool_task]
fn take_floats(data: Vec<f64>) -> u64 {
    touch_floats(&data)
}

#[pool_task]
fn give_bytes(_: u8) -> Bytes {
    made().0.clone()
}

#[pool_task]
fn give_vec(_: u8) -> Vec<u8> {
    made().1.clone()
}

#[pool_task]
fn give_floats(_: u8) -> Vec<f64> {
    made().2.clone()
}

#[process]
fn queue_reader(
    items: Queue<Bytes>,
    vecs: Queue<Vec<u8>>,
    floats: Queue<Vec<f64>>,
    acks: Queue<u64>,
) {
    // Each item is acknowledged before it is freed.
    for _ in 0..=ROUNDS {
        let _item = kept(items.get().unwrap(), touch);
        acks.put(0).unwrap();
    }
    for _ in 0..=ROUNDS {
        let _item = kept(vecs.get().unwrap(), touch);
        acks.put(0).unwrap();
    }
    for _ in 0..=ROUNDS {
        let _item = kept(floats.get().unwrap(), touch_floats);
        acks.put(0).unwrap();
    }
}

#[process]
fn connection_reader(
    items: Connection<Bytes>,
    vecs: Connection<Vec<u8>>,
    floats: Connection<Vec<f64>>,
) {
    // Each message is answered with an empty one of its type, before it is freed.
    for _ in 0..=ROUNDS {
        let _item = kept(items.recv().unwrap(), touch);
        items.send(Bytes::new()).unwrap();
    }
    for _ in 0..=ROUNDS {
        let _item = kept(vecs.recv().unwrap(), touch);
        vecs.send(Vec::new()).unwrap();
    }
    for _ in 0..=ROUNDS {
        let _item = kept(floats.recv().unwrap(), touch_floats);
        floats.send(Vec::new()).unwrap();
    }
}

/// `value`, once `touch` has read it.
fn kept<T: std::ops::Deref<Target = [E]>, E>(value: T, touch: fn(&[E]) -> u64) -> T {
    assert!(touch(&value) > 0);
    value
}

/// GB/s of the median of `ROUNDS` timed runs of `run` (after one untimed),
/// each given a fresh `setup()` made before its clock starts; what `run`
/// returns is dropped after the clock stops.
fn rate<T, K>(mut setup: impl FnMut() -> T, mut run: impl FnMut(T) -> K) -> f64 {
    run(setup());
    let mut times: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            let kept = run(input);
            let time = start.elapsed().as_secs_f64();
            drop(kept);
            time
        })
        .collect();
    times.sort_by(f64::total_cmp);
    SIZE as f64 / times[ROUNDS / 2] / 1e9
}

fn main() {
    let bytes = Bytes::from(vec![1u8; SIZE]);
    let vec = vec![1u8; SIZE];
    let floats = vec![1.0f64; SIZE / 8];
    let mut rows: Vec<(&str, [f64; 3])> = Vec::new();

    let pool = Pool::new(1).unwrap();
    rows.push((
        "as a pool task's argument",
        [
            rate(
                || bytes.clone(),
                |b| assert!(pool.apply(take_bytes, (b,)).unwrap() > 0),
            ),
            rate(
                || vec.clone(),
                |v| assert!(pool.apply(take_vec, (v,)).unwrap() > 0),
            ),
            rate(
                || floats.clone(),
                |f| assert!(pool.apply(take_floats, (f,)).unwrap() > 0),
            ),
        ],
    ));
    rows.push((
        "as a pool task's return value",
        [
            rate(
                || (),
                |()| kept(pool.apply(give_bytes, (0,)).unwrap(), touch),
            ),
            rate(|| (), |()| kept(pool.apply(give_vec, (0,)).unwrap(), touch)),
            rate(
                || (),
                |()| kept(pool.apply(give_floats, (0,)).unwrap(), touch_floats),
            ),
        ],
    ));
    drop(pool);

    let (items, vecs, float_items, acks) = (
        Queue::new().unwrap(),
        Queue::new().unwrap(),
        Queue::new().unwrap(),
        Queue::new().unwrap(),
    );
    let reader = queue_reader
        .spawn(
            items.clone(),
            vecs.clone(),
            float_items.clone(),
            acks.clone(),
        )
        .unwrap();
    rows.push((
        "as a Queue item",
        [
            rate(
                || bytes.clone(),
                |b| {
                    items.put(b).unwrap();
                    acks.get().unwrap();
                },
            ),
            rate(
                || vec.clone(),
                |v| {
                    vecs.put(v).unwrap();
                    acks.get().unwrap();
                },
            ),
            rate(
                || floats.clone(),
                |f| {
                    float_items.put(f).unwrap();
                    acks.get().unwrap();
                },
            ),
        ],
    ));
    reader.join().unwrap();

    let (a, b) = multiproc::pipe::<Bytes>().unwrap();
    let (c, d) = multiproc::pipe::<Vec<u8>>().unwrap();
    let (e, f) = multiproc::pipe::<Vec<f64>>().unwrap();
    let reader = connection_reader.spawn(b, d, f).unwrap();
    rows.push((
        "as a Connection message",
        [
            rate(
                || (),
                |()| {
                    a.send(&bytes).unwrap();
                    a.recv().unwrap();
                },
            ),
            rate(
                || (),
                |()| {
                    c.send(&vec).unwrap();
                    c.recv().unwrap();
                },
            ),
            rate(
                || (),
                |()| {
                    e.send(&floats).unwrap();
                    e.recv().unwrap();
                },
            ),
        ],
    ));
    reader.join().unwrap();

    let twin = common::Twin::run("bytes_twin.py");
    common::header("Bytes / Python bytes");
    for (what, [ours, ours_vec, ours_floats]) in rows {
        let key = ["argument", "value", "item", "message"]
            .into_iter()
            .find(|k| what.contains(k))
            .unwrap_or(what);
        let (py_bytes, py_floats) = (
            twin.get(&format!("{key}_bytes")),
            twin.get(&format!("{key}_floats")),
        );
        println!(
            "| 100 MiB {what} (goal: 2 GB/s) | Bytes {ours:.2} GB/s; Vec<u8> {ours_vec:.2} GB/s; Vec<f64> {ours_floats:.2} GB/s | bytes {py_bytes:.2} GB/s; array('d') {py_floats:.2} GB/s | {:.1}x |",
            ours / py_bytes
        );
    }
}
