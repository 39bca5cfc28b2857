use multiproc::process;

#[process]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = add.spawn(2, 3)?;
    println!("{} (pid {}) is running", p.name(), p.pid());
    println!("add(2, 3) in a child = {}", p.join()?);
    Ok(())
}
