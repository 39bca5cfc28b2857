//! A child's start, exit and crash, told through the `log` facade.

use std::sync::Mutex;

use multiproc::process;

/// Every record logged in this test program.
static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = (record.level(), record.args().to_string());
        RECORDS.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}

fn capture() {
    static LOGGER: Capture = Capture;
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
}

/// The records that mention `name`.
fn records_of(name: &str) -> Vec<(log::Level, String)> {
    let records = RECORDS.lock().unwrap();
    records
        .iter()
        .filter(|(_, line)| line.starts_with(name))
        .cloned()
        .collect()
}

#[process]
fn answer() -> u32 {
    42
}

#[process]
fn abort() {
    std::process::abort()
}

#[test]
fn a_child_that_returns_is_logged_starting_and_exiting() {
    capture();
    let child = answer.builder().name("logged-answer").spawn().unwrap();
    let pid = child.pid();
    assert_eq!(child.join().unwrap(), 42);
    assert_eq!(
        records_of("logged-answer"),
        [
            (
                log::Level::Debug,
                format!("logged-answer started (pid {pid})")
            ),
            (
                log::Level::Debug,
                "logged-answer exited with code 0".to_string()
            ),
        ]
    );
}

#[test]
fn a_child_that_crashes_is_logged_as_a_warning() {
    capture();
    let child = abort.builder().name("logged-abort").spawn().unwrap();
    assert!(child.join().is_err());
    let records = records_of("logged-abort");
    assert_eq!(
        records.last(),
        Some(&(
            log::Level::Warn,
            "logged-abort killed by signal 6 (SIGABRT)".to_string()
        )),
        "{records:?}"
    );
}
