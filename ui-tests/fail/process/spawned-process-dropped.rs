// A `Process` dropped at once turns the spawn into a blocking call.
#![deny(unused_must_use)]

use multiproc::process;

#[process]
fn work(x: u32) -> u32 {
    x
}

fn main() -> Result<(), multiproc::Error> {
    work.spawn(1)?;
    Ok(())
}
