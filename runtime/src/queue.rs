//! [`Queue`] and [`JoinableQueue`]: many producers and many consumers in any
//! number of processes.
//!
//! Design: the items live in a ring of bytes in a memfd that every handle
//! maps, guarded by a futex lock in the same memory. Nothing is buffered in
//! a producer, so a process that put items can exit (and be joined) before
//! anyone reads them: Python's "joining processes that use queues" deadlock
//! cannot happen. The lock word holds its owner's pid; a waiter that finds
//! the owner dead takes the lock over. The tail moves only after a record is
//! fully written and the head only after it is fully read, so a process that
//! dies inside the lock leaves no half item behind: a killed consumer loses
//! at most the item it had already taken. The count of records and the bytes
//! waiting beside the ring are stored apart from the record they count, so
//! the process that takes the lock over from a dead one counts both again
//! from the records (`Locked::recount`).
//!
//! The header also records which processes map the queue (and how often), and
//! how many handles are on their way to another process, so that a `get` on
//! an empty queue can tell when no one is left who could put.
//!
//! The ring is 256 MiB of address space, backed by memory only as it is
//! used. An unbounded queue therefore blocks a `put` only when 256 MiB of
//! items are waiting; one item may be at most 128 MiB. Items are encoded
//! with postcard.
//!
//! Descriptors cannot live in shared memory, so those of an item's handles
//! (an `Fd`, a `Connection`, a large `Bytes`) wait in the queue's mailbox, a
//! pair of datagram sockets every handle holds both ends of: the kernel
//! keeps them there, so the producer may exit meanwhile. Under the lock, a
//! put takes the next tag, posts the descriptors under it, then writes a
//! record that names the tag; a get that pops such a record takes that
//! tag's datagram. Posts and takes thus happen in the ring's order. A
//! producer that dies between its post and its record leaves a datagram
//! with no record, which the next take skips as its tag is older; a
//! consumer that dies after popping a record loses that item only. A
//! record with a tag is decoded only after the lock is released, as its
//! handles may take a queue's lock themselves. When the mailbox is full
//! (a few hundred items), a put sends a large `Bytes` inline instead, and
//! an item with handles waits as on a full queue. The bytes of buffers
//! waiting beside the ring count against its 256 MiB, as if they were in
//! it. Each handle holds three descriptors: the memfd and the mailbox.

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::shm::{self, RobustLock, Shm};
use crate::wire::{self, Mailbox};

/// Bytes of items a queue can hold at once.
const RING: u64 = 256 << 20;
/// Room for the [`Header`] before the ring, one page.
const HEADER: u64 = 4096;
/// How long a `get` finds the queue empty before it asks whether anyone is
/// left who could put.
const ABANDONED_AFTER: Duration = Duration::from_millis(20);
/// The start of the ring that always stays in memory: a queue that empties
/// starts over there, on pages every process has mapped already.
const WARM: u64 = 8 << 20;
/// Consumed memory beyond [`WARM`] is given back in steps of this many
/// bytes, so that what a queue holds tracks what is queued.
const RELEASE_STEP: u64 = 2 << 20;
const PAGE: u64 = 4096;
/// Marks the unused end of the ring: the next record starts at offset 0.
const WRAP: u32 = u32::MAX;
/// Set in a record's length when a mailbox tag (8 bytes) and the bytes of
/// the buffers sent beside the item (8 bytes) precede the item.
const TAGGED: u32 = 1 << 30;
const TAG: u64 = 16;

/// The start of the shared segment. Every field is atomic: several processes
/// read and write it, under the `lock` where a comment says so.
#[repr(C)]
struct Header {
    lock: RobustLock,
    /// Bumped by every put; consumers wait on it.
    puts: AtomicU32,
    /// Bumped by every get; producers of a full queue wait on it.
    gets: AtomicU32,
    /// Bumped when `unfinished` reaches zero; `join` waits on it.
    finished: AtomicU32,
    getters_waiting: AtomicU32,
    putters_waiting: AtomicU32,
    joiners_waiting: AtomicU32,
    /// Byte offsets since creation (under `lock`).
    head: AtomicU64,
    tail: AtomicU64,
    /// Items in the ring (written under `lock`, read anywhere).
    count: AtomicU64,
    /// 0 for unbounded.
    maxsize: AtomicU64,
    /// Items put and not yet marked done, for `JoinableQueue` (under `lock`).
    unfinished: AtomicU64,
    /// Consumed ring memory from here (a byte offset like `head`, page
    /// aligned) up to `head` has not been given back yet (under `lock`).
    unreleased: AtomicU64,
    /// Set when more processes mapped the queue than `attached` can record.
    overflow: AtomicU32,
    /// Handles encoded for another process and not yet decoded there.
    in_transit: AtomicU32,
    /// The next tag for descriptors posted to the mailbox (under `lock`).
    posted: AtomicU64,
    /// Bytes of the buffers of queued items that wait beside the ring (a
    /// large `Bytes` goes as a memfd), counted against the ring's room
    /// (under `lock`).
    beside: AtomicU64,
    /// Which processes map the queue, and how many times (under `lock`).
    attached: [Attachment; ATTACHMENTS],
}

/// Processes a queue can record as attached; beyond that, a `get` on an
/// empty queue cannot tell that nobody is left, and simply waits.
const ATTACHMENTS: usize = 64;

#[repr(C)]
struct Attachment {
    pid: AtomicU32,
    mappings: AtomicU32,
}

/// One mapping of a queue's segment, and the queue's mailbox.
struct Segment(Shm, Mailbox);

impl Segment {
    fn create(maxsize: u64) -> Result<Segment> {
        let mailbox = Mailbox::new().map_err(Error::io("creating a queue"))?;
        let segment = Segment::attached(Shm::create("creating a queue", HEADER + RING)?, mailbox);
        segment.header().maxsize.store(maxsize, Ordering::Release);
        Ok(segment)
    }

    fn map(fd: OwnedFd, mailbox: Mailbox) -> Result<Segment> {
        Ok(Segment::attached(
            Shm::open("mapping a queue", fd, HEADER + RING)?,
            mailbox,
        ))
    }

    fn attached(shm: Shm, mailbox: Mailbox) -> Segment {
        let segment = Segment(shm, mailbox);
        segment.attach();
        segment
    }

    /// Records this mapping in the header's table of attached processes.
    fn attach(&self) {
        let header = self.header();
        let me = std::process::id();
        let _locked = self.lock();
        let slot = header
            .attached
            .iter()
            .find(|a| a.pid.load(Ordering::Relaxed) == me)
            .or_else(|| {
                header.attached.iter().find(|a| {
                    let pid = a.pid.load(Ordering::Relaxed);
                    pid == 0 || shm::process_gone(pid)
                })
            });
        match slot {
            Some(slot) => {
                if slot.pid.swap(me, Ordering::AcqRel) != me {
                    slot.mappings.store(0, Ordering::Release);
                }
                slot.mappings.fetch_add(1, Ordering::AcqRel);
            }
            None => header.overflow.store(1, Ordering::Release),
        }
    }

    /// Whether no handle but the caller's (which holds `handles_here` of this
    /// mapping's handles) exists in any live process, so nothing can ever be put.
    fn abandoned(&self, handles_here: usize) -> bool {
        let header = self.header();
        if handles_here > 1 {
            return false;
        }
        let me = std::process::id();
        // Read under the lock: a sender counts its handle in transit before
        // it detaches its own, under the lock too, so one seen detached here
        // is seen in transit.
        let _locked = self.lock();
        if header.overflow.load(Ordering::Acquire) != 0
            || header.in_transit.load(Ordering::Acquire) != 0
        {
            return false;
        }
        header.attached.iter().all(|a| {
            let pid = a.pid.load(Ordering::Relaxed);
            let mappings = a.mappings.load(Ordering::Relaxed);
            pid == 0 || (pid == me && mappings <= 1) || (pid != me && shm::process_gone(pid))
        })
    }

    fn header(&self) -> &Header {
        // SAFETY: Header is repr(C), atomics only, valid when zero, and fits
        // in the HEADER bytes the segment starts with.
        unsafe { self.0.header() }
    }

    /// Copies `bytes` into the ring at byte offset `at` (modulo the ring).
    ///
    /// Called only under the lock, for bytes no reader can see yet.
    fn write(&self, at: u64, bytes: &[u8]) {
        let at = at % RING;
        debug_assert!(at + bytes.len() as u64 <= RING);
        // SAFETY: the range lies inside the ring (records never straddle its
        // end), and the lock keeps every other process out of it.
        unsafe {
            let dst = self.0.ptr().add((HEADER + at) as usize);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
        }
    }

    /// The `len` bytes of the ring at byte offset `at`; only under the lock,
    /// and only while it is held.
    fn slice(&self, at: u64, len: usize) -> &[u8] {
        let at = at % RING;
        // SAFETY: inside the ring (records never straddle its end); the lock
        // keeps every other process from writing these bytes meanwhile.
        unsafe { std::slice::from_raw_parts(self.0.ptr().add((HEADER + at) as usize), len) }
    }

    /// Gives back the memory of the ring's bytes `from..to` (offsets like
    /// `head`), except its warm start.
    fn release(&self, from: u64, to: u64) {
        let mut at = from;
        while at < to {
            let position = at % RING;
            let piece = (to - at).min(RING - position);
            let start = position.max(WARM);
            if position + piece > start {
                self.0.release(HEADER + start, position + piece - start);
            }
            at += piece;
        }
    }

    fn read_u32(&self, at: u64) -> u32 {
        u32::from_le_bytes(self.slice(at, 4).try_into().unwrap_or([0; 4]))
    }

    fn read_u64(&self, at: u64) -> u64 {
        u64::from_le_bytes(self.slice(at, 8).try_into().unwrap_or([0; 8]))
    }

    fn lock(&self) -> Locked<'_> {
        let locked = Locked(self);
        if self.header().lock.lock(None) == Some(true) {
            locked.recount();
        }
        locked
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let header = self.header();
        let me = std::process::id();
        let _locked = self.lock();
        if let Some(slot) = header
            .attached
            .iter()
            .find(|a| a.pid.load(Ordering::Relaxed) == me)
            && slot.mappings.fetch_sub(1, Ordering::AcqRel) <= 1
        {
            slot.pid.store(0, Ordering::Release);
        }
    }
}

/// The queue's lock, released on drop.
struct Locked<'a>(&'a Segment);

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.0.header().lock.unlock();
    }
}

fn padded(len: u64) -> u64 {
    (4 + len).div_ceil(8) * 8
}

impl Locked<'_> {
    /// Appends one record if it fits, posting the descriptors beside it to
    /// the mailbox first; `Ok(false)` if the queue is full, an error if the
    /// mailbox refuses them.
    fn push(&self, item: &[u8], beside: &Beside) -> std::io::Result<bool> {
        let (segment, header) = (self.0, self.0.header());
        let mut count = header.count.load(Ordering::Relaxed);
        let maxsize = header.maxsize.load(Ordering::Relaxed);
        if maxsize > 0 && count >= maxsize {
            return Ok(false);
        }
        let (mut head, mut tail) = (
            header.head.load(Ordering::Relaxed),
            header.tail.load(Ordering::Relaxed),
        );
        // Records start 8-aligned: from an unaligned tail, the marker
        // that skips to the ring's start would run past its end.
        let aligned = (head | tail) % 8 == 0;
        if tail < head || tail - head > RING || tail > u64::MAX / 2 || !aligned {
            // Scribbled over by some process: start the ring afresh, as a
            // pop of a corrupted record does.
            (head, tail, count) = (0, 0, 0);
            header.head.store(0, Ordering::Release);
            header.count.store(0, Ordering::Release);
            header.unreleased.store(0, Ordering::Relaxed);
            header.beside.store(0, Ordering::Relaxed);
        }
        let tagged = !beside.fds.is_empty();
        let tag_len = if tagged { TAG } else { 0 };
        let need = padded(tag_len + item.len() as u64);
        let to_end = RING - tail % RING;
        let skip = if need > to_end { to_end } else { 0 };
        let waiting_beside = header.beside.load(Ordering::Relaxed);
        // Saturating: another process may have left any count beside.
        let used = (tail - head + skip + need).saturating_add(waiting_beside);
        if used.saturating_add(beside.bytes) > RING {
            return Ok(false);
        }
        let mut len = u32::try_from(tag_len as usize + item.len()).unwrap_or(WRAP);
        if tagged {
            let tag = header.posted.fetch_add(1, Ordering::Relaxed);
            self.0.1.post(tag, beside.fds)?;
            segment.write(tail + skip + 4, &tag.to_le_bytes());
            segment.write(tail + skip + 12, &beside.bytes.to_le_bytes());
            header
                .beside
                .store(waiting_beside + beside.bytes, Ordering::Relaxed);
            len |= TAGGED;
        }
        if skip > 0 {
            segment.write(tail, &WRAP.to_le_bytes());
            tail += skip;
        }
        segment.write(tail, &len.to_le_bytes());
        segment.write(tail + 4 + tag_len, item);
        header.tail.store(tail + need, Ordering::Release);
        header.count.store(count.saturating_add(1), Ordering::Release);
        header.unfinished.fetch_add(1, Ordering::AcqRel);
        Ok(true)
    }

    /// Removes the oldest record, if any, and hands its bytes and its
    /// mailbox tag, if any, to `read`, still under the lock (no copy is made).
    ///
    /// The record's bounds are checked first: the segment is shared with
    /// other processes, and one that scribbled over it must cause an error
    /// here, never a slice outside the ring. A corrupted queue is emptied.
    fn pop_with<R>(&self, read: impl FnOnce(&[u8], Option<u64>) -> Result<R>) -> Option<Result<R>> {
        let (segment, header) = (self.0, self.0.header());
        let count = header.count.load(Ordering::Relaxed);
        if count == 0 {
            return None;
        }
        let Some((head, len)) = self.oldest_record() else {
            header.head.store(0, Ordering::Release);
            header.tail.store(0, Ordering::Release);
            header.count.store(0, Ordering::Release);
            return Some(Err(Error::Codec {
                what: "take an item from a queue".into(),
                reason: "the queue's shared memory is corrupted; its items are lost".into(),
            }));
        };
        let (item, tag) = match len & TAGGED {
            0 => (segment.slice(head + 4, len as usize), None),
            _ => {
                let len = (len & !TAGGED) as u64 - TAG;
                let tag = segment.read_u64(head + 4);
                let beside = segment.read_u64(head + 12);
                let waiting = header.beside.load(Ordering::Relaxed);
                header
                    .beside
                    .store(waiting.saturating_sub(beside), Ordering::Relaxed);
                (segment.slice(head + 4 + TAG, len as usize), Some(tag))
            }
        };
        // Consumed before `read` runs, so even a panicking decoder takes it.
        // Memory to give back once `read` is done with the item.
        // Bytes more than a ring behind the tail have been written over.
        let tail = header.tail.load(Ordering::Relaxed);
        let unreleased = header
            .unreleased
            .load(Ordering::Relaxed)
            .max(tail.saturating_sub(RING).next_multiple_of(PAGE));
        let mut release = None;
        if count == 1 {
            // Empty now: start again at the ring's beginning, whose pages are
            // already mapped in every process, instead of touching fresh ones.
            header.tail.store(0, Ordering::Release);
            header.head.store(0, Ordering::Release);
            header.unreleased.store(0, Ordering::Relaxed);
            release = Some((unreleased, tail.next_multiple_of(PAGE)));
        } else {
            header
                .head
                .store(head + padded(u64::from(len & !TAGGED)), Ordering::Release);
            // Up to this record's page, which it may still share with the next.
            let consumed = head - head % PAGE;
            if consumed >= unreleased.saturating_add(RELEASE_STEP) {
                header.unreleased.store(consumed, Ordering::Relaxed);
                release = Some((unreleased, consumed));
            }
        }
        header.count.store(count - 1, Ordering::Release);
        let read = read(item, tag);
        if let Some((from, to)) = release {
            segment.release(from, to);
        }
        Some(read)
    }

    /// Where the oldest record starts and its length word (with [`TAGGED`]),
    /// if the header and the record's length are consistent with the ring.
    fn oldest_record(&self) -> Option<(u64, u32)> {
        self.record_at(self.0.header().head.load(Ordering::Relaxed))
    }

    /// Counts the records, and the bytes waiting beside the ring for them,
    /// anew: a process killed inside the lock may have stored a record and
    /// not yet its count, or the other way round. Records that do not fit
    /// end the count, and the ring with them.
    fn recount(&self) {
        let header = self.0.header();
        let (mut count, mut beside) = (0, 0);
        let mut head = header.head.load(Ordering::Relaxed);
        while let Some((at, len)) = self.record_at(head) {
            count += 1;
            if len & TAGGED != 0 {
                // Saturating: another process may have written anything there.
                beside = self.0.read_u64(at + 12).saturating_add(beside);
            }
            head = at + padded(u64::from(len & !TAGGED));
        }
        header.tail.store(head.max(header.head.load(Ordering::Relaxed)), Ordering::Release);
        header.count.store(count, Ordering::Release);
        header.beside.store(beside, Ordering::Relaxed);
    }

    /// [`oldest_record`](Locked::oldest_record) for a record at `head`.
    fn record_at(&self, mut head: u64) -> Option<(u64, u32)> {
        let (segment, header) = (self.0, self.0.header());
        let tail = header.tail.load(Ordering::Relaxed);
        // Far from overflow, as a put keeps it: the sums below stay exact.
        let fits = |head: u64| {
            head.is_multiple_of(8) && head < tail && tail - head <= RING && tail <= u64::MAX / 2
        };
        if !fits(head) {
            return None;
        }
        let mut len = segment.read_u32(head);
        if len == WRAP {
            head = head.checked_add(RING - head % RING)?;
            if !fits(head) {
                return None;
            }
            len = segment.read_u32(head);
        }
        let body = u64::from(len & !TAGGED);
        let end = head + padded(body);
        let tag_fits = len & TAGGED == 0 || body >= TAG;
        (tag_fits && end <= tail && head % RING + 4 + body <= RING).then_some((head, len))
    }
}

/// What travels beside an encoded item: the descriptors of its handles,
/// and how many bytes the buffers among them hold.
struct Beside<'a> {
    fds: &'a [OwnedFd],
    bytes: u64,
}

impl Beside<'_> {
    const NONE: Beside<'static> = Beside { fds: &[], bytes: 0 };
}

/// A record taken from the ring: decoded, or to decode once the lock is
/// released, with the descriptors of its handles.
enum Popped<T> {
    Decoded(T),
    WithFds(Vec<u8>, Vec<OwnedFd>),
}

/// The value a failed `put` gives back, with the reason.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let q = multiproc::Queue::<u8>::bounded(1)?;
/// q.put(1)?;
/// let failed = q.try_put(2).unwrap_err();
/// assert_eq!(failed.value, 2);
/// assert!(matches!(failed.error, multiproc::Error::Full));
/// # Ok(())
/// # }
/// ```
///
/// Python: the `queue.Full` exception (which does not give the item back).
pub struct PutError<T> {
    /// The item that was not put.
    pub value: T,
    /// Why.
    pub error: Error,
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not put an item: {}", self.error)
    }
}

impl<T> std::error::Error for PutError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T> From<PutError<T>> for Error {
    fn from(failed: PutError<T>) -> Error {
        failed.error
    }
}

/// A first-in, first-out queue shared by any number of processes.
///
/// Handles are cheap to clone and are ordinary arguments of `#[process]` and
/// `#[pool_task]` functions. Every item is delivered exactly once, in the
/// order each producer put them. Blocking calls come in three forms: `get`,
/// `try_get`, `get_timeout` (and the same for `put`).
///
/// # Examples
///
/// ```
/// use multiproc::{process, Queue};
///
/// #[process]
/// fn producer(q: Queue<String>) {
///     for i in 0..3 {
///         q.put(format!("item {i}")).unwrap();
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let q = Queue::new()?;
/// producer.spawn(q.clone())?.join()?; // joined before anyone reads: no deadlock
/// assert_eq!(q.get()?, "item 0");
/// assert_eq!(q.len(), 2);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Queue`.
pub struct Queue<T> {
    segment: Arc<Segment>,
    _item: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            segment: Arc::clone(&self.segment),
            _item: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue").field("len", &self.len()).finish()
    }
}

impl<T> Queue<T> {
    /// An unbounded queue (up to 256 MiB of waiting items).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Queue::<u32>::new()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Queue()`.
    pub fn new() -> Result<Queue<T>> {
        Queue::with_maxsize(0)
    }

    /// A queue of at most `maxsize` items; a full queue makes `put` wait.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Queue::<u32>::bounded(8)?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Queue(maxsize=8)`.
    pub fn bounded(maxsize: usize) -> Result<Queue<T>> {
        Queue::with_maxsize(maxsize.max(1) as u64)
    }

    fn with_maxsize(maxsize: u64) -> Result<Queue<T>> {
        Ok(Queue {
            segment: Arc::new(Segment::create(maxsize)?),
            _item: PhantomData,
        })
    }

    /// The number of items waiting: approximate, since other processes may
    /// change it at any time, as in Python.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Queue::<u32>::new()?;
    /// q.put(1)?;
    /// assert_eq!(q.len(), 1);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.qsize()`.
    pub fn len(&self) -> usize {
        self.segment.header().count.load(Ordering::Acquire) as usize
    }

    /// Whether no item is waiting (approximate).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Queue::<u32>::new()?;
    /// assert!(q.is_empty());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.empty()`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a bounded queue holds `maxsize` items (approximate).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Queue::<u32>::bounded(1)?;
    /// q.put(1)?;
    /// assert!(q.is_full());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.full()`.
    pub fn is_full(&self) -> bool {
        let maxsize = self.segment.header().maxsize.load(Ordering::Acquire) as usize;
        maxsize > 0 && self.len() >= maxsize
    }

    /// Puts an encoded item, the descriptors beside it into the mailbox.
    /// The inner error is the mailbox's refusal of them (nothing was put);
    /// with `wait_for_mailbox`, a full mailbox is waited out like a full
    /// queue, and only other refusals are returned.
    fn put_bytes(
        &self,
        item: &[u8],
        beside: &Beside,
        wait_for_mailbox: bool,
        deadline: Option<Instant>,
    ) -> Result<std::io::Result<()>> {
        let size = item.len() as u64 + beside.bytes;
        if size > RING / 2 {
            return Err(Error::Codec {
                what: "put an item".into(),
                reason: format!(
                    "{size} bytes exceed a queue item's limit of {} bytes",
                    RING / 2
                ),
            });
        }
        let header = self.segment.header();
        loop {
            let seen = header.gets.load(Ordering::Acquire);
            match self.segment.lock().push(item, beside) {
                Ok(true) => {
                    shm::bump(&header.puts, &header.getters_waiting, false);
                    return Ok(Ok(()));
                }
                Ok(false) => {}
                Err(full) if wait_for_mailbox && full.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(refused) => return Ok(Err(refused)),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Full);
            }
            shm::wait_change(&header.gets, &header.putters_waiting, seen, deadline);
        }
    }

    /// Reads a popped record, under the lock. A plain one is decoded in
    /// place. One with a tag cannot be: its handles, decoded, may take the
    /// lock of a queue (this one, say), so its bytes are copied out with the
    /// descriptors posted under its tag, to be decoded once the lock is
    /// released. Taking them under the lock keeps takes in the ring's order.
    fn read_record(&self, bytes: &[u8], tag: Option<u64>) -> Result<Popped<T>>
    where
        T: DeserializeOwned,
    {
        let Some(tag) = tag else {
            return wire::decode(bytes, "a queue item").map(Popped::Decoded);
        };
        let lost = || Error::Codec {
            what: "take an item from a queue".into(),
            reason: "the descriptors of its handles were lost".into(),
        };
        let fds = self
            .segment
            .1
            .take(tag)
            .map_err(Error::io("taking an item's descriptors"))?
            .ok_or_else(lost)?;
        Ok(Popped::WithFds(bytes.to_vec(), fds))
    }

    /// Takes the oldest item and decodes it; `Ok(None)` when the deadline
    /// passed; `Err(Disconnected)` when the queue is empty and no other handle
    /// to it is left anywhere.
    fn take(&self, deadline: Option<Instant>) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        let header = self.segment.header();
        // Whether anyone is left to put is costly to find out (it reads
        // /proc), and no one announces a death, so it is asked once the queue
        // has stayed empty a while, then at growing intervals.
        let mut check_every = ABANDONED_AFTER;
        let mut check_at: Option<Instant> = None;
        loop {
            let seen = header.puts.load(Ordering::Acquire);
            let popped = self
                .segment
                .lock()
                .pop_with(|bytes, tag| self.read_record(bytes, tag));
            if let Some(popped) = popped {
                // Every blocked putter looks again: the one woken alone
                // might wait for more room than this freed, and sleep on
                // while a smaller item would fit.
                shm::bump(&header.gets, &header.putters_waiting, true);
                return match popped? {
                    Popped::Decoded(item) => Ok(Some(item)),
                    Popped::WithFds(bytes, fds) => {
                        wire::with_fds(fds, || wire::decode(&bytes, "a queue item")).map(Some)
                    }
                };
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            let mut at = *check_at.get_or_insert(now + check_every);
            if now >= at {
                if self.segment.abandoned(Arc::strong_count(&self.segment)) {
                    return Err(Error::Disconnected);
                }
                check_every = (check_every * 2).min(shm::OWNER_CHECK_MAX);
                at = now + check_every;
                check_at = Some(at);
            }
            let until = deadline.map_or(at, |d| d.min(at));
            shm::wait_change(&header.puts, &header.getters_waiting, seen, Some(until));
        }
    }
}

impl<T: Serialize> Queue<T> {
    fn put_until(
        &self,
        item: T,
        deadline: Option<Instant>,
    ) -> std::result::Result<(), PutError<T>> {
        thread_local! {
            /// Reused for every put, so that big items do not fault in fresh pages each time.
            static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let put = ENCODED.with(|buffer| {
            let mut fresh = Vec::new();
            let mut reused = buffer.try_borrow_mut();
            let buffer = reused.as_deref_mut().unwrap_or(&mut fresh);
            buffer.clear();
            // Up to half the warm start of the ring, copies in and out of
            // it beat a memfd (8 GB/s against 2 here, for 1 MiB).
            let (encoded, fds, bytes) = wire::collect_fds_beside_from(WARM as usize / 2, || {
                wire::encode_into(&item, buffer)
            });
            let unencodable = |e| Error::Codec {
                what: "encode a queue item".into(),
                reason: wire::codec_failure(&e),
            };
            encoded.map_err(unencodable)?;
            let beside = Beside { fds: &fds, bytes };
            let put = match self.put_bytes(buffer, &beside, false, deadline) {
                Ok(Err(_)) => {
                    // The mailbox refused: a large `Bytes` can go inline
                    // instead; an item with handles waits for room there
                    // unless the refusal was for another reason.
                    let refused = |e: std::io::Error| Error::Codec {
                        what: "put an item".into(),
                        reason: format!("its descriptors could not be queued: {e}"),
                    };
                    let mut inline = Vec::new();
                    match wire::encode_into(&item, &mut inline) {
                        Ok(()) => self.put_bytes(&inline, &Beside::NONE, false, deadline),
                        Err(_) => self.put_bytes(buffer, &beside, true, deadline),
                    }
                    .and_then(|put| put.map_err(refused))
                }
                Ok(Ok(())) => Ok(()),
                Err(e) => Err(e),
            };
            if buffer.capacity() > 8 << 20 {
                // Not kept: one huge item should not pin its size for ever.
                *buffer = Vec::new();
            }
            put
        });
        put.map_err(|error| PutError { value: item, error })
    }

    /// Puts an item, waiting while a bounded queue is full.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if the item cannot be encoded or is too large; the item comes back.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Queue::<String>::new()?;
    /// q.put("hello".to_string())?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.put(item)`.
    pub fn put(&self, item: T) -> std::result::Result<(), PutError<T>> {
        self.put_until(item, None)
    }

    /// Puts an item only if there is room now.
    ///
    /// # Errors
    ///
    /// [`Error::Full`] if there is no room; otherwise as for [`put`](Queue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Queue::<u8>::bounded(1)?;
    /// assert!(q.try_put(1).is_ok());
    /// assert!(q.try_put(2).is_err());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.put_nowait(item)`.
    pub fn try_put(&self, item: T) -> std::result::Result<(), PutError<T>> {
        self.put_until(item, Some(Instant::now()))
    }

    /// Puts an item, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`Error::Full`] if no room came in time; otherwise as for [`put`](Queue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let q = multiproc::Queue::<u8>::bounded(1)?;
    /// q.put(1)?;
    /// assert!(q.put_timeout(2, Duration::from_millis(10)).is_err());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.put(item, timeout=t)`.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> std::result::Result<(), PutError<T>> {
        self.put_until(item, wire::deadline(timeout))
    }
}

impl<T: DeserializeOwned> Queue<T> {
    /// Takes the oldest item, waiting for one.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] if the queue is empty and no other handle to it
    /// is left, in this process or any live one (every producer has dropped
    /// its handle or died), so nothing could ever arrive. [`Error::Codec`] if
    /// the item does not decode (it is consumed; the queue stays usable).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Queue::<u32>::new()?;
    /// q.put(7)?;
    /// assert_eq!(q.get()?, 7);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.get()`.
    pub fn get(&self) -> Result<T> {
        // Without a deadline the wait ends only with an item or an error.
        loop {
            if let Some(item) = self.take(None)? {
                return Ok(item);
            }
        }
    }

    /// Takes the oldest item if there is one now.
    ///
    /// # Errors
    ///
    /// As for [`get`](Queue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::Queue::<u32>::new()?;
    /// assert_eq!(q.try_get()?, None);
    /// q.put(1)?;
    /// assert_eq!(q.try_get()?, Some(1));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.get_nowait()`.
    pub fn try_get(&self) -> Result<Option<T>> {
        self.take(Some(Instant::now()))
    }

    /// Takes the oldest item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if none came in time while another handle exists;
    /// otherwise as for [`get`](Queue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let q = multiproc::Queue::<u32>::new()?;
    /// let producer = q.clone(); // someone who could still put
    /// assert!(matches!(q.get_timeout(Duration::from_millis(10)), Err(multiproc::Error::Timeout(_))));
    /// drop(producer);
    /// // Nobody is left who could put: after a short while, `get` says so.
    /// assert!(matches!(q.get_timeout(Duration::from_secs(5)), Err(multiproc::Error::Disconnected)));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.get(timeout=t)`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.take(wire::deadline(timeout))?
            .ok_or(Error::Timeout(timeout))
    }
}

impl<T> Serialize for Queue<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let index = self.segment.0.export().map_err(S::Error::custom)?;
        let mailbox = self.segment.1.export().map_err(S::Error::custom)?;
        self.segment
            .header()
            .in_transit
            .fetch_add(1, Ordering::AcqRel);
        (index, mailbox).serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let (index, mailbox) = <(u32, (u32, u32))>::deserialize(deserializer)?;
        let fd = wire::import_fd(index).map_err(D::Error::custom)?;
        let mailbox = Mailbox::import(mailbox).map_err(D::Error::custom)?;
        let segment = Segment::map(fd, mailbox).map_err(D::Error::custom)?;
        // Arrived: no longer in transit (saturating, since a retried pool chunk
        // decodes the same encoding again).
        let in_transit = &segment.header().in_transit;
        let _ = in_transit.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        Ok(Queue {
            segment: Arc::new(segment),
            _item: PhantomData,
        })
    }
}

/// A [`Queue`] that also counts items not yet marked done, so a producer can
/// wait until every item has been processed.
///
/// # Examples
///
/// ```
/// use multiproc::{process, JoinableQueue};
///
/// #[process]
/// fn worker(q: JoinableQueue<u32>) {
///     while let Ok(Some(_item)) = q.try_get() {
///         q.task_done().unwrap();
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let q = JoinableQueue::new()?;
/// for i in 0..5 {
///     q.put(i)?;
/// }
/// let w = worker.spawn(q.clone())?;
/// q.join();
/// w.join()?;
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.JoinableQueue`.
pub struct JoinableQueue<T>(Queue<T>);

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue(self.0.clone())
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinableQueue").field(&self.0).finish()
    }
}

impl<T> std::ops::Deref for JoinableQueue<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.0
    }
}

impl<T> JoinableQueue<T> {
    /// An unbounded joinable queue.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::JoinableQueue::<u32>::new()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.JoinableQueue()`.
    pub fn new() -> Result<JoinableQueue<T>> {
        Queue::new().map(JoinableQueue)
    }

    /// A joinable queue of at most `maxsize` items.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::JoinableQueue::<u32>::bounded(4)?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.JoinableQueue(maxsize=4)`.
    pub fn bounded(maxsize: usize) -> Result<JoinableQueue<T>> {
        Queue::bounded(maxsize).map(JoinableQueue)
    }

    /// Marks one item taken with `get` as processed.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyTaskDone`] if called more times than items were put.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::JoinableQueue::<u32>::new()?;
    /// q.put(1)?;
    /// q.get()?;
    /// q.task_done()?;
    /// assert!(q.task_done().is_err());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.task_done()`.
    pub fn task_done(&self) -> Result<()> {
        let segment = &self.0.segment;
        let header = segment.header();
        let locked = segment.lock();
        let unfinished = header.unfinished.load(Ordering::Acquire);
        if unfinished == 0 {
            return Err(Error::TooManyTaskDone);
        }
        header.unfinished.store(unfinished - 1, Ordering::Release);
        drop(locked);
        if unfinished == 1 {
            shm::bump(&header.finished, &header.joiners_waiting, true);
        }
        Ok(())
    }

    /// Waits until every item put has been marked done.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = multiproc::JoinableQueue::<u32>::new()?;
    /// q.join(); // nothing was put
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `q.join()`.
    pub fn join(&self) {
        self.join_until(None);
    }

    /// Waits at most `timeout`; returns whether every item was marked done.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let q = multiproc::JoinableQueue::<u32>::new()?;
    /// q.put(1)?;
    /// assert!(!q.join_timeout(Duration::from_millis(10)));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: no equivalent; `JoinableQueue.join()` has no timeout.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.join_until(wire::deadline(timeout))
    }

    fn join_until(&self, deadline: Option<Instant>) -> bool {
        let header = self.0.segment.header();
        loop {
            let seen = header.finished.load(Ordering::Acquire);
            if header.unfinished.load(Ordering::Acquire) == 0 {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            shm::wait_change(&header.finished, &header.joiners_waiting, seen, deadline);
        }
    }
}

impl<T> Serialize for JoinableQueue<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for JoinableQueue<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Queue::deserialize(deserializer).map(JoinableQueue)
    }
}

#[cfg(test)]
mod tests {
    use serde_bytes::ByteBuf;

    use super::*;

    fn filled(len: usize, byte: u8) -> ByteBuf {
        ByteBuf::from(vec![byte; len])
    }

    /// Takes the next item and checks it, without printing megabytes when not.
    fn expect(q: &Queue<ByteBuf>, expected: &ByteBuf) {
        let got = q.get().unwrap();
        assert!(
            got == *expected,
            "got {} bytes starting {:?}, expected {} bytes of {:?}",
            got.len(),
            got.first(),
            expected.len(),
            expected.first()
        );
    }

    #[test]
    fn records_cross_the_end_of_the_ring_whole_and_in_order() {
        let q = Queue::<ByteBuf>::new().unwrap();
        let big = (RING / 2 - 4096) as usize;
        q.put(filled(big, 1)).unwrap();
        q.put(filled(big, 2)).unwrap();
        expect(&q, &filled(big, 1));
        // The third record does not fit before the ring's end: it starts
        // over at offset 0, behind a wrap marker.
        q.put(filled(big, 3)).unwrap();
        let header = q.segment.header();
        assert!(
            header.tail.load(Ordering::Relaxed) > RING,
            "the ring did not wrap"
        );
        expect(&q, &filled(big, 2));
        expect(&q, &filled(big, 3));
        assert!(q.is_empty());
    }

    #[test]
    fn small_records_wrap_many_times_without_loss() {
        let q = Queue::<ByteBuf>::new().unwrap();
        // One item always waits, so the ring never resets to its start.
        q.put(filled(8, 0)).unwrap();
        let item = (RING / 5) as usize;
        for round in 1..=12u8 {
            q.put(filled(item, round)).unwrap();
            let expected = if round == 1 {
                filled(8, 0)
            } else {
                filled(item, round - 1)
            };
            expect(&q, &expected);
        }
        assert!(q.segment.header().tail.load(Ordering::Relaxed) > 2 * RING);
        expect(&q, &filled(item, 12));
    }

    #[test]
    fn memory_held_tracks_the_bytes_queued() {
        let q = Queue::<ByteBuf>::new().unwrap();
        let item = 1 << 20;
        // One item always waits, so the ring never starts over; it crosses
        // its end twice.
        q.put(filled(item, 0)).unwrap();
        for round in 1..=600u32 {
            q.put(filled(item, round as u8)).unwrap();
            expect(&q, &filled(item, (round - 1) as u8));
        }
        let held = q.segment.0.resident();
        assert!(
            held <= WARM + RELEASE_STEP + 2 * (item as u64) + HEADER + 2 * PAGE,
            "{held} bytes held for one queued MiB"
        );
        q.get().unwrap();
        assert!(q.segment.0.resident() <= WARM + HEADER + PAGE);
    }

    #[test]
    fn a_corrupted_record_length_is_an_error_not_a_wild_slice() {
        let q = Queue::<ByteBuf>::new().unwrap();
        q.put(filled(16, 7)).unwrap();
        // Another process scribbles a huge length over the record.
        q.segment.write(0, &(u32::MAX - 1).to_le_bytes());
        assert!(matches!(q.get(), Err(Error::Codec { .. })));
        // The queue is emptied, and usable again.
        q.put(filled(4, 9)).unwrap();
        expect(&q, &filled(4, 9));
    }

    #[test]
    fn room_freed_in_a_full_ring_reaches_a_small_putter_behind_a_big_one() {
        let q = Queue::<ByteBuf>::new().unwrap();
        // Bytes each item takes in the ring beyond its own.
        let framing = |len: u64| padded(len) - len;
        let small = 1 << 20;
        let big = RING / 2 - 8;
        q.put(filled(small as usize, 1)).unwrap();
        q.put(filled(big as usize - 12, 2)).unwrap();
        let used = padded(small) + padded(big - 12);
        // The rest of the ring but 16 bytes.
        let rest = RING - used - 16;
        q.put(filled((rest - framing(rest) - 8) as usize, 3))
            .unwrap();
        std::thread::scope(|s| {
            let q = &q;
            let sleepers = |n| {
                while q.segment.header().putters_waiting.load(Ordering::SeqCst) < n {
                    std::thread::sleep(Duration::from_millis(1));
                }
            };
            // The big one sleeps first, so a single wake-up would reach it;
            // the room one get frees is enough for the small one only.
            let huge = filled(100 << 20, 4);
            let big_putter = s.spawn(move || q.put_timeout(huge, Duration::from_secs(30)).is_ok());
            sleepers(1);
            let small_putter = s.spawn(move || {
                q.put_timeout(filled(4096, 5), Duration::from_secs(60))
                    .is_ok()
            });
            sleepers(2);
            expect(q, &filled(small as usize, 1));
            // A bound for a hang, not a speed: without a wake-up it sleeps a minute.
            let hang = Instant::now() + Duration::from_secs(10);
            while !small_putter.is_finished() {
                assert!(
                    Instant::now() < hang,
                    "the small putter slept through the room freed"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(small_putter.join().unwrap());
            expect(q, &filled(big as usize - 12, 2));
            assert!(big_putter.join().unwrap());
        });
    }

    #[test]
    fn a_corrupted_header_does_not_stop_puts() {
        let q = Queue::<ByteBuf>::new().unwrap();
        q.put(filled(16, 7)).unwrap();
        // Another process scribbles a head past the tail.
        q.segment.header().head.store(1 << 40, Ordering::Relaxed);
        q.put(filled(4, 9)).unwrap();
        // Counted from nothing, as the ring was emptied.
        assert_eq!(q.segment.header().count.load(Ordering::Relaxed), 1);
        expect(&q, &filled(4, 9));
    }

    #[test]
    fn an_unaligned_tail_left_by_another_process_is_no_write_past_the_ring() {
        let q = Queue::<ByteBuf>::new().unwrap();
        let header = q.segment.header();
        header.head.store(RING - 1, Ordering::Relaxed);
        header.tail.store(RING - 1, Ordering::Relaxed);
        q.put(filled(16, 7)).unwrap();
        expect(&q, &filled(16, 7));
    }

    #[test]
    fn the_taker_of_a_dead_producers_lock_counts_the_records_again() {
        let q = Queue::<ByteBuf>::new().unwrap();
        q.put(filled(16, 1)).unwrap();
        q.put(filled(16, 2)).unwrap();
        // The second put stored its record but not its count, after
        // storing bytes beside the ring for an item it never wrote, and
        // was killed holding the lock.
        let header = q.segment.header();
        header.count.store(1, Ordering::Relaxed);
        header.beside.store(RING, Ordering::Relaxed);
        header.lock.hold_for_the_dead();
        expect(&q, &filled(16, 1));
        assert_eq!(
            q.try_get().ok().flatten(),
            Some(filled(16, 2)),
            "the uncounted item was lost"
        );
        assert!(q.put_timeout(filled(16, 3), Duration::from_secs(5)).is_ok());
        expect(&q, &filled(16, 3));
    }

    #[test]
    fn a_tail_near_the_end_of_the_counter_is_an_error_not_an_overflow() {
        let q = Queue::<ByteBuf>::new().unwrap();
        q.put(filled(16, 7)).unwrap();
        let header = q.segment.header();
        let tail = u64::MAX - 7;
        header.tail.store(tail, Ordering::Relaxed);
        header.head.store(tail - 16, Ordering::Relaxed);
        q.segment.write(tail - 16, &(u32::MAX >> 1).to_le_bytes());
        assert!(matches!(q.get(), Err(Error::Codec { .. })));
        // Bytes said to wait beside the ring past any sum: full, no overflow.
        header.beside.store(u64::MAX, Ordering::Relaxed);
        assert!(q.try_put(filled(4, 9)).is_err());
    }

    #[test]
    fn a_corrupted_header_is_an_error_not_a_wild_slice() {
        let q = Queue::<ByteBuf>::new().unwrap();
        q.put(filled(16, 7)).unwrap();
        q.segment.header().head.store(3 * RING, Ordering::Relaxed);
        assert!(matches!(q.get(), Err(Error::Codec { .. })));
    }

    fn dev_null() -> crate::Fd {
        crate::Fd::from(std::fs::File::open("/dev/null").unwrap())
    }

    // Nothing is shared beside a frame where nothing can be frozen (macOS).
    #[cfg(not(portable))]
    #[test]
    fn a_bytes_item_beyond_half_the_warm_ring_waits_in_the_mailbox() {
        let q = Queue::<crate::Bytes>::new().unwrap();
        let big = crate::Bytes::from(vec![5u8; WARM as usize]);
        q.put(big.clone()).unwrap();
        assert!(q.segment.header().tail.load(Ordering::Relaxed) < 64);
        let small = crate::Bytes::from(vec![4u8; 1 << 20]);
        q.put(small.clone()).unwrap();
        assert!(q.segment.header().tail.load(Ordering::Relaxed) > 1 << 20);
        assert_eq!(q.get().unwrap(), big);
        assert_eq!(q.get().unwrap(), small);
    }

    #[test]
    fn descriptors_of_a_producer_that_died_before_its_record_are_skipped() {
        let q = Queue::<crate::Fd>::new().unwrap();
        // As a put that posted under the next tag and died before writing its record.
        let tag = q.segment.header().posted.fetch_add(1, Ordering::Relaxed);
        q.segment.1.post(tag, &[dev_null().into()]).unwrap();
        q.put(dev_null()).unwrap();
        q.get().unwrap();
        assert!(
            q.segment.1.take(tag).unwrap().is_none(),
            "the orphan is gone"
        );
    }

    #[test]
    fn a_record_whose_descriptors_are_missing_fails_alone() {
        let q = Queue::<crate::Fd>::new().unwrap();
        q.put(dev_null()).unwrap();
        q.put(dev_null()).unwrap();
        // As a consumer that took the first item's descriptors and died.
        let tag = q.segment.header().posted.load(Ordering::Relaxed) - 2;
        assert!(q.segment.1.take(tag).unwrap().is_some());
        let error = q.get().unwrap_err().to_string();
        assert!(error.contains("were lost"), "{error}");
        q.get().unwrap();
    }

    #[test]
    fn with_the_mailbox_full_bytes_go_inline_and_handles_wait() {
        let q = Queue::<crate::Bytes>::new().unwrap();
        let filler = [OwnedFd::from(dev_null())];
        let mut tags = 0u64;
        while q.segment.1.post(u64::MAX, &filler).is_ok() {
            tags += 1;
            assert!(tags < 1_000_000, "the mailbox never filled");
        }
        let big = crate::Bytes::from(vec![6u8; WARM as usize]);
        q.put(big.clone()).unwrap();
        assert!(q.segment.header().tail.load(Ordering::Relaxed) > WARM);
        assert_eq!(q.get().unwrap(), big);
        let handles = Queue::<crate::Fd> {
            segment: Arc::clone(&q.segment),
            _item: PhantomData,
        };
        let refused = handles.try_put(dev_null()).unwrap_err();
        assert!(matches!(refused.error, Error::Full), "{:?}", refused.error);
    }

    #[test]
    fn a_queue_handle_queued_in_itself_comes_back_out() {
        #[derive(Serialize, Deserialize)]
        struct Node(Option<Queue<Node>>);
        let q = Queue::<Node>::new().unwrap();
        q.put(Node(Some(q.clone()))).unwrap();
        let Node(Some(inner)) = q.get_timeout(Duration::from_secs(10)).unwrap() else {
            panic!("the handle did not come back");
        };
        inner.put(Node(None)).unwrap();
        assert!(matches!(q.get().unwrap(), Node(None)));
    }

    #[test]
    fn buffers_waiting_beside_the_ring_count_against_its_room() {
        let q = Queue::<crate::Bytes>::new().unwrap();
        let big = crate::Bytes::from(vec![1u8; (RING / 4) as usize]);
        let mut put = 0;
        while q.try_put(big.clone()).is_ok() {
            put += 1;
            assert!(put < 10, "the ring's room was never used up");
        }
        assert_eq!(put, 3, "a quarter of the ring each, beside a little of it");
        q.get().unwrap();
        q.try_put(big).unwrap();
    }
}
