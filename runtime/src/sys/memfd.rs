//! Anonymous shared files: created in memory, passed between processes as
//! descriptors, and sealed so that no holder can change what the others
//! rely on. Linux's memfd with file seals; on the portable backend (macOS),
//! a POSIX shared memory object whose name is removed at once.

use std::os::fd::BorrowedFd;

/// What a file's seals guarantee to every process that maps it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sealed {
    /// Its size never falls below what it is now (an access past a new end
    /// would kill a mapper with `SIGBUS`), and no more seals can be added.
    AgainstShrinking,
    /// Nothing about it ever changes again: no write, no writable mapping,
    /// no new size, no new seal.
    Frozen,
}

pub(crate) use imp::{CAN_FREEZE, frozen_copy, is_sealed, zeroed};

#[cfg(not(portable))]
mod imp {
    use std::io::Write;
    use std::os::fd::{BorrowedFd, OwnedFd};

    use rustix::fs::{MemfdFlags, SealFlags};

    use super::Sealed;

    /// Whether [`frozen_copy`] can make a file no holder can change.
    pub(crate) const CAN_FREEZE: bool = true;

    impl Sealed {
        fn flags(self) -> SealFlags {
            match self {
                Sealed::AgainstShrinking => SealFlags::SHRINK | SealFlags::SEAL,
                Sealed::Frozen => {
                    SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL
                }
            }
        }
    }

    fn new_file(name: &str) -> std::io::Result<OwnedFd> {
        Ok(rustix::fs::memfd_create(
            name,
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?)
    }

    /// A new zeroed file of `len` bytes, sealed against shrinking.
    pub(crate) fn zeroed(name: &str, len: u64) -> std::io::Result<OwnedFd> {
        let fd = new_file(name)?;
        rustix::fs::ftruncate(&fd, len)?;
        rustix::fs::fcntl_add_seals(&fd, Sealed::AgainstShrinking.flags())?;
        Ok(fd)
    }

    /// A new file holding a copy of `bytes`, frozen. Written with `write(2)`,
    /// which fills the file in the kernel without a page fault per page.
    pub(crate) fn frozen_copy(name: &str, bytes: &[u8]) -> std::io::Result<OwnedFd> {
        let mut file = std::fs::File::from(new_file(name)?);
        file.write_all(bytes)?;
        let fd = OwnedFd::from(file);
        rustix::fs::fcntl_add_seals(&fd, Sealed::Frozen.flags())?;
        Ok(fd)
    }

    /// Whether `fd` carries the seals of `sealed`; an error if it is no such file.
    pub(crate) fn is_sealed(fd: BorrowedFd<'_>, sealed: Sealed) -> std::io::Result<bool> {
        Ok(rustix::fs::fcntl_get_seals(fd)?.contains(sealed.flags()))
    }
}

/// POSIX shared memory, which macOS has. It has no seals, so nothing can
/// be frozen; but macOS refuses to resize a shared memory object once it
/// has a size, which is what sealing against shrinking promises. (Linux
/// allows it: on the portable backend there, which exists to test these
/// calls, a holder could still shrink a segment.)
#[cfg(portable)]
mod imp {
    use std::os::fd::{BorrowedFd, OwnedFd};

    use super::Sealed;

    /// Whether [`frozen_copy`] can make a file no holder can change.
    pub(crate) const CAN_FREEZE: bool = false;

    /// A new zeroed file of `len` bytes, which no process can open by name:
    /// its name is removed before it is sized, so that nothing is left
    /// behind by a crash in between.
    pub(crate) fn zeroed(_name: &str, len: u64) -> std::io::Result<OwnedFd> {
        use rustix::fs::Mode;
        use rustix::shm::OFlags;
        loop {
            let mut random = [0; 8];
            crate::sys::process::random(&mut random)?;
            // Within macOS's 31 characters.
            let name = format!("/multiproc-{:016x}", u64::from_ne_bytes(random));
            let flags = OFlags::CREATE | OFlags::EXCL | OFlags::RDWR;
            match rustix::shm::open(name.as_str(), flags, Mode::RUSR | Mode::WUSR) {
                Ok(fd) => {
                    crate::sys::named::unlink(&name);
                    rustix::fs::ftruncate(&fd, len)?;
                    return Ok(fd);
                }
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Refused: nothing here can be frozen (see [`CAN_FREEZE`]).
    pub(crate) fn frozen_copy(_name: &str, _bytes: &[u8]) -> std::io::Result<OwnedFd> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    /// Whether `fd` is a shared file with the guarantees of `sealed`; an
    /// error if it is no file. macOS tells a shared memory object by its
    /// mode, which has no file type; Linux's are files like any other.
    pub(crate) fn is_sealed(fd: BorrowedFd<'_>, sealed: Sealed) -> std::io::Result<bool> {
        let stat = rustix::fs::fstat(fd)?;
        #[cfg(target_os = "macos")]
        if stat.st_mode & libc::S_IFMT != 0 {
            return Err(std::io::Error::other("not a shared memory object"));
        }
        #[cfg(not(target_os = "macos"))]
        let _ = stat;
        Ok(matches!(sealed, Sealed::AgainstShrinking))
    }
}

/// The file's size in bytes.
pub(crate) fn len(fd: BorrowedFd<'_>) -> std::io::Result<u64> {
    Ok(rustix::fs::fstat(fd)?.st_size as u64)
}

/// Bytes of memory the file holds now.
#[cfg(test)]
pub(crate) fn resident(fd: BorrowedFd<'_>) -> u64 {
    rustix::fs::fstat(fd).map_or(0, |stat| stat.st_blocks as u64 * 512)
}

/// Gives the memory of bytes `offset..offset + len` back to the system, for
/// every process that maps them; they read as zeros from then on. Best
/// effort: where the system cannot, the memory stays.
pub(crate) fn release(fd: BorrowedFd<'_>, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::FallocateFlags;
        let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        let _ = rustix::fs::fallocate(fd, flags, offset, len);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (fd, offset, len);
}
