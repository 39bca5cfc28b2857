#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter {
    n: i64,
}

#[multiproc::managed]
impl Counter {
    fn add(&mut self, by: i64) {
        self.n += by;
    }

    pub fn new() -> Counter {
        Counter { n: 0 }
    }
}

fn main() {}
