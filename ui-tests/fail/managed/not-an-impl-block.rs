#[multiproc::managed]
pub fn add(a: i64) -> i64 {
    a
}

fn main() {}
