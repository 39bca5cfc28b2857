//! A CPU-bound map on MPI worker ranks against the local Pool on the same
//! work, for 1, 2 and 4 workers, with Python's `multiprocessing.Pool` scaling
//! on the same tasks alongside. Run with `cargo bench --features mpi --bench mpi`:
//! it measures the local pool itself, then runs itself under `mpirun` for
//! each rank count. Needs Open MPI's `mpirun`.

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

/// Median time of a map of the countdown tasks on `pool`.
fn timed(pool: &Pool) -> Duration {
    common::median_of_rounds(3, 1, || {
        let done = pool.map(countdown, vec![STEPS; TASKS as usize]).unwrap();
        assert_eq!(done.iter().sum::<u64>(), TASKS * STEPS);
    })
}

fn tasks_per_sec(d: Duration) -> f64 {
    TASKS as f64 / d.as_secs_f64()
}

fn main() {
    if std::env::var_os("OMPI_COMM_WORLD_RANK").is_some() {
        // Rank 0 under mpirun: measure, and report to the parent run.
        let pool = Pool::mpi().unwrap();
        println!("mpi {} {}", pool.processes(), timed(&pool).as_secs_f64());
        return;
    }
    let exe = std::env::current_exe().unwrap();
    println!("| benchmark | multiproc on MPI | multiproc's local Pool | MPI / local |");
    println!("|---|---|---|---|");
    let started = Instant::now();
    let mut local_one = None;
    for workers in [1usize, 2, 4] {
        let local = timed(&Pool::new(workers).unwrap());
        let one = *local_one.get_or_insert(local);
        let output = Command::new("mpirun")
            .args([
                "--oversubscribe",
                "--bind-to",
                "none",
                "-n",
                &(workers + 1).to_string(),
            ])
            .arg(&exe)
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .output()
            .expect("mpirun (Open MPI) must be installed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mpi: f64 = stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("mpi {workers} ")))
            .and_then(|secs| secs.trim().parse().ok())
            .unwrap_or_else(|| panic!("mpirun gave no figure:\n{stdout}"));
        let mpi = Duration::from_secs_f64(mpi);
        println!(
            "| countdown map, {workers} worker(s) | MPI {:.2} tasks/s (speedup {:.2}) | local Pool {:.2} tasks/s (speedup {:.2}) | {:.2} |",
            tasks_per_sec(mpi),
            one.as_secs_f64() / mpi.as_secs_f64(),
            tasks_per_sec(local),
            one.as_secs_f64() / local.as_secs_f64(),
            local.as_secs_f64() / mpi.as_secs_f64(),
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
