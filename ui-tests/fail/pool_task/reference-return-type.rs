use multiproc::pool_task;

#[pool_task]
fn name() -> &'static str {
    "name"
}

fn main() {}
