use std::os::fd::AsFd;

use super::memfd::{self, Sealed};
use super::procfs::{self, Task};
use super::{named, process};

#[test]
fn a_zeroed_file_is_sealed_against_shrinking_but_not_frozen() {
    let fd = memfd::zeroed("test", 4096).unwrap();
    // macOS rounds it up to a whole page (16 KiB on Apple silicon).
    assert!(memfd::len(fd.as_fd()).unwrap() >= 4096);
    assert!(memfd::is_sealed(fd.as_fd(), Sealed::AgainstShrinking).unwrap());
    assert!(!memfd::is_sealed(fd.as_fd(), Sealed::Frozen).unwrap());
    // Linux lets a shared memory object shrink; macOS does not, once sized.
    #[cfg(not(all(portable, target_os = "linux")))]
    assert!(rustix::fs::ftruncate(&fd, 0).is_err(), "shrunk");
}

// Nothing can be frozen on the portable backend (macOS).
#[cfg(not(portable))]
#[test]
fn a_frozen_copy_holds_the_bytes_and_refuses_writes() {
    let fd = memfd::frozen_copy("test", b"hello").unwrap();
    assert_eq!(memfd::len(fd.as_fd()).unwrap(), 5);
    assert!(memfd::is_sealed(fd.as_fd(), Sealed::Frozen).unwrap());
    assert!(rustix::io::pwrite(&fd, b"j", 0).is_err(), "written");
    let mut back = [0u8; 5];
    rustix::io::pread(&fd, &mut back, 0).unwrap();
    assert_eq!(&back, b"hello");
}

// macOS neither reads nor writes shared memory but through a mapping, nor
// gives any of it back.
#[cfg(target_os = "linux")]
#[test]
fn released_memory_reads_as_zeros() {
    let fd = memfd::zeroed("test", 8192).unwrap();
    rustix::io::pwrite(&fd, &[7u8; 8192], 0).unwrap();
    memfd::release(fd.as_fd(), 0, 4096);
    let mut back = [1u8; 8192];
    rustix::io::pread(&fd, &mut back, 0).unwrap();
    assert!(back[..4096].iter().all(|&b| b == 0));
    assert!(back[4096..].iter().all(|&b| b == 7));
}

// On Linux a shared memory object is a file like any other: the portable
// backend, there only to be tested, cannot tell one apart.
#[cfg(not(all(portable, target_os = "linux")))]
#[test]
fn a_plain_file_is_not_taken_for_a_sealed_one() {
    let file = std::fs::File::open("/proc/self/stat").unwrap();
    assert!(memfd::is_sealed(file.as_fd(), Sealed::AgainstShrinking).is_err());
}

#[test]
fn a_named_block_is_created_once_opened_by_name_and_gone_once_unlinked() {
    let name = format!("/multiproc-sys-test-{}", std::process::id());
    let created = named::create(&name, 100).unwrap();
    assert_eq!(memfd::len(created.as_fd()).unwrap(), 100);
    assert!(named::create(&name, 100).is_err(), "created twice");
    assert!(named::open(&name).is_ok());
    named::unlink(&name);
    let gone = named::open(&name).unwrap_err();
    assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn this_process_and_thread_are_seen_alive_with_a_start_time() {
    let process = procfs::stat(Task::ThisProcess).unwrap();
    assert!(!process.ended);
    assert_eq!(procfs::stat(Task::Id(std::process::id())), Some(process));
    #[cfg(not(portable))]
    {
        let thread = procfs::stat(Task::ThisThread).unwrap();
        assert_eq!(procfs::stat(Task::Id(process::thread_id())), Some(thread));
    }
    assert!(procfs::threads().unwrap() >= 1);
}

#[test]
fn the_open_descriptors_include_a_new_one() {
    let file = std::fs::File::open("/proc/self/stat").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    assert!(procfs::open_fds().contains(&fd));
    assert!(process::closes_on_exec(fd));
    drop(file);
    assert!(!process::closes_on_exec(fd));
}

#[test]
#[expect(clippy::zombie_processes, reason = "reaped by `process::wait`, under test")]
fn a_child_is_peeked_at_without_being_reaped_then_waited_for() {
    let child = std::process::Command::new("sh")
        .args(["-c", "exit 3"])
        .spawn()
        .unwrap();
    let pid = process::pid(child.id()).unwrap();
    let ended = loop {
        if let Some(status) = process::peek(pid).unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert_eq!(ended.code(), Some(3));
    assert!(process::exists(pid), "reaped by a peek");
    assert_eq!(process::wait(pid).unwrap().unwrap().code(), Some(3));
}

#[test]
fn random_bytes_differ() {
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    process::random(&mut a).unwrap();
    process::random(&mut b).unwrap();
    assert_ne!(a, b);
}

#[test]
fn signals_have_their_names() {
    assert_eq!(process::signal_name(9), "SIGKILL");
    assert_eq!(process::signal_name(15), "SIGTERM");
    assert_eq!(process::signal_name(1000), "unknown signal");
}

#[test]
fn replacing_a_descriptor_by_itself_keeps_it_open() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let file = std::fs::File::open("/dev/null").unwrap();
    let number = file.as_raw_fd();
    crate::sys::process::replace_fd(OwnedFd::from(file), number).unwrap();
    // SAFETY: reads a descriptor's flags.
    let flags = unsafe { libc::fcntl(number, libc::F_GETFD) };
    assert!(flags >= 0, "closed");
    assert_eq!(flags & libc::FD_CLOEXEC, 0, "still closed by an exec");
    // SAFETY: `replace_fd` left it open, owned by no one: owned here now.
    drop(unsafe { OwnedFd::from_raw_fd(number) });
}

/// Forks a child that exits with `code()`; returns its exit status.
pub(crate) fn in_forked_child(code: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs `code`, which calls no lock another thread could
    // hold, and leaves with `_exit`.
    match unsafe { libc::fork() } {
        0 => unsafe { libc::_exit(code()) },
        pid => {
            let mut status = 0;
            // SAFETY: waits for the child just forked.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            libc::WEXITSTATUS(status)
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_child_out_of_descriptors_still_releases_what_it_inherited() {
    use std::os::fd::{AsRawFd, OwnedFd};
    let (read, write) = std::io::pipe().unwrap();
    let write = OwnedFd::from(write);
    let number = write.as_raw_fd();
    let status = in_forked_child(|| {
        // Not one descriptor more can be opened.
        let free = rustix::fs::open(c"/dev/null", rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty());
        let Ok(free) = free else { return 2 };
        let nofile = rustix::process::Resource::Nofile;
        let limit = rustix::process::Rlimit {
            current: Some(free.as_raw_fd() as u64),
            maximum: rustix::process::getrlimit(nofile).maximum,
        };
        drop(free);
        if rustix::process::setrlimit(nofile, limit).is_err() {
            return 3;
        }
        // SAFETY: nothing here uses the pipe's end again.
        unsafe { process::release_inherited(&[number]) };
        let mut target = [0u8; 16];
        // SAFETY: reads the link into a buffer of its length.
        let len = unsafe {
            libc::readlink(
                format!("/proc/self/fd/{number}\0").as_ptr().cast(),
                target.as_mut_ptr().cast(),
                target.len(),
            )
        };
        match usize::try_from(len).is_ok_and(|len| &target[..len] == b"/dev/null") {
            true => 0,
            false => 1,
        }
    });
    drop((read, write));
    assert_eq!(status, 0, "the pipe's end was kept (1), or the test could not set up ({status})");
}
