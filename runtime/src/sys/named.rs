//! Shared memory blocks with a name any process can open: POSIX `shm_open`.

use std::os::fd::OwnedFd;

use rustix::fs::Mode;
use rustix::shm::OFlags;

/// The longest name a block can have, its leading `/` included: macOS
/// keeps 31 bytes; Linux, a file name's 255.
pub(crate) const MAX_NAME: usize = if cfg!(target_os = "macos") { 31 } else { 255 };

/// Creates the block `name` (refused if it exists), readable and writable
/// by this user only, and sizes it to `len` bytes; removed again if sizing fails.
///
/// On Linux its memory is taken at once, so that a block larger than
/// `/dev/shm` has room for is refused here: made sparse, it would let the
/// first write to a page past the room kill the process with SIGBUS.
pub(crate) fn create(name: &str, len: u64) -> std::io::Result<OwnedFd> {
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::RDWR;
    let fd = rustix::shm::open(name, flags, Mode::RUSR | Mode::WUSR)?;
    if let Err(e) = rustix::fs::ftruncate(&fd, len).and_then(|()| commit(&fd, len)) {
        unlink(name);
        return Err(e.into());
    }
    Ok(fd)
}

/// Where the file system cannot (`EOPNOTSUPP`), the block stays sparse, as
/// it was before this was asked.
#[cfg(target_os = "linux")]
fn commit(fd: &OwnedFd, len: u64) -> rustix::io::Result<()> {
    use rustix::io::Errno;
    loop {
        // tmpfs gives up on a signal, and does not restart.
        match rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::empty(), 0, len) {
            Err(Errno::INTR) => {}
            Err(Errno::OPNOTSUPP | Errno::NOSYS) => return Ok(()),
            done => return done,
        }
    }
}

/// macOS has no call for it, and its shared memory is not a file system
/// that can fill up.
#[cfg(not(target_os = "linux"))]
fn commit(_: &OwnedFd, _: u64) -> rustix::io::Result<()> {
    Ok(())
}

/// Opens the existing block `name` for reading and writing; `ErrorKind::NotFound` if there is none.
pub(crate) fn open(name: &str) -> std::io::Result<OwnedFd> {
    Ok(rustix::shm::open(name, OFlags::RDWR, Mode::empty())?)
}

/// Removes the name `name`; the memory lives on while it is mapped or open.
pub(crate) fn unlink(name: &str) {
    let _ = rustix::shm::unlink(name);
}
