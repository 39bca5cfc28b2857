//! The optional progress bar (`--features progress`).
#![cfg(feature = "progress")]

use multiproc::{Pool, pool_task};

#[pool_task]
fn square(x: u64) -> u64 {
    x * x
}

#[test]
fn maps_with_a_progress_bar_return_the_same_values() {
    let pool = Pool::builder().processes(2).progress(true).build().unwrap();
    let expected: Vec<u64> = (0..5000).map(|x| x * x).collect();
    assert_eq!(pool.map(square, 0..5000u64).unwrap(), expected);
    assert_eq!(pool.map_chunked(square, 0..5000u64, 7).unwrap(), expected);
    assert_eq!(
        pool.starmap_async(square, (0..10u64).map(|x| (x,)))
            .unwrap()
            .get()
            .unwrap()[9],
        81
    );
}
