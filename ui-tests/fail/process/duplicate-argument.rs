use multiproc::process;

#[process(key = "a", key = "b")]
fn work() {}

fn main() {}
