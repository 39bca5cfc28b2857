//! Behaviour of `Queue` and `JoinableQueue` across processes.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use multiproc::{Error, JoinableQueue, Pool, Queue, pool_task, process};
use serde::{Deserialize, Deserializer, Serialize};

#[process]
fn produce(q: Queue<(u32, u32)>, producer: u32, count: u32) {
    for seq in 0..count {
        q.put((producer, seq)).unwrap();
    }
}

#[process]
fn consume(q: Queue<Option<(u32, u32)>>) -> Vec<(u32, u32)> {
    let mut got = Vec::new();
    while let Some(item) = q.get().unwrap() {
        got.push(item);
    }
    got
}

#[process]
fn produce_some(q: Queue<Option<(u32, u32)>>, producer: u32, count: u32) {
    for seq in 0..count {
        q.put(Some((producer, seq))).unwrap();
    }
}

#[process]
fn slow_consumer(q: Queue<u32>, taken: Queue<u32>) {
    loop {
        let item = q.get().unwrap();
        taken.put(item).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[process]
fn drain_and_mark_done(q: JoinableQueue<u32>) -> u32 {
    let mut sum = 0;
    while let Ok(item) = q.get_timeout(Duration::from_millis(500)) {
        sum += item;
        q.task_done().unwrap();
    }
    sum
}

#[pool_task]
fn put_square(q: Queue<u64>, x: u64) {
    q.put(x * x).unwrap();
}

/// Decodes like a `u64` but refuses 13.
#[derive(Debug, PartialEq, Serialize)]
struct Picky(u64);

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(d)?;
        if v == 13 {
            return Err(serde::de::Error::custom("13 is refused"));
        }
        Ok(Picky(v))
    }
}

#[test]
fn items_come_out_in_order_and_handles_share_one_queue() {
    let q = Queue::<String>::new().unwrap();
    assert!(q.is_empty());
    let q2 = q.clone();
    q.put("a".to_string()).unwrap();
    q2.put("b".to_string()).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q2.get().unwrap(), "a");
    assert_eq!(q.get().unwrap(), "b");
    assert!(q.is_empty());
}

#[test]
fn a_child_that_put_items_can_be_joined_before_anyone_reads_them() {
    let q = Queue::new().unwrap();
    produce.spawn(q.clone(), 1, 20_000).unwrap().join().unwrap();
    for seq in 0..20_000 {
        assert_eq!(q.get().unwrap(), (1, seq));
    }
    assert!(q.is_empty());
}

#[test]
fn four_producers_and_four_consumers_deliver_each_item_exactly_once() {
    const PER_PRODUCER: u32 = 5_000;
    let q = Queue::<Option<(u32, u32)>>::new().unwrap();
    let consumers: Vec<_> = (0..4).map(|_| consume.spawn(q.clone()).unwrap()).collect();
    let producers: Vec<_> = (0..4)
        .map(|p| produce_some.spawn(q.clone(), p, PER_PRODUCER).unwrap())
        .collect();
    for producer in producers {
        producer.join().unwrap();
    }
    for _ in 0..4 {
        q.put(None).unwrap();
    }
    let mut seen = HashSet::new();
    for consumer in consumers {
        let got = consumer.join().unwrap();
        for p in 0..4 {
            let order: Vec<u32> = got
                .iter()
                .filter(|(q, _)| *q == p)
                .map(|(_, s)| *s)
                .collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "out of order for producer {p}"
            );
        }
        for item in got {
            assert!(seen.insert(item), "{item:?} delivered twice");
        }
    }
    assert_eq!(seen.len(), 4 * PER_PRODUCER as usize);
}

#[test]
fn a_killed_consumer_loses_at_most_the_item_it_held() {
    let q = Queue::<u32>::new().unwrap();
    let taken = Queue::<u32>::new().unwrap();
    for i in 0..200 {
        q.put(i).unwrap();
    }
    let consumer = slow_consumer.spawn(q.clone(), taken.clone()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    consumer.kill().unwrap();
    assert!(consumer.join().is_err());
    let mut delivered = Vec::new();
    while let Some(item) = taken.try_get().unwrap() {
        delivered.push(item);
    }
    while let Some(item) = q.try_get().unwrap() {
        delivered.push(item);
    }
    delivered.sort_unstable();
    delivered.dedup();
    assert!(
        delivered.len() >= 199,
        "lost {} items",
        200 - delivered.len()
    );
}

#[test]
fn a_bounded_queue_gives_the_value_back_when_full() {
    let q = Queue::<u32>::bounded(2).unwrap();
    q.put(1).unwrap();
    q.try_put(2).unwrap();
    assert!(q.is_full());
    let failed = q.try_put(3).unwrap_err();
    assert_eq!(failed.value, 3);
    assert!(matches!(failed.error, Error::Full));
    let started = Instant::now();
    let failed = q.put_timeout(4, Duration::from_millis(50)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(failed.value, 4);
    assert_eq!(q.get().unwrap(), 1);
    q.put_timeout(5, Duration::from_secs(1)).unwrap();
    assert_eq!(q.try_get().unwrap(), Some(2));
    assert_eq!(q.get_timeout(Duration::from_secs(1)).unwrap(), 5);
    let producer = q.clone();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(10)),
        Err(Error::Timeout(_))
    ));
    drop(producer);
}

#[test]
fn an_undecodable_item_is_an_error_and_the_queue_stays_usable() {
    let q = Queue::<Picky>::new().unwrap();
    for v in [12, 13, 14] {
        q.put(Picky(v)).unwrap();
    }
    assert_eq!(q.get().unwrap(), Picky(12));
    assert!(matches!(q.get(), Err(Error::Codec { .. })));
    assert_eq!(q.get().unwrap(), Picky(14));
}

#[test]
fn empty_and_64_mib_items_keep_their_boundaries() {
    let q = Queue::<Vec<u8>>::new().unwrap();
    q.put(Vec::new()).unwrap();
    q.put(vec![9; 64 << 20]).unwrap();
    q.put(vec![1]).unwrap();
    assert_eq!(q.get().unwrap(), Vec::<u8>::new());
    let big = q.get().unwrap();
    assert_eq!(big.len(), 64 << 20);
    assert!(big.iter().all(|&b| b == 9));
    assert_eq!(q.get().unwrap(), [1]);
}

#[test]
fn a_joinable_queue_joins_once_every_item_is_done() {
    let q = JoinableQueue::<u32>::new().unwrap();
    for i in 1..=100 {
        q.put(i).unwrap();
    }
    assert!(!q.join_timeout(Duration::from_millis(10)));
    let worker = drain_and_mark_done.spawn(q.clone()).unwrap();
    q.join();
    assert_eq!(worker.join().unwrap(), 5050);
    assert!(matches!(q.task_done(), Err(Error::TooManyTaskDone)));
}

#[test]
fn pool_tasks_take_queues_as_arguments() {
    let pool = Pool::new(2).unwrap();
    let q = Queue::<u64>::new().unwrap();
    pool.starmap(put_square, (0..50u64).map(|x| (q.clone(), x)))
        .unwrap();
    let mut got: Vec<u64> = (0..50).map(|_| q.get().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..50u64).map(|x| x * x).collect::<Vec<_>>());
}

#[process]
fn put_two_then_return(q: Queue<u32>) {
    q.put(1).unwrap();
    q.put(2).unwrap();
}

#[test]
fn get_reports_disconnected_once_no_producer_is_left() {
    let q = Queue::<u32>::new().unwrap();
    let producer = put_two_then_return.spawn(q.clone()).unwrap();
    assert_eq!(q.get().unwrap(), 1);
    assert_eq!(q.get().unwrap(), 2);
    producer.join().unwrap();
    let started = Instant::now();
    assert!(matches!(q.get(), Err(Error::Disconnected)));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Another handle in this process could still put: then `get` waits.
    let other = q.clone();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(50)),
        Err(Error::Timeout(_))
    ));
    drop(other);
}

#[process]
fn hold_and_die(q: Queue<u32>) {
    let _keep = q;
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn get_reports_disconnected_when_the_last_producer_is_killed() {
    let q = Queue::<u32>::new().unwrap();
    let holder = hold_and_die.spawn(q.clone()).unwrap();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(300)),
        Err(Error::Timeout(_))
    ));
    holder.kill().unwrap();
    let started = Instant::now();
    assert!(matches!(q.get(), Err(Error::Disconnected)));
    assert!(started.elapsed() < Duration::from_secs(5));
    let _ = holder.join();
}

#[process]
fn put_a_connection_and_exit(q: Queue<multiproc::Connection<String>>) {
    let (here, there) = multiproc::pipe::<String>().unwrap();
    here.send(String::from("sent before the producer exited"))
        .unwrap();
    q.put(there).unwrap();
}

#[test]
fn a_handle_put_by_a_process_that_exited_still_arrives_and_works() {
    let q = Queue::new().unwrap();
    put_a_connection_and_exit
        .spawn(q.clone())
        .unwrap()
        .join()
        .unwrap();
    let conn = q.get_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(conn.recv().unwrap(), "sent before the producer exited");
}
