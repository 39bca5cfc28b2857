//! Proxies to the manager's synchronization objects and queues.
//!
//! They behave like the shared-memory objects of `crate::sync` and
//! `crate::queue`, but live in the manager, so they also work between
//! machines. A blocked call waits in the server; its `_timeout` form is
//! timed there too.

use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::protocol::{Kind, Op};
use super::{Manager, ObjectRef, encode, proxy_type};
use crate::error::{Error, Result};
use crate::queue::PutError;

proxy_type!(
    /// A lock in a manager.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let lock = manager.lock()?;
    /// let guard = lock.acquire()?;
    /// assert!(lock.try_acquire()?.is_none());
    /// drop(guard);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Lock()`.
    LockProxy
);

proxy_type!(
    /// A reentrant lock in a manager: the thread holding it may take it again.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let lock = manager.rlock()?;
    /// let outer = lock.acquire()?;
    /// let inner = lock.acquire()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.RLock()`.
    RLockProxy
);

proxy_type!(
    /// A semaphore in a manager, bounded or not.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let slots = manager.semaphore(2)?;
    /// let _a = slots.acquire()?;
    /// assert_eq!(slots.value()?, 1);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Semaphore(2)`.
    SemaphoreProxy
);

proxy_type!(
    /// A condition variable in a manager, with its own reentrant lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let cond = manager.condition()?;
    /// let guard = cond.acquire()?;
    /// let (_guard, notified) = cond.wait_timeout(guard, std::time::Duration::from_millis(1))?;
    /// assert!(!notified);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Condition()`.
    ConditionProxy
);

proxy_type!(
    /// An event in a manager.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let ready = manager.event()?;
    /// ready.set()?;
    /// ready.wait()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Event()`.
    EventProxy
);

proxy_type!(
    /// A barrier in a manager.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let barrier = manager.barrier(1)?;
    /// assert_eq!(barrier.wait()?, 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Barrier(1)`.
    BarrierProxy
);

proxy_type!(
    /// A FIFO queue in a manager, with `task_done` and `join`.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let q = manager.queue::<String>()?;
    /// q.put("job".into())?;
    /// assert_eq!(q.get()?, "job");
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Queue()` or `manager.JoinableQueue()`.
    QueueProxy<T>
);

impl Manager {
    /// A new, free lock.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiproc::Manager::start()?.lock()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Lock()`.
    pub fn lock(&self) -> Result<LockProxy> {
        self.make(Kind::Lock { reentrant: false })
    }

    /// A new, free reentrant lock.
    ///
    /// # Errors
    ///
    /// As [`Manager::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = multiproc::Manager::start()?.rlock()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.RLock()`.
    pub fn rlock(&self) -> Result<RLockProxy> {
        self.make(Kind::Lock { reentrant: true })
    }

    /// A new semaphore with `value` permits.
    ///
    /// # Errors
    ///
    /// As [`Manager::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = multiproc::Manager::start()?.semaphore(3)?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Semaphore(3)`.
    pub fn semaphore(&self, value: u32) -> Result<SemaphoreProxy> {
        self.make(Kind::Semaphore {
            value,
            bounded: false,
        })
    }

    /// A new semaphore with `value` permits that may never hold more.
    ///
    /// # Errors
    ///
    /// As [`Manager::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = multiproc::Manager::start()?.bounded_semaphore(1)?;
    /// assert!(matches!(s.release(), Err(multiproc::Error::OverReleased)));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.BoundedSemaphore(1)`.
    pub fn bounded_semaphore(&self, value: u32) -> Result<SemaphoreProxy> {
        self.make(Kind::Semaphore {
            value,
            bounded: true,
        })
    }

    /// A new condition variable.
    ///
    /// # Errors
    ///
    /// As [`Manager::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiproc::Manager::start()?.condition()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Condition()`.
    pub fn condition(&self) -> Result<ConditionProxy> {
        self.make(Kind::Condition)
    }

    /// A new, clear event.
    ///
    /// # Errors
    ///
    /// As [`Manager::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// let e = multiproc::Manager::start()?.event()?;
    /// assert!(!e.is_set()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Event()`.
    pub fn event(&self) -> Result<EventProxy> {
        self.make(Kind::Event)
    }

    /// A new barrier for `parties` waiters.
    ///
    /// # Errors
    ///
    /// As [`Manager::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// let b = multiproc::Manager::start()?.barrier(3)?;
    /// assert_eq!(b.parties()?, 3);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Barrier(3)`.
    pub fn barrier(&self, parties: u32) -> Result<BarrierProxy> {
        self.make(Kind::Barrier { parties })
    }

    /// A new, unbounded queue.
    ///
    /// # Errors
    ///
    /// As [`Manager::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue::<u32>()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Queue()`.
    pub fn queue<T>(&self) -> Result<QueueProxy<T>> {
        self.make(Kind::Queue { maxsize: None })
    }

    /// A new queue that holds at most `maxsize` items (0: no bound, as in Python).
    ///
    /// # Errors
    ///
    /// As [`Manager::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue_bounded::<u32>(1)?;
    /// q.put(1)?;
    /// assert!(q.full()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Queue(maxsize)`.
    pub fn queue_bounded<T>(&self, maxsize: usize) -> Result<QueueProxy<T>> {
        self.make(Kind::Queue {
            maxsize: Some(maxsize),
        })
    }
}

/// Holds a manager lock, semaphore permit or condition; releases it when dropped.
///
/// It stays on the thread that acquired it, since the owner of a manager lock
/// is a thread.
///
/// # Examples
///
/// ```
/// let manager = multiproc::Manager::start()?;
/// let lock = manager.lock()?;
/// {
///     let _guard = lock.acquire()?;
/// } // released here
/// assert!(lock.try_acquire()?.is_some());
/// # Ok::<(), multiproc::Error>(())
/// ```
///
/// Python: `with lock:`.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ProxyGuard<'a> {
    object: &'a ObjectRef,
    /// The connection it was taken through: if that one has closed since,
    /// the server has released the lock already, and maybe given it to
    /// another client, which a release now would rob.
    connection: Option<u64>,
    _same_thread: PhantomData<*const ()>,
}

impl<'a> ProxyGuard<'a> {
    /// The guard of what this thread has just taken of `object`.
    fn taken(object: &'a ObjectRef) -> ProxyGuard<'a> {
        ProxyGuard {
            object,
            connection: object.connection_id(),
            _same_thread: PhantomData,
        }
    }
}

impl Drop for ProxyGuard<'_> {
    fn drop(&mut self) {
        if self.connection.is_some() && self.object.connection_id() == self.connection {
            let _ = self.object.call(Op::Release);
        }
    }
}

/// Acquires `object` within `timeout` (`None`: for as long as it takes).
fn acquire(object: &ObjectRef, timeout: Option<Duration>) -> Result<Option<ProxyGuard<'_>>> {
    let got = object.call(Op::Acquire(timeout))?.flag()?;
    Ok(got.then(|| ProxyGuard::taken(object)))
}

fn acquire_blocking(object: &ObjectRef) -> Result<ProxyGuard<'_>> {
    acquire(object, None)?.ok_or_else(|| unbounded_wait_failed("the lock"))
}

/// The manager ended a wait that had no timeout without what it waited for.
fn unbounded_wait_failed(what: &str) -> Error {
    Error::Manager {
        reason: format!("it ended a wait without a timeout, and without {what}"),
    }
}

/// `acquire`, `try_acquire` and `acquire_timeout` for a proxy type.
macro_rules! acquirer {
    ($name:ident, $python:literal) => {
        impl $name {
            /// Waits for it and takes it.
            ///
            /// # Errors
            ///
            /// [`Error::ManagerUnreachable`] if the server is gone.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let x = multiproc::Manager::start()?.", $python, "?;")]
            /// let _guard = x.acquire()?;
            /// # Ok::<(), multiproc::Error>(())
            /// ```
            ///
            /// Python: `x.acquire()`.
            pub fn acquire(&self) -> Result<ProxyGuard<'_>> {
                acquire_blocking(&self.0)
            }

            /// Takes it if that is possible now; `None` otherwise.
            ///
            /// # Errors
            ///
            /// As `acquire`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let x = multiproc::Manager::start()?.", $python, "?;")]
            /// assert!(x.try_acquire()?.is_some());
            /// # Ok::<(), multiproc::Error>(())
            /// ```
            ///
            /// Python: `x.acquire(block=False)`.
            pub fn try_acquire(&self) -> Result<Option<ProxyGuard<'_>>> {
                acquire(&self.0, Some(Duration::ZERO))
            }

            /// Waits at most `timeout`; `None` if it could not be taken.
            ///
            /// # Errors
            ///
            /// As `acquire`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let x = multiproc::Manager::start()?.", $python, "?;")]
            /// assert!(x.acquire_timeout(std::time::Duration::from_millis(5))?.is_some());
            /// # Ok::<(), multiproc::Error>(())
            /// ```
            ///
            /// Python: `x.acquire(timeout=t)`.
            pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<ProxyGuard<'_>>> {
                acquire(&self.0, Some(timeout))
            }
        }
    };
}

acquirer!(LockProxy, "lock()");
acquirer!(RLockProxy, "rlock()");
acquirer!(SemaphoreProxy, "semaphore(1)");
acquirer!(ConditionProxy, "condition()");

impl SemaphoreProxy {
    /// Gives back one permit without a guard, as Python's `release` does.
    ///
    /// # Errors
    ///
    /// [`Error::OverReleased`] if the semaphore is bounded and full;
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = multiproc::Manager::start()?.semaphore(0)?;
    /// s.release()?;
    /// assert_eq!(s.value()?, 1);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `s.release()`.
    pub fn release(&self) -> Result<()> {
        self.0.call(Op::Release)?.done()
    }

    /// The number of free permits.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = multiproc::Manager::start()?.semaphore(2)?;
    /// assert_eq!(s.value()?, 2);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `s.get_value()`.
    pub fn value(&self) -> Result<u32> {
        let n = self.0.call(Op::Permits)?.count()?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

impl ConditionProxy {
    /// Releases the lock, waits for a notification, and takes the lock back.
    ///
    /// # Errors
    ///
    /// [`Error::NotOwner`] if `guard` is not this condition's;
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use multiproc::{ConditionProxy, ValueProxy, process};
    ///
    /// #[process]
    /// fn produce(cond: ConditionProxy, ready: ValueProxy<bool>) {
    ///     let _guard = cond.acquire().unwrap();
    ///     ready.set(true).unwrap();
    ///     cond.notify_all().unwrap();
    /// }
    ///
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let manager = multiproc::Manager::start()?;
    /// let (cond, ready) = (manager.condition()?, manager.value(false)?);
    /// let mut guard = cond.acquire()?;
    /// let child = produce.spawn(cond.clone(), ready.clone())?;
    /// while !ready.get()? {
    ///     guard = cond.wait(guard)?;
    /// }
    /// drop(guard);
    /// child.join()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `cond.wait()`.
    pub fn wait<'a>(&'a self, guard: ProxyGuard<'a>) -> Result<ProxyGuard<'a>> {
        Ok(self.wait_within(guard, None)?.0)
    }

    /// As [`ConditionProxy::wait`], for at most `timeout`; the flag says
    /// whether a notification came. The lock is taken back either way.
    ///
    /// # Errors
    ///
    /// As [`ConditionProxy::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiproc::Manager::start()?.condition()?;
    /// let guard = cond.acquire()?;
    /// let (_guard, notified) = cond.wait_timeout(guard, std::time::Duration::from_millis(1))?;
    /// assert!(!notified);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `cond.wait(timeout)`.
    pub fn wait_timeout<'a>(
        &'a self,
        guard: ProxyGuard<'a>,
        timeout: Duration,
    ) -> Result<(ProxyGuard<'a>, bool)> {
        self.wait_within(guard, Some(timeout))
    }

    /// Waits for a notification, for at most `timeout` if one is given.
    fn wait_within<'a>(
        &'a self,
        guard: ProxyGuard<'a>,
        timeout: Option<Duration>,
    ) -> Result<(ProxyGuard<'a>, bool)> {
        // The server keeps the lock across the wait; the guard must not release it.
        std::mem::forget(guard);
        let notified = self.0.call_unbounded(Op::Wait(timeout))?.flag()?;
        Ok((ProxyGuard::taken(&self.0), notified))
    }

    /// Waits until `condition` returns false, re-checking it after every notification.
    ///
    /// # Errors
    ///
    /// As [`ConditionProxy::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiproc::Manager::start()?.condition()?;
    /// let guard = cond.acquire()?;
    /// let _guard = cond.wait_while(guard, || Ok(false))?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `cond.wait_for(lambda: not condition())`.
    pub fn wait_while<'a>(
        &'a self,
        mut guard: ProxyGuard<'a>,
        mut condition: impl FnMut() -> Result<bool>,
    ) -> Result<ProxyGuard<'a>> {
        while condition()? {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Wakes up to `n` waiters; the caller must hold the lock.
    ///
    /// # Errors
    ///
    /// [`Error::NotOwner`] if this thread does not hold the lock;
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiproc::Manager::start()?.condition()?;
    /// assert!(matches!(cond.notify(1), Err(multiproc::Error::NotOwner)));
    /// let _guard = cond.acquire()?;
    /// cond.notify(1)?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `cond.notify(n)`.
    pub fn notify(&self, n: u32) -> Result<()> {
        self.0.call(Op::Notify(n))?.done()
    }

    /// Wakes one waiter.
    ///
    /// # Errors
    ///
    /// As [`ConditionProxy::notify`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiproc::Manager::start()?.condition()?;
    /// let _guard = cond.acquire()?;
    /// cond.notify_one()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `cond.notify()`.
    pub fn notify_one(&self) -> Result<()> {
        self.notify(1)
    }

    /// Wakes every waiter.
    ///
    /// # Errors
    ///
    /// As [`ConditionProxy::notify`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = multiproc::Manager::start()?.condition()?;
    /// let _guard = cond.acquire()?;
    /// cond.notify_all()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `cond.notify_all()`.
    pub fn notify_all(&self) -> Result<()> {
        self.notify(u32::MAX)
    }
}

impl EventProxy {
    /// Sets the flag, waking every waiter.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = multiproc::Manager::start()?.event()?;
    /// e.set()?;
    /// assert!(e.is_set()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.set()`.
    pub fn set(&self) -> Result<()> {
        self.0.call(Op::SetFlag)?.done()
    }

    /// Clears the flag.
    ///
    /// # Errors
    ///
    /// As [`EventProxy::set`].
    ///
    /// # Examples
    ///
    /// ```
    /// let e = multiproc::Manager::start()?.event()?;
    /// e.set()?;
    /// e.clear()?;
    /// assert!(!e.is_set()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.clear()`.
    pub fn clear(&self) -> Result<()> {
        self.0.call(Op::ClearFlag)?.done()
    }

    /// Whether the flag is set.
    ///
    /// # Errors
    ///
    /// As [`EventProxy::set`].
    ///
    /// # Examples
    ///
    /// ```
    /// let e = multiproc::Manager::start()?.event()?;
    /// assert!(!e.is_set()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.is_set()`.
    pub fn is_set(&self) -> Result<bool> {
        self.0.call(Op::IsSet)?.flag()
    }

    /// Waits until the flag is set.
    ///
    /// # Errors
    ///
    /// As [`EventProxy::set`].
    ///
    /// # Examples
    ///
    /// ```
    /// let e = multiproc::Manager::start()?.event()?;
    /// e.set()?;
    /// e.wait()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.wait()`.
    pub fn wait(&self) -> Result<()> {
        self.0.call(Op::Wait(None))?.flag().map(drop)
    }

    /// Waits at most `timeout`; whether the flag is set.
    ///
    /// # Errors
    ///
    /// As [`EventProxy::set`].
    ///
    /// # Examples
    ///
    /// ```
    /// let e = multiproc::Manager::start()?.event()?;
    /// assert!(!e.wait_timeout(std::time::Duration::from_millis(1))?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `event.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.0.call(Op::Wait(Some(timeout)))?.flag()
    }
}

impl BarrierProxy {
    /// Waits until all parties have arrived; this party's arrival index.
    ///
    /// # Errors
    ///
    /// [`Error::BrokenBarrier`] if the barrier is or becomes broken;
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = multiproc::Manager::start()?.barrier(1)?;
    /// assert_eq!(b.wait()?, 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.wait()`.
    pub fn wait(&self) -> Result<u32> {
        self.arrive(None)
    }

    /// As [`BarrierProxy::wait`], for at most `timeout`; a timeout breaks the barrier.
    ///
    /// # Errors
    ///
    /// As [`BarrierProxy::wait`].
    ///
    /// # Examples
    ///
    /// ```
    /// let b = multiproc::Manager::start()?.barrier(2)?;
    /// let alone = b.wait_timeout(std::time::Duration::from_millis(1));
    /// assert!(matches!(alone, Err(multiproc::Error::BrokenBarrier)));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32> {
        self.arrive(Some(timeout))
    }

    fn arrive(&self, timeout: Option<Duration>) -> Result<u32> {
        let index = self.0.call(Op::Wait(timeout))?.count()?;
        Ok(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// Breaks the barrier: current and future waiters get [`Error::BrokenBarrier`].
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = multiproc::Manager::start()?.barrier(2)?;
    /// b.abort()?;
    /// assert!(b.broken()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.abort()`.
    pub fn abort(&self) -> Result<()> {
        self.0.call(Op::Abort)?.done()
    }

    /// Makes the barrier whole and empty again; current waiters get [`Error::BrokenBarrier`].
    ///
    /// # Errors
    ///
    /// As [`BarrierProxy::abort`].
    ///
    /// # Examples
    ///
    /// ```
    /// let b = multiproc::Manager::start()?.barrier(2)?;
    /// b.abort()?;
    /// b.reset()?;
    /// assert!(!b.broken()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.reset()`.
    pub fn reset(&self) -> Result<()> {
        self.0.call(Op::Reset)?.done()
    }

    /// The number of parties it waits for.
    ///
    /// # Errors
    ///
    /// As [`BarrierProxy::abort`].
    ///
    /// # Examples
    ///
    /// ```
    /// let b = multiproc::Manager::start()?.barrier(4)?;
    /// assert_eq!(b.parties()?, 4);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.parties`.
    pub fn parties(&self) -> Result<u32> {
        let n = self.0.call(Op::Parties)?.count()?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The number of parties waiting now.
    ///
    /// # Errors
    ///
    /// As [`BarrierProxy::abort`].
    ///
    /// # Examples
    ///
    /// ```
    /// let b = multiproc::Manager::start()?.barrier(4)?;
    /// assert_eq!(b.n_waiting()?, 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.n_waiting`.
    pub fn n_waiting(&self) -> Result<u32> {
        let n = self.0.call(Op::Waiting)?.count()?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Whether the barrier is broken.
    ///
    /// # Errors
    ///
    /// As [`BarrierProxy::abort`].
    ///
    /// # Examples
    ///
    /// ```
    /// let b = multiproc::Manager::start()?.barrier(4)?;
    /// assert!(!b.broken()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `barrier.broken`.
    pub fn broken(&self) -> Result<bool> {
        self.0.call(Op::Broken)?.flag()
    }
}

impl<T: Serialize + DeserializeOwned> QueueProxy<T> {
    fn put_within(&self, item: T, timeout: Option<Duration>) -> Result<(), PutError<T>> {
        let sent = encode(&item).and_then(|bytes| {
            self.0
                .call(Op::Put(bytes, timeout))
                .and_then(|answer| answer.flag())
        });
        match sent {
            Ok(true) => Ok(()),
            Ok(false) => Err(PutError {
                value: item,
                error: Error::Full,
            }),
            Err(error) => Err(PutError { value: item, error }),
        }
    }

    /// Appends `item`, waiting for room if the queue is bounded and full.
    ///
    /// # Errors
    ///
    /// The item back, with [`Error::Codec`] if it cannot be encoded or
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue()?;
    /// q.put(1u8)?;
    /// assert_eq!(q.qsize()?, 1);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.put(item)`.
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_within(item, None)
    }

    /// Appends `item` if there is room now.
    ///
    /// # Errors
    ///
    /// The item back, with [`Error::Full`] if there is no room; as [`QueueProxy::put`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue_bounded(1)?;
    /// q.try_put(1u8)?;
    /// assert_eq!(q.try_put(2).unwrap_err().value, 2);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.put_nowait(item)`.
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_within(item, Some(Duration::ZERO))
    }

    /// Appends `item`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`QueueProxy::try_put`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue_bounded(1)?;
    /// q.put(0u8)?;
    /// let failed = q.put_timeout(1u8, std::time::Duration::from_millis(1)).unwrap_err();
    /// assert!(matches!(failed.error, multiproc::Error::Full));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.put(item, timeout=t)`.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_within(item, Some(timeout))
    }

    fn get_within(&self, timeout: Option<Duration>) -> Result<Option<T>> {
        self.0.call(Op::Take(timeout))?.item()
    }

    /// Removes and returns the first item, waiting for one.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if the item does not decode as `T`;
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue()?;
    /// q.put("a".to_string())?;
    /// assert_eq!(q.get()?, "a");
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.get()`.
    pub fn get(&self) -> Result<T> {
        self.get_within(None)?
            .ok_or_else(|| unbounded_wait_failed("an item"))
    }

    /// The first item, if there is one now.
    ///
    /// # Errors
    ///
    /// As [`QueueProxy::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue::<u8>()?;
    /// assert_eq!(q.try_get()?, None);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.get_nowait()`.
    pub fn try_get(&self) -> Result<Option<T>> {
        self.get_within(Some(Duration::ZERO))
    }

    /// The first item, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if none came; as [`QueueProxy::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue::<u8>()?;
    /// let none = q.get_timeout(std::time::Duration::from_millis(1));
    /// assert!(matches!(none, Err(multiproc::Error::Timeout(_))));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.get(timeout=t)`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.get_within(Some(timeout))?
            .ok_or(Error::Timeout(timeout))
    }

    /// The number of items.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue::<u8>()?;
    /// assert_eq!(q.qsize()?, 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.qsize()`.
    pub fn qsize(&self) -> Result<usize> {
        super::proxy::count(&self.0)
    }

    /// Whether there are no items.
    ///
    /// # Errors
    ///
    /// As [`QueueProxy::qsize`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue::<u8>()?;
    /// assert!(q.empty()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.empty()`.
    pub fn empty(&self) -> Result<bool> {
        Ok(self.qsize()? == 0)
    }

    /// Whether a bounded queue has no room.
    ///
    /// # Errors
    ///
    /// As [`QueueProxy::qsize`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue::<u8>()?;
    /// assert!(!q.full()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.full()`.
    pub fn full(&self) -> Result<bool> {
        self.0.call(Op::Full)?.flag()
    }

    /// Marks one item taken with `get` as processed.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyTaskDone`] if every item already was;
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue()?;
    /// q.put(1u8)?;
    /// q.get()?;
    /// q.task_done()?;
    /// q.join()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.task_done()`.
    pub fn task_done(&self) -> Result<()> {
        self.0.call(Op::TaskDone)?.done()
    }

    /// Waits until every item put has been marked processed.
    ///
    /// # Errors
    ///
    /// As [`QueueProxy::qsize`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue::<u8>()?;
    /// q.join()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.join()`.
    pub fn join(&self) -> Result<()> {
        self.0.call(Op::Join(None))?.flag().map(drop)
    }

    /// As [`QueueProxy::join`], for at most `timeout`; whether all were processed.
    ///
    /// # Errors
    ///
    /// As [`QueueProxy::qsize`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Manager::start()?.queue()?;
    /// q.put(1u8)?;
    /// assert!(!q.join_timeout(std::time::Duration::from_millis(1))?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.join()` has no timeout.
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.0.call(Op::Join(Some(timeout)))?.flag()
    }
}
