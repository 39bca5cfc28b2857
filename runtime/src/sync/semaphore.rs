//! [`Semaphore`] and [`BoundedSemaphore`]: counters of permits.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Kind, Segment};
use crate::error::{Error, Result};
use crate::shm;
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
    /// A semaphore with `permits` permits.
    ///
    /// # Errors
    ///
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
        let shared = Segment::create("creating a semaphore")?;
        let words = shared.words();
        words.state.store(permits, Ordering::Release);
        words.max.store(u32::MAX, Ordering::Release);
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
        self.0.words().state.load(Ordering::Acquire)
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<SemaphoreGuard<'_>> {
        let words = self.0.words();
        loop {
            let seen = words.seq.load(Ordering::Acquire);
            let permits = words.state.load(Ordering::Acquire);
            if permits > 0 {
                if words
                    .state
                    .compare_exchange(permits, permits - 1, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    return Some(SemaphoreGuard(self));
                }
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            shm::wait_change(&words.seq, &words.waiting, seen, deadline);
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
    /// [`Error::OverReleased`] for a [`BoundedSemaphore`] already at its limit.
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
        let words = self.0.words();
        let max = words.max.load(Ordering::Acquire);
        words
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| Error::OverReleased)?;
        shm::bump(&words.seq, &words.waiting, false);
        Ok(())
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
