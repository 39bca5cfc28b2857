//! [`RLock`]: a lock its holding thread may take again.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::Segment;
use crate::error::Result;
use crate::shm;
use crate::wire;

/// A lock that the thread holding it may take again; each guard releases one level.
///
/// Its owner is a thread (of any process). If the owner dies holding it, the
/// next `acquire` takes it over and its guard says so, as with [`Lock`](crate::Lock).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let lock = multiproc::RLock::new()?;
/// let outer = lock.acquire();
/// let inner = lock.acquire(); // the same thread: no deadlock
/// drop(inner);
/// drop(outer);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.RLock`.
#[derive(Clone)]
pub struct RLock(Segment);

serde_as_segment!(RLock);

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock").finish_non_exhaustive()
    }
}

/// Holds one level of an [`RLock`]; releases it on drop.
///
/// It stays on the thread that acquired it (it is not `Send`), since the
/// owner of an `RLock` is a thread.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let lock = multiproc::RLock::new()?;
/// let guard = lock.acquire();
/// assert!(!guard.previous_owner_died());
/// # Ok(())
/// # }
/// ```
///
/// Python: the `with rlock:` block.
#[must_use = "the level is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    recovered: bool,
    /// The owner of an `RLock` is a thread: moved to another one, the guard
    /// would let the first thread take the lock again while it is held.
    _same_thread: std::marker::PhantomData<*const ()>,
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("recovered", &self.recovered)
            .finish()
    }
}

impl RLockGuard<'_> {
    /// Whether the lock was taken over from a thread that died holding it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// assert!(!multiproc::RLock::new()?.acquire().previous_owner_died());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: no equivalent.
    pub fn previous_owner_died(&self) -> bool {
        self.recovered
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        let words = self.lock.0.words();
        // `max` counts the levels held beyond the first.
        if words.max.load(Ordering::Acquire) > 0 {
            words.max.fetch_sub(1, Ordering::AcqRel);
        } else {
            words.lock.unlock();
        }
    }
}

impl RLock {
    /// A new, free re-entrant lock.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiproc::RLock::new()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.RLock()`.
    pub fn new() -> Result<RLock> {
        Segment::create("creating a lock").map(RLock)
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<RLockGuard<'_>> {
        let words = self.0.words();
        let me = shm::thread_owner();
        if words.lock.is_held_by(me) {
            words.max.fetch_add(1, Ordering::AcqRel);
            return Some(RLockGuard {
                lock: self,
                recovered: false,
                _same_thread: std::marker::PhantomData,
            });
        }
        words.lock.lock_as(me, shm::Whose::Thread, deadline).map(|recovered| {
            // A dead owner may have left levels behind.
            words.max.store(0, Ordering::Release);
            RLockGuard {
                lock: self,
                recovered,
                _same_thread: std::marker::PhantomData,
            }
        })
    }

    /// Waits for the lock (or takes one more level of it) and holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::RLock::new()?;
    /// let _a = lock.acquire();
    /// let _b = lock.acquire();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `rlock.acquire()`.
    pub fn acquire(&self) -> RLockGuard<'_> {
        // Without a deadline the wait ends only with the guard.
        loop {
            if let Some(guard) = self.acquire_until(None) {
                return guard;
            }
        }
    }

    /// Takes the lock if it is free now or already this thread's.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::RLock::new()?;
    /// assert!(lock.try_acquire().is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `rlock.acquire(block=False)`.
    pub fn try_acquire(&self) -> Option<RLockGuard<'_>> {
        self.acquire_until(Some(Instant::now()))
    }

    /// Waits at most `timeout` for the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::RLock::new()?;
    /// assert!(lock.acquire_timeout(Duration::from_millis(10)).is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `rlock.acquire(timeout=t)`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<RLockGuard<'_>> {
        self.acquire_until(wire::deadline(timeout))
    }
}
