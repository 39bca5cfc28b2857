#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter {
    n: i64,
}

#[multiproc::managed]
impl Counter {
    pub fn add<T: Into<i64>>(&mut self, by: T) {
        self.n += by.into();
    }
}

fn main() {}
