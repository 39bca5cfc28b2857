//! Spawn and join of a no-op process under each start method, next to
//! Python's same method and to the floors: a bare exec-and-wait of this same
//! executable, and a bare fork, `_exit` and wait.
//! Run with `cargo bench --bench spawn`.

mod common;

use std::process::Command;
use std::time::Duration;

use multiproc::{StartMethod, process};

#[process]
fn noop() {}

#[multiproc::pool_task]
fn inc(x: u64) -> u64 {
    x + 1
}

/// Median time, over `times` pools, from starting a pool of `processes`
/// workers to its first `apply` result; the pool's shutdown is not timed.
fn pool_to_first_result(method: StartMethod, processes: usize, times: usize) -> Duration {
    let mut times: Vec<_> = (0..times)
        .map(|_| {
            let started = std::time::Instant::now();
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
    let ours = |method, per_round| {
        common::median_of_rounds(1, per_round, || {
            noop.builder()
                .start_method(method)
                .spawn()
                .unwrap()
                .join()
                .unwrap()
        })
    };
    // Each method's pools in turn with its single processes, round by
    // round, so that both are timed in the same state of the machine and
    // of this process (which forks slower once it has run threads); Fork
    // first: a program that only forks has no fork server's thread when it
    // forks. The ratio is the median of the rounds' ratios.
    let cores = multiproc::cpu_count();
    let pools: Vec<_> = [
        (StartMethod::Fork, 40),
        (StartMethod::ForkServer, 40),
        (StartMethod::Spawn, 20),
    ]
    .into_iter()
    .map(|(method, per_round)| {
        let rounds: Vec<_> = (0..5)
            .map(|_| {
                (
                    ours(method, per_round),
                    pool_to_first_result(method, cores, 3),
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
    .collect();
    let [(_, fork, ..), (_, forkserver, ..), (_, spawn, ..)] = pools[..] else {
        unreachable!("three methods")
    };
    let python = common::Twin::run("spawn.py");
    common::header("Python / multiproc");
    common::report(
        "spawn+join a no-op process, fork",
        fork,
        "fork",
        python.get("fork"),
    );
    common::report(
        "spawn+join a no-op process, forkserver",
        forkserver,
        "forkserver",
        python.get("forkserver"),
    );
    common::report(
        "spawn+join a no-op process, spawn",
        spawn,
        "spawn",
        python.get("spawn"),
    );
    for (method, _, pool, ratio) in pools {
        let name = method.name();
        println!(
            "| Pool of {cores} to its first apply result, {name} (goal: at most 1.5x one spawn+join) | {:.2} ms ({ratio:.2}x one spawn+join, timed in turn) | Python {name}: {:.2} ms | {:.1}x |",
            pool * 1e3,
            python.get(&format!("pool_{name}")) * 1e3,
            python.get(&format!("pool_{name}")) / pool,
        );
    }
    println!(
        "\nfloors: exec+wait of this executable doing nothing = {:.0} µs (spawn adds {:.0} µs); \
         fork+_exit+wait = {:.0} µs (fork adds {:.0} µs)",
        bare_exec.as_secs_f64() * 1e6,
        (spawn.as_secs_f64() - bare_exec.as_secs_f64()) * 1e6,
        bare_fork.as_secs_f64() * 1e6,
        (fork.as_secs_f64() - bare_fork.as_secs_f64()) * 1e6,
    );
}
