use multiproc::pool_task;

#[pool_task]
fn count(text: &str) -> usize {
    text.len()
}

fn main() {}
