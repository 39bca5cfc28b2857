use multiproc::process;

#[process]
fn shorten<'a>(text: String) -> usize {
    text.len()
}

fn main() {}
