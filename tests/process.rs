//! Behaviour of `#[process]` functions and `Process` handles.

use std::time::{Duration, Instant};

use multiproc::{Error, Process, process};

#[process]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[process]
fn noop() {}

#[process]
fn fail(message: String) -> u8 {
    panic!("{message}")
}

#[process]
fn exit_with(code: i32) {
    std::process::exit(code)
}

#[process]
fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[process]
fn whoami() -> (String, u32, Option<(String, u32)>) {
    let me = multiproc::current_process();
    let parent = multiproc::parent_process().map(|p| (p.name().to_string(), p.pid()));
    (me.name().to_string(), me.pid(), parent)
}

#[process]
fn nested(depth: u32) -> Vec<String> {
    let mut names = vec![multiproc::current_process().name().to_string()];
    if depth > 0 {
        names.extend(nested.spawn(depth - 1).unwrap().join().unwrap());
    }
    names
}

#[process]
fn checksum(data: Vec<u8>) -> (usize, u64) {
    (data.len(), data.iter().map(|&b| u64::from(b)).sum())
}

#[test]
fn spawned_function_returns_its_value() {
    let p: Process<i64> = add.spawn(2, 3).unwrap();
    assert_eq!(p.join().unwrap(), 5);
}

#[test]
fn annotated_function_stays_directly_callable() {
    assert_eq!(add(2, 3), 5);
    let as_pointer: fn(i64, i64) -> i64 = *add;
    assert_eq!(as_pointer(1, 1), 2);
}

#[test]
fn unit_function_joins_with_unit() {
    noop.spawn().unwrap().join().unwrap();
}

#[test]
fn child_panic_comes_back_with_message_and_location() {
    // Its report on stderr is expected: kept out of the test run's output.
    let quiet = fail.builder().stderr(multiproc::Stdio::null());
    let mut p = quiet.spawn("bad input 42".into()).unwrap();
    let err = loop {
        if let Some(result) = p.join_timeout(Duration::from_secs(30)).transpose() {
            break result.unwrap_err();
        }
    };
    let Error::Panicked {
        message,
        location,
        process,
        ..
    } = &err
    else {
        panic!("expected a panic, got {err:?}");
    };
    assert_eq!(message, "bad input 42");
    assert!(location.starts_with("tests/process.rs:"), "{location}");
    assert_eq!(process, p.name());
    assert!(err.to_string().contains("bad input 42"));
    assert_eq!(p.exitcode(), Some(1));
}

#[test]
fn child_exit_code_is_reported() {
    let mut p = exit_with.spawn(3).unwrap();
    let err = p.join_timeout(Duration::from_secs(30)).unwrap_err();
    assert!(matches!(err, Error::Exited { code: 3, .. }), "{err:?}");
    assert!(err.to_string().contains("exited with code 3"));
    assert_eq!(p.exitcode(), Some(3));
}

#[test]
fn killed_child_reports_minus_nine_and_names_the_signal() {
    let mut p = sleep_ms.spawn(60_000).unwrap();
    assert!(p.is_alive());
    assert_eq!(p.exitcode(), None);
    p.kill().unwrap();
    let err = p.join_timeout(Duration::from_secs(30)).unwrap_err();
    assert!(matches!(err, Error::Signaled { signal: 9, .. }), "{err:?}");
    assert!(err.to_string().contains("SIGKILL"), "{err}");
    assert_eq!(p.exitcode(), Some(-9));
    assert!(!p.is_alive());
}

#[test]
fn terminated_child_reports_minus_fifteen() {
    let mut p = sleep_ms.spawn(60_000).unwrap();
    p.terminate().unwrap();
    let err = p.join_timeout(Duration::from_secs(30)).unwrap_err();
    assert!(err.to_string().contains("SIGTERM"), "{err}");
    assert_eq!(p.exitcode(), Some(-15));
    // Signalling a reaped child is a no-op, as in Python.
    p.terminate().unwrap();
    p.kill().unwrap();
}

#[test]
fn join_timeout_returns_none_while_the_child_sleeps() {
    let mut p = sleep_ms.spawn(400).unwrap();
    let started = Instant::now();
    assert_eq!(p.join_timeout(Duration::from_millis(50)).unwrap(), None);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(p.is_alive());
    assert_eq!(p.join_timeout(Duration::from_secs(30)).unwrap(), Some(400));
    assert_eq!(p.exitcode(), Some(0));
    let err = p.join().unwrap_err();
    assert!(matches!(err, Error::AlreadyJoined { .. }), "{err:?}");
}

#[test]
fn processes_are_named_like_python() {
    let p = noop.spawn().unwrap();
    let n: u32 = p.name().strip_prefix("Process-").unwrap().parse().unwrap();
    assert!(n >= 1);
    p.join().unwrap();
    let p = add.builder().name("adder").spawn(1, 2).unwrap();
    assert_eq!(p.name(), "adder");
    assert_eq!(p.join().unwrap(), 3);
}

#[test]
fn child_knows_its_name_pid_and_parent() {
    let p = whoami.builder().name("curious").spawn().unwrap();
    let pid = p.pid();
    let (name, child_pid, parent) = p.join().unwrap();
    assert_eq!(name, "curious");
    assert_eq!(child_pid, pid);
    assert_eq!(
        parent,
        Some(("MainProcess".to_string(), std::process::id()))
    );
    assert_eq!(multiproc::current_process().name(), "MainProcess");
    assert!(multiproc::parent_process().is_none());
}

#[test]
fn active_children_lists_running_children_only() {
    let p = sleep_ms.builder().name("listed").spawn(60_000).unwrap();
    let listed = multiproc::active_children();
    assert!(
        listed
            .iter()
            .any(|c| c.pid() == p.pid() && c.name() == "listed")
    );
    p.kill().unwrap();
    let pid = p.pid();
    let _ = p.join();
    assert!(!multiproc::active_children().iter().any(|c| c.pid() == pid));
}

#[test]
fn children_can_spawn_children() {
    let names = nested.spawn(2).unwrap().join().unwrap();
    assert_eq!(names.len(), 3);
    assert!(names[1].starts_with(&format!("{}:", names[0])), "{names:?}");
    assert!(names[2].starts_with(&format!("{}:", names[1])), "{names:?}");
}

#[test]
fn sixteen_mebibyte_argument_round_trips() {
    let data: Vec<u8> = (0..16 << 20).map(|i: u32| (i % 251) as u8).collect();
    let expected = (data.len(), data.iter().map(|&b| u64::from(b)).sum());
    assert_eq!(checksum.spawn(data).unwrap().join().unwrap(), expected);
}

#[test]
fn dropping_a_daemon_handle_terminates_the_child() {
    let p = sleep_ms.builder().daemon(true).spawn(60_000).unwrap();
    let pid = p.pid();
    let started = Instant::now();
    drop(p);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!multiproc::active_children().iter().any(|c| c.pid() == pid));
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn dropping_a_non_daemon_handle_waits_for_the_child() {
    let p = sleep_ms.spawn(200).unwrap();
    let pid = p.pid();
    let started = Instant::now();
    drop(p);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn errors_work_with_question_mark_and_box_dyn_error() {
    fn run() -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
        Ok(add.spawn(20, 22)?.join()?)
    }
    assert_eq!(run().unwrap(), 42);
    let err: Box<dyn std::error::Error> = Box::new(
        fail.builder()
            .stderr(multiproc::Stdio::null())
            .spawn("x".into())
            .unwrap()
            .join()
            .unwrap_err(),
    );
    assert!(err.to_string().starts_with("process `Process-"));
}

/// In a fresh program: asks for the child named `debug-me` to wait for a
/// debugger, and returns whether it was seen stopped before its work, and
/// its value once continued.
#[process]
fn a_child_waiting_for_a_debugger() -> (bool, i64) {
    // SAFETY: set before this program starts any thread of its own that reads it.
    unsafe { std::env::set_var("MULTIPROC_WAIT_FOR_DEBUGGER", "someone-else,debug-me") };
    let quiet = add
        .builder()
        .name("debug-me")
        .stderr(multiproc::Stdio::null());
    let child = quiet.spawn(2, 3).unwrap();
    let stat = format!("/proc/{}/stat", child.pid());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stopped = false;
    while !stopped && Instant::now() < deadline {
        let state = std::fs::read_to_string(&stat).unwrap_or_default();
        stopped = state
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'));
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: signals the child, which is not reaped yet.
    unsafe { libc::kill(child.pid() as i32, libc::SIGCONT) };
    (stopped, child.join().unwrap())
}

#[test]
fn a_child_named_in_the_debugger_variable_stops_before_its_work_until_continued() {
    let (stopped, value) = a_child_waiting_for_a_debugger
        .spawn()
        .unwrap()
        .join()
        .unwrap();
    assert!(stopped, "the child was never seen stopped");
    assert_eq!(value, 5);
}

fn first_nested() -> u32 {
    #[process]
    fn helper() -> u32 {
        1
    }
    helper.spawn().unwrap().join().unwrap()
}

fn second_nested() -> u32 {
    #[process]
    fn helper() -> u32 {
        2
    }
    helper.spawn().unwrap().join().unwrap()
}

#[test]
fn nested_functions_of_one_name_in_one_module_each_run_their_own_body() {
    assert_eq!((first_nested(), second_nested()), (1, 2));
}

static GREETING: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[process]
fn set_greeting(greeting: String) {
    assert!(!greeting.is_empty(), "no greeting");
    GREETING.set(greeting).unwrap();
}

#[process]
fn greet(name: String) -> String {
    format!(
        "{}, {name}",
        GREETING.get().expect("the initializer ran first")
    )
}

#[test]
fn an_initializer_runs_in_the_child_before_the_function() {
    let builder = greet.builder().initializer(set_greeting, ("hello".into(),));
    assert_eq!(
        builder.spawn("ann".into()).unwrap().join().unwrap(),
        "hello, ann"
    );
    // The builder starts another child the same way.
    assert_eq!(
        builder.spawn("bob".into()).unwrap().join().unwrap(),
        "hello, bob"
    );
}

#[test]
fn a_failing_initializer_is_the_processs_error_and_the_function_does_not_run() {
    let err = greet
        .builder()
        .initializer(set_greeting, (String::new(),))
        .stderr(multiproc::Stdio::null())
        .spawn("ann".into())
        .unwrap()
        .join()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Panicked { message, .. } if message == "no greeting"),
        "{err:?}"
    );
}
