#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter {
    n: i64,
}

#[multiproc::managed]
impl Counter {
    pub fn add_from(&mut self, other: &Counter) {
        self.n += other.n;
    }
}

fn main() {}
