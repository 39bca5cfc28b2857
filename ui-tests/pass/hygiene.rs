//! The generated code uses absolute paths only, so local `core`, `std`,
//! `serde` and `linkme` modules cannot break it.
#![allow(dead_code)]

mod core {}
mod std {}
mod serde {}
mod linkme {}

#[multiproc::process]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {
    ::std::assert_eq!(add.spawn(2, 3).unwrap().join().unwrap(), 5);
}
