//! The one place where the runtime calls the operating system, sockets
//! aside (those are `wire`'s): shared files, waits on shared words, the
//! process table, process control. It uses nothing else of the crate.
//!
//! Linux is the only backend today (memfd, futex, procfs, `prctl`, `clone`,
//! `gettid`). Each function says what it stands for, not how Linux does it,
//! so that another system's backend can sit behind the same names;
//! `lib.rs` refuses other systems at compile time with one message.

pub(crate) mod futex;
pub(crate) mod memfd;
pub(crate) mod named;
pub(crate) mod procfs;
pub(crate) mod process;

#[cfg(test)]
mod tests;
