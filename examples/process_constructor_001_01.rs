//! Twin of seed 001-01 (`seeds/001_185cbd479786a44e.txt`, lines 8-10):
//! the parameters of Python's `Process` constructor.
//!
//! ```python
//! class multiprocessing.Process(group=None, target=None, name=None, args=(), kwargs={}, *, daemon=None)
//! ```
//!
//! The seed shows only the signature; this example uses each parameter once.
//! Where each one goes in multiproc:
//!
//! - `group`: nothing. Python keeps it only to match `threading.Thread` and
//!   asserts that it is `None`.
//! - `target`: the `#[process]` function you call `spawn` or `builder` on.
//!   There is no `Process` without a target (Python's default `run()` does
//!   nothing).
//! - `args`: the arguments of `spawn(..)`, typed and checked by the compiler.
//! - `kwargs`: Rust has no keyword arguments, so they become ordinary typed
//!   parameters too (below, `punctuation`). For many named options, pass one
//!   struct that derives `Serialize` and `Deserialize`.
//! - `name`: `builder().name(..)`; without it the child is `Process-N`, as in
//!   Python.
//! - `daemon`: `builder().daemon(true)`. Python's `daemon=None` copies the
//!   flag of the process that creates the child; multiproc's default is
//!   simply `false`. A daemon is terminated when its handle is dropped instead
//!   of being waited for; here both children are joined, so both finish.
//!
//! Output:
//!
//! ```text
//! Привет! (говорит Process-1)
//! p.name = Process-1, p.daemon = false
//! Здравствуй! (говорит greeter)
//! p.name = greeter, p.daemon = true
//! ```

use multiproc::process;

#[process]
fn greet(greeting: String, punctuation: String) {
    let me = multiproc::current_process();
    println!("{greeting}{punctuation} (говорит {})", me.name());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Python: Process(target=greet, args=("Привет",), kwargs={"punctuation": "!"})
    let p = greet.spawn("Привет".to_string(), "!".to_string())?;
    let (name, daemon) = (p.name().to_string(), p.daemon());
    p.join()?;
    println!("p.name = {name}, p.daemon = {daemon}");

    // Python: Process(group=None, target=greet, name="greeter",
    //                 args=("Здравствуй",), kwargs={"punctuation": "!"}, daemon=True)
    let p = greet
        .builder()
        .name("greeter")
        .daemon(true)
        .spawn("Здравствуй".to_string(), "!".to_string())?;
    let (name, daemon) = (p.name().to_string(), p.daemon());
    p.join()?;
    println!("p.name = {name}, p.daemon = {daemon}");
    Ok(())
}
