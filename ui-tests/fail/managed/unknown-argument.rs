#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter {
    n: i64,
}

#[multiproc::managed(name = "counter")]
impl Counter {
    pub fn get(&self) -> i64 {
        self.n
    }
}

fn main() {}
