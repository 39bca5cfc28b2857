//! [`Lock`], [`Event`], [`Semaphore`] and [`BoundedSemaphore`]: synchronization
//! between processes, each a small shared segment with futex waits (see `shm`).

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::shm::{self, Shm};
use crate::wire;

/// Bytes of every synchronization object's segment: one page.
const PAGE: u64 = 4096;

/// The words every object keeps in its segment; each uses the ones it needs.
#[repr(C)]
struct Words {
    /// A lock word (0 or the owner's pid), an event's flag, or a semaphore's count.
    state: AtomicU32,
    /// Moves on whenever waiters should look again.
    seq: AtomicU32,
    waiting: AtomicU32,
    /// A bounded semaphore's limit (0 when unbounded), or the levels an
    /// `RLock`'s owner holds beyond the first.
    max: AtomicU32,
}

/// A handle to a shared page of [`Words`]; clones share it.
#[derive(Clone)]
struct Shared(Arc<Shm>);

impl Shared {
    fn create(what: &'static str) -> Result<Shared> {
        Ok(Shared(Arc::new(Shm::create(what, PAGE)?)))
    }

    fn words(&self) -> &Words {
        // SAFETY: Words is repr(C), atomics only, valid when zero, and fits in a page.
        unsafe { self.0.header() }
    }
}

impl Serialize for Shared {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.0
            .export()
            .map_err(S::Error::custom)?
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Shared {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let fd: OwnedFd =
            wire::import_fd(u32::deserialize(deserializer)?).map_err(D::Error::custom)?;
        let shm = Shm::open("mapping a shared object", fd, PAGE).map_err(D::Error::custom)?;
        Ok(Shared(Arc::new(shm)))
    }
}

fn deadline(timeout: Duration) -> Option<Instant> {
    Some(Instant::now() + timeout)
}

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
///     let _guard = lock.acquire()?;
///     // critical section
/// }
/// assert!(lock.try_acquire()?.is_some());
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Lock` (whose holder's death deadlocks everyone else).
#[derive(Clone, Serialize, Deserialize)]
pub struct Lock(Shared);

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
/// let guard = lock.acquire()?;
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
    /// assert!(!lock.acquire()?.previous_owner_died());
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
        let words = self.lock.0.words();
        shm::unlock(&words.state, &words.waiting);
    }
}

impl Lock {
    /// A new, free lock.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
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
        Shared::create("creating a lock").map(Lock)
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<LockGuard<'_>> {
        let words = self.0.words();
        shm::lock(&words.state, &words.waiting, deadline).map(|recovered| LockGuard {
            lock: self,
            recovered,
        })
    }

    /// Waits for the lock and takes it.
    ///
    /// # Errors
    ///
    /// None at present; the `Result` keeps the triplet uniform with other objects.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::Lock::new()?;
    /// let _guard = lock.acquire()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `lock.acquire()`.
    pub fn acquire(&self) -> Result<LockGuard<'_>> {
        self.acquire_until(None)
            .ok_or(Error::Timeout(Duration::MAX))
    }

    /// Takes the lock if it is free now; `None` if it is held.
    ///
    /// # Errors
    ///
    /// None at present.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::Lock::new()?;
    /// let held = lock.acquire()?;
    /// assert!(lock.try_acquire()?.is_none());
    /// drop(held);
    /// assert!(lock.try_acquire()?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `lock.acquire(block=False)`.
    pub fn try_acquire(&self) -> Result<Option<LockGuard<'_>>> {
        Ok(self.acquire_until(Some(Instant::now())))
    }

    /// Waits at most `timeout` for the lock; `None` if it stayed held.
    ///
    /// # Errors
    ///
    /// None at present.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::Lock::new()?;
    /// let _held = lock.acquire()?;
    /// assert!(lock.acquire_timeout(Duration::from_millis(10))?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `lock.acquire(timeout=t)`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<LockGuard<'_>>> {
        Ok(self.acquire_until(deadline(timeout)))
    }
}

/// A lock that the thread holding it may take again; each guard releases one level.
///
/// Its owner is a thread (of any process). If the owner dies holding it, the
/// next `acquire` takes it over and its guard says so, as with [`Lock`].
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let lock = multiproc::RLock::new()?;
/// let outer = lock.acquire()?;
/// let inner = lock.acquire()?; // the same thread: no deadlock
/// drop(inner);
/// drop(outer);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.RLock`.
#[derive(Clone, Serialize, Deserialize)]
pub struct RLock(Shared);

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock").finish_non_exhaustive()
    }
}

/// Holds one level of an [`RLock`]; releases it on drop.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let lock = multiproc::RLock::new()?;
/// let guard = lock.acquire()?;
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
    /// assert!(!multiproc::RLock::new()?.acquire()?.previous_owner_died());
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
            shm::unlock(&words.state, &words.waiting);
        }
    }
}

impl RLock {
    /// A new, free re-entrant lock.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
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
        Shared::create("creating a lock").map(RLock)
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<RLockGuard<'_>> {
        let words = self.0.words();
        let me = shm::my_tid();
        if words.state.load(Ordering::Acquire) == me {
            words.max.fetch_add(1, Ordering::AcqRel);
            return Some(RLockGuard {
                lock: self,
                recovered: false,
            });
        }
        shm::lock_as(me, &words.state, &words.waiting, deadline).map(|recovered| {
            // A dead owner may have left levels behind.
            words.max.store(0, Ordering::Release);
            RLockGuard {
                lock: self,
                recovered,
            }
        })
    }

    /// Waits for the lock (or takes one more level of it) and holds it.
    ///
    /// # Errors
    ///
    /// None at present; the `Result` keeps the triplet uniform.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::RLock::new()?;
    /// let _a = lock.acquire()?;
    /// let _b = lock.acquire()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `rlock.acquire()`.
    pub fn acquire(&self) -> Result<RLockGuard<'_>> {
        self.acquire_until(None)
            .ok_or(Error::Timeout(Duration::MAX))
    }

    /// Takes the lock if it is free now or already this thread's.
    ///
    /// # Errors
    ///
    /// None at present.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::RLock::new()?;
    /// assert!(lock.try_acquire()?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `rlock.acquire(block=False)`.
    pub fn try_acquire(&self) -> Result<Option<RLockGuard<'_>>> {
        Ok(self.acquire_until(Some(Instant::now())))
    }

    /// Waits at most `timeout` for the lock.
    ///
    /// # Errors
    ///
    /// None at present.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let lock = multiproc::RLock::new()?;
    /// assert!(lock.acquire_timeout(Duration::from_millis(10))?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `rlock.acquire(timeout=t)`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<RLockGuard<'_>>> {
        Ok(self.acquire_until(deadline(timeout)))
    }
}

/// A flag processes can wait on until another sets it.
///
/// # Examples
///
/// ```
/// use multiproc::{process, Event};
///
/// #[process]
/// fn waiter(ev: Event) -> bool {
///     ev.wait_timeout(std::time::Duration::from_secs(10))
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let ev = Event::new()?;
/// let child = waiter.spawn(ev.clone())?;
/// ev.set();
/// assert!(child.join()?);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Event`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Event(Shared);

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

impl Event {
    /// A new event, not set.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!multiproc::Event::new()?.is_set());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Event()`.
    pub fn new() -> Result<Event> {
        Shared::create("creating an event").map(Event)
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = multiproc::Event::new()?;
    /// ev.set();
    /// assert!(ev.is_set());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.set()`.
    pub fn set(&self) {
        let words = self.0.words();
        words.state.store(1, Ordering::Release);
        shm::bump(&words.seq, &words.waiting, true);
    }

    /// Clears the flag.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = multiproc::Event::new()?;
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.clear()`.
    pub fn clear(&self) {
        self.0.words().state.store(0, Ordering::Release);
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!multiproc::Event::new()?.is_set());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.is_set()`.
    pub fn is_set(&self) -> bool {
        self.0.words().state.load(Ordering::Acquire) != 0
    }

    /// Waits until the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = multiproc::Event::new()?;
    /// ev.set();
    /// ev.wait();
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.wait()`.
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Waits at most `timeout`; returns whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let ev = multiproc::Event::new()?;
    /// assert!(!ev.wait_timeout(Duration::from_millis(10)));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(deadline(timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let words = self.0.words();
        loop {
            let seen = words.seq.load(Ordering::Acquire);
            if self.is_set() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            shm::wait_change(&words.seq, &words.waiting, seen, deadline);
        }
    }
}

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
/// let a = sem.acquire()?;
/// let b = sem.acquire()?;
/// assert!(sem.try_acquire()?.is_none());
/// drop(a);
/// assert!(sem.try_acquire()?.is_some());
/// # drop(b);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Semaphore`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Semaphore(Shared);

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
///     let _permit = sem.acquire()?;
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
        let shared = Shared::create("creating a semaphore")?;
        shared.words().state.store(permits, Ordering::Release);
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
    /// # Errors
    ///
    /// None at present; the `Result` keeps the triplet uniform.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let sem = multiproc::Semaphore::new(1)?;
    /// let _permit = sem.acquire()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `semaphore.acquire()`.
    pub fn acquire(&self) -> Result<SemaphoreGuard<'_>> {
        self.acquire_until(None)
            .ok_or(Error::Timeout(Duration::MAX))
    }

    /// Takes a permit if one is free now.
    ///
    /// # Errors
    ///
    /// None at present.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let sem = multiproc::Semaphore::new(0)?;
    /// assert!(sem.try_acquire()?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `semaphore.acquire(block=False)`.
    pub fn try_acquire(&self) -> Result<Option<SemaphoreGuard<'_>>> {
        Ok(self.acquire_until(Some(Instant::now())))
    }

    /// Waits at most `timeout` for a permit.
    ///
    /// # Errors
    ///
    /// None at present.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let sem = multiproc::Semaphore::new(0)?;
    /// assert!(sem.acquire_timeout(Duration::from_millis(10))?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `semaphore.acquire(timeout=t)`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<SemaphoreGuard<'_>>> {
        Ok(self.acquire_until(deadline(timeout)))
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
                (max == 0 || n < max).then_some(n + 1)
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
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BoundedSemaphore(Semaphore);

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
        sem.0.words().max.store(permits.max(1), Ordering::Release);
        Ok(BoundedSemaphore(sem))
    }
}

impl std::ops::Deref for BoundedSemaphore {
    type Target = Semaphore;

    fn deref(&self) -> &Semaphore {
        &self.0
    }
}
