use multiproc::process;

#[process]
fn name() -> &'static str {
    "name"
}

fn main() {}
