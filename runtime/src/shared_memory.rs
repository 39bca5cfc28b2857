//! [`SharedMemory`]: named blocks of shared bytes, like Python's
//! `multiprocessing.shared_memory`.
//!
//! A block is a POSIX shared-memory object named `/multiproc.<name>` (on
//! Linux, the file `/dev/shm/multiproc.<name>`). Its
//! creator removes it when dropped; if the creator dies first, a tracker
//! process (started with the creator's first block, like Python's resource
//! tracker) sees its connection close and removes what is left.

use std::collections::BTreeSet;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bootstrap::{self, Job, Launch, OsChild, Start};
use crate::error::{Error, Result};
use crate::sys::named;
use crate::sys::process::{self, Ignorable};
use crate::bootstrap::identity::Identity;
use crate::wire::{self, Conn};

/// What a creator tells its tracker.
#[derive(Serialize, Deserialize)]
enum Track {
    /// Nothing yet: makes sure the tracker runs.
    Hello,
    Created(String),
    Removed(String),
}

/// The system-wide name of block `name`.
fn system_name(name: &str) -> String {
    format!("/multiproc.{name}")
}

/// The body of the tracker process: remembers names until its creator's
/// connection closes, then removes those still there.
/// The tracker: removes the named blocks its parent leaves behind when it
/// dies. No lifeline: the parent's death is exactly when it works.
#[linkme::distributed_slice(bootstrap::JOB_KINDS)]
static TRACKER_JOB: bootstrap::JobKind = bootstrap::JobKind {
    name: "shared memory tracker",
    lifeline: false,
    run: |conn, _, _| track(conn),
};

fn track(mut conn: Conn) -> i32 {
    // It must outlive the signals sent to its creator's process group (a
    // terminal's Ctrl-C or hang-up, a kill of the job, `kill -9 -PGID`): the
    // creator's death is when it works. So it leaves that group, which no
    // signal can be ignored past, and, like Python's resource tracker,
    // ignores those signals meant for itself alone.
    process::leave_process_group();
    for signal in [Ignorable::Interrupt, Ignorable::Terminate, Ignorable::HangUp] {
        process::ignore(signal);
    }
    // Tells the creator that those signals can no longer stop it.
    if conn.send(&()).is_err() {
        return 1;
    }
    let mut names = BTreeSet::new();
    while let Ok(message) = conn.recv::<Track>() {
        match message {
            Track::Hello => true,
            Track::Created(name) => names.insert(name),
            Track::Removed(name) => names.remove(&name),
        };
    }
    for name in names {
        named::unlink(system_name(&name).as_str());
    }
    0
}

/// This process's tracker connection, started on first use and kept for
/// the life of the process (its closing at exit is the tracker's signal).
static TRACKER: Mutex<Option<(OsChild, Conn)>> = Mutex::new(None);

fn lock_tracker() -> std::sync::MutexGuard<'static, Option<(OsChild, Conn)>> {
    TRACKER.lock().unwrap_or_else(|e| e.into_inner())
}

// In a forked child, the parent's tracker connection is not this process's.
// Forgotten, not dropped: the child closes every inherited descriptor.
crate::forking::fork_hook!(
    TRACKER_FORK,
    order: 10,
    holds: std::sync::MutexGuard<'static, Option<(OsChild, Conn)>> = lock_tracker(),
    forget: || std::mem::forget(lock_tracker().take()),
);

fn tell_tracker(message: &Track) -> Result<()> {
    let mut tracker = lock_tracker();
    if tracker.is_none() {
        let job = Job::new(&TRACKER_JOB, &(), Vec::new())?;
        let start = Start::new(job, Identity::helper("SharedMemoryTracker"));
        let launch = Launch::default();
        // As a start of multiproc's own, which holds the tracker's lock.
        let (child, mut conn) = crate::forking::ours(|| bootstrap::launch(&launch, &start))?;
        // Until it says it ignores the group's signals, a Ctrl-C would end it
        // with its creator, and the block would stay.
        let ready = conn.wait_readable(Some(launch.handshake_timeout))?;
        if !ready || conn.recv::<()>().is_err() {
            child.kill_and_reap();
            return Err(Error::Handshake {
                pid: child.pid().expect("`launch` starts a process of this machine"),
                reason: "the shared-memory tracker did not start".into(),
            });
        }
        *tracker = Some((child, conn));
    }
    match tracker.as_mut() {
        Some((_, conn)) => conn.send(message),
        None => Err(Error::Disconnected),
    }
}

/// A named block of shared bytes.
///
/// Any process can open it by name while its creator keeps it; it is also an
/// ordinary argument of `#[process]` and `#[pool_task]` functions. Access is
/// by bounds-checked `read` and `write` (an out-of-bounds offset is an error,
/// never a stray access), or by the raw pointer for those who need it.
///
/// # Examples
///
/// ```
/// use multiproc::SharedMemory;
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let name = format!("doc-{}", std::process::id());
/// let block = SharedMemory::create(&name, 4096)?;
/// block.write(0, b"hello")?;
/// let other = SharedMemory::open(&name)?;
/// let mut buf = [0u8; 5];
/// other.read(0, &mut buf)?;
/// assert_eq!(&buf, b"hello");
/// drop(block); // the creator removes the name
/// assert!(SharedMemory::open(&name).is_err());
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.shared_memory.SharedMemory(name, create=True, size=4096)`.
pub struct SharedMemory(Arc<Block>);

struct Block {
    name: String,
    map: memmap2::MmapRaw,
    fd: OwnedFd,
    /// The pid of the creating process, in the creator's handles only.
    creator: Option<u32>,
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.0.name)
            .field("len", &self.len())
            .finish()
    }
}

impl Clone for SharedMemory {
    fn clone(&self) -> Self {
        SharedMemory(Arc::clone(&self.0))
    }
}

fn map(name: &str, fd: OwnedFd, creator: Option<u32>) -> Result<SharedMemory> {
    let map =
        memmap2::MmapRaw::map_raw(fd.as_raw_fd()).map_err(Error::io("mapping shared memory"))?;
    Ok(SharedMemory(Arc::new(Block {
        name: name.into(),
        map,
        fd,
        creator,
    })))
}

impl SharedMemory {
    /// Creates the block `name` of `len` bytes, zeroed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `len` is 0, or the name too long (macOS
    /// keeps 31 bytes, of which multiproc's prefix takes 11); [`Error::Io`] if
    /// the name is taken or the memory cannot be created. On Linux the
    /// memory is taken when the block is created, so a block larger than
    /// `/dev/shm` has room for is this error, where Python's is created and
    /// a later write to it is killed by SIGBUS.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = format!("create-{}", std::process::id());
    /// let block = multiproc::SharedMemory::create(&name, 64)?;
    /// assert!(block.len() >= 64); // 64 on Linux; a whole page on macOS
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `SharedMemory(name, create=True, size=64)`.
    pub fn create(name: &str, len: usize) -> Result<SharedMemory> {
        if len == 0 {
            return Err(Error::InvalidArgument {
                argument: "len",
                reason: "a shared memory block must hold at least one byte",
            });
        }
        if system_name(name).len() > named::MAX_NAME {
            return Err(Error::InvalidArgument {
                argument: "name",
                reason: "too long for this system's shared memory names \
                         (macOS keeps 31 bytes, 20 of them yours)",
            });
        }
        // The tracker is running before the block exists, so that a creator
        // killed at once leaves it behind for no more than one message.
        tell_tracker(&Track::Hello)?;
        let fd = named::create(system_name(name).as_str(), len as u64)
            .map_err(Error::io("creating shared memory"))?;
        if let Err(e) = tell_tracker(&Track::Created(name.into())) {
            named::unlink(system_name(name).as_str());
            return Err(e);
        }
        map(name, fd, Some(std::process::id()))
    }

    /// Opens the existing block `name`.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSharedMemory`] if there is none by that name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(multiproc::SharedMemory::open("surely-not-there").is_err());
    /// ```
    ///
    /// Python: `SharedMemory(name)`.
    pub fn open(name: &str) -> Result<SharedMemory> {
        let fd = named::open(system_name(name).as_str()).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NoSuchSharedMemory { name: name.into() },
            _ => Error::io("opening shared memory")(e),
        })?;
        map(name, fd, None)
    }

    /// The block's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = format!("name-{}", std::process::id());
    /// assert_eq!(multiproc::SharedMemory::create(&name, 8)?.name(), name);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `shm.name`.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The block's size in bytes: the size it was created with, or on macOS,
    /// which rounds shared memory up to whole pages, that many pages.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = format!("len-{}", std::process::id());
    /// let len = multiproc::SharedMemory::create(&name, 8)?.len();
    /// assert!(len == 8 || cfg!(target_os = "macos"));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `shm.size`.
    pub fn len(&self) -> usize {
        self.0.map.len()
    }

    /// Whether the block has no bytes (never, as blocks hold at least one).
    ///
    /// # Examples
    ///
    /// ```
    /// let name = format!("empty-{}", std::process::id());
    /// assert!(!multiproc::SharedMemory::create(&name, 8)?.is_empty());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `shm.size == 0`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The region every copy of this block goes through: its length rounded
    /// up to whole words, which the mapping's last page holds. (Rounded, the
    /// atomic a byte goes through does not depend on the length each process
    /// saw when it mapped the block, which another process may resize.)
    fn region(&self) -> usize {
        self.len().next_multiple_of(size_of::<usize>())
    }

    fn check(&self, offset: usize, len: usize) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(Error::OutOfBounds {
                offset,
                len,
                size: self.len(),
            }),
        }
    }

    /// Copies `buf.len()` bytes out of the block, starting at `offset`.
    ///
    /// The copy is made a word at a time with atomic loads, so a write racing
    /// it from another thread or process may leave it torn (as with Python's
    /// buffer), but is never undefined behaviour, whatever the ranges of the
    /// two copies.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfBounds`] if the range does not fit in the block.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = format!("read-{}", std::process::id());
    /// let block = multiproc::SharedMemory::create(&name, 8)?;
    /// let mut buf = [1u8; 4];
    /// block.read(4, &mut buf)?;
    /// assert_eq!(buf, [0; 4]);
    /// assert!(block.read(6, &mut buf).is_err());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `bytes(shm.buf[offset:offset + n])`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check(offset, buf.len())?;
        // SAFETY: in bounds (checked) of the mapping, the region every copy
        // of this block uses. The copy is atomic per word or byte, so a
        // racing writer makes it torn, never undefined.
        unsafe { crate::shm::atomic_read(self.0.map.as_ptr(), self.region(), offset, buf) };
        Ok(())
    }

    /// Copies `bytes` into the block, starting at `offset`, a word at a time
    /// with atomic stores (see [`read`](SharedMemory::read)).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfBounds`] if the range does not fit in the block.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = format!("write-{}", std::process::id());
    /// let block = multiproc::SharedMemory::create(&name, 8)?;
    /// block.write(0, &[1, 2, 3])?;
    /// assert!(block.write(7, &[1, 2]).is_err());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `shm.buf[offset:offset + n] = data`.
    pub fn write(&self, offset: usize, bytes: &[u8]) -> Result<()> {
        self.check(offset, bytes.len())?;
        // SAFETY: as for `read`.
        unsafe { crate::shm::atomic_write(self.0.map.as_mut_ptr(), self.region(), offset, bytes) };
        Ok(())
    }

    /// The first byte of the block, for direct access. Using it is `unsafe`
    /// in the usual ways: stay within [`len`](SharedMemory::len) and order
    /// racing accesses from other processes yourself.
    ///
    /// # Examples
    ///
    /// ```
    /// let name = format!("ptr-{}", std::process::id());
    /// let block = multiproc::SharedMemory::create(&name, 8)?;
    /// assert!(!block.as_ptr().is_null());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `shm.buf`.
    pub fn as_ptr(&self) -> *mut u8 {
        self.0.map.as_mut_ptr()
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if self.creator == Some(std::process::id()) {
            named::unlink(system_name(&self.name).as_str());
            let _ = tell_tracker(&Track::Removed(self.name.clone()));
        }
    }
}

#[derive(Serialize, Deserialize)]
struct BlockWire {
    name: String,
    fd: u32,
}

impl Serialize for SharedMemory {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let fd = wire::export_fd(self.0.fd.as_fd()).map_err(S::Error::custom)?;
        BlockWire {
            name: self.0.name.clone(),
            fd,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = BlockWire::deserialize(deserializer)?;
        let fd = wire::import_fd(wire.fd).map_err(D::Error::custom)?;
        map(&wire.name, fd, None).map_err(D::Error::custom)
    }
}
