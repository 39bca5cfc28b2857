//! [`Connection`] and [`pipe`]: typed, message-framed channels between two processes.
//!
//! A pipe is a Unix stream socket pair. Each message is one frame (see
//! `wire`), so boundaries are kept, empty messages included, and sizes are
//! limited only by memory. Handles inside a message (an [`Fd`](crate::Fd), a
//! `Connection`) travel with it as descriptors.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::wire::{self, Conn};

/// One end of a pipe: sends and receives messages of type `T`.
///
/// A `Connection` is an ordinary argument of `#[process]` and `#[pool_task]`
/// functions: the child gets its own descriptor for the same end. As in
/// Python, two processes should not read from (or write to) the same end at
/// the same time; drop the parent's copy once the child has it.
///
/// # Examples
///
/// ```
/// use multiproc::{process, Connection};
///
/// #[process]
/// fn greeter(conn: Connection<String>) {
///     let name = conn.recv().unwrap();
///     conn.send(format!("hello, {name}")).unwrap();
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let (here, there) = multiproc::pipe::<String>()?;
/// let child = greeter.spawn(there)?;
/// here.send("bob".to_string())?;
/// assert_eq!(here.recv()?, "hello, bob");
/// child.join()?;
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.connection.Connection`.
pub struct Connection<T> {
    reader: Mutex<Conn>,
    writer: Mutex<Conn>,
    can_read: bool,
    can_write: bool,
    _message: PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("can_read", &self.can_read)
            .field("can_write", &self.can_write)
            .finish_non_exhaustive()
    }
}

/// A duplex pipe: each end can send and receive.
///
/// # Errors
///
/// [`Error::Io`] if the socket pair cannot be created (for example, too many open files).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let (a, b) = multiproc::pipe::<u32>()?;
/// a.send(7)?;
/// assert_eq!(b.recv()?, 7);
/// b.send(8)?;
/// assert_eq!(a.recv()?, 8);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Pipe()`.
pub fn pipe<T>() -> Result<(Connection<T>, Connection<T>)> {
    let (a, b) = wire::socket::pair().map_err(Error::io("creating a socket pair"))?;
    Ok((
        Connection::new(a, true, true)?,
        Connection::new(b, true, true)?,
    ))
}

/// A one-way pipe: returns `(receiver, sender)`, like Python.
///
/// # Errors
///
/// [`Error::Io`] if the socket pair cannot be created.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), multiproc::Error> {
/// let (rx, tx) = multiproc::pipe_oneway::<String>()?;
/// tx.send("one way".to_string())?;
/// assert_eq!(rx.recv()?, "one way");
/// assert!(rx.send("back".to_string()).is_err());
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Pipe(duplex=False)`.
pub fn pipe_oneway<T>() -> Result<(Connection<T>, Connection<T>)> {
    let (a, b) = wire::socket::pair().map_err(Error::io("creating a socket pair"))?;
    let _ = a.shutdown(std::net::Shutdown::Write);
    let _ = b.shutdown(std::net::Shutdown::Read);
    Ok((
        Connection::new(a, true, false)?,
        Connection::new(b, false, true)?,
    ))
}

fn lock(conn: &Mutex<Conn>) -> MutexGuard<'_, Conn> {
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Connection<T> {
    fn new(stream: UnixStream, can_read: bool, can_write: bool) -> Result<Self> {
        Connection::with_buffered(stream, Vec::new(), can_read, can_write)
    }

    fn with_buffered(
        stream: UnixStream,
        buffered: Vec<u8>,
        can_read: bool,
        can_write: bool,
    ) -> Result<Self> {
        let writer = stream
            .try_clone()
            .map_err(Error::io("duplicating a socket"))?;
        Ok(Connection {
            reader: Mutex::new(Conn::with_buffered(stream, buffered)),
            writer: Mutex::new(Conn::new(writer)),
            can_read,
            can_write,
            _message: PhantomData,
        })
    }

    /// Another handle to the same end, for another process (or thread) to use.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the descriptors cannot be duplicated.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let (a, b) = multiproc::pipe::<u8>()?;
    /// let a2 = a.try_clone()?;
    /// a2.send(1)?;
    /// assert_eq!(b.recv()?, 1);
    /// # drop(a);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: passing the same `Connection` to several processes.
    pub fn try_clone(&self) -> Result<Connection<T>> {
        let stream = lock(&self.reader)
            .stream()
            .try_clone()
            .map_err(Error::io("duplicating a socket"))?;
        Connection::new(stream, self.can_read, self.can_write)
    }

    fn reader(&self) -> Result<MutexGuard<'_, Conn>> {
        if self.can_read {
            Ok(lock(&self.reader))
        } else {
            Err(one_way("receive on the sending end of a one-way pipe"))
        }
    }

    /// The reading end, once a message has arrived or after a short spin: an
    /// answer often comes within microseconds, and waking from a blocking
    /// read costs tens of them on this kind of machine.
    fn waiting_reader(&self) -> Result<MutexGuard<'_, Conn>> {
        let mut reader = self.reader()?;
        static SPINNER: wire::Spinner = wire::Spinner::new();
        SPINNER.spin_until(wire::SPIN, || reader.try_fill());
        Ok(reader)
    }

    fn writer(&self) -> Result<MutexGuard<'_, Conn>> {
        if self.can_write {
            Ok(lock(&self.writer))
        } else {
            Err(one_way("send on the receiving end of a one-way pipe"))
        }
    }

    /// Sends raw bytes as one message.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] if the other end is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let (a, b) = multiproc::pipe::<()>()?;
    /// a.send_bytes(b"")?;
    /// a.send_bytes(b"raw")?;
    /// assert_eq!(b.recv_bytes()?, b"");
    /// assert_eq!(b.recv_bytes()?, b"raw");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `conn.send_bytes(b"raw")`.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<()> {
        self.writer()?.send_frame(bytes)
    }

    /// Receives one message's raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] at end of stream (the other end closed or died).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let (a, b) = multiproc::pipe::<()>()?;
    /// a.send_bytes(&[1, 2, 3])?;
    /// assert_eq!(b.recv_bytes()?, [1, 2, 3]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `conn.recv_bytes()`.
    pub fn recv_bytes(&self) -> Result<Vec<u8>> {
        self.waiting_reader()?.recv_frame()
    }

    /// Whether a message (or the end of the stream) can be read, waiting at
    /// most `timeout`; `None` waits for ever.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if polling fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let (a, b) = multiproc::pipe::<u8>()?;
    /// assert!(!b.poll(Some(Duration::ZERO))?);
    /// a.send(1)?;
    /// assert!(b.poll(Some(Duration::from_secs(1)))?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `conn.poll(timeout)`.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool> {
        self.reader()?.wait_readable(timeout)
    }
}

impl<T: Serialize> Connection<T> {
    /// Sends one message; handles inside it travel with it.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] if the other end is closed; [`Error::Codec`] if
    /// the message cannot be encoded.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let (a, b) = multiproc::pipe::<Vec<u32>>()?;
    /// a.send(vec![1, 2])?;
    /// let v = vec![3];
    /// a.send(&v)?;
    /// assert_eq!(b.recv()?, [1, 2]);
    /// assert_eq!(b.recv()?, [3]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `conn.send(obj)`.
    pub fn send(&self, msg: impl Borrow<T>) -> Result<()> {
        self.writer()?.send(msg.borrow())
    }

    /// As [`send`](Connection::send), waiting at most `timeout` for the
    /// other end to make room (a peer that stopped reading blocks a large
    /// message for ever).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the time ran out. If part of the message had
    /// gone out by then, this end stops sending, since the rest of the
    /// stream would be garbled: the peer sees the end of the stream, and
    /// later sends fail with [`Error::Disconnected`]. Otherwise as for `send`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let (a, b) = multiproc::pipe::<u32>()?;
    /// a.send_timeout(7, Duration::from_secs(1))?;
    /// assert_eq!(b.recv()?, 7);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: no equivalent; `conn.send(obj)` can block for ever.
    pub fn send_timeout(&self, msg: impl Borrow<T>, timeout: Duration) -> Result<()> {
        self.writer()?.send_within(msg.borrow(), Some(timeout))
    }
}

impl<T: DeserializeOwned> Connection<T> {
    /// Waits for the next message.
    ///
    /// # Errors
    ///
    /// [`Error::Disconnected`] at end of stream; [`Error::Codec`] if the
    /// message does not decode (it is consumed, and the connection stays usable).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let (a, b) = multiproc::pipe::<String>()?;
    /// a.send("hi".to_string())?;
    /// drop(a);
    /// assert_eq!(b.recv()?, "hi");
    /// assert!(matches!(b.recv(), Err(multiproc::Error::Disconnected)));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `conn.recv()`.
    pub fn recv(&self) -> Result<T> {
        self.waiting_reader()?.recv_with_fds()
    }

    /// The next message if one is ready, without waiting.
    ///
    /// # Errors
    ///
    /// As for [`recv`](Connection::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let (a, b) = multiproc::pipe::<u8>()?;
    /// assert_eq!(b.try_recv()?, None);
    /// a.send(5)?;
    /// assert_eq!(b.try_recv()?, Some(5));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `conn.recv() if conn.poll() else None`.
    pub fn try_recv(&self) -> Result<Option<T>> {
        self.recv_within(Duration::ZERO)
            .map(Some)
            .or_else(|e| match e {
                Error::Timeout(_) => Ok(None),
                e => Err(e),
            })
    }

    /// Waits at most `timeout` for the next message.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if none arrived in time; otherwise as for [`recv`](Connection::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let (_a, b) = multiproc::pipe::<u8>()?;
    /// let err = b.recv_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert!(matches!(err, multiproc::Error::Timeout(_)));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `conn.recv() if conn.poll(timeout) else raise TimeoutError`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T> {
        self.recv_within(timeout)
    }

    fn recv_within(&self, timeout: Duration) -> Result<T> {
        let mut reader = self.reader()?;
        if !reader.wait_readable(Some(timeout))? {
            return Err(Error::Timeout(timeout));
        }
        reader.recv_with_fds()
    }
}

fn one_way(what: &str) -> Error {
    Error::Io {
        what: "using a one-way pipe",
        source: std::io::Error::new(std::io::ErrorKind::Unsupported, format!("cannot {what}")),
    }
}

/// How a `Connection` crosses to another process: its descriptor, what it had
/// already read, and its direction.
#[derive(Serialize, Deserialize)]
struct Wire {
    fd: u32,
    #[serde(with = "serde_bytes")]
    buffered: Vec<u8>,
    can_read: bool,
    can_write: bool,
}

impl<T> Serialize for Connection<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let reader = lock(&self.reader);
        let fd = wire::export_fd(reader.stream().as_fd()).map_err(S::Error::custom)?;
        Wire {
            fd,
            buffered: reader.buffered().to_vec(),
            can_read: self.can_read,
            can_write: self.can_write,
        }
        .serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Connection<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        let stream = UnixStream::from(wire::import_fd(wire.fd).map_err(D::Error::custom)?);
        Connection::with_buffered(stream, wire.buffered, wire.can_read, wire.can_write)
            .map_err(D::Error::custom)
    }
}

/// Something [`wait`] can wait on: a [`Connection`].
///
/// # Examples
///
/// ```
/// use multiproc::Waitable;
///
/// fn first_ready(ends: &[&dyn Waitable]) -> multiproc::Result<Vec<usize>> {
///     multiproc::wait(ends, Some(std::time::Duration::from_millis(10)))
/// }
/// # let (a, b) = multiproc::pipe::<u8>()?;
/// # b.send(1)?;
/// assert_eq!(first_ready(&[&a])?, [0]);
/// # Ok::<(), multiproc::Error>(())
/// ```
///
/// Python: the objects `multiprocessing.connection.wait` accepts.
pub trait Waitable {
    /// Whether a read would not block right now, without asking the kernel.
    #[doc(hidden)]
    fn ready_now(&self) -> bool;
    /// The descriptor that becomes readable.
    #[doc(hidden)]
    fn wait_fd(&self) -> BorrowedFd<'_>;
}

impl<T> Waitable for Connection<T> {
    fn ready_now(&self) -> bool {
        !lock(&self.reader).buffered().is_empty()
    }

    fn wait_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor lives as long as `self`, which the borrow ties it to.
        unsafe {
            BorrowedFd::borrow_raw(std::os::fd::AsRawFd::as_raw_fd(lock(&self.reader).stream()))
        }
    }
}

/// Waits until at least one of `objects` can be read (or the timeout passes;
/// `None` waits for ever) and returns the indices of those ready, in order.
///
/// # Errors
///
/// [`Error::Io`] if polling fails.
///
/// # Examples
///
/// ```
/// use multiproc::Waitable;
/// use std::time::Duration;
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let (a1, b1) = multiproc::pipe::<u8>()?;
/// let (a2, b2) = multiproc::pipe::<u8>()?;
/// a2.send(2)?;
/// let ready = multiproc::wait(&[&b1 as &dyn Waitable, &b2], Some(Duration::from_secs(1)))?;
/// assert_eq!(ready, [1]);
/// # drop((a1, b1));
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.connection.wait(object_list, timeout)`.
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>> {
    let buffered: Vec<usize> = (0..objects.len())
        .filter(|&i| objects[i].ready_now())
        .collect();
    if !buffered.is_empty() {
        return Ok(buffered);
    }
    let fds: Vec<_> = objects.iter().map(|o| o.wait_fd()).collect();
    wire::wait_readable(&fds, timeout)
}
