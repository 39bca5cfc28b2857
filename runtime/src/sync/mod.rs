//! Synchronization between processes: [`Lock`], [`RLock`], [`Event`],
//! [`Semaphore`], [`BoundedSemaphore`], [`Condition`] and [`Barrier`], one
//! file each. Each is a small shared segment of atomic words with futex
//! waits (see `shm`); this module holds what they share.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Result;
use crate::shm::{RobustLock, Shm};
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
    /// A semaphore's limit (the most a count can hold, for one not
    /// bounded), or the levels an `RLock`'s owner holds beyond the first.
    max: AtomicU32,
}

/// A handle to a shared segment; clones share it.
#[derive(Clone)]
struct Segment(Arc<Shm>);

impl Segment {
    fn create(what: &'static str) -> Result<Segment> {
        Ok(Segment(Arc::new(Shm::create(what, SEGMENT)?)))
    }

    fn words(&self) -> &Words {
        // SAFETY: Words is repr(C), atomics only, valid when zero, and fits in the segment.
        unsafe { self.0.header() }
    }
}

impl Serialize for Segment {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.0
            .export()
            .map_err(S::Error::custom)?
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Segment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let fd: OwnedFd =
            wire::import_fd(u32::deserialize(deserializer)?).map_err(D::Error::custom)?;
        let shm = Shm::open("mapping a shared object", fd, SEGMENT).map_err(D::Error::custom)?;
        Ok(Segment(Arc::new(shm)))
    }
}

mod barrier;
mod condition;
mod event;
mod lock;
mod rlock;
mod semaphore;

pub use barrier::Barrier;
pub use condition::{Condition, ConditionGuard};
pub use event::Event;
pub use lock::{Lock, LockGuard};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};
