//! Starting a child: the registry, the parent's launch and handshake, and the
//! child's diversion before `main`. See `README.md` beside this file.

pub(crate) mod identity;
/// Where sockets are files (macOS, the portable backend): the directory
/// that holds them.
#[cfg(portable)]
pub(crate) mod private_dir;
pub(crate) mod start;
mod registry;
pub(crate) mod setup;

use std::env;
use std::ffi::OsString;
use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::sys::process::{self, Pid, Signal};
use crate::sys::procfs;
use identity::Identity;
use crate::wire::{self, Conn};

pub(crate) use registry::{install_panic_hook, send_panics_to_callers};
use setup::{Given, Setup};
pub use registry::{Args, Call, Entry, REGISTRY, encode_value};
pub(crate) use registry::{RETURNED, decode_outcome, decode_returned, lookup, push_failed, run, run_with};

/// Environment variable naming the socket a child reports to.
const ENV_ADDR: &str = "MULTIPROC_BOOTSTRAP_ADDR";
/// Environment variable holding the token a child proves itself with.
const ENV_TOKEN: &str = "MULTIPROC_BOOTSTRAP_TOKEN";
/// Exit code of a child that could not reach its parent (`EX_SOFTWARE`).
pub(crate) const EXIT_NO_PARENT: i32 = 70;
/// Exit code of a child that could not be given its setup (`EX_OSERR`).
const EXIT_SETUP_FAILED: i32 = 71;

/// The first message: the child proves it is the process the parent started.
#[derive(Serialize, Deserialize)]
struct Hello {
    token: String,
    pid: u32,
}

/// The parent's reply: what to run, who the child is, and the start method
/// the parent's program chose, which its children use too, as in Python.
#[derive(Serialize, Deserialize)]
pub(crate) struct Start {
    pub(crate) job: Job,
    pub(crate) identity: Identity,
    start_method: Option<crate::StartMethod>,
    /// What the child is given before its work; its descriptors are the
    /// job's last.
    setup: Given,
}

impl Start {
    pub(crate) fn new(job: Job, identity: Identity) -> Start {
        Start {
            job,
            identity,
            start_method: crate::bootstrap::start::chosen_start_method(),
            setup: Given::default(),
        }
    }

    /// Gives the child `setup`, whose descriptors `fds` travel after the job's.
    pub(crate) fn with_setup(mut self, setup: Given, fds: Vec<OwnedFd>) -> Start {
        self.job.fds.extend(fds);
        self.setup = setup;
        self
    }
}

/// A kind of work a child process is started for. Each kind registers
/// itself in [`JOB_KINDS`] beside the code that runs it (a pool worker in
/// `pool`, a manager's server in `manager`, ...), so that adding one touches
/// only its own module.
pub(crate) struct JobKind {
    /// Names the kind in a [`Start`]: unique in the program.
    pub(crate) name: &'static str,
    /// Whether the child watches its parent and dies with it, and reports
    /// its panics. Off for a child whose work starts when its parent dies
    /// (the tracker) or that watches its owner itself (the fork server).
    pub(crate) lifeline: bool,
    /// Runs the job in the child: its payload and the descriptors that
    /// came beside it; returns the exit code.
    pub(crate) run: fn(conn: Conn, payload: &[u8], fds: Vec<OwnedFd>) -> i32,
}

/// Every kind of job this program can start a child for.
#[linkme::distributed_slice]
pub(crate) static JOB_KINDS: [JobKind];

/// What a child is started for: a [`JobKind`]'s name, its encoded payload,
/// and the descriptors that travel beside it.
#[derive(Serialize, Deserialize)]
pub(crate) struct Job {
    /// The [`JobKind`]'s name.
    pub(crate) kind: String,
    #[serde(with = "serde_bytes")]
    pub(crate) payload: Vec<u8>,
    #[serde(skip)]
    fds: Vec<OwnedFd>,
}

impl Job {
    /// A job of `kind` with `payload`, with `fds` to travel beside it.
    pub(crate) fn new<P: Serialize>(
        kind: &JobKind,
        payload: &P,
        fds: Vec<OwnedFd>,
    ) -> Result<Job, Error> {
        Ok(Job {
            kind: kind.name.into(),
            payload: wire::encode(payload, "a child's job")?,
            fds,
        })
    }

    /// The descriptors that must travel with this job.
    pub(crate) fn fds(&self) -> &[OwnedFd] {
        &self.fds
    }

    /// Gives back the descriptors that travelled beside the job.
    pub(crate) fn set_fds(&mut self, fds: Vec<OwnedFd>) {
        self.fds = fds;
    }
}

/// Run one call, send its outcome, exit.
#[linkme::distributed_slice(JOB_KINDS)]
pub(crate) static CALL: JobKind = JobKind {
    name: "call",
    lifeline: true,
    run: run_call,
};

/// A call job's payload: the call, after an initializer if there is one.
/// The initializer's descriptors come first among the job's.
#[derive(Serialize, Deserialize)]
pub(crate) struct Calls {
    pub(crate) initializer: Option<(CallSpec, usize)>,
    pub(crate) call: CallSpec,
}

fn run_call(mut conn: Conn, payload: &[u8], mut fds: Vec<OwnedFd>) -> i32 {
    let Ok(calls) = wire::decode::<Calls>(payload, "a call") else {
        return EXIT_NO_PARENT;
    };
    // The initializer's outcome, kept only if it failed: then it is the call's.
    let mut failed = Vec::new();
    if let Some((init, count)) = calls.initializer {
        let rest = fds.split_off(count.min(fds.len()));
        let init = CallSpec {
            fds: std::mem::replace(&mut fds, rest),
            ..init
        };
        if init.run(&mut failed) {
            failed.clear();
        }
    }
    let call = CallSpec { fds, ..calls.call };
    let mut frame = Vec::new();
    let mut returned = false;
    // Handles (and large `Bytes`) in the value travel beside it.
    let (_, fds) = wire::collect_returned_fds(|| {
        wire::push_frame(&mut frame, |outcome| {
            match failed.is_empty() {
                true => returned = call.run(outcome),
                false => outcome.extend_from_slice(&failed),
            }
            Ok(())
        })
    });
    let sent =
        wire::set_fd_count(&mut frame, fds.len()).and_then(|()| conn.send_framed_with(&frame, &fds));
    match sent {
        Ok(()) => i32::from(!returned),
        Err(_) => EXIT_NO_PARENT,
    }
}

/// One call of a registered function: its key, its encoded arguments, and the
/// descriptors of the handles among them (which travel beside the frame).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CallSpec {
    pub(crate) key: String,
    #[serde(with = "serde_bytes")]
    pub(crate) args: Vec<u8>,
    #[serde(skip)]
    pub(crate) fds: Vec<OwnedFd>,
}

impl CallSpec {
    /// Encodes `args` for a call of `key`, collecting the handles' descriptors.
    pub(crate) fn new<A: Serialize + ?Sized>(key: &str, args: &A) -> Result<CallSpec, Error> {
        let (args, fds) = wire::collect_fds(|| wire::encode(args, "the arguments"));
        Ok(CallSpec {
            key: key.into(),
            args: args?,
            fds,
        })
    }

    /// Encodes `args` for a call in a process that cannot receive
    /// descriptors: a large `Bytes` goes inline, a handle cannot go.
    pub(crate) fn inline<A: Serialize + ?Sized>(key: &str, args: &A) -> Result<CallSpec, Error> {
        Ok(CallSpec {
            key: key.into(),
            args: wire::encode(args, "the arguments")?,
            fds: Vec::new(),
        })
    }

    /// This call without its descriptors, and the descriptors.
    pub(crate) fn split_fds(mut self) -> (CallSpec, Vec<OwnedFd>) {
        let fds = std::mem::take(&mut self.fds);
        (self, fds)
    }

    /// Another copy, with duplicated descriptors.
    pub(crate) fn try_clone(&self) -> Result<CallSpec, Error> {
        let fds = self
            .fds
            .iter()
            .map(OwnedFd::try_clone)
            .collect::<std::io::Result<_>>();
        Ok(CallSpec {
            key: self.key.clone(),
            args: self.args.clone(),
            fds: fds.map_err(Error::io("duplicating a descriptor"))?,
        })
    }

    /// Runs the call here, appending its outcome to `out`; `true` if it returned.
    pub(crate) fn run(self, out: &mut Vec<u8>) -> bool {
        match lookup(&self.key) {
            Ok(entry) => wire::with_fds(self.fds, || run(entry, &self.args, out)),
            Err(e) => {
                push_failed(out, &e.to_string());
                false
            }
        }
    }
}

/// How to start one child.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) executable: Option<PathBuf>,
    pub(crate) handshake_timeout: Duration,
    /// `None`: the program's default (`get_start_method`).
    pub(crate) method: Option<crate::StartMethod>,
    pub(crate) fork_with_threads: bool,
    /// Attaches the job to a worker that runs elsewhere (an MPI rank),
    /// instead of starting a process: set by such a backend.
    pub(crate) attach: Option<Attach>,
    pub(crate) setup: Setup,
}

/// How a backend attaches a job to a worker it runs elsewhere.
pub(crate) type Attach = fn(&Start) -> Result<(OsChild, Conn), Error>;

impl Launch {
    /// Whether descriptors can reach the child: not one attached elsewhere.
    pub(crate) fn passes_fds(&self) -> bool {
        self.attach.is_none()
    }
}

impl Default for Launch {
    fn default() -> Launch {
        Launch {
            executable: None,
            handshake_timeout: Duration::from_secs(10),
            method: None,
            fork_with_threads: false,
            attach: None,
            setup: Setup::default(),
        }
    }
}

/// A child process of this one, known by its pid and reaped with `waitpid`,
/// however it was started; or a worker that a pool backend started elsewhere.
#[derive(Debug)]
pub(crate) enum OsChild {
    Local(Pid),
    /// A process started by a pool backend (an MPI rank), known by the name
    /// the backend gave it: not this process's to signal or reap, since the
    /// backend ends it. `relayed`: its messages pass through a relay that
    /// looks for them only now and then, so a round trip takes hundreds of
    /// microseconds.
    #[cfg_attr(
        not(feature = "mpi"),
        expect(dead_code, reason = "MPI is the only pool backend so far")
    )]
    Remote { name: String, relayed: bool },
}

impl OsChild {
    pub(crate) fn from_pid(pid: u32) -> OsChild {
        OsChild::Local(process::pid(pid).expect("fork returned a positive pid"))
    }

    /// The pid of a local child.
    pub(crate) fn pid(&self) -> Option<u32> {
        match self {
            OsChild::Local(pid) => Some(pid.as_raw_nonzero().get().unsigned_abs()),
            OsChild::Remote { .. } => None,
        }
    }

    /// The name its backend gave a remote child.
    pub(crate) fn remote_name(&self) -> Option<&str> {
        match self {
            OsChild::Local(_) => None,
            OsChild::Remote { name, .. } => Some(name),
        }
    }

    /// Whether its messages pass through a relay (see [`OsChild::Remote`]).
    pub(crate) fn relayed(&self) -> bool {
        matches!(self, OsChild::Remote { relayed: true, .. })
    }

    /// Sends `signal`; the caller makes sure the child has not been reaped.
    pub(crate) fn signal(&self, signal: Signal) -> std::io::Result<()> {
        match self {
            OsChild::Local(pid) => process::kill(*pid, signal),
            OsChild::Remote { .. } => Ok(()),
        }
    }

    /// Waits for the child to end. `None`: its status is not to be known,
    /// since the system reaped it (as happens when this program ignores
    /// SIGCHLD), or it is remote, and its backend ends it.
    pub(crate) fn wait(&self) -> std::io::Result<Option<ExitStatus>> {
        match self {
            OsChild::Local(pid) => process::wait(*pid),
            OsChild::Remote { .. } => Ok(None),
        }
    }

    /// Whether the child has ended, without reaping it.
    pub(crate) fn has_ended(&self) -> bool {
        match self {
            // An error: the system reaped it, since this program ignores SIGCHLD.
            OsChild::Local(pid) => process::peek(*pid).map_or(true, |ended| ended.is_some()),
            OsChild::Remote { .. } => false,
        }
    }

    pub(crate) fn kill_and_reap(&self) {
        let _ = self.signal(Signal::KILL);
        let _ = self.wait();
    }
}

/// Starts the executable again as a child, completes the handshake and sends `start`.
///
/// On error the child, if one was started, has been killed and reaped.
pub(crate) fn launch(launch: &Launch, start: &Start) -> Result<(OsChild, Conn), Error> {
    let spawn_err = |what: &str| {
        let what = what.to_owned();
        move |source| Error::Spawn { what, source }
    };
    // This very image, even if its file was replaced or removed since it
    // started (a deploy, an upgrade, a rebuild): /proc/self/exe still
    // refers to it. Its path names it in errors and as the child's argv[0].
    let exe = match &launch.executable {
        Some(exe) => exe.clone(),
        None => env::current_exe().map_err(spawn_err("finding the current executable"))?,
    };
    let program = match &launch.executable {
        Some(exe) => exe.clone(),
        None => procfs::this_executable().map_err(spawn_err("finding the current executable"))?,
    };
    let addr = SocketPath::new().map_err(spawn_err("naming the bootstrap socket"))?;
    let listener =
        wire::socket::listen_local(&addr.0).map_err(spawn_err("binding the bootstrap socket"))?;
    listener
        .set_nonblocking(true)
        .map_err(spawn_err("configuring the bootstrap socket"))?;
    let token = random_token().map_err(spawn_err("drawing a random token"))?;
    let child = Command::new(&program)
        .arg0(&exe)
        .env(ENV_ADDR, &addr.0)
        .env(ENV_TOKEN, &token)
        .stdin(Stdio::null())
        .spawn()
        .map_err(spawn_err(&format!("executing {}", exe.display())))?;
    let pid = child.id();
    let child = OsChild::from_pid(pid);
    let sent = accept(&listener, &child, pid, &token, launch.handshake_timeout).and_then(|mut conn| {
        conn.send_with_fds(start, start.job.fds())
            .map(|()| conn)
            .map_err(|e| format!("sending its task failed: {e}"))
    });
    match sent {
        Ok(conn) => Ok((child, conn)),
        Err(reason) => {
            child.kill_and_reap();
            Err(Error::Handshake { pid, reason })
        }
    }
}

/// Waits for the child to connect and show the right token.
fn accept(
    listener: &UnixListener,
    child: &OsChild,
    pid: u32,
    token: &str,
    timeout: Duration,
) -> Result<Conn, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let Ok(stream) = wire::socket::accepted_local(stream) else {
                    continue;
                };
                if let Some(conn) = check_hello(stream, pid, token, deadline) {
                    return Ok(conn);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("accepting its connection failed: {e}")),
        }
        if child.has_ended() {
            return Err("it exited during start-up".into());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("it did not report within {timeout:?}"));
        }
        let _ = wire::wait_readable(&[listener.as_fd()], Some(left.min(POLL_SLICE)));
    }
}

/// How often `accept` checks whether the child is still alive.
const POLL_SLICE: Duration = Duration::from_millis(20);

/// Reads the first message of a connection; `None` if it is not our child.
fn check_hello(stream: UnixStream, pid: u32, token: &str, deadline: Instant) -> Option<Conn> {
    stream.set_nonblocking(false).ok()?;
    // A peer that sends half a message must not hold the handshake past its deadline.
    let left = deadline.saturating_duration_since(Instant::now());
    stream
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .ok()?;
    let mut conn = Conn::new(stream);
    let hello: Hello = conn.recv().ok()?;
    conn.stream().set_read_timeout(None).ok()?;
    (hello.token == token && hello.pid == pid).then_some(conn)
}

pub(super) fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    process::random(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Where a local socket listens, given up on drop. On Linux, a name in the
/// abstract namespace, which no file backs: nothing is left in the temporary
/// directory however this process ends (Ctrl-C and SIGKILL run no exit
/// handler). Elsewhere, a socket file in the private directory.
#[derive(Debug)]
pub(crate) struct SocketPath(pub(crate) PathBuf);

impl SocketPath {
    pub(crate) fn new() -> std::io::Result<SocketPath> {
        #[cfg(not(portable))]
        {
            // Drawn for each: any user sees the names (`/proc/net/unix`),
            // and none may learn the next one to take it first.
            let token = random_token()?;
            let name = format!("{}multiproc-{}-{token}", wire::socket::ABSTRACT, Self::unique());
            Ok(SocketPath(PathBuf::from(name)))
        }
        #[cfg(portable)]
        SocketPath::file()
    }

    /// A socket file in the private directory.
    #[cfg(portable)]
    fn file() -> std::io::Result<SocketPath> {
        Ok(SocketPath(private_dir::get()?.join(Self::unique())))
    }

    /// A name for this process's next socket. The pid keeps the names of a
    /// forked child apart from its parent's.
    fn unique() -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", std::process::id())
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        if !wire::socket::is_abstract(&self.0) {
            let _ = fs::remove_file(&self.0);
        }
    }
}

/// Runs before `main` in every executable that links multiproc. In a child it
/// runs the requested function and exits, so the user's `main` never runs.
#[ctor::ctor]
unsafe fn divert_child() {
    crate::forking::guard_users_forks();
    let (Some(addr), Some(token)) = (env::var_os(ENV_ADDR), env::var_os(ENV_TOKEN)) else {
        return;
    };
    // SAFETY: constructors run before `main`, while this is the only thread.
    unsafe {
        env::remove_var(ENV_ADDR);
        env::remove_var(ENV_TOKEN);
    }
    // What the Rust runtime would do before `main`, which never comes;
    // before anything opens a descriptor.
    process::open_closed_std_streams();
    process::ignore(process::Ignorable::BrokenPipe);
    std::process::exit(run_child(Path::new(&addr), token));
}

/// The body of a child process; returns its exit code.
fn run_child(addr: &Path, token: OsString) -> i32 {
    let mut conn = match connect(addr, token) {
        Ok(conn) => conn,
        Err(e) => {
            eprintln!("multiproc: child process could not reach its parent: {e}");
            return EXIT_NO_PARENT;
        }
    };
    let Ok((frame, fds)) = conn.recv_frame_with_fds() else {
        return EXIT_NO_PARENT;
    };
    let Ok(mut start) = wire::decode::<Start>(&frame, "the start message") else {
        return EXIT_NO_PARENT;
    };
    start.job.set_fds(fds);
    // What Rust's runtime, which has not started, would say.
    process::report_stack_overflow(format!(
        "\nprocess `{}` has overflowed its stack\nfatal runtime error: stack overflow, aborting\n",
        start.identity.name()
    ));
    run_job(conn, start, Lifeline::Thread)
}

/// Runs `start` in this child, which reports on `conn`; returns the exit code.
pub(crate) fn run_job(conn: Conn, mut start: Start, lifeline: Lifeline) -> i32 {
    let Some(kind) = JOB_KINDS.iter().find(|kind| kind.name == start.job.kind) else {
        eprintln!("multiproc: no kind of child job is named `{}`", start.job.kind);
        return EXIT_NO_PARENT;
    };
    // First, while this child has no other thread.
    if let Err(reason) = std::mem::take(&mut start.setup).apply(&mut start.job.fds) {
        eprintln!("multiproc: {}: {reason}", start.identity.name());
        return EXIT_SETUP_FAILED;
    }
    identity::set_identity(start.identity);
    if let Some(method) = start.start_method {
        crate::bootstrap::start::inherit_start_method(method);
    }
    if kind.lifeline {
        if let Lifeline::Thread = lifeline {
            watch_parent(&conn);
        }
        registry::install_panic_hook();
        wait_for_a_debugger();
    }
    (kind.run)(conn, &start.job.payload, start.job.fds)
}

/// Environment variable that stops children before their work, for a
/// debugger to attach: `1` stops every child, or a comma-separated list of
/// names (`Process-2,SpawnPoolWorker-1:1`) stops those.
const ENV_WAIT_FOR_DEBUGGER: &std::ffi::CStr = c"MULTIPROC_WAIT_FOR_DEBUGGER";

/// Stops this child, saying how to go on, if `MULTIPROC_WAIT_FOR_DEBUGGER` names it.
pub(crate) fn wait_for_a_debugger() {
    // Not through `std::env`, whose lock a forked child may find held.
    let Some(wanted) = process::env_var(ENV_WAIT_FOR_DEBUGGER) else {
        return;
    };
    let wanted = String::from_utf8_lossy(&wanted);
    let me = crate::current_process();
    if wanted == "1" || wanted.split(',').any(|name| name.trim() == me.name()) {
        let pid = me.pid();
        eprintln!(
            "multiproc: {} (pid {pid}) is stopped for a debugger: `gdb -p {pid}` or \
             `lldb -p {pid}`, then continue; or `kill -CONT {pid}` to go on without one",
            me.name()
        );
        process::stop_self();
    }
}

fn connect(addr: &Path, token: OsString) -> Result<Conn, Error> {
    let stream = wire::socket::connect_local(addr).map_err(Error::io("connecting to the parent"))?;
    let mut conn = Conn::new(stream);
    let token = token.into_string().unwrap_or_default();
    conn.send(&Hello {
        token,
        pid: std::process::id(),
    })?;
    Ok(conn)
}

/// How a child makes sure it does not outlive its parent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifeline {
    /// A thread that kills the process when the parent's end of its
    /// connection closes (`watch_parent`).
    Thread,
    /// The kernel's parent-death signal, already set up.
    Kernel,
}

/// Kills this process as soon as the parent hangs up, so no child outlives it.
fn watch_parent(conn: &Conn) {
    let Ok(lifeline) = conn.try_clone() else {
        return;
    };
    let parent = identity::parent().map(|parent| parent.pid());
    // Counted before it starts, so that a fork right after sees it as ours.
    let own = crate::bootstrap::start::OwnThread::enter();
    let spawned = std::thread::Builder::new()
        .name("multiproc-lifeline".into())
        // Given, so that std does not read RUST_MIN_STACK: in a forked child
        // the environment's lock may be held by a thread that is not there.
        .stack_size(64 << 10)
        .spawn(move || {
            let _own = own;
            if !parent.is_some_and(process::wait_for_parent) {
                lifeline.wait_hangup();
            }
            process::kill_self();
        });
    if spawned.is_err() {
        eprintln!("multiproc: could not start the parent watcher; exiting");
        std::process::exit(EXIT_NO_PARENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(portable))]
    #[test]
    fn no_socket_name_tells_the_next_one() {
        let random = |path: &SocketPath| {
            let name = path.0.to_str().unwrap().to_owned();
            name.rsplit('-').next().unwrap().to_owned()
        };
        let (first, next) = (SocketPath::new().unwrap(), SocketPath::new().unwrap());
        assert_ne!(random(&first), random(&next));
    }

    #[test]
    fn every_kind_of_child_job_registers_itself_under_its_own_name() {
        let mut names: Vec<&str> = JOB_KINDS.iter().map(|kind| kind.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a job name is taken twice: {names:?}");
        for name in ["call", "pool worker", "manager", "shared memory tracker", "fork server"] {
            assert!(names.contains(&name), "{name} is not registered: {names:?}");
        }
    }

    #[test]
    fn a_job_of_an_unknown_kind_ends_the_child_without_running_anything() {
        let (conn, _parent) = std::os::unix::net::UnixStream::pair().unwrap();
        let job = Job {
            kind: "no such kind".into(),
            payload: Vec::new(),
            fds: Vec::new(),
        };
        let start = Start::new(job, Identity::helper("Test"));
        assert_eq!(run_job(Conn::new(conn), start, Lifeline::Kernel), EXIT_NO_PARENT);
    }
}
