#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter {
    n: i64,
}

pub struct Opaque;

#[multiproc::managed]
impl Counter {
    pub fn take(&mut self, _value: Opaque) {}
}

fn main() {}
