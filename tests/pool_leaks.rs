//! Pools started and dropped one after another, under every start method,
//! leave no descriptor, zombie or socket file behind: among them forked
//! pools, whose first worker forks the others. Alone in its binary so that
//! no other test changes the counts.

mod common;

use common::{open_fds, socket_dirs, three_workers, zombie_children};
use multiproc::pool_task;

#[pool_task]
fn echo(x: u32) -> u32 {
    x
}

#[test]
fn pools_started_and_dropped_leak_no_fds_or_zombies_under_every_start_method() {
    for method in multiproc::get_all_start_methods() {
        let start = || {
            let pool = three_workers(method).build().unwrap();
            assert_eq!(pool.map(echo, 0..6).unwrap(), (0..6).collect::<Vec<_>>());
        };
        // The first may start what lives on (the fork server).
        start();
        let fds = open_fds();
        for _ in 0..30 {
            start();
        }
        assert_eq!(open_fds(), fds, "{method:?}");
        assert_eq!(zombie_children(), 0, "{method:?}");
        assert!(multiproc::active_children().is_empty(), "{method:?}");
    }
    for dir in socket_dirs(std::process::id()) {
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            0,
            "socket files left behind"
        );
    }
}
