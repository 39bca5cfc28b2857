//! Many sequential spawns leave no file descriptor or zombie behind.
//! Alone in its binary so that no other test changes the counts.

mod common;

use common::{open_fds, socket_dirs};
use multiproc::process;

#[process]
fn echo(x: u32) -> u32 {
    x
}

fn zombie_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let fields: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str())
        })
        .count()
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
