//! [`Lock`]: a lock shared by processes.

use std::fmt;
use std::time::{Duration, Instant};

use super::Segment;
use crate::error::Result;
use crate::wire;

/// A lock shared by processes. `acquire` hands out a guard that releases on drop.
///
/// If a process dies while holding it, the next `acquire` does not deadlock:
/// it takes the lock over, and its guard's
/// [`previous_owner_died`](LockGuard::previous_owner_died) says so, so that
/// the caller can repair what the dead holder left half done.
///
/// # Examples
///
/// ```
/// use multiproc::Lock;
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let lock = Lock::new()?;
/// {
///     let _guard = lock.acquire();
///     // critical section
/// }
/// assert!(lock.try_acquire().is_some());
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Lock` (whose holder's death deadlocks everyone else).
#[derive(Clone)]
pub struct Lock(Segment);

serde_as_segment!(Lock);

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

/// Holds a [`Lock`]; releases it on drop.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let lock = multiproc::Lock::new()?;
/// let guard = lock.acquire();
/// assert!(!guard.previous_owner_died());
/// drop(guard);
/// # Ok(())
/// # }
/// ```
///
/// Python: the `with lock:` block.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    recovered: bool,
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("recovered", &self.recovered)
            .finish()
    }
}

impl LockGuard<'_> {
    /// Whether the lock was taken over from a process that died holding it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::Lock::new()?;
    /// assert!(!lock.acquire().previous_owner_died());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: no equivalent (a robust mutex's `EOWNERDEAD`).
    pub fn previous_owner_died(&self) -> bool {
        self.recovered
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.lock.0.words().lock.unlock();
    }
}

impl Lock {
    /// A new, free lock.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiproc::Lock::new()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Lock()`.
    pub fn new() -> Result<Lock> {
        Segment::create("creating a lock").map(Lock)
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<LockGuard<'_>> {
        self.0
            .words()
            .lock
            .lock(deadline)
            .map(|recovered| LockGuard {
                lock: self,
                recovered,
            })
    }

    /// Waits for the lock and takes it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::Lock::new()?;
    /// let _guard = lock.acquire();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `lock.acquire()`.
    pub fn acquire(&self) -> LockGuard<'_> {
        // Without a deadline the wait ends only with the guard.
        loop {
            if let Some(guard) = self.acquire_until(None) {
                return guard;
            }
        }
    }

    /// Takes the lock if it is free now; `None` if it is held.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::Lock::new()?;
    /// let held = lock.acquire();
    /// assert!(lock.try_acquire().is_none());
    /// drop(held);
    /// assert!(lock.try_acquire().is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `lock.acquire(block=False)`.
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        self.acquire_until(Some(Instant::now()))
    }

    /// Waits at most `timeout` for the lock; `None` if it stayed held.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::Lock::new()?;
    /// let _held = lock.acquire();
    /// assert!(lock.acquire_timeout(Duration::from_millis(10)).is_none());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `lock.acquire(timeout=t)`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<LockGuard<'_>> {
        self.acquire_until(wire::deadline(timeout))
    }
}
