//! Named shared memory: create, open, pass, remove, and clean-up after a dead creator.

use std::time::{Duration, Instant};

use multiproc::{Error, SharedMemory, process};

fn unique(tag: &str) -> String {
    format!("test-{tag}-{}", std::process::id())
}

#[process]
fn write_greeting(block: SharedMemory) {
    block.write(0, b"from the child").unwrap();
}

#[process]
fn open_and_read(name: String) -> Vec<u8> {
    let block = SharedMemory::open(&name).unwrap();
    let mut buf = vec![0u8; 5];
    block.read(0, &mut buf).unwrap();
    buf
}

#[process]
fn create_and_hang(name: String) {
    let _block = SharedMemory::create(&name, 4096).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_block_is_shared_by_name_and_as_an_argument() {
    let name = unique("share");
    let block = SharedMemory::create(&name, 4096).unwrap();
    assert_eq!(block.len(), 4096);
    write_greeting.spawn(block.clone()).unwrap().join().unwrap();
    let mut buf = [0u8; 14];
    block.read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"from the child");
    block.write(0, b"hello").unwrap();
    assert_eq!(
        open_and_read.spawn(name.clone()).unwrap().join().unwrap(),
        b"hello"
    );
}

#[test]
fn out_of_bounds_access_and_missing_names_are_errors() {
    let name = unique("bounds");
    let block = SharedMemory::create(&name, 16).unwrap();
    let mut buf = [0u8; 8];
    assert!(matches!(
        block.read(9, &mut buf),
        Err(Error::OutOfBounds { .. })
    ));
    assert!(matches!(
        block.write(usize::MAX, &buf),
        Err(Error::OutOfBounds { .. })
    ));
    assert!(
        SharedMemory::create(&name, 16).is_err(),
        "a name is taken once"
    );
    assert!(matches!(
        SharedMemory::open(&unique("missing")),
        Err(Error::NoSuchSharedMemory { .. })
    ));
    assert!(matches!(
        SharedMemory::create(&"n".repeat(300), 16),
        Err(Error::InvalidArgument {
            argument: "name",
            ..
        })
    ));
}

#[test]
fn dropping_the_creator_removes_the_name() {
    let name = unique("drop");
    let block = SharedMemory::create(&name, 64).unwrap();
    let opened = SharedMemory::open(&name).unwrap();
    drop(opened);
    assert!(
        SharedMemory::open(&name).is_ok(),
        "only the creator removes it"
    );
    drop(block);
    assert!(matches!(
        SharedMemory::open(&name),
        Err(Error::NoSuchSharedMemory { .. })
    ));
}

#[test]
fn a_block_whose_creator_died_is_removed() {
    let name = unique("died");
    let creator = create_and_hang.spawn(name.clone()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while SharedMemory::open(&name).is_err() {
        assert!(Instant::now() < deadline, "the block never appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
    creator.kill().unwrap();
    let _ = creator.join();
    let deadline = Instant::now() + Duration::from_secs(5);
    while SharedMemory::open(&name).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the dead creator's block was left behind"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts as a terminal starts a program, leading its own process group with
/// SIGINT and SIGTERM at their defaults (a shell without job control starts
/// background programs with SIGINT ignored), then creates a block and waits.
#[process]
fn lead_a_group_and_create(name: String, ready: multiproc::Event) {
    // SAFETY: plain system calls on this single-threaded child's own state.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        assert_eq!(libc::setpgid(0, 0), 0);
    }
    let _block = SharedMemory::create(&name, 4096).unwrap();
    ready.set();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn ctrl_c_sigterm_or_sigkill_to_the_process_group_leaves_no_block_behind() {
    let signals = [
        (libc::SIGINT, "sigint"),
        (libc::SIGTERM, "sigterm"),
        (libc::SIGKILL, "sigkill"),
    ];
    for (signal, tag) in signals {
        let name = unique(tag);
        let ready = multiproc::Event::new().unwrap();
        let creator = lead_a_group_and_create
            .spawn(name.clone(), ready.clone())
            .unwrap();
        assert!(
            ready.wait_timeout(Duration::from_secs(30)),
            "no block was made"
        );
        let group = creator.pid() as libc::pid_t;
        // SAFETY: signals the process group the creator leads, as a terminal would.
        assert_eq!(unsafe { libc::killpg(group, signal) }, 0);
        assert!(matches!(creator.join(), Err(Error::Signaled { .. })));
        let deadline = Instant::now() + Duration::from_secs(10);
        while SharedMemory::open(&name).is_ok() {
            assert!(
                Instant::now() < deadline,
                "{tag} to the group left the block in /dev/shm"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn a_block_of_no_bytes_is_an_error() {
    let name = unique("empty");
    assert!(matches!(
        SharedMemory::create(&name, 0),
        Err(Error::InvalidArgument {
            argument: "len",
            ..
        })
    ));
    assert!(
        SharedMemory::open(&name).is_err(),
        "a block was made anyway"
    );
}

/// Sparse, the block would be created, and a write to its last page killed
/// by SIGBUS.
#[cfg(target_os = "linux")]
#[test]
fn a_block_larger_than_dev_shm_has_room_for_is_an_error_not_a_later_sigbus() {
    let shm = rustix::fs::statvfs("/dev/shm").unwrap();
    let room = shm.f_blocks * shm.f_frsize;
    if room == 0 {
        eprintln!("skipped: /dev/shm has no size limit here");
        return;
    }
    let name = unique("too-big");
    let created = SharedMemory::create(&name, room as usize + 4096);
    assert!(matches!(created, Err(Error::Io { .. })), "{created:?}");
    assert!(matches!(
        SharedMemory::open(&name),
        Err(Error::NoSuchSharedMemory { .. })
    ));
}
