use multiproc::process;

#[process]
struct Worker;

fn main() {}
