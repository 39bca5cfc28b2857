use multiproc::Pool;

fn main() {
    let pool = Pool::new(2).unwrap();
    let offset = 10;
    let _ = pool.map(|x: u64| x + offset, 0..4u64);
}
