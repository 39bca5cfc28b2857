use multiproc::pool_task;

#[pool_task]
async fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
