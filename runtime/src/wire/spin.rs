//! Waiting: spinning before sleeping while it pays, deadlines and poll timeouts.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

use crate::error::Error;

/// How long a thread about to sleep for an event spins first. On this kind
/// of machine waking a sleeping thread costs tens of microseconds, more than
/// a whole round trip to another process, so a short spin pays for itself.
pub(crate) const SPIN: Duration = Duration::from_micros(100);

/// One place that spins before it sleeps, and that stops spinning while
/// spins there stop paying off.
///
/// On an idle machine the peer answers within the spin, which saves the
/// tens of microseconds a wake-up costs. When every core is busy, the peer
/// often cannot run until the spinner gives up its core, so a spin costs
/// the peer its time slice and gains nothing. So spins that keep ending
/// empty make the waits here skip spinning, twice as many after each (up to
/// [`MAX_SKIP`]); one empty spin alone costs nothing (a busy moment on an
/// idle machine), and one that succeeds starts over. Threads share the
/// record; racing updates only blur it.
pub(crate) struct Spinner {
    /// Waits still to skip spinning.
    skip: AtomicU32,
    /// How many waits the next empty spin makes skip: 0 after a success.
    backoff: AtomicU32,
}

/// The most waits one place skips spinning after spins that ended empty.
const MAX_SKIP: u32 = 256;

impl Spinner {
    pub(crate) const fn new() -> Spinner {
        Spinner {
            skip: AtomicU32::new(0),
            backoff: AtomicU32::new(0),
        }
    }

    /// Spins until `ready()` or `budget` has passed, unless spinning here
    /// has stopped paying off or the machine has no core to spare; returns
    /// `ready()`.
    pub(crate) fn spin_until(&self, budget: Duration, mut ready: impl FnMut() -> bool) -> bool {
        if ready() {
            return true;
        }
        // One clock read for both: a hand-off between two cores takes less
        // time here than two reads.
        let start = std::time::Instant::now();
        if crowded(start) {
            return false;
        }
        if self.skip.load(Ordering::Relaxed) > 0 {
            self.skip.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        while !ready() {
            if start.elapsed() > budget {
                let backoff = self.backoff.load(Ordering::Relaxed);
                self.skip.store(backoff, Ordering::Relaxed);
                self.backoff
                    .store((backoff * 2).clamp(1, MAX_SKIP), Ordering::Relaxed);
                return false;
            }
            std::hint::spin_loop();
        }
        self.backoff.store(0, Ordering::Relaxed);
        true
    }
}

/// Whether the run queue is long: more threads ready to run than twice the
/// cores, plus one. A spin then mostly takes the time slice its peer needs.
/// (A tighter bound, the cores plus two, counted this program's own threads
/// as crowding and made a pool's `apply` slower with 2 busy processes on 2
/// cores.) Read from the system at most every 10 ms.
fn crowded(now: std::time::Instant) -> bool {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    static CORES: OnceLock<usize> = OnceLock::new();
    static READ_AT: AtomicU64 = AtomicU64::new(u64::MAX);
    static CROWDED: AtomicBool = AtomicBool::new(false);
    const EVERY: u64 = 10_000_000;
    let now = now
        .saturating_duration_since(*START.get_or_init(|| now))
        .as_nanos() as u64;
    let read_at = READ_AT.load(Ordering::Relaxed);
    if read_at == u64::MAX || now.saturating_sub(read_at) >= EVERY {
        READ_AT.store(now, Ordering::Relaxed);
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
        let runnable = crate::sys::procfs::runnable_threads();
        CROWDED.store(runnable.is_some_and(|r| r > 2 * cores + 1), Ordering::Relaxed);
    }
    CROWDED.load(Ordering::Relaxed)
}


/// The moment `timeout` from now; `None` (no deadline) if that is too far
/// to represent, so that a huge timeout waits for ever instead of panicking.
pub(crate) fn deadline(timeout: Duration) -> Option<std::time::Instant> {
    std::time::Instant::now().checked_add(timeout)
}

/// A poll timeout.
fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: d.subsec_nanos().into(),
    }
}

/// Waits, at most `timeout`, until one of `fds` can be read (or its peer
/// has hung up); returns the indices of those that can, none if the
/// timeout passed first.
pub(crate) fn wait_readable(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> Result<Vec<usize>, Error> {
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::from_borrowed_fd(*fd, PollFlags::IN))
        .collect();
    let timeout = timeout.map(timespec);
    loop {
        match poll(&mut polled, timeout.as_ref()) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::io("polling connections")(e.into())),
        }
    }
    Ok(polled
        .iter()
        .enumerate()
        .filter(|(_, fd)| !fd.revents().is_empty())
        .map(|(i, _)| i)
        .collect())
}

/// Polls one fd; `Ok(false)` means the timeout passed first.
pub(super) fn wait_for(
    fd: impl AsFd,
    events: PollFlags,
    timeout: Option<Duration>,
) -> Result<bool, Error> {
    let timeout = timeout.map(timespec);
    let mut fds = [PollFd::new(&fd, events)];
    loop {
        match poll(&mut fds, timeout.as_ref()) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::io("polling a socket")(e.into())),
        }
    }
}
