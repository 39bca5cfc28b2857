//! Where chunk results go: the [`Sink`]s, [`AsyncResult`] and the `imap` iterators.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::wire::prefixed_items;
use crate::bootstrap;
use super::progress::Bar;
use crate::error::{Error, Result};
use crate::wire::{SPIN, Spinner};

/// Why a chunk produced no results.
#[derive(Debug, Clone)]
pub(super) enum Lost {
    Died { worker: String, reason: String },
    Terminated,
    NoWorkers(String),
}

impl Lost {
    fn error(&self) -> Error {
        match self {
            Lost::Died { worker, reason } => Error::WorkerLost {
                process: worker.clone(),
                reason: reason.clone(),
            },
            Lost::Terminated => Error::PoolTerminated,
            Lost::NoWorkers(reason) => Error::NoWorkers {
                reason: reason.clone(),
            },
        }
    }
}

/// What a worker sent back for a chunk.
#[derive(Debug)]
pub(super) struct Answered {
    /// The worker's name, for errors.
    pub(super) worker: Arc<str>,
    pub(super) bytes: Vec<u8>,
}

/// The untyped result of one chunk; decoded by whoever knows `R`.
#[derive(Debug)]
pub(super) struct ChunkResult {
    pub(super) outcome: std::result::Result<Answered, Lost>,
    pub(super) count: u32,
    /// Items whose arguments could not be encoded in the parent.
    pub(super) failed: Vec<(u32, String)>,
    /// Descriptors sent beside the results, for the handles among them;
    /// each item's decoding takes its own.
    pub(super) fds: Mutex<Vec<Option<crate::wire::Incoming>>>,
}

impl ChunkResult {
    /// The items' encoded outcomes, after the worker's flag.
    fn items(&self) -> Option<&[u8]> {
        let bytes = &self.outcome.as_ref().ok()?.bytes;
        Some(bytes.get(1..).unwrap_or_default())
    }

    /// Whether some call of the chunk failed, as far as can be told without
    /// decoding: the worker flags a chunk whose every call returned.
    fn failed(&self) -> bool {
        !self.failed.is_empty()
            || self
                .outcome
                .as_ref()
                .map_or(true, |answered| answered.bytes.first() != Some(&1))
    }

    fn decode<R: DeserializeOwned>(&self) -> impl Iterator<Item = Result<R>> + '_ {
        let mut blobs = self.items().map(prefixed_items);
        (0..self.count).map(move |i| {
            let blob = blobs.as_mut().and_then(Iterator::next);
            if let Some((_, reason)) = self.failed.iter().find(|(j, _)| *j == i) {
                return Err(Error::Codec {
                    what: "encode an argument".into(),
                    reason: reason.clone(),
                });
            }
            match (&self.outcome, blob) {
                (Err(lost), _) => Err(lost.error()),
                (Ok(answered), Some(blob)) => {
                    self.offering_fds(|| bootstrap::decode_outcome(blob, &answered.worker))
                }
                (Ok(answered), None) => Err(Error::Codec {
                    what: "read a result".into(),
                    reason: format!(
                        "worker `{}` sent fewer results than tasks",
                        answered.worker
                    ),
                }),
            }
        })
    }
}

impl ChunkResult {
    /// Runs `decode` with this chunk's descriptors on offer.
    fn offering_fds<T>(&self, decode: impl FnOnce() -> Result<T>) -> Result<T> {
        let mut fds = self.fds.lock().unwrap_or_else(|e| e.into_inner());
        if fds.is_empty() {
            return decode();
        }
        crate::wire::with_fds_in(&mut fds, decode)
    }

    /// Appends every value to `values`, or returns the first item's error.
    fn decode_into<R: DeserializeOwned>(&self, values: &mut Vec<R>) -> Result<()> {
        let no_fds = self.fds.lock().is_ok_and(|fds| fds.is_empty());
        if let (Some(bytes), true, true) = (self.items(), self.failed.is_empty(), no_fds) {
            // The common case, kept lean: every item returned.
            let mut decoded = 0;
            for blob in prefixed_items(bytes) {
                match bootstrap::decode_returned(blob) {
                    Some(value) => values.push(value),
                    None => break,
                }
                decoded += 1;
            }
            if decoded == self.count {
                return Ok(());
            }
            values.truncate(values.len() - decoded as usize);
        }
        for value in self.decode() {
            values.push(value?);
        }
        Ok(())
    }
}

/// Receives the results of the chunks of one call, by chunk index.
pub(super) trait Sink: Send + Sync {
    fn deliver(&self, index: usize, result: ChunkResult);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `cond` until `done(state)` or the deadline; returns the guard.
fn wait_until<'a, T>(
    cond: &Condvar,
    mut guard: MutexGuard<'a, T>,
    deadline: Option<Instant>,
    done: impl Fn(&T) -> bool,
) -> MutexGuard<'a, T> {
    while !done(&guard) {
        match wait_or_time_out(cond, guard, deadline) {
            Ok(next) => guard = next,
            Err(timed_out) => return timed_out,
        }
    }
    guard
}

/// Waits on `cond` once; `Err` with the guard if the deadline has passed.
fn wait_or_time_out<'a, T>(
    cond: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Option<Instant>,
) -> std::result::Result<MutexGuard<'a, T>, MutexGuard<'a, T>> {
    match deadline {
        None => Ok(cond.wait(guard).unwrap_or_else(|e| e.into_inner())),
        Some(deadline) => {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(guard);
            }
            Ok(cond
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0)
        }
    }
}

/// Collects every chunk of a `map`, `starmap` or `apply`.
#[derive(Default)]
pub(super) struct Collector {
    state: Mutex<Collected>,
    /// Signalled when the last chunk arrives.
    done: Condvar,
    /// Signalled whenever a chunk arrives.
    done_one: Condvar,
    /// Chunks arrived so far, readable without the lock.
    arrived: AtomicUsize,
    /// Calls in the chunks arrived so far: the pace of a call still being
    /// cut into chunks.
    calls: AtomicUsize,
    /// Advanced by each chunk's number of calls.
    progress: Bar,
}

#[derive(Default)]
struct Collected {
    chunks: Vec<Option<Arc<ChunkResult>>>,
    remaining: usize,
    waker: Option<Waker>,
    /// How many chunks must have arrived before `done_one` is worth
    /// signalling: the least any waiter asked for. Signalling on every
    /// chunk cost a system call each, and woke a thread that went back to
    /// sleep. `None` while no one waits.
    wake_at: Option<usize>,
    /// Whether a chunk with a failed call has arrived: from then on a waiter
    /// wants each chunk as it comes, so that the first error is not held
    /// back behind a batch that may never complete.
    failures: bool,
}


impl Collected {
    fn arrived(&self) -> usize {
        self.chunks.len() - self.remaining
    }
}

impl Collector {
    /// Waits (until `deadline`) for chunk `index`, and for `ahead` more
    /// chunks to have arrived too, so that a caller decoding chunks in order
    /// wakes once per batch rather than once per chunk; `None` on timeout.
    fn chunk(
        &self,
        index: usize,
        ahead: usize,
        deadline: Option<Instant>,
    ) -> Option<Arc<ChunkResult>> {
        if ahead == 0 {
            static SPINNER: Spinner = Spinner::new();
            SPINNER.spin_until(SPIN, || self.arrived.load(Ordering::Acquire) > index);
        }
        let mut state = lock(&self.state);
        let want = (index + 1 + ahead).min(state.chunks.len());
        loop {
            let arrived = state.arrived();
            if state.chunks[index].is_some() && (arrived >= want || state.failures) {
                return state.chunks[index].clone();
            }
            let wake_at = if arrived >= want { arrived + 1 } else { want };
            state.wake_at = Some(state.wake_at.map_or(wake_at, |w| w.min(wake_at)));
            state = wait_or_time_out(&self.done_one, state, deadline).ok()?;
        }
    }

    fn len(&self) -> usize {
        lock(&self.state).chunks.len()
    }

    /// Expects `len` chunks instead; only slots of chunks not yet submitted
    /// are added or removed.
    pub(super) fn set_len(&self, len: usize) {
        let mut state = lock(&self.state);
        let old = state.chunks.len();
        state.chunks.resize(len, None);
        state.remaining = (state.remaining + len).saturating_sub(old);
        // The chunks cut may all be back already.
        self.finish_if_complete(state);
    }

    /// Once every chunk is back: finishes the bar and wakes whoever waits.
    fn finish_if_complete(&self, mut state: MutexGuard<'_, Collected>) {
        if state.remaining > 0 {
            return;
        }
        self.progress.finish();
        self.done.notify_all();
        let waker = state.waker.take();
        // Woken without the lock: a waker may poll this result at once.
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// How many calls have their results here.
    pub(super) fn calls_arrived(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// A collector of `chunks` chunks that advances `progress` as they come.
    pub(super) fn new(chunks: usize, progress: Bar) -> Arc<Collector> {
        let state = Collected {
            chunks: vec![None; chunks],
            remaining: chunks,
            ..Collected::default()
        };
        Arc::new(Collector {
            state: Mutex::new(state),
            progress,
            ..Collector::default()
        })
    }
}

impl Sink for Collector {
    fn deliver(&self, index: usize, result: ChunkResult) {
        let mut state = lock(&self.state);
        if let Some(slot) = state.chunks.get_mut(index) {
            let count = result.count;
            self.progress.advance(count);
            let failed = result.failed();
            if slot.replace(Arc::new(result)).is_none() {
                state.remaining -= 1;
                self.arrived.fetch_add(1, Ordering::Release);
                self.calls.fetch_add(count as usize, Ordering::Relaxed);
            }
            state.failures |= failed;
        }
        if state.wake_at.is_some_and(|w| state.arrived() >= w) || state.failures {
            state.wake_at = None;
            self.done_one.notify_all();
        }
        self.finish_if_complete(state);
    }
}

/// The result of `apply_async`, `map_async` or `starmap_async`, delivered later.
///
/// It can be waited for with a timeout, polled, fetched any number of times,
/// and `.await`ed (it implements [`Future`], with any executor).
///
/// # Examples
///
/// ```
/// use multiproc::{pool_task, AsyncResult, Pool};
///
/// #[pool_task]
/// fn add(a: u64, b: u64) -> u64 {
///     a + b
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let pool = Pool::new(2)?;
/// let h: AsyncResult<u64> = pool.apply_async(add, (1, 2))?;
/// h.wait();
/// assert!(h.ready());
/// assert_eq!(h.get()?, 3);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.pool.AsyncResult`.
#[must_use = "the task's result is lost unless you `get` it"]
pub struct AsyncResult<T> {
    collector: Arc<Collector>,
    decode: Decode<T>,
}

/// Decodes a call's result from its chunks, waiting for each in turn until
/// the deadline (`None` if it passes), so decoding overlaps the workers' run.
pub(super) type Decode<T> = fn(&Collector, Option<Instant>) -> Option<Result<T>>;

impl<T> std::fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish()
    }
}

/// Decodes every item of every chunk, in order; the first error wins, as in
/// Python, with its item's place.
pub(super) fn decode_all<R: DeserializeOwned>(
    collector: &Collector,
    deadline: Option<Instant>,
) -> Option<Result<Vec<R>>> {
    let mut values = Vec::new();
    let len = collector.len();
    for index in 0..len {
        // Batches that shrink with what is left: few wake-ups, and little
        // left to decode after the last chunk arrives.
        let chunk = collector.chunk(index, (len - index) / 8, deadline)?;
        values.reserve(chunk.count as usize);
        if let Err(e) = chunk.decode_into(&mut values) {
            // Every item before the failed one was decoded.
            return Some(Err(of_item(values.len(), e)));
        }
    }
    Some(Ok(values))
}

/// `error`, of the item at `index`, as the caller of a map sees it: with
/// the item's place, unless it is the whole pool's (terminated, or out of
/// workers), which no item caused.
fn of_item(index: usize, error: Error) -> Error {
    match error {
        Error::PoolTerminated | Error::NoWorkers { .. } => error,
        source => Error::Task {
            index,
            source: Box::new(source),
        },
    }
}

/// Decodes the single item of an `apply`.
pub(super) fn decode_one<R: DeserializeOwned>(
    collector: &Collector,
    deadline: Option<Instant>,
) -> Option<Result<R>> {
    let chunk = collector.chunk(0, 0, deadline)?;
    let value = chunk.decode().next();
    Some(value.unwrap_or_else(|| {
        Err(Error::Codec {
            what: "read a result".into(),
            reason: "the call produced no result".into(),
        })
    }))
}

impl<T> AsyncResult<T> {
    pub(super) fn new(collector: Arc<Collector>, decode: Decode<T>) -> Self {
        AsyncResult { collector, decode }
    }

    /// Whether the result has arrived.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let h = Pool::new(1)?.apply_async(add, (1, 2))?;
    /// h.wait();
    /// assert!(h.ready());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `AsyncResult.ready()`.
    pub fn ready(&self) -> bool {
        lock(&self.collector.state).remaining == 0
    }

    /// Blocks until the result has arrived.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// let h = pool.apply_async(add, (1, 2))?;
    /// h.wait();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `AsyncResult.wait()`.
    pub fn wait(&self) {
        self.wait_deadline(None);
    }

    /// Blocks at most `timeout`; returns whether the result has arrived.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # use std::time::Duration;
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// let h = pool.apply_async(add, (1, 2))?;
    /// assert!(h.wait_timeout(Duration::from_secs(30)));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `AsyncResult.wait(timeout)` followed by `ready()`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_deadline(crate::wire::deadline(timeout))
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> bool {
        let state = lock(&self.collector.state);
        wait_until(&self.collector.done, state, deadline, |s| s.remaining == 0).remaining == 0
    }

    /// Waits for the result and returns it; may be called again.
    ///
    /// # Errors
    ///
    /// The task's error: a panic, a lost worker, a codec error, or
    /// [`Error::PoolTerminated`]. For a map, the first failed item's error.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.apply_async(add, (1, 2))?.get()?, 3);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `AsyncResult.get()`.
    pub fn get(&self) -> Result<T> {
        // Without a deadline the decoder waits as long as it takes, so `None` cannot occur.
        (self.decode)(&self.collector, None).unwrap_or(Err(Error::PoolTerminated))
    }

    /// The result if it has arrived, without blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// let h = pool.apply_async(add, (1, 2))?;
    /// h.wait();
    /// assert_eq!(h.try_get().transpose()?, Some(3));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `AsyncResult.get(timeout=0)`.
    pub fn try_get(&self) -> Option<Result<T>> {
        self.ready().then(|| self.get())
    }

    /// Waits at most `timeout` for the result.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if it has not arrived in time; otherwise as [`AsyncResult::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # use std::time::Duration;
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.apply_async(add, (1, 2))?.get_timeout(Duration::from_secs(30))?, 3);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `AsyncResult.get(timeout)`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        (self.decode)(&self.collector, crate::wire::deadline(timeout))
            .unwrap_or(Err(Error::Timeout(timeout)))
    }
}

impl<T> Future for AsyncResult<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let mut state = lock(&self.collector.state);
        if state.remaining == 0 {
            drop(state);
            Poll::Ready(self.get())
        } else {
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Chunk results in arrival order, for the `imap` iterators.
#[derive(Default)]
pub(super) struct Inbox {
    arrived: Mutex<VecDeque<(usize, ChunkResult)>>,
    cond: Condvar,
}

impl Sink for Inbox {
    fn deliver(&self, index: usize, result: ChunkResult) {
        lock(&self.arrived).push_back((index, result));
        self.cond.notify_all();
    }
}

/// One chunk's arguments, encoded, before it is handed to the pool.
pub(super) struct Encoded {
    pub(super) items: Vec<u8>,
    pub(super) count: u32,
    pub(super) failed: Vec<(u32, String)>,
    pub(super) fds: Vec<std::os::fd::OwnedFd>,
}

/// The lazy iterator of `imap` and `imap_unordered`.
///
/// It reads its input only as results are consumed, keeping a bounded number
/// of chunks in flight, so an endless input works and memory stays flat.
///
/// # Examples
///
/// ```
/// use multiproc::{pool_task, Pool};
///
/// #[pool_task]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let pool = Pool::new(2)?;
/// let firsts: Vec<u64> = pool.imap(square, 0..)?.take(3).collect::<Result<_, _>>()?;
/// assert_eq!(firsts, [0, 1, 4]);
/// # Ok(())
/// # }
/// ```
///
/// Python: the iterator returned by `Pool.imap` / `Pool.imap_unordered`.
#[must_use = "an `IMap` gives results only as it is iterated"]
pub struct IMap<'p, R> {
    submit: Box<dyn FnMut(Encoded, usize, Arc<Inbox>) -> Result<()> + 'p>,
    feed: Box<dyn FnMut() -> Option<Encoded> + 'p>,
    inbox: Arc<Inbox>,
    ordered: bool,
    ahead: usize,
    /// Items per chunk (the last may hold fewer).
    chunksize: usize,
    submitted: usize,
    consumed: usize,
    exhausted: bool,
    parked: BTreeMap<usize, ChunkResult>,
    ready: VecDeque<Result<R>>,
    progress: Bar,
}

impl<R> std::fmt::Debug for IMap<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IMap")
            .field("ordered", &self.ordered)
            .field("submitted", &self.submitted)
            .finish_non_exhaustive()
    }
}

impl<'p, R: DeserializeOwned> IMap<'p, R> {
    pub(super) fn new(
        submit: Box<dyn FnMut(Encoded, usize, Arc<Inbox>) -> Result<()> + 'p>,
        feed: Box<dyn FnMut() -> Option<Encoded> + 'p>,
        ordered: bool,
        ahead: usize,
        chunksize: usize,
        progress: Bar,
    ) -> Result<Self> {
        let mut imap = IMap {
            submit,
            feed,
            inbox: Arc::default(),
            ordered,
            ahead,
            chunksize,
            submitted: 0,
            consumed: 0,
            exhausted: false,
            parked: BTreeMap::new(),
            ready: VecDeque::new(),
            progress,
        };
        imap.top_up()?;
        Ok(imap)
    }

    fn top_up(&mut self) -> Result<()> {
        while !self.exhausted && self.submitted - self.consumed < self.ahead {
            match (self.feed)() {
                Some(chunk) => {
                    (self.submit)(chunk, self.submitted, Arc::clone(&self.inbox))?;
                    self.submitted += 1;
                }
                None => self.exhausted = true,
            }
        }
        Ok(())
    }

    /// The next result, waiting at most `timeout` for it.
    ///
    /// Returns `None` at the end, and `Some(Err(Error::Timeout(_)))` if no
    /// result arrived in time (the iterator can be used again afterwards).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # use std::time::Duration;
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// let mut it = pool.imap(square, [3u64])?;
    /// assert_eq!(it.next_timeout(Duration::from_secs(30)).transpose()?, Some(9));
    /// assert!(it.next_timeout(Duration::from_secs(30)).is_none());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `IMapIterator.next(timeout)`.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R>> {
        self.next_deadline(crate::wire::deadline(timeout))
            .map(|r| r.map_err(|_| Error::Timeout(timeout)).and_then(|r| r))
    }

    /// `Err(())` means the deadline passed.
    fn next_deadline(
        &mut self,
        deadline: Option<Instant>,
    ) -> Option<std::result::Result<Result<R>, ()>> {
        loop {
            if let Some(value) = self.ready.pop_front() {
                return Some(Ok(value));
            }
            if let Err(e) = self.top_up() {
                self.exhausted = true;
                return Some(Ok(Err(e)));
            }
            if self.consumed == self.submitted {
                self.progress.finish();
                return None;
            }
            let (index, chunk) = match self.take_chunk(deadline) {
                Some(taken) => taken,
                None => return Some(Err(())),
            };
            self.consumed += 1;
            self.progress.advance(chunk.count);
            if self.ordered {
                self.ready.extend(chunk.decode());
            } else {
                // Out of order, an error names its item's place. Every
                // chunk but the last holds `chunksize` items.
                let first = index * self.chunksize;
                self.ready.extend(
                    chunk
                        .decode()
                        .enumerate()
                        .map(|(i, result)| result.map_err(|e| of_item(first + i, e))),
                );
            }
        }
    }

    /// The next chunk to decode, and its index.
    fn take_chunk(&mut self, deadline: Option<Instant>) -> Option<(usize, ChunkResult)> {
        let next = self.consumed;
        loop {
            let parked = if self.ordered {
                self.parked.remove_entry(&next)
            } else {
                self.parked.pop_first()
            };
            if parked.is_some() {
                return parked;
            }
            let arrived = lock(&self.inbox.arrived);
            let mut arrived = wait_until(&self.inbox.cond, arrived, deadline, |a| !a.is_empty());
            if arrived.is_empty() {
                return None;
            }
            let drained: Vec<_> = arrived.drain(..).collect();
            drop(arrived);
            self.parked.extend(drained);
        }
    }
}

impl<R: DeserializeOwned> Iterator for IMap<'_, R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        self.next_deadline(None)
            .map(|r| r.unwrap_or(Err(Error::PoolTerminated)))
    }
}

#[cfg(all(test, feature = "progress"))]
mod tests {
    use super::*;

    fn lost(count: u32) -> ChunkResult {
        ChunkResult {
            outcome: Err(Lost::Terminated),
            count,
            failed: Vec::new(),
            fds: Mutex::new(Vec::new()),
        }
    }

    #[test]
    fn a_call_cut_into_fewer_chunks_than_counted_finishes_its_bar_once_all_are_back() {
        // A default map counts its chunks before the floor may merge some.
        let collector = Collector::new(3, Bar::new(true, Some(30)));
        collector.deliver(0, lost(10));
        collector.deliver(1, lost(20));
        assert!(!collector.progress.is_finished());
        collector.set_len(2);
        assert!(collector.progress.is_finished());
    }
}
