use multiproc::{Pool, pool_task};

#[pool_task]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn main() {
    let pool = Pool::new(2).unwrap();
    let _ = pool.map(add, vec![(1, 2)]);
}
