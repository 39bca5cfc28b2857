fn main() -> Result<(), multiproc::Error> {
    let _pool = multiproc::Pool::builder().progress(true).build()?;
    Ok(())
}
