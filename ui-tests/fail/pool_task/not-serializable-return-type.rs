use multiproc::pool_task;

struct Report;

#[pool_task]
fn run() -> Report {
    Report
}

fn main() {}
