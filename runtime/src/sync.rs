//! [`Lock`], [`Event`], [`Semaphore`] and [`BoundedSemaphore`]: synchronization
//! between processes, each a small shared segment with futex waits (see `shm`).

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::shm::{self, RobustLock, Shm};
use crate::wire;

/// Bytes of every synchronization object's segment: room for a
/// [`Condition`]'s waiter slots. Pages no object touches are never allocated.
const SEGMENT: u64 = 16 << 10;

/// The words every object but a condition or barrier keeps in its segment;
/// each uses the ones it needs.
#[repr(C)]
struct Words {
    lock: RobustLock,
    /// An event's flag, or a semaphore's count.
    state: AtomicU32,
    /// Moves on whenever waiters should look again.
    seq: AtomicU32,
    waiting: AtomicU32,
    /// A bounded semaphore's limit (0 when unbounded), or the levels an
    /// `RLock`'s owner holds beyond the first.
    max: AtomicU32,
}

/// A handle to a shared segment; clones share it.
#[derive(Clone)]
struct Shared(Arc<Shm>);

impl Shared {
    fn create(what: &'static str) -> Result<Shared> {
        Ok(Shared(Arc::new(Shm::create(what, SEGMENT)?)))
    }

    fn words(&self) -> &Words {
        // SAFETY: Words is repr(C), atomics only, valid when zero, and fits in the segment.
        unsafe { self.0.header() }
    }

    fn condition(&self) -> &ConditionPage {
        const { assert!(size_of::<ConditionPage>() as u64 <= SEGMENT) };
        // SAFETY: ConditionPage is repr(C), atomics only, valid when zero,
        // and fits in the segment (asserted above).
        unsafe { self.0.header() }
    }

    fn barrier(&self) -> &BarrierWords {
        // SAFETY: BarrierWords is repr(C), atomics only, valid when zero, and fits in the segment.
        unsafe { self.0.header() }
    }
}

/// A [`Condition`]: its lock, and a slot per waiter. See `shm/README.md`.
#[repr(C)]
struct ConditionPage {
    lock: RobustLock,
    /// Tickets handed out so far (under `lock`); an older ticket waited longer.
    tickets: AtomicU32,
    /// Slots from this index on are free (under `lock`).
    used: AtomicU32,
    /// The thread holding `lock` through a guard, as `shm::thread_owner`
    /// gives it; 0 when none. The lock's owner is a process, and `notify`
    /// must tell whether the calling thread is the one holding it.
    holder: AtomicU64,
    slots: [Slot; SLOTS],
}

/// Waiters one [`Condition`] holds at once: what fits after the page's first 24 bytes.
const SLOTS: usize = (SEGMENT as usize - 24) / size_of::<Slot>();

/// One waiter of a [`Condition`]; written under its lock, but for `state`,
/// which the waiter sleeps on.
#[repr(C)]
struct Slot {
    state: AtomicU32,
    ticket: AtomicU32,
    owner: AtomicU64,
}

const FREE: u32 = 0;
const WAITING: u32 = 1;
const NOTIFIED: u32 = 2;

/// The words of a [`Barrier`].
#[repr(C)]
struct BarrierWords {
    lock: RobustLock,
    /// Parties arrived in this generation.
    arrived: AtomicU32,
    parties: AtomicU32,
    /// Moves on at every generation.
    seq: AtomicU32,
    seq_waiting: AtomicU32,
    /// Set when broken, until a reset.
    broken: AtomicU32,
    /// How recent generations ended: `generation << 2 | PASSED` or `| BROKE`,
    /// at `generation % OUTCOMES`, for waiters that look after their
    /// generation ended (under `lock`).
    outcomes: [AtomicU64; OUTCOMES],
}

/// Generations whose outcome a [`Barrier`] remembers.
const OUTCOMES: usize = 64;
const PASSED: u64 = 1;
const BROKE: u64 = 2;

impl BarrierWords {
    /// Ends the current generation with `outcome` and wakes its waiters; the
    /// lock is held.
    fn end_generation(&self, outcome: u64) {
        let generation = self.seq.load(Ordering::Relaxed);
        self.outcomes[generation as usize % OUTCOMES]
            .store(u64::from(generation) << 2 | outcome, Ordering::Release);
        self.arrived.store(0, Ordering::Relaxed);
        shm::bump(&self.seq, &self.seq_waiting, true);
    }

    /// Whether `generation`, which has ended, passed (rather than broke). A
    /// generation so old that its outcome was overwritten counts as broken.
    fn passed(&self, generation: u32) -> bool {
        self.outcomes[generation as usize % OUTCOMES].load(Ordering::Acquire)
            == u64::from(generation) << 2 | PASSED
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
        let shm = Shm::open("mapping a shared object", fd, SEGMENT).map_err(D::Error::custom)?;
        Ok(Shared(Arc::new(shm)))
    }
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
        self.lock.0.words().lock.unlock();
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
        // Without a deadline the wait ends only with the guard.
        loop {
            if let Some(guard) = self.acquire_until(None) {
                return Ok(guard);
            }
        }
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
        Ok(self.acquire_until(wire::deadline(timeout)))
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
/// It stays on the thread that acquired it (it is not `Send`), since the
/// owner of an `RLock` is a thread.
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
            words.lock.unlock();
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
        let me = shm::thread_owner();
        if words.lock.is_held_by(me) {
            words.max.fetch_add(1, Ordering::AcqRel);
            return Some(RLockGuard {
                lock: self,
                recovered: false,
                _same_thread: std::marker::PhantomData,
            });
        }
        words.lock.lock_as(me, deadline).map(|recovered| {
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
        // Without a deadline the wait ends only with the guard.
        loop {
            if let Some(guard) = self.acquire_until(None) {
                return Ok(guard);
            }
        }
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
        Ok(self.acquire_until(wire::deadline(timeout)))
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
        self.wait_until(wire::deadline(timeout))
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
        // Without a deadline the wait ends only with the guard.
        loop {
            if let Some(guard) = self.acquire_until(None) {
                return Ok(guard);
            }
        }
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
        Ok(self.acquire_until(wire::deadline(timeout)))
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

/// A condition variable shared by processes, with its own lock.
///
/// As with `std::sync::Condvar`, a wait may end without a notification;
/// [`wait_while`](Condition::wait_while) loops until the condition holds.
///
/// # Examples
///
/// ```
/// use multiproc::{process, Condition, Value};
///
/// #[process]
/// fn producer(cond: Condition, ready: Value<u8>) {
///     let _guard = cond.acquire().unwrap();
///     ready.set(1);
///     cond.notify_all();
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let (cond, ready) = (Condition::new()?, Value::new(0u8)?);
/// let child = producer.spawn(cond.clone(), ready.clone())?;
/// let guard = cond.acquire()?;
/// let _guard = cond.wait_while(guard, || ready.get() == 0)?;
/// child.join()?;
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Condition`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Condition(Shared);

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition").finish_non_exhaustive()
    }
}

/// Holds a [`Condition`]'s lock; releases it on drop.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let cond = multiproc::Condition::new()?;
/// let guard = cond.acquire()?;
/// cond.notify_one();
/// drop(guard);
/// # Ok(())
/// # }
/// ```
///
/// Python: the `with condition:` block.
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct ConditionGuard<'a>(&'a Condition);

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        let page = self.0.0.condition();
        page.holder.store(0, Ordering::Relaxed);
        page.lock.unlock();
    }
}

/// A free slot for a new waiter of the condition at `page`, whose lock the
/// caller holds, marked waiting; `None` if every slot is taken by a live waiter.
fn take_slot(page: &ConditionPage) -> Option<&Slot> {
    let used = (page.used.load(Ordering::Relaxed) as usize).min(SLOTS);
    let me = shm::process_owner();
    let slot = page.slots[..used]
        .iter()
        .find(|slot| slot.state.load(Ordering::Relaxed) == FREE)
        .or_else(|| {
            let slot = page.slots.get(used)?;
            page.used.store(used as u32 + 1, Ordering::Relaxed);
            Some(slot)
        })
        .or_else(|| {
            page.slots.iter().find(|slot| {
                let owner = slot.owner.load(Ordering::Relaxed);
                owner != me && shm::owner_gone(owner)
            })
        })?;
    slot.owner.store(me, Ordering::Relaxed);
    slot.ticket.store(
        page.tickets.fetch_add(1, Ordering::Relaxed),
        Ordering::Relaxed,
    );
    slot.state.store(WAITING, Ordering::Release);
    Some(slot)
}

impl Condition {
    /// A new condition variable.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiproc::Condition::new()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Condition()`.
    pub fn new() -> Result<Condition> {
        Shared::create("creating a condition").map(Condition)
    }

    /// Takes the condition's lock.
    ///
    /// # Errors
    ///
    /// None at present; the `Result` keeps the API uniform.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// let _guard = cond.acquire()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.acquire()`.
    pub fn acquire(&self) -> Result<ConditionGuard<'_>> {
        let _ = self.0.condition().lock.lock(None);
        Ok(self.held())
    }

    /// The guard of the lock this thread has just taken.
    fn held(&self) -> ConditionGuard<'_> {
        let page = self.0.condition();
        page.holder.store(shm::thread_owner(), Ordering::Relaxed);
        ConditionGuard(self)
    }

    /// Takes the condition's lock, waiting at most `timeout`; `None` if it stayed held.
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
    /// let cond = multiproc::Condition::new()?;
    /// assert!(cond.acquire_timeout(Duration::from_millis(10))?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.acquire(timeout=t)`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<ConditionGuard<'_>>> {
        Ok(self
            .0
            .condition()
            .lock
            .lock(wire::deadline(timeout))
            .map(|_| self.held()))
    }

    /// As [`wait_while`](Condition::wait_while), for at most `timeout`; also
    /// returns whether the condition stopped holding (`false`: timed out).
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
    /// let cond = multiproc::Condition::new()?;
    /// let (_guard, done) = cond.wait_while_timeout(cond.acquire()?, Duration::from_millis(10), || true)?;
    /// assert!(!done);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.wait_for(lambda: not condition(), timeout)`.
    pub fn wait_while_timeout<'a>(
        &'a self,
        mut guard: ConditionGuard<'a>,
        timeout: Duration,
        mut condition: impl FnMut() -> bool,
    ) -> Result<(ConditionGuard<'a>, bool)> {
        let until = wire::deadline(timeout);
        while condition() {
            if until.is_some_and(|d| Instant::now() >= d) {
                return Ok((guard, false));
            }
            guard = self.wait_until(guard, until)?.0;
        }
        Ok((guard, true))
    }

    /// Releases the lock, waits for a notification, and takes the lock again.
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
    /// let cond = multiproc::Condition::new()?;
    /// let guard = cond.acquire()?;
    /// let (_guard, notified) = cond.wait_timeout(guard, Duration::from_millis(10))?;
    /// assert!(!notified);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.wait()`.
    pub fn wait<'a>(&'a self, guard: ConditionGuard<'a>) -> Result<ConditionGuard<'a>> {
        self.wait_until(guard, None).map(|(guard, _)| guard)
    }

    /// As [`wait`](Condition::wait), for at most `timeout`; also returns
    /// whether a notification came. The lock is held again either way.
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
    /// let cond = multiproc::Condition::new()?;
    /// let (guard, notified) = cond.wait_timeout(cond.acquire()?, Duration::from_millis(10))?;
    /// assert!(!notified);
    /// drop(guard);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.wait(timeout)`.
    pub fn wait_timeout<'a>(
        &'a self,
        guard: ConditionGuard<'a>,
        timeout: Duration,
    ) -> Result<(ConditionGuard<'a>, bool)> {
        self.wait_until(guard, wire::deadline(timeout))
    }

    /// Waits while `condition()` holds (checked with the lock held).
    ///
    /// # Errors
    ///
    /// None at present.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// let guard = cond.wait_while(cond.acquire()?, || false)?;
    /// # drop(guard);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.wait_for(lambda: not condition())`.
    pub fn wait_while<'a>(
        &'a self,
        mut guard: ConditionGuard<'a>,
        mut condition: impl FnMut() -> bool,
    ) -> Result<ConditionGuard<'a>> {
        while condition() {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    fn wait_until<'a>(
        &'a self,
        guard: ConditionGuard<'a>,
        deadline: Option<Instant>,
    ) -> Result<(ConditionGuard<'a>, bool)> {
        let page = self.0.condition();
        let slot = take_slot(page).ok_or(Error::TooManyWaiters { limit: SLOTS })?;
        drop(guard);
        while slot.state.load(Ordering::Acquire) == WAITING
            && deadline.is_none_or(|d| Instant::now() < d)
        {
            shm::wait_while_equal(&slot.state, WAITING, deadline);
        }
        let guard = self.acquire()?;
        // Under the lock again: a notification that came after the timeout
        // but before this point was meant for this waiter, and counts.
        let notified = slot.state.swap(FREE, Ordering::AcqRel) == NOTIFIED;
        let mut used = (page.used.load(Ordering::Relaxed) as usize).min(SLOTS);
        while used > 0 && page.slots[used - 1].state.load(Ordering::Relaxed) == FREE {
            used -= 1;
        }
        page.used.store(used as u32, Ordering::Relaxed);
        Ok((guard, notified))
    }

    /// Wakes up to `n` of the processes and threads waiting now, those that
    /// have waited longest first. Call it with the lock held, as in Python;
    /// without it, it takes the lock itself for the notification.
    ///
    /// A notification never goes to a waiter that starts waiting after it,
    /// nor to one that died waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// let _guard = cond.acquire()?;
    /// cond.notify(2);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.notify(n)`.
    pub fn notify(&self, n: u32) {
        let page = self.0.condition();
        let me = shm::process_owner();
        let held_here =
            page.holder.load(Ordering::Relaxed) == shm::thread_owner() && page.lock.is_held_by(me);
        let _locked = (!held_here).then(|| self.acquire());
        let used = (page.used.load(Ordering::Relaxed) as usize).min(SLOTS);
        let mut waiting: Vec<&Slot> = page.slots[..used]
            .iter()
            .filter(|slot| slot.state.load(Ordering::Relaxed) == WAITING)
            .collect();
        let tickets = page.tickets.load(Ordering::Relaxed);
        waiting.sort_by_key(|slot| {
            std::cmp::Reverse(tickets.wrapping_sub(slot.ticket.load(Ordering::Relaxed)))
        });
        let mut left = n;
        for slot in waiting {
            if left == 0 {
                break;
            }
            let owner = slot.owner.load(Ordering::Relaxed);
            if owner != me && shm::owner_gone(owner) {
                slot.state.store(FREE, Ordering::Relaxed);
                continue;
            }
            if slot
                .state
                .compare_exchange(WAITING, NOTIFIED, Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                shm::wake_all(&slot.state);
                left -= 1;
            }
        }
    }

    /// Wakes one waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// cond.notify_one();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.notify()`.
    pub fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// cond.notify_all();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.notify_all()`.
    pub fn notify_all(&self) {
        self.notify(u32::MAX);
    }
}

/// A meeting point: `wait` returns once `parties` processes (or threads) have
/// called it.
///
/// # Examples
///
/// ```
/// use multiproc::{process, Barrier};
///
/// #[process]
/// fn party(bar: Barrier) -> u32 {
///     bar.wait().unwrap()
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let bar = Barrier::new(3)?;
/// let children: Vec<_> = (0..2).map(|_| party.spawn(bar.clone())).collect::<Result<_, _>>()?;
/// let mine = bar.wait()?;
/// let mut indices: Vec<u32> = children.into_iter().map(|c| c.join()).collect::<Result<_, _>>()?;
/// indices.push(mine);
/// indices.sort();
/// assert_eq!(indices, [0, 1, 2]);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Barrier`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Barrier(Shared);

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}

impl Barrier {
    /// A barrier for `parties` participants (at least one).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let bar = multiproc::Barrier::new(1)?;
    /// assert_eq!(bar.wait()?, 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Barrier(parties)`.
    pub fn new(parties: u32) -> Result<Barrier> {
        let shared = Shared::create("creating a barrier")?;
        shared
            .barrier()
            .parties
            .store(parties.max(1), Ordering::Release);
        Ok(Barrier(shared))
    }

    /// Waits for every party; returns this caller's arrival index, `0..parties`.
    ///
    /// # Errors
    ///
    /// [`Error::BrokenBarrier`] if the barrier is or becomes broken
    /// ([`abort`](Barrier::abort), [`reset`](Barrier::reset), or a timeout).
    /// The barrier remembers how its last 64 generations ended; a waiter
    /// that wakes only after 64 more have ended (possible only with more
    /// waiters than parties, or with repeated aborts) is told it broke.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let bar = multiproc::Barrier::new(1)?;
    /// assert_eq!(bar.wait()?, 0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `barrier.wait()`.
    pub fn wait(&self) -> Result<u32> {
        self.wait_until(None)
    }

    /// As [`wait`](Barrier::wait), for at most `timeout`; a timeout breaks the
    /// barrier for everyone, as in Python.
    ///
    /// # Errors
    ///
    /// [`Error::BrokenBarrier`] on timeout or if the barrier is broken.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let bar = multiproc::Barrier::new(2)?;
    /// assert!(bar.wait_timeout(Duration::from_millis(10)).is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `barrier.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32> {
        self.wait_until(wire::deadline(timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<u32> {
        let words = self.0.barrier();
        let _ = words.lock.lock(None);
        if words.broken.load(Ordering::Acquire) != 0 {
            words.lock.unlock();
            return Err(Error::BrokenBarrier);
        }
        let generation = words.seq.load(Ordering::Acquire);
        let index = words.arrived.fetch_add(1, Ordering::AcqRel);
        if index + 1 >= words.parties.load(Ordering::Acquire) {
            words.end_generation(PASSED);
            words.lock.unlock();
            return Ok(index);
        }
        words.lock.unlock();
        loop {
            if words.seq.load(Ordering::Acquire) != generation {
                return if words.passed(generation) {
                    Ok(index)
                } else {
                    Err(Error::BrokenBarrier)
                };
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // A timeout breaks this generation for everyone, as in
                // Python, unless it ended meanwhile.
                let _ = words.lock.lock(None);
                if words.seq.load(Ordering::Acquire) == generation {
                    words.broken.store(1, Ordering::Release);
                    words.end_generation(BROKE);
                }
                words.lock.unlock();
                continue;
            }
            shm::wait_change(&words.seq, &words.seq_waiting, generation, deadline);
        }
    }

    /// Breaks the barrier: every current and future `wait` fails until `reset`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let bar = multiproc::Barrier::new(2)?;
    /// bar.abort();
    /// assert!(bar.wait().is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `barrier.abort()`.
    pub fn abort(&self) {
        let words = self.0.barrier();
        let _ = words.lock.lock(None);
        words.broken.store(1, Ordering::Release);
        words.end_generation(BROKE);
        words.lock.unlock();
    }

    /// Makes the barrier usable again; parties waiting now fail with
    /// [`Error::BrokenBarrier`], as in Python.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let bar = multiproc::Barrier::new(1)?;
    /// bar.abort();
    /// bar.reset();
    /// assert_eq!(bar.wait()?, 0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `barrier.reset()`.
    pub fn reset(&self) {
        let words = self.0.barrier();
        let _ = words.lock.lock(None);
        if words.arrived.load(Ordering::Relaxed) > 0 {
            words.end_generation(BROKE);
        }
        words.broken.store(0, Ordering::Release);
        words.lock.unlock();
    }
    /// The number of parties the barrier waits for.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::Barrier::new(3)?.parties(), 3);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.parties`.
    pub fn parties(&self) -> u32 {
        self.0.barrier().parties.load(Ordering::Acquire)
    }

    /// The number of parties waiting now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::Barrier::new(3)?.n_waiting(), 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.n_waiting`.
    pub fn n_waiting(&self) -> u32 {
        self.0.barrier().arrived.load(Ordering::Acquire)
    }

    /// Whether the barrier is broken (until a [`reset`](Barrier::reset)).
    ///
    /// # Examples
    ///
    /// ```
    /// let bar = multiproc::Barrier::new(2)?;
    /// bar.abort();
    /// assert!(bar.is_broken());
    /// bar.reset();
    /// assert!(!bar.is_broken());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.broken`.
    pub fn is_broken(&self) -> bool {
        self.0.barrier().broken.load(Ordering::Acquire) != 0
    }
}
