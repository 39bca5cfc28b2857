//! Chooses the system backend. `cfg(portable)` selects the calls that
//! macOS has too (`shm_open` segments, `/dev/fd`, a lifeline thread, no
//! `CLONE_PARENT`); it is set on macOS, and on Linux when the environment
//! holds `MULTIPROC_PORTABLE=1` at build time, so that the whole suite runs
//! through those calls here as well.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(portable)");
    println!("cargo::rerun-if-env-changed=MULTIPROC_PORTABLE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if !linux || std::env::var("MULTIPROC_PORTABLE").is_ok_and(|v| v == "1") {
        println!("cargo::rustc-cfg=portable");
    }
}
