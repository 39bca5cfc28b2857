//! Shared memory between processes: a sealed memfd mapped by every handle,
//! and the futex-based lock and waits that `queue`, `sync` and `values`
//! build on. `README.md` beside this file argues why no wake-up is lost.
//!
//! A lock word holds 0 when free, else its owner: a pid (or thread id) and
//! that process's start time, so that a reused pid never passes for the
//! owner. A waiter that finds the owner dead (or a zombie) takes the lock
//! over and is told so, like a robust mutex's `EOWNERDEAD`.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use memmap2::MmapRaw;

use crate::error::{Error, Result};
use crate::sys::memfd::{self, Sealed};
use crate::sys::procfs::{self, Task};
use crate::sys::{futex, process};
pub(crate) use crate::sys::futex::Change;
use crate::wire;

/// The first look at whether a lock's owner died; later looks come at twice
/// the previous interval, up to [`OWNER_CHECK_MAX`]. Only a death has no one
/// to announce it, so the change-waits look again that often too
/// ([`nap`]).
const OWNER_CHECK_FIRST: Duration = Duration::from_millis(10);
/// The longest a waiter sleeps before looking whether the lock's owner died.
pub(crate) const OWNER_CHECK_MAX: Duration = Duration::from_secs(1);

/// One mapping of a shared segment.
pub(crate) struct Shm {
    map: MmapRaw,
    fd: OwnedFd,
}

impl Shm {
    /// A new zeroed segment of `len` bytes, sealed against shrinking: no
    /// holder can shrink it under the others, whose next access past the
    /// new end would die of `SIGBUS`.
    pub(crate) fn create(what: &'static str, len: u64) -> Result<Shm> {
        let fd = memfd::zeroed("multiproc", len).map_err(Error::io(what))?;
        Shm::open(what, fd, len)
    }

    /// Maps a segment received from another process; it must hold `len`
    /// bytes and be sealed against shrinking.
    pub(crate) fn open(what: &'static str, fd: OwnedFd, len: u64) -> Result<Shm> {
        let invalid = |why: &str| Error::io(what)(std::io::Error::other(why.to_owned()));
        let sealed =
            memfd::is_sealed(fd.as_fd(), Sealed::AgainstShrinking).map_err(Error::io(what))?;
        if !sealed {
            return Err(invalid(
                "the shared segment is not sealed against shrinking",
            ));
        }
        let map = MmapRaw::map_raw(fd.as_raw_fd()).map_err(Error::io(what))?;
        if (map.len() as u64) < len {
            return Err(invalid("the shared segment is smaller than expected"));
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

    /// Gives the memory of bytes `offset..offset + len` back to the system,
    /// for every process that maps them; they read as zeros from then on.
    /// Best effort: where the system cannot, the memory stays.
    pub(crate) fn release(&self, offset: u64, len: u64) {
        memfd::release(self.fd.as_fd(), offset, len);
    }

    /// Bytes of memory the segment holds now.
    #[cfg(test)]
    pub(crate) fn resident(&self) -> u64 {
        memfd::resident(self.fd.as_fd())
    }

    /// Hands a duplicate of the segment's descriptor to the frame being encoded.
    pub(crate) fn export(&self) -> std::result::Result<u32, String> {
        wire::export_fd(self.fd.as_fd())
    }
}

/// Whether [`frozen_copy`] works here: not on the portable backend (macOS),
/// whose shared memory cannot be sealed.
pub(crate) const CAN_FREEZE: bool = memfd::CAN_FREEZE;

/// A new segment holding a copy of `bytes`, frozen: no process can write
/// it, map it writable, or change its size, so a read-only mapping of it may
/// be lent out as a plain `&[u8]`.
pub(crate) fn frozen_copy(bytes: &[u8]) -> std::io::Result<OwnedFd> {
    memfd::frozen_copy("multiproc-bytes", bytes)
}

/// What came with a frame, with each memfd made by [`frozen_copy`] mapped
/// and its descriptor closed at once.
pub(crate) fn map_received(fds: Vec<OwnedFd>) -> Vec<Option<wire::Incoming>> {
    fds.into_iter()
        .map(|fd| {
            let frozen = memfd::is_sealed(fd.as_fd(), Sealed::Frozen).unwrap_or(false);
            let len = memfd::len(fd.as_fd()).map_or(0, |len| len as usize);
            Some(match frozen && len > 0 {
                true => match map_frozen(&fd, len) {
                    Ok(map) => wire::Incoming::Mapped(map),
                    Err(_) => wire::Incoming::Fd(fd),
                },
                false => wire::Incoming::Fd(fd),
            })
        })
        .collect()
}

/// Maps the first `len` bytes of a segment made by [`frozen_copy`] (in any
/// process) read-only. Refused unless it carries the seals that keep its
/// contents from ever changing, and holds `len` bytes.
pub(crate) fn map_frozen(fd: &OwnedFd, len: usize) -> std::io::Result<memmap2::Mmap> {
    let invalid = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    if !memfd::is_sealed(fd.as_fd(), Sealed::Frozen)? {
        return Err(invalid("the shared bytes are not sealed against change"));
    }
    if memfd::len(fd.as_fd())? < len as u64 {
        return Err(invalid("the shared bytes are shorter than announced"));
    }
    // A private read-only mapping: kernels before 6.7 refuse any shared
    // mapping of a memfd sealed against writes, and with nothing ever
    // written to it, a private one copies nothing.
    // SAFETY: the seals checked above forbid every write, writable mapping
    // and resize of the file, in every process, for as long as it exists;
    // so the mapping's contents never change and never shrink under it.
    unsafe { memmap2::MmapOptions::new().len(len).map_copy_read_only(fd) }
}

/// Copies `dst.len()` bytes from `offset` in a region of shared memory (the
/// `len` bytes from `region`) with atomic loads, so that a racing writer in
/// another thread or process makes the copy torn, never undefined. Each
/// byte is loaded through the atomic [`pieces`] gives it.
///
/// # Safety
///
/// `region..region + len` must lie inside a live mapping, and every racing
/// access to it must go through these functions with the same region.
pub(crate) unsafe fn atomic_read(region: *const u8, len: usize, offset: usize, dst: &mut [u8]) {
    let mut done = 0;
    for piece in pieces(region.addr() % WORD, len, offset, dst.len()) {
        // SAFETY: the piece lies inside the region and is aligned for its
        // width (`pieces`); atomics of each width may be made at any address
        // aligned for them.
        let at = unsafe { region.add(piece.at) };
        let out = &mut dst[done..done + piece.count];
        if piece.width == WORD {
            // SAFETY: as above.
            let word = unsafe { &*at.cast::<AtomicUsize>() };
            let bytes = word.load(Ordering::Relaxed).to_ne_bytes();
            out.copy_from_slice(&bytes[piece.skip..piece.skip + piece.count]);
        } else {
            // SAFETY: as above.
            out[0] = unsafe { &*at.cast::<AtomicU8>() }.load(Ordering::Relaxed);
        }
        done += piece.count;
    }
}

/// Copies `src` to `offset` in a region of shared memory with atomic stores
/// (see [`atomic_read`]). Where it covers only part of a word, it stores
/// into the word with a compare-exchange that keeps the other bytes.
///
/// # Safety
///
/// As for [`atomic_read`], and the mapping must be writable.
pub(crate) unsafe fn atomic_write(region: *mut u8, len: usize, offset: usize, src: &[u8]) {
    let mut done = 0;
    for piece in pieces(region.addr() % WORD, len, offset, src.len()) {
        // SAFETY: as in `atomic_read`.
        let at = unsafe { region.add(piece.at) };
        let part = &src[done..done + piece.count];
        if piece.width == WORD {
            // SAFETY: as in `atomic_read`.
            let word = unsafe { &*at.cast::<AtomicUsize>() };
            let merged = |old: usize| {
                let mut bytes = old.to_ne_bytes();
                bytes[piece.skip..piece.skip + piece.count].copy_from_slice(part);
                usize::from_ne_bytes(bytes)
            };
            if piece.count == WORD {
                word.store(merged(0), Ordering::Relaxed);
            } else {
                let _ = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    Some(merged(old))
                });
            }
        } else {
            // SAFETY: as in `atomic_read`.
            unsafe { &*at.cast::<AtomicU8>() }.store(part[0], Ordering::Relaxed);
        }
        done += piece.count;
    }
}

const WORD: usize = size_of::<usize>();

/// One atomic a copy goes through: the `width` bytes at `at` in its region,
/// of which the copy covers `count` from the `skip`th.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    at: usize,
    width: usize,
    skip: usize,
    count: usize,
}

/// The atomics through which a copy of `count` bytes at `offset` goes, in a
/// region of `len` bytes whose first byte lies `misalign` bytes past a
/// word's start. Rust forbids racing atomic accesses of different sizes to
/// the same bytes, so each byte goes through the same atomic whatever the
/// copy's range: the aligned word holding it, where that word lies wholly
/// inside the region, else the byte alone. The copy must fit in the region.
fn pieces(misalign: usize, len: usize, offset: usize, count: usize) -> impl Iterator<Item = Piece> {
    let end = offset + count;
    assert!(end <= len, "a copy outside its region of shared memory");
    let mut pos = offset;
    std::iter::from_fn(move || {
        if pos >= end {
            return None;
        }
        // The start of the word holding `pos`, counted from the region's
        // first byte: before it (so `None`) for the bytes ahead of the first
        // word boundary in the region.
        let word = ((pos + misalign) / WORD * WORD).checked_sub(misalign);
        let piece = match word {
            Some(at) if at + WORD <= len => {
                let skip = pos - at;
                Piece {
                    at,
                    width: WORD,
                    skip,
                    count: (WORD - skip).min(end - pos),
                }
            }
            _ => Piece {
                at: pos,
                width: 1,
                skip: 0,
                count: 1,
            },
        };
        pos += piece.count;
        Some(piece)
    })
}

/// Who holds a lock: a process or thread id in the low half (below
/// [`CONTENDED`]), its start time (in clock ticks, truncated) in the high half.
pub(crate) type Owner = u64;

/// Set in a lock word while a waiter may sleep on it: its release must wake one.
/// Ids stay below it, since the kernel caps them at 2^22.
const CONTENDED: u64 = 1 << 31;

fn owner(id: u32, task: Task) -> Owner {
    let started = procfs::stat(task).map_or(0, |stat| stat.started);
    u64::from(id) | (u64::from(started) << 32)
}

/// This process as a lock owner, read once: `getpid` and `/proc` are too slow
/// for an uncontended lock. 0 until read.
static PROCESS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread as a lock owner, once read; 0 until then.
    static THREAD: std::cell::Cell<Owner> = const { std::cell::Cell::new(0) };
}

/// What a lock owner's id names, which decides when it has ended: a main
/// thread that ends leaves its process running while other threads do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Whose {
    Process,
    Thread,
}

/// This process, as the owner of the locks it takes.
pub(crate) fn process_owner() -> Owner {
    match PROCESS.load(Ordering::Relaxed) {
        0 => {
            let me = owner(std::process::id(), Task::ThisProcess);
            PROCESS.store(me, Ordering::Relaxed);
            me
        }
        me => me,
    }
}

/// This thread, as the owner of the re-entrant locks it takes.
pub(crate) fn thread_owner() -> Owner {
    THREAD.with(|cached| match cached.get() {
        0 => {
            let me = this_thread();
            cached.set(me);
            me
        }
        me => me,
    })
}

/// The bits of an owner's id that name a process (or, on Linux, a thread),
/// whose end is the owner's.
#[cfg(not(portable))]
const WHOSE: u64 = CONTENDED - 1;

#[cfg(not(portable))]
fn this_thread() -> Owner {
    owner(process::thread_id(), Task::ThisThread)
}

/// Ids of processes stay below `1 << PID_BITS`: macOS's are at most 99,999,
/// and Linux caps its at 2^22.
#[cfg(portable)]
const PID_BITS: u32 = if cfg!(target_os = "macos") { 17 } else { 22 };
#[cfg(portable)]
const WHOSE: u64 = (1 << PID_BITS) - 1;

/// Where a thread id names no process, a thread owns as its process does,
/// told apart from the process's other threads by an index of its own in
/// the id's bits above the pid. So its end is seen only when its process
/// ends.
#[cfg(portable)]
fn this_thread() -> Owner {
    owner(
        std::process::id() | (thread_index::get() << PID_BITS),
        Task::ThisProcess,
    )
}

/// Small numbers for the live threads of this process, from 1 (0 is the
/// process itself), given back when a thread ends.
#[cfg(portable)]
mod thread_index {
    use std::sync::Mutex;

    /// The most threads that hold an index at once.
    const MOST: u32 = (1 << (31 - super::PID_BITS)) - 1;

    /// The indices given back, and the next never given.
    static FREE: Mutex<(Vec<u32>, u32)> = Mutex::new((Vec::new(), 1));

    fn free() -> std::sync::MutexGuard<'static, (Vec<u32>, u32)> {
        FREE.lock().unwrap_or_else(|e| e.into_inner())
    }

    // Held across a fork, so that no thread that is not in the child holds
    // it there; the child's other threads' indices are simply not given back.
    crate::forking::fork_hook!(
        THREAD_INDEX_FORK,
        order: 90,
        holds: std::sync::MutexGuard<'static, (Vec<u32>, u32)> = free(),
        forget: || {},
    );

    struct Held(u32);

    impl Drop for Held {
        fn drop(&mut self) {
            // The owner built from this index goes with it: a destructor
            // that runs later and takes a lock builds another.
            super::THREAD.with(|cached| cached.set(0));
            free().0.push(self.0);
        }
    }

    thread_local! {
        static HELD: Held = Held(take());
    }

    /// The calling thread's index; once the thread's own has been given
    /// back (in a late destructor), one that is never given back.
    pub(super) fn get() -> u32 {
        HELD.try_with(|held| held.0).unwrap_or_else(|_| take())
    }

    /// A free index; with all taken, waits until a thread ends.
    fn take() -> u32 {
        loop {
            {
                let mut free = free();
                if let Some(index) = free.0.pop() {
                    return index;
                }
                if free.1 <= MOST {
                    free.1 += 1;
                    return free.1 - 1;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// In a forked child: the cached owners are its parent's (and the forking thread's).
pub(crate) fn forget_ids() {
    PROCESS.store(0, Ordering::Relaxed);
    THREAD.with(|cached| cached.set(0));
}

// A forked child, the user's own fork's included, is not its parent as a
// lock owner.
#[linkme::distributed_slice(crate::forking::FORK_HOOKS)]
static OWNER_IDS_FORK: crate::forking::ForkHook = crate::forking::ForkHook {
    order: 0,
    lock: || {},
    unlock: || {},
    forget: forget_ids,
    ours_only: false,
};

/// Whether process (or thread) `id` has ended: gone, a zombie waiting to be
/// reaped, or, when `started` is given, replaced by a newer process that
/// reuses its id.
fn is_gone(id: u32, started: Option<u32>, whose: Whose) -> bool {
    let Some(pid) = process::pid(id) else {
        return true;
    };
    if !process::exists(pid) {
        return true;
    }
    // Unseen (no /proc, a hidden one, or gone since the look above, which
    // the next look will tell): alive, as the look above said.
    procfs::stat(Task::Id(id)).is_some_and(|now| {
        let ended = now.ended && !(whose == Whose::Process && now.other_threads);
        ended || started.is_some_and(|s| s != now.started)
    })
}

/// Whether process `pid` has ended (gone, or a zombie waiting to be reaped).
pub(crate) fn process_gone(pid: u32) -> bool {
    is_gone(pid, None, Whose::Process)
}

/// Whether the owner recorded in a lock word has ended.
pub(crate) fn owner_gone(owner: Owner, whose: Whose) -> bool {
    #[cfg(test)]
    tests::OWNER_LOOKS.with(|looks| looks.set(looks.get() + 1));
    let started = (owner >> 32) as u32;
    is_gone((owner & WHOSE) as u32, (started != 0).then_some(started), whose)
}

/// The time left until `deadline`, if there is one.
fn left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// How long one sleep on a change lasts: until `deadline`, but never more
/// than [`OWNER_CHECK_MAX`]. A process killed between changing what others
/// wait for and waking them never wakes them; each looks again by then, as
/// every caller loops until what it waits for holds.
fn nap(deadline: Option<Instant>) -> Option<Duration> {
    Some(left(deadline).map_or(OWNER_CHECK_MAX, |left| left.min(OWNER_CHECK_MAX)))
}

/// A lock in shared memory whose owner may die holding it.
#[repr(C)]
pub(crate) struct RobustLock(AtomicU64);

#[cfg(test)]
impl RobustLock {
    /// Leaves the lock held by a process that has ended, as one killed
    /// holding it does.
    pub(crate) fn hold_for_the_dead(&self) {
        self.0.store(u64::from(tests::reaped_pid()), Ordering::Relaxed);
    }
}

impl RobustLock {
    /// The half of the word that holds the id and [`CONTENDED`]: the futex.
    fn futex(&self) -> *const u32 {
        let low = if cfg!(target_endian = "little") { 0 } else { 1 };
        // SAFETY: the 64-bit word holds two 32-bit halves.
        unsafe { self.0.as_ptr().cast::<u32>().add(low) }
    }

    /// Takes the lock for this process (waiting at most until `deadline`).
    /// `None` on timeout; otherwise whether the previous owner died holding it.
    pub(crate) fn lock(&self, deadline: Option<Instant>) -> Option<bool> {
        self.lock_as(process_owner(), Whose::Process, deadline)
    }

    /// [`lock`](RobustLock::lock) for the owner `me`: a process, or a thread
    /// for a re-entrant lock (thread ids share the pid space, so the same
    /// death check holds).
    pub(crate) fn lock_as(
        &self,
        me: Owner,
        whose: Whose,
        deadline: Option<Instant>,
    ) -> Option<bool> {
        if self
            .0
            .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Some(false);
        }
        self.lock_contended(me, whose, deadline, OWNER_CHECK_MAX)
    }

    /// The slow path of [`lock_as`](RobustLock::lock_as); a blocked waiter
    /// wakes only when released, at its deadline, or to look whether the
    /// owner died, at most every `check_max`.
    fn lock_contended(
        &self,
        me: Owner,
        whose: Whose,
        deadline: Option<Instant>,
        check_max: Duration,
    ) -> Option<bool> {
        // Once this thread has slept, others may sleep too: it takes the lock
        // marked contended, so that its release wakes the next one.
        let mut contended = 0;
        // The first look comes after the first interval: most waits end
        // long before, and a look reads /proc (tens of microseconds). A
        // waiter whose deadline has passed looks at once.
        let mut check_every = OWNER_CHECK_FIRST.min(check_max);
        let mut check_at = Instant::now() + check_every;
        let mut spun = false;
        loop {
            let current = self.0.load(Ordering::Relaxed);
            if current == 0 {
                if self
                    .0
                    .compare_exchange(0, me | contended, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return Some(false);
                }
                continue;
            }
            let now = Instant::now();
            let expired = deadline.is_some_and(|d| now >= d);
            // This process cannot have died while its thread runs here, so
            // it needs no look in /proc; but the owner may change while
            // this thread sleeps, so the sleep stays bounded all the same.
            let owner = current & !CONTENDED;
            if expired || now >= check_at {
                if owner != process_owner() && owner_gone(owner, whose) {
                    // Its holder died inside; take over from the dead, once.
                    if self
                        .0
                        .compare_exchange(
                            current,
                            me | CONTENDED,
                            Ordering::Acquire,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                    {
                        return Some(true);
                    }
                    continue;
                }
                check_at = now + check_every;
                check_every = (check_every * 2).min(check_max);
            }
            if expired {
                if contended != 0 {
                    self.pass_wake_on();
                }
                return None;
            }
            if !spun {
                spun = true;
                let budget = left(deadline).map_or(wire::SPIN, |l| l.min(wire::SPIN));
                static SPINNER: wire::Spinner = wire::Spinner::new();
                if SPINNER.spin_until(budget, || self.0.load(Ordering::Relaxed) == 0) {
                    continue;
                }
            }
            if current & CONTENDED == 0
                && self
                    .0
                    .compare_exchange(
                        current,
                        current | CONTENDED,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_err()
            {
                continue;
            }
            contended = CONTENDED;
            let until = deadline.map_or(check_at, |d| d.min(check_at));
            futex::wait(
                self.futex(),
                (current | CONTENDED) as u32,
                Some(until.saturating_duration_since(Instant::now())),
            );
        }
    }

    /// Called by a waiter that has slept and now gives up: the wake-up it
    /// may have taken was meant for whoever sleeps next, so the lock is
    /// marked contended again (its release then wakes one), or, if it is
    /// free, one sleeper is woken to take it.
    fn pass_wake_on(&self) {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            if current == 0 {
                futex::wake(self.futex(), 1);
                return;
            }
            if current & CONTENDED != 0 {
                return;
            }
            match self.0.compare_exchange(
                current,
                current | CONTENDED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => current = now,
            }
        }
    }

    /// Releases the lock, waking one waiter if any may sleep.
    pub(crate) fn unlock(&self) {
        if self.0.swap(0, Ordering::Release) & CONTENDED != 0 {
            futex::wake(self.futex(), 1);
        }
    }

    /// Whether `me` holds the lock.
    pub(crate) fn is_held_by(&self, me: Owner) -> bool {
        self.0.load(Ordering::Relaxed) & !CONTENDED == me
    }
}

/// Waits (at most until `until`) for `word` to move on from `seen`; a
/// [`bump`] of `word` always ends the wait, and it ends on its own after
/// [`OWNER_CHECK_MAX`] at most ([`nap`]). `waiting` counts the sleepers.
pub(crate) fn wait_change(
    word: &AtomicU32,
    waiting: &AtomicU32,
    seen: u32,
    until: Option<Instant>,
) {
    let budget = left(until).map_or(wire::SPIN, |l| l.min(wire::SPIN));
    static SPINNER: wire::Spinner = wire::Spinner::new();
    if SPINNER.spin_until(budget, || word.load(Ordering::Acquire) != seen) {
        return;
    }
    // Counted before the last look at `word`: see README.md.
    waiting.fetch_add(1, Ordering::SeqCst);
    if word.load(Ordering::SeqCst) == seen {
        futex::wait(word.as_ptr(), seen, nap(until));
    }
    waiting.fetch_sub(1, Ordering::SeqCst);
}

/// Moves `word` on and wakes one (or all) of its waiters.
pub(crate) fn bump(word: &AtomicU32, waiting: &AtomicU32, all: bool) {
    word.fetch_add(1, Ordering::SeqCst);
    if waiting.load(Ordering::SeqCst) > 0 {
        futex::wake(word.as_ptr(), if all { u32::MAX } else { 1 });
    }
}

/// Waits (at most until `until`, and at most [`OWNER_CHECK_MAX`]) while the
/// futex word `word` holds `expected`.
pub(crate) fn wait_while_equal(word: &AtomicU32, expected: u32, until: Option<Instant>) {
    futex::wait(word.as_ptr(), expected, nap(until));
}

/// Waits (at most until `until`) while `word` holds `expected`, without
/// looking again in between: only for a word whose every waker changes it
/// and wakes its sleepers in one step ([`change_and_wake`]), so that no
/// death can leave it changed and them asleep.
pub(crate) fn sleep_while_equal(word: &AtomicU32, expected: u32, until: Option<Instant>) {
    futex::wait(word.as_ptr(), expected, left(until));
}

/// Makes `change` to `word` and wakes at most `n` of its sleepers, in one
/// step of the kernel's; `false` where there is no such step (macOS, or a
/// kernel that refuses it), and then nothing changed.
pub(crate) fn change_and_wake(word: &AtomicU32, change: Change, n: u32) -> bool {
    futex::change_and_wake(word.as_ptr(), change, n)
}

/// Wakes at most `n` sleepers on `word`.
pub(crate) fn wake(word: &AtomicU32, n: u32) {
    futex::wake(word.as_ptr(), n);
}

/// Wakes every sleeper on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    wake(word, u32::MAX);
}

#[cfg(test)]
mod tests;
