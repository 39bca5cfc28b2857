//! Twin of the prose section "Сигналы (signals)" of seed 001
//! (`seeds/001_185cbd479786a44e.txt`, lines 187-189), which has no code (seed
//! 003 names signals too, line 16: "Обработка сигналов позволяет вам
//! управлять процессами"):
//!
//! > Сигналы в Unix-подобных операционных системах используются для
//! > уведомления процессов о различных событиях. Python предоставляет
//! > возможность обработки сигналов с помощью модуля signal. Вы можете
//! > установить обработчик сигнала для перехвата определенных сигналов, таких
//! > как SIGINT (сигнал прерывания) или SIGTERM (сигнал завершения процесса),
//! > и выполнить определенные действия в ответ на них.
//!
//! The Python it mirrors: a worker that stops cleanly on SIGTERM or SIGINT,
//! and one that does not handle them.
//!
//! ```python
//! import os, signal, time
//! from multiprocessing import Event, Process
//!
//! stop = None
//!
//! def on_stop(signum, frame):
//!     global stop
//!     stop = signum
//!
//! def graceful_worker(ready, pid_file):
//!     signal.signal(signal.SIGTERM, on_stop)
//!     signal.signal(signal.SIGINT, on_stop)
//!     with open(pid_file, 'w') as f:
//!         f.write(str(os.getpid()))
//!     try:
//!         ready.set()
//!         while stop is None:
//!             time.sleep(0.01)            # a unit of work
//!         return f'получен {signal.Signals(stop).name}: ...'  # lost
//!     finally:
//!         os.remove(pid_file)
//!
//! def naive_worker(ready, pid_file):
//!     ...                                 # the same without signal.signal
//!
//! if __name__ == '__main__':
//!     ready = Event()
//!     p = Process(target=graceful_worker, args=(ready, 'worker.pid'))
//!     p.start()
//!     ready.wait()                        # the handler is in place
//!     p.terminate()                       # or os.kill(p.pid, signal.SIGINT)
//!     p.join()
//!     print(p.exitcode, os.path.exists('worker.pid'))   # 0 False
//! ```
//!
//! Differences: Python runs a handler later, in the main thread, between
//! two bytecodes, so it may do anything. A Rust handler (like a C one) runs
//! at once, on whichever thread the signal interrupts, and may only do
//! async-signal-safe things; here it stores the signal number in a static
//! atomic, which the work loop checks. It is installed with `libc::sigaction`
//! (the `signal-hook` crate wraps this in real programs). The child's
//! return value, which Python's `Process` discards, comes back from `join()`.
//! The file stands for any cleanup: a guard's `Drop` removes it, as Python's
//! `finally` does. A child without a handler dies of the signal at once, as
//! in Python: no `finally`, no destructors, so the file stays behind, and
//! the parent gets `Error::Signaled { signal: 15, .. }` and `exitcode()`
//! `Some(-15)`, Python's `p.exitcode == -15`. Unhandled SIGINT kills a Rust
//! child too (-2), where a Python child raises `KeyboardInterrupt` and exits
//! with 1. Ctrl-C in a terminal sends SIGINT to the whole foreground process
//! group: the parent and all its children. Each child sets an [`Event`]
//! once its handler is in place, so the parent never signals too early.
//!
//! Output:
//!
//! ```text
//! == SIGTERM, с обработчиком
//! join(): Ok("получен SIGTERM: текущая задача закончена, файл удалён")
//! exitcode = Some(0), файл остался: false
//! == SIGINT, с обработчиком
//! join(): Ok("получен SIGINT: текущая задача закончена, файл удалён")
//! exitcode = Some(0), файл остался: false
//! == SIGTERM, без обработчика
//! join(): Err(Error::Signaled { signal: 15 }): процесс убит сигналом SIGTERM
//! exitcode = Some(-15), файл остался: true
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use multiproc::{Error, Event, Process, process};

/// `main`'s result: any error, reported by the runtime on exit.
type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The signal that asked this process to stop; 0 until one arrives.
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Runs inside the signal: only an atomic store, which is async-signal-safe.
extern "C" fn on_stop(signal: libc::c_int) {
    STOP_SIGNAL.store(signal, Ordering::SeqCst);
}

/// Python's `signal.signal(signal, on_stop)`.
fn install_stop_handler(signal: libc::c_int) -> std::io::Result<()> {
    // SAFETY: `action` is fully initialized (zeroed, then an empty mask) and
    // `on_stop` only does an atomic store.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "другой сигнал",
    }
}

/// A file that exists while the worker runs: its `Drop` is the cleanup.
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: String) -> PidFile {
        std::fs::write(&path, std::process::id().to_string()).expect("the pid file can be written");
        PidFile(path.into())
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Works until SIGTERM or SIGINT, then finishes its unit, cleans up and returns.
#[process]
fn graceful_worker(ready: Event, pid_file: String) -> String {
    install_stop_handler(libc::SIGTERM).expect("a SIGTERM handler can be installed");
    install_stop_handler(libc::SIGINT).expect("a SIGINT handler can be installed");
    let _pid_file = PidFile::create(pid_file);
    ready.set();
    let mut signal = 0;
    while signal == 0 {
        std::thread::sleep(Duration::from_millis(10)); // a unit of work
        signal = STOP_SIGNAL.load(Ordering::SeqCst);
    }
    format!(
        "получен {}: текущая задача закончена, файл удалён",
        signal_name(signal)
    )
}

/// The same work without a handler: a signal ends it where it stands.
#[process]
fn naive_worker(ready: Event, pid_file: String) -> String {
    let _pid_file = PidFile::create(pid_file);
    ready.set();
    loop {
        std::thread::sleep(Duration::from_millis(10)); // a unit of work
    }
}

/// Starts a worker, waits until it is ready, signals it, and reports the outcome.
fn run(
    title: &str,
    worker: fn(Event, String) -> multiproc::Result<Process<String>>,
    send: fn(&Process<String>) -> BoxResult<()>,
) -> BoxResult<()> {
    println!("== {title}");
    let pid_file =
        std::env::temp_dir().join(format!("multiproc-signals-{}.pid", std::process::id()));
    let ready = Event::new()?;
    let mut p = worker(ready.clone(), pid_file.display().to_string())?;
    if !ready.wait_timeout(Duration::from_secs(30)) {
        return Err("the worker did not get ready within 30 s".into());
    }
    send(&p)?;
    match p.join_timeout(Duration::from_secs(30)) {
        Ok(Some(value)) => println!("join(): Ok({value:?})"),
        Ok(None) => return Err("the worker did not stop within 30 s".into()),
        Err(Error::Signaled { signal, .. }) => println!(
            "join(): Err(Error::Signaled {{ signal: {signal} }}): процесс убит сигналом {}",
            signal_name(signal)
        ),
        Err(e) => return Err(e.into()),
    }
    println!(
        "exitcode = {:?}, файл остался: {}",
        p.exitcode(),
        pid_file.exists()
    );
    let _ = std::fs::remove_file(&pid_file);
    Ok(())
}

fn main() -> BoxResult<()> {
    run(
        "SIGTERM, с обработчиком",
        |ready, file| graceful_worker.spawn(ready, file),
        |p| Ok(p.terminate()?),
    )?;
    run(
        "SIGINT, с обработчиком",
        |ready, file| graceful_worker.spawn(ready, file),
        // Python's `os.kill(p.pid, signal.SIGINT)`.
        |p| {
            let pid = libc::pid_t::try_from(p.pid()).expect("a pid fits in pid_t");
            // SAFETY: kill has no memory-safety preconditions.
            if unsafe { libc::kill(pid, libc::SIGINT) } != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            Ok(())
        },
    )?;
    run(
        "SIGTERM, без обработчика",
        |ready, file| naive_worker.spawn(ready, file),
        |p| Ok(p.terminate()?),
    )?;
    Ok(())
}
