//! The progress bar (the `progress` feature, on by default).
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

#[test]
fn lazy_maps_with_a_progress_bar_yield_the_same_values() {
    let pool = Pool::builder().processes(2).progress(true).build().unwrap();
    let ordered: Vec<u64> = pool
        .imap(square, 0..500u64)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ordered, (0..500).map(|x| x * x).collect::<Vec<u64>>());
    // An input of unknown length gets a counter instead of a bar.
    let mut any: Vec<u64> = pool
        .imap_unordered(square, (0..500u64).filter(|x| x % 2 == 0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    any.sort_unstable();
    assert_eq!(any.len(), 250);
    assert_eq!(any[249], 498 * 498);
}
