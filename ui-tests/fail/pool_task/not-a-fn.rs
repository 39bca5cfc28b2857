use multiproc::pool_task;

#[pool_task]
const LIMIT: u32 = 3;

fn main() {}
