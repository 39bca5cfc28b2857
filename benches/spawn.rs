//! Spawn and join of a no-op process, next to Python's start methods and to
//! the floor: a bare exec-and-wait of this same executable.
//! Run with `cargo bench --bench spawn`.

mod common;

use std::process::Command;

use multiproc::process;

#[process]
fn noop() {}

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
    let bare = common::median_of_rounds(5, 100, || {
        Command::new(&exe).env(BARE, "1").status().unwrap();
    });
    let ours = common::median_of_rounds(5, 100, || noop.spawn().unwrap().join().unwrap());
    let python = common::python_twin("spawn.py", &[]);
    common::header("Python / multiproc");
    for (method, secs) in &python {
        common::report("spawn+join a no-op process", ours, method, *secs);
    }
    println!(
        "\nfloor: exec+wait of this executable doing nothing = {:.0} µs; multiproc adds {:.0} µs",
        bare.as_secs_f64() * 1e6,
        (ours.as_secs_f64() - bare.as_secs_f64()) * 1e6
    );
}
