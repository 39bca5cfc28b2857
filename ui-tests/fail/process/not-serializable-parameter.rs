use multiproc::process;

struct Config {
    threads: u32,
}

#[process]
fn run(config: Config) -> u32 {
    config.threads
}

fn main() {}
