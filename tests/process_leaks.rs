//! Many sequential spawns leave no file descriptor or zombie behind.
//! Alone in its binary so that no other test changes the counts.

mod common;

use common::{open_fds, socket_dirs, zombie_children};
use multiproc::process;

#[process]
fn echo(x: u32) -> u32 {
    x
}

#[test]
fn a_thousand_spawns_leak_no_fds_or_zombies() {
    assert_eq!(echo.spawn(0).unwrap().join().unwrap(), 0);
    let fds = open_fds();
    for i in 0..1000 {
        assert_eq!(echo.spawn(i).unwrap().join().unwrap(), i);
    }
    assert_eq!(open_fds(), fds);
    assert_eq!(zombie_children(), 0);
    assert!(multiproc::active_children().is_empty());
    for dir in socket_dirs(std::process::id()) {
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            0,
            "socket files left behind"
        );
    }
}
