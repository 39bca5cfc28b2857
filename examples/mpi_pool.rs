//! Outgrowing one machine: the same `#[pool_task]` functions and `Pool`
//! methods, with the workers on the ranks of an MPI job.
//!
//! ```sh
//! cargo build --release --features mpi --example mpi_pool
//! mpirun -n 3 target/release/examples/mpi_pool          # rank 0 + 2 workers
//! mpirun -n 5 --host a,b target/release/examples/mpi_pool  # across two hosts
//! ```
//!
//! Python: the same program with `mpi4py.futures.MPIPoolExecutor` instead of
//! `multiprocessing.Pool`, started by `mpiexec -n 3 python -m mpi4py.futures`.
//!
//! With the argument `crash`, one task aborts its rank: Open MPI cannot
//! replace a rank, so the whole job ends with `mpirun`'s error (never a hang).
//!
//! Output: the squares of 0..10, the countdown totals, the worker ranks seen,
//! and a panicking task reported as an error while the pool goes on.

use multiproc::{Error, Pool, pool_task};

#[pool_task]
fn square(x: u64) -> u64 {
    x * x
}

/// The countdown of seed 001: a CPU-bound loop.
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

/// The worker's name and its network namespace, which tells hosts apart
/// even when they are namespaces of one machine (see `.ci/mpi-two-hosts`).
#[pool_task]
fn worker_name(_: u32) -> String {
    let net = std::fs::read_link("/proc/self/ns/net")
        .map(|link| link.display().to_string())
        .unwrap_or_default();
    format!("{} in {net}", multiproc::current_process().name())
}

#[pool_task]
fn checked(x: u64) -> u64 {
    if x == 3 {
        panic!("three is not allowed");
    }
    if x == 99 {
        std::process::abort();
    }
    x
}

fn main() -> Result<(), Error> {
    let pool = Pool::mpi()?;
    println!("{} worker ranks", pool.processes());
    println!("squares: {:?}", pool.map(square, 0..10u64)?);
    println!("countdowns: {:?}", pool.map(countdown, [10_000_000u64; 4])?);
    let mut names = pool.map_chunked(worker_name, 0..100u32, 1)?;
    names.sort();
    names.dedup();
    println!("ran on: {}", names.join(", "));
    for result in pool.imap(checked, 0..5u64)? {
        match result {
            Ok(x) => println!("checked {x}"),
            Err(e) => println!("error: {e}"),
        }
    }
    if std::env::args().any(|a| a == "crash") {
        println!("aborting a worker rank");
        pool.apply(checked, (99,))?;
    }
    Ok(())
}
