//! [`Fd`]: an open file, socket or any other descriptor, passed to a child.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire;

/// An owned file descriptor that can be an argument of a `#[process]` or
/// `#[pool_task]` function: the child receives its own duplicate of it
/// (through `SCM_RIGHTS`), so both processes then share one open file.
///
/// Serializing an `Fd` anywhere else (into a file, say) is an error.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Seek, Write};
/// use multiproc::{process, Fd};
///
/// #[process]
/// fn write_greeting(file: Fd) {
///     let mut file = std::fs::File::from(file);
///     file.write_all(b"hello from the child").unwrap();
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let path = std::env::temp_dir().join(format!("multiproc-fd-doc-{}", std::process::id()));
/// let mut file = std::fs::File::options().create(true).truncate(true).read(true).write(true).open(&path)?;
/// write_greeting.spawn(Fd::from(file.try_clone()?))?.join()?;
/// let mut text = String::new();
/// file.rewind()?;
/// file.read_to_string(&mut text)?;
/// assert_eq!(text, "hello from the child");
/// # std::fs::remove_file(path)?;
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.reduction.send_handle` / `recv_handle`, or passing a
/// file descriptor with `Process(pass_fds=...)`-like inheritance.
#[derive(Debug)]
pub struct Fd(OwnedFd);

impl Fd {
    /// Duplicates this descriptor.
    ///
    /// # Errors
    ///
    /// The operating system's error if `dup` fails (for example, too many open files).
    ///
    /// # Examples
    ///
    /// ```
    /// let fd = multiproc::Fd::from(std::fs::File::open("/dev/null")?);
    /// let copy = fd.try_clone()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// Python: `os.dup(fd)`.
    pub fn try_clone(&self) -> std::io::Result<Fd> {
        self.0.try_clone().map(Fd)
    }
}

impl From<OwnedFd> for Fd {
    fn from(fd: OwnedFd) -> Fd {
        Fd(fd)
    }
}

impl From<File> for Fd {
    fn from(file: File) -> Fd {
        Fd(file.into())
    }
}

impl From<std::os::unix::net::UnixStream> for Fd {
    fn from(stream: std::os::unix::net::UnixStream) -> Fd {
        Fd(stream.into())
    }
}

impl From<std::net::TcpStream> for Fd {
    fn from(stream: std::net::TcpStream) -> Fd {
        Fd(stream.into())
    }
}

impl From<Fd> for OwnedFd {
    fn from(fd: Fd) -> OwnedFd {
        fd.0
    }
}

impl From<Fd> for File {
    fn from(fd: Fd) -> File {
        File::from(fd.0)
    }
}

impl AsFd for Fd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl Serialize for Fd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let index = wire::export_fd(self.0.as_fd()).map_err(S::Error::custom)?;
        serializer.serialize_u32(index)
    }
}

impl<'de> Deserialize<'de> for Fd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let index = u32::deserialize(deserializer)?;
        wire::import_fd(index).map(Fd).map_err(D::Error::custom)
    }
}
