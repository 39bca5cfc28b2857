//! [`Value`] and [`Array`]: plain-old-data in shared memory, each with its
//! own robust lock, and their unlocked variants [`RawValue`] and [`RawArray`].
//!
//! Layout of the segment: a lock word, then the data at offset 64, or at
//! `T`'s alignment if that is larger (the segment starts on a page, so any
//! alignment up to a page fits).

use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::ops::{Deref, DerefMut};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use bytemuck::Pod;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::shm::{self, RobustLock, Shm};
use crate::wire;

/// Where the data starts in the segment for data aligned to at most this.
const DATA: usize = 64;
/// The largest alignment a segment's page-aligned start can give its data.
const PAGE: usize = 4096;

/// A segment holding `len` values of `T` after the lock words.
struct Block<T> {
    shm: Arc<Shm>,
    len: usize,
    _data: PhantomData<T>,
}

impl<T> Clone for Block<T> {
    fn clone(&self) -> Self {
        Block {
            shm: Arc::clone(&self.shm),
            len: self.len,
            _data: PhantomData,
        }
    }
}

impl<T: Pod> Block<T> {
    /// Where the data starts: past the lock word, aligned for `T`.
    const OFFSET: usize = {
        assert!(
            std::mem::align_of::<T>() <= PAGE,
            "shared values cannot be aligned to more than a page (4096 bytes)"
        );
        if std::mem::align_of::<T>() > DATA {
            std::mem::align_of::<T>()
        } else {
            DATA
        }
    };

    fn bytes(len: usize) -> Result<u64> {
        len.checked_mul(size_of::<T>())
            .and_then(|n| n.checked_add(Self::OFFSET))
            .map(|n| n as u64)
            .ok_or_else(|| Error::Io {
                what: "sizing shared memory",
                source: std::io::Error::other("the array is too large"),
            })
    }

    /// A block of `len` zeroes, as new shared memory is: nothing is built
    /// first on the heap, so a length too large is an error, not an abort.
    fn zeroed(len: usize) -> Result<Block<T>> {
        let shm = Shm::create("creating shared memory", Block::<T>::bytes(len)?)?;
        Ok(Block {
            shm: Arc::new(shm),
            len,
            _data: PhantomData,
        })
    }

    fn create(values: &[T]) -> Result<Block<T>> {
        let block = Block::zeroed(values.len())?;
        // SAFETY: freshly created, so no other process can see it yet.
        unsafe { block.data_mut() }.copy_from_slice(values);
        Ok(block)
    }

    fn lock_word(&self) -> &RobustLock {
        // SAFETY: RobustLock is repr(C), atomics only, valid when zero, and fits before the data.
        unsafe { self.shm.header() }
    }

    /// The shared data.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock, or accept racing with other processes
    /// (the raw variants, like Python's).
    #[allow(clippy::mut_from_ref)]
    unsafe fn data_mut(&self) -> &mut [T] {
        // SAFETY: the segment holds OFFSET + len * size_of::<T>() bytes, the
        // offset is aligned for T (page-aligned base, OFFSET a multiple of
        // T's alignment), and T is Pod, so any bytes are a valid T.
        unsafe { std::slice::from_raw_parts_mut(self.element(0), self.len) }
    }

    /// Where element `i` lies; `i <= len`.
    fn element(&self, i: usize) -> *mut T {
        debug_assert!(i <= self.len);
        // SAFETY: inside the segment, which holds OFFSET + len * size_of::<T>() bytes.
        unsafe { self.shm.ptr().add(Self::OFFSET).cast::<T>().add(i) }
    }

    /// Takes the lock (waiting at most until `deadline`); `None` on timeout,
    /// else whether the previous owner died holding it.
    fn locked(&self, deadline: Option<std::time::Instant>) -> Option<bool> {
        self.lock_word().lock(deadline)
    }

    /// The guard for a lock this thread has just taken, over `pick` of the data.
    fn guard_from<'a, U: ?Sized>(
        &'a self,
        recovered: bool,
        pick: impl FnOnce(&'a mut [T]) -> &'a mut U,
    ) -> SharedGuard<'a, U> {
        SharedGuard {
            // SAFETY: the lock is held for as long as the guard lives.
            data: pick(unsafe { self.data_mut() }),
            recovered,
            lock: self.lock_word(),
        }
    }

    fn guard(&self) -> SharedGuard<'_, [T]> {
        // Without a deadline, `locked` waits as long as it takes.
        self.guard_from(self.locked(None).unwrap_or(false), |all| all)
    }
}

/// A block as it crosses to another process: its descriptor, its length,
/// and what it is, which the receiver checks: an executable that names
/// another type at the same place (a child started from another program,
/// `ProcessBuilder::executable`) must not take a `Value` for a `RawValue`,
/// whose unlocked copies would race with the locked ones, nor read items
/// of another size.
#[derive(Serialize, Deserialize)]
struct BlockWire {
    fd: u32,
    len: u64,
    kind: BlockKind,
}

/// What a block is: which of the four types, and the size and alignment of
/// its items.
#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Copy, Debug)]
struct BlockKind {
    shape: Shape,
    size: u64,
    align: u64,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Copy, Debug)]
enum Shape {
    Value,
    Array,
    RawValue,
    RawArray,
}

impl BlockKind {
    fn of<T>(shape: Shape) -> BlockKind {
        BlockKind {
            shape,
            size: std::mem::size_of::<T>() as u64,
            align: std::mem::align_of::<T>() as u64,
        }
    }
}

impl fmt::Display for BlockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a shared {:?} of {}-byte items aligned to {}",
            self.shape, self.size, self.align
        )
    }
}

impl<T: Pod> Block<T> {
    fn serialize_as<S: Serializer>(
        &self,
        shape: Shape,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let fd = self.shm.export().map_err(S::Error::custom)?;
        BlockWire {
            fd,
            len: self.len as u64,
            kind: BlockKind::of::<T>(shape),
        }
        .serialize(serializer)
    }

    fn deserialize_as<'de, D: Deserializer<'de>>(
        shape: Shape,
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let wire = BlockWire::deserialize(deserializer)?;
        let fd: OwnedFd = wire::import_fd(wire.fd).map_err(D::Error::custom)?;
        let expected = BlockKind::of::<T>(shape);
        if wire.kind != expected {
            return Err(D::Error::custom(wire::refused(format!(
                "{} was sent where {expected} was expected",
                wire.kind
            ))));
        }
        let len = usize::try_from(wire.len).map_err(D::Error::custom)?;
        let bytes = Block::<T>::bytes(len).map_err(D::Error::custom)?;
        let shm = Shm::open("mapping shared memory", fd, bytes).map_err(D::Error::custom)?;
        Ok(Block {
            shm: Arc::new(shm),
            len,
            _data: PhantomData,
        })
    }
}

/// The locked contents of a [`Value`] or an [`Array`]; releases the lock on drop.
///
/// It dereferences to the value (or to a slice, for an array).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let v = multiproc::Value::new(1i64)?;
/// let mut guard = v.lock();
/// *guard += 1;
/// assert!(!guard.previous_owner_died());
/// drop(guard);
/// assert_eq!(v.get(), 2);
/// # Ok(())
/// # }
/// ```
///
/// Python: `with value.get_lock(): value.value += 1`.
pub struct SharedGuard<'a, T: ?Sized> {
    data: &'a mut T,
    recovered: bool,
    lock: &'a RobustLock,
}

impl<T: ?Sized> Drop for SharedGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

impl<T: ?Sized> SharedGuard<'_, T> {
    /// Whether the lock was taken over from a process that died holding it;
    /// the data may then be half updated.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let v = multiproc::Value::new(0u8)?;
    /// assert!(!v.lock().previous_owner_died());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: no equivalent (Python deadlocks instead).
    pub fn previous_owner_died(&self) -> bool {
        self.recovered
    }
}

impl<T: ?Sized> Deref for SharedGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.data
    }
}

impl<T: ?Sized> DerefMut for SharedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for SharedGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.data.fmt(f)
    }
}

/// One plain-old-data value in shared memory, with a lock.
///
/// `get` and `set` take the lock for a moment; `lock` holds it for a
/// read-modify-write such as `*v.lock() += 1`.
///
/// # Examples
///
/// ```
/// use multiproc::{process, Value};
///
/// #[process]
/// fn add_ten(v: Value<i64>) {
///     for _ in 0..10 {
///         *v.lock() += 1;
///     }
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let v = Value::new(0i64)?;
/// let children: Vec<_> = (0..3).map(|_| add_ten.spawn(v.clone())).collect::<Result<_, _>>()?;
/// for child in children {
///     child.join()?;
/// }
/// assert_eq!(v.get(), 30);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Value('q', 0)`.
pub struct Value<T>(Block<T>);

impl<T> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value(self.0.clone())
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Value").field(&self.get()).finish()
    }
}

impl<T: Pod> Value<T> {
    /// A shared value, initially `value`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = multiproc::Value::new(1.5f64)?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Value('d', 1.5)`.
    pub fn new(value: T) -> Result<Value<T>> {
        Block::create(&[value]).map(Value)
    }

    /// A copy of the value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::Value::new(3u32)?.get(), 3);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `value.value`.
    pub fn get(&self) -> T {
        self.0.guard()[0]
    }

    /// Replaces the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = multiproc::Value::new(3u32)?;
    /// v.set(5);
    /// assert_eq!(v.get(), 5);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `value.value = 5`.
    pub fn set(&self, value: T) {
        self.0.guard()[0] = value;
    }

    /// Locks the value for a read-modify-write.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = multiproc::Value::new(1i32)?;
    /// *v.lock() *= 10;
    /// assert_eq!(v.get(), 10);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `with value.get_lock(): ...`.
    pub fn lock(&self) -> SharedGuard<'_, T> {
        let recovered = self.0.locked(None).unwrap_or(false);
        self.0.guard_from(recovered, |all| &mut all[0])
    }

    /// As [`lock`](Value::lock), waiting at most `timeout`; `None` if it stayed held.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let v = multiproc::Value::new(1u8)?;
    /// let held = v.lock();
    /// let other = v.clone();
    /// let got = std::thread::spawn(move || other.lock_timeout(Duration::from_millis(10)).is_some());
    /// assert!(!got.join().unwrap());
    /// drop(held);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `value.get_lock().acquire(timeout=t)`.
    pub fn lock_timeout(&self, timeout: std::time::Duration) -> Option<SharedGuard<'_, T>> {
        let locked = self.0.locked(wire::deadline(timeout));
        locked.map(|recovered| self.0.guard_from(recovered, |all| &mut all[0]))
    }
}

/// A fixed-length array of plain-old-data in shared memory, with a lock.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let a = multiproc::Array::from_slice(&[0.0f64; 8])?;
/// a.lock()[0] = 1.5;
/// assert_eq!(a.to_vec()[0], 1.5);
/// assert_eq!(a.len(), 8);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Array('d', 8)`.
pub struct Array<T>(Block<T>);

impl<T> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array(self.0.clone())
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Array").field(&self.to_vec()).finish()
    }
}

impl<T: Pod> Array<T> {
    /// A shared array holding a copy of `values`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = multiproc::Array::from_slice(&[1u8, 2, 3])?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Array('b', [1, 2, 3])`.
    pub fn from_slice(values: &[T]) -> Result<Array<T>> {
        Block::create(values).map(Array)
    }

    /// A shared array of `len` zeroes.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = multiproc::Array::<i32>::zeroed(4)?;
    /// assert_eq!(a.to_vec(), [0; 4]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.Array('i', 4)`.
    pub fn zeroed(len: usize) -> Result<Array<T>> {
        Block::zeroed(len).map(Array)
    }

    /// The number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::Array::<u8>::zeroed(3)?.len(), 3);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `len(array)`.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether the array has no elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(multiproc::Array::<u8>::zeroed(0)?.is_empty());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `len(array) == 0`.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// A copy of the elements, taken under the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::Array::from_slice(&[1, 2])?.to_vec(), [1, 2]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `array[:]`.
    pub fn to_vec(&self) -> Vec<T> {
        self.0.guard().to_vec()
    }

    /// Locks the array; the guard dereferences to a mutable slice.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = multiproc::Array::from_slice(&[1, 2, 3])?;
    /// a.lock().reverse();
    /// assert_eq!(a.to_vec(), [3, 2, 1]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `with array.get_lock(): ...`.
    pub fn lock(&self) -> SharedGuard<'_, [T]> {
        self.0.guard()
    }

    /// As [`lock`](Array::lock), waiting at most `timeout`; `None` if it stayed held.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let a = multiproc::Array::from_slice(&[1u8])?;
    /// assert!(a.lock_timeout(Duration::from_millis(10)).is_some());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `array.get_lock().acquire(timeout=t)`.
    pub fn lock_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Option<SharedGuard<'_, [T]>> {
        let locked = self.0.locked(wire::deadline(timeout));
        locked.map(|recovered| self.0.guard_from(recovered, |all| all))
    }
}

/// One plain-old-data value in shared memory, without a lock.
///
/// Reads and writes copy a word (or byte) at a time with atomic loads and
/// stores: one racing a write from another thread or process may see a torn
/// value, as with Python's, but never undefined behaviour. Use [`Value`] when
/// a torn value matters.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let v = multiproc::RawValue::new(1u64)?;
/// v.set(2);
/// assert_eq!(v.get(), 2);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.RawValue('Q', 1)`.
pub struct RawValue<T>(Block<T>);

/// A fixed-length array of plain-old-data in shared memory, without a lock.
///
/// Element reads and writes copy a word (or byte) at a time with atomic loads
/// and stores: racing ones may tear, as with Python's, but never cause
/// undefined behaviour. Use [`Array`] when a torn element matters.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let a = multiproc::RawArray::from_slice(&[1u32, 2, 3])?;
/// a.set(0, 10);
/// assert_eq!(a.get(0), Some(10));
/// assert_eq!(a.to_vec(), [10, 2, 3]);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.RawArray('I', [1, 2, 3])`.
pub struct RawArray<T>(Block<T>);

/// Shows the value as a (possibly torn) read sees it.
impl<T: Pod + fmt::Debug> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawValue").field(&self.get()).finish()
    }
}

/// Shows the elements as (possibly torn) reads see them.
impl<T: Pod + fmt::Debug> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawArray").field(&self.to_vec()).finish()
    }
}

impl<T> Clone for RawValue<T> {
    fn clone(&self) -> Self {
        RawValue(self.0.clone())
    }
}

impl<T> Clone for RawArray<T> {
    fn clone(&self) -> Self {
        RawArray(self.0.clone())
    }
}

impl<T: Pod> Block<T> {
    /// Element `i`, read without the lock: a racing write may tear it.
    fn read_raw(&self, i: usize) -> Option<T> {
        (i < self.len).then(|| {
            let mut value = T::zeroed();
            // SAFETY: element i lies inside the segment, and every copy of
            // it covers the whole element, its region; the copy is atomic
            // per word or byte, so racing writers make it torn, not undefined.
            unsafe {
                shm::atomic_read(
                    self.element(i).cast::<u8>(),
                    size_of::<T>(),
                    0,
                    bytemuck::bytes_of_mut(&mut value),
                );
            }
            value
        })
    }

    /// Writes element `i` without the lock (a racing read may see it torn);
    /// `false` if out of bounds.
    fn write_raw(&self, i: usize, value: T) -> bool {
        if i >= self.len {
            return false;
        }
        // SAFETY: element i lies inside the segment; atomic, as in `read_raw`.
        unsafe {
            shm::atomic_write(
                self.element(i).cast::<u8>(),
                size_of::<T>(),
                0,
                bytemuck::bytes_of(&value),
            );
        }
        true
    }
}

impl<T: Pod> RawValue<T> {
    /// A shared value, initially `value`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = multiproc::RawValue::new(0i32)?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.RawValue('i', 0)`.
    pub fn new(value: T) -> Result<RawValue<T>> {
        Block::create(&[value]).map(RawValue)
    }

    /// A copy of the value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::RawValue::new(4u8)?.get(), 4);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `raw_value.value`.
    pub fn get(&self) -> T {
        self.0.read_raw(0).unwrap_or_else(T::zeroed)
    }

    /// Replaces the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = multiproc::RawValue::new(4u8)?;
    /// v.set(5);
    /// assert_eq!(v.get(), 5);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `raw_value.value = 5`.
    pub fn set(&self, value: T) {
        self.0.write_raw(0, value);
    }
}

impl<T: Pod> RawArray<T> {
    /// A shared array holding a copy of `values`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = multiproc::RawArray::from_slice(&[0.5f32; 4])?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.RawArray('f', [0.5] * 4)`.
    pub fn from_slice(values: &[T]) -> Result<RawArray<T>> {
        Block::create(values).map(RawArray)
    }

    /// A shared array of `len` zeroes.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the shared memory cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::RawArray::<u16>::zeroed(2)?.to_vec(), [0, 0]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `multiprocessing.RawArray('H', 2)`.
    pub fn zeroed(len: usize) -> Result<RawArray<T>> {
        Block::zeroed(len).map(RawArray)
    }

    /// The number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::RawArray::<u8>::zeroed(5)?.len(), 5);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `len(raw_array)`.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether the array has no elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(multiproc::RawArray::<u8>::zeroed(0)?.is_empty());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `len(raw_array) == 0`.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// Element `i`, or `None` past the end.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = multiproc::RawArray::from_slice(&[7u8])?;
    /// assert_eq!(a.get(0), Some(7));
    /// assert_eq!(a.get(1), None);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `raw_array[i]`.
    pub fn get(&self, i: usize) -> Option<T> {
        self.0.read_raw(i)
    }

    /// Writes element `i`; returns `false` (and writes nothing) past the end.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = multiproc::RawArray::<u8>::zeroed(1)?;
    /// assert!(a.set(0, 9));
    /// assert!(!a.set(1, 9));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `raw_array[i] = v`.
    pub fn set(&self, i: usize, value: T) -> bool {
        self.0.write_raw(i, value)
    }

    /// A copy of every element.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::RawArray::from_slice(&[1, 2])?.to_vec(), [1, 2]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `raw_array[:]`.
    pub fn to_vec(&self) -> Vec<T> {
        (0..self.0.len).filter_map(|i| self.0.read_raw(i)).collect()
    }
}

macro_rules! serde_via_block {
    ($($ty:ident),*) => {$(
        impl<T: Pod> Serialize for $ty<T> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                self.0.serialize_as(Shape::$ty, s)
            }
        }

        impl<'de, T: Pod> Deserialize<'de> for $ty<T> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                Block::deserialize_as(Shape::$ty, d).map($ty)
            }
        }
    )*};
}

serde_via_block!(Value, Array, RawValue, RawArray);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_received_as_another_kind_of_shared_value_is_refused() {
        let value = Value::new(7u64).unwrap();
        let refused = |e: Error| e.to_string().contains("was sent where");
        assert!(wire::resend::<_, RawValue<u64>>(&value).is_err_and(refused));
        assert!(wire::resend::<_, Value<u32>>(&value).is_err_and(refused));
        assert!(wire::resend::<_, Array<u64>>(&value).is_err_and(refused));
        let array = RawArray::from_slice(&[1u16, 2, 3]).unwrap();
        assert!(wire::resend::<_, RawArray<u8>>(&array).is_err_and(refused));
        // As itself, it arrives.
        assert_eq!(wire::resend::<_, Value<u64>>(&value).unwrap().get(), 7);
        assert_eq!(wire::resend::<_, RawArray<u16>>(&array).unwrap().to_vec(), [1, 2, 3]);
    }
}
