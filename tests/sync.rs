//! Behaviour of `Lock`, `Event`, `Semaphore` and `BoundedSemaphore` across processes.

use std::io::{Read, Seek, Write};
use std::time::{Duration, Instant};

mod common;

use multiproc::{
    BoundedSemaphore, Error, Event, Fd, Lock, Pool, Queue, Semaphore, pool_task, process,
};

/// Increments a number kept in a file, `times` times, under `lock`.
#[process]
fn increment_file(lock: Lock, file: Fd, times: u32) {
    let mut file = std::fs::File::from(file);
    for _ in 0..times {
        let _guard = lock.acquire();
        let mut text = String::new();
        file.rewind().unwrap();
        file.read_to_string(&mut text).unwrap();
        let n: u32 = text.trim().parse().unwrap_or(0);
        file.rewind().unwrap();
        file.set_len(0).unwrap();
        write!(file, "{}", n + 1).unwrap();
    }
}

#[process]
fn hold_lock_forever(lock: Lock, ready: Event) {
    let _guard = lock.acquire();
    ready.set();
    std::thread::sleep(Duration::from_secs(600));
}

#[process]
fn wait_for(ev: Event) -> bool {
    ev.wait_timeout(Duration::from_secs(30))
}

#[process]
fn use_permit(sem: Semaphore, log: Queue<(u32, bool)>, id: u32) {
    let _permit = sem.acquire();
    log.put((id, true)).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    log.put((id, false)).unwrap();
}

#[process]
fn take_permit(sem: Semaphore, taken: Queue<u32>, id: u32) {
    std::mem::forget(sem.acquire());
    taken.put(id).unwrap();
}

#[process]
fn wait_for_a_permit_forever(sem: Semaphore, ready: Event) {
    ready.set();
    std::mem::forget(sem.acquire());
}

#[pool_task]
fn locked_in_pool(lock: Lock, x: u32) -> u32 {
    let _guard = lock.acquire();
    x
}

#[test]
fn a_lock_serializes_four_processes() {
    let (path, file) = common::temp_file("sync");
    let lock = Lock::new().unwrap();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            increment_file
                .spawn(lock.clone(), Fd::from(file.try_clone().unwrap()), 200)
                .unwrap()
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "800");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_lock_whose_holder_died_is_taken_over_and_says_so() {
    let lock = Lock::new().unwrap();
    let ready = Event::new().unwrap();
    let holder = hold_lock_forever
        .spawn(lock.clone(), ready.clone())
        .unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(30)));
    assert!(lock.try_acquire().is_none());
    assert!(lock.acquire_timeout(Duration::from_millis(50)).is_none());
    holder.kill().unwrap();
    let started = Instant::now();
    let guard = lock.acquire();
    assert!(guard.previous_owner_died());
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(guard);
    assert!(!lock.acquire().previous_owner_died());
    let _ = holder.join();
}

/// Holds `lock` from a second thread, sets `ready`, and ends its main
/// thread alone; the process lives on in the other. (Linux: elsewhere a
/// process whose main thread ended does not show as ended.)
#[cfg(target_os = "linux")]
#[process]
fn hold_lock_from_a_thread_and_end_the_main_one(lock: Lock, ready: Event) {
    let held = ready.clone();
    std::thread::spawn(move || {
        let _guard = lock.acquire();
        ready.set();
        std::thread::sleep(Duration::from_secs(600));
    });
    // Once it holds the lock: this process then owns it.
    held.wait();
    // SAFETY: ends this thread alone, at once (the system call, not
    // `pthread_exit`, which would unwind through Rust frames); nothing of
    // its stack is used after.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
}

#[cfg(target_os = "linux")]
#[test]
fn a_lock_held_by_a_process_whose_main_thread_ended_is_not_taken_over() {
    let lock = Lock::new().unwrap();
    let ready = Event::new().unwrap();
    let holder = hold_lock_from_a_thread_and_end_the_main_one
        .spawn(lock.clone(), ready.clone())
        .unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(30)));
    // Until its main thread shows as a zombie, as the system shows it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stat = format!("/proc/{}/stat", holder.pid());
    while !std::fs::read_to_string(&stat).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
    }) {
        assert!(Instant::now() < deadline, "the main thread did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Past the first looks at whether the owner died.
    let taken_over = lock.acquire_timeout(Duration::from_millis(300)).is_some();
    holder.kill().unwrap();
    let _ = holder.join();
    assert!(!taken_over, "taken from a live process");
    assert!(lock.acquire().previous_owner_died());
}

#[test]
fn an_event_wakes_a_waiting_child() {
    let ev = Event::new().unwrap();
    assert!(!ev.wait_timeout(Duration::from_millis(20)));
    let child = wait_for.spawn(ev.clone()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    ev.set();
    assert!(child.join().unwrap());
    assert!(ev.is_set());
    ev.clear();
    assert!(!ev.is_set());
}

#[test]
fn a_semaphore_admits_at_most_its_permits() {
    let sem = Semaphore::new(2).unwrap();
    let log = Queue::new().unwrap();
    let workers: Vec<_> = (0..5)
        .map(|id| use_permit.spawn(sem.clone(), log.clone(), id).unwrap())
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let (mut inside, mut most) = (0, 0);
    for _ in 0..10 {
        let (_, entering) = log.get().unwrap();
        inside = if entering { inside + 1 } else { inside - 1 };
        most = most.max(inside);
    }
    assert!(most <= 2, "{most} holders at once");
    assert_eq!(sem.value(), 2);
    let _a = sem.acquire();
    let _b = sem.acquire();
    assert!(sem.acquire_timeout(Duration::from_millis(20)).is_none());
}

#[test]
fn every_waiter_of_a_semaphore_gets_a_permit_when_as_many_are_released() {
    let sem = Semaphore::new(0).unwrap();
    let taken = Queue::new().unwrap();
    let waiters: Vec<_> = (0..4)
        .map(|id| take_permit.spawn(sem.clone(), taken.clone(), id).unwrap())
        .collect();
    // Let them sleep, then release one permit at a time.
    std::thread::sleep(Duration::from_millis(100));
    let mut ids = Vec::new();
    for _ in 0..4 {
        sem.release().unwrap();
        ids.push(taken.get_timeout(Duration::from_secs(30)).unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, [0, 1, 2, 3]);
    for waiter in waiters {
        waiter.join().unwrap();
    }
    assert_eq!(sem.value(), 0);
}

#[test]
fn a_semaphore_whose_waiter_was_killed_still_hands_out_every_permit() {
    let sem = Semaphore::new(0).unwrap();
    let ready = Event::new().unwrap();
    let waiter = wait_for_a_permit_forever
        .spawn(sem.clone(), ready.clone())
        .unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(50));
    waiter.kill().unwrap();
    assert!(waiter.join().is_err());
    // Its wait stays counted for ever: every release then goes the slow way.
    for _ in 0..3 {
        sem.release().unwrap();
    }
    assert_eq!(sem.value(), 3);
    let permits: Vec<_> = (0..3).filter_map(|_| sem.try_acquire()).collect();
    assert_eq!(permits.len(), 3);
    std::mem::forget(permits);
    // A waiter still gets the next permit, from another thread.
    std::thread::scope(|s| {
        let waiting = s.spawn(|| {
            sem.acquire_timeout(Duration::from_secs(30))
                .map(std::mem::forget)
        });
        std::thread::sleep(Duration::from_millis(50));
        sem.release().unwrap();
        assert!(waiting.join().unwrap().is_some());
    });
}

#[test]
fn a_waiter_that_timed_out_leaves_the_permit_to_the_one_still_waiting() {
    let sem = Semaphore::new(0).unwrap();
    std::thread::scope(|s| {
        let patient = s.spawn(|| {
            sem.acquire_timeout(Duration::from_secs(30))
                .map(std::mem::forget)
        });
        let hasty = s.spawn(|| sem.acquire_timeout(Duration::from_millis(50)).is_some());
        assert!(!hasty.join().unwrap());
        sem.release().unwrap();
        assert!(patient.join().unwrap().is_some());
    });
}

#[test]
fn try_acquire_fails_only_when_no_permit_is_left() {
    let sem = Semaphore::new(2).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        // Holds one permit at most, so one is always left for the other.
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                drop(sem.acquire());
            }
        });
        let failed = (0..200_000).filter(|_| sem.try_acquire().is_none()).count();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(failed, 0);
    });
}

#[test]
fn a_semaphore_refuses_more_permits_than_its_limit() {
    assert!(matches!(
        Semaphore::new((1 << 30) + 1),
        Err(Error::InvalidArgument {
            argument: "permits",
            ..
        })
    ));
    let sem = Semaphore::new(1 << 30).unwrap();
    assert!(matches!(sem.release(), Err(Error::OverReleased)));
    assert_eq!(sem.value(), 1 << 30);
}

#[test]
fn a_bounded_semaphore_refuses_an_extra_release() {
    let sem = BoundedSemaphore::new(1).unwrap();
    assert!(matches!(sem.release(), Err(Error::OverReleased)));
    let permit = sem.acquire();
    drop(permit);
    assert_eq!(sem.value(), 1);
}

#[test]
fn a_bounded_semaphore_of_no_permits_refuses_every_release() {
    let sem = BoundedSemaphore::new(0).unwrap();
    assert!(matches!(sem.release(), Err(Error::OverReleased)));
    assert_eq!(sem.value(), 0);
}

#[test]
fn pool_tasks_take_locks_as_arguments() {
    let pool = Pool::new(2).unwrap();
    let lock = Lock::new().unwrap();
    let out = pool
        .starmap(locked_in_pool, (0..10u32).map(|x| (lock.clone(), x)))
        .unwrap();
    assert_eq!(out, (0..10).collect::<Vec<_>>());
}

#[process]
fn add_many(v: multiproc::Value<i64>, times: u32) {
    for _ in 0..times {
        *v.lock() += 1;
    }
}

#[process]
fn fill(a: multiproc::Array<f64>, value: f64) {
    a.lock().iter_mut().for_each(|x| *x = value);
}

#[process]
fn hold_value_forever(v: multiproc::Value<u64>, ready: Event) {
    let mut guard = v.lock();
    *guard = 7;
    ready.set();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_shared_value_counts_exactly_across_processes() {
    let v = multiproc::Value::new(0i64).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| add_many.spawn(v.clone(), 2_000).unwrap())
        .collect();
    for child in children {
        child.join().unwrap();
    }
    assert_eq!(v.get(), 8_000);
    v.set(-1);
    assert_eq!(v.get(), -1);
}

#[test]
fn a_shared_array_is_written_by_a_child() {
    let a = multiproc::Array::from_slice(&[0.0f64; 8]).unwrap();
    fill.spawn(a.clone(), 2.5).unwrap().join().unwrap();
    assert_eq!(a.to_vec(), [2.5; 8]);
    assert_eq!(a.len(), 8);
    a.lock()[0] = 1.5;
    assert_eq!(a.to_vec()[0], 1.5);
    assert_eq!(multiproc::Array::<u32>::zeroed(3).unwrap().to_vec(), [0; 3]);
}

#[test]
fn an_array_too_large_to_map_is_an_error_not_a_panic() {
    assert!(multiproc::Array::<u64>::zeroed(usize::MAX / 4).is_err());
    assert!(multiproc::RawArray::<u64>::zeroed(usize::MAX / 4).is_err());
    // Sized without overflow, and still beyond any address space.
    assert!(multiproc::Array::<u64>::zeroed(1 << 55).is_err());
}

#[test]
fn a_value_whose_holder_died_is_taken_over_and_says_so() {
    let v = multiproc::Value::new(0u64).unwrap();
    let ready = Event::new().unwrap();
    let holder = hold_value_forever.spawn(v.clone(), ready.clone()).unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(30)));
    holder.kill().unwrap();
    let guard = v.lock();
    assert!(guard.previous_owner_died());
    assert_eq!(*guard, 7);
    drop(guard);
    let _ = holder.join();
}

#[process]
fn hold_rlock_twice_forever(lock: multiproc::RLock, ready: Event) {
    let _a = lock.acquire();
    let _b = lock.acquire();
    ready.set();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn an_rlock_is_reentrant_in_its_thread_only() {
    let lock = multiproc::RLock::new().unwrap();
    let outer = lock.acquire();
    let inner = lock.try_acquire().unwrap();
    let other = lock.clone();
    let blocked =
        std::thread::spawn(move || other.acquire_timeout(Duration::from_millis(50)).is_none())
            .join()
            .unwrap();
    assert!(blocked, "another thread must not get the lock");
    drop(inner);
    let other = lock.clone();
    assert!(
        std::thread::spawn(move || other.try_acquire().is_none())
            .join()
            .unwrap()
    );
    drop(outer);
    let other = lock.clone();
    assert!(
        std::thread::spawn(move || other.try_acquire().is_some())
            .join()
            .unwrap()
    );
}

#[test]
fn an_rlock_whose_owner_died_is_taken_over_and_says_so() {
    let lock = multiproc::RLock::new().unwrap();
    let ready = Event::new().unwrap();
    let holder = hold_rlock_twice_forever
        .spawn(lock.clone(), ready.clone())
        .unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(30)));
    assert!(lock.try_acquire().is_none());
    holder.kill().unwrap();
    let guard = lock.acquire();
    assert!(guard.previous_owner_died());
    drop(guard);
    let other = lock.clone();
    assert!(
        std::thread::spawn(move || other.try_acquire().is_some())
            .join()
            .unwrap()
    );
    let _ = holder.join();
}

#[process]
fn barrier_rounds(bar: multiproc::Barrier, rounds: u32, log: Queue<u32>) {
    for round in 0..rounds {
        log.put(round).unwrap();
        bar.wait().unwrap();
    }
}

#[process]
fn condition_consumer(
    cond: multiproc::Condition,
    items: multiproc::Value<u32>,
    taken: multiproc::Value<u32>,
    want: u32,
) {
    for _ in 0..want {
        let guard = cond.acquire();
        let _guard = cond.wait_while(guard, || items.get() == 0).unwrap();
        *items.lock() -= 1;
        *taken.lock() += 1;
    }
}

#[test]
fn a_barrier_keeps_four_processes_in_step() {
    const ROUNDS: u32 = 20;
    let bar = multiproc::Barrier::new(4).unwrap();
    let log = Queue::new().unwrap();
    let parties: Vec<_> = (0..4)
        .map(|_| {
            barrier_rounds
                .spawn(bar.clone(), ROUNDS, log.clone())
                .unwrap()
        })
        .collect();
    for party in parties {
        party.join().unwrap();
    }
    // Nobody starts round r + 1 before all four have logged round r.
    let order: Vec<u32> = (0..4 * ROUNDS).map(|_| log.get().unwrap()).collect();
    for (i, round) in order.iter().enumerate() {
        assert_eq!(*round, i as u32 / 4, "{order:?}");
    }
}

#[test]
fn a_broken_barrier_fails_its_waiters() {
    let bar = multiproc::Barrier::new(2).unwrap();
    assert!(matches!(
        bar.wait_timeout(Duration::from_millis(20)),
        Err(Error::BrokenBarrier)
    ));
    assert!(matches!(bar.wait(), Err(Error::BrokenBarrier)));
    bar.reset();
    let other = bar.clone();
    let t = std::thread::spawn(move || other.wait().unwrap());
    let mine = bar.wait().unwrap();
    let theirs = t.join().unwrap();
    assert_eq!(mine + theirs, 1);
}

#[test]
fn a_condition_hands_items_to_four_consumer_processes() {
    let cond = multiproc::Condition::new().unwrap();
    let items = multiproc::Value::new(0u32).unwrap();
    let taken = multiproc::Value::new(0u32).unwrap();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            condition_consumer
                .spawn(cond.clone(), items.clone(), taken.clone(), 25)
                .unwrap()
        })
        .collect();
    for _ in 0..100 {
        let _guard = cond.acquire();
        *items.lock() += 1;
        cond.notify_one();
    }
    for consumer in consumers {
        consumer.join().unwrap();
    }
    assert_eq!(taken.get(), 100);
    assert_eq!(items.get(), 0);
    let guard = cond.acquire();
    let started = Instant::now();
    let (_guard, notified) = cond.wait_timeout(guard, Duration::from_millis(30)).unwrap();
    assert!(!notified);
    assert!(started.elapsed() >= Duration::from_millis(30));
}

#[process]
fn write_raw(v: multiproc::RawValue<u64>, a: multiproc::RawArray<u16>) {
    v.set(99);
    for i in 0..a.len() {
        a.set(i, i as u16 * 2);
    }
}

#[test]
fn raw_values_and_arrays_are_shared_without_a_lock() {
    let v = multiproc::RawValue::new(0u64).unwrap();
    let a = multiproc::RawArray::<u16>::zeroed(4).unwrap();
    write_raw
        .spawn(v.clone(), a.clone())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(v.get(), 99);
    assert_eq!(a.to_vec(), [0, 2, 4, 6]);
    assert_eq!(a.get(4), None);
    assert!(!a.set(4, 1));
}

#[test]
fn every_lock_has_a_timeout_form() {
    let v = multiproc::Value::new(0u32).unwrap();
    let a = multiproc::Array::from_slice(&[0u32; 2]).unwrap();
    let cond = multiproc::Condition::new().unwrap();
    let (held_v, held_a, held_c) = (v.lock(), a.lock(), cond.acquire());
    let (v2, a2, c2) = (v.clone(), a.clone(), cond.clone());
    let refused = std::thread::spawn(move || {
        let d = Duration::from_millis(20);
        (
            v2.lock_timeout(d).is_none(),
            a2.lock_timeout(d).is_none(),
            c2.acquire_timeout(d).is_none(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(refused, (true, true, true));
    drop((held_v, held_a));
    let (guard, done) = cond
        .wait_while_timeout(held_c, Duration::from_millis(20), || true)
        .unwrap();
    assert!(!done);
    drop(guard);
    assert!(v.lock_timeout(Duration::from_millis(20)).is_some());
}

/// One side of a ping-pong over a condition, in CPython's `test_waitfor`
/// shape: each side notifies and then at once waits itself, so a
/// notification that the notifier could take back would be lost.
fn ping_pong(
    cond: &multiproc::Condition,
    state: &multiproc::RawValue<u32>,
    first: u32,
    rounds: u32,
) {
    let mut guard = cond.acquire();
    for round in 0..rounds {
        let mine = first + 2 * round;
        let (g, woke) = cond
            .wait_while_timeout(guard, Duration::from_secs(20), || state.get() != mine)
            .unwrap();
        assert!(woke, "round {round}: the notification for {mine} was lost");
        state.set(mine + 1);
        cond.notify_one();
        guard = g;
    }
}

#[process]
fn ping_pong_child(cond: multiproc::Condition, state: multiproc::RawValue<u32>, rounds: u32) {
    ping_pong(&cond, &state, 1, rounds);
}

#[test]
fn a_notification_reaches_the_process_that_waited_not_the_notifier_waiting_next() {
    let cond = multiproc::Condition::new().unwrap();
    let state = multiproc::RawValue::new(0u32).unwrap();
    let child = ping_pong_child
        .spawn(cond.clone(), state.clone(), 300)
        .unwrap();
    ping_pong(&cond, &state, 0, 300);
    child.join().unwrap();
    assert_eq!(state.get(), 600);
}

#[test]
fn a_notification_reaches_the_thread_that_waited_even_with_the_cores_busy() {
    let cond = multiproc::Condition::new().unwrap();
    let state = multiproc::RawValue::new(0u32).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        let other = s.spawn(|| ping_pong(&cond, &state, 1, 2000));
        ping_pong(&cond, &state, 0, 2000);
        other.join().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(state.get(), 4000);
}

#[test]
fn a_waiter_that_timed_out_takes_no_later_notification() {
    let cond = multiproc::Condition::new().unwrap();
    let (guard, notified) = cond
        .wait_timeout(cond.acquire(), Duration::from_millis(10))
        .unwrap();
    assert!(!notified);
    drop(guard);
    assert!(
        a_new_waiter_gets_the_next_notification(&cond),
        "the notification went to the departed waiter"
    );
}

/// Starts a thread waiting on `cond`, notifies one waiter, and answers
/// whether that thread was the one notified.
fn a_new_waiter_gets_the_next_notification(cond: &multiproc::Condition) -> bool {
    std::thread::scope(|s| {
        let (ready, waiting) = std::sync::mpsc::channel();
        let waiter = s.spawn(move || {
            let guard = cond.acquire();
            ready.send(()).unwrap();
            cond.wait_timeout(guard, Duration::from_secs(20)).unwrap().1
        });
        waiting.recv().unwrap();
        // Taking the lock means the waiter has released it, inside its wait.
        let guard = cond.acquire();
        cond.notify_one();
        drop(guard);
        waiter.join().unwrap()
    })
}

#[process]
fn wait_on_condition_forever(cond: multiproc::Condition, ready: Event) {
    let guard = cond.acquire();
    ready.set();
    let _ = cond.wait(guard);
}

#[test]
fn a_notification_skips_a_waiter_that_died() {
    let cond = multiproc::Condition::new().unwrap();
    let ready = Event::new().unwrap();
    let doomed = wait_on_condition_forever
        .spawn(cond.clone(), ready.clone())
        .unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(20)));
    // It waits: taking the lock proves it released it.
    drop(cond.acquire());
    doomed.kill().unwrap();
    // Dead, not dying: a waiter still exiting when notified counts as waiting.
    assert!(doomed.join().is_err());
    assert!(
        a_new_waiter_gets_the_next_notification(&cond),
        "the notification went to the dead waiter"
    );
}

/// A `Pod` type aligned beyond the 64 bytes the lock word takes.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[repr(C, align(256))]
struct Aligned {
    bytes: [u64; 32],
}

// SAFETY: plain integers, no padding (256 bytes of data, 256-byte alignment).
unsafe impl bytemuck::Zeroable for Aligned {}
// SAFETY: as above.
unsafe impl bytemuck::Pod for Aligned {}

#[test]
fn shared_values_of_highly_aligned_types_are_aligned() {
    let value = multiproc::Value::new(Aligned { bytes: [7; 32] }).unwrap();
    let guard = value.lock();
    // black_box: the compiler assumes a reference is aligned, and would fold
    // the check away.
    let address = std::hint::black_box(std::ptr::from_ref::<Aligned>(&guard)).addr();
    assert_eq!(address % 256, 0);
    drop(guard);
    let array = multiproc::Array::from_slice(&[Aligned { bytes: [1; 32] }; 3]).unwrap();
    let guard = array.lock();
    assert_eq!(std::hint::black_box(guard.as_ptr()).addr() % 256, 0);
    assert_eq!(guard[2].bytes, [1; 32]);
}

#[test]
fn racing_raw_writes_from_threads_tear_at_worst() {
    // Two threads write different values at once while a third reads: every
    // access is atomic, a word at a time, so each word read is whole.
    let value = multiproc::RawValue::new([0u64; 4]).unwrap();
    let memory =
        multiproc::SharedMemory::create(&format!("race-{}", std::process::id()), 64).unwrap();
    std::thread::scope(|s| {
        for byte in [0x11u8, 0x22] {
            let (value, memory) = (&value, &memory);
            s.spawn(move || {
                for _ in 0..20_000 {
                    value.set([u64::from_ne_bytes([byte; 8]); 4]);
                    memory.write(0, &[byte; 64]).unwrap();
                }
            });
        }
        for _ in 0..20_000 {
            for word in value.get() {
                assert!([0, 0x1111_1111_1111_1111, 0x2222_2222_2222_2222].contains(&word));
            }
            let mut buf = [0u8; 64];
            memory.read(0, &mut buf).unwrap();
            assert!(buf.iter().all(|b| [0, 0x11, 0x22].contains(b)));
        }
    });
}

#[process]
fn wait_at_barrier(bar: multiproc::Barrier) -> bool {
    matches!(
        bar.wait_timeout(Duration::from_secs(20)),
        Err(multiproc::Error::BrokenBarrier)
    )
}

#[test]
fn a_reset_breaks_the_parties_waiting_at_it_and_no_later_ones() {
    let bar = multiproc::Barrier::new(3).unwrap();
    let child = wait_at_barrier.spawn(bar.clone()).unwrap();
    std::thread::scope(|s| {
        let bar = &bar;
        let thread = s.spawn(move || wait_at_barrier(bar.clone()));
        let deadline = Instant::now() + Duration::from_secs(20);
        while bar.n_waiting() < 2 {
            assert!(Instant::now() < deadline, "the parties never arrived");
            std::thread::sleep(Duration::from_millis(1));
        }
        bar.reset();
        assert!(
            thread.join().unwrap(),
            "the waiting thread passed a reset barrier"
        );
    });
    assert!(
        child.join().unwrap(),
        "the waiting process passed a reset barrier"
    );
    assert!(!bar.is_broken());
    // After the reset, a full set of parties passes.
    let others: Vec<_> = (0..2)
        .map(|_| {
            let bar = bar.clone();
            std::thread::spawn(move || bar.wait_timeout(Duration::from_secs(20)))
        })
        .collect();
    assert!(bar.wait_timeout(Duration::from_secs(20)).is_ok());
    for other in others {
        assert!(other.join().unwrap().is_ok());
    }
}

#[test]
fn a_notifier_without_the_lock_waits_for_the_thread_that_holds_it() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let cond = multiproc::Condition::new().unwrap();
    let released = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (held, holding) = std::sync::mpsc::channel();
        let (cond, released) = (&cond, &released);
        s.spawn(move || {
            let guard = cond.acquire();
            held.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(200));
            released.store(true, Ordering::SeqCst);
            drop(guard);
        });
        holding.recv().unwrap();
        // Another thread of the same process: the lock's owner, a process,
        // is this one, but this thread does not hold it.
        cond.notify_one();
        assert!(
            released.load(Ordering::SeqCst),
            "notify went ahead while another thread held the lock"
        );
    });
}

#[test]
fn raw_values_and_arrays_print_their_contents() {
    let value = multiproc::RawValue::new(7u32).unwrap();
    let array = multiproc::RawArray::from_slice(&[1u8, 2]).unwrap();
    assert_eq!(
        format!("{value:?} {array:?}"),
        "RawValue(7) RawArray([1, 2])"
    );
}
