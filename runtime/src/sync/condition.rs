//! [`Condition`]: a condition variable shared by processes, with its own
//! lock and a slot per waiter (see `shm/README.md`).

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{SEGMENT, Segment};
use crate::error::{Error, Result};
use crate::shm::{self, RobustLock};
use crate::wire;

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

impl Segment {
    fn condition(&self) -> &ConditionPage {
        const { assert!(size_of::<ConditionPage>() as u64 <= SEGMENT) };
        // SAFETY: ConditionPage is repr(C), atomics only, valid when zero,
        // and fits in the segment (asserted above).
        unsafe { self.0.header() }
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
///     let _guard = cond.acquire();
///     ready.set(1);
///     cond.notify_all();
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let (cond, ready) = (Condition::new()?, Value::new(0u8)?);
/// let child = producer.spawn(cond.clone(), ready.clone())?;
/// let guard = cond.acquire();
/// let _guard = cond.wait_while(guard, || ready.get() == 0)?;
/// child.join()?;
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Condition`.
#[derive(Clone)]
pub struct Condition(Segment);

serde_as_segment!(Condition);

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
/// let guard = cond.acquire();
/// cond.notify_one();
/// drop(guard);
/// # Ok(())
/// # }
/// ```
///
/// Python: the `with condition:` block.
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct ConditionGuard<'a> {
    condition: &'a Condition,
    /// Held by this thread: elsewhere, `notify` and `wait` would take it again.
    _same_thread: std::marker::PhantomData<*const ()>,
}

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        let page = self.condition.0.condition();
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
                owner != me && shm::owner_gone(owner, shm::Whose::Process)
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
        Segment::create("creating a condition").map(Condition)
    }

    /// Takes the condition's lock.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// let _guard = cond.acquire();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.acquire()`.
    pub fn acquire(&self) -> ConditionGuard<'_> {
        let _ = self.0.condition().lock.lock(None);
        self.held()
    }

    /// The guard of the lock this thread has just taken.
    fn held(&self) -> ConditionGuard<'_> {
        let page = self.0.condition();
        page.holder.store(shm::thread_owner(), Ordering::Relaxed);
        ConditionGuard {
            condition: self,
            _same_thread: std::marker::PhantomData,
        }
    }

    /// Takes the condition's lock, waiting at most `timeout`; `None` if it stayed held.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// assert!(cond.acquire_timeout(Duration::from_millis(10)).is_some());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `condition.acquire(timeout=t)`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<ConditionGuard<'_>> {
        self.0
            .condition()
            .lock
            .lock(wire::deadline(timeout))
            .map(|_| self.held())
    }

    /// As [`wait_while`](Condition::wait_while), for at most `timeout`; also
    /// returns whether the condition stopped holding (`false`: timed out).
    ///
    /// # Errors
    ///
    /// [`Error::TooManyWaiters`] if as many processes as the condition has
    /// slots for wait on it already.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// let (_guard, done) = cond.wait_while_timeout(cond.acquire(), Duration::from_millis(10), || true)?;
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
    /// [`Error::TooManyWaiters`] if as many processes as the condition has
    /// slots for wait on it already.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// let guard = cond.acquire();
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
    /// [`Error::TooManyWaiters`] if as many processes as the condition has
    /// slots for wait on it already.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// let (guard, notified) = cond.wait_timeout(cond.acquire(), Duration::from_millis(10))?;
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
    /// [`Error::TooManyWaiters`] if as many processes as the condition has
    /// slots for wait on it already.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let cond = multiproc::Condition::new()?;
    /// let guard = cond.wait_while(cond.acquire(), || false)?;
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
        let guard = self.acquire();
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
    /// let _guard = cond.acquire();
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
            if owner != me && shm::owner_gone(owner, shm::Whose::Process) {
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
