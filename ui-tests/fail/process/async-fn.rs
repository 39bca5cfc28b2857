use multiproc::process;

#[process]
async fn fetch() -> u32 {
    1
}

fn main() {}
