#[derive(serde::Serialize, serde::Deserialize)]
pub struct Cell<T> {
    value: T,
}

#[multiproc::managed]
impl Cell<u8> {
    pub fn get(&self) -> u8 {
        self.value
    }
}

fn main() {}
