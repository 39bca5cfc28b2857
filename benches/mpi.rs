//! A CPU-bound map on MPI worker ranks against the local Pool on the same
//! work, for 1, 2 and 4 workers, with Python's `multiprocessing.Pool` scaling
//! on the same tasks alongside. Run with `cargo bench --features mpi --bench mpi`:
//! it runs itself under `mpirun` for each worker count, and there rank 0
//! times the MPI pool and a local pool of as many workers in alternate
//! rounds, so that both meet the same load from the rest of the machine.
//! Needs Open MPI's `mpirun`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use multiproc::{Pool, pool_task};

const TASKS: u64 = 16;
const STEPS: u64 = 20_000_000;

/// The countdown of seed 001.
#[pool_task]
fn countdown(n: u64) -> u64 {
    let (mut n, mut steps) = (n, 0);
    while n > 0 {
        // Opaque to the optimizer, which would otherwise skip the loop.
        n = std::hint::black_box(n - 1);
        steps += 1;
    }
    steps
}

/// One map of the countdown tasks on `pool`.
fn round(pool: &Pool) -> Duration {
    let started = Instant::now();
    let done = pool.map(countdown, vec![STEPS; TASKS as usize]).unwrap();
    assert_eq!(done.iter().sum::<u64>(), TASKS * STEPS);
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    if std::env::var_os("OMPI_COMM_WORLD_RANK").is_some() {
        // Rank 0 under mpirun: measure both pools, and report to the parent run.
        let mpi = Pool::mpi().unwrap();
        let local = Pool::new(mpi.processes()).unwrap();
        let (mut on_mpi, mut on_local) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            on_mpi.push(round(&mpi));
            on_local.push(round(&local));
        }
        println!(
            "mpi {} {} {}",
            mpi.processes(),
            median(on_mpi).as_secs_f64(),
            median(on_local).as_secs_f64()
        );
        return;
    }
    let exe = std::env::current_exe().unwrap();
    println!("| benchmark | multiproc on MPI | multiproc's local Pool | MPI / local |");
    println!("|---|---|---|---|");
    let started = Instant::now();
    let mut one = None;
    for workers in [1usize, 2, 4] {
        let output = Command::new("mpirun")
            .args(["--oversubscribe", "--bind-to", "none", "-n"])
            .arg((workers + 1).to_string())
            .arg(&exe)
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .output()
            .expect("mpirun (Open MPI) must be installed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let figures: Vec<f64> = stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("mpi {workers} ")))
            .map(|rest| rest.split(' ').filter_map(|f| f.parse().ok()).collect())
            .unwrap_or_default();
        let [mpi, local] = figures[..] else {
            panic!("mpirun gave no figures:\n{stdout}");
        };
        let (one_mpi, one_local) = *one.get_or_insert((mpi, local));
        println!(
            "| countdown map, {workers} worker(s) | MPI {:.1} tasks/s (speedup {:.2}) | local Pool {:.1} tasks/s (speedup {:.2}) | {:.2} |",
            TASKS as f64 / mpi,
            one_mpi / mpi,
            TASKS as f64 / local,
            one_local / local,
            local / mpi,
        );
    }
    let python = common::Twin::run("mpi_twin.py");
    let py1 = python.get("workers_1");
    for workers in [2, 4] {
        println!(
            "| Python Pool scaling, {workers} workers (same tasks, 1/20 the steps) | | speedup {:.2} | |",
            py1 / python.get(&format!("workers_{workers}"))
        );
    }
    eprintln!("(measured in {:.0?})", started.elapsed());
}
