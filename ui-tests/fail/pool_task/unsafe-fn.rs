use multiproc::pool_task;

#[pool_task]
unsafe fn poke() {}

fn main() {}
