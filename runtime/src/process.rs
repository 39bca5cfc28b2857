//! Child processes: [`Process`], its builder, and the process-wide queries
//! (`current_process`, `parent_process`, `active_children`, `cpu_count`).

use std::ffi::OsString;
use std::io::PipeReader;
use std::marker::PhantomData;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::bootstrap::identity::ProcessInfo;
use crate::bootstrap::identity::Identity;
use crate::bootstrap::setup::{Pipes, Stdio};
use crate::bootstrap::start::Role;
use crate::bootstrap::{self, CallSpec, Job, Launch, OsChild, Start};
use crate::error::{Error, Result};
use crate::sys;
use crate::sys::process::Signal;
use crate::wire::{self, Conn};

/// What a child said before it ended.
enum Heard {
    /// Its outcome frame, and the descriptors that came beside it.
    Answered((Vec<u8>, Vec<std::os::fd::OwnedFd>)),
    /// It hung up without an outcome.
    HungUp,
}

static SPAWNED: AtomicU32 = AtomicU32::new(0);
/// Children started by this process and not yet reaped.
static CHILDREN: Mutex<Vec<ProcessInfo>> = Mutex::new(Vec::new());

// A forked child's children, and its count of them, start afresh.
crate::forking::fork_hook!(
    CHILDREN_FORK,
    order: 40,
    holds: std::sync::MutexGuard<'static, Vec<ProcessInfo>> = lock_children(),
    forget: || {
        SPAWNED.store(0, Ordering::Relaxed);
        lock_children().clear();
    },
);

/// The process this code runs in: `"MainProcess"` unless it was started by multiproc.
///
/// # Examples
///
/// ```
/// println!("{} has pid {}", multiproc::current_process().name(), std::process::id());
/// ```
///
/// Python: `multiprocessing.current_process()`.
pub fn current_process() -> ProcessInfo {
    bootstrap::identity::current()
}

/// The process that started this one, or `None` in the main process.
///
/// # Examples
///
/// ```
/// assert!(multiproc::parent_process().is_none());
/// ```
///
/// Python: `multiprocessing.parent_process()`.
pub fn parent_process() -> Option<ProcessInfo> {
    bootstrap::identity::parent()
}

/// The children of this process that are still running.
///
/// # Examples
///
/// ```
/// assert!(multiproc::active_children().is_empty());
/// ```
///
/// Python: `multiprocessing.active_children()`.
pub fn active_children() -> Vec<ProcessInfo> {
    lock_children()
        .iter()
        .filter(|c| peek_exit(c.pid()).is_none())
        .cloned()
        .collect()
}

/// The number of CPUs this process may use.
///
/// # Examples
///
/// ```
/// assert!(multiproc::cpu_count() >= 1);
/// ```
///
/// Python: `multiprocessing.cpu_count()` (more exactly `os.process_cpu_count()`,
/// since CPU affinity and cgroup quotas are taken into account).
pub fn cpu_count() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

/// Python's exit code of a process that has ended and not been reaped, without reaping it.
fn peek_exit(pid: u32) -> Option<i32> {
    sys::process::peek(sys::process::pid(pid)?)
        .ok()?
        .map(exitcode_of)
}

/// Python's exit code: the code, or minus the signal that killed the process.
fn exitcode_of(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| -s))
        .unwrap_or(-1)
}

/// How a reaped child ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ended {
    Status(ExitStatus),
    /// The system reaped it, since this program ignores SIGCHLD: the status is lost.
    Lost,
    /// It ran elsewhere (an MPI rank), where its backend knows how it ended.
    Remote,
}

/// Options for starting a process; made by `my_fn.builder()`.
///
/// # Examples
///
/// ```
/// use multiproc::process;
///
/// #[process]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let p = add.builder().name("adder").daemon(true).spawn(2, 3)?;
/// assert_eq!(p.name(), "adder");
/// assert_eq!(p.join()?, 5);
/// # Ok(())
/// # }
/// ```
///
/// Python: the keyword arguments of `multiprocessing.Process(...)`.
#[derive(Debug)]
#[must_use = "a builder starts nothing until `spawn`"]
pub struct ProcessBuilder<Args, R> {
    key: &'static str,
    name: Option<String>,
    /// Run in the child before the function.
    initializer: Option<Result<CallSpec>>,
    daemon: bool,
    launch: Launch,
    _signature: PhantomData<fn(Args) -> R>,
}

impl<Args: Serialize, R> ProcessBuilder<Args, R> {
    pub(crate) fn new(key: &'static str) -> Self {
        ProcessBuilder {
            key,
            name: None,
            initializer: None,
            daemon: false,
            launch: Launch::default(),
            _signature: PhantomData,
        }
    }

    /// Names the process; the default is `Process-N`, like Python.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = noop.builder().name("worker").spawn()?;
    /// assert_eq!(p.name(), "worker");
    /// # p.join()
    /// # }
    /// ```
    ///
    /// Python: `Process(name="worker")`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Marks the process as a daemon: dropping its handle terminates it instead of waiting for it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = noop.builder().daemon(true).spawn()?;
    /// assert!(p.daemon());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `Process(daemon=True)`.
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// Runs another executable as the child; it must link multiproc and hold
    /// the same function. Implies [`StartMethod::Spawn`](crate::StartMethod::Spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let exe = std::env::current_exe().unwrap();
    /// noop.builder().executable(exe).spawn()?.join()
    /// # }
    /// ```
    ///
    /// Python: `multiprocessing.set_executable(path)`.
    pub fn executable(mut self, path: impl Into<PathBuf>) -> Self {
        self.launch.executable = Some(path.into());
        self
    }

    /// How long the child may take to start and report; 10 seconds by default.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// use std::time::Duration;
    /// noop.builder().handshake_timeout(Duration::from_secs(2)).spawn()?.join()
    /// # }
    /// ```
    ///
    /// Python: no equivalent; Python waits forever for a child that never starts.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.launch.handshake_timeout = timeout;
        self
    }

    /// Starts this process by `method` instead of the program's default
    /// ([`get_start_method`](crate::get_start_method)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{StartMethod, process};
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// noop.builder().start_method(StartMethod::Fork).spawn()?.join()
    /// # }
    /// ```
    ///
    /// Python: `multiprocessing.get_context("fork").Process(...)`.
    pub fn start_method(mut self, method: crate::StartMethod) -> Self {
        self.launch.method = Some(method);
        self
    }

    /// Lets [`StartMethod::Fork`](crate::StartMethod::Fork) fork while other
    /// threads run. The child gets only the calling thread: a lock another
    /// thread held at that moment stays locked in the child for ever.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{StartMethod, process};
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let busy = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
    /// let p = noop
    ///     .builder()
    ///     .start_method(StartMethod::Fork)
    ///     .fork_with_threads(true)
    ///     .spawn()?;
    /// p.join()?;
    /// # busy.join().unwrap();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: forks with threads, and warns (`DeprecationWarning`) since 3.12.
    pub fn fork_with_threads(mut self, allow: bool) -> Self {
        self.launch.fork_with_threads = allow;
        self
    }

    /// Runs `task(args)` in the child before the function: to set up a
    /// logger, say, which a spawned child does not inherit from `main`. If
    /// it panics or fails, the function does not run, and `join` returns its
    /// error.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiproc::process;
    ///
    /// static LEVEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ///
    /// #[process]
    /// fn set_up(level: String) {
    ///     LEVEL.set(level).unwrap();
    /// }
    ///
    /// #[process]
    /// fn current_level() -> Option<String> {
    ///     LEVEL.get().cloned()
    /// }
    ///
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = current_level.builder().initializer(set_up, ("debug".into(),)).spawn()?;
    /// assert_eq!(p.join()?.as_deref(), Some("debug"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: none for a `Process` (a `Pool` has `initializer=`).
    pub fn initializer<T: crate::PoolTask>(mut self, task: T, args: T::Args) -> Self {
        let key = task.key();
        self.initializer = Some(bootstrap::lookup(key).and_then(|_| CallSpec::new(key, &args)));
        self
    }

    /// Sets the environment variable `key` to `value` in the child. Like
    /// every setting below, the child makes it itself before its function
    /// runs, under every start method (so after its constructors, when spawned).
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::InvalidArgument`] for a name that is empty or
    /// holds `=` or NUL, or a value that holds NUL.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// #[process]
    /// fn mode() -> Option<String> {
    ///     std::env::var("MODE").ok()
    /// }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = mode.builder().env("MODE", "fast").spawn()?;
    /// assert_eq!(p.join()?.as_deref(), Some("fast"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: none in `multiprocessing` (a child sets `os.environ`);
    /// `subprocess.Popen(env=...)`.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.launch.setup.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes the environment variable `key` in the child.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn home() -> Option<String> { std::env::var("HOME").ok() }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = home.builder().env_remove("HOME").spawn()?;
    /// assert_eq!(p.join()?, None);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `del os.environ[key]` in the child.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.launch.setup.env.push((key.into(), None));
        self
    }

    /// Starts the child with no environment variables but those set with
    /// [`env`](ProcessBuilder::env).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn count() -> usize { std::env::vars_os().count() }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = count.builder().env_clear().env("ONLY", "1").spawn()?;
    /// assert_eq!(p.join()?, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `subprocess.Popen(env={...})`.
    pub fn env_clear(mut self) -> Self {
        self.launch.setup.env.clear();
        self.launch.setup.env_clear = true;
        self
    }

    /// Runs the child in the directory `dir`.
    ///
    /// # Errors
    ///
    /// At `spawn`: [`Error::InvalidArgument`] if `dir` is not a directory.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn cwd() -> std::path::PathBuf { std::env::current_dir().unwrap() }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = cwd.builder().current_dir("/").spawn()?;
    /// assert_eq!(p.join()?, std::path::PathBuf::from("/"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `os.chdir` in the child; `subprocess.Popen(cwd=...)`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.launch.setup.current_dir = Some(dir.into());
        self
    }

    /// Where the child's stdout goes: the parent's (the default), nowhere, a
    /// file, or a pipe the parent reads ([`Process::take_stdout`]).
    ///
    /// # Examples
    ///
    /// See [`Stdio`].
    ///
    /// Python: `subprocess.Popen(stdout=...)`.
    pub fn stdout(mut self, to: Stdio) -> Self {
        self.launch.setup.stdout = to;
        self
    }

    /// Where the child's stderr goes, as [`stdout`](ProcessBuilder::stdout).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{process, Stdio};
    /// # #[process] fn fail() { panic!("quietly") }
    /// let p = fail.builder().stderr(Stdio::null()).spawn()?;
    /// assert!(p.join().is_err());
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `subprocess.Popen(stderr=...)`.
    pub fn stderr(mut self, to: Stdio) -> Self {
        self.launch.setup.stderr = to;
        self
    }

    pub(crate) fn spawn_args(&self, args: &Args) -> Result<Process<R>> {
        bootstrap::lookup(self.key)?;
        let (initializer, mut fds) = match &self.initializer {
            Some(init) => {
                // The builder may spawn again, so its error is told, not given away.
                let init = init.as_ref().map_err(|e| Error::Initializer {
                    source: Box::new(Error::Codec {
                        what: "prepare the initializer".into(),
                        reason: e.to_string(),
                    }),
                })?;
                let (init, fds) = init.try_clone()?.split_fds();
                (Some((init, fds.len())), fds)
            }
            None => (None, Vec::new()),
        };
        let (call, call_fds) = CallSpec::new(self.key, args)?.split_fds();
        fds.extend(call_fds);
        let calls = bootstrap::Calls { initializer, call };
        let job = Job::new(&bootstrap::CALL, &calls, fds)?;
        let child = ChildProc::start(job, self.name.clone(), "Process", &self.launch)?;
        Ok(Process {
            child,
            daemon: self.daemon,
            _result: PhantomData,
        })
    }
}

/// A child being forked beside another (`ChildProc::start_beside`), whose
/// pid is not known yet, or, under the fork server, the carrier, not asked
/// for yet. Dropped unstarted, it is killed and reaped as soon as its pid
/// comes, so that it is never left a zombie (a carrier not asked for is
/// never forked); so is one given up for not saying its pid in time
/// ([`give_up_sibling`]).
pub(crate) struct Forking {
    conn: Option<Conn>,
    name: String,
    timeout: Duration,
    /// Whether it is the carrier of `start_children`, which waits for a
    /// go (under `Fork`) or is still to be asked for (under the fork
    /// server); taken when it starts.
    role: Role,
}

impl Forking {
    /// Asks the fork server for a deferred carrier, or waits for the
    /// child's first message, its pid (a child that was not forked hangs up
    /// instead), and tells a parked one to go on.
    pub(crate) fn started(mut self) -> Result<ChildProc> {
        // Taken first: a child that does not answer in time is not waited
        // for again on drop.
        let conn = self.conn.take().ok_or(Error::Disconnected)?;
        let name = std::mem::take(&mut self.name);
        let role = std::mem::replace(&mut self.role, Role::Sibling);
        if let Role::Deferred(deferred) = role {
            let child = deferred.fork()?;
            return Ok(ChildProc::started(child, conn, Pipes::default(), name));
        }
        let (pid, mut conn) = forked_pid(conn, self.timeout)?;
        if matches!(role, Role::Parked) && let Err(e) = conn.send(&()) {
            OsChild::from_pid(pid).kill_and_reap();
            return Err(e);
        }
        Ok(ChildProc::started(
            OsChild::from_pid(pid),
            conn,
            Pipes::default(),
            name,
        ))
    }
}

/// The pid a forked sibling says first on `conn`, within `timeout`, and
/// the connection; past that, the sibling is given up.
fn forked_pid(mut conn: Conn, timeout: Duration) -> Result<(u32, Conn)> {
    if !conn.wait_readable(Some(timeout))? {
        give_up_sibling(conn);
        return Err(Error::Timeout(timeout));
    }
    Ok((conn.recv::<u32>()?, conn))
}

/// Stops waiting for a sibling that has not said its pid. Its forker takes
/// the end of writing on `conn` as the sign to leave it unforked (a parked
/// carrier, as the sign to exit); but it may have looked just before, and
/// fork it all the same. So `conn` stays open
/// for reading, for a thread of its own to kill and reap that sibling once
/// it says its pid, rather than leave it a zombie nobody knows; the thread
/// ends at the end of the stream, which comes once the forker has passed
/// the sibling by, or died.
fn give_up_sibling(mut conn: Conn) {
    conn.close_write();
    // Counted before it starts, so that a fork right after sees it as ours.
    let own = bootstrap::start::OwnThread::enter();
    let _ = thread::Builder::new()
        .name("multiproc-reaper".into())
        .stack_size(64 << 10)
        .spawn(move || {
            let _own = own;
            if let Ok(pid) = conn.recv::<u32>() {
                OsChild::from_pid(pid).kill_and_reap();
            }
        });
}

impl Drop for Forking {
    fn drop(&mut self) {
        // A deferred carrier was never forked: dropping it closes its end.
        if matches!(self.role, Role::Deferred(_)) {
            return;
        }
        // It answers within microseconds of its fork, or was never forked.
        if let Some(conn) = self.conn.take()
            && let Ok((pid, _)) = forked_pid(conn, self.timeout)
        {
            OsChild::from_pid(pid).kill_and_reap();
        }
    }
}

/// The identity of this process's next child, named `name` or
/// `<prefix>-N` like Python.
fn next_identity(name: Option<String>, prefix: &str) -> Identity {
    Identity::child(name, prefix, SPAWNED.fetch_add(1, Ordering::Relaxed) + 1)
}

/// How long `reap_answered` spins before it sleeps.
const EXIT_SPIN: Duration = Duration::from_micros(200);

/// One started child: its OS handle, its connection, and its reaping.
#[derive(Debug)]
pub(crate) struct ChildProc {
    child: OsChild,
    pub(crate) conn: Conn,
    /// The reading ends of the child's piped streams.
    pipes: Pipes,
    name: String,
    /// Set once the child has been reaped.
    status: Option<Ended>,
    /// The exit code a child that sent its outcome exits with (0 if its
    /// function returned, 1 if not), for when its status is lost.
    answered: Option<i32>,
}

impl ChildProc {
    /// Starts a child for `job`, named `name` or `<prefix>-N` like Python.
    pub(crate) fn start(
        job: Job,
        name: Option<String>,
        prefix: &str,
        launch: &Launch,
    ) -> Result<ChildProc> {
        let identity = next_identity(name, prefix);
        let name = identity.name().to_owned();
        let (given, fds, pipes) = launch.setup.prepare()?;
        let start = Start::new(job, identity).with_setup(given, fds);
        let (child, conn) = crate::bootstrap::start::start_child(launch, &start)?;
        // The writing ends are the child's alone, so that its end is the pipes' end.
        drop(start);
        let name = child.remote_name().map_or(name, str::to_owned);
        Ok(ChildProc::started(child, conn, pipes, name))
    }

    /// Starts `1 + siblings` children for `job`, named `<prefix>-N`, at the
    /// cost of two: the second forks the others once it starts
    /// ([`Forking::started`], `start_children`). For a `launch` that
    /// `can_start_beside` and gives its children no pipes.
    pub(crate) fn start_beside(
        job: Job,
        prefix: &str,
        launch: &Launch,
        siblings: usize,
    ) -> Result<(ChildProc, Vec<Forking>)> {
        let identity = next_identity(None, prefix);
        let identities: Vec<_> = (0..siblings).map(|_| next_identity(None, prefix)).collect();
        let names: Vec<_> = identities.iter().map(|i| i.name().to_owned()).collect();
        let name = identity.name().to_owned();
        let (given, fds, pipes) = launch.setup.prepare()?;
        debug_assert!(pipes.stdout.is_none() && pipes.stderr.is_none());
        let start = Start::new(job, identity).with_setup(given, fds);
        let (child, conn, conns) =
            crate::bootstrap::start::start_children(launch, start, identities)?;
        let forking = conns
            .into_iter()
            .zip(names)
            .map(|(beside, name)| Forking {
                conn: Some(beside.conn),
                name,
                timeout: launch.handshake_timeout,
                role: beside.role,
            })
            .collect();
        Ok((ChildProc::started(child, conn, pipes, name), forking))
    }

    fn started(child: OsChild, conn: Conn, pipes: Pipes, name: String) -> ChildProc {
        match child.pid() {
            Some(pid) => {
                log::debug!("{name} started (pid {pid})");
                lock_children().push(ProcessInfo::new(name.clone(), pid));
            }
            None if child.relayed() => log::debug!("{name} attached, through a relay"),
            None => log::debug!("{name} attached"),
        }
        ChildProc {
            child,
            conn,
            pipes,
            name,
            status: None,
            answered: None,
        }
    }

    /// The exit code; `None` while the child runs, or if it ended without
    /// answering and its status is lost.
    pub(crate) fn exitcode(&self) -> Option<i32> {
        match self.status {
            Some(Ended::Status(status)) => Some(exitcode_of(status)),
            Some(Ended::Lost | Ended::Remote) => self.answered,
            None => self.child.pid().and_then(peek_exit),
        }
    }

    /// The child's pid, if it is a process of this machine.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.pid()
    }

    /// The child's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether its messages pass through a relay (an MPI rank elsewhere).
    pub(crate) fn relayed(&self) -> bool {
        self.child.relayed()
    }

    /// Whether the child has ended (reaped or not).
    pub(crate) fn has_ended(&self) -> bool {
        self.status.is_some() || self.child.has_ended()
    }

    /// Records that the child sent an outcome saying whether its function returned.
    pub(crate) fn answered(&mut self, returned: bool) {
        self.answered = Some(i32::from(!returned));
    }

    pub(crate) fn is_reaped(&self) -> bool {
        self.status.is_some()
    }

    /// Sends `signal` unless the child has been reaped (so its pid cannot have been reused).
    pub(crate) fn signal(&self, signal: Signal) -> Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        self.child
            .signal(signal)
            .map_err(Error::io("sending a signal"))
    }

    /// Waits for the child to end, once; later calls return the same status.
    pub(crate) fn reap(&mut self) -> Result<Ended> {
        if let Some(ended) = self.status {
            return Ok(ended);
        }
        let ended = match self
            .child
            .wait()
            .map_err(Error::io("waiting for a child"))?
        {
            Some(status) => Ended::Status(status),
            None if self.child.pid().is_none() => Ended::Remote,
            None => Ended::Lost,
        };
        self.status = Some(ended);
        if let Some(pid) = self.child.pid() {
            lock_children().retain(|c| c.pid() != pid);
        }
        let level = match ended {
            Ended::Status(status) if status.signal().is_some() => log::Level::Warn,
            _ => log::Level::Debug,
        };
        log::log!(level, "{} {}", self.name, status_text(ended));
        Ok(ended)
    }

    /// Reaps a child that has sent its outcome, so has only its exit left.
    /// Sleeping in `waitpid` would have the kernel wake this thread, from the
    /// exiting child, on whichever processor is idle, seldom the one it slept
    /// on; spinning for the moment the exit takes keeps it where it was, and
    /// made a fork and join a fifth faster here. On a busy machine it does
    /// not spin ([`wire::Spinner`]): yielding there handed the processor to
    /// a CPU-bound process for its whole time slice, and a fork and join took
    /// 8 ms with 4 of them on 2 cores.
    pub(crate) fn reap_answered(&mut self) -> Result<Ended> {
        static EXITING: wire::Spinner = wire::Spinner::new();
        // A remote child is not a process of ours.
        if self.status.is_none() && self.child.pid().is_some() {
            EXITING.spin_until(EXIT_SPIN, || self.child.has_ended());
        }
        self.reap()
    }

    /// The error for a child that ended without sending an outcome.
    pub(crate) fn ended_error(&self, ended: Ended) -> Error {
        let process = self.name.clone();
        match ended {
            Ended::Status(status) => match status.signal() {
                Some(signal) => Error::Signaled { process, signal },
                None => Error::Exited {
                    process,
                    code: exitcode_of(status),
                },
            },
            Ended::Lost => Error::StatusLost { process },
            Ended::Remote => Error::Disconnected,
        }
    }
}

/// How a child ended, in words: "exited with code 3", "killed by signal 9 (SIGKILL)".
pub(crate) fn status_text(ended: Ended) -> String {
    match ended {
        Ended::Status(status) => match status.signal() {
            Some(signal) => format!(
                "killed by signal {signal} ({})",
                sys::process::signal_name(signal)
            ),
            None => format!("exited with code {}", exitcode_of(status)),
        },
        Ended::Lost => "ended; its exit status is lost, since this program ignores SIGCHLD".into(),
        Ended::Remote => "ended elsewhere; only its backend knows how".into(),
    }
}

impl Drop for ChildProc {
    /// A child nobody waited for (say, a pool worker started before a failed
    /// `build`) is killed and reaped, never left a zombie.
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.signal(Signal::KILL);
            let _ = self.reap();
        }
    }
}

fn lock_children() -> std::sync::MutexGuard<'static, Vec<ProcessInfo>> {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running (or finished) child process that will return an `R`.
///
/// Dropping the handle follows Python's exit rules: a daemon process is
/// terminated (SIGTERM, then SIGKILL after one second); any other process is
/// waited for, as Python joins non-daemon children when the parent exits.
/// Either way the child is reaped, so no zombie remains. If the parent dies
/// without dropping the handle, even by SIGKILL, the child kills itself at once.
///
/// # Examples
///
/// ```
/// use multiproc::{process, Process};
///
/// #[process]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let p: Process<i64> = add.spawn(2, 3)?;
/// assert_eq!(p.join()?, 5);
/// assert_eq!(add(2, 3), 5); // still an ordinary function
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Process(target=add, args=(2, 3))` with `start()`.
#[derive(Debug)]
#[must_use = "dropping a `Process` waits for its child to end (kills it, if a daemon); keep it and `join` it"]
pub struct Process<R> {
    child: ChildProc,
    daemon: bool,
    _result: PhantomData<fn() -> R>,
}

impl<R> Process<R> {
    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = noop.spawn()?;
    /// assert_ne!(p.pid(), std::process::id());
    /// # p.join()
    /// # }
    /// ```
    ///
    /// Python: `p.pid`.
    pub fn pid(&self) -> u32 {
        self.child
            .pid()
            .expect("a Process is started on this machine: only pools take remote workers")
    }

    /// The child's name: `Process-N` unless the builder named it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = noop.spawn()?;
    /// assert!(p.name().starts_with("Process-"));
    /// # p.join()
    /// # }
    /// ```
    ///
    /// Python: `p.name`.
    pub fn name(&self) -> &str {
        self.child.name()
    }

    /// The reading end of the child's stdout, if the builder asked for
    /// [`Stdio::piped`]; `None` after the first call.
    ///
    /// # Examples
    ///
    /// See [`Stdio`].
    ///
    /// Python: `Popen.stdout`.
    pub fn take_stdout(&mut self) -> Option<PipeReader> {
        self.child.pipes.stdout.take()
    }

    /// The reading end of the child's stderr, as [`take_stdout`](Process::take_stdout).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::io::Read;
    /// # use multiproc::{process, Stdio};
    /// # #[process] fn warn() { eprintln!("careful") }
    /// let mut p = warn.builder().stderr(Stdio::piped()).spawn()?;
    /// let mut said = String::new();
    /// p.take_stderr().unwrap().read_to_string(&mut said).unwrap();
    /// p.join()?;
    /// assert_eq!(said, "careful\n");
    /// # Ok::<(), multiproc::Error>(())
    /// ```
    ///
    /// Python: `Popen.stderr`.
    pub fn take_stderr(&mut self) -> Option<PipeReader> {
        self.child.pipes.stderr.take()
    }

    /// Whether the child is a daemon (terminated, not waited for, when the handle drops).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = noop.spawn()?;
    /// assert!(!p.daemon());
    /// # p.join()
    /// # }
    /// ```
    ///
    /// Python: `p.daemon`.
    pub fn daemon(&self) -> bool {
        self.daemon
    }

    /// Whether the child is still running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let mut p = noop.spawn()?;
    /// p.join_timeout(std::time::Duration::from_secs(10))?;
    /// assert!(!p.is_alive());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `p.is_alive()`.
    pub fn is_alive(&self) -> bool {
        !self.child.has_ended()
    }

    /// `None` while the child runs; then its exit code, or minus the signal that killed it.
    ///
    /// A function that returned normally gives 0 and one that panicked gives 1.
    /// If this program ignores SIGCHLD, the system reaps children itself and
    /// their status is lost: a child that sent back its outcome still gives
    /// 0 or 1, and one that did not stays `None` (see [`is_alive`](Process::is_alive)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn noop() {}
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let mut p = noop.spawn()?;
    /// p.join_timeout(std::time::Duration::from_secs(10))?;
    /// assert_eq!(p.exitcode(), Some(0));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `p.exitcode`.
    pub fn exitcode(&self) -> Option<i32> {
        self.child.exitcode()
    }

    /// Asks the child to stop with SIGTERM; does nothing if it has already been reaped.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the signal cannot be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// #[process]
    /// fn forever() {
    ///     loop {
    ///         std::thread::park();
    ///     }
    /// }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let p = forever.spawn()?;
    /// p.terminate()?;
    /// let err = p.join().unwrap_err();
    /// assert!(err.to_string().contains("SIGTERM"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `p.terminate()`.
    pub fn terminate(&self) -> Result<()> {
        self.child.signal(Signal::TERM)
    }

    /// Kills the child with SIGKILL; does nothing if it has already been reaped.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the signal cannot be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// # #[process] fn forever() { loop { std::thread::park(); } }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let mut p = forever.spawn()?;
    /// p.kill()?;
    /// assert!(p.join_timeout(std::time::Duration::from_secs(10)).is_err());
    /// assert_eq!(p.exitcode(), Some(-9));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `p.kill()`.
    pub fn kill(&self) -> Result<()> {
        self.child.signal(Signal::KILL)
    }

    /// What the child said before it ended; `Ok(None)` if `timeout` passed first.
    fn hear_within(&mut self, timeout: Option<Duration>) -> Result<Option<Heard>> {
        if self.child.is_reaped() {
            return Err(Error::AlreadyJoined {
                process: self.child.name().to_owned(),
            });
        }
        if !self.child.conn.wait_readable(timeout)? {
            return Ok(None);
        }
        match self.child.conn.recv_frame_with_fds() {
            Ok(outcome) => Ok(Some(Heard::Answered(outcome))),
            Err(Error::Disconnected) => Ok(Some(Heard::HungUp)),
            Err(e) => {
                // The stream is out of step; the child cannot be heard any more.
                let _ = self.child.signal(Signal::KILL);
                let _ = self.child.reap();
                Err(e)
            }
        }
    }

    /// What the child said before it ended, however long that takes.
    fn hear(&mut self) -> Result<Heard> {
        loop {
            if let Some(heard) = self.hear_within(None)? {
                return Ok(heard);
            }
        }
    }

    fn stop_daemon(&mut self) {
        let _ = self.terminate();
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.child.exitcode().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        let _ = self.kill();
    }
}

impl<R: DeserializeOwned> Process<R> {
    /// Waits for the child and returns its value.
    ///
    /// # Errors
    ///
    /// [`Error::Panicked`], [`Error::Exited`] or [`Error::Signaled`] when the
    /// child did not return; [`Error::Codec`] when its value cannot be decoded;
    /// [`Error::AlreadyJoined`] after `join_timeout` has returned the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// #[process]
    /// fn greet(name: String) -> String {
    ///     format!("hello, {name}")
    /// }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// assert_eq!(greet.spawn("bob".into())?.join()?, "hello, bob");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `p.join()` (which returns nothing: the value travels back here).
    pub fn join(mut self) -> Result<R> {
        let heard = self.hear()?;
        self.finish(heard)
    }

    /// Waits at most `timeout` for the child; `Ok(None)` if it is still running.
    ///
    /// # Errors
    ///
    /// As for [`Process::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::process;
    /// use std::time::Duration;
    ///
    /// #[process]
    /// fn nap(ms: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(ms));
    ///     ms
    /// }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let mut p = nap.spawn(300)?;
    /// assert_eq!(p.join_timeout(Duration::from_millis(10))?, None);
    /// assert_eq!(p.join_timeout(Duration::from_secs(10))?, Some(300));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `p.join(timeout)` followed by `p.is_alive()`.
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<Option<R>> {
        match self.hear_within(Some(timeout))? {
            None => Ok(None),
            Some(heard) => self.finish(heard).map(Some),
        }
    }

    fn finish(&mut self, heard: Heard) -> Result<R> {
        match heard {
            Heard::Answered((outcome, fds)) => {
                self.child
                    .answered(outcome.first() == Some(&bootstrap::RETURNED));
                self.child.reap_answered()?;
                wire::with_fds(fds, || {
                    bootstrap::decode_outcome(&outcome, self.child.name())
                })
            }
            Heard::HungUp => {
                let ended = self.child.reap()?;
                Err(self.child.ended_error(ended))
            }
        }
    }
}

impl<R> Drop for Process<R> {
    fn drop(&mut self) {
        if self.child.is_reaped() {
            return;
        }
        if self.daemon {
            self.stop_daemon();
        } else {
            let _ = self.hear();
        }
        let _ = self.child.reap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sibling_forked_after_its_parent_gave_up_on_it_is_killed_and_reaped() {
        let (ours, theirs) = wire::socket::pair().unwrap();
        let forking = Forking {
            conn: Some(Conn::new(ours)),
            name: "late".into(),
            timeout: Duration::from_millis(20),
            role: Role::Sibling,
        };
        assert!(matches!(forking.started(), Err(Error::Timeout(_))));
        // What its forker looks at just before the fork: it was given up.
        let mut theirs = Conn::new(theirs);
        assert!(theirs.wait_readable(Some(Duration::ZERO)).unwrap());
        // Forked all the same, having looked a moment earlier: a child of
        // this process, which says its pid.
        let mut late = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        theirs.send(&late.id()).unwrap();
        let pid = rustix::process::Pid::from_raw(late.id().cast_signed()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        // A zombie can still be signalled; a reaped child cannot.
        while rustix::process::test_kill_process(pid).is_ok() {
            assert!(Instant::now() < deadline, "the late sibling was not reaped");
            thread::sleep(Duration::from_millis(5));
        }
        // Reaped by the reaper thread already.
        assert!(late.wait().is_err());
    }

    #[test]
    fn a_parked_sibling_that_cannot_be_told_to_go_is_killed_and_reaped() {
        let (ours, theirs) = wire::socket::pair().unwrap();
        let forking = Forking {
            conn: Some(Conn::new(ours)),
            name: "carrier".into(),
            timeout: Duration::from_secs(5),
            role: Role::Parked,
        };
        // It said its pid, and was gone before its go. (Shut, not only
        // closed here: a child another test forks meanwhile holds a copy.)
        let mut parked = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        let mut theirs = Conn::new(theirs);
        theirs.send(&parked.id()).unwrap();
        theirs.stream().shutdown(std::net::Shutdown::Read).unwrap();
        drop(theirs);
        assert!(forking.started().is_err());
        // Reaped already.
        assert!(parked.wait().is_err());
    }
}
