use multiproc::pool_task;

#[pool_task]
fn shorten<'a>(text: String) -> usize {
    text.len()
}

fn main() {}
