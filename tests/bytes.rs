//! `Bytes` in every place a value crosses to another process, and handles
//! returned from a child, which travel the same way.

use multiproc::{Bytes, Connection, Pool, Queue, pool_task, process};

/// Larger than the size from which `Bytes` travels beside the message.
const BIG: usize = 3 << 20;

fn pattern(len: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>(),
    )
}

#[process]
fn reverse(data: Bytes) -> Bytes {
    let mut bytes = data.to_vec();
    bytes.reverse();
    Bytes::from(bytes)
}

#[pool_task]
fn shift(data: Bytes) -> Bytes {
    Bytes::from(data.iter().map(|b| b.wrapping_add(1)).collect::<Vec<u8>>())
}

#[process]
fn echo_bytes(conn: Connection<Bytes>) {
    while let Ok(data) = conn.recv() {
        conn.send(data).unwrap();
    }
}

#[process]
fn forward(from: Queue<Bytes>, to: Queue<Bytes>) {
    let data = from.get().unwrap();
    to.put(data).unwrap();
}

#[process]
fn open_pipe() -> Connection<String> {
    let (here, there) = multiproc::pipe::<String>().unwrap();
    here.send(String::from("through a returned connection"))
        .unwrap();
    there
}

#[test]
fn large_and_small_bytes_go_to_a_process_and_come_back_intact() {
    for len in [0, 5, 64 << 10, BIG] {
        let data = pattern(len, 3);
        let mut expected = data.to_vec();
        expected.reverse();
        assert_eq!(reverse.spawn(data).unwrap().join().unwrap(), expected);
    }
}

#[test]
fn pool_tasks_take_and_return_large_bytes_in_chunks_of_several() {
    let pool = Pool::new(2).unwrap();
    let inputs: Vec<Bytes> = (0..6).map(|seed| pattern(BIG, seed)).collect();
    let outputs = pool.map_chunked(shift, inputs.clone(), 3).unwrap();
    for (input, output) in inputs.iter().zip(&outputs) {
        let expected: Vec<u8> = input.iter().map(|b| b.wrapping_add(1)).collect();
        assert_eq!(*output, expected);
    }
    assert_eq!(
        pool.apply(shift, (Bytes::from("ab"),)).unwrap(),
        *b"bc".as_slice()
    );
}

#[test]
fn large_bytes_cross_a_connection_both_ways_and_again() {
    let (here, there) = multiproc::pipe::<Bytes>().unwrap();
    let echo = echo_bytes.spawn(there).unwrap();
    let data = pattern(BIG, 9);
    here.send(&data).unwrap();
    let back = here.recv().unwrap();
    assert_eq!(back, data);
    // What came back is a mapping of shared memory; it goes out again as it is.
    here.send(&back).unwrap();
    assert_eq!(here.recv().unwrap(), data);
    drop(here);
    echo.join().unwrap();
}

#[test]
fn large_bytes_pass_through_queues_between_processes() {
    let (to, from) = (Queue::new().unwrap(), Queue::new().unwrap());
    let child = forward.spawn(to.clone(), from.clone()).unwrap();
    let data = pattern(BIG, 5);
    to.put(data.clone()).unwrap();
    assert_eq!(from.get().unwrap(), data);
    child.join().unwrap();
}

#[test]
fn a_connection_returned_by_a_process_still_carries_messages() {
    let conn = open_pipe.spawn().unwrap().join().unwrap();
    assert_eq!(conn.recv().unwrap(), "through a returned connection");
}

#[test]
fn bytes_convert_to_and_from_vectors_and_strings() {
    let bytes = Bytes::from("text");
    assert_eq!(&*bytes, b"text");
    assert_eq!(format!("{bytes:?}"), "b\"text\"");
    assert_eq!(Vec::from(bytes.clone()), b"text".to_vec());
    assert_eq!(Bytes::from(String::from("text")), bytes);
    assert!(Bytes::new().is_empty());
}

#[pool_task]
fn make_bytes(len: usize) -> Bytes {
    Bytes::from(vec![7u8; len])
}

#[process]
fn many_large_results_under_a_low_descriptor_limit(items: usize) -> usize {
    let limit = rustix::process::Rlimit {
        current: Some(256),
        maximum: rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum,
    };
    rustix::process::setrlimit(rustix::process::Resource::Nofile, limit).unwrap();
    let pool = Pool::new(2).unwrap();
    // Every chunk's results arrive before any is decoded.
    let pending = pool.map_async(make_bytes, vec![64 << 10; items]).unwrap();
    pending.wait();
    let made = pending.get().unwrap();
    assert!(made.iter().all(|b| b.len() == 64 << 10 && b[0] == 7));
    made.len()
}

#[test]
fn many_large_results_fit_in_a_low_descriptor_limit() {
    // More buffers than descriptors allowed: each received one keeps only
    // its mapping, and no frame carries more than a few dozen.
    let made = many_large_results_under_a_low_descriptor_limit
        .spawn(600)
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(made, 600);
}
