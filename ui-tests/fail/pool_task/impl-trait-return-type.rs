use multiproc::pool_task;

#[pool_task]
fn numbers() -> impl Iterator<Item = u32> {
    0..3
}

fn main() {}
