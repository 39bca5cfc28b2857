//! Manager round trips from a child process, next to Python's `multiprocessing.Manager`.
//! Run with `cargo bench --bench manager`.

mod common;

use std::time::{Duration, Instant};

use multiproc::{DictProxy, Manager, process};

/// Seconds per `d[k] = v; d[k]` pair, timed inside the child.
#[process]
fn set_get(d: DictProxy<String, i64>, times: u32) -> f64 {
    let key = "counter".to_string();
    let start = Instant::now();
    for i in 0..times {
        d.insert(key.clone(), i64::from(i)).unwrap();
        std::hint::black_box(d.get(&key).unwrap());
    }
    start.elapsed().as_secs_f64() / f64::from(times)
}

fn median_in_child(d: &DictProxy<String, i64>, times: u32) -> Duration {
    let mut runs: Vec<f64> = (0..5)
        .map(|_| set_get.spawn(d.clone(), times).unwrap().join().unwrap())
        .collect();
    runs.sort_by(f64::total_cmp);
    Duration::from_secs_f64(runs[runs.len() / 2])
}

fn main() {
    const TIMES: u32 = 20_000;
    let local = Manager::start().unwrap();
    let unix = median_in_child(&local.dict().unwrap(), TIMES);
    let remote = Manager::serve("127.0.0.1:0", b"bench").unwrap();
    let tcp = median_in_child(&remote.dict().unwrap(), TIMES);

    let twin = common::Twin::run("manager_twin.py");
    common::header("Python / multiproc");
    common::report(
        "Manager dict set+get from a child",
        unix,
        "Manager().dict()",
        twin.get("local"),
    );
    common::report(
        "Manager dict set+get from a child, TCP on localhost",
        tcp,
        "BaseManager over TCP",
        twin.get("tcp"),
    );
}
