//! A CPU-bound map on MPI worker ranks against the local Pool on the same
//! work, for 1, 2 and 4 workers and tasks of 1 ms and 5 ms (as timed here
//! before the runs), with Python's `multiprocessing.Pool` scaling on the
//! same tasks alongside, and what an idle MPI pool costs in CPU. Run with
//! `cargo bench --features mpi --bench mpi`. The MPI pool is timed twice:
//! as it runs here, its ranks on rank 0's machine linked straight to their
//! drivers, and with every rank served through the relay
//! (`MULTIPROC_MPI_NEARBY=0`), as ranks on other machines are. For each
//! worker count it takes five runs, each the local pool's rounds here and
//! each MPI pool's rounds under `mpirun`, in an order that turns each run,
//! so that each pool has the machine to itself: an MPI pool idling beside a
//! local one looks for work, and took 7–15% of the local pool's speed when
//! the two took turns in one job. Each run gives a ratio (the median round
//! of each); the report gives their median and range. Needs Open MPI's
//! `mpirun`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use multiproc::{Pool, pool_task};

const TASKS: usize = 16;
/// Task lengths, in milliseconds.
const LENGTHS: [u64; 2] = [1, 5];
const RUNS: usize = 5;
const ROUNDS: usize = 15;

/// The countdown of seed 001, kept in a register: each process's stack
/// lies elsewhere, and a loop through memory (`black_box`) ran up to half
/// again as long in one process as in another, which swamped the figure.
#[pool_task]
fn countdown(n: u64) -> u64 {
    let (mut n, mut steps) = (n, 0);
    while n > 0 {
        n -= 1;
        // SAFETY: an empty instruction that may change `n`, as far as the
        // optimizer knows, so that the loop is not skipped.
        unsafe {
            std::arch::asm!("/* {0} */", inout(reg) n, options(nomem, nostack, preserves_flags))
        };
        steps += 1;
    }
    steps
}

/// Countdown steps per millisecond on this machine, timed here.
fn steps_per_ms() -> u64 {
    const STEPS: u64 = 20_000_000;
    let fastest = (0..3)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(countdown(std::hint::black_box(STEPS)));
            started.elapsed()
        })
        .min()
        .unwrap_or(Duration::from_millis(1));
    (STEPS as f64 / (fastest.as_secs_f64() * 1e3)) as u64
}

/// The CPU time this worker process has used, in seconds, and its pid;
/// after a pause long enough for every worker to take one such task.
#[pool_task]
fn cpu_used(_: u64) -> (u32, f64) {
    std::thread::sleep(Duration::from_millis(50));
    (std::process::id(), common::process_cpu())
}

/// The CPU time each worker of `pool` has used, by pid.
fn workers_cpu(pool: &Pool) -> std::collections::HashMap<u32, f64> {
    let n = pool.processes() as u64 * 4;
    pool.map_chunked(cpu_used, 0..n, 1)
        .unwrap()
        .into_iter()
        .collect()
}

/// Keeps this worker on processor `cpu`; whether the system agreed.
#[pool_task]
fn pin_to(cpu: usize) -> bool {
    // SAFETY: a zeroed `cpu_set_t` is the empty set, and the call only reads
    // the set it is given, of the size it is told.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// With one worker, keeps the pool's worker on the last core: a lone
/// worker stays on one core for a whole run, and this VM's cores ran the
/// same loop up to 1.6x apart at times, which swung single runs over
/// 0.57–1.67. Both pools' lone workers run there.
fn pin_lone_worker(pool: &Pool) {
    let cores = multiproc::cpu_count();
    if pool.processes() == 1 && cores > 1 {
        assert!(pool.apply(pin_to, (cores - 1,)).unwrap());
    }
}

/// One map of the countdown tasks on `pool`.
fn round(pool: &Pool, steps: u64) -> Duration {
    let started = Instant::now();
    let done = pool.map(countdown, vec![steps; TASKS]).unwrap();
    assert_eq!(done.iter().sum::<u64>(), TASKS as u64 * steps);
    started.elapsed()
}

/// The median round of `pool` on tasks of each of [`LENGTHS`], in seconds.
fn rounds(pool: &Pool, per_ms: u64) -> Vec<f64> {
    pin_lone_worker(pool);
    LENGTHS
        .iter()
        .map(|length| {
            common::median(
                (0..ROUNDS)
                    .map(|_| round(pool, per_ms * length).as_secs_f64())
                    .collect(),
            )
        })
        .collect()
}

/// Steps per millisecond, from the run that launched this one.
const PER_MS: &str = "MULTIPROC_BENCH_STEPS_PER_MS";

/// Rank 0 under mpirun: the MPI pool's rounds, then its CPU use idle;
/// reported to the launching run on stdout.
fn on_rank_zero() {
    let per_ms = std::env::var(PER_MS)
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("run by `cargo bench --bench mpi`, which sets MULTIPROC_BENCH_STEPS_PER_MS");
    let mpi = Pool::mpi().unwrap();
    let medians: Vec<String> = rounds(&mpi, per_ms).iter().map(f64::to_string).collect();
    println!("mpi: {}", medians.join(" "));
    // Idle for a second: what the worker ranks and rank 0 (its relay) burn.
    let before = workers_cpu(&mpi);
    let relay_before = common::process_cpu();
    let idle = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let relay = common::process_cpu() - relay_before;
    let after = workers_cpu(&mpi);
    let elapsed = idle.elapsed().as_secs_f64();
    let workers: Vec<f64> = after
        .iter()
        .filter_map(|(pid, cpu)| Some(cpu - before.get(pid)?))
        .collect();
    let per_worker = workers.iter().sum::<f64>() / workers.len().max(1) as f64;
    println!("idle: {} {}", per_worker / elapsed, relay / elapsed);
}

/// How each run's rounds are taken.
#[derive(Clone, Copy, PartialEq)]
enum Way {
    Local,
    /// MPI ranks on this machine, linked straight to their drivers.
    Linked,
    /// MPI ranks served through the relay, as ranks on other machines are
    /// (`MULTIPROC_MPI_NEARBY=0`).
    Relayed,
}

const WAYS: [Way; 3] = [Way::Local, Way::Linked, Way::Relayed];

impl Way {
    /// How the report names an MPI way.
    fn label(self) -> &'static str {
        match self {
            Way::Local => "the local pool",
            Way::Linked => "ranks on this machine",
            Way::Relayed => "every rank through the relay, as on other machines",
        }
    }

    /// What its ratio is held to. The goal is the MPI pool's against the
    /// local pool's, on one machine; through the relay is how ranks on
    /// other machines are served, which have no local pool to compare
    /// with, and here the relay shares the two cores with the ranks it
    /// serves.
    fn target(self) -> &'static str {
        match self {
            Way::Relayed => "for comparison",
            Way::Local | Way::Linked => "goal: at least 0.95",
        }
    }
}

/// Rounds of one way: the median round per task length, and for MPI the
/// idle pool's CPU use (per worker rank, rank 0), in seconds per second.
fn run_way(way: Way, workers: usize, per_ms: u64) -> (Vec<f64>, Option<(f64, f64)>) {
    if way == Way::Local {
        return (rounds(&Pool::new(workers).unwrap(), per_ms), None);
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("mpirun")
        .args(["--oversubscribe", "--bind-to", "none", "-n"])
        .arg((workers + 1).to_string())
        .arg(&exe)
        .env(PER_MS, per_ms.to_string())
        .env(
            "MULTIPROC_MPI_NEARBY",
            if way == Way::Relayed { "0" } else { "1" },
        )
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("mpirun (Open MPI) must be installed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let figures = |prefix: &str| -> Vec<f64> {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|rest| rest.split(' ').filter_map(|f| f.parse().ok()).collect())
            .unwrap_or_default()
    };
    let mpi = figures("mpi: ");
    assert_eq!(
        mpi.len(),
        LENGTHS.len(),
        "mpirun gave no figures ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let idle = match figures("idle: ")[..] {
        [worker, relay] => Some((worker, relay)),
        _ => None,
    };
    (mpi, idle)
}

fn main() {
    if std::env::var_os("OMPI_COMM_WORLD_RANK").is_some() {
        on_rank_zero();
        return;
    }
    let per_ms = steps_per_ms();
    println!("| benchmark | multiproc on MPI | multiproc's local Pool | MPI / local |");
    println!("|---|---|---|---|");
    let started = Instant::now();
    // Per (workers, way): each run's idle CPU (per worker rank, rank 0).
    let mut idle: Vec<(usize, usize, f64, f64)> = Vec::new();
    for workers in [1usize, 2, 4] {
        // Per task length, per way: the median round of each run.
        let mut runs = vec![vec![Vec::new(); WAYS.len()]; LENGTHS.len()];
        for run in 0..RUNS {
            // Each way goes first, second and last in turn.
            for k in 0..WAYS.len() {
                let way = (run + k) % WAYS.len();
                let (medians, idled) = run_way(WAYS[way], workers, per_ms);
                for (i, median) in medians.into_iter().enumerate() {
                    runs[i][way].push(median);
                }
                if let Some((worker, relay)) = idled {
                    idle.push((workers, way, worker, relay));
                }
            }
        }
        for (i, length) in LENGTHS.iter().enumerate() {
            let local = &runs[i][Way::Local as usize];
            for way in [Way::Linked, Way::Relayed] {
                let (mpi, label, target) = (&runs[i][way as usize], way.label(), way.target());
                let ratios: Vec<f64> = local.iter().zip(mpi).map(|(l, m)| l / m).collect();
                let (low, high) = ratios
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
                println!(
                    "| countdown map of {TASKS} tasks of {length} ms, {workers} worker(s), {label} ({target}) | MPI {:.1} tasks/s | local Pool {:.1} tasks/s | {:.2} (range {low:.2}–{high:.2} over {RUNS} runs) |",
                    TASKS as f64 / common::median(mpi.clone()),
                    TASKS as f64 / common::median(local.clone()),
                    common::median(ratios.clone()),
                );
            }
        }
    }
    for workers in [1usize, 2, 4] {
        for way in [Way::Linked, Way::Relayed] {
            let label = way.label();
            let of = |f: fn(&(usize, usize, f64, f64)) -> f64| {
                let runs = idle
                    .iter()
                    .filter(|i| i.0 == workers && i.1 == way as usize);
                common::median(runs.map(f).collect())
            };
            println!(
                "| an idle MPI pool of {workers} worker(s), {label}, CPU per second of idling | each worker rank {:.2} ms, rank 0 (the relay) {:.2} ms | | |",
                of(|i| i.2) * 1e3,
                of(|i| i.3) * 1e3,
            );
        }
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
