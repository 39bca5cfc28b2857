use multiproc::Pool;

fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let pool = Pool::new(2).unwrap();
    let _ = pool.apply(square, (3,));
}
