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
    /// An event's flag, or a semaphore's count (and its sleepers' flag).
    state: AtomicU32,
    /// Moves on whenever waiters should look again; a semaphore's marks
    /// that a release once took two steps (see `semaphore.rs`).
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

/// What a segment is, sent beside it and checked by the receiver: an
/// executable that names another type at the same place (a child started
/// from another program, `ProcessBuilder::executable`) must not read one
/// object's words as another's.
#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Copy, Debug)]
enum Kind {
    Lock,
    RLock,
    Semaphore,
    BoundedSemaphore,
    Event,
    Condition,
    Barrier,
}

impl Segment {
    fn serialize_as<S: Serializer>(
        &self,
        kind: Kind,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let fd = self.0.export().map_err(S::Error::custom)?;
        (fd, kind).serialize(serializer)
    }

    fn deserialize_as<'de, D: Deserializer<'de>>(
        kind: Kind,
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let (index, sent) = <(u32, Kind)>::deserialize(deserializer)?;
        let fd: OwnedFd = wire::import_fd(index).map_err(D::Error::custom)?;
        if sent != kind {
            return Err(D::Error::custom(wire::refused(format!(
                "a shared {sent:?} was sent where a shared {kind:?} was expected"
            ))));
        }
        let shm = Shm::open("mapping a shared object", fd, SEGMENT).map_err(D::Error::custom)?;
        Ok(Segment(Arc::new(shm)))
    }
}

/// `Serialize` and `Deserialize` for a type that is its segment, tagged
/// with its [`Kind`].
macro_rules! serde_as_segment {
    ($ty:ident) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                self.0.serialize_as(super::Kind::$ty, s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                super::Segment::deserialize_as(super::Kind::$ty, d).map($ty)
            }
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synchronization_object_received_as_another_kind_is_refused() {
        let refused = |e: crate::Error| e.to_string().contains("was sent where a shared");
        let lock = Lock::new().unwrap();
        assert!(wire::resend::<_, Condition>(&lock).is_err_and(refused));
        let bounded = BoundedSemaphore::new(1).unwrap();
        assert!(wire::resend::<_, Semaphore>(&bounded).is_err_and(refused));
        assert!(wire::resend::<_, BoundedSemaphore>(&bounded).is_ok());
        // As itself, it arrives, and is the same lock.
        let copy: Lock = wire::resend(&lock).unwrap();
        let _held = lock.acquire();
        assert!(copy.try_acquire().is_none());
    }
}
