// An `Rc` cannot cross between processes: it would arrive as a copy, no
// longer shared with the values that pointed to the same allocation.
use std::rc::Rc;

use multiproc::process;

#[process]
fn total(values: Vec<Rc<u32>>) -> u32 {
    values.iter().map(|v| **v).sum()
}

fn main() {}
