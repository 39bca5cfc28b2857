// An `AsyncResult` dropped at once loses the task's result.
#![deny(unused_must_use)]

use multiproc::{Pool, pool_task};

#[pool_task]
fn square(x: u64) -> u64 {
    x * x
}

fn main() -> Result<(), multiproc::Error> {
    let pool = Pool::new(1)?;
    pool.apply_async(square, (3,))?;
    Ok(())
}
