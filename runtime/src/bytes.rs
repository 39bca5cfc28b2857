//! [`Bytes`]: a byte buffer that crosses to another process at memory speed.
//!
//! serde sees a `Vec<u8>` as a sequence of numbers and moves it a byte at a
//! time, and every copy of a large buffer into fresh memory pays a page
//! fault per page. A large `Bytes` therefore travels beside the message
//! where descriptors can (arguments, return values, `Connection`): it is
//! written once into a memfd sealed against any change, and the receiver
//! maps that memfd instead of copying it. Where descriptors cannot go (a
//! `Queue`, a manager, another MPI rank) and below [`BESIDE`], it is one
//! length-prefixed run of bytes in the message.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{shm, wire};

/// The size from which a `Bytes` travels as a sealed memfd rather than in
/// the message (unless the message asks for more): below it, the memfd's
/// system calls cost more than the copies they save.
const BESIDE: usize = 64 << 10;

/// An immutable byte buffer, cheap to clone, that moves between processes
/// at memory speed: the type to use for binary data, images, file contents
/// or any large blob that crosses to a `#[process]`, a `#[pool_task]`, a
/// [`Queue`](crate::Queue) or a [`Connection`](crate::Connection).
///
/// A `Vec<u8>` works too, but serde encodes it a byte at a time (about
/// 0.3 GB/s here). A `Bytes` of 64 KiB or more passed as an argument or
/// return value, or sent over a `Connection`, is copied into sealed shared
/// memory each time it is sent (about 2 GB/s) and mapped, not copied, by
/// the receiver; so is one of 4 MiB or more in a `Queue`. Elsewhere (a
/// smaller one, a manager, an MPI rank, or past the first 64 in one
/// message) it is copied as one block, which is still far faster than a
/// `Vec<u8>`.
///
/// `Bytes` derefs to `[u8]`; make one from a `Vec<u8>` (without a copy), a
/// slice or a string, and turn it back into a `Vec<u8>` with `Vec::from`.
/// Cloning shares the buffer.
///
/// # Examples
///
/// ```
/// use multiproc::{Bytes, pool_task, Pool};
///
/// #[pool_task]
/// fn checksum(data: Bytes) -> u64 {
///     data.iter().map(|&b| u64::from(b)).sum()
/// }
///
/// #[pool_task]
/// fn make(len: usize) -> Bytes {
///     Bytes::from(vec![1u8; len])
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let pool = Pool::new(2)?;
/// let data = Bytes::from(vec![2u8; 1 << 20]);
/// assert_eq!(pool.apply(checksum, (data,))?, 2 << 20);
/// let made = pool.apply(make, (1 << 20,))?;
/// assert_eq!(made.len(), 1 << 20);
/// let back: Vec<u8> = made.into();
/// # Ok(())
/// # }
/// ```
///
/// Python: `bytes`, which is pickled by copying; for a zero-copy hand-over,
/// `multiprocessing.shared_memory.SharedMemory`.
#[derive(Clone, Default)]
pub struct Bytes(Arc<Storage>);

enum Storage {
    Heap(Vec<u8>),
    /// The first bytes of a read-only mapping of a sealed memfd. The mapping
    /// alone keeps the memory: a descriptor kept per buffer would run out at
    /// the usual limit of 1024 long before memory does.
    Shared(Mapping, usize),
}

/// A mapping of shared bytes, unmapped when dropped, or once the
/// [`UnmapLater`] of its thread is. (`None` only once dropped.)
struct Mapping(Option<memmap2::Mmap>);

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(map) = self.0.take() {
            // Unmapped here unless kept: also when the thread is exiting.
            let _ = LATER.try_with(move |later| {
                if let Some(kept) = later.borrow_mut().as_mut()
                    && kept.len() < KEPT_MAPPINGS
                    && kept.iter().map(|map| map.len()).sum::<usize>() < KEPT_BYTES
                {
                    kept.push(map);
                }
            });
        }
    }
}

/// The most mappings, and bytes, an [`UnmapLater`] keeps: a task that reads
/// a stream of buffers (from a `Queue`, say) must not hold them all.
const KEPT_MAPPINGS: usize = 64;
const KEPT_BYTES: usize = 1 << 30;

thread_local! {
    /// The mappings dropped on this thread while an [`UnmapLater`] lives.
    static LATER: std::cell::RefCell<Option<Vec<memmap2::Mmap>>> =
        const { std::cell::RefCell::new(None) };
}

/// While it lives, byte buffers mapped from another process that are
/// dropped on this thread stay mapped (up to [`KEPT_MAPPINGS`] and
/// [`KEPT_BYTES`]); dropping it unmaps them. A pool worker holds one while
/// it runs a chunk and sends the results, so that the caller does not wait
/// for the worker to unmap the arguments: 100 MiB took 7–15 ms to unmap
/// here; a 100 MiB argument's round trip took 48–56 ms instead of 55–59 ms
/// in interleaved runs. One made while another lives on the thread leaves
/// the unmapping to that one.
pub(crate) struct UnmapLater {
    outermost: bool,
    /// Bound to its thread's list.
    _thread: std::marker::PhantomData<*const ()>,
}

impl UnmapLater {
    pub(crate) fn new() -> UnmapLater {
        let outermost = LATER.with_borrow_mut(|later| {
            let outermost = later.is_none();
            later.get_or_insert_with(Vec::new);
            outermost
        });
        UnmapLater {
            outermost,
            _thread: std::marker::PhantomData,
        }
    }
}

impl Drop for UnmapLater {
    fn drop(&mut self) {
        if self.outermost {
            let _ = LATER.try_with(|later| drop(later.take()));
        }
    }
}

impl Default for Storage {
    fn default() -> Storage {
        Storage::Heap(Vec::new())
    }
}

impl Bytes {
    /// An empty buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(multiproc::Bytes::new().is_empty());
    /// ```
    ///
    /// Python: `bytes()`.
    pub fn new() -> Bytes {
        Bytes::default()
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &*self.0 {
            Storage::Heap(bytes) => bytes,
            Storage::Shared(map, len) => map.0.as_deref().map_or(&[], |map| &map[..*len]),
        }
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::borrow::Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Bytes {
        Bytes(Arc::new(Storage::Heap(bytes)))
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Bytes {
        Bytes::from(bytes.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Bytes {
    fn from(bytes: &[u8; N]) -> Bytes {
        Bytes::from(bytes.to_vec())
    }
}

impl From<String> for Bytes {
    fn from(text: String) -> Bytes {
        Bytes::from(text.into_bytes())
    }
}

impl From<&str> for Bytes {
    fn from(text: &str) -> Bytes {
        Bytes::from(text.as_bytes())
    }
}

impl From<Bytes> for Vec<u8> {
    /// Moves the bytes out if this is the only handle to a buffer made here;
    /// copies them otherwise.
    fn from(bytes: Bytes) -> Vec<u8> {
        match Arc::try_unwrap(bytes.0) {
            Ok(Storage::Heap(bytes)) => bytes,
            Ok(shared) => Bytes(Arc::new(shared)).to_vec(),
            Err(shared) => Bytes(shared).to_vec(),
        }
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.escape_ascii())
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        **self == **other
    }
}

impl Eq for Bytes {}

impl PartialEq<[u8]> for Bytes {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<Vec<u8>> for Bytes {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Bytes) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bytes {
    fn cmp(&self, other: &Bytes) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::hash::Hash for Bytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

/// How a `Bytes` is encoded: a tuple of a kind and its payload, either
/// `INLINE` and the bytes, or `SHARED` and the index of the sealed memfd
/// among the frame's descriptors with how many of its bytes are the buffer.
/// (Plain numbers, not a private enum, keep a private type out of the
/// compiler's lists of serializable types in users' errors.)
const INLINE: u8 = 0;
const SHARED: u8 = 1;

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(2)?;
        if !shm::CAN_FREEZE || wire::beside_from(BESIDE).is_none_or(|min| self.len() < min) {
            tuple.serialize_element(&INLINE)?;
            tuple.serialize_element(serde_bytes::Bytes::new(self))?;
            return tuple.end();
        }
        let fd = shm::frozen_copy(self).map_err(|e| {
            S::Error::custom(wire::refused(format!("could not share a byte buffer: {e}")))
        })?;
        let fd = wire::export_owned_fd(fd).map_err(S::Error::custom)?;
        wire::count_beside(self.len());
        tuple.serialize_element(&SHARED)?;
        tuple.serialize_element(&(fd, self.len() as u64))?;
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_tuple(2, BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> serde::de::Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte buffer")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
        let missing = || A::Error::custom("a byte buffer ended early");
        let kind: u8 = seq.next_element()?.ok_or_else(missing)?;
        if kind == INLINE {
            let bytes: serde_bytes::ByteBuf = seq.next_element()?.ok_or_else(missing)?;
            return Ok(Bytes::from(bytes.into_vec()));
        }
        if kind != SHARED {
            return Err(A::Error::custom("not a byte buffer"));
        }
        let (fd, len): (u32, u64) = seq.next_element()?.ok_or_else(missing)?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        let len = usize::try_from(len).map_err(A::Error::custom)?;
        let unmappable = |e: std::io::Error| {
            A::Error::custom(wire::refused(format!(
                "could not map a shared byte buffer: {e}"
            )))
        };
        let map = match wire::import(fd).map_err(A::Error::custom)? {
            wire::Incoming::Fd(fd) => shm::map_frozen(&fd, len).map_err(unmappable)?,
            wire::Incoming::Mapped(map) if map.len() >= len => map,
            wire::Incoming::Mapped(_) => {
                return Err(unmappable(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the shared bytes are shorter than announced",
                )));
            }
        };
        Ok(Bytes(Arc::new(Storage::Shared(Mapping(Some(map)), len))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_encoded_without_a_frame_to_carry_descriptors_travel_inline() {
        let big = Bytes::from(vec![7u8; BESIDE * 2]);
        let encoded = wire::encode(&big, "bytes").unwrap();
        let decoded: Bytes = wire::decode(&encoded, "bytes").unwrap();
        assert_eq!(decoded, big);
    }

    // Nothing is shared beside a frame where nothing can be frozen (macOS).
    #[cfg(not(portable))]
    #[test]
    fn large_bytes_travel_beside_the_frame_as_a_sealed_mapping() {
        let big = Bytes::from((0..BESIDE * 2).map(|i| i as u8).collect::<Vec<_>>());
        let (encoded, fds) = wire::collect_fds(|| wire::encode(&big, "bytes"));
        let encoded = encoded.unwrap();
        assert_eq!(fds.len(), 1);
        assert!(
            encoded.len() < 16,
            "the bytes went inline: {}",
            encoded.len()
        );
        let decoded: Bytes = wire::with_fds(fds, || wire::decode(&encoded, "bytes")).unwrap();
        assert!(matches!(&*decoded.0, Storage::Shared(..)));
        assert_eq!(decoded, big);
        // Sent on, the mapping is copied into a memfd of its own.
        let (again, fds) = wire::collect_fds(|| wire::encode(&decoded, "bytes"));
        let again: Bytes = wire::with_fds(fds, || wire::decode(&again.unwrap(), "bytes")).unwrap();
        assert_eq!(again, big);
    }

    #[test]
    fn small_bytes_stay_inline_even_where_descriptors_could_travel() {
        let small = Bytes::from("hello");
        let (encoded, fds) = wire::collect_fds(|| wire::encode(&small, "bytes"));
        assert!(fds.is_empty());
        let decoded: Bytes = wire::decode(&encoded.unwrap(), "bytes").unwrap();
        assert_eq!(decoded, small);
    }

    // Elsewhere no buffer is shared: they all go inline.
    #[cfg(not(portable))]
    #[test]
    fn a_memfd_that_could_still_change_is_refused() {
        let fd = rustix::fs::memfd_create("test", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, BESIDE as u64).unwrap();
        let encoded = wire::encode(&(SHARED, (0u32, BESIDE as u64)), "repr").unwrap();
        let error = wire::with_fds(vec![fd], || wire::decode::<Bytes>(&encoded, "bytes"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("not sealed"), "{error}");
    }

    #[cfg(not(portable))]
    #[test]
    fn a_length_beyond_the_shared_bytes_is_refused() {
        let fd = shm::frozen_copy(&[1; 100]).unwrap();
        let encoded = wire::encode(&(SHARED, (0u32, 1u64 << 20)), "repr").unwrap();
        let error = wire::with_fds(vec![fd], || wire::decode::<Bytes>(&encoded, "bytes"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("shorter"), "{error}");
    }

    /// A `Bytes` mapped from a sealed memfd, as a receiver gets one.
    #[cfg(not(portable))]
    fn shared(len: usize) -> Bytes {
        let big = Bytes::from(vec![5u8; len]);
        let (encoded, fds) = wire::collect_fds(|| wire::encode(&big, "bytes"));
        let decoded: Bytes =
            wire::with_fds(fds, || wire::decode(&encoded.unwrap(), "bytes")).unwrap();
        assert!(matches!(&*decoded.0, Storage::Shared(..)));
        decoded
    }

    /// The inode of the memfd mapped at `at`, if one of ours is: another
    /// thread's buffer may be mapped there once this one is gone, but not
    /// from the same memfd.
    #[cfg(not(portable))]
    fn memfd_at(at: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().find_map(|line| {
            // "start-end perms offset dev inode path"
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (start, end) = fields.first()?.split_once('-')?;
            let parse = |hex| usize::from_str_radix(hex, 16).ok();
            let ours = line.contains("memfd:multiproc-bytes");
            (ours && (parse(start)?..parse(end)?).contains(&at)).then(|| fields[4].to_string())
        })
    }

    // Only frozen buffers are mapped.
    #[cfg(not(portable))]
    #[test]
    fn shared_bytes_dropped_while_an_unmap_later_lives_stay_mapped_until_it_goes() {
        let decoded = shared(BESIDE * 2);
        let at = decoded.as_ptr() as usize;
        let memfd = memfd_at(at);
        assert!(memfd.is_some());
        let later = UnmapLater::new();
        let inner = UnmapLater::new();
        drop(decoded);
        drop(inner);
        assert_eq!(memfd_at(at), memfd, "unmapped before the outermost UnmapLater went");
        drop(later);
        assert_ne!(memfd_at(at), memfd);
    }

    #[cfg(not(portable))]
    #[test]
    fn an_unmap_later_keeps_only_so_many_mappings() {
        let buffers: Vec<Bytes> = (0..=KEPT_MAPPINGS).map(|_| shared(BESIDE)).collect();
        let at: Vec<usize> = buffers.iter().map(|b| b.as_ptr() as usize).collect();
        let (first, last) = (memfd_at(at[0]), memfd_at(at[KEPT_MAPPINGS]));
        let later = UnmapLater::new();
        drop(buffers);
        assert_eq!(memfd_at(at[0]), first);
        assert_ne!(memfd_at(at[KEPT_MAPPINGS]), last, "every mapping was kept");
        drop(later);
        assert_ne!(memfd_at(at[0]), first);
    }

    #[test]
    fn a_vec_comes_back_out_without_a_copy_when_unshared() {
        let vec = vec![3u8; 1000];
        let at = vec.as_ptr();
        let back = Vec::from(Bytes::from(vec));
        assert_eq!(back.as_ptr(), at);
        let shared = Bytes::from(back);
        let other = shared.clone();
        assert_eq!(Vec::from(shared), *other);
    }
}
