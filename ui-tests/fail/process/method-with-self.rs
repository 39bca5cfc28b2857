use multiproc::process;

struct Counter(u32);

impl Counter {
    #[process]
    fn get(self) -> u32 {
        self.0
    }
}

fn main() {}
