pub struct Counter {
    n: i64,
}

#[multiproc::managed]
impl Counter {
    pub fn get(&self) -> i64 {
        self.n
    }
}

fn main() {}
