//! The one place where the runtime calls the operating system, sockets
//! aside (those are `wire`'s): shared files, waits on shared words, the
//! process table, process control. It uses nothing else of the crate.
//!
//! Two backends: Linux (memfd, futex, procfs, `prctl`, `clone`, `gettid`),
//! and the portable one, `cfg(portable)` (`runtime/build.rs`): on macOS,
//! and on Linux when built with `MULTIPROC_PORTABLE=1` set, so that its calls
//! run through the whole suite here too. The portable backend uses what
//! macOS has: POSIX shared memory, `/dev/fd`, no parent-death signal and no
//! sibling fork ([`process::PARENT_DEATH_SIGNAL`] and
//! [`process::can_fork_siblings`] say so). The few calls only macOS has (its waits
//! on shared words, `proc_pidinfo`) sit behind the same functions, under
//! `target_os = "macos"`. Each function says what it stands for, not how a
//! system does it; `lib.rs` refuses other systems at compile time with one
//! message.

pub(crate) mod futex;
pub(crate) mod memfd;
pub(crate) mod named;
pub(crate) mod procfs;
pub(crate) mod process;

#[cfg(test)]
pub(crate) mod tests;
