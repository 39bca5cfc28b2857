// A shared value's data starts where its page-aligned segment lets it: an
// alignment beyond a page cannot be honoured, so it is refused when compiled.
#[derive(Clone, Copy)]
#[repr(C, align(8192))]
struct Huge([u8; 8192]);

unsafe impl bytemuck::Zeroable for Huge {}
unsafe impl bytemuck::Pod for Huge {}

fn main() {
    let _ = multiproc::RawValue::new(Huge([0; 8192]));
}
