#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter {
    n: i64,
}

#[multiproc::managed]
impl Counter {
    pub fn into_inner(self) -> i64 {
        self.n
    }
}

fn main() {}
