//! Managers started, used from several threads and shut down leave no
//! descriptor behind. Alone in its binary so that no other test changes the count.

use std::sync::mpsc;

mod common;

use common::open_fds;

use multiproc::{DictProxy, Manager};

/// Starts a manager, uses it here, from a thread that ends and from one that
/// lives on, then shuts it down.
fn cycle(resident: &mpsc::Sender<DictProxy<u32, u32>>, done: &mpsc::Receiver<()>) {
    let manager = Manager::start().unwrap();
    let d = manager.dict::<u32, u32>().unwrap();
    d.insert(1, 2).unwrap();
    let short_lived = d.clone();
    std::thread::spawn(move || short_lived.insert(3, 4).unwrap())
        .join()
        .unwrap();
    resident.send(d.clone()).unwrap();
    done.recv().unwrap();
    assert_eq!(d.len().unwrap(), 3);
    manager.shutdown().unwrap();
}

#[test]
fn shutting_down_a_manager_closes_every_threads_connection_to_it() {
    let (resident, jobs) = mpsc::channel::<DictProxy<u32, u32>>();
    let (finished, done) = mpsc::channel();
    // A thread that uses every manager and outlives them all.
    let worker = std::thread::spawn(move || {
        for d in jobs {
            d.insert(5, 6).unwrap();
            finished.send(()).unwrap();
        }
    });
    cycle(&resident, &done);
    let fds = open_fds();
    for _ in 0..30 {
        cycle(&resident, &done);
    }
    assert_eq!(open_fds(), fds, "connections to dead managers were kept");
    drop(resident);
    worker.join().unwrap();
}
