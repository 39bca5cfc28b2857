//! Failure paths of starting and losing processes: bad handshakes, duplicate
//! registrations, a parent killed with SIGKILL.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;

use common::{is_running, portable, socket_dirs};
use multiproc::{Error, process};

#[process]
fn noop() {}

#[process(key = "tests::same_key")]
fn first() -> u8 {
    1
}

#[process(key = "tests::same_key")]
fn second() -> u8 {
    2
}

/// Spawns a sleeping grandchild, reports its pid through `pid_file`, then sleeps.
#[process]
fn parent_of_sleeper(pid_file: PathBuf) {
    let grandchild = sleeper.spawn().unwrap();
    std::fs::write(&pid_file, grandchild.pid().to_string()).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[process]
fn sleeper() {
    std::thread::sleep(Duration::from_secs(600));
}

/// An executable script, removed when dropped (even by a failing test).
struct Script(PathBuf);

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes an executable from a shell of its own (`command` with the path as
/// `$1`, given `input`): a descriptor open for writing in this process would
/// leak into children that other tests fork meanwhile, and `exec` of a file
/// open for writing fails with ETXTBSY (seen in CI).
fn executable(name: &str, command: &str, input: &str) -> Script {
    let path = std::env::temp_dir().join(format!("multiproc-test-{}-{name}", std::process::id()));
    let mut writer = std::process::Command::new("sh")
        .args(["-c", &format!("{command} && chmod 700 \"$1\""), "sh"])
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = writer.stdin.as_mut().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(writer.stdin.take());
    assert!(writer.wait().unwrap().success());
    Script(path)
}

fn script(name: &str, body: &str) -> Script {
    executable(name, "cat > \"$1\"", &format!("#!/bin/sh\n{body}\n"))
}

#[test]
fn child_that_exits_during_start_up_fails_the_spawn() {
    let err = noop.builder().executable("/bin/true").spawn().unwrap_err();
    assert!(matches!(err, Error::Handshake { .. }), "{err:?}");
    assert!(err.to_string().contains("exited during start-up"), "{err}");
}

#[test]
fn child_that_never_reports_times_out() {
    let hang = script("hang", "exec sleep 60");
    let started = Instant::now();
    let err = noop
        .builder()
        .executable(&hang.0)
        .handshake_timeout(Duration::from_millis(300))
        .spawn()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains("did not report within"), "{err}");
    let Error::Handshake { pid, .. } = err else {
        unreachable!()
    };
    assert!(!is_running(pid), "the hung child was not killed");
    drop(hang);
}

#[test]
fn an_impostor_with_a_wrong_token_is_ignored_and_the_spawn_times_out() {
    // Connects to the bootstrap socket, sends a garbage frame, then hangs.
    // An address that starts with @ names a socket in Linux's abstract
    // namespace, which Python writes with a zero byte.
    let impostor = script(
        "impostor",
        "exec python3 -c \"import os, socket, time; s = socket.socket(socket.AF_UNIX); \
         a = os.environ['MULTIPROC_BOOTSTRAP_ADDR']; \
         s.connect(chr(0) + a[1:] if a.startswith('@') else a); \
         s.send(bytes([5, 0, 0, 0, 0, 0, 0, 0]) + b'hello'); time.sleep(60)\"",
    );
    let started = Instant::now();
    let err = noop
        .builder()
        .executable(&impostor.0)
        .handshake_timeout(Duration::from_millis(1500))
        .spawn()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.to_string().contains("did not report within"), "{err}");
    drop(impostor);
}

/// Runs `noop` with the Spawn method, whatever the program's default: its
/// handshake is what listens in the socket directory, which a forked child
/// does not need.
fn spawn_noop() {
    noop.builder()
        .start_method(multiproc::StartMethod::Spawn)
        .spawn()
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn the_socket_directory_is_private_where_sockets_are_files() {
    use std::os::unix::fs::MetadataExt;
    spawn_noop();
    let dirs = socket_dirs(std::process::id());
    // On Linux, sockets are names in the abstract namespace: no directory.
    assert_eq!(dirs.is_empty(), !portable());
    for dir in dirs {
        assert_eq!(std::fs::metadata(dir).unwrap().mode() & 0o777, 0o700);
    }
}

/// Leads a process group, with Ctrl-C's default action (it runs no exit
/// handler), spawns a child and starts a manager, sets `ready`, and sleeps.
#[multiproc::process]
fn spawn_and_manage_then_sleep(ready: multiproc::Event) {
    // SAFETY: plain system calls on this child's own state.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        assert_eq!(libc::setpgid(0, 0), 0);
    }
    spawn_noop();
    let _manager = multiproc::Manager::start().unwrap();
    ready.set();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn ctrl_c_or_sigkill_leaves_nothing_in_the_temporary_directory_on_linux() {
    if portable() {
        // Socket files there: the next process of this user removes them.
        return;
    }
    for signal in [libc::SIGINT, libc::SIGKILL] {
        let ready = multiproc::Event::new().unwrap();
        let program = spawn_and_manage_then_sleep.spawn(ready.clone()).unwrap();
        assert!(ready.wait_timeout(Duration::from_secs(30)));
        let pid = program.pid();
        // SAFETY: signals the process group the program leads, as a terminal would.
        assert_eq!(unsafe { libc::killpg(pid as libc::pid_t, signal) }, 0);
        assert!(program.join().is_err());
        assert_eq!(socket_dirs(pid), Vec::<PathBuf>::new(), "signal {signal}");
    }
}

#[test]
fn missing_executable_fails_the_spawn() {
    let err = noop
        .builder()
        .executable("/nonexistent/multiproc")
        .spawn()
        .unwrap_err();
    assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/multiproc"), "{err}");
}

#[test]
fn duplicate_registration_keys_are_reported_at_spawn() {
    assert_eq!(first(), 1);
    assert_eq!(second(), 2);
    let err = first.spawn().unwrap_err();
    assert!(
        matches!(err, Error::DuplicateKey { count: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("tests::same_key"), "{err}");
}

#[test]
fn children_die_within_a_second_of_their_parent_being_killed() {
    let pid_file = std::env::temp_dir().join(format!("multiproc-test-{}-pid", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let parent = parent_of_sleeper.spawn(pid_file.clone()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let grandchild: u32 = loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file)
            && let Ok(pid) = text.parse()
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the grandchild never reported");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(is_running(grandchild));
    parent.kill().unwrap();
    let killed = Instant::now();
    while is_running(grandchild) && killed.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        !is_running(grandchild),
        "the grandchild outlived its parent"
    );
    assert!(parent.join().is_err());
    std::fs::remove_file(pid_file).unwrap();
}

#[multiproc::process]
fn spawn_one_and_report_dirs() -> Vec<PathBuf> {
    let started = std::time::SystemTime::now() - Duration::from_secs(1);
    spawn_noop();
    // Only this process's own: a killed process that had the same pid
    // before may have left one behind.
    socket_dirs(std::process::id())
        .into_iter()
        .filter(|dir| {
            std::fs::metadata(dir)
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= started)
        })
        .collect()
}

#[test]
fn socket_directory_is_removed_when_its_process_exits() {
    if !portable() {
        // No directory on Linux (see above).
        return;
    }
    let dirs = spawn_one_and_report_dirs.spawn().unwrap().join().unwrap();
    assert!(!dirs.is_empty(), "the child made no socket directory");
    for dir in dirs {
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
}

/// Makes its socket directory (by spawning a child), says so, then sleeps.
#[multiproc::process]
fn make_a_socket_dir_and_sleep(ready: multiproc::Event) {
    spawn_noop();
    ready.set();
    std::thread::sleep(Duration::from_secs(600));
}

#[multiproc::process]
fn make_a_socket_dir() {
    spawn_noop();
}

#[test]
fn socket_directories_of_killed_processes_do_not_pile_up() {
    if !portable() {
        // No directory on Linux (see above).
        return;
    }
    let ready = multiproc::Event::new().unwrap();
    let victim = make_a_socket_dir_and_sleep.spawn(ready.clone()).unwrap();
    assert!(ready.wait_timeout(Duration::from_secs(30)));
    let pid = victim.pid();
    victim.kill().unwrap();
    assert!(victim.join().is_err());
    // SIGKILL runs no exit handler: the directory stays behind...
    assert!(
        !socket_dirs(pid).is_empty(),
        "the killed process made no directory"
    );
    // ...until the next process of this user makes its own.
    make_a_socket_dir.spawn().unwrap().join().unwrap();
    assert_eq!(
        socket_dirs(pid),
        Vec::<PathBuf>::new(),
        "a dead process's directory stayed"
    );
}

#[multiproc::process]
fn seven() -> u32 {
    7
}

fn spawn_seven() -> Result<u32, Error> {
    seven
        .builder()
        .start_method(multiproc::StartMethod::Spawn)
        .spawn()?
        .join()
}

/// Re-runs this test binary from a copy, as the helper below; the copy
/// replaces its own file on disk between two spawns, as a deploy would.
#[test]
fn a_program_whose_binary_was_replaced_on_disk_still_spawns_children() {
    const HELPER: &str = "MULTIPROC_TEST_REPLACED_BINARY";
    if let Some(path) = std::env::var_os(HELPER) {
        assert_eq!(spawn_seven().unwrap(), 7);
        // Another file takes the binary's place, as `mv new-build old-path` does.
        let other = PathBuf::from(&path).with_extension("new");
        std::fs::copy("/bin/true", &other).unwrap();
        std::fs::rename(&other, &path).unwrap();
        println!("after the replacement: {:?}", spawn_seven());
        return;
    }
    let this = std::env::current_exe().unwrap();
    let copy = executable("replaced", &format!("cp '{}' \"$1\"", this.display()), "");
    let output = std::process::Command::new(&copy.0)
        .args([
            "a_program_whose_binary_was_replaced_on_disk_still_spawns_children",
            "--exact",
            "--nocapture",
        ])
        .env(HELPER, &copy.0)
        .output()
        .unwrap();
    drop(copy);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("after the replacement: Ok(7)"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// With SIGCHLD ignored, as many servers and daemons do: what join, is_alive
/// and exitcode say of a child that answers, and of one that is killed.
#[multiproc::process]
fn with_sigchld_ignored() -> (String, bool, Option<i32>, String) {
    // SAFETY: sets a disposition in this single-threaded child.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let mut answering = seven
        .builder()
        .start_method(multiproc::StartMethod::Spawn)
        .spawn()
        .unwrap();
    let value = format!("{:?}", answering.join_timeout(Duration::from_secs(20)));
    let killed = sleeper
        .builder()
        .start_method(multiproc::StartMethod::Spawn)
        .spawn()
        .unwrap();
    killed.kill().unwrap();
    let killed = format!("{:?}", killed.join());
    (value, answering.is_alive(), answering.exitcode(), killed)
}

#[test]
fn a_program_that_ignores_sigchld_still_joins_its_children() {
    let (value, alive, exitcode, killed) = with_sigchld_ignored.spawn().unwrap().join().unwrap();
    assert_eq!(value, "Ok(Some(7))");
    assert!(!alive, "a child reaped by the system still looked alive");
    assert_eq!(exitcode, Some(0));
    assert!(killed.starts_with("Err(StatusLost"), "{killed}");
}

#[multiproc::process]
fn recurse_for_ever(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse_for_ever(depth + 1) + frame[0]
}

#[test]
fn a_spawned_childs_stack_overflow_is_reported_as_one() {
    use std::io::Read;
    let mut child = recurse_for_ever
        .builder()
        .start_method(multiproc::StartMethod::Spawn)
        .stderr(multiproc::Stdio::piped())
        .spawn(0)
        .unwrap();
    let mut said = String::new();
    child
        .take_stderr()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    let err = child.join().unwrap_err();
    assert!(said.contains("has overflowed its stack"), "{said:?}");
    assert!(matches!(err, Error::Signaled { signal: 6, .. }), "{err:?}");
}

/// Prints, then answers.
#[process]
fn print_and_answer() -> u64 {
    println!("printed by a child whose parent had closed its stdout");
    42
}

/// Closes its stdout, then starts a child that inherits it closed.
#[process]
fn close_stdout_and_start_a_printer() -> String {
    // SAFETY: nothing in this process writes to its stdout again.
    unsafe { libc::close(1) };
    let answer = print_and_answer
        .builder()
        .start_method(multiproc::StartMethod::Spawn)
        .spawn()
        .and_then(|child| child.join());
    match answer {
        Ok(answer) => answer.to_string(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_child_started_with_stdout_closed_prints_nothing_into_its_connection() {
    // Its connection would take the closed number, and what it prints
    // would reach its parent as a garbled message.
    let answer = close_stdout_and_start_a_printer
        .spawn()
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(answer, "42");
}
