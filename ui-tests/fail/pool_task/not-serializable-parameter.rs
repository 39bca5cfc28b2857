use multiproc::pool_task;

struct Config {
    threads: u32,
}

#[pool_task]
fn run(config: Config) -> u32 {
    config.threads
}

fn main() {}
