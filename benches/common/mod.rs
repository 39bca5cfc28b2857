//! Shared by the benchmarks: timing, medians, the Python twin, the report line.

#![allow(dead_code)]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The middle value (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Median of `rounds` medians, each over `per_round` timings of `f`.
pub fn median_of_rounds(rounds: usize, per_round: usize, mut f: impl FnMut()) -> Duration {
    let mut medians: Vec<Duration> = (0..rounds)
        .map(|_| {
            let mut times: Vec<Duration> = (0..per_round)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed()
                })
                .collect();
            times.sort();
            times[times.len() / 2]
        })
        .collect();
    medians.sort();
    medians[medians.len() / 2]
}

/// Runs `benches/python/<script>` and returns its `name seconds` lines.
pub fn python_twin(script: &str, args: &[&str]) -> Vec<(String, f64)> {
    let path = format!("{}/benches/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("could not run python3 {path}: {e}"));
    assert!(
        output.status.success(),
        "{path} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (name, secs) = line.rsplit_once(' ')?;
            Some((name.to_string(), secs.parse().ok()?))
        })
        .collect()
}

/// Python's figures by name, from [`python_twin`]'s lines.
pub struct Twin(Vec<(String, f64)>);

impl Twin {
    /// Runs `benches/python/<script>`.
    pub fn run(script: &str) -> Twin {
        Twin::run_with(script, &[])
    }

    /// Runs `benches/python/<script>` with `args`.
    pub fn run_with(script: &str, args: &[&str]) -> Twin {
        Twin(python_twin(script, args))
    }

    /// The figure the script printed under `name`.
    pub fn get(&self, name: &str) -> f64 {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("the Python twin printed no `{name}`"))
    }
}

/// Prints the header of a results table.
pub fn header(ratio: &str) {
    println!("| benchmark | multiproc | Python | {ratio} |");
    println!("|---|---|---|---|");
}

/// Prints one row: our figure, Python's, and how many times faster we are.
pub fn report(what: &str, ours: Duration, python_name: &str, python_secs: f64) {
    let ours = ours.as_secs_f64();
    println!(
        "| {what} | {} | Python {python_name}: {} | {:.1}x |",
        human(ours),
        human(python_secs),
        python_secs / ours
    );
}

fn human(secs: f64) -> String {
    if secs < 1e-6 {
        format!("{:.1} ns", secs * 1e9)
    } else if secs < 1e-3 {
        format!("{:.1} µs", secs * 1e6)
    } else {
        format!("{:.2} ms", secs * 1e3)
    }
}

/// This process's CPU time so far, in seconds.
pub fn process_cpu() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Processes that only burn CPU, killed on drop.
pub struct Hogs(Vec<Child>);

impl Hogs {
    pub fn start(n: usize) -> Hogs {
        Hogs(
            (0..n)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("could not start a CPU-bound process")
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for hog in &mut self.0 {
            let _ = hog.kill();
            let _ = hog.wait();
        }
    }
}
