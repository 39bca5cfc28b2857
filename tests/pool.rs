//! Behaviour of `Pool`: results, errors, crashes, lifecycle.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

mod common;

use common::three_workers;
use multiproc::{AsyncResult, Error, Pool, StartMethod, pool_task};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[pool_task]
fn square(x: u64) -> u64 {
    x * x
}

#[pool_task]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[pool_task]
fn pid_of_worker(_: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(10));
    std::process::id()
}

#[pool_task]
fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[pool_task]
fn panic_on_five(x: u64) -> u64 {
    assert_ne!(x, 5, "five is not allowed");
    x
}

#[pool_task]
fn zero_fails_others_hang(x: u64) -> u64 {
    assert_ne!(x, 0, "zero is not allowed");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[pool_task]
fn abort_on_three(x: u64) -> u64 {
    if x == 3 {
        std::process::abort();
    }
    x
}

/// Kills its own worker the first time it runs (a marker file remembers).
#[pool_task]
fn crash_once(marker: std::path::PathBuf) -> String {
    if std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
        .is_ok()
    {
        std::process::abort();
    }
    "second try".to_string()
}

static CONFIG: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

#[pool_task]
fn configure(value: u64) {
    CONFIG.set(value).unwrap();
}

#[pool_task]
fn configured(_: u64) -> Option<u64> {
    CONFIG.get().copied()
}

#[pool_task]
fn refuse_to_start() {
    panic!("initializer says no")
}

/// Serializes like a `u64`, except that 13 fails to serialize and 14 to deserialize.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Picky(u64);

impl Serialize for Picky {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 13 {
            return Err(serde::ser::Error::custom("13 is unlucky"));
        }
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(d)?;
        if v == 14 {
            return Err(serde::de::Error::custom("14 is refused"));
        }
        Ok(Picky(v))
    }
}

#[pool_task]
fn picky(p: Picky) -> Picky {
    p
}

/// The pids of the pool's workers, once each has run a task: right after
/// `build`, some may still be starting.
fn worker_pids(pool: &Pool) -> HashSet<u32> {
    let n = pool.processes() as u64 * 8;
    let mut pids = HashSet::new();
    for _ in 0..50 {
        pids.extend(pool.map_chunked(pid_of_worker, 0..n, 1).unwrap());
        if pids.len() >= pool.processes() {
            break;
        }
    }
    pids
}

#[test]
fn map_returns_values_in_order() {
    let pool = Pool::new(2).unwrap();
    let expected: Vec<u64> = (0..1000).map(|x| x * x).collect();
    assert_eq!(pool.map(square, 0..1000u64).unwrap(), expected);
    assert_eq!(pool.map(square, vec![3u64, 4]).unwrap(), [9, 16]);
    assert_eq!(
        pool.map(square, Vec::<u64>::new()).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        pool.map_chunked(square, 0..10u64, 3).unwrap(),
        expected[..10]
    );
    assert_eq!(square(3), 9);
}

/// An iterator whose size hint claims `claimed` items while it yields `actual`.
struct Liar {
    next: u64,
    actual: u64,
    claimed: usize,
}

impl Iterator for Liar {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        (self.next < self.actual).then(|| {
            self.next += 1;
            self.next - 1
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.claimed, Some(self.claimed))
    }
}

#[test]
fn map_takes_every_item_an_iterator_yields_whatever_its_size_hint_says() {
    let pool = Pool::new(2).unwrap();
    for (actual, claimed) in [(1000, 10), (10, 1000), (0, 5), (5, 0)] {
        let liar = Liar {
            next: 0,
            actual,
            claimed,
        };
        let expected: Vec<u64> = (0..actual).map(|x| x * x).collect();
        let got = pool
            .map_async(square, liar)
            .unwrap()
            .get_timeout(Duration::from_secs(30));
        assert_eq!(got.unwrap(), expected, "{actual} items, {claimed} claimed");
    }
}

#[test]
fn a_map_reports_its_first_error_without_waiting_for_the_chunks_after_it() {
    let pool = Pool::new(2).unwrap();
    // Sixteen chunks of one item: the first fails at once, the rest never end.
    let items = std::iter::once(0u64).chain([1; 15]);
    let got = pool
        .map_async(zero_fails_others_hang, items)
        .unwrap()
        .get_timeout(Duration::from_secs(20));
    let Err(Error::Task {
        index: 0, source, ..
    }) = &got
    else {
        panic!("expected the task of item 0, got {got:?}");
    };
    assert!(
        matches!(&**source, Error::Panicked { message, .. } if message.contains("zero is not allowed")),
        "{got:?}"
    );
    pool.terminate();
}

#[test]
fn a_map_result_waited_for_by_several_threads_reaches_each() {
    let pool = Pool::new(2).unwrap();
    let expected: Vec<u64> = (0..2000).map(|x| x * x).collect();
    let result = pool.map_async(square, 0..2000u64).unwrap();
    std::thread::scope(|s| {
        let waiters: Vec<_> = (0..4)
            .map(|_| s.spawn(|| result.get_timeout(Duration::from_secs(30)).unwrap()))
            .collect();
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), expected);
        }
    });
}

#[test]
fn starmap_apply_and_async_results() {
    let pool = Pool::new(2).unwrap();
    assert_eq!(pool.starmap(add, vec![(1, 2), (3, 4)]).unwrap(), [3, 7]);
    assert_eq!(pool.starmap_chunked(add, [(5, 5)], 1).unwrap(), [10]);
    assert_eq!(pool.apply(add, (1, 2)).unwrap(), 3);
    let h: AsyncResult<u64> = pool.apply_async(nap, (200,)).unwrap();
    assert!(!h.ready());
    assert!(h.try_get().is_none());
    let err = h.get_timeout(Duration::from_millis(10)).unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    h.wait();
    assert!(h.ready());
    assert_eq!(h.get().unwrap(), 200);
    assert_eq!(h.get().unwrap(), 200, "a result can be fetched again");
    let all = pool.map_async(square, 0..10u64).unwrap();
    assert!(all.wait_timeout(Duration::from_secs(30)));
    assert_eq!(all.get().unwrap()[9], 81);
    assert_eq!(
        pool.starmap_async(add, [(2, 2)]).unwrap().get().unwrap(),
        [4]
    );
}

#[test]
fn async_result_can_be_awaited() {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let pool = Pool::new(1).unwrap();
    let mut future = std::pin::pin!(pool.apply_async(nap, (50,)).unwrap());
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let value = loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(value) => break value.unwrap(),
            Poll::Pending => std::thread::park_timeout(Duration::from_secs(1)),
        }
    };
    assert_eq!(value, 50);
}

#[test]
fn imap_yields_in_order_and_imap_unordered_in_completion_order() {
    let pool = Pool::new(2).unwrap();
    let ordered: Vec<u64> = pool
        .imap(nap, [300u64, 1, 2])
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ordered, [300, 1, 2]);
    let unordered: Vec<u64> = pool
        .imap_unordered(nap, [300u64, 1, 2])
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_ne!(
        unordered[0], 300,
        "a quick item submitted later comes out first"
    );
    assert_eq!(unordered.iter().sum::<u64>(), 303);
    let chunked: Vec<u64> = pool
        .imap_chunked(square, 0..100u64, 7)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(chunked[99], 99 * 99);
    assert_eq!(
        pool.imap_unordered_chunked(square, 0..100u64, 7)
            .unwrap()
            .count(),
        100
    );
    let mut it = pool.imap(nap, [400u64]).unwrap();
    assert!(matches!(
        it.next_timeout(Duration::from_millis(10)),
        Some(Err(Error::Timeout(_)))
    ));
    assert_eq!(
        it.next_timeout(Duration::from_secs(30)).unwrap().unwrap(),
        400
    );
    assert!(it.next().is_none());
}

#[test]
fn imap_reads_an_endless_input_lazily() {
    let pool = Pool::new(2).unwrap();
    let pulled = AtomicUsize::new(0);
    let input = (0u64..).inspect(|_| {
        pulled.fetch_add(1, Ordering::Relaxed);
    });
    let firsts: Vec<u64> = pool
        .imap(square, input)
        .unwrap()
        .take(1000)
        .map(Result::unwrap)
        .collect();
    assert_eq!(firsts[999], 999 * 999);
    let pulled = pulled.load(Ordering::Relaxed);
    assert!(
        pulled < 1000 + 300,
        "read {pulled} items ahead of 1000 results"
    );
}

#[test]
fn a_panicking_task_fails_only_its_item_and_the_worker_survives() {
    let pool = Pool::new(2).unwrap();
    let before = worker_pids(&pool);
    let err = pool.map(panic_on_five, 0..10u64).unwrap_err();
    let Error::Task {
        index: 5, source, ..
    } = &err
    else {
        panic!("expected the task of item 5, got {err:?}");
    };
    let Error::Panicked {
        message, location, ..
    } = &**source
    else {
        panic!("expected a panic, got {source:?}");
    };
    assert!(message.contains("five is not allowed"), "{message}");
    assert!(location.starts_with("tests/pool.rs:"), "{location}");
    let results: Vec<_> = pool.imap(panic_on_five, 0..10u64).unwrap().collect();
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert!(results[5].is_err());
    assert_eq!(*results[6].as_ref().unwrap(), 6);
    assert_eq!(worker_pids(&pool), before, "a panic must not cost a worker");
}

#[test]
fn a_killed_worker_fails_only_its_task_and_is_replaced() {
    let pool = Pool::new(2).unwrap();
    let before = worker_pids(&pool);
    let results = pool.imap_unordered(nap, vec![100u64; 20]).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let victim = *before.iter().next().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(victim as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let results: Vec<_> = results.collect();
    let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let Error::Task { source, .. } = errors[0] else {
        panic!("expected a task's error, got {:?}", errors[0]);
    };
    let Error::WorkerLost { reason, .. } = &**source else {
        panic!("expected a lost worker, got {source:?}");
    };
    assert!(reason.contains("SIGKILL"), "{reason}");
    assert_eq!(results.len(), 20);
    assert_eq!(pool.map(square, 0..100u64).unwrap()[10], 100);
    let after = worker_pids(&pool);
    assert_eq!(after.len(), 2);
    assert!(!after.contains(&victim));
}

#[test]
fn an_aborting_task_reports_sigabrt_and_map_returns_that_error() {
    let pool = Pool::new(2).unwrap();
    let err = pool.map_chunked(abort_on_three, 0..8u64, 1).unwrap_err();
    let Error::Task {
        index: 3, source, ..
    } = &err
    else {
        panic!("expected the task of item 3, got {err:?}");
    };
    assert!(matches!(**source, Error::WorkerLost { .. }), "{err:?}");
    assert!(err.to_string().contains("SIGABRT"), "{err}");
    assert_eq!(pool.map(square, [7u64]).unwrap(), [49]);
}

#[test]
fn a_crash_is_blamed_on_the_task_that_crashed_and_no_other() {
    let pool = Pool::new(2).unwrap();
    let results: Vec<_> = pool.imap(abort_on_three, 0..40u64).unwrap().collect();
    for (i, result) in results.iter().enumerate() {
        match i {
            3 => assert!(
                matches!(result, Err(Error::WorkerLost { .. })),
                "{result:?}"
            ),
            _ => assert_eq!(*result.as_ref().unwrap(), i as u64),
        }
    }
}

#[test]
fn retries_rerun_a_task_whose_worker_died() {
    let marker = std::env::temp_dir().join(format!("multiproc-crash-once-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let pool = Pool::builder().processes(1).retries(1).build().unwrap();
    assert_eq!(
        pool.apply(crash_once, (marker.clone(),)).unwrap(),
        "second try"
    );
    std::fs::remove_file(&marker).unwrap();
    let pool = Pool::new(1).unwrap();
    assert!(matches!(
        pool.apply(crash_once, (marker.clone(),)),
        Err(Error::WorkerLost { .. })
    ));
    std::fs::remove_file(&marker).unwrap();
}

#[test]
fn unencodable_and_undecodable_values_fail_only_their_items() {
    let pool = Pool::new(2).unwrap();
    let results: Vec<_> = pool
        .imap_chunked(picky, (10..16).map(Picky), 3)
        .unwrap()
        .collect();
    assert_eq!(results.len(), 6);
    for (value, result) in (10..16).zip(&results) {
        match value {
            13 => assert!(matches!(result, Err(Error::Codec { .. })), "{result:?}"),
            14 => assert!(matches!(result, Err(Error::Codec { .. })), "{result:?}"),
            v => assert_eq!(result.as_ref().unwrap(), &Picky(v)),
        }
    }
    assert_eq!(worker_pids(&pool).len(), 2);
}

#[test]
fn the_initializer_runs_in_every_worker() {
    let pool = Pool::builder()
        .processes(2)
        .initializer(configure, (42,))
        .build()
        .unwrap();
    let seen = pool.map_chunked(configured, 0..16u64, 1).unwrap();
    assert!(seen.iter().all(|v| *v == Some(42)), "{seen:?}");
}

/// The pid of the process whose initializer ran.
static INITIALIZED_IN: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

#[pool_task]
fn remember_pid() {
    INITIALIZED_IN.set(std::process::id()).unwrap();
}

/// This worker's pid, and whether its initializer ran in it (not in a
/// process it was forked from).
#[pool_task]
fn initialized_here(_: u64) -> (u32, bool) {
    std::thread::sleep(Duration::from_millis(10));
    let pid = std::process::id();
    (pid, INITIALIZED_IN.get() == Some(&pid))
}

/// Whether three workers answered, and each said yes.
fn each_of_three_said_yes(seen: &[(u32, bool)]) -> bool {
    let pids: HashSet<_> = seen.iter().map(|(pid, _)| pid).collect();
    pids.len() == 3 && seen.iter().all(|(_, yes)| *yes)
}

#[test]
fn each_worker_runs_the_initializer_itself_under_every_start_method() {
    for method in multiproc::get_all_start_methods() {
        let pool = three_workers(method)
            .initializer(remember_pid, ())
            .build()
            .unwrap();
        let seen = pool.map_chunked(initialized_here, 0..30u64, 1).unwrap();
        assert!(each_of_three_said_yes(&seen), "{method:?}: {seen:?}");
    }
}

/// What glibc's fork sets up in a new child, and multiproc's sibling forks
/// too where they can (`fork_sibling`), checked in each worker.
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod thread_record {
    use super::*;

    /// Whether the C library's record of the calling thread holds its own
    /// id, as the kernel reports where that record is.
    fn id_word_is_own() -> bool {
        let mut id_word: *mut libc::c_int = std::ptr::null_mut();
        // SAFETY: the kernel writes one pointer.
        let found = unsafe { libc::prctl(libc::PR_GET_TID_ADDRESS, &mut id_word) } == 0;
        // SAFETY: a plain query.
        let own = unsafe { libc::gettid() };
        // SAFETY: where set, the word lives as long as this thread.
        found && !id_word.is_null() && unsafe { *id_word } == own
    }

    /// Whether the calling thread has a robust-mutex list registered
    /// (glibc registers one for each thread, or only on first use).
    fn robust_list_registered() -> bool {
        let (mut head, mut len) = (std::ptr::null_mut::<libc::c_void>(), 0usize);
        // SAFETY: the kernel writes the list head and its size.
        let listed = unsafe { libc::syscall(libc::SYS_get_robust_list, 0, &mut head, &mut len) };
        listed == 0 && !head.is_null()
    }

    /// This worker's pid, and whether its thread is set up as the calling
    /// process's (`registered`) thread is.
    #[pool_task]
    fn set_up_like_glibcs_child(registered: bool) -> (u32, bool) {
        std::thread::sleep(Duration::from_millis(10));
        let set_up = id_word_is_own() && robust_list_registered() == registered;
        (std::process::id(), set_up)
    }

    fn check(pool: &Pool) -> Vec<(u32, bool)> {
        let registered = robust_list_registered();
        pool.map_chunked(set_up_like_glibcs_child, vec![registered; 30], 1)
            .unwrap()
    }

    #[test]
    fn every_forked_worker_is_set_up_as_the_c_librarys_fork_sets_up_a_child() {
        for method in multiproc::get_all_start_methods() {
            let seen = check(&three_workers(method).build().unwrap());
            assert!(each_of_three_said_yes(&seen), "{method:?}: {seen:?}");
        }
    }

    /// `Fork` pools built on this child's main thread, where a first worker
    /// forks its siblings once it is ready (or before its initializer), not
    /// before its job as under a test's thread: whether each worker was set
    /// up, whether each ran its own initializer, and the numbers that end
    /// the names of the first pool's workers (1, 2 and 3 when the first
    /// forked the others; a driver that starts its own takes a new one).
    #[multiproc::process]
    fn fork_pools_on_the_main_thread() -> (bool, bool, Vec<u32>) {
        let pool = three_workers(StartMethod::Fork).build().unwrap();
        let set_up = check(&pool);
        let mut numbers: Vec<u32> = multiproc::active_children()
            .iter()
            .filter_map(|child| child.name().rsplit(':').next()?.parse().ok())
            .collect();
        numbers.sort_unstable();
        drop(pool);
        let initialized = three_workers(StartMethod::Fork)
            .initializer(remember_pid, ())
            .build()
            .unwrap()
            .map_chunked(initialized_here, 0..30u64, 1)
            .unwrap();
        (
            each_of_three_said_yes(&set_up),
            each_of_three_said_yes(&initialized),
            numbers,
        )
    }

    #[test]
    fn workers_forked_late_by_their_sibling_are_set_up_and_initialized_each() {
        let (set_up, initialized, numbers) = fork_pools_on_the_main_thread
            .spawn()
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(
            numbers,
            [1, 2, 3],
            "the first worker did not fork the others"
        );
        assert!(set_up, "a worker's thread record holds another's id");
        assert!(initialized, "a worker did not run its own initializer");
    }
}

#[test]
fn a_panicking_initializer_fails_build() {
    let started = Instant::now();
    let err = Pool::builder()
        .processes(2)
        .initializer(refuse_to_start, ())
        .build()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let Error::Initializer { source, .. } = &err else {
        panic!("expected an initializer error, got {err:?}");
    };
    assert!(
        source.to_string().contains("initializer says no"),
        "{source}"
    );
}

#[test]
fn max_tasks_per_child_recycles_without_losing_or_duplicating() {
    let pool = Pool::builder()
        .processes(1)
        .max_tasks_per_child(2)
        .build()
        .unwrap();
    let pids = pool.map_chunked(pid_of_worker, 0..10u64, 1).unwrap();
    assert_eq!(pids.len(), 10);
    assert_eq!(pids.iter().collect::<HashSet<_>>().len(), 5, "{pids:?}");
    let squares = pool.map_chunked(square, 0..50u64, 1).unwrap();
    assert_eq!(squares, (0..50u64).map(|x| x * x).collect::<Vec<_>>());
}

#[test]
fn close_refuses_new_tasks_and_join_waits_for_queued_ones() {
    let pool = Pool::new(2).unwrap();
    assert!(matches!(pool.join(), Err(Error::PoolRunning)));
    let queued = pool.map_async(nap, [100u64, 100, 100]).unwrap();
    pool.close();
    assert!(matches!(pool.apply(square, (2,)), Err(Error::PoolClosed)));
    pool.join().unwrap();
    assert_eq!(queued.get().unwrap(), [100, 100, 100]);
}

#[test]
fn terminate_stops_at_once_with_ten_thousand_queued_tasks() {
    let pool = Pool::new(2).unwrap();
    let pids = worker_pids(&pool);
    let queued = pool.map_chunked(nap, vec![0u64; 0], 1).unwrap();
    assert!(queued.is_empty());
    let queued = (0..10_000u64)
        .map(|_| pool.apply_async(nap, (10,)).unwrap())
        .collect::<Vec<_>>();
    let started = Instant::now();
    pool.terminate();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let terminated = queued
        .iter()
        .filter(|h| matches!(h.get(), Err(Error::PoolTerminated)))
        .count();
    assert!(terminated > 9_900, "{terminated}");
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} survived"
        );
    }
    assert!(matches!(pool.apply(square, (2,)), Err(Error::PoolClosed)));
}

#[test]
fn dropping_the_pool_stops_its_workers() {
    let pool = Pool::new(2).unwrap();
    let pids = worker_pids(&pool);
    drop(pool);
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} survived"
        );
    }
}

#[test]
fn workers_ignore_sigint() {
    let pool = Pool::new(1).unwrap();
    let pids = worker_pids(&pool);
    for &pid in &pids {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid as i32).unwrap(),
            rustix::process::Signal::INT,
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(worker_pids(&pool), pids);
}

/// Starts a pool, reports its worker pids through `pid_file`, then sleeps.
/// With `used` false, the pool runs nothing, and the pids are those of all
/// this process's children: a forked pool's second worker may still wait
/// to start.
#[multiproc::process]
fn pool_owner(pid_file: std::path::PathBuf, method: StartMethod, used: bool) {
    let pool = Pool::builder()
        .processes(3)
        .start_method(method)
        .build()
        .unwrap();
    let pids = match used {
        true => worker_pids(&pool).into_iter().collect(),
        false => own_children(),
    };
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    std::fs::write(&pid_file, pids.join(",")).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn workers_exit_when_the_parent_dies_under_every_start_method() {
    for method in multiproc::get_all_start_methods() {
        for used in [true, false] {
            workers_exit_when_the_parent_dies(method, used);
        }
    }
}

fn workers_exit_when_the_parent_dies(method: StartMethod, used: bool) {
    let pid_file =
        std::env::temp_dir().join(format!("multiproc-pool-owner-{}", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let owner = pool_owner.spawn(pid_file.clone(), method, used).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let pids: Vec<u32> = loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file)
            && let Ok(pids) = text
                .split(',')
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
        {
            break pids;
        }
        assert!(Instant::now() < deadline, "the pool owner never reported");
        std::thread::sleep(Duration::from_millis(10));
    };
    // An unused pool's owner may also have a fork server, or no worker
    // yet (`Spawn`: each driver starts its own).
    assert!(!used || pids.len() == 3, "{method:?}: {pids:?}");
    owner.kill().unwrap();
    let killed = Instant::now();
    let alive = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    while pids.iter().any(alive) && killed.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        !pids.iter().any(alive),
        "{method:?}, used {used}: a worker outlived its pool's process"
    );
    let _ = owner.join();
    std::fs::remove_file(pid_file).unwrap();
}

/// Which worker ran the call, whose child it is, and its name.
#[pool_task]
fn worker_lineage(_: u64) -> (u32, u32, String) {
    std::thread::sleep(Duration::from_millis(10));
    let name = multiproc::current_process().name().to_owned();
    (
        std::process::id(),
        std::os::unix::process::parent_id(),
        name,
    )
}

#[test]
fn a_forked_pools_workers_are_distinct_children_of_the_pools_process() {
    for method in multiproc::get_all_start_methods() {
        let pool = Pool::builder()
            .processes(5)
            .start_method(method)
            .fork_with_threads(true)
            .build()
            .unwrap();
        let seen: HashSet<_> = pool
            .map_chunked(worker_lineage, 0..100, 1)
            .unwrap()
            .into_iter()
            .collect();
        let pids: HashSet<_> = seen.iter().map(|(pid, _, _)| *pid).collect();
        let names: HashSet<_> = seen.iter().map(|(_, _, name)| name).collect();
        assert_eq!((pids.len(), names.len()), (5, 5), "{method:?}: {seen:?}");
        assert!(
            seen.iter()
                .all(|(_, parent, _)| *parent == std::process::id()),
            "{method:?}: {seen:?}"
        );
        let children: HashSet<_> = multiproc::active_children()
            .iter()
            .map(|c| c.pid())
            .collect();
        assert!(pids.is_subset(&children), "{method:?}: {children:?}");
    }
}

#[pool_task]
fn echo_bytes(data: Vec<u8>) -> Vec<u8> {
    data
}

#[test]
fn large_arguments_and_results_flow_both_ways_without_deadlock() {
    let pool = Pool::new(2).unwrap();
    let items: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 1 << 20]).collect();
    let echoed = pool.map_chunked(echo_bytes, items.clone(), 1).unwrap();
    assert_eq!(echoed, items);
    let echoed = pool.map_chunked(echo_bytes, items.clone(), 3).unwrap();
    assert_eq!(echoed, items);
}

#[test]
fn invalid_sizes_are_errors_not_silently_adjusted() {
    let invalid = |result: Result<(), Error>, argument: &str| {
        assert!(
            matches!(&result, Err(Error::InvalidArgument { argument: a, .. }) if *a == argument),
            "{argument}: {result:?}"
        );
    };
    invalid(Pool::new(0).map(drop), "processes");
    invalid(
        Pool::builder()
            .processes(1)
            .max_tasks_per_child(0)
            .build()
            .map(drop),
        "max_tasks_per_child",
    );
    let pool = Pool::new(1).unwrap();
    invalid(pool.map_chunked(square, 0..4u64, 0).map(drop), "chunksize");
    invalid(pool.imap_chunked(square, 0..4u64, 0).map(drop), "chunksize");
}

#[test]
fn join_timeout_gives_up_while_tasks_run_and_succeeds_once_they_end() {
    let pool = Pool::new(1).unwrap();
    assert!(matches!(
        pool.join_timeout(Duration::from_millis(10)),
        Err(Error::PoolRunning)
    ));
    let queued = pool.map_async(nap, [300u64]).unwrap();
    pool.close();
    assert!(!pool.join_timeout(Duration::from_millis(10)).unwrap());
    assert!(pool.join_timeout(Duration::from_secs(30)).unwrap());
    assert_eq!(queued.get().unwrap(), [300]);
}

#[pool_task]
fn nap_then_tell_pid(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

#[pool_task]
fn nap_pair_then_tell_pid(ms: u64, _: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

#[test]
fn as_many_long_tasks_as_workers_run_one_per_worker_whichever_call_submits_them() {
    let pool = Pool::new(2).unwrap();
    // Warm: both workers have answered once, as in a pool in use.
    pool.map_chunked(square, 0..8u64, 1).unwrap();
    let distinct = |pids: Vec<u32>| pids.iter().collect::<HashSet<_>>().len() == pids.len();
    for round in 0..3 {
        let map = pool.map(nap_then_tell_pid, [200u64, 200]).unwrap();
        assert!(
            distinct(map.clone()),
            "round {round}: map ran both on one worker: {map:?}"
        );
        let starmap = pool
            .starmap(nap_pair_then_tell_pid, [(200u64, 0u64), (200, 0)])
            .unwrap();
        assert!(
            distinct(starmap.clone()),
            "round {round}: starmap: {starmap:?}"
        );
        let a = pool.map_async(nap_then_tell_pid, [200u64]).unwrap();
        let b = pool.map_async(nap_then_tell_pid, [200u64]).unwrap();
        let two_maps = vec![a.get().unwrap()[0], b.get().unwrap()[0]];
        assert!(
            distinct(two_maps.clone()),
            "round {round}: two map_async: {two_maps:?}"
        );
        let a = pool.apply_async(nap_then_tell_pid, (200,)).unwrap();
        let b = pool.apply_async(nap_then_tell_pid, (200,)).unwrap();
        let applies = vec![a.get().unwrap(), b.get().unwrap()];
        assert!(
            distinct(applies.clone()),
            "round {round}: two apply_async: {applies:?}"
        );
    }
}

#[test]
fn two_long_tasks_right_after_the_start_run_on_two_workers_under_every_start_method() {
    // `build` returns once one worker is ready: the other, still starting,
    // must get the second task all the same.
    for method in multiproc::get_all_start_methods() {
        for round in 0..3 {
            let pool = Pool::builder()
                .processes(2)
                .start_method(method)
                .fork_with_threads(true)
                .build()
                .unwrap();
            let pids = pool.map(nap_then_tell_pid, [200u64, 200]).unwrap();
            assert_ne!(
                pids[0], pids[1],
                "{method:?}, round {round}: one worker ran both"
            );
        }
    }
}

#[test]
fn in_a_small_map_the_tasks_after_a_long_one_run_on_the_other_worker() {
    // One item per chunk: the long task's worker takes nothing else until
    // the other has run the short ones (a chunk of two would have paired
    // the long task with the first short one).
    let pool = Pool::new(2).unwrap();
    let mut naps = vec![1000u64];
    naps.extend([5; 20]);
    let pids = pool.map(nap_then_tell_pid, naps).unwrap();
    assert!(
        pids[1..].iter().all(|&pid| pid != pids[0]),
        "a short task ran beside the long one: {pids:?}"
    );
}

#[pool_task]
fn panic_on_purpose(x: u32) -> u32 {
    panic!("deliberate {x}")
}

/// In a child whose stderr is a file: runs a panicking task on a pool and
/// returns the error the caller got, and what the workers printed.
#[multiproc::process]
fn a_pool_panic_and_its_stderr() -> (String, String) {
    use std::os::fd::AsRawFd;
    let path = std::env::temp_dir().join(format!("multiproc-stderr-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    // SAFETY: points this process's stderr at the file; nothing else runs.
    assert!(unsafe { libc::dup2(file.as_raw_fd(), 2) } == 2);
    let pool = Pool::new(1).unwrap();
    let error = pool.apply(panic_on_purpose, (7,)).unwrap_err().to_string();
    drop(pool);
    let printed = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    (error, printed)
}

#[test]
fn a_task_panic_reaches_the_caller_and_is_not_printed_by_the_worker() {
    let (error, printed) = a_pool_panic_and_its_stderr.spawn().unwrap().join().unwrap();
    assert!(error.contains("deliberate 7"), "{error}");
    assert!(
        !printed.contains("deliberate"),
        "the worker printed: {printed}"
    );
}

#[test]
fn a_map_of_a_terminated_pool_fails_with_the_pools_error_not_an_items() {
    let pool = Pool::new(1).unwrap();
    let pending = pool.map_async(nap, vec![200u64; 4]).unwrap();
    pool.terminate();
    let got = pending.get();
    assert!(matches!(got, Err(Error::PoolTerminated)), "{got:?}");
}

// `apply` runs its call from the calling thread on a worker whose driver
// is idle.

/// Writes its worker's pid to `marker`, naps, and tells that pid.
#[pool_task]
fn mark_then_nap(marker: std::path::PathBuf, ms: u64) -> u32 {
    let partial = marker.with_extension("partial");
    std::fs::write(&partial, std::process::id().to_string()).unwrap();
    std::fs::rename(&partial, &marker).unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

/// Waits until a task has written its pid to `marker` (at most a
/// minute), and returns it.
fn wait_for(marker: &std::path::Path) -> u32 {
    for _ in 0..6000 {
        if let Ok(pid) = std::fs::read_to_string(marker) {
            return pid.parse().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{} never appeared", marker.display());
}

/// The time on the machine's monotonic clock, after a nap.
#[pool_task]
fn clock_after_nap(ms: u64) -> u128 {
    std::thread::sleep(Duration::from_millis(ms));
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

#[test]
fn an_apply_runs_after_the_calls_queued_before_it() {
    for _ in 0..20 {
        let (first, second) = bounded(|| {
            let pool = Pool::new(1).unwrap();
            let first = pool.apply_async(clock_after_nap, (20,)).unwrap();
            let second = pool.apply(clock_after_nap, (0,)).unwrap();
            (first.get().unwrap(), second)
        });
        assert!(first < second, "the apply overtook a queued call");
    }
}

fn forked_pool_of_two() -> Pool {
    Pool::builder()
        .processes(2)
        .start_method(StartMethod::Fork)
        .fork_with_threads(true)
        .build()
        .unwrap()
}

/// How many more threads this process has after `applies` calls of
/// `apply` on a new forked pool of two, and after one `map` more, than
/// before the pool.
#[multiproc::process]
fn threads_after_applies(applies: u64) -> (usize, usize) {
    // Counted as tasks, not by name: a thread just started may not have
    // named itself yet.
    let threads = || std::fs::read_dir("/proc/self/task").unwrap().count();
    let before = threads();
    let pool = forked_pool_of_two();
    for x in 0..applies {
        assert_eq!(pool.apply(square, (x,)).unwrap(), x * x);
    }
    let after_applies = threads() - before;
    assert_eq!(pool.map(square, 0..4u64).unwrap(), [0, 1, 4, 9]);
    (after_applies, threads() - before)
}

#[test]
#[cfg(target_os = "linux")]
fn a_forked_pool_serving_only_applies_runs_no_thread_of_its_own() {
    let (after_applies, after_map) = threads_after_applies.spawn(100).unwrap().join().unwrap();
    // Where a pool's workers cannot be forked beside each other (which the
    // fork server needs too), each driver starts its own, with the pool.
    let beside = multiproc::get_all_start_methods().contains(&StartMethod::ForkServer);
    assert_eq!(after_applies, if beside { 0 } else { 2 });
    assert_eq!(after_map, 2);
}

/// The pids of this process's children.
fn own_children() -> Vec<u32> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .map(|pid| pid.parse().unwrap())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The children of this process with a forked pool of two that has run
/// one `apply`, and which of them are still there once it is dropped.
#[multiproc::process]
fn children_of_a_dropped_pool() -> (Vec<u32>, Vec<u32>) {
    let pool = forked_pool_of_two();
    assert_eq!(pool.apply(square, (3,)).unwrap(), 9);
    // The second is forked beside the first (and waits for its driver
    // to start), so both exist by now.
    let children = own_children();
    drop(pool);
    let left = children
        .iter()
        .copied()
        .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    (children, left)
}

#[test]
#[cfg(target_os = "linux")]
fn dropping_a_pool_whose_drivers_never_started_reaps_every_worker() {
    let (children, left) = children_of_a_dropped_pool.spawn().unwrap().join().unwrap();
    assert_eq!(children.len(), 2, "{children:?}");
    assert!(left.is_empty(), "left behind: {left:?} of {children:?}");
}

/// How many children this process has with a fork-server pool of three
/// that has run one `apply`, and once a `map` has used every worker.
#[multiproc::process]
fn children_of_a_fork_server_pool() -> (usize, usize) {
    let pool = Pool::builder()
        .processes(3)
        .start_method(StartMethod::ForkServer)
        .build()
        .unwrap();
    assert_eq!(pool.apply(square, (3,)).unwrap(), 9);
    let before = own_children().len();
    let mut workers = HashSet::new();
    while workers.len() < 3 {
        workers.extend(pool.map_chunked(worker_lineage, 0..30, 1).unwrap());
    }
    (before, own_children().len())
}

#[test]
#[cfg(target_os = "linux")]
fn a_fork_server_pool_asks_for_the_workers_beside_the_first_only_once_it_needs_them() {
    if !multiproc::get_all_start_methods().contains(&StartMethod::ForkServer) {
        // Where there is none (the portable backend), asking for it is refused.
        let refused = Pool::builder()
            .processes(3)
            .start_method(StartMethod::ForkServer)
            .build();
        assert!(matches!(refused, Err(Error::InvalidArgument { .. })));
        return;
    }
    let (before, after) = children_of_a_fork_server_pool
        .spawn()
        .unwrap()
        .join()
        .unwrap();
    // The fork server and the first worker; later the other two as well.
    assert_eq!((before, after), (2, 4));
}

/// Runs `f` on a thread of its own and returns what it returns, or fails
/// the test after a minute: a regression here must not hang the suite.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the call did not end within a minute")
}

/// The worker of `pool` last started beside the others (the highest
/// number in its name), once each has run a call.
fn last_forked_worker(pool: &Pool) -> u32 {
    let mut seen = HashSet::new();
    while seen.len() < pool.processes() {
        seen.extend(pool.map_chunked(worker_lineage, 0..30, 1).unwrap());
    }
    let number = |name: &str| name.rsplit('-').next().unwrap().parse::<u32>().unwrap();
    let (pid, _, _) = seen
        .into_iter()
        .max_by_key(|(_, _, name)| number(name))
        .unwrap();
    pid
}

#[test]
fn a_killed_worker_that_a_sibling_forked_is_replaced_not_waited_for() {
    // Off the main thread (as every test thread is), a forked pool's
    // workers have lifeline threads, and the second forks the third before
    // its job.
    let pool = Arc::new(
        Pool::builder()
            .processes(3)
            .start_method(StartMethod::Fork)
            .fork_with_threads(true)
            .build()
            .unwrap(),
    );
    let pid = last_forked_worker(&pool);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid.cast_signed()).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let squares = bounded(move || {
        // A call on the dead worker may fail; the next ones run.
        let _ = pool.map_chunked(square, 0..30u64, 1);
        pool.map_chunked(square, 0..30u64, 1)
    });
    assert_eq!(
        squares.unwrap(),
        (0..30u64).map(|x| x * x).collect::<Vec<_>>()
    );
}

#[test]
fn applies_count_towards_max_tasks_per_child() {
    let pool = Pool::builder()
        .processes(1)
        .max_tasks_per_child(2)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..10)
        .map(|i| pool.apply(pid_of_worker, (i,)).unwrap())
        .collect();
    let mut runs = std::collections::HashMap::new();
    for pid in &pids {
        *runs.entry(pid).or_insert(0) += 1;
    }
    assert_eq!(runs.len(), 5, "{pids:?}");
    assert!(runs.values().all(|&n| n == 2), "{pids:?}");
}

#[test]
fn concurrent_applies_each_get_their_own_answer() {
    let pool = Pool::new(2).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let pool = &pool;
            s.spawn(move || {
                for i in 0..300u64 {
                    let x = t * 1000 + i;
                    assert_eq!(pool.apply(square, (x,)).unwrap(), x * x);
                }
            });
        }
    });
}

/// A pool of one worker, with an `apply` of a minute-long task running on
/// another thread (bounded), and that worker's pid.
struct LongApply {
    pool: Arc<Pool>,
    call: std::thread::JoinHandle<multiproc::Result<u32>>,
    worker: u32,
    _dir: common::TempDir,
}

fn long_apply(tag: &str) -> LongApply {
    let dir = common::TempDir::new(tag);
    let marker = dir.0.join("started");
    let pool = Arc::new(Pool::new(1).unwrap());
    let call = {
        let (pool, marker) = (Arc::clone(&pool), marker.clone());
        std::thread::spawn(move || bounded(move || pool.apply(mark_then_nap, (marker, 60_000))))
    };
    let worker = wait_for(&marker);
    LongApply {
        pool,
        call,
        worker,
        _dir: dir,
    }
}

#[test]
fn a_worker_killed_during_an_apply_fails_that_call_and_is_replaced() {
    let LongApply {
        pool, call, worker, ..
    } = long_apply("apply-kill");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(worker as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let result = call.join().unwrap();
    assert!(
        matches!(result, Err(Error::WorkerLost { .. })),
        "expected a lost worker, got {result:?}"
    );
    let replacement = pool.apply(pid_of_worker, (0,)).unwrap();
    assert_ne!(replacement, worker);
}

#[test]
fn terminate_from_another_thread_ends_an_apply_in_progress() {
    let LongApply {
        pool, call, worker, ..
    } = long_apply("apply-terminate");
    pool.terminate();
    let result = call.join().unwrap();
    assert!(matches!(result, Err(Error::PoolTerminated)), "{result:?}");
    assert!(
        !std::path::Path::new(&format!("/proc/{worker}")).exists(),
        "worker {worker} survived"
    );
}

#[test]
fn work_submitted_during_a_long_apply_goes_to_the_other_workers() {
    let dir = common::TempDir::new("apply-spread");
    let marker = dir.0.join("started");
    let pool = Pool::new(2).unwrap();
    worker_pids(&pool);
    let (busy, others) = std::thread::scope(|s| {
        let long = s.spawn(|| pool.apply(mark_then_nap, (marker.clone(), 1_000)).unwrap());
        wait_for(&marker);
        let others = pool.map_chunked(pid_of_worker, 0..20u64, 1).unwrap();
        (long.join().unwrap(), others)
    });
    assert!(
        others.iter().all(|&pid| pid != busy),
        "a task waited for the worker running the long apply: {busy} in {others:?}"
    );
}
