use multiproc::process;

#[process]
fn count(text: &str) -> usize {
    text.len()
}

fn main() {}
