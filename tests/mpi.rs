//! The pool on MPI ranks. Run under `mpirun`, one test at a time:
//! `mpirun --oversubscribe -n 3 <this test binary> --test-threads=1`
//! (`.ci/run` does). Ranks 1 and 2 become the workers; rank 0 runs the tests.
#![cfg(feature = "mpi")]

use std::time::Duration;

use multiproc::{Error, Fd, Pool, StartMethod, pool_task, process};

#[pool_task]
fn square(x: u64) -> u64 {
    x * x
}

#[pool_task]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[pool_task]
fn whoami(_: u32) -> (u32, String) {
    (
        std::process::id(),
        multiproc::current_process().name().to_string(),
    )
}

#[pool_task]
fn fail_on_five(x: u64) -> u64 {
    assert_ne!(x, 5, "five is not allowed");
    x
}

#[pool_task]
fn file_len(file: Fd) -> u64 {
    std::fs::File::from(file).metadata().unwrap().len()
}

#[pool_task]
fn open_self(_: u64) -> Fd {
    Fd::from(std::fs::File::open("/proc/self/exe").unwrap())
}

#[test]
fn every_pool_method_runs_on_the_worker_ranks() {
    let pool = Pool::mpi().unwrap();
    assert_eq!(pool.processes(), 2);
    assert_eq!(
        pool.map(square, 0..1000u64).unwrap(),
        (0..1000u64).map(|x| x * x).collect::<Vec<_>>()
    );
    assert_eq!(pool.starmap(add, vec![(1, 2), (3, 4)]).unwrap(), [3, 7]);
    assert_eq!(pool.apply(add, (20, 22)).unwrap(), 42);
    assert_eq!(
        pool.apply_async(add, (1, 1))
            .unwrap()
            .get_timeout(Duration::from_secs(30))
            .unwrap(),
        2
    );
    assert_eq!(
        pool.map_async(square, 0..4u64).unwrap().get().unwrap(),
        [0, 1, 4, 9]
    );
    let ordered: Vec<u64> = pool
        .imap(square, 0..100u64)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ordered, (0..100u64).map(|x| x * x).collect::<Vec<_>>());
    let mut unordered: Vec<u64> = pool
        .imap_unordered(square, 0..100u64)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    unordered.sort_unstable();
    assert_eq!(unordered, ordered);
}

/// Open MPI's yielding on this rank, as the environment sets it.
#[pool_task]
fn yield_setting(_: u32) -> Option<String> {
    std::env::var("OMPI_MCA_mpi_yield_when_idle").ok()
}

#[test]
fn every_rank_asks_open_mpi_not_to_yield_when_the_environment_does_not_say() {
    // `.ci/run` starts this job with more ranks than cores, where Open MPI
    // would turn yielding on, and without the variable.
    let here = std::env::var("OMPI_MCA_mpi_yield_when_idle").ok();
    assert_eq!(here.as_deref(), Some("0"));
    let pool = Pool::mpi().unwrap();
    let ranks = pool.map_chunked(yield_setting, 0..8u32, 1).unwrap();
    assert!(ranks.iter().all(|s| s.as_deref() == Some("0")), "{ranks:?}");
}

#[test]
fn tasks_run_on_other_processes_named_after_their_rank() {
    let pool = Pool::mpi().unwrap();
    let seen = pool.map_chunked(whoami, 0..200u32, 1).unwrap();
    let mut names: Vec<String> = seen.iter().map(|(_, name)| name.clone()).collect();
    names.sort();
    names.dedup();
    assert!(seen.iter().all(|(pid, _)| *pid != std::process::id()));
    assert!(
        names
            .iter()
            .all(|n| n == "MpiWorker-1" || n == "MpiWorker-2"),
        "{names:?}"
    );
}

#[test]
fn a_panic_fails_only_its_item_and_the_pool_goes_on() {
    let pool = Pool::mpi().unwrap();
    let results: Vec<_> = pool.imap(fail_on_five, 0..10u64).unwrap().collect();
    for (x, result) in results.iter().enumerate() {
        match result {
            Ok(value) => assert_eq!(*value, x as u64),
            Err(Error::Panicked { message, .. }) => {
                assert_eq!(x, 5);
                assert!(message.contains("five is not allowed"), "{message}");
            }
            Err(e) => panic!("item {x}: {e}"),
        }
    }
    let Err(Error::Task {
        index: 1, source, ..
    }) = pool.map(fail_on_five, [4u64, 5])
    else {
        panic!("expected the task of item 1 to fail");
    };
    assert!(matches!(*source, Error::Panicked { .. }), "{source}");
    assert_eq!(pool.map(square, [3u64]).unwrap(), [9]);
}

#[test]
fn a_descriptor_cannot_cross_to_a_rank_and_fails_only_its_item() {
    let pool = Pool::mpi().unwrap();
    let file = std::fs::File::open("/proc/self/exe").unwrap();
    let err = pool.apply(file_len, (Fd::from(file),)).unwrap_err();
    assert!(matches!(err, Error::Codec { .. }), "{err}");
    assert_eq!(pool.apply(add, (1, 2)).unwrap(), 3);
}

/// The debug records logged in this test program.
static RECORDS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        RECORDS.lock().unwrap().push(record.args().to_string());
    }

    fn flush(&self) {}
}

#[test]
fn ranks_on_this_machine_are_linked_unless_the_environment_says_0() {
    static LOGGER: Capture = Capture;
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    drop(Pool::mpi().unwrap());
    let relayed = std::env::var("MULTIPROC_MPI_NEARBY").is_ok_and(|v| v == "0");
    let expected = |rank| match relayed {
        true => format!("MpiWorker-{rank} attached, through a relay"),
        false => format!("MpiWorker-{rank} attached"),
    };
    let records = RECORDS.lock().unwrap();
    for rank in [1, 2] {
        assert!(records.contains(&expected(rank)), "{records:?}");
    }
}

/// Fails at once on rank 1, and succeeds slowly on the others.
#[pool_task]
fn refuse_on_rank_1(_: u64) {
    match multiproc::current_process().name() {
        "MpiWorker-1" => panic!("no initialization on rank 1"),
        _ => std::thread::sleep(Duration::from_millis(200)),
    }
}

#[test]
fn a_pool_that_fails_to_start_leaves_its_ranks_clean_for_the_next() {
    for _ in 0..3 {
        // Fails on rank 1 while rank 2 still runs the initializer.
        let err = Pool::builder()
            .mpi()
            .initializer(refuse_on_rank_1, (0,))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Initializer { .. }), "{err}");
        // Rank 2's answer to the failed pool must not reach this one.
        let pool = Pool::mpi().unwrap();
        assert_eq!(pool.map(square, [2u64, 3, 4, 5]).unwrap(), [4, 9, 16, 25]);
    }
}

#[test]
fn a_descriptor_cannot_come_back_from_any_rank_and_fails_only_its_item() {
    // Ranks on this machine are linked straight to their drivers, yet
    // answer as ranks elsewhere must.
    let pool = Pool::mpi().unwrap();
    let results: Vec<_> = pool.imap(open_self, 0..8).unwrap().collect();
    assert_eq!(results.len(), 8);
    for result in results {
        let err = result.map(|_| ()).unwrap_err();
        assert!(matches!(err, Error::Codec { .. }), "{err}");
    }
    assert_eq!(pool.apply(add, (1, 2)).unwrap(), 3);
}

static INITIALIZED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[pool_task]
fn set_base(base: u64) {
    INITIALIZED.store(base, std::sync::atomic::Ordering::Relaxed);
}

#[pool_task]
fn plus_base(x: u64) -> u64 {
    x + INITIALIZED.load(std::sync::atomic::Ordering::Relaxed)
}

#[pool_task]
fn refuse(_: u64) {
    panic!("no initialization today");
}

#[test]
fn the_initializer_runs_on_every_rank_and_its_failure_fails_build() {
    let pool = Pool::builder()
        .mpi()
        .initializer(set_base, (100,))
        .build()
        .unwrap();
    assert_eq!(
        pool.map_chunked(plus_base, 0..10u64, 1).unwrap(),
        (100..110).collect::<Vec<_>>()
    );
    drop(pool);
    let err = Pool::builder()
        .mpi()
        .initializer(refuse, (0,))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Initializer { .. }), "{err}");
    // The ranks are free again for the next pool.
    assert_eq!(Pool::mpi().unwrap().apply(add, (2, 2)).unwrap(), 4);
}

#[test]
fn a_process_started_here_cannot_take_the_ranks() {
    #[multiproc::process]
    fn try_mpi_pool() -> String {
        Pool::mpi().unwrap_err().to_string()
    }
    let message = try_mpi_pool.spawn().unwrap().join().unwrap();
    assert!(
        message.contains("only the process that mpirun started"),
        "{message}"
    );
}

#[pool_task]
fn echo_big(data: Vec<u8>) -> Vec<u8> {
    data.iter().map(|b| b.wrapping_add(1)).collect()
}

#[test]
fn large_arguments_and_results_cross_without_deadlock() {
    // Frames and answers well past MPI's eager limit, both ways at once.
    let pool = Pool::mpi().unwrap();
    let inputs: Vec<Vec<u8>> = (0..12u8).map(|i| vec![i; 1 << 20]).collect();
    let outputs = pool.map_chunked(echo_big, inputs.clone(), 1).unwrap();
    for (input, output) in inputs.iter().zip(&outputs) {
        assert_eq!(output.len(), input.len());
        assert_eq!(output[0], input[0].wrapping_add(1));
    }
    let small: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 16]).collect();
    assert_eq!(pool.map_chunked(echo_big, small, 1).unwrap().len(), 50);
}

#[pool_task]
fn shift_bytes(data: multiproc::Bytes) -> multiproc::Bytes {
    multiproc::Bytes::from(data.iter().map(|b| b.wrapping_add(1)).collect::<Vec<u8>>())
}

#[test]
fn large_bytes_cross_to_ranks_and_back_inline() {
    // Large enough to travel beside the message to a local worker; a rank
    // takes no descriptor, nor sends one back, so here the bytes go in the
    // message both ways.
    let pool = Pool::mpi().unwrap();
    let inputs: Vec<multiproc::Bytes> = (0..4u8)
        .map(|i| multiproc::Bytes::from(vec![i; 1 << 20]))
        .collect();
    let outputs = pool.map_chunked(shift_bytes, inputs.clone(), 2).unwrap();
    for (input, output) in inputs.iter().zip(&outputs) {
        assert_eq!(output.len(), input.len());
        assert!(output.iter().all(|&b| b == input[0] + 1));
    }
}

static REMEMBERED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[pool_task]
fn remember_len(data: multiproc::Bytes) {
    REMEMBERED.store(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
}

#[pool_task]
fn remembered(_: u64) -> u64 {
    REMEMBERED.load(std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn an_initializer_takes_large_bytes_on_the_ranks() {
    let pool = Pool::builder()
        .mpi()
        .initializer(remember_len, (multiproc::Bytes::from(vec![1u8; 1 << 20]),))
        .build()
        .unwrap();
    assert_eq!(
        pool.map_chunked(remembered, 0..4u64, 1).unwrap(),
        [1 << 20; 4]
    );
}

/// What building an MPI pool gives in a child forked from rank 0.
#[process]
fn build_an_mpi_pool() -> String {
    match Pool::mpi() {
        Err(Error::Mpi { reason, .. }) => reason,
        Err(e) => format!("another error: {e}"),
        Ok(_) => "a pool".into(),
    }
}

#[test]
fn a_child_forked_from_rank_0_is_refused_the_ranks_not_left_hanging() {
    // The relay runs in this process; a forked child has a copy of it, but
    // not its thread, and would wait for ever for a rank.
    drop(Pool::mpi().unwrap());
    let mut child = build_an_mpi_pool
        .builder()
        .start_method(StartMethod::Fork)
        .fork_with_threads(true)
        .spawn()
        .unwrap();
    let answer = child.join_timeout(Duration::from_secs(60)).unwrap();
    if answer.is_none() {
        child.kill().unwrap();
    }
    let answer = answer.expect("the child hung");
    assert!(
        answer.contains("only the process that mpirun started"),
        "{answer}"
    );
}

#[test]
fn a_child_of_a_users_own_fork_of_rank_0_is_refused_the_ranks_not_left_hanging() {
    drop(Pool::mpi().unwrap());
    // SAFETY: the child only builds a pool (glibc's fork leaves its
    // allocator usable) and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // Refused at once, not after waiting for a relay that is not there.
        let refused = matches!(Pool::mpi(), Err(Error::Mpi { reason, .. })
            if reason.contains("only the process that mpirun started"));
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(if refused { 0 } else { 1 }) };
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut status = 0;
    // SAFETY: waits, without blocking, for the child just forked.
    while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == 0 {
        if std::time::Instant::now() > deadline {
            // SAFETY: ends and reaps the child that hangs.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the child hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}"
    );
}
