use multiproc::process;

struct Report;

#[process]
fn run() -> Report {
    Report
}

fn main() {}
