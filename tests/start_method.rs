//! The start methods: choosing one, what each child inherits, and the same
//! guarantees (values, crashes, parent-death cleanup) under each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use multiproc::{Error, Pool, Queue, StartMethod, pool_task, process};

mod common;
use common::is_running;

/// The start methods this system has (not the fork server on the portable
/// backend, as on macOS).
fn methods() -> Vec<StartMethod> {
    multiproc::get_all_start_methods()
}

fn has_fork_server() -> bool {
    methods().contains(&StartMethod::ForkServer)
}

/// Runs `process` (no arguments) in a child started with Spawn and returns
/// its value: a fresh program, whose hooks, signal dispositions and start
/// method the test may change.
fn spawned<R: serde::de::DeserializeOwned>(process: multiproc::ProcessBuilder<(), R>) -> R {
    process
        .start_method(StartMethod::Spawn)
        .spawn()
        .unwrap()
        .join()
        .unwrap()
}

/// Set at run time in the parent, so only a forked child can see it.
static MARK: AtomicU64 = AtomicU64::new(0);

#[process]
fn read_mark() -> u64 {
    MARK.load(Ordering::Relaxed)
}

#[test]
fn only_a_forked_child_sees_its_parents_memory() {
    MARK.store(42, Ordering::Relaxed);
    let seen = |method| {
        read_mark
            .builder()
            .start_method(method)
            .fork_with_threads(true)
            .spawn()
            .unwrap()
            .join()
            .unwrap()
    };
    assert_eq!(seen(StartMethod::Fork), 42);
    assert_eq!(seen(StartMethod::Spawn), 0);
    if has_fork_server() {
        assert_eq!(seen(StartMethod::ForkServer), 0);
    }
}

#[process]
fn identity() -> (String, u32, Option<u32>) {
    let me = multiproc::current_process();
    let parent = multiproc::parent_process().map(|p| p.pid());
    (me.name().to_string(), me.pid(), parent)
}

#[test]
fn every_method_gives_a_named_child_of_this_process() {
    for method in methods() {
        let p = identity
            .builder()
            .name("worker")
            .start_method(method)
            .fork_with_threads(true)
            .spawn()
            .unwrap();
        let pid = p.pid();
        let (name, child_pid, parent) = p.join().unwrap();
        assert_eq!(name, "worker", "{method:?}");
        assert_eq!(child_pid, pid, "{method:?}");
        assert_eq!(parent, Some(std::process::id()), "{method:?}");

        let running = hang
            .builder()
            .start_method(method)
            .fork_with_threads(true)
            .spawn()
            .unwrap();
        let pid = running.pid();
        assert!(
            multiproc::active_children().iter().any(|c| c.pid() == pid),
            "{method:?}: not among the active children"
        );
        running.kill().unwrap();
        assert!(matches!(
            running.join(),
            Err(Error::Signaled { signal: 9, .. })
        ));
    }
}

#[process]
fn crash(how: u8) {
    match how {
        0 => panic!("boom"),
        1 => std::process::exit(3),
        _ => std::process::abort(),
    }
}

#[test]
fn panics_exits_and_signals_are_reported_under_every_method() {
    for method in methods() {
        let run = |how| {
            crash
                .builder()
                .start_method(method)
                .fork_with_threads(true)
                .stderr(multiproc::Stdio::null())
                .spawn(how)
                .unwrap()
                .join()
                .unwrap_err()
        };
        assert!(
            matches!(run(0), Error::Panicked { ref message, .. } if message == "boom"),
            "{method:?}"
        );
        assert!(
            matches!(run(1), Error::Exited { code: 3, .. }),
            "{method:?}"
        );
        assert!(
            matches!(run(2), Error::Signaled { signal: 6, .. }),
            "{method:?}"
        );
    }
}

#[pool_task]
fn square_or_die(x: u64) -> u64 {
    if x == 7 {
        std::process::abort();
    }
    x * x
}

#[test]
fn pools_work_and_replace_crashed_workers_under_every_method() {
    for method in methods() {
        let pool = Pool::builder()
            .processes(2)
            .start_method(method)
            .fork_with_threads(true)
            .build()
            .unwrap();
        let results: Vec<_> = pool.imap(square_or_die, 0..10u64).unwrap().collect();
        assert!(
            matches!(results[7], Err(Error::WorkerLost { .. })),
            "{method:?}"
        );
        assert_eq!(results[9].as_ref().unwrap(), &81, "{method:?}");
        assert_eq!(
            pool.map(square_or_die, [2u64, 3]).unwrap(),
            [4, 9],
            "{method:?}"
        );
    }
}

#[process]
fn hang() {
    std::thread::sleep(Duration::from_secs(600));
}

/// Starts a grandchild by `method`, reports its pid, and hangs.
#[process]
fn parent_of_hanging_child(method_index: usize, report: Queue<u32>) {
    let child = hang
        .builder()
        .start_method(methods()[method_index])
        .spawn()
        .unwrap();
    report.put(child.pid()).unwrap();
    std::thread::sleep(Duration::from_secs(600));
    drop(child);
}

#[test]
fn no_child_outlives_its_killed_parent_under_any_method() {
    for (index, method) in methods().into_iter().enumerate() {
        let report = Queue::new().unwrap();
        let parent = parent_of_hanging_child
            .builder()
            .start_method(StartMethod::Spawn)
            .spawn(index, report.clone())
            .unwrap();
        let grandchild = report.get_timeout(Duration::from_secs(30)).unwrap();
        assert!(is_running(grandchild), "{method:?}");
        parent.kill().unwrap();
        let _ = parent.join();
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_running(grandchild) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !is_running(grandchild),
            "{method:?}: the grandchild {grandchild} outlived its parent"
        );
    }
}

/// Tries `Fork` with a second thread running, without and with permission.
#[process]
fn fork_with_a_thread_running() -> (bool, bool) {
    // SAFETY: no other thread of this fresh child reads the environment.
    unsafe { std::env::remove_var("MULTIPROC_FORK_WITH_THREADS") };
    let busy = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(500)));
    let refused = matches!(
        read_mark.builder().start_method(StartMethod::Fork).spawn(),
        Err(Error::ForkWithThreads { threads: 2.., .. })
    );
    let allowed = read_mark
        .builder()
        .start_method(StartMethod::Fork)
        .fork_with_threads(true)
        .spawn()
        .and_then(|p| p.join())
        .is_ok();
    busy.join().unwrap();
    (refused, allowed)
}

#[test]
fn fork_refuses_while_other_threads_run_unless_allowed() {
    let (refused, allowed) = spawned(fork_with_a_thread_running.builder());
    assert!(refused, "fork was not refused with two threads running");
    assert!(allowed, "fork_with_threads(true) did not allow it");
}

/// Sets the start method twice in a fresh process.
#[process]
fn set_twice() -> (bool, bool, bool, String) {
    let first = multiproc::set_start_method(StartMethod::Fork).is_ok();
    let same = multiproc::set_start_method(StartMethod::Fork).is_ok();
    let other = multiproc::set_start_method(StartMethod::Spawn);
    let message = other.as_ref().map_err(ToString::to_string).err();
    let in_use = multiproc::get_start_method() == StartMethod::Fork;
    (
        first && same,
        other.is_err(),
        in_use,
        message.unwrap_or_default(),
    )
}

#[test]
fn the_start_method_is_set_once_per_program() {
    let (first_and_same, other_refused, in_use, message) = spawned(set_twice.builder());
    assert!(first_and_same);
    assert!(other_refused);
    assert!(in_use);
    assert!(message.contains("already set to `fork`"), "{message}");
}

#[test]
fn fork_and_forkserver_children_inherit_no_stray_descriptors() {
    // The parent keeps one end of a pipe; a forked child must not hold a
    // copy, or the other end would never see the end of the stream.
    for method in methods().into_iter().filter(|&m| m != StartMethod::Spawn) {
        let (here, there) = multiproc::pipe::<u8>().unwrap();
        let p = hang
            .builder()
            .start_method(method)
            .fork_with_threads(true)
            .spawn()
            .unwrap();
        drop(here);
        assert!(
            matches!(
                there.recv_timeout(Duration::from_secs(5)),
                Err(Error::Disconnected)
            ),
            "{method:?}: the child kept a copy of the dropped end"
        );
        p.kill().unwrap();
        let _ = p.join();
    }
}

/// What the parent's file's number `parents` refers to here, and whether
/// none of 64 files opened here took that number.
#[process]
fn open_files_beside_the_parents(parents: i32) -> (String, bool) {
    let refers_to = std::fs::read_link(format!("/proc/self/fd/{parents}"))
        .map_or_else(|e| e.to_string(), |path| path.display().to_string());
    let opened: Vec<std::fs::File> = (0..64)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    use std::os::fd::AsRawFd;
    (refers_to, opened.iter().all(|f| f.as_raw_fd() != parents))
}

#[cfg(target_os = "linux")]
#[test]
fn a_forked_child_never_reuses_the_number_of_a_descriptor_its_parents_memory_owns() {
    // Releasing the parent's descriptors in a forked child must keep their
    // numbers taken: a child's own socket or file under one of them would be
    // read, written or closed by whatever still owns it in the copied memory.
    use std::os::fd::AsRawFd;
    // A file this process opened: a forked child's copy of this memory
    // still owns its descriptor.
    static PARENTS_FILE: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();
    let parents = PARENTS_FILE
        .get_or_init(|| std::fs::File::open("Cargo.toml").unwrap())
        .as_raw_fd();
    let (refers_to, not_reused) = open_files_beside_the_parents
        .builder()
        .start_method(StartMethod::Fork)
        .fork_with_threads(true)
        .spawn(parents)
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(refers_to, "/dev/null", "the parent's number was reused");
    assert!(
        not_reused,
        "a file the child opened took the parent's number"
    );
}

#[pool_task]
fn nap_briefly(_: u64) {
    std::thread::sleep(Duration::from_millis(20));
}

/// Whether every worker of a pool of three started by `method` let go of
/// this process's end of a pipe once it is dropped: once every worker has
/// run a task, or with the pool not used yet (`used`), when a forked pool's
/// second worker still waits to start.
fn pool_workers_keep_no_copy_of_a_dropped_end(method: StartMethod, used: bool) -> bool {
    let (here, there) = multiproc::pipe::<u8>().unwrap();
    let pool = common::three_workers(method).build().unwrap();
    if used {
        pool.map_chunked(nap_briefly, 0..6u64, 1).unwrap();
    }
    drop(here);
    matches!(
        there.recv_timeout(Duration::from_secs(5)),
        Err(Error::Disconnected)
    )
}

/// The same from a child's main thread, where a forked pool's first worker
/// forks the others once it is ready, not before its job.
#[process]
fn fork_a_pool_on_the_main_thread_and_drop_an_end() -> bool {
    pool_workers_keep_no_copy_of_a_dropped_end(StartMethod::Fork, true)
}

#[test]
fn forked_pool_workers_inherit_no_stray_descriptors() {
    // As above, for a pool's workers: the first of them forks the others,
    // which must not keep a copy of the parent's end either.
    for method in methods().into_iter().filter(|&m| m != StartMethod::Spawn) {
        for used in [true, false] {
            assert!(
                pool_workers_keep_no_copy_of_a_dropped_end(method, used),
                "{method:?}, used {used}: a worker kept a copy of the dropped end"
            );
        }
    }
    let late = fork_a_pool_on_the_main_thread_and_drop_an_end
        .spawn()
        .unwrap()
        .join()
        .unwrap();
    assert!(
        late,
        "a worker forked by its sibling kept a copy of the dropped end"
    );
}

/// The check above from a process with no other thread, where the parent
/// lists the descriptors its forked child must close before it forks.
/// Plain `Fork` (refused with other threads) shows there are none.
#[process]
fn fork_alone_and_look_for_stray_descriptors() -> bool {
    let (here, there) = multiproc::pipe::<u8>().unwrap();
    let p = hang
        .builder()
        .start_method(StartMethod::Fork)
        .spawn()
        .unwrap();
    drop(here);
    let disconnected = matches!(
        there.recv_timeout(Duration::from_secs(5)),
        Err(Error::Disconnected)
    );
    p.kill().unwrap();
    let _ = p.join();
    disconnected
}

#[test]
fn a_child_forked_by_a_single_threaded_process_inherits_no_stray_descriptors() {
    // A fork server's child has no lifeline thread. (On the portable
    // backend every child has one: the check then runs with it.)
    let method = match has_fork_server() {
        true => StartMethod::ForkServer,
        false => StartMethod::Fork,
    };
    let clean = fork_alone_and_look_for_stray_descriptors
        .builder()
        .start_method(method)
        .fork_with_threads(true)
        .spawn()
        .unwrap()
        .join()
        .unwrap();
    assert!(clean, "the child kept a copy of the dropped end");
}

#[process]
fn nap_then_answer() -> u32 {
    std::thread::sleep(Duration::from_millis(300));
    7
}

/// Starts a child by `method` (of `methods()`) from a thread that ends at
/// once, and waits for its answer.
#[process]
fn start_from_a_short_thread(method_index: usize) -> u32 {
    let child = std::thread::spawn(move || {
        nap_then_answer
            .builder()
            .start_method(methods()[method_index])
            .fork_with_threads(true)
            .spawn()
            .unwrap()
    })
    .join()
    .unwrap();
    child.join().unwrap()
}

#[test]
fn a_child_outlives_the_thread_that_started_it() {
    // The kernel's parent-death signal is tied to a thread: a child forked
    // from a short-lived thread, or the fork server's first child started
    // from one, must not die with that thread.
    for (index, method) in methods().into_iter().enumerate() {
        let answer = start_from_a_short_thread
            .builder()
            .start_method(StartMethod::Spawn)
            .spawn(index)
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(answer, 7, "{method:?}");
    }
}

#[process]
fn try_rlock(lock: multiproc::RLock) -> bool {
    lock.try_acquire().is_some()
}

#[test]
fn a_forked_child_is_not_the_owner_of_its_parents_rlock() {
    let lock = multiproc::RLock::new().unwrap();
    let _held = lock.acquire();
    for method in methods() {
        let took = try_rlock
            .builder()
            .start_method(method)
            .fork_with_threads(true)
            .spawn(lock.clone())
            .unwrap()
            .join()
            .unwrap();
        assert!(!took, "{method:?}: the child took a lock its parent holds");
    }
}

#[process]
fn quick() -> u8 {
    1
}

#[test]
fn forking_while_another_thread_reads_the_identity_never_hangs_the_child() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::hint::black_box(multiproc::current_process());
            }
        })
    };
    for _ in 0..100 {
        let mut child = quick
            .builder()
            .start_method(StartMethod::Fork)
            .fork_with_threads(true)
            .spawn()
            .unwrap();
        let answer = child.join_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(answer, Some(1), "a forked child hung");
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
}

/// Forks while another thread is inside a slow panic hook, holding std's
/// hook lock; answers whether the forked child ran and answered in time.
#[process]
fn fork_while_another_thread_panics() -> bool {
    use std::sync::atomic::AtomicBool;
    static IN_HOOK: AtomicBool = AtomicBool::new(false);
    std::panic::set_hook(Box::new(|_| {
        IN_HOOK.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(3));
    }));
    let panicking = std::thread::spawn(|| panic!("inside a slow hook"));
    while !IN_HOOK.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let answered = read_mark
        .builder()
        .start_method(StartMethod::Fork)
        .fork_with_threads(true)
        .spawn()
        .and_then(|mut child| child.join_timeout(Duration::from_secs(20)))
        .is_ok_and(|answer| answer.is_some());
    let _ = panicking.join();
    answered
}

#[test]
fn a_forked_child_starts_while_another_thread_holds_the_panic_hook() {
    let answered = spawned(fork_while_another_thread_panics.builder());
    assert!(answered, "the forked child never started");
}

/// This process's children, from every thread's list.
fn my_children() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Kills this process's fork server `restarts` times, making a ForkServer
/// child after each; returns the threads named for starting fork servers.
#[process]
fn restart_the_fork_server(restarts: u32) -> usize {
    for _ in 0..=restarts {
        let child = read_mark
            .builder()
            .start_method(StartMethod::ForkServer)
            .spawn()
            .unwrap();
        child.join().unwrap();
        // Now the fork server is this process's only child.
        for pid in my_children() {
            // SAFETY: kills a child of this process, which is reaped later.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // Dead before the next request: a server that dies while a request
            // is out fails that spawn, by design, rather than run it twice.
            while !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|s| s.trim_start().starts_with('Z'))
            }) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("multiproc-forks"))
        .count()
}

/// Writes its pid to `path`, then hangs.
#[process]
fn mark_and_hang(path: std::path::PathBuf) {
    let _ = std::fs::write(&path, std::process::id().to_string());
    std::thread::sleep(Duration::from_secs(600));
}

/// Starts its fork server and reports the server's pid; once `stopped` is
/// set, asks the server, from another thread, for a child that marks
/// `path`, sets `asked`, and hangs.
#[process]
fn ask_a_stopped_fork_server(
    path: std::path::PathBuf,
    report: Queue<u32>,
    stopped: multiproc::Event,
    asked: multiproc::Event,
) {
    read_mark
        .builder()
        .start_method(StartMethod::ForkServer)
        .spawn()
        .unwrap()
        .join()
        .unwrap();
    // Now the fork server is this process's only child.
    report.put(my_children()[0].unsigned_abs()).unwrap();
    stopped.wait();
    std::thread::spawn(move || {
        mark_and_hang
            .builder()
            .start_method(StartMethod::ForkServer)
            .spawn(path)
    });
    // Time for the request to be written, not a speed.
    std::thread::sleep(Duration::from_millis(200));
    asked.set();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_fork_server_reading_a_request_after_its_owner_was_killed_starts_no_child() {
    if !has_fork_server() {
        return;
    }
    let dir = common::TempDir::new("late-request");
    let mark = dir.0.join("mark");
    let (report, stopped, asked) = (
        Queue::new().unwrap(),
        multiproc::Event::new().unwrap(),
        multiproc::Event::new().unwrap(),
    );
    let owner = ask_a_stopped_fork_server
        .builder()
        .start_method(StartMethod::Spawn)
        .spawn(mark.clone(), report.clone(), stopped.clone(), asked.clone())
        .unwrap();
    let server = report.get_timeout(Duration::from_secs(30)).unwrap() as libc::pid_t;
    // SAFETY: stops the owner's fork server until the owner is dead.
    unsafe { libc::kill(server, libc::SIGSTOP) };
    stopped.set();
    assert!(asked.wait_timeout(Duration::from_secs(30)));
    owner.kill().unwrap();
    let _ = owner.join();
    // SAFETY: the server, continued, reads the request still queued.
    unsafe { libc::kill(server, libc::SIGCONT) };
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && !mark.exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let orphan = std::fs::read_to_string(&mark).ok();
    if let Some(pid) = orphan.as_deref().and_then(|pid| pid.parse().ok()) {
        // SAFETY: ends the orphan this test found, so that it does not hang on.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(
        orphan.is_none(),
        "a child started for an owner already dead"
    );
}

/// Whether Ctrl-C would end this process (its default action).
#[process]
fn ctrl_c_ends_me() -> bool {
    // SAFETY: reads the disposition by setting the default, which it was
    // if the answer is yes.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) == libc::SIG_DFL }
}

/// Leads a process group and handles Ctrl-C itself; starts its fork server
/// and, once `signalled` (after a Ctrl-C to the group), another child
/// through it: whether the same server started it, and whether Ctrl-C
/// would end that child.
#[process]
fn fork_server_through_ctrl_c(
    ready: multiproc::Event,
    signalled: multiproc::Event,
) -> (bool, bool) {
    common::lead_a_group_that_handles_ctrl_c();
    let through_the_server = || {
        ctrl_c_ends_me
            .builder()
            .start_method(StartMethod::ForkServer)
            .spawn()
            .unwrap()
            .join()
            .unwrap()
    };
    through_the_server();
    // Now the fork server is this process's only child.
    let server = my_children();
    ready.set();
    assert!(signalled.wait_timeout(Duration::from_secs(30)));
    let ends = through_the_server();
    (my_children() == server, ends)
}

/// Starts a program with `start`, given an event it sets once ready and
/// one set once a Ctrl-C has reached its process group, which it leads;
/// sends that Ctrl-C, and returns what the program returns.
fn through_ctrl_c<R: serde::de::DeserializeOwned>(
    start: impl FnOnce(multiproc::Event, multiproc::Event) -> multiproc::Result<multiproc::Process<R>>,
) -> R {
    let (ready, signalled) = (
        multiproc::Event::new().unwrap(),
        multiproc::Event::new().unwrap(),
    );
    let program = start(ready.clone(), signalled.clone()).unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(30)));
    common::ctrl_c_to_the_group_of(program.pid(), &signalled);
    program.join().unwrap()
}

#[test]
fn ctrl_c_leaves_the_fork_server_of_a_program_that_handles_it() {
    if !has_fork_server() {
        return;
    }
    let (same_server, child_ends) = through_ctrl_c(|ready, signalled| {
        fork_server_through_ctrl_c
            .builder()
            .start_method(StartMethod::Spawn)
            .spawn(ready, signalled)
    });
    assert!(same_server, "Ctrl-C ended the fork server");
    assert!(child_ends, "the fork server's child does not end on Ctrl-C");
}

/// Leads a process group that handles Ctrl-C, with a forked pool of three
/// started by `method` and not used yet, whose second worker waits for its
/// driver; after a Ctrl-C to the group (`signalled`), whether each child it
/// had then still runs, and whether the pool then maps.
#[process]
fn an_unused_pool_through_ctrl_c(
    method: StartMethod,
    ready: multiproc::Event,
    signalled: multiproc::Event,
) -> (bool, bool) {
    common::lead_a_group_that_handles_ctrl_c();
    let pool = common::three_workers(method).build().unwrap();
    let children = my_children();
    ready.set();
    assert!(signalled.wait_timeout(Duration::from_secs(30)));
    let running = children.iter().all(|&pid| is_running(pid.unsigned_abs()));
    (running, pool.map(nap_briefly, 0..6u64).is_ok())
}

#[test]
fn ctrl_c_leaves_the_workers_of_an_unused_forked_pool_of_a_program_that_handles_it() {
    for method in methods().into_iter().filter(|&m| m != StartMethod::Spawn) {
        let (running, mapped) = through_ctrl_c(|ready, signalled| {
            an_unused_pool_through_ctrl_c
                .builder()
                .start_method(StartMethod::Spawn)
                .spawn(method, ready, signalled)
        });
        assert!(running, "{method:?}: Ctrl-C ended a worker");
        assert!(mapped, "{method:?}: the pool did not map");
    }
}

/// The name of a thread a fork handler starts in each child.
const HELPER: &str = "atfork-helper";

extern "C" fn start_a_helper_thread() {
    let _ = std::thread::Builder::new().name(HELPER.into()).spawn(|| {
        loop {
            std::thread::park();
        }
    });
}

/// This worker's pid, and whether it has the thread of [`HELPER`].
#[pool_task]
fn has_the_helper_thread(_: u64) -> (u32, bool) {
    std::thread::sleep(Duration::from_millis(10));
    let found = std::fs::read_dir("/proc/self/task").unwrap().any(|task| {
        std::fs::read_to_string(task.unwrap().path().join("comm"))
            .is_ok_and(|name| name.trim() == HELPER)
    });
    (std::process::id(), found)
}

/// In a process of its own, where the fork handler stays: registers one
/// that starts a thread in each child, builds a forked pool of three off
/// the main thread (where its second worker forks the third before its
/// job) and says, for each worker, whether it has that thread.
#[process]
fn workers_of_a_pool_whose_fork_handler_starts_a_thread() -> Vec<bool> {
    // SAFETY: registers a child handler that only starts a thread.
    unsafe { libc::pthread_atfork(None, None, Some(start_a_helper_thread)) };
    std::thread::spawn(|| {
        let pool = common::three_workers(StartMethod::Fork).build().unwrap();
        let mut seen = std::collections::HashMap::new();
        while seen.len() < 3 {
            seen.extend(
                pool.map_chunked(has_the_helper_thread, 0..30u64, 1)
                    .unwrap(),
            );
        }
        seen.into_values().collect()
    })
    .join()
    .unwrap()
}

#[test]
#[cfg(target_os = "linux")]
fn a_worker_that_a_fork_handler_gave_a_thread_forks_no_sibling() {
    let found = workers_of_a_pool_whose_fork_handler_starts_a_thread
        .builder()
        .start_method(StartMethod::Spawn)
        .spawn()
        .unwrap()
        .join()
        .unwrap();
    // A sibling forked by a process with another thread would have been
    // cloned without the fork handlers, and without the thread.
    assert_eq!(
        found, [true; 3],
        "a worker came from a raw clone of a threaded process"
    );
}

#[test]
fn restarting_the_fork_server_leaves_no_thread_behind() {
    if !has_fork_server() {
        return;
    }
    let threads = restart_the_fork_server
        .builder()
        .start_method(StartMethod::Spawn)
        .spawn(10)
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(threads, 1, "each restart of the fork server left a thread");
}

#[test]
fn the_fork_server_is_offered_exactly_where_the_system_can_have_one() {
    // Linux's clone(CLONE_PARENT) makes a fork server's children its
    // caller's; the portable backend (macOS) has no such call.
    assert_eq!(has_fork_server(), !common::portable());
    if !has_fork_server() {
        let refused = multiproc::set_start_method(StartMethod::ForkServer).unwrap_err();
        assert!(refused.to_string().contains("fork server"), "{refused}");
        let spawned = read_mark
            .builder()
            .start_method(StartMethod::ForkServer)
            .spawn()
            .err()
            .map(|e| e.to_string());
        assert!(spawned.is_some_and(|e| e.contains("fork server")));
    }
}

#[process]
fn my_start_method() -> String {
    multiproc::get_start_method().name().to_string()
}

/// Sets Fork for this (fresh) program, then asks a spawned child, and
/// that child's own child, which method they use.
#[process]
fn set_fork_and_ask_children() -> (String, String) {
    multiproc::set_start_method(StartMethod::Fork).unwrap();
    let child = spawned(my_start_method.builder());
    let grandchild = spawned(ask_my_child.builder());
    (child, grandchild)
}

#[process]
fn ask_my_child() -> String {
    my_start_method.spawn().unwrap().join().unwrap()
}

#[test]
fn children_use_the_start_method_their_program_set() {
    let (child, grandchild) = spawned(set_fork_and_ask_children.builder());
    assert_eq!(child, "fork");
    assert_eq!(grandchild, "fork");
}

/// In a fresh program with a child of its own, forks with the C library as
/// a user's own code would; returns the active children the program saw,
/// and those its fork's child saw.
#[process]
fn active_children_before_and_after_a_users_fork() -> (usize, i32) {
    let child = nap_then_answer.spawn().unwrap();
    let before = multiproc::active_children().len();
    // SAFETY: the fork's child only reads multiproc's state and leaves with `_exit`.
    let seen = match unsafe { libc::fork() } {
        0 => unsafe { libc::_exit(multiproc::active_children().len() as i32) },
        pid => {
            let mut status = 0;
            // SAFETY: waits for the child just forked.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            libc::WEXITSTATUS(status)
        }
    };
    child.join().unwrap();
    (before, seen)
}

#[test]
fn a_users_own_fork_forgets_its_parents_children() {
    let (before, seen) = spawned(active_children_before_and_after_a_users_fork.builder());
    assert_eq!(before, 1);
    assert_eq!(
        seen, 0,
        "the fork's child listed its parent's children as its own"
    );
}

/// What a child sees of its setup: a variable set, one removed, its
/// directory; and it writes a line to each stream.
#[process]
fn report_setup() -> (Option<String>, bool, std::path::PathBuf) {
    use std::io::Write;
    // Not `println!`: a child forked from a test's thread inherits the
    // test harness's capture of the print macros.
    std::io::stdout().write_all(b"to stdout\n").unwrap();
    std::io::stderr().write_all(b"to stderr\n").unwrap();
    (
        std::env::var("MULTIPROC_TEST_SET").ok(),
        std::env::var_os("PATH").is_some(),
        std::env::current_dir().unwrap(),
    )
}

#[test]
fn a_builder_sets_env_directory_and_streams_under_every_method() {
    use std::io::Read;
    let temp = common::TempDir::new("setup");
    let dir = temp.0.clone();
    for method in methods() {
        let out_path = dir.join(format!("{}.out", method.name()));
        let mut child = report_setup
            .builder()
            .start_method(method)
            .fork_with_threads(true)
            .env("MULTIPROC_TEST_SET", "yes")
            .env_remove("PATH")
            .current_dir(&dir)
            .stdout(multiproc::Stdio::from(
                std::fs::File::create(&out_path).unwrap(),
            ))
            .stderr(multiproc::Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = String::new();
        child
            .take_stderr()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let (set, has_path, cwd) = child.join().unwrap();
        assert_eq!(set.as_deref(), Some("yes"), "{method:?}");
        assert!(!has_path, "{method:?}");
        assert_eq!(cwd, dir, "{method:?}");
        assert_eq!(err, "to stderr\n", "{method:?}");
        assert_eq!(
            std::fs::read_to_string(&out_path).unwrap(),
            "to stdout\n",
            "{method:?}"
        );
    }
}

#[test]
fn a_bad_setup_is_refused_at_spawn() {
    let bad_name = report_setup.builder().env("A=B", "x").spawn().unwrap_err();
    assert!(
        matches!(
            bad_name,
            Error::InvalidArgument {
                argument: "env",
                ..
            }
        ),
        "{bad_name:?}"
    );
    let no_dir = report_setup
        .builder()
        .current_dir("/nonexistent/dir")
        .spawn()
        .unwrap_err();
    assert!(
        matches!(
            no_dir,
            Error::InvalidArgument {
                argument: "current_dir",
                ..
            }
        ),
        "{no_dir:?}"
    );
}

#[process]
fn read_a() -> Option<String> {
    std::env::var("MULTIPROC_TEST_A").ok()
}

/// In a fresh program with a thread that reads the environment without
/// pause: forks children that are given a variable; returns how many of
/// them answered in time.
#[process]
fn fork_with_env_while_a_thread_reads_it() -> u32 {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::hint::black_box(std::env::var_os("HOME"));
            }
        })
    };
    let mut answered = 0;
    for _ in 0..50 {
        let mut child = read_a
            .builder()
            .start_method(StartMethod::Fork)
            .fork_with_threads(true)
            .env("MULTIPROC_TEST_A", "1")
            .spawn()
            .unwrap();
        match child.join_timeout(Duration::from_secs(10)) {
            Ok(Some(Some(value))) if value == "1" => answered += 1,
            _ => {
                let _ = child.kill();
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    reading.join().unwrap();
    answered
}

#[test]
fn a_forked_child_is_given_its_environment_while_another_thread_reads_it() {
    let answered = spawned(fork_with_env_while_a_thread_reads_it.builder());
    assert_eq!(answered, 50);
}

/// In a fresh program: forks with the C library while another thread holds
/// stdout's lock and waits for the fork to be done; returns once it is.
#[process]
fn fork_while_another_thread_holds_stdout() -> bool {
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (forked, forked_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _out = std::io::stdout().lock();
        locked_tx.send(()).unwrap();
        forked_rx.recv().unwrap();
    });
    locked.recv().unwrap();
    // SAFETY: the child leaves at once with `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    forked.send(()).unwrap();
    holder.join().unwrap();
    true
}

#[test]
fn a_users_fork_does_not_wait_for_a_stream_another_thread_holds() {
    let mut helper = fork_while_another_thread_holds_stdout
        .builder()
        .start_method(StartMethod::Spawn)
        .spawn()
        .unwrap();
    let done = helper.join_timeout(Duration::from_secs(20)).unwrap();
    if done.is_none() {
        let _ = helper.kill();
    }
    assert_eq!(done, Some(true), "the fork waited for stdout's lock");
}
