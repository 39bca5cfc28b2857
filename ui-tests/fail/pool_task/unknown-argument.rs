use multiproc::pool_task;

#[pool_task(chunksize = 4)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
