use multiproc::process;

#[process(timeout = 3)]
fn work() {}

fn main() {}
