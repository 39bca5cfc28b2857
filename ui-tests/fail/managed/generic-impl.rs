#[derive(serde::Serialize, serde::Deserialize)]
pub struct Cell<T> {
    value: T,
}

#[multiproc::managed]
impl<T> Cell<T> {
    pub fn take(&mut self) {}
}

fn main() {}
