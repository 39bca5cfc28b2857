use multiproc::process;

#[process(key)]
fn work() {}

fn main() {}
