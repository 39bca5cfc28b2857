//! The lock and the waits, in one process: threads stand in for processes,
//! and forked children for processes that die.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::sys::tests::in_forked_child;

/// Long enough that a test never relies on the owner check to wake a waiter.
const NEVER: Duration = Duration::from_secs(3600);

thread_local! {
    /// How often this thread looked whether a lock's owner died.
    pub(super) static OWNER_LOOKS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

#[test]
fn a_short_wait_for_a_live_owner_reads_nothing_from_proc() {
    let shm = segment();
    // SAFETY: a RobustLock is an atomic word, valid when zero.
    let lock: &RobustLock = unsafe { shm.header() };
    let (taken, release) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
    std::thread::scope(|s| {
        s.spawn(|| {
            lock.lock_as(thread_owner(), Whose::Thread, None);
            taken.wait();
            release.wait();
            std::thread::sleep(Duration::from_millis(2));
            lock.unlock();
        });
        taken.wait();
        let before = OWNER_LOOKS.with(std::cell::Cell::get);
        release.wait();
        // Held by another thread for about 2 ms: far less than the first look's 10.
        assert_eq!(lock.lock_as(thread_owner(), Whose::Thread, None), Some(false));
        lock.unlock();
        assert_eq!(OWNER_LOOKS.with(std::cell::Cell::get), before, "looked in /proc");
    });
}

fn segment() -> Shm {
    Shm::create("a test segment", 4096).unwrap()
}

/// A process that has ended and been reaped.
pub(super) fn reaped_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    child.id()
}

#[test]
fn handoffs_between_sleeping_waiters_lose_no_wakeup() {
    let shm = segment();
    #[repr(C)]
    struct Counted {
        lock: RobustLock,
        counter: AtomicU64,
    }
    // SAFETY: repr(C), atomics only, valid when zero.
    let Counted { lock, counter } = unsafe { shm.header::<Counted>() };
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 20_000;
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    // No owner check wakes a sleeper: only the release can.
                    let deadline = Instant::now() + Duration::from_secs(20);
                    let taken = lock.lock_contended(process_owner(), Whose::Process, Some(deadline), NEVER);
                    assert_eq!(taken, Some(false), "a waiter slept through a release");
                    // A read and a separate write: a lost update shows.
                    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                    lock.unlock();
                }
            });
        }
    });
    assert_eq!(counter.load(Ordering::Relaxed), THREADS * ROUNDS);
}

#[test]
fn a_lock_whose_owner_is_gone_is_taken_over_and_reported() {
    let shm = segment();
    // SAFETY: as above.
    let lock = unsafe { shm.header::<RobustLock>() };
    lock.0.store(u64::from(reaped_pid()), Ordering::Relaxed);
    assert_eq!(
        lock.lock(Some(Instant::now() + Duration::from_secs(10))),
        Some(true)
    );
    assert!(lock.is_held_by(process_owner()));
}

#[test]
fn a_live_owner_keeps_its_lock() {
    let shm = segment();
    // SAFETY: as above.
    let lock = unsafe { shm.header::<RobustLock>() };
    assert_eq!(lock.lock(None), Some(false));
    let other_thread = std::thread::spawn(thread_owner).join().unwrap();
    assert_eq!(
        lock.lock_as(
            other_thread,
            Whose::Thread,
            Some(Instant::now() + Duration::from_millis(50))
        ),
        None
    );
}

#[test]
fn a_reused_pid_does_not_pass_for_the_owner() {
    let me = process_owner();
    assert!(!owner_gone(me, Whose::Process));
    // The same pid with another start time: a process that ended, whose pid
    // this one now has.
    assert!(owner_gone(me ^ (1 << 40), Whose::Process));
}

// On the portable backend a thread's end is seen only with its process's.
#[cfg(not(portable))]
#[test]
fn a_thread_owner_is_alive_while_its_thread_runs_and_gone_after() {
    let (owner, done) = std::sync::mpsc::channel();
    let (finish, finished) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        owner.send(thread_owner()).unwrap();
        finished.recv().unwrap();
    });
    let owner = done.recv().unwrap();
    assert!(!owner_gone(owner, Whose::Thread));
    finish.send(()).unwrap();
    thread.join().unwrap();
    assert!(owner_gone(owner, Whose::Thread));
}

#[test]
fn a_process_of_another_user_is_alive_not_gone() {
    // `kill(pid, 0)` fails with EPERM for another user's process. As root,
    // a forked child gives up root to see that.
    let alive = in_forked_child(|| {
        // SAFETY: plain system calls on this (forked, single-threaded) process.
        if unsafe { libc::getuid() } == 0 && unsafe { libc::setuid(65534) } != 0 {
            return 2;
        }
        i32::from(process_gone(1))
    });
    assert_eq!(alive, 0, "pid 1 was judged dead");
}

#[test]
fn a_child_forked_by_the_user_is_its_own_owner() {
    let parent = process_owner();
    let _ = thread_owner();
    let status = in_forked_child(|| {
        // SAFETY: a plain system call.
        let pid = unsafe { libc::getpid() } as u64;
        #[cfg(not(portable))]
        let thread = rustix::thread::gettid().as_raw_nonzero().get() as u64;
        // A thread is told apart from its process above the pid's bits.
        #[cfg(portable)]
        let thread = (thread_owner() & (CONTENDED - 1) & !WHOSE) | pid;
        let ok = process_owner() & WHOSE == pid && thread_owner() & (CONTENDED - 1) == thread;
        i32::from(!ok)
    });
    assert_eq!(status, 0, "the child kept its parent's ids");
    assert_eq!(process_owner(), parent);
}

#[test]
fn bumps_wake_every_waiter_without_polling() {
    let shm = segment();
    // SAFETY: two atomic words, valid when zero.
    let words = unsafe { shm.header::<[AtomicU32; 2]>() };
    let (ping, waiting) = (&words[0], &words[1]);
    const ROUNDS: u32 = 20_000;
    std::thread::scope(|s| {
        for parity in 0..2 {
            s.spawn(move || {
                for round in 0..ROUNDS {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    loop {
                        let seen = ping.load(Ordering::Acquire);
                        if seen % 2 == parity {
                            break;
                        }
                        assert!(Instant::now() < deadline, "round {round}: a bump was lost");
                        wait_change(ping, waiting, seen, Some(deadline));
                    }
                    bump(ping, waiting, true);
                }
            });
        }
    });
    assert_eq!(ping.load(Ordering::Relaxed), 2 * ROUNDS);
}

// Linux lets a shared memory object shrink; macOS does not, once sized.
#[cfg(not(all(portable, target_os = "linux")))]
#[test]
fn a_segment_cannot_be_shrunk_under_its_mappers() {
    let shm = segment();
    assert!(rustix::fs::ftruncate(&shm.fd, 0).is_err());
}

// Elsewhere nothing is sealed: a segment is trusted not to shrink because
// macOS cannot resize one (see `sys::memfd`).
#[cfg(not(portable))]
#[test]
fn an_unsealed_descriptor_is_refused() {
    let fd = rustix::fs::memfd_create("unsealed", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    rustix::fs::ftruncate(&fd, 4096).unwrap();
    assert!(Shm::open("a test segment", fd, 4096).is_err());
}

#[test]
fn atomic_copies_round_trip_at_every_alignment() {
    let shm = segment();
    let source: Vec<u8> = (0..=255).cycle().take(100).collect();
    for offset in 0..9 {
        for len in [0, 1, 7, 8, 9, 31, 100] {
            let mut back = vec![0; len];
            // SAFETY: offset + len lies inside the 4096-byte segment, the
            // region of every copy here.
            unsafe {
                atomic_write(shm.ptr(), 4096, offset, &source[..len]);
                atomic_read(shm.ptr(), 4096, offset, &mut back);
            }
            assert_eq!(back, source[..len]);
        }
    }
}

#[test]
fn a_copy_into_part_of_a_word_keeps_the_rest_of_it() {
    let shm = segment();
    let mut back = [0; 16];
    // SAFETY: as above.
    unsafe {
        atomic_write(shm.ptr(), 4096, 0, &[1; 16]);
        atomic_write(shm.ptr(), 4096, 3, &[2, 2]);
        atomic_write(shm.ptr(), 4096, 7, &[3, 3]);
        atomic_read(shm.ptr(), 4096, 0, &mut back);
    }
    assert_eq!(back, [1, 1, 1, 2, 2, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
}

/// The atomic (offset in the region, width) each byte of a copy goes
/// through, in order; checks that the copy's pieces are aligned, inside the
/// region, and cover exactly its bytes.
fn atomic_of_each_byte(misalign: usize, len: usize, offset: usize, count: usize) -> Vec<(usize, usize)> {
    let mut next = offset;
    let mut atomics = Vec::new();
    for piece in pieces(misalign, len, offset, count) {
        assert_eq!((piece.at + misalign) % piece.width, 0, "{piece:?} misaligned");
        assert!(piece.at + piece.width <= len, "{piece:?} outside {len}");
        assert!(piece.count > 0 && piece.skip + piece.count <= piece.width, "{piece:?}");
        assert_eq!(piece.at + piece.skip, next, "{piece:?} skips or repeats bytes");
        next += piece.count;
        atomics.extend(std::iter::repeat_n((piece.at, piece.width), piece.count));
    }
    assert_eq!(next, offset + count);
    atomics
}

#[test]
fn every_byte_goes_through_the_same_atomic_whatever_the_range_of_the_copy() {
    for misalign in 0..WORD {
        for len in 1..=3 * WORD + 3 {
            let whole = atomic_of_each_byte(misalign, len, 0, len);
            assert!(whole.iter().any(|&(_, width)| width == WORD) || len < 2 * WORD - 1);
            for offset in 0..len {
                for count in 0..=len - offset {
                    let part = atomic_of_each_byte(misalign, len, offset, count);
                    assert_eq!(part, whole[offset..offset + count], "{misalign} {len} {offset} {count}");
                }
            }
        }
    }
}

#[test]
fn a_waiter_notices_when_a_lock_it_waits_for_passes_to_an_owner_that_dies() {
    let shm = segment();
    // SAFETY: as above.
    let lock = unsafe { shm.header::<RobustLock>() };
    assert_eq!(lock.lock(None), Some(false));
    std::thread::scope(|s| {
        // It sleeps while this process owns the lock, which needs no look
        // in /proc; its sleeps must stay bounded all the same.
        let waiter = s.spawn(|| lock.lock(Some(Instant::now() + Duration::from_secs(20))));
        std::thread::sleep(Duration::from_millis(50));
        // The lock passes to a process that then dies holding it.
        lock.0
            .store(u64::from(reaped_pid()) | CONTENDED, Ordering::Relaxed);
        assert_eq!(waiter.join().unwrap(), Some(true), "the waiter slept on");
    });
}

#[test]
fn a_waiter_that_gives_up_passes_on_the_wake_it_may_have_taken() {
    let shm = segment();
    // SAFETY: as above.
    let lock = unsafe { shm.header::<RobustLock>() };
    // Held without the contended mark (retaken on the fast path after a
    // release woke the waiter that now gives up): the mark comes back, so
    // the next release wakes whoever else sleeps.
    lock.0.store(process_owner(), Ordering::Relaxed);
    lock.pass_wake_on();
    assert_eq!(lock.0.load(Ordering::Relaxed), process_owner() | CONTENDED);
    // Free: nothing to mark; a sleeper is woken to take it.
    lock.0.store(0, Ordering::Relaxed);
    lock.pass_wake_on();
    assert_eq!(lock.0.load(Ordering::Relaxed), 0);
}

#[cfg(target_os = "linux")]
#[test]
fn an_owner_whose_proc_entry_cannot_be_read_is_alive() {
    // A live process that /proc does not show (no /proc mounted, a hidden
    // one, another pid namespace) must not pass for dead: that would hand
    // its lock to a second owner. A forked child hides /proc from itself.
    let parent = std::process::id();
    let status = in_forked_child(|| {
        // SAFETY: plain system calls on this forked, single-threaded child.
        let hidden = unsafe {
            libc::unshare(libc::CLONE_NEWNS) == 0
                && libc::mount(
                    c"none".as_ptr(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0
                && libc::mount(
                    c"none".as_ptr(),
                    c"/proc".as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null(),
                ) == 0
        };
        if !hidden {
            return 3;
        }
        i32::from(is_gone(parent, Some(1), Whose::Process) || process_gone(parent))
    });
    assert_ne!(
        status, 1,
        "a live process was judged dead when /proc was hidden"
    );
    // Where hiding /proc is not allowed (not root), the case cannot be set up here.
    assert!(status == 0 || status == 3, "the child failed: {status}");
}
