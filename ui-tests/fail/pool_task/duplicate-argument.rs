use multiproc::pool_task;

#[pool_task(key = "a", key = "b")]
fn work() {}

fn main() {}
