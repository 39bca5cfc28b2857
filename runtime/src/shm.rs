//! Shared memory between processes: a memfd mapped by every handle, and the
//! futex-based waiting and locking that `queue` and `sync` build on.
//!
//! A lock word holds 0 when free, else its owner's pid. A waiter that finds
//! the owner dead (or a zombie) takes the lock over and is told so, like a
//! robust mutex's `EOWNERDEAD`.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memmap2::MmapRaw;
use rustix::thread::futex;

use crate::error::{Error, Result};
use crate::wire;

/// How often a blocked waiter looks again whether a lock's owner died.
const RECHECK: Duration = Duration::from_millis(20);

/// One mapping of a shared segment.
pub(crate) struct Shm {
    map: MmapRaw,
    fd: OwnedFd,
}

impl Shm {
    /// A new zeroed segment of `len` bytes.
    pub(crate) fn create(what: &'static str, len: u64) -> Result<Shm> {
        let fd = rustix::fs::memfd_create("multiproc", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| Error::io(what)(e.into()))?;
        rustix::fs::ftruncate(&fd, len).map_err(|e| Error::io(what)(e.into()))?;
        Shm::open(what, fd, len)
    }

    /// Maps a segment received from another process; it must hold `len` bytes.
    pub(crate) fn open(what: &'static str, fd: OwnedFd, len: u64) -> Result<Shm> {
        let map = MmapRaw::map_raw(fd.as_raw_fd()).map_err(Error::io(what))?;
        if (map.len() as u64) < len {
            return Err(Error::io(what)(std::io::Error::other(
                "the shared segment is smaller than expected",
            )));
        }
        Ok(Shm { map, fd })
    }

    /// The structure at the start of the segment.
    ///
    /// # Safety
    ///
    /// `H` must be `repr(C)`, fit in the segment, be valid when all zero, and
    /// consist of atomics only, so that shared access from several processes
    /// is sound.
    pub(crate) unsafe fn header<H>(&self) -> &H {
        // SAFETY: the mapping is page-aligned and lives as long as `self`; the
        // caller vouches for the rest.
        unsafe { &*self.map.as_ptr().cast::<H>() }
    }

    /// The first byte of the segment.
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Hands a duplicate of the segment's descriptor to the frame being encoded.
    pub(crate) fn export(&self) -> std::result::Result<u32, String> {
        wire::export_fd(self.fd.as_fd())
    }
}

/// Whether process `pid` has ended (gone, or a zombie waiting to be reaped).
pub(crate) fn is_dead(pid: u32) -> bool {
    let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return true;
    };
    if rustix::process::test_kill_process(raw).is_err() {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
    })
}

/// This process's id, once read: `getpid` is a system call, too slow for an
/// uncontended lock. 0 until read.
static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn my_pid() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// In a forked child: the cached ids are its parent's (and the forking thread's).
pub(crate) fn forget_ids() {
    PID.store(0, Ordering::Relaxed);
    TID.with(|tid| tid.set(0));
}

thread_local! {
    /// This thread's id, once read; 0 until then.
    static TID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// This thread's id, read once per thread.
pub(crate) fn my_tid() -> u32 {
    TID.with(|tid| match tid.get() {
        0 => {
            let id = rustix::thread::gettid()
                .as_raw_nonzero()
                .get()
                .unsigned_abs();
            tid.set(id);
            id
        }
        id => id,
    })
}

/// Takes the lock `word` (waiting at most until `deadline`). `None` on
/// timeout; otherwise whether the previous owner died holding it.
pub(crate) fn lock(
    word: &AtomicU32,
    waiters: &AtomicU32,
    deadline: Option<Instant>,
) -> Option<bool> {
    lock_as(my_pid(), word, waiters, deadline)
}

/// [`lock`] with the owner's id given: a pid, or a thread id for a
/// re-entrant lock (thread ids share the pid space, so the same death check holds).
pub(crate) fn lock_as(
    me: u32,
    word: &AtomicU32,
    waiters: &AtomicU32,
    deadline: Option<Instant>,
) -> Option<bool> {
    loop {
        let owner = match word.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Some(false),
            Err(owner) => owner,
        };
        let left = deadline.map_or(RECHECK, |d| {
            d.saturating_duration_since(Instant::now()).min(RECHECK)
        });
        if !left.is_zero() {
            if wire::spin_until(wire::SPIN.min(left), || word.load(Ordering::Relaxed) == 0) {
                continue;
            }
            waiters.fetch_add(1, Ordering::SeqCst);
            let _ = futex::wait(
                word,
                futex::Flags::empty(),
                owner,
                Some(&wire::timespec(left)),
            );
            waiters.fetch_sub(1, Ordering::SeqCst);
        }
        if owner == word.load(Ordering::Acquire) && is_dead(owner) {
            // Its holder died inside; take over from the dead, once.
            if word
                .compare_exchange(owner, me, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Some(true);
            }
            continue;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
    }
}

/// Releases the lock `word`.
pub(crate) fn unlock(word: &AtomicU32, waiters: &AtomicU32) {
    word.store(0, Ordering::Release);
    if waiters.load(Ordering::SeqCst) > 0 {
        let _ = futex::wake(word, futex::Flags::empty(), 1);
    }
}

/// Waits (at most until `deadline`, and never longer than [`RECHECK`]) for
/// `word` to move on from `seen`.
pub(crate) fn wait_change(
    word: &AtomicU32,
    waiting: &AtomicU32,
    seen: u32,
    deadline: Option<Instant>,
) {
    let mut left = RECHECK;
    if let Some(deadline) = deadline {
        left = left.min(deadline.saturating_duration_since(Instant::now()));
    }
    if wire::spin_until(wire::SPIN.min(left), || {
        word.load(Ordering::Acquire) != seen
    }) {
        return;
    }
    waiting.fetch_add(1, Ordering::SeqCst);
    let _ = futex::wait(
        word,
        futex::Flags::empty(),
        seen,
        Some(&wire::timespec(left)),
    );
    waiting.fetch_sub(1, Ordering::SeqCst);
}

/// Moves `word` on and wakes one (or all) of its waiters.
pub(crate) fn bump(word: &AtomicU32, waiting: &AtomicU32, all: bool) {
    word.fetch_add(1, Ordering::SeqCst);
    if waiting.load(Ordering::SeqCst) > 0 {
        let _ = futex::wake(word, futex::Flags::empty(), if all { u32::MAX } else { 1 });
    }
}
