//! Behaviour of `Manager` and its proxies across processes, locally and over TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use multiproc::{
    BarrierProxy, ConditionProxy, DictProxy, Error, EventProxy, ListProxy, LockProxy, Manager,
    NamespaceProxy, Pool, QueueProxy, RLockProxy, SemaphoreProxy, ValueProxy, pool_task, process,
};
use serde::{Deserialize, Serialize};

mod common;
use common::is_running;

#[process]
fn set_entry(d: DictProxy<String, String>, key: String, value: String) {
    d.insert(key, value).expect("the manager is running");
}

#[test]
fn dict_set_by_a_child_is_seen_by_the_parent() {
    let manager = Manager::start().unwrap();
    let d = manager.dict().unwrap();
    set_entry
        .spawn(d.clone(), "key".into(), "value".into())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(d.items().unwrap(), [("key".into(), "value".into())]);
    assert_eq!(d.get(&"key".into()).unwrap().as_deref(), Some("value"));
    assert!(d.contains_key(&"key".into()).unwrap());
    assert_eq!(d.keys().unwrap(), ["key"]);
    assert_eq!(d.remove(&"key".into()).unwrap().as_deref(), Some("value"));
    assert!(d.is_empty().unwrap());
}

#[process]
fn fill(l: ListProxy<u32>, v: ValueProxy<i64>, ns: NamespaceProxy) {
    l.push(42).unwrap();
    l.extend([1, 2]).unwrap();
    l.set(1, 10).unwrap();
    v.set(100).unwrap();
    ns.set("name", "child").unwrap();
    ns.set("ratio", &0.5f64).unwrap();
}

#[test]
fn list_value_and_namespace_are_shared_with_a_child() {
    let manager = Manager::start().unwrap();
    let (l, v, ns) = (
        manager.list().unwrap(),
        manager.value(0).unwrap(),
        manager.namespace().unwrap(),
    );
    fill.spawn(l.clone(), v.clone(), ns.clone())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(l.to_vec().unwrap(), [42, 10, 2]);
    assert_eq!(l.get(-1).unwrap(), 2);
    assert_eq!(l.pop().unwrap(), Some(2));
    assert_eq!(l.len().unwrap(), 2);
    assert_eq!(v.get().unwrap(), 100);
    assert_eq!(ns.get::<String>("name").unwrap(), "child");
    assert_eq!(ns.get::<f64>("ratio").unwrap(), 0.5);
    assert_eq!(ns.names().unwrap(), ["name", "ratio"]);
}

#[test]
fn bad_indexes_and_missing_attributes_are_clear_errors() {
    let manager = Manager::start().unwrap();
    let l = manager.list_from([1u8, 2, 3]).unwrap();
    assert!(matches!(
        l.get(3),
        Err(Error::IndexOutOfRange {
            index: 3,
            len: 3,
            ..
        })
    ));
    assert!(matches!(
        l.set(-4, 0),
        Err(Error::IndexOutOfRange {
            index: -4,
            len: 3,
            ..
        })
    ));
    assert_eq!(l.get(-3).unwrap(), 1);
    let ns = manager.namespace().unwrap();
    let missing = ns.get::<u8>("nope").unwrap_err();
    assert!(matches!(missing, Error::NoSuchAttribute { ref name, .. } if name == "nope"));
    ns.set("text", "not a number").unwrap();
    let wrong = ns.get::<u64>("text").unwrap_err();
    assert!(
        matches!(wrong, Error::TypeMismatch { ref name, .. } if name == "text"),
        "{wrong}"
    );
    assert_eq!(ns.get::<String>("text").unwrap(), "not a number");
}

#[process]
fn add_under_lock(counter: ValueProxy<i64>, lock: LockProxy, times: u32) {
    for _ in 0..times {
        let _guard = lock.acquire().unwrap();
        let n = counter.get().unwrap();
        counter.set(n + 1).unwrap();
    }
}

#[test]
fn lock_makes_read_then_write_exact_across_processes() {
    let manager = Manager::start().unwrap();
    let (counter, lock) = (manager.value(0i64).unwrap(), manager.lock().unwrap());
    let children: Vec<_> = (0..4)
        .map(|_| {
            add_under_lock
                .spawn(counter.clone(), lock.clone(), 100)
                .unwrap()
        })
        .collect();
    for child in children {
        child.join().unwrap();
    }
    assert_eq!(counter.get().unwrap(), 400);
}

#[process]
fn add_atomically(counter: ValueProxy<i64>, hits: DictProxy<String, u64>, times: u32) {
    for _ in 0..times {
        counter.update(|n| n + 1).unwrap();
        hits.update("hits".into(), |n| n.unwrap_or(0) + 1).unwrap();
    }
}

#[test]
fn update_is_atomic_without_a_lock() {
    let manager = Manager::start().unwrap();
    let (counter, hits) = (manager.value(0i64).unwrap(), manager.dict().unwrap());
    let children: Vec<_> = (0..4)
        .map(|_| {
            add_atomically
                .spawn(counter.clone(), hits.clone(), 200)
                .unwrap()
        })
        .collect();
    for child in children {
        child.join().unwrap();
    }
    assert_eq!(counter.get().unwrap(), 800);
    assert_eq!(hits.get(&"hits".into()).unwrap(), Some(800));
}

#[process]
fn hold_then_die(lock: LockProxy, held: EventProxy) {
    let _guard = lock.acquire().unwrap();
    held.set().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_lock_held_by_a_killed_process_is_released() {
    let manager = Manager::start().unwrap();
    let (lock, held) = (manager.lock().unwrap(), manager.event().unwrap());
    let child = hold_then_die.spawn(lock.clone(), held.clone()).unwrap();
    assert!(held.wait_timeout(Duration::from_secs(30)).unwrap());
    assert!(lock.try_acquire().unwrap().is_none());
    child.kill().unwrap();
    let _ = child.join();
    let guard = lock.acquire_timeout(Duration::from_secs(10)).unwrap();
    assert!(guard.is_some(), "the dead holder's lock was not released");
}

#[test]
fn acquire_timeout_gives_up_when_another_process_holds_the_lock() {
    let manager = Manager::start().unwrap();
    let (lock, held) = (manager.lock().unwrap(), manager.event().unwrap());
    let child = hold_then_die.spawn(lock.clone(), held.clone()).unwrap();
    assert!(held.wait_timeout(Duration::from_secs(30)).unwrap());
    let start = Instant::now();
    assert!(
        lock.acquire_timeout(Duration::from_millis(100))
            .unwrap()
            .is_none()
    );
    assert!(start.elapsed() >= Duration::from_millis(100));
    child.kill().unwrap();
    let _ = child.join();
}

#[test]
fn rlock_is_reentrant_and_only_its_owner_releases_it() {
    let manager = Manager::start().unwrap();
    let lock: RLockProxy = manager.rlock().unwrap();
    let outer = lock.acquire().unwrap();
    let inner = lock.acquire().unwrap();
    let other = lock.clone();
    let from_other_thread = std::thread::spawn(move || other.try_acquire().unwrap().is_some())
        .join()
        .unwrap();
    assert!(!from_other_thread);
    drop(inner);
    drop(outer);
    let other = lock.clone();
    assert!(
        std::thread::spawn(move || other.try_acquire().unwrap().is_some())
            .join()
            .unwrap()
    );
}

#[process]
fn take_permit(slots: SemaphoreProxy, inside: ValueProxy<i32>, peak: ValueProxy<i32>) {
    let _permit = slots.acquire().unwrap();
    let now = inside.update(|n| n + 1).unwrap();
    peak.update(|p| p.max(now)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    inside.update(|n| n - 1).unwrap();
}

#[test]
fn semaphore_admits_at_most_its_value() {
    let manager = Manager::start().unwrap();
    let slots = manager.semaphore(2).unwrap();
    let (inside, peak) = (manager.value(0).unwrap(), manager.value(0).unwrap());
    let children: Vec<_> = (0..5)
        .map(|_| {
            take_permit
                .spawn(slots.clone(), inside.clone(), peak.clone())
                .unwrap()
        })
        .collect();
    for child in children {
        child.join().unwrap();
    }
    assert!(peak.get().unwrap() <= 2);
    assert_eq!(slots.value().unwrap(), 2);
    let bounded = manager.bounded_semaphore(1).unwrap();
    assert!(matches!(bounded.release(), Err(Error::OverReleased)));
}

#[process]
fn wait_event(ev: EventProxy) -> bool {
    ev.wait_timeout(Duration::from_secs(30)).unwrap()
}

#[test]
fn event_set_in_the_parent_wakes_waiting_children() {
    let manager = Manager::start().unwrap();
    let ev = manager.event().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| wait_event.spawn(ev.clone()).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    ev.set().unwrap();
    for child in children {
        assert!(child.join().unwrap());
    }
    assert!(ev.is_set().unwrap());
    ev.clear().unwrap();
    assert!(!ev.wait_timeout(Duration::from_millis(10)).unwrap());
}

#[process]
fn consume(cond: ConditionProxy, items: ListProxy<u32>) -> u32 {
    let guard = cond.acquire().unwrap();
    let _guard = cond.wait_while(guard, || items.is_empty()).unwrap();
    items.pop().unwrap().unwrap()
}

#[test]
fn condition_notify_wakes_a_waiting_child() {
    let manager = Manager::start().unwrap();
    let (cond, items) = (manager.condition().unwrap(), manager.list().unwrap());
    let child = consume.spawn(cond.clone(), items.clone()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    {
        let _guard = cond.acquire().unwrap();
        items.push(7).unwrap();
        cond.notify_all().unwrap();
    }
    assert_eq!(child.join().unwrap(), 7);
    assert!(matches!(cond.notify_one(), Err(Error::NotOwner)));
}

#[process]
fn meet(barrier: BarrierProxy) -> u32 {
    barrier.wait_timeout(Duration::from_secs(30)).unwrap()
}

#[test]
fn barrier_releases_all_parties_together_and_breaks_on_timeout() {
    let manager = Manager::start().unwrap();
    let barrier = manager.barrier(3).unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| meet.spawn(barrier.clone()).unwrap())
        .collect();
    let mine = barrier.wait_timeout(Duration::from_secs(30)).unwrap();
    let mut indexes: Vec<u32> = children.into_iter().map(|c| c.join().unwrap()).collect();
    indexes.push(mine);
    indexes.sort_unstable();
    assert_eq!(indexes, [0, 1, 2]);
    assert!(matches!(
        barrier.wait_timeout(Duration::from_millis(10)),
        Err(Error::BrokenBarrier)
    ));
    assert!(barrier.broken().unwrap());
    barrier.reset().unwrap();
    assert!(!barrier.broken().unwrap());
    assert_eq!(barrier.n_waiting().unwrap(), 0);
}

#[process]
fn work_queue(jobs: QueueProxy<u32>, results: QueueProxy<u32>) {
    while let Some(job) = jobs.get().unwrap().checked_sub(1) {
        results.put(job * 2).unwrap();
        jobs.task_done().unwrap();
    }
    jobs.task_done().unwrap();
}

#[test]
fn queue_carries_jobs_and_join_waits_for_task_done() {
    let manager = Manager::start().unwrap();
    let (jobs, results) = (manager.queue().unwrap(), manager.queue().unwrap());
    let workers: Vec<_> = (0..2)
        .map(|_| work_queue.spawn(jobs.clone(), results.clone()).unwrap())
        .collect();
    for job in 1..=20 {
        jobs.put(job).unwrap();
    }
    jobs.put(0).unwrap();
    jobs.put(0).unwrap();
    jobs.join().unwrap();
    for worker in workers {
        worker.join().unwrap();
    }
    let mut got: Vec<u32> = (0..20).map(|_| results.get().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..20).map(|j| j * 2).collect::<Vec<_>>());
    assert_eq!(results.try_get().unwrap(), None);
    assert!(matches!(
        results.get_timeout(Duration::from_millis(10)),
        Err(Error::Timeout(_))
    ));
    assert!(matches!(jobs.task_done(), Err(Error::TooManyTaskDone)));
    let bounded = manager.queue_bounded(1).unwrap();
    bounded.put(1).unwrap();
    let failed = bounded.try_put(2).unwrap_err();
    assert_eq!(failed.value, 2);
    assert!(matches!(failed.error, Error::Full));
}

#[pool_task]
fn record(d: DictProxy<u64, u64>, x: u64) -> u64 {
    d.insert(x, x * x).unwrap();
    x
}

#[test]
fn proxies_are_pool_task_arguments() {
    let manager = Manager::start().unwrap();
    let d = manager.dict().unwrap();
    let pool = Pool::new(2).unwrap();
    let args: Vec<_> = (0..50u64).map(|x| (d.clone(), x)).collect();
    let done = pool.starmap(record, args).unwrap();
    assert_eq!(done.len(), 50);
    assert_eq!(d.len().unwrap(), 50);
    assert_eq!(d.get(&7).unwrap(), Some(49));
}

#[derive(Serialize, Deserialize)]
pub struct Account {
    balance: i64,
    log: Vec<String>,
}

#[multiproc::managed]
impl Account {
    /// Moves money in; the new balance.
    pub fn deposit(&mut self, amount: i64, note: String) -> i64 {
        self.balance += amount;
        self.log.push(note);
        self.balance
    }

    pub fn balance(&self) -> i64 {
        self.balance
    }

    pub fn history(&self) -> Vec<String> {
        self.log.clone()
    }

    pub fn overdraw(&mut self) {
        panic!("balance {} cannot go below zero", self.balance);
    }

    /// Not exposed: private.
    fn _audit(&self) -> usize {
        self.log.len()
    }
}

#[process]
fn deposit_many(account: AccountProxy, times: i64) {
    for i in 0..times {
        account.deposit(1, format!("deposit {i}")).unwrap();
    }
}

#[test]
fn registered_type_methods_run_in_the_manager() {
    let manager = Manager::start().unwrap();
    let account: AccountProxy = manager
        .create(Account {
            balance: 10,
            log: Vec::new(),
        })
        .unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| deposit_many.spawn(account.clone(), 20).unwrap())
        .collect();
    for child in children {
        child.join().unwrap();
    }
    assert_eq!(account.balance().unwrap(), 70);
    assert_eq!(account.history().unwrap().len(), 60);
    let err = account.overdraw().unwrap_err();
    assert!(
        matches!(err, Error::Panicked { ref message, .. } if message.contains("cannot go below zero")),
        "{err}"
    );
    assert_eq!(
        account.balance().unwrap(),
        70,
        "the manager survives a panicking method"
    );
}

#[test]
fn a_proxy_received_as_another_type_is_a_decode_error() {
    let manager = Manager::start().unwrap();
    let d: DictProxy<String, i64> = manager.dict().unwrap();
    let bytes = postcard::to_allocvec(&d).unwrap();
    let same: DictProxy<String, i64> = postcard::from_bytes(&bytes).unwrap();
    same.insert("a".into(), 1).unwrap();
    let other = postcard::from_bytes::<DictProxy<String, u32>>(&bytes);
    assert!(other.is_err());
    manager.publish("d", &d).unwrap();
    assert!(manager.lookup::<DictProxy<String, i64>>("d").is_ok());
    let wrong = manager.lookup::<ListProxy<i64>>("d").unwrap_err();
    assert!(matches!(wrong, Error::TypeMismatch { .. }), "{wrong}");
    assert!(matches!(
        manager.lookup::<ListProxy<i64>>("nothing"),
        Err(Error::Manager { .. })
    ));
}

#[test]
fn remote_manager_serves_clients_with_the_right_key() {
    let server = Manager::serve("127.0.0.1:0", b"secret").unwrap();
    let jobs = server.queue::<String>().unwrap();
    server.publish("jobs", &jobs).unwrap();
    let client = Manager::connect(&server.address(), b"secret").unwrap();
    let remote: QueueProxy<String> = client.lookup("jobs").unwrap();
    remote.put("from the client".into()).unwrap();
    assert_eq!(jobs.get().unwrap(), "from the client");
}

#[test]
fn remote_manager_refuses_a_wrong_key() {
    let server = Manager::serve("127.0.0.1:0", b"secret").unwrap();
    let err = Manager::connect(&server.address(), b"wrong").unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
    assert!(err.to_string().contains("keys differ"), "{err}");
    // The server still serves the right key afterwards.
    let client = Manager::connect(&server.address(), b"secret").unwrap();
    assert_eq!(client.value(1u8).unwrap().get().unwrap(), 1);
}

#[test]
fn the_key_never_crosses_the_wire() {
    let key = b"a-very-recognisable-secret-key";
    let server = Manager::serve("127.0.0.1:0", key).unwrap();
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut challenge = [0u8; 4 + 16 + 32];
    stream.read_exact(&mut challenge).unwrap();
    let window = |hay: &[u8]| hay.windows(key.len()).any(|w| w == key);
    assert!(!window(&challenge));
    // An answer without the key is refused, and the server closes the connection.
    stream.write_all(&32u32.to_le_bytes()).unwrap();
    stream.write_all(&[0u8; 32]).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(!window(&rest));
    assert!(rest.ends_with(&[0]), "the verdict is a refusal: {rest:?}");
}

#[test]
fn garbage_and_vanishing_clients_do_not_take_the_server_down() {
    let server = Manager::serve("127.0.0.1:0", b"k").unwrap();
    let counter = server.value(0u32).unwrap();
    // Garbage instead of an answer, a huge length prefix, and a silent hang-up.
    for garbage in [&b"GET / HTTP/1.1\r\n\r\n"[..], &[0xff; 64], &[]] {
        let mut stream = TcpStream::connect(server.address()).unwrap();
        let _ = stream.write_all(garbage);
        drop(stream);
    }
    // A client that authenticates, then sends frames that are not requests.
    for frame in [&[0xff; 16][..], &[]] {
        let mut stream = authenticated(&server.address(), b"k");
        stream
            .write_all(&(frame.len() as u32).to_le_bytes())
            .unwrap();
        stream.write_all(frame).unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    }
    // A client that authenticates and announces a frame it never sends.
    let mut stream = authenticated(&server.address(), b"k");
    stream.write_all(&u32::MAX.to_le_bytes()).unwrap();
    drop(stream);
    assert_eq!(counter.update(|n| n + 1).unwrap(), 1);
    let client = Manager::connect(&server.address(), b"k").unwrap();
    let hits = client.value(5u32).unwrap();
    assert_eq!(hits.get().unwrap(), 5);
}

/// Sends one length-prefixed frame.
fn send_frame(stream: &mut TcpStream, body: &[u8]) {
    stream
        .write_all(&(body.len() as u32).to_le_bytes())
        .unwrap();
    stream.write_all(body).unwrap();
}

fn recv_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    stream.read_exact(&mut body).unwrap();
    body
}

/// A raw connection that has passed the manager's challenge both ways, as
/// Python's `multiprocessing.connection` does it.
fn authenticated(address: &str, key: &[u8]) -> TcpStream {
    use hmac::{KeyInit, Mac};
    let mac = |challenge: &[u8]| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(challenge);
        mac.finalize().into_bytes().to_vec()
    };
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let challenge = recv_frame(&mut stream);
    send_frame(&mut stream, &mac(&challenge));
    assert_eq!(
        recv_frame(&mut stream),
        [1],
        "the server refused the answer"
    );
    let mine = [b"multiproc-mgr-01".as_slice(), &[7u8; 32]].concat();
    send_frame(&mut stream, &mine);
    assert_eq!(
        recv_frame(&mut stream),
        mac(&mine),
        "the server knows the key"
    );
    send_frame(&mut stream, &[1]);
    stream
}

#[test]
fn many_clients_at_once_are_served() {
    let server = Manager::serve("127.0.0.1:0", b"k").unwrap();
    let address = server.address();
    let d = server.dict::<u32, u32>().unwrap();
    server.publish("d", &d).unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let address = address.clone();
            std::thread::spawn(move || {
                let client = Manager::connect(&address, b"k").unwrap();
                let d: DictProxy<u32, u32> = client.lookup("d").unwrap();
                for i in 0..50 {
                    d.insert(t * 1000 + i, i).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(d.len().unwrap(), 16 * 50);
}

#[test]
fn every_call_fails_clearly_once_the_manager_is_killed() {
    let manager = Manager::start().unwrap();
    let (d, q) = (
        manager.dict::<u8, u8>().unwrap(),
        manager.queue::<u8>().unwrap(),
    );
    d.insert(1, 1).unwrap();
    let blocked_q = q.clone();
    let blocked = std::thread::spawn(move || blocked_q.get());
    std::thread::sleep(Duration::from_millis(100));
    let pid = manager.pid().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let err = blocked.join().unwrap().unwrap_err();
    assert!(matches!(err, Error::ManagerUnreachable { .. }), "{err}");
    let err = d.get(&1).unwrap_err();
    assert!(matches!(err, Error::ManagerUnreachable { .. }), "{err}");
    assert!(err.to_string().contains("unreachable"));
}

#[test]
fn shutdown_stops_the_server_and_dropping_the_last_handle_does_too() {
    let manager = Manager::start().unwrap();
    let v = manager.value(1u8).unwrap();
    let pid = manager.pid().unwrap();
    manager.shutdown().unwrap();
    assert!(!is_running(pid));
    assert!(matches!(v.get(), Err(Error::ManagerUnreachable { .. })));

    let manager = Manager::start().unwrap();
    let v = manager.value(1u8).unwrap();
    let pid = manager.pid().unwrap();
    drop(manager);
    // A proxy keeps its manager alive, as in Python.
    assert_eq!(v.get().unwrap(), 1);
    drop(v);
    assert!(!is_running(pid));
}

#[process]
fn orphan_manager(report: QueueProxy<u32>) {
    let manager = Manager::start().unwrap();
    report.put(manager.pid().unwrap()).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn the_manager_dies_with_its_owner() {
    let manager = Manager::start().unwrap();
    let report = manager.queue().unwrap();
    let owner = orphan_manager.spawn(report.clone()).unwrap();
    let pid = report.get_timeout(Duration::from_secs(30)).unwrap();
    assert!(is_running(pid));
    owner.kill().unwrap();
    let _ = owner.join();
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !is_running(pid),
        "the orphaned manager {pid} is still running"
    );
}

#[test]
fn a_wrong_key_is_refused_even_after_talking_to_the_server() {
    let server = Manager::serve("127.0.0.1:0", b"secret").unwrap();
    let client = Manager::connect(&server.address(), b"secret").unwrap();
    client.value(1u8).unwrap();
    let err = Manager::connect(&server.address(), b"guess").unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
}

#[process]
fn wait_for_lock(lock: LockProxy, waiting: EventProxy) {
    waiting.set().unwrap();
    let _guard = lock.acquire().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_client_killed_in_the_middle_of_a_blocking_call_leaves_the_server_working() {
    let manager = Manager::start().unwrap();
    let (lock, waiting) = (manager.lock().unwrap(), manager.event().unwrap());
    let held = lock.acquire().unwrap();
    let child = wait_for_lock.spawn(lock.clone(), waiting.clone()).unwrap();
    assert!(waiting.wait_timeout(Duration::from_secs(30)).unwrap());
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap();
    let _ = child.join();
    drop(held);
    // Whether or not the dead waiter's request took the lock before its
    // disconnect was noticed, the lock comes back.
    let again = lock.acquire_timeout(Duration::from_secs(10)).unwrap();
    assert!(again.is_some());
    let q = manager.queue::<u8>().unwrap();
    q.put(1).unwrap();
    assert_eq!(q.get().unwrap(), 1);
}

#[test]
fn connecting_again_keeps_the_locks_this_thread_holds() {
    let server = Manager::serve("127.0.0.1:0", b"k").unwrap();
    let lock = server.lock().unwrap();
    let _held = lock.acquire().unwrap();
    let _again = Manager::connect(&server.address(), b"k").unwrap();
    let other = lock.clone();
    let taken = std::thread::spawn(move || other.try_acquire().unwrap().is_some())
        .join()
        .unwrap();
    assert!(!taken, "connecting again released a lock this thread holds");
}

#[process]
fn wait_on_condition(cond: ConditionProxy, waiting: EventProxy) {
    let guard = cond.acquire().unwrap();
    waiting.set().unwrap();
    let _guard = cond.wait(guard).unwrap();
}

#[test]
fn a_killed_condition_waiter_does_not_take_the_lock_from_its_holder() {
    let manager = Manager::start().unwrap();
    let (cond, waiting) = (manager.condition().unwrap(), manager.event().unwrap());
    let child = wait_on_condition
        .spawn(cond.clone(), waiting.clone())
        .unwrap();
    assert!(waiting.wait_timeout(Duration::from_secs(30)).unwrap());
    let _guard = cond
        .acquire_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap();
    child.kill().unwrap();
    let _ = child.join();
    std::thread::sleep(Duration::from_millis(200));
    cond.notify(1).unwrap();
    let other = cond.clone();
    let taken = std::thread::spawn(move || other.try_acquire().unwrap().is_some())
        .join()
        .unwrap();
    assert!(!taken, "the condition's lock was taken from its holder");
}

#[test]
fn an_endless_timeout_is_a_wait_without_one() {
    let manager = Manager::start().unwrap();
    let (ev, lock) = (manager.event().unwrap(), manager.lock().unwrap());
    let _held = lock.acquire().unwrap();
    ev.set().unwrap();
    assert!(ev.wait_timeout(Duration::from_secs(u64::MAX)).unwrap());
    // The connection that holds the lock is still there, and so is the lock.
    let other = lock.clone();
    let taken = std::thread::spawn(move || other.try_acquire().unwrap().is_some())
        .join()
        .unwrap();
    assert!(!taken);
}

#[test]
fn a_queue_bounded_at_zero_has_no_bound_as_in_python() {
    let manager = Manager::start().unwrap();
    let q = manager.queue_bounded::<u8>(0).unwrap();
    assert!(!q.full().unwrap());
    q.put_timeout(1, Duration::from_millis(100)).unwrap();
    q.put_timeout(2, Duration::from_millis(100)).unwrap();
    assert_eq!(q.qsize().unwrap(), 2);
}

#[process]
fn wait_at_barrier(barrier: BarrierProxy, waiting: EventProxy) -> bool {
    waiting.set().unwrap();
    matches!(
        barrier.wait_timeout(Duration::from_secs(30)),
        Err(Error::BrokenBarrier)
    )
}

#[test]
fn waiters_of_a_reset_barrier_fail_even_after_quick_resets() {
    let manager = Manager::start().unwrap();
    let (barrier, waiting) = (manager.barrier(3).unwrap(), manager.event().unwrap());
    let child = wait_at_barrier
        .spawn(barrier.clone(), waiting.clone())
        .unwrap();
    assert!(waiting.wait_timeout(Duration::from_secs(30)).unwrap());
    while barrier.n_waiting().unwrap() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    barrier.reset().unwrap();
    barrier.reset().unwrap();
    assert!(
        child.join().unwrap(),
        "the waiter did not see a broken barrier"
    );
}

#[test]
fn calls_to_a_stopped_manager_give_up_at_their_timeout() {
    use multiproc::Proxy;
    let mut manager = Manager::start().unwrap();
    manager.set_timeout(Some(Duration::from_millis(300)));
    let d = manager.dict::<u32, u32>().unwrap();
    let lock = manager.lock().unwrap();
    d.insert(1, 10).unwrap();
    let pid = stop(&manager);
    let unreachable = |result: Result<(), Error>| {
        assert!(
            matches!(result, Err(Error::ManagerUnreachable { .. })),
            "{result:?}"
        );
    };
    // The handle's bound, a proxy's own, and a wait with its own timeout on top.
    unreachable(d.get(&1).map(drop));
    unreachable(
        d.with_timeout(Some(Duration::from_millis(50)))
            .len()
            .map(drop),
    );
    unreachable(lock.acquire_timeout(Duration::from_millis(50)).map(drop));
    // SAFETY: resumes it.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    // A call after a timeout opens a fresh connection.
    assert_eq!(d.get(&1).unwrap(), Some(10));
}

/// Stops the manager, and waits until the stop (delivered a moment after
/// the signal is sent) has taken effect; returns its pid.
fn stop(manager: &Manager) -> libc::pid_t {
    let pid = manager.pid().unwrap() as libc::pid_t;
    // SAFETY: stops the manager process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap()
        .rsplit(')')
        .next()
        .is_some_and(|s| s.trim_start().starts_with('T'))
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    pid
}

#[test]
fn a_guard_whose_connection_closed_does_not_release_another_clients_lock() {
    use multiproc::Proxy;
    let manager = Manager::start().unwrap();
    let lock = manager.lock().unwrap();
    let d = manager.dict::<u32, u32>().unwrap();
    let stale = lock.acquire().unwrap();
    // An unrelated call times out: its connection, and with it the lock, goes.
    let pid = stop(&manager);
    let timed_out = d.with_timeout(Some(Duration::from_millis(50))).len();
    assert!(matches!(timed_out, Err(Error::ManagerUnreachable { .. })));
    // SAFETY: resumes it.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    std::thread::scope(|s| {
        let (taken, holding) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let lock = &lock;
        // Another client takes the lock the server freed.
        let other = s.spawn(move || {
            let guard = lock.acquire_timeout(Duration::from_secs(20)).unwrap();
            taken.send(guard.is_some()).unwrap();
            released.recv().unwrap();
        });
        assert!(holding.recv().unwrap());
        drop(stale);
        let still_held = s
            .spawn(move || lock.try_acquire().unwrap().is_none())
            .join()
            .unwrap();
        release.send(()).unwrap();
        other.join().unwrap();
        assert!(still_held, "the stale guard released another client's lock");
    });
}

#[test]
fn a_condition_wait_outlasts_the_call_timeout_while_another_client_holds_the_lock() {
    let mut manager = Manager::start().unwrap();
    manager.set_timeout(Some(Duration::from_millis(100)));
    let cond = manager.condition().unwrap();
    let guard = cond.acquire().unwrap();
    std::thread::scope(|s| {
        let cond = &cond;
        // Takes the lock as soon as the wait lets it go, and keeps it for
        // longer than the call timeout.
        s.spawn(move || {
            let guard = cond.acquire().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            drop(guard);
        });
        let (guard, notified) = cond
            .wait_timeout(guard, Duration::from_millis(50))
            .expect("the wait gave up while the lock was rightly held");
        assert!(!notified);
        drop(guard);
    });
}

/// In a fresh program that knows only manager `b`'s key: uses the list of
/// another manager that `b` holds; returns the error it gets.
#[process]
fn use_a_list_held_by_another_manager(b_address: String, b_key: Vec<u8>) -> String {
    let b = Manager::connect(&b_address, &b_key).unwrap();
    let held: DictProxy<String, ListProxy<u32>> = b.lookup("held").unwrap();
    let list = held.get(&"list".to_string()).unwrap().unwrap();
    match list.len() {
        Ok(len) => format!("used it: len {len}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_proxy_held_by_a_manager_carries_no_key_to_its_clients() {
    let a = Manager::serve("127.0.0.1:0", b"key of a").unwrap();
    let b = Manager::serve("127.0.0.1:0", b"key of b").unwrap();
    let list = a.list::<u32>().unwrap();
    list.push(7).unwrap();
    let held = b.dict::<String, ListProxy<u32>>().unwrap();
    held.insert("list".into(), list).unwrap();
    b.publish("held", &held).unwrap();
    // This program knows `a`'s key, so the proxy it gets back works here.
    let back = held.get(&"list".to_string()).unwrap().unwrap();
    assert_eq!(back.len().unwrap(), 1);
    // A program that knows only `b`'s key gets the proxy, but not `a`'s key.
    // Spawned: a forked child would know all that this program knows.
    let said = use_a_list_held_by_another_manager
        .builder()
        .start_method(multiproc::StartMethod::Spawn)
        .spawn(b.address(), b"key of b".to_vec())
        .unwrap()
        .join()
        .unwrap();
    assert!(said.contains("passes on no keys"), "{said}");
}

/// A managed object that holds a proxy to its own manager.
#[derive(Serialize, Deserialize)]
struct Holder {
    list: ListProxy<u32>,
}

#[multiproc::managed]
impl Holder {
    pub fn count(&self) -> usize {
        self.list.len().unwrap()
    }
}

#[test]
fn a_managed_object_can_use_a_proxy_to_its_own_manager() {
    let manager = Manager::start().unwrap();
    let list = manager.list::<u32>().unwrap();
    list.push(1).unwrap();
    let holder: HolderProxy = manager.create(Holder { list }).unwrap();
    assert_eq!(holder.count().unwrap(), 1);
}

/// Leads a process group, handles Ctrl-C itself, as a program that stops
/// cleanly on it does, and starts a manager; once `signalled`, whether the
/// manager still answers.
#[process]
fn handle_ctrl_c_beside_a_manager(ready: multiproc::Event, signalled: multiproc::Event) -> bool {
    common::lead_a_group_that_handles_ctrl_c();
    let manager = Manager::start().unwrap();
    let d = manager.dict::<u32, u32>().unwrap();
    ready.set();
    assert!(signalled.wait_timeout(Duration::from_secs(30)));
    d.insert(1, 2).is_ok() && d.get(&1).ok().flatten() == Some(2)
}

#[test]
fn ctrl_c_to_a_program_that_handles_it_leaves_its_manager_serving() {
    let (ready, signalled) = (
        multiproc::Event::new().unwrap(),
        multiproc::Event::new().unwrap(),
    );
    let program = handle_ctrl_c_beside_a_manager
        .spawn(ready.clone(), signalled.clone())
        .unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(30)));
    common::ctrl_c_to_the_group_of(program.pid(), &signalled);
    assert!(program.join().unwrap(), "Ctrl-C stopped the manager");
}
