#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter {
    n: i64,
}

#[multiproc::managed]
impl Default for Counter {
    fn default() -> Self {
        Counter { n: 0 }
    }
}

fn main() {}
