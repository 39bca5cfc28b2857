//! The shapes of function the attributes accept.

use multiproc::{pool_task, process};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

/// Doc comments stay on the function.
#[process]
pub fn unit() {}

#[process]
fn with_pattern((a, b): (i32, i32), Point { x, y }: Point) -> i32 {
    a + b + x + y
}

#[process]
#[allow(clippy::too_many_arguments)]
fn twelve(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8, i: u8, j: u8, k: u8, l: u8) -> u32 {
    [a, b, c, d, e, f, g, h, i, j, k, l].iter().map(|&v| u32::from(v)).sum()
}

#[process(key = "custom::key")]
fn keyed() -> Option<Point> {
    Some(Point { x: 1, y: 2 })
}

#[pool_task]
fn recursive(n: u64) -> u64 {
    if n == 0 { 0 } else { n + recursive(n - 1) }
}

mod renamed {
    extern crate multiproc as mp;

    #[mp::process(crate = ::multiproc)]
    pub fn double(x: i64) -> i64 {
        x * 2
    }
}

fn main() {
    unit.spawn().unwrap().join().unwrap();
    let point = Point { x: 3, y: 4 };
    assert_eq!(with_pattern.spawn((1, 2), point).unwrap().join().unwrap(), 10);
    assert_eq!(twelve.spawn(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1).unwrap().join().unwrap(), 12);
    assert_eq!(keyed.key(), "custom::key");
    assert_eq!(keyed.spawn().unwrap().join().unwrap(), Some(Point { x: 1, y: 2 }));
    assert_eq!(recursive(3), 6);
    assert_eq!(recursive.spawn(4).unwrap().join().unwrap(), 10);
    assert_eq!(renamed::double.spawn(21).unwrap().join().unwrap(), 42);
}
