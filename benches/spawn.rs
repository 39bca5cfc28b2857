//! Spawn and join of a no-op process under each start method, and a pool
//! from its start to its first result, next to Python's same method; on an
//! idle machine, then with twice as many CPU-bound processes as cores
//! beside them. Also the floors: a bare exec-and-wait of this same
//! executable, and a bare fork, `_exit` and wait.
//! Run with `cargo bench --bench spawn`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use multiproc::{StartMethod, process};

#[process]
fn noop() {}

#[multiproc::pool_task]
fn inc(x: u64) -> u64 {
    x + 1
}

/// How long the caller sleeps before each timed start on a busy machine.
/// There, a process that has just slept (as one does after dropping a pool,
/// whose threads it waits for) and then forks sees its child wait a
/// scheduler tick, about 4 ms here, before it first runs; one that forks
/// right after a join does not. So every start, ours and Python's, single
/// or pool, is timed from the same state. On an idle machine, a pause would
/// only time waking a cold processor, so starts follow each other there.
const BUSY_PAUSE: Duration = Duration::from_millis(5);

/// Median time, over `times` pools, from starting a pool of `processes`
/// workers to its first `apply` result; the pool's shutdown is not timed.
fn pool_to_first_result(
    method: StartMethod,
    processes: usize,
    times: usize,
    pause: Duration,
) -> Duration {
    let mut times: Vec<_> = (0..times)
        .map(|_| {
            std::thread::sleep(pause);
            let started = Instant::now();
            let pool = multiproc::Pool::builder()
                .processes(processes)
                .start_method(method)
                .fork_with_threads(true)
                .build()
                .unwrap();
            pool.apply(inc, (1,)).unwrap();
            let took = started.elapsed();
            drop(pool);
            took
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Makes the bare-exec baseline exit before doing anything.
const BARE: &str = "MULTIPROC_BENCH_BARE_EXIT";

#[ctor::ctor]
unsafe fn exit_if_bare() {
    if std::env::var_os(BARE).is_some() {
        std::process::exit(0);
    }
}

/// One spawn+join of a no-op process, median over `per_round`.
fn spawn_join(method: StartMethod, per_round: usize, pause: Duration) -> Duration {
    let mut times: Vec<_> = (0..per_round)
        .map(|_| {
            std::thread::sleep(pause);
            let started = Instant::now();
            noop.builder()
                .start_method(method)
                .spawn()
                .unwrap()
                .join()
                .unwrap();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Under each start method: one spawn+join, and a pool of `cores` workers
/// to its first result (in seconds), with the median of their ratios.
///
/// Each method's pools are timed in turn with its single processes, round
/// by round, so that both are timed in the same state of the machine and
/// of this process (which forks slower once it has run threads); Fork
/// first: a program that only forks has no fork server's thread when it
/// forks.
fn pools_beside_spawns(cores: usize, pause: Duration) -> Vec<(StartMethod, Duration, f64, f64)> {
    [
        (StartMethod::Fork, 40),
        (StartMethod::ForkServer, 40),
        (StartMethod::Spawn, 20),
    ]
    .into_iter()
    .map(|(method, per_round)| {
        let rounds: Vec<_> = (0..5)
            .map(|_| {
                (
                    spawn_join(method, per_round, pause),
                    pool_to_first_result(method, cores, 3, pause),
                )
            })
            .collect();
        let one = common::median(rounds.iter().map(|r| r.0.as_secs_f64()).collect());
        let pool = common::median(rounds.iter().map(|r| r.1.as_secs_f64()).collect());
        let ratio = common::median(
            rounds
                .iter()
                .map(|r| r.1.as_secs_f64() / r.0.as_secs_f64())
                .collect(),
        );
        (method, Duration::from_secs_f64(one), pool, ratio)
    })
    .collect()
}

/// The rows of [`pools_beside_spawns`] beside Python's, under `load`.
fn report(
    cores: usize,
    load: &str,
    measured: &[(StartMethod, Duration, f64, f64)],
    python: &common::Twin,
) {
    for (method, one, _, _) in measured {
        let name = method.name();
        common::report(
            &format!("spawn+join a no-op process, {name}{load}"),
            *one,
            name,
            python.get(name),
        );
    }
    for (method, _, pool, ratio) in measured {
        let name = method.name();
        let python_pool = python.get(&format!("pool_{name}"));
        println!(
            "| Pool of {cores} to its first apply result, {name}{load} (goal: at most 1.5x one spawn+join) | {:.2} ms ({ratio:.2}x one spawn+join, timed in turn) | Python {name}: {:.2} ms | {:.1}x |",
            pool * 1e3,
            python_pool * 1e3,
            python_pool / pool,
        );
    }
}

fn main() {
    let exe = std::env::current_exe().unwrap();
    let bare_exec = common::median_of_rounds(5, 100, || {
        Command::new(&exe).env(BARE, "1").status().unwrap();
    });
    let bare_fork = common::median_of_rounds(5, 200, || {
        // SAFETY: the child only calls `_exit`.
        match unsafe { libc::fork() } {
            0 => unsafe { libc::_exit(0) },
            pid => unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            },
        }
    });
    let cores = multiproc::cpu_count();
    let idle = pools_beside_spawns(cores, Duration::ZERO);
    let python = common::Twin::run("spawn.py");
    common::header("Python / multiproc");
    report(cores, "", &idle, &python);
    // The same with twice as many CPU-bound processes as cores beside them,
    // each start after a pause.
    let busy = 2 * cores;
    let (loaded, python_loaded) = {
        let _hogs = common::Hogs::start(busy);
        std::thread::sleep(Duration::from_millis(200));
        (
            pools_beside_spawns(cores, BUSY_PAUSE),
            common::Twin::run_with("spawn.py", &[&BUSY_PAUSE.as_secs_f64().to_string()]),
        )
    };
    let load = format!(", {busy} CPU-bound processes on {cores} cores");
    report(cores, &load, &loaded, &python_loaded);
    let [(_, fork, ..), _, (_, spawn, ..)] = idle[..] else {
        unreachable!("three methods")
    };
    println!(
        "\nfloors: exec+wait of this executable doing nothing = {:.0} µs (spawn adds {:.0} µs); \
         fork+_exit+wait = {:.0} µs (fork adds {:.0} µs)",
        bare_exec.as_secs_f64() * 1e6,
        (spawn.as_secs_f64() - bare_exec.as_secs_f64()) * 1e6,
        bare_fork.as_secs_f64() * 1e6,
        (fork.as_secs_f64() - bare_fork.as_secs_f64()) * 1e6,
    );
}
