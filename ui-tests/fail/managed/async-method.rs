#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter {
    n: i64,
}

#[multiproc::managed]
impl Counter {
    pub async fn get(&self) -> i64 {
        self.n
    }
}

fn main() {}
