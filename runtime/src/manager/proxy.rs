//! Proxies to the manager's containers: dict, list, value and namespace.

use std::any::type_name;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::protocol::{Answer, Kind, Op, Slot};
use super::{Manager, ObjectRef, decode, encode, proxy_type};
use crate::error::{Error, Result};

proxy_type!(
    /// A dict in a manager, keyed by `K`; entries keep their insertion order.
    ///
    /// Keys are compared by their encoding, so two keys are the same entry
    /// exactly when they serialize to the same bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let d = manager.dict::<String, i64>()?;
    /// d.insert("a".into(), 1)?;
    /// assert_eq!(d.get(&"a".into())?, Some(1));
    /// assert_eq!(d.len()?, 1);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.dict()`, a `DictProxy`.
    DictProxy<K, V>
);

proxy_type!(
    /// A list in a manager.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let l = manager.list::<u32>()?;
    /// l.push(42)?;
    /// assert_eq!(l.to_vec()?, [42]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.list()`, a `ListProxy`.
    ListProxy<T>
);

proxy_type!(
    /// One value in a manager.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let v = manager.value(0i64)?;
    /// v.set(100)?;
    /// assert_eq!(v.get()?, 100);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Value("i", 0)`, a `ValueProxy`.
    ValueProxy<T>
);

proxy_type!(
    /// A namespace in a manager: named attributes of any types.
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let ns = manager.namespace()?;
    /// ns.set("x", &10u32)?;
    /// assert_eq!(ns.get::<u32>("x")?, 10);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Namespace()`.
    NamespaceProxy
);

impl Manager {
    /// A new, empty dict.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, String>()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.dict()`.
    pub fn dict<K, V>(&self) -> Result<DictProxy<K, V>> {
        self.make(Kind::Dict)
    }

    /// A new, empty list.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list::<String>()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.list()`.
    pub fn list<T>(&self) -> Result<ListProxy<T>> {
        self.make(Kind::List(Vec::new()))
    }

    /// A new list holding `items`.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if an item cannot be encoded; as [`Manager::list`].
    ///
    /// # Examples
    ///
    /// ```
    /// let manager = multiproc::Manager::start()?;
    /// let a = manager.list_from([0i32, 0, 0])?;
    /// a.set(0, 99)?;
    /// assert_eq!(a.to_vec()?, [99, 0, 0]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.list([0, 0, 0])`, or `manager.Array("i", [0, 0, 0])`.
    pub fn list_from<T: Serialize>(
        &self,
        items: impl IntoIterator<Item = T>,
    ) -> Result<ListProxy<T>> {
        let items = items
            .into_iter()
            .map(|i| encode(&i))
            .collect::<Result<_>>()?;
        self.make(Kind::List(items))
    }

    /// A new value holding `value`.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if `value` cannot be encoded; as [`Manager::list`].
    ///
    /// # Examples
    ///
    /// ```
    /// let v = multiproc::Manager::start()?.value(1.5f64)?;
    /// assert_eq!(v.get()?, 1.5);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Value("d", 1.5)`.
    pub fn value<T: Serialize>(&self, value: T) -> Result<ValueProxy<T>> {
        self.make(Kind::Value(encode(&value)?))
    }

    /// A new, empty namespace.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let ns = multiproc::Manager::start()?.namespace()?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `manager.Namespace()`.
    pub fn namespace(&self) -> Result<NamespaceProxy> {
        self.make(Kind::Namespace)
    }
}

/// Replaces the contents of `slot` with `f` of them, atomically: retries
/// whenever another client changed them in between.
fn update<T: Serialize + DeserializeOwned>(
    object: &ObjectRef,
    slot: impl Fn() -> Slot,
    mut f: impl FnMut(Option<T>) -> T,
) -> Result<T> {
    let mut current = object.call(Op::Get(slot()))?.raw()?;
    loop {
        let old = current.as_deref().map(|bytes| decode(bytes)).transpose()?;
        let new = f(old);
        let op = Op::Swap {
            slot: slot(),
            expected: current,
            new: encode(&new)?,
        };
        match object.call(op)? {
            Answer::Done => return Ok(new),
            Answer::Found(found) => current = found,
            other => return Err(other.unexpected()),
        }
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> DictProxy<K, V> {
    fn key(key: &K) -> Result<Slot> {
        encode(key).map(Slot::Key)
    }

    /// Sets `key` to `value`; the value it replaced, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if the key or value cannot be encoded;
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<String, u8>()?;
    /// assert_eq!(d.insert("k".into(), 1)?, None);
    /// assert_eq!(d.insert("k".into(), 2)?, Some(1));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `d[key] = value`.
    pub fn insert(&self, key: K, value: V) -> Result<Option<V>> {
        let op = Op::Set(Self::key(&key)?, encode(&value)?);
        self.0.call(op)?.item()
    }

    /// The value of `key`, if it is there.
    ///
    /// # Errors
    ///
    /// As [`DictProxy::insert`].
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, u8>()?;
    /// assert_eq!(d.get(&1)?, None);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `d.get(key)`.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        self.0.call(Op::Get(Self::key(key)?))?.item()
    }

    /// Removes `key`; its value, if it was there.
    ///
    /// # Errors
    ///
    /// As [`DictProxy::insert`].
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, u8>()?;
    /// d.insert(1, 2)?;
    /// assert_eq!(d.remove(&1)?, Some(2));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `d.pop(key, None)`.
    pub fn remove(&self, key: &K) -> Result<Option<V>> {
        self.0.call(Op::Remove(Self::key(key)?))?.item()
    }

    /// Whether `key` is there.
    ///
    /// # Errors
    ///
    /// As [`DictProxy::insert`].
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, u8>()?;
    /// assert!(!d.contains_key(&1)?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `key in d`.
    pub fn contains_key(&self, key: &K) -> Result<bool> {
        self.0.call(Op::Contains(Self::key(key)?))?.flag()
    }

    /// The number of entries.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, u8>()?;
    /// assert_eq!(d.len()?, 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `len(d)`.
    pub fn len(&self) -> Result<usize> {
        count(&self.0)
    }

    /// Whether there are no entries.
    ///
    /// # Errors
    ///
    /// As [`DictProxy::len`].
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, u8>()?;
    /// assert!(d.is_empty()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `not d`.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The keys, in insertion order.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if a key does not decode as `K`; as [`DictProxy::len`].
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, u8>()?;
    /// d.insert(2, 0)?;
    /// d.insert(1, 0)?;
    /// assert_eq!(d.keys()?, [2, 1]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `list(d.keys())`.
    pub fn keys(&self) -> Result<Vec<K>> {
        self.0.call(Op::Keys)?.items()
    }

    /// The values, in insertion order of their keys.
    ///
    /// # Errors
    ///
    /// As [`DictProxy::keys`].
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, u8>()?;
    /// d.insert(1, 10)?;
    /// assert_eq!(d.values()?, [10]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `list(d.values())`.
    pub fn values(&self) -> Result<Vec<V>> {
        self.0.call(Op::Values)?.items()
    }

    /// The entries, in insertion order.
    ///
    /// # Errors
    ///
    /// As [`DictProxy::keys`].
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, u8>()?;
    /// d.insert(1, 10)?;
    /// assert_eq!(d.items()?, [(1, 10)]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `list(d.items())`, or `dict(d)`.
    pub fn items(&self) -> Result<Vec<(K, V)>> {
        match self.0.call(Op::Items)? {
            Answer::Pairs(pairs) => pairs
                .iter()
                .map(|(k, v)| Ok((decode(k)?, decode(v)?)))
                .collect(),
            other => Err(other.unexpected()),
        }
    }

    /// Removes every entry.
    ///
    /// # Errors
    ///
    /// As [`DictProxy::len`].
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<u8, u8>()?;
    /// d.insert(1, 10)?;
    /// d.clear()?;
    /// assert!(d.is_empty()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `d.clear()`.
    pub fn clear(&self) -> Result<()> {
        self.0.call(Op::Clear)?.done()
    }

    /// Sets `key` to `f` of its current value (`None` if absent), atomically:
    /// if another process changes the entry in between, `f` runs again on the
    /// new value. Returns what was stored.
    ///
    /// # Errors
    ///
    /// As [`DictProxy::insert`].
    ///
    /// # Examples
    ///
    /// ```
    /// let d = multiproc::Manager::start()?.dict::<String, u64>()?;
    /// d.update("hits".into(), |n| n.unwrap_or(0) + 1)?;
    /// assert_eq!(d.update("hits".into(), |n| n.unwrap_or(0) + 1)?, 2);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: no equivalent; `with lock: d[k] = d.get(k, 0) + 1`.
    pub fn update(&self, key: K, f: impl FnMut(Option<V>) -> V) -> Result<V> {
        let slot = Self::key(&key)?;
        let Slot::Key(key) = slot else {
            unreachable!("made above")
        };
        update(&self.0, || Slot::Key(key.clone()), f)
    }
}

pub(super) fn count(object: &ObjectRef) -> Result<usize> {
    let n = object.call(Op::Len)?.count()?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Python's index of position `i`, which may be negative.
fn index(i: isize) -> Slot {
    Slot::Index(i as i64)
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// Appends `item`.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if the item cannot be encoded;
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list()?;
    /// l.push(1u8)?;
    /// assert_eq!(l.len()?, 1);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `l.append(item)`.
    pub fn push(&self, item: T) -> Result<()> {
        self.0.call(Op::Push(encode(&item)?))?.done()
    }

    /// The item at `i`; negative `i` counts from the end, as in Python.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] if there is no such item; as [`ListProxy::push`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list_from([1u8, 2, 3])?;
    /// assert_eq!(l.get(-1)?, 3);
    /// assert!(matches!(l.get(3), Err(multiproc::Error::IndexOutOfRange { .. })));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `l[i]`.
    pub fn get(&self, i: isize) -> Result<T> {
        required(self.0.call(Op::Get(index(i)))?.item()?)
    }

    /// Replaces the item at `i`; the item it replaced.
    ///
    /// # Errors
    ///
    /// As [`ListProxy::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list_from([0i32, 0, 0])?;
    /// l.set(0, 99)?;
    /// assert_eq!(l.to_vec()?, [99, 0, 0]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `l[i] = item`.
    pub fn set(&self, i: isize, item: T) -> Result<T> {
        required(self.0.call(Op::Set(index(i), encode(&item)?))?.item()?)
    }

    /// Inserts `item` before position `i` (clamped to the list, as in Python).
    ///
    /// # Errors
    ///
    /// As [`ListProxy::push`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list_from([1u8, 3])?;
    /// l.insert(1, 2)?;
    /// assert_eq!(l.to_vec()?, [1, 2, 3]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `l.insert(i, item)`.
    pub fn insert(&self, i: isize, item: T) -> Result<()> {
        let op = Op::Insert(i as i64, encode(&item)?);
        self.0.call(op)?.done()
    }

    /// Removes and returns the item at `i`.
    ///
    /// # Errors
    ///
    /// As [`ListProxy::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list_from([1u8, 2])?;
    /// assert_eq!(l.remove(0)?, 1);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `l.pop(i)`.
    pub fn remove(&self, i: isize) -> Result<T> {
        required(self.0.call(Op::Remove(index(i)))?.item()?)
    }

    /// Removes and returns the last item; `None` if the list is empty.
    ///
    /// # Errors
    ///
    /// As [`ListProxy::push`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list_from([1u8])?;
    /// assert_eq!(l.pop()?, Some(1));
    /// assert_eq!(l.pop()?, None);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `l.pop()`, which raises on an empty list.
    pub fn pop(&self) -> Result<Option<T>> {
        self.0.call(Op::Pop)?.item()
    }

    /// Appends every item of `items`, in one round trip.
    ///
    /// # Errors
    ///
    /// As [`ListProxy::push`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list()?;
    /// l.extend(0..3u8)?;
    /// assert_eq!(l.to_vec()?, [0, 1, 2]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `l.extend(items)`.
    pub fn extend(&self, items: impl IntoIterator<Item = T>) -> Result<()> {
        let items = items
            .into_iter()
            .map(|i| encode(&i))
            .collect::<Result<_>>()?;
        self.0.call(Op::Extend(items))?.done()
    }

    /// Whether some item equals `item` (compared by encoding).
    ///
    /// # Errors
    ///
    /// As [`ListProxy::push`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list_from(["a".to_string()])?;
    /// assert!(l.contains(&"a".into())?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `item in l`.
    pub fn contains(&self, item: &T) -> Result<bool> {
        let op = Op::Contains(Slot::Key(encode(item)?));
        self.0.call(op)?.flag()
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
    /// let l = multiproc::Manager::start()?.list::<u8>()?;
    /// assert_eq!(l.len()?, 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `len(l)`.
    pub fn len(&self) -> Result<usize> {
        count(&self.0)
    }

    /// Whether there are no items.
    ///
    /// # Errors
    ///
    /// As [`ListProxy::len`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list::<u8>()?;
    /// assert!(l.is_empty()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `not l`.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes every item.
    ///
    /// # Errors
    ///
    /// As [`ListProxy::len`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list_from([1u8])?;
    /// l.clear()?;
    /// assert!(l.is_empty()?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `l.clear()`.
    pub fn clear(&self) -> Result<()> {
        self.0.call(Op::Clear)?.done()
    }

    /// A copy of the whole list, in one round trip.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if an item does not decode as `T`; as [`ListProxy::len`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list_from([1u8, 2])?;
    /// assert_eq!(l.to_vec()?, [1, 2]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `l[:]`, or `list(l)`.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        self.0.call(Op::Values)?.items()
    }

    /// Replaces the item at `i` with `f` of it, atomically; returns what was stored.
    ///
    /// # Errors
    ///
    /// As [`ListProxy::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// let l = multiproc::Manager::start()?.list_from([1u8])?;
    /// assert_eq!(l.update(0, |x| x * 10)?, 10);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: no equivalent; `with lock: l[i] = f(l[i])`.
    pub fn update(&self, i: isize, mut f: impl FnMut(T) -> T) -> Result<T> {
        update(
            &self.0,
            || index(i),
            |old: Option<T>| f(old.expect("a list item is never absent")),
        )
    }
}

/// A list item that the server always sends.
fn required<T>(item: Option<T>) -> Result<T> {
    item.ok_or_else(|| Error::Manager {
        reason: "it answered without the item".into(),
    })
}

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// The current value.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = multiproc::Manager::start()?.value('x')?;
    /// assert_eq!(v.get()?, 'x');
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `v.value`.
    pub fn get(&self) -> Result<T> {
        required(self.0.call(Op::Get(Slot::Whole))?.item()?)
    }

    /// Replaces the value; the one it replaced.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if `value` cannot be encoded; as [`ValueProxy::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// let v = multiproc::Manager::start()?.value(0u8)?;
    /// assert_eq!(v.set(3)?, 0);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `v.value = value`.
    pub fn set(&self, value: T) -> Result<T> {
        let op = Op::Set(Slot::Whole, encode(&value)?);
        required(self.0.call(op)?.item()?)
    }

    /// Replaces the value with `f` of it, atomically: if another process
    /// changes it in between, `f` runs again. Returns what was stored.
    ///
    /// # Errors
    ///
    /// As [`ValueProxy::set`].
    ///
    /// # Examples
    ///
    /// ```
    /// let counter = multiproc::Manager::start()?.value(0u64)?;
    /// assert_eq!(counter.update(|n| n + 1)?, 1);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: no equivalent; `with lock: v.value += 1`.
    pub fn update(&self, mut f: impl FnMut(T) -> T) -> Result<T> {
        update(
            &self.0,
            || Slot::Whole,
            |old: Option<T>| f(old.expect("a value is never absent")),
        )
    }
}

/// The type an attribute is stored as: `&str`, `&String` and `String` are
/// one type (they encode alike), as are `[T]` and `Vec<T>`.
fn attribute_type<T: ?Sized>() -> String {
    let name = type_name::<T>().trim_start_matches('&');
    match name {
        "str" => type_name::<String>().into(),
        slice if slice.starts_with('[') && slice.ends_with(']') && !slice.contains(';') => {
            format!("alloc::vec::Vec<{}>", &slice[1..slice.len() - 1])
        }
        other => other.into(),
    }
}

impl NamespaceProxy {
    /// Sets attribute `name`.
    ///
    /// # Errors
    ///
    /// [`Error::Codec`] if `value` cannot be encoded;
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let ns = multiproc::Manager::start()?.namespace()?;
    /// ns.set("name", "worker")?;
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `ns.name = value`.
    pub fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        // Each attribute carries its type, which `get` checks.
        let op = Op::Set(
            Slot::Field(name.into()),
            encode(&(attribute_type::<T>(), value))?,
        );
        self.0.call(op).map(drop)
    }

    /// Attribute `name`, decoded as a `T`.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchAttribute`] if it is not set; [`Error::TypeMismatch`]
    /// if it was set as another type; [`Error::ManagerUnreachable`] if the
    /// server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let ns = multiproc::Manager::start()?.namespace()?;
    /// ns.set("ratio", &0.5f32)?;
    /// assert_eq!(ns.get::<f32>("ratio")?, 0.5);
    /// assert!(matches!(ns.get::<f32>("nope"), Err(multiproc::Error::NoSuchAttribute { .. })));
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `ns.name`.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let op = Op::Get(Slot::Field(name.into()));
        let bytes = required(self.0.call(op)?.raw()?)?;
        let (found, value): (String, &[u8]) =
            postcard::take_from_bytes(&bytes).map_err(|e| Error::Codec {
                what: "decode a namespace attribute".into(),
                reason: e.to_string(),
            })?;
        if found != attribute_type::<T>() {
            return Err(Error::TypeMismatch {
                name: name.into(),
                expected: attribute_type::<T>(),
                found,
            });
        }
        decode(value)
    }

    /// Removes attribute `name`; whether it was set.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let ns = multiproc::Manager::start()?.namespace()?;
    /// ns.set("x", &1u8)?;
    /// assert!(ns.remove("x")?);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `del ns.name`.
    pub fn remove(&self, name: &str) -> Result<bool> {
        let op = Op::Remove(Slot::Field(name.into()));
        Ok(self.0.call(op)?.raw()?.is_some())
    }

    /// The names of the attributes that are set, in order.
    ///
    /// # Errors
    ///
    /// [`Error::ManagerUnreachable`] if the server is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let ns = multiproc::Manager::start()?.namespace()?;
    /// ns.set("b", &1u8)?;
    /// ns.set("a", &2u8)?;
    /// assert_eq!(ns.names()?, ["a", "b"]);
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `vars(ns)`.
    pub fn names(&self) -> Result<Vec<String>> {
        self.0.call(Op::Keys)?.items()
    }
}
