//! The descriptors of handles in the frame being encoded or decoded: handles
//! that own a descriptor (`Fd`, `Connection`, a large `Bytes`) serialize as an
//! index into the frame's descriptors; [`collect_fds`] gathers them while
//! encoding, [`with_fds`] offers them while decoding.

use std::cell::{Cell, RefCell};
use std::os::fd::{BorrowedFd, OwnedFd};

use serde::Serialize;

use super::*;

thread_local! {
    /// Why the last handle could not be encoded or decoded: postcard keeps
    /// no message of its own.
    pub(super) static HANDLE_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Descriptors handed over by handles being encoded, if an encoding collects them.
    pub(super) static OUTGOING: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    /// Descriptors of handles in the values that calls run here return, when
    /// the frame of their outcomes can carry them ([`collect_returned_fds`]).
    static RETURNED: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    /// Whether a value a call returned is being encoded ([`encode_returned`]).
    pub(super) static RETURNING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The smallest buffer sent beside the frame being encoded, if the
    /// encoding asked for more than a buffer's own threshold; and the bytes
    /// of the buffers sent beside it so far.
    static BESIDE: Cell<(usize, u64)> = const { Cell::new((0, 0)) };
    /// Descriptors received with the frame being decoded, taken by index.
    static INCOMING: RefCell<Option<Vec<Option<Incoming>>>> = const { RefCell::new(None) };
}


/// Buffers sent beside one frame at most; more go inline, so that a frame
/// of many buffers does not bring its receiver near the usual limit of 1024
/// open descriptors.
pub(super) const MAX_BESIDE: usize = 64;

/// A thread-local set to a value for a while: the value it held before is
/// put back when this is dropped, even by a panic unwinding through an
/// encoding (which `catch_unwind` in a worker survives).
struct Scoped<T: 'static> {
    key: &'static std::thread::LocalKey<RefCell<T>>,
    outer: Option<T>,
}

impl<T> Scoped<T> {
    fn set(key: &'static std::thread::LocalKey<RefCell<T>>, value: T) -> Scoped<T> {
        let outer = key.with(|k| k.replace(value));
        Scoped {
            key,
            outer: Some(outer),
        }
    }

    /// Ends the scope: what the thread-local held, before the outer value returns.
    fn end(mut self) -> T {
        let outer = self.outer.take().expect("a scope ends once");
        self.key.with(|k| k.replace(outer))
    }
}

impl<T> Drop for Scoped<T> {
    fn drop(&mut self) {
        if let Some(outer) = self.outer.take() {
            self.key.with(|k| k.replace(outer));
        }
    }
}

/// Sets up this thread's handle state now. A child forked from this thread
/// then finds it set up: registering it there would cost an allocation and
/// a dynamic-linker lookup, each a copy-on-write page fault.
pub(crate) fn prepare_for_fork() {
    HANDLE_ERROR.with(|_| ());
    OUTGOING.with(|_| ());
    RETURNED.with(|_| ());
    BESIDE.with(|_| ());
    INCOMING.with(|_| ());
}

/// Runs `encode`, collecting (duplicates of) the descriptors that handles export.
pub(crate) fn collect_fds<R>(encode: impl FnOnce() -> R) -> (R, Vec<OwnedFd>) {
    let scope = Scoped::set(&OUTGOING, Some(Vec::new()));
    let result = encode();
    (result, scope.end().unwrap_or_default())
}

/// Runs `run`, collecting the descriptors that handles hand over while the
/// values returned by the calls it runs are encoded ([`encode_returned`]);
/// not while the calls themselves run, whose own messages (a `Queue` item,
/// say) cannot carry descriptors.
pub(crate) fn collect_returned_fds<R>(run: impl FnOnce() -> R) -> (R, Vec<OwnedFd>) {
    let scope = Scoped::set(&RETURNED, Some(Vec::new()));
    let result = run();
    (result, scope.end().unwrap_or_default())
}

/// Appends the encoding of a value a call returned to `out`: handles in it
/// hand their descriptors to [`collect_returned_fds`], if that runs. Only
/// a flag is set per value, as this runs once per item of a pool's chunk.
#[inline]
pub(crate) fn encode_returned<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    /// Clears [`RETURNING`] when dropped, even by a panic in a `Serialize`.
    struct Returning;
    impl Drop for Returning {
        fn drop(&mut self) {
            RETURNING.set(false);
        }
    }
    RETURNING.set(true);
    let _returning = Returning;
    encode_into(value, out)
}

/// Runs `f` on the descriptors the value being encoded hands over: those
/// of the frame being encoded, or those of the returned values being
/// collected; `None` if neither collects.
fn outgoing<R>(f: impl FnOnce(&mut Vec<OwnedFd>) -> R) -> Option<R> {
    let key = match OUTGOING.with(|o| o.borrow().is_some()) {
        true => &OUTGOING,
        false if RETURNING.get() => &RETURNED,
        false => return None,
    };
    key.with(|fds| fds.borrow_mut().as_mut().map(f))
}

/// [`collect_fds`], with buffers (a `Bytes`) smaller than `min` bytes kept
/// inline: for a frame whose inline bytes are cheaper to move than a memfd.
/// Also returns how many bytes the buffers sent beside it hold.
pub(crate) fn collect_fds_beside_from<R>(
    min: usize,
    encode: impl FnOnce() -> R,
) -> (R, Vec<OwnedFd>, u64) {
    /// Puts the outer threshold and count back, even after a panic.
    struct Restore((usize, u64));
    impl Drop for Restore {
        fn drop(&mut self) {
            BESIDE.set(self.0);
        }
    }
    let restore = Restore(BESIDE.replace((min, 0)));
    let (result, fds) = collect_fds(encode);
    let (_, beside) = BESIDE.get();
    drop(restore);
    (result, fds, beside)
}

/// Called by a buffer of `len` bytes that goes beside the frame.
pub(crate) fn count_beside(len: usize) {
    let (min, bytes) = BESIDE.get();
    BESIDE.set((min, bytes + len as u64));
}

/// The smallest buffer to send beside the frame being encoded, given the
/// buffer's own threshold; `None` if the frame cannot carry (more)
/// descriptors.
pub(crate) fn beside_from(threshold: usize) -> Option<usize> {
    let room = outgoing(|fds| fds.len() < MAX_BESIDE).unwrap_or(false);
    room.then(|| BESIDE.get().0.max(threshold))
}

/// Called by a handle's `Serialize`: hands a duplicate of `fd` to the frame.
pub(crate) fn export_fd(fd: BorrowedFd<'_>) -> Result<u32, String> {
    match fd.try_clone_to_owned() {
        Ok(fd) => export_owned_fd(fd),
        Err(e) => Err(refused(format!("could not duplicate a descriptor: {e}"))),
    }
}

/// Hands `fd` itself to the frame being encoded: its index there.
pub(crate) fn export_owned_fd(fd: OwnedFd) -> Result<u32, String> {
    give(fd).map_err(refused)
}

/// Keeps why a handle could not be encoded or decoded, for the codec's
/// error, which has no message of its own; returns it.
pub(crate) fn refused(why: String) -> String {
    HANDLE_ERROR.with(|h| *h.borrow_mut() = Some(why.clone()));
    why
}

fn give(fd: OwnedFd) -> Result<u32, String> {
    outgoing(|fds| {
        fds.push(fd);
        u32::try_from(fds.len() - 1).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|| {
        Err(
            "a handle cannot cross here: handles cross to another process only \
             as arguments and return values of `#[process]` and `#[pool_task]` \
             functions, in `Connection` messages and in `Queue` items (not to a \
             manager or another MPI rank)"
                .into(),
        )
    })
}

/// A descriptor that came with a frame, as its decoding finds it.
#[derive(Debug)]
pub(crate) enum Incoming {
    Fd(OwnedFd),
    /// A memfd sealed against change, already mapped and closed: results
    /// that wait to be decoded would otherwise hold a descriptor each.
    Mapped(memmap2::Mmap),
}

/// Runs `decode` with `fds` on offer to the handles it decodes; the ones not
/// taken are closed afterwards.
pub(crate) fn with_fds<R>(fds: Vec<OwnedFd>, decode: impl FnOnce() -> R) -> R {
    let mut offered = fds.into_iter().map(|fd| Some(Incoming::Fd(fd))).collect();
    with_fds_in(&mut offered, decode)
}

/// Runs `decode` with `fds` on offer; the ones it does not take stay there,
/// for a later decoding of another part of the same frame.
pub(crate) fn with_fds_in<R>(
    fds: &mut Vec<Option<Incoming>>,
    decode: impl FnOnce() -> R,
) -> R {
    HANDLE_ERROR.with(|h| h.borrow_mut().take());
    let scope = Scoped::set(&INCOMING, Some(std::mem::take(fds)));
    let result = decode();
    *fds = scope.end().unwrap_or_default();
    result
}

/// Called by a handle's `Deserialize`: takes the descriptor at `index`.
pub(crate) fn import_fd(index: u32) -> Result<OwnedFd, String> {
    match import(index)? {
        Incoming::Fd(fd) => Ok(fd),
        Incoming::Mapped(_) => Err(refused(format!(
            "descriptor {index} is shared memory, not a handle"
        ))),
    }
}

/// Called by a `Bytes`'s `Deserialize`: takes what came at `index`.
pub(crate) fn import(index: u32) -> Result<Incoming, String> {
    INCOMING.with(|i| {
        i.borrow_mut()
            .as_mut()
            .and_then(|fds| fds.get_mut(index as usize)?.take())
            .ok_or_else(|| {
                refused(format!(
                    "descriptor {index} did not arrive with the message"
                ))
            })
    })
}
