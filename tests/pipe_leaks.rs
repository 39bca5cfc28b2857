//! Creating and dropping many pipes and queues leaves the descriptor count flat.
//! Alone in its binary so that no other test changes the count.

mod common;

use common::open_fds;

#[test]
fn ten_thousand_pipes_and_queues_leak_no_fds() {
    let before = open_fds();
    for i in 0..10_000u32 {
        let (a, b) = multiproc::pipe::<u32>().unwrap();
        a.send(i).unwrap();
        assert_eq!(b.recv().unwrap(), i);
        let (rx, tx) = multiproc::pipe_oneway::<u32>().unwrap();
        drop((rx, tx.try_clone().unwrap(), tx));
        let q = multiproc::Queue::<u32>::new().unwrap();
        q.clone().put(i).unwrap();
        assert_eq!(q.get().unwrap(), i);
    }
    assert_eq!(open_fds(), before);
}
