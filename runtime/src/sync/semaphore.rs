//! [`Semaphore`] and [`BoundedSemaphore`]: counters of permits.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Kind, Segment};
use crate::error::{Error, Result};
use crate::shm::{self, Change};
use crate::wire;

/// A counter of permits shared by processes; `acquire` hands out a guard
/// that gives its permit back on drop.
///
/// A process that dies holding a permit does not give it back, as in Python.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let sem = multiproc::Semaphore::new(2)?;
/// let a = sem.acquire();
/// let b = sem.acquire();
/// assert!(sem.try_acquire().is_none());
/// drop(a);
/// assert!(sem.try_acquire().is_some());
/// # drop(b);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Semaphore`.
#[derive(Clone)]
pub struct Semaphore(Segment);

serde_as_segment!(Semaphore);

/// The count word's highest bit: set while a waiter may sleep on it.
const SLEEPERS: u32 = 1 << 31;
/// The most permits a semaphore holds; racing releases may take it a few
/// above, never into [`SLEEPERS`].
const LIMIT: u32 = 1 << 30;
/// The limit word of a semaphore that is not bounded.
const UNBOUNDED: u32 = u32::MAX;
/// What a semaphore's `seq` word holds once a release took two steps
/// ([`Semaphore::two_steps`]); it holds 0 until then.
const TWO_STEPS: u32 = 1;

/// Whether this process's kernel makes a change to a word and wakes its
/// sleepers in one step (`shm::change_and_wake`), both changes a semaphore
/// makes; asked once.
fn one_step_works() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        let probe = std::sync::atomic::AtomicU32::new(1 << 31);
        shm::change_and_wake(&probe, Change::ClearHighBit, 1)
            && shm::change_and_wake(&probe, Change::AddOne, 1)
            && probe.load(Ordering::Relaxed) == 1
    })
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .finish()
    }
}

/// A permit of a [`Semaphore`]; given back on drop.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let sem = multiproc::Semaphore::new(1)?;
/// {
///     let _permit = sem.acquire();
///     assert_eq!(sem.value(), 0);
/// }
/// assert_eq!(sem.value(), 1);
/// # Ok(())
/// # }
/// ```
///
/// Python: the `with semaphore:` block.
#[must_use = "the permit is given back as soon as the guard is dropped"]
#[derive(Debug)]
pub struct SemaphoreGuard<'a>(&'a Semaphore);

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.release();
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits, at most 2^30 (Python's limit is
    /// 2^31 - 1).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for more than 2^30 permits, and
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::Semaphore::new(3)?.value(), 3);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Semaphore(3)`.
    pub fn new(permits: u32) -> Result<Semaphore> {
        if permits > LIMIT {
            return Err(Error::InvalidArgument {
                argument: "permits",
                reason: "at most 2^30",
            });
        }
        let shared = Segment::create("creating a semaphore")?;
        let words = shared.words();
        words.state.store(permits, Ordering::Release);
        words.max.store(UNBOUNDED, Ordering::Release);
        Ok(Semaphore(shared))
    }

    /// The permits available now (approximate, as other processes may change it).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::Semaphore::new(2)?.value(), 2);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `semaphore.get_value()`.
    pub fn value(&self) -> u32 {
        self.0.words().state.load(Ordering::Acquire) & !SLEEPERS
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<SemaphoreGuard<'_>> {
        let words = self.0.words();
        // Takes a permit while there is one, whatever else changes the word.
        let take = || {
            let mut seen = words.state.load(Ordering::Acquire);
            while seen & !SLEEPERS > 0 {
                match words.state.compare_exchange_weak(
                    seen,
                    seen - 1,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return true,
                    Err(now) => seen = now,
                }
            }
            false
        };
        if take() {
            return Some(SemaphoreGuard(self));
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return None;
        }
        static SPINNER: wire::Spinner = wire::Spinner::new();
        if SPINNER.spin_until(left.map_or(wire::SPIN, |l| l.min(wire::SPIN)), take) {
            return Some(SemaphoreGuard(self));
        }
        // The protocol: `shm/README.md`, section 5.
        words.waiting.fetch_add(1, Ordering::SeqCst);
        let taken = loop {
            if take() {
                break true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break false;
            }
            let seen = words.state.load(Ordering::SeqCst);
            if seen & !SLEEPERS > 0 {
                continue;
            }
            let asleep = seen | SLEEPERS;
            if seen != asleep
                && words
                    .state
                    .compare_exchange(seen, asleep, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            match self.sleeps_untimed() {
                true => shm::sleep_while_equal(&words.state, asleep, deadline),
                false => shm::wait_while_equal(&words.state, asleep, deadline),
            }
        };
        // The flag stays: the next release clears it if no one waits then.
        words.waiting.fetch_sub(1, Ordering::SeqCst);
        taken.then_some(SemaphoreGuard(self))
    }

    /// Whether a waiter may sleep with no time limit: every release adds
    /// its permit and wakes the sleepers in one step, so that no releaser
    /// killed between the two can leave one asleep. Not for a bounded
    /// semaphore, whose limit must be checked before the permit is added,
    /// nor once a release had to take two steps ([`Semaphore::two_steps`]).
    fn sleeps_untimed(&self) -> bool {
        let words = self.0.words();
        words.max.load(Ordering::Acquire) == UNBOUNDED
            && words.seq.load(Ordering::SeqCst) != TWO_STEPS
            && one_step_works()
    }

    /// Before a release of a semaphore that is not bounded takes two steps
    /// (this process's kernel refused the one): tells every waiter, for
    /// good, to look again every second from now on, and wakes the
    /// sleepers so that they do. Left undone only by a releaser killed
    /// in the instant between a waiter's look at the mark and its sleep.
    fn two_steps(&self) {
        let words = self.0.words();
        if words.max.load(Ordering::Acquire) == UNBOUNDED
            && words.seq.swap(TWO_STEPS, Ordering::SeqCst) != TWO_STEPS
        {
            shm::wake_all(&words.state);
        }
    }

    /// Waits for a permit and takes it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let sem = multiproc::Semaphore::new(1)?;
    /// let _permit = sem.acquire();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `semaphore.acquire()`.
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        // Without a deadline the wait ends only with the guard.
        loop {
            if let Some(guard) = self.acquire_until(None) {
                return guard;
            }
        }
    }

    /// Takes a permit if one is free now.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let sem = multiproc::Semaphore::new(0)?;
    /// assert!(sem.try_acquire().is_none());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `semaphore.acquire(block=False)`.
    pub fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        self.acquire_until(Some(Instant::now()))
    }

    /// Waits at most `timeout` for a permit.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let sem = multiproc::Semaphore::new(0)?;
    /// assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `semaphore.acquire(timeout=t)`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        self.acquire_until(wire::deadline(timeout))
    }

    /// Gives a permit back without a guard (a guard does this on drop).
    ///
    /// # Errors
    ///
    /// [`Error::OverReleased`] for a [`BoundedSemaphore`] already at its
    /// limit, or a semaphore that holds 2^30 permits.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let sem = multiproc::Semaphore::new(0)?;
    /// sem.release()?;
    /// assert_eq!(sem.value(), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `semaphore.release()`.
    pub fn release(&self) -> Result<()> {
        // The protocol: `shm/README.md`, section 5.
        let words = self.0.words();
        let max = words.max.load(Ordering::Acquire);
        loop {
            let seen = words.state.load(Ordering::SeqCst);
            if seen & !SLEEPERS >= max.min(LIMIT) {
                return Err(Error::OverReleased);
            }
            if seen & SLEEPERS == 0 {
                if words
                    .state
                    .compare_exchange(seen, seen + 1, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
                {
                    return Ok(());
                }
                continue;
            }
            if words.waiting.load(Ordering::SeqCst) == 0 {
                // No one waits: the flag goes, with a wake-up for any that
                // came meanwhile and sleep under it (they set it again).
                if !shm::change_and_wake(&words.state, Change::ClearHighBit, u32::MAX) {
                    self.two_steps();
                    words.state.fetch_and(!SLEEPERS, Ordering::SeqCst);
                    shm::wake_all(&words.state);
                }
                continue;
            }
            // The permit and the sleepers' wake-up in one step, unless the
            // limit of a bounded semaphore must hold exactly. All of them:
            // one woken alone that died before it took the permit would
            // leave the others asleep beside it.
            if max == UNBOUNDED && shm::change_and_wake(&words.state, Change::AddOne, u32::MAX) {
                return Ok(());
            }
            self.two_steps();
            if words
                .state
                .compare_exchange(seen, seen + 1, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
            {
                shm::wake(&words.state, 1);
                return Ok(());
            }
        }
    }
}

/// A [`Semaphore`] that refuses to be released above its initial value.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let sem = multiproc::BoundedSemaphore::new(1)?;
/// assert!(matches!(sem.release(), Err(multiproc::Error::OverReleased)));
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.BoundedSemaphore`.
#[derive(Clone, Debug)]
pub struct BoundedSemaphore(Semaphore);

// Told apart from a plain `Semaphore` on the wire, as `serde_as_segment!`
// tags the others.
impl Serialize for BoundedSemaphore {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0 .0.serialize_as(Kind::BoundedSemaphore, s)
    }
}

impl<'de> Deserialize<'de> for BoundedSemaphore {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Segment::deserialize_as(Kind::BoundedSemaphore, d).map(|s| BoundedSemaphore(Semaphore(s)))
    }
}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits, which is also its limit.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for more than 2^30 permits, and
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::BoundedSemaphore::new(2)?.value(), 2);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.BoundedSemaphore(2)`.
    pub fn new(permits: u32) -> Result<BoundedSemaphore> {
        let sem = Semaphore::new(permits)?;
        sem.0.words().max.store(permits, Ordering::Release);
        Ok(BoundedSemaphore(sem))
    }
}

impl std::ops::Deref for BoundedSemaphore {
    type Target = Semaphore;

    fn deref(&self) -> &Semaphore {
        &self.0
    }
}
