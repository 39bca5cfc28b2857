//! Twin of seed 001-04 (`seeds/001_185cbd479786a44e.txt`, lines 64-69):
//! launching an external program and waiting for it to end.
//!
//! ```python
//! import subprocess
//!
//! # Запустить внешнюю программу
//! subprocess.call(['python', 'external_program.py'])
//! ```
//!
//! Differences: this is not multiprocessing's job in either language: the
//! seed uses `subprocess`, and Rust's `std::process::Command` does the same.
//! multiproc's children run a `#[process]` function of this very executable;
//! another program is started with `Command`. The seed's
//! `external_program.py` does not exist, and `python` may not be installed,
//! so the external program here is `echo`, present on every Unix system.
//! `subprocess.call(args)` is `Command::new(args[0]).args(&args[1..]).status()`:
//! both look the program up in `PATH`, let it inherit stdin, stdout and
//! stderr, wait for it and give back how it ended. Python returns an `int`
//! (the exit code, or minus the signal that killed it); Rust returns an
//! `ExitStatus`, whose `code()` is `None` when a signal ended the program
//! (`ExitStatusExt::signal()` then says which). A program that cannot be
//! started is an `Err` here, where Python raises `FileNotFoundError`. The
//! second call runs `false`, which prints nothing and exits with code 1, to
//! show a failure being reported rather than raised, as with `call`.
//!
//! Output:
//!
//! ```text
//! Привет от внешней программы
//! Код возврата echo: 0
//! Код возврата false: 1
//! ```

use std::process::Command;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Запустить внешнюю программу и дождаться её завершения
    let status = Command::new("echo")
        .arg("Привет от внешней программы")
        .status()?;
    println!("Код возврата echo: {}", exit_code(status));

    let status = Command::new("false").status()?;
    println!("Код возврата false: {}", exit_code(status));
    Ok(())
}

/// What `subprocess.call` returns: the exit code, or minus the signal that
/// ended the program.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|signal| -signal))
        .expect("a waited-for program either exited or was killed by a signal")
}
