#![deny(missing_docs)]
//! # multiproc
//!
//! Python's `multiprocessing`, done right, for Rust: mark an ordinary function
//! with [`#[process]`](process) and run it in a separate OS process, with its
//! return value, panic or exit status coming back as a typed value.
//!
//! ```
//! use multiproc::{process, Process};
//!
//! #[process]
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! # fn main() -> Result<(), multiproc::Error> {
//! let p: Process<i64> = add.spawn(2, 3)?;
//! assert_eq!(p.join()?, 5);
//! # Ok(())
//! # }
//! ```
//!
//! A child is this same executable started again. Before `main` runs, a
//! constructor notices that it is a child, runs the requested function and
//! exits, so there is no `init()` to call: it works in binaries, examples,
//! `cargo test`, `cargo nextest` and doc tests.
//!
//! # What is here, in the order of Python's documentation
//!
//! - **Processes**: [`#[process]`](process), [`Process`], [`ProcessBuilder`],
//!   [`current_process`], [`parent_process`], [`active_children`], [`cpu_count`].
//! - **Start methods**: [`StartMethod`] (`Spawn`, the default; `Fork`;
//!   `ForkServer`), [`set_start_method`], [`get_start_method`], or per
//!   process and pool with `start_method(..)` on their builders.
//! - **Exchanging objects**: [`Queue`], [`JoinableQueue`] (shared memory, many
//!   producers and consumers); [`pipe`], [`pipe_oneway`], [`Connection`],
//!   [`wait`]; [`Fd`] to pass an open file or socket.
//! - **Synchronization**: [`Lock`], [`RLock`], [`Semaphore`],
//!   [`BoundedSemaphore`], [`Event`], [`Condition`], [`Barrier`]. A lock whose
//!   holder died is taken over and says so, instead of deadlocking.
//! - **Shared state**: [`Value`], [`Array`], [`RawValue`], [`RawArray`],
//!   [`SharedMemory`]; a [`Manager`] process holding [`DictProxy`],
//!   [`ListProxy`], [`ValueProxy`], [`NamespaceProxy`], sync objects,
//!   [`QueueProxy`] and your own types ([`#[managed]`](managed)), locally or
//!   over TCP.
//! - **Pools**: [`#[pool_task]`](pool_task), [`Pool`], [`AsyncResult`], [`IMap`].
//!
//! Every handle and proxy above is an ordinary argument of a `#[process]` or
//! `#[pool_task]` function; its descriptor travels with the call.
//!
//! Errors are one type, [`Error`]. See the README for the mapping from every
//! Python name, and for the differences from Python.

// Lets the macros' `::multiproc::...` paths resolve inside this crate too.
extern crate self as multiproc;

pub use multiproc_runtime::*;

/// Registers a function so that it can run in a child process.
///
/// The function stays callable as before, and gains `spawn(args..)` and
/// `builder()`. Its parameters and return type must be owned types that
/// implement `serde::Serialize` and `serde::de::DeserializeOwned`.
///
/// Arguments: `key = "..."` sets the registration key (default: module path
/// and function name); `crate = path` names the multiproc crate if renamed.
///
/// # Examples
///
/// ```
/// use multiproc::process;
///
/// #[process]
/// fn shout(s: String) -> String {
///     s.to_uppercase()
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// assert_eq!(shout.spawn("hi".to_string())?.join()?, "HI");
/// assert_eq!(shout("hi".to_string()), "HI");
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Process(target=shout, args=("hi",))`.
pub use multiproc_macros::process;

/// Registers a function so that a pool's worker processes can run it.
///
/// Takes the same arguments and has the same rules as [`process`](macro@process);
/// the function can also be spawned on its own.
///
/// # Examples
///
/// ```
/// use multiproc::pool_task;
///
/// #[pool_task]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// assert_eq!(square.spawn(7)?.join()?, 49);
/// # Ok(())
/// # }
/// ```
///
/// Python: a module-level function passed to `Pool.map`.
pub use multiproc_macros::pool_task;

/// Registers a type so that its values can live in a [`Manager`] and its
/// methods run there, called through a generated `<Type>Proxy`.
///
/// On an inherent `impl` block: every `pub fn` taking `&self` or `&mut self`
/// becomes a method of the proxy with the same parameters, returning
/// `multiproc::Result` of the method's value. The type itself must be
/// `Serialize + Deserialize + Send + 'static`; arguments and values must be
/// serializable, as for `#[process]`. The proxy is `pub`, and, like every
/// proxy, is an ordinary argument of `#[process]` and `#[pool_task]` functions.
///
/// # Examples
///
/// ```
/// use multiproc::process;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// pub struct Counter {
///     n: i64,
/// }
///
/// #[multiproc::managed]
/// impl Counter {
///     /// Adds `by`; the new count.
///     pub fn add(&mut self, by: i64) -> i64 {
///         self.n += by;
///         self.n
///     }
///
///     pub fn get(&self) -> i64 {
///         self.n
///     }
/// }
///
/// #[process]
/// fn bump(counter: CounterProxy) -> i64 {
///     counter.add(1).expect("the manager is running")
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let manager = multiproc::Manager::start()?;
/// let counter = manager.create(Counter { n: 0 })?;
/// let children: Vec<_> = (0..3).map(|_| bump.spawn(counter.clone())).collect::<Result<_, _>>()?;
/// for child in children {
///     child.join()?;
/// }
/// assert_eq!(counter.get()?, 3);
/// # Ok(())
/// # }
/// ```
///
/// Python: `class MyManager(BaseManager): pass; MyManager.register("Counter", Counter)`.
pub use multiproc_macros::managed;

#[cfg(test)]
mod tests {
    use crate::process;

    #[process]
    fn double(x: i32) -> i32 {
        x * 2
    }

    #[test]
    fn a_unit_test_can_spawn_an_annotated_function() {
        assert_eq!(double.spawn(21).unwrap().join().unwrap(), 42);
    }
}

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
