//! Waiting on a busy machine: five round trips with 0, 2, 4 and 8 CPU-bound
//! processes beside them on this machine's cores, next to Python's twins
//! measured under the same load in the same run: eleven rounds each (41 for
//! the Semaphore ping-pong), taken in turn; the median of the rounds'
//! medians and the mean of their means. A wait that spins can win
//! on an idle machine and lose badly on a busy one: its spin takes the time
//! slice the peer it waits for needs. Run with `cargo bench --bench load`.

mod common;

use std::time::{Duration, Instant};

use multiproc::{Connection, Pool, Queue, Semaphore, pool_task, process};

#[process]
fn pipe_echo(conn: Connection<u64>) {
    while let Ok(x) = conn.recv() {
        if conn.send(x).is_err() {
            break;
        }
    }
}

#[process]
fn queue_echo(from: Queue<u64>, to: Queue<u64>) {
    while let Ok(x) = from.get() {
        if x == u64::MAX || to.put(x).is_err() {
            break;
        }
    }
}

#[process]
fn semaphore_echo(from: Semaphore, to: Semaphore, times: u32) {
    for _ in 0..times {
        std::mem::forget(from.acquire());
        to.release().unwrap();
    }
}

#[pool_task]
fn inc(x: u64) -> u64 {
    x + 1
}

/// Batches per figure, and round trips per batch.
const BATCHES: usize = 7;
const PER_BATCH: u32 = 200;

/// Median and mean, over the batches, of the time per round trip, after
/// one batch to warm up.
fn per_trip(mut trip: impl FnMut()) -> (f64, f64) {
    for _ in 0..PER_BATCH {
        trip();
    }
    let mut times: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..PER_BATCH {
                trip();
            }
            started.elapsed().as_secs_f64() / f64::from(PER_BATCH)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (
        times[BATCHES / 2],
        times.iter().sum::<f64>() / BATCHES as f64,
    )
}

fn pipe() -> (f64, f64) {
    let (here, there) = multiproc::pipe::<u64>().unwrap();
    let echo = pipe_echo.spawn(there).unwrap();
    let figure = per_trip(|| {
        here.send(7).unwrap();
        here.recv().unwrap();
    });
    drop(here);
    echo.join().unwrap();
    figure
}

fn apply() -> (f64, f64) {
    let pool = Pool::new(2).unwrap();
    pool.map(inc, 0..100u64).unwrap();
    per_trip(|| {
        pool.apply(inc, (1,)).unwrap();
    })
}

fn manager() -> (f64, f64) {
    let manager = multiproc::Manager::start().unwrap();
    let d = manager.dict::<u32, u64>().unwrap();
    per_trip(|| {
        d.insert(1, 2).unwrap();
        d.get(&1).unwrap();
    })
}

fn queue() -> (f64, f64) {
    let (to, from) = (Queue::new().unwrap(), Queue::new().unwrap());
    let echo = queue_echo.spawn(to.clone(), from.clone()).unwrap();
    let figure = per_trip(|| {
        to.put(7).unwrap();
        from.get().unwrap();
    });
    to.put(u64::MAX).unwrap();
    echo.join().unwrap();
    figure
}

fn semaphore() -> (f64, f64) {
    let (ping, pong) = (Semaphore::new(0).unwrap(), Semaphore::new(0).unwrap());
    let trips = (BATCHES as u32 + 1) * PER_BATCH;
    let echo = semaphore_echo
        .spawn(ping.clone(), pong.clone(), trips)
        .unwrap();
    let figure = per_trip(|| {
        ping.release().unwrap();
        std::mem::forget(pong.acquire());
    });
    echo.join().unwrap();
    figure
}

/// One round of a round trip measured here: its median and mean.
type Measure = fn() -> (f64, f64);

/// The round trips: what the table calls each, the name the Python twin
/// prints it under, and how to measure one round of it here.
const FIGURES: [(&str, &str, Measure); 5] = [
    ("Pipe round trip", "Pipe", pipe),
    ("Pool.apply round trip", "Pool.apply", apply),
    ("Manager dict set+get", "Manager", manager),
    ("Queue ping-pong (two get wake-ups)", "Queue", queue),
    (
        "Semaphore ping-pong (two hand-offs)",
        "Semaphore",
        semaphore,
    ),
];

fn human(secs: f64) -> String {
    format!("{:.1} µs", secs * 1e6)
}

/// Rounds per load level, ours and Python's taken in turn. On oversubscribed
/// cores one round's median is often one of two modes (a peer scheduled at
/// once, or after a time slice) for either side: five rounds let a lucky
/// mode decide the figure.
const ROUNDS: usize = 11;

/// More rounds for the Semaphore ping-pong alone, whose two modes are
/// 3 µs apart for both programs: which process shares a core with which
/// is the scheduler's draw, so that eleven rounds often put one side's
/// median in the slow mode and the other's in the fast one. Its rounds are
/// short, so these cost seconds.
const SEMAPHORE_ROUNDS: usize = 41;

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    common::header("Python / multiproc (median; mean)");
    for hogs in [0, 2, 4, 8] {
        let _hogs = common::Hogs::start(hogs);
        std::thread::sleep(Duration::from_millis(200));
        // Each figure's rounds: ours, then Python's twin's, in turn.
        let mut ours = vec![Vec::new(); FIGURES.len()];
        let mut twins = vec![Vec::new(); FIGURES.len()];
        let mut take = |i: usize, twin: &common::Twin| {
            let (_, key, measure) = FIGURES[i];
            ours[i].push(measure());
            twins[i].push((
                twin.get(&format!("{key}_median")),
                twin.get(&format!("{key}_mean")),
            ));
        };
        for _ in 0..ROUNDS {
            let twin = common::Twin::run("load_twin.py");
            for i in 0..FIGURES.len() {
                take(i, &twin);
            }
        }
        let semaphore = FIGURES.len() - 1;
        for _ in ROUNDS..SEMAPHORE_ROUNDS {
            take(
                semaphore,
                &common::Twin::run_with("load_twin.py", &["Semaphore"]),
            );
        }
        // The median of the rounds' medians, the mean of their means.
        let figure = |rounds: &[(f64, f64)]| {
            (
                common::median(rounds.iter().map(|r| r.0).collect()),
                rounds.iter().map(|r| r.1).sum::<f64>() / rounds.len() as f64,
            )
        };
        for (i, (what, ..)) in FIGURES.iter().enumerate() {
            let (median_ours, mean_ours) = figure(&ours[i]);
            let (py_median, py_mean) = figure(&twins[i]);
            println!(
                "| {what}, {hogs} CPU-bound processes on {cores} cores | {} (mean {}) | {} (mean {}) | {:.1}x; {:.1}x |",
                human(median_ours),
                human(mean_ours),
                human(py_median),
                human(py_mean),
                py_median / median_ours,
                py_mean / mean_ours,
            );
        }
    }
}
