use multiproc::pool_task;

#[pool_task(key)]
fn work() {}

fn main() {}
