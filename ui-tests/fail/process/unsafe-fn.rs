use multiproc::process;

#[process]
unsafe fn poke() {}

fn main() {}
