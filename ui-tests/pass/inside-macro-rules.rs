//! Functions written by a `macro_rules!` macro can be annotated too.

macro_rules! make_task {
    ($name:ident, $t:ty) => {
        #[multiproc::pool_task]
        fn $name(x: $t) -> $t {
            x + 1
        }
    };
}

make_task!(bump, u32);

fn main() {
    assert_eq!(bump(1), 2);
    assert_eq!(bump.spawn(41).unwrap().join().unwrap(), 42);
    let pool = multiproc::Pool::new(1).unwrap();
    assert_eq!(pool.map(bump, [1u32, 2]).unwrap(), [2, 3]);
}
