//! Start methods: how a child process comes to exist ([`StartMethod`]).
//!
//! Design: whatever the method, a child ends up holding one end of a socket
//! whose other end the parent keeps, runs `bootstrap::run_job` on the same
//! `Start` message, and is a child of the parent in the kernel's eyes, so the
//! parent reaps it with `waitpid` and the lifeline works the same way.
//!
//! - `Spawn` re-executes the program (`bootstrap::launch`).
//! - `Fork` forks the calling process. Only the calling thread survives in
//!   the child, so a lock held by another thread at that moment stays held
//!   there for ever; with other threads running it refuses unless allowed.
//! - `ForkServer` asks a fork server, a spawned single-threaded process
//!   started on first use, to fork. The server clones with `CLONE_PARENT`, so
//!   the new process is the caller's child, not the server's.
//!
//! Several children for the same job (a pool's workers) cost the caller
//! two forks, or two requests to the fork server (`start_children`): the
//! first child, and a carrier, the first of the others, which forks the
//! rest with `CLONE_PARENT`, so that they too are the caller's children.
//! Each but the first tells its pid on its own connection, since only the
//! process that forked it learns it (the fork server tells the carrier's).
//! Each sibling so forked takes half of those still to fork, so `n`
//! children take about `log2(n)` forks' time.
//!
//! Why the carrier, and when it starts. The first child's first task is
//! what a caller waits for: if that child forked the others, the task
//! would wait for those forks. Nor may the carrier's start take, on a
//! machine with few cores, the core the caller needs to take that task's
//! result. Under the fork server, the carrier is asked for only when its
//! driver starts (`Deferred`, from `process::Forking::started`). Under
//! `Fork` it cannot be: the caller must fork while it has no other thread,
//! before any driver runs. So the caller forks it straight after the first
//! child, and waits for its driver's go (`InChild::parked`), releasing
//! what it inherited only if none came within 2 ms. Measured on 2 cores, the pool's first result came
//! in 1.5–2.0× one child's spawn and join with the first child forking the
//! others, in 1.1–1.5× with the carrier forked beside it, and, under the
//! fork server, in 1.0× once the carrier was asked for later.
//!
//! Why a raw `clone` may stand in for the C library's fork there, and
//! where it falls short:
//! - The kernel is pointed at the child's thread-id word and robust-mutex
//!   list as glibc's fork points it (`process::fork_sibling`). Where that
//!   cannot be done (musl, machines other than x86-64 and aarch64, a kernel
//!   that does not tell where they are: `process::can_fork_siblings`), no
//!   process forks a sibling: there is no fork server, and a forked pool
//!   forks each worker itself.
//! - No fork handler runs in a sibling the carrier forks. Under `Fork` the
//!   carrier came from the C library's fork, which ran them; under the fork
//!   server, from the server, a program diverted before `main`. Only
//!   multiproc's code runs in the carrier before it forks the others, so
//!   each starts from the state the carrier had after those handlers: a
//!   handler that caches its process's pid leaves the carrier's in the
//!   others. multiproc's own child hooks run again in each sibling
//!   (`forking::forget_parent`).
//! - Only a single-threaded process can do it, so a carrier whose lifeline
//!   is a thread forks the others before that thread starts, and one with
//!   another thread (started by a fork handler) forks none: their drivers
//!   start them. A fork server with another thread (a constructor's)
//!   refuses every request. Otherwise the
//!   job forks them when it is ready (`fork_late_siblings`): a pool worker
//!   without an initializer once it has said so; with one, before it, since
//!   each worker runs its own.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bootstrap::{self, Job, Launch, Lifeline, OsChild, Start};
use crate::error::{Error, Result};
use crate::bootstrap::identity::Identity;
use crate::sys::process;
use crate::sys::procfs;
use crate::wire::{self, Conn};

/// How child processes are started.
///
/// # Examples
///
/// ```
/// use multiproc::process;
///
/// #[process]
/// fn hello() -> String {
///     format!("hello from {}", std::process::id())
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// // Spawn, Fork and, on Linux, ForkServer.
/// for method in multiproc::get_all_start_methods() {
///     let p = hello.builder().start_method(method).spawn()?;
///     assert!(p.join()?.starts_with("hello from"));
/// }
/// # Ok(())
/// # }
/// ```
///
/// Python: the names accepted by `multiprocessing.set_start_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StartMethod {
    /// Start the program again; the child runs only the function. Works
    /// everywhere; the default.
    Spawn,
    /// Fork the calling process (Linux). The fastest; the child starts with
    /// a copy of the caller's memory. Refused while the caller has other
    /// threads, unless allowed with `fork_with_threads`.
    Fork,
    /// Ask a single-threaded fork server, started on first use, to fork
    /// (Linux). Nearly as fast as `Fork`, and safe with threads.
    ForkServer,
}

impl StartMethod {
    /// Python's name for the method.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(multiproc::StartMethod::ForkServer.name(), "forkserver");
    /// ```
    ///
    /// Python: the strings `"spawn"`, `"fork"`, `"forkserver"`.
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Spawn => "spawn",
            StartMethod::Fork => "fork",
            StartMethod::ForkServer => "forkserver",
        }
    }

    fn from_name(name: &str) -> Option<StartMethod> {
        METHODS.into_iter().find(|m| m.name() == name)
    }
}

/// The method `set_start_method` chose, once it has.
static CHOSEN: OnceLock<StartMethod> = OnceLock::new();
const METHODS: [StartMethod; 3] = [
    StartMethod::Spawn,
    StartMethod::Fork,
    StartMethod::ForkServer,
];

/// Environment variable that sets the default start method, as a Python
/// name; meant for running a whole test suite under each method.
const ENV_START_METHOD: &str = "MULTIPROC_START_METHOD";
/// Environment variable that, set to `1`, allows `Fork` with other threads
/// running everywhere (as `fork_with_threads(true)` does for one builder).
const ENV_FORK_WITH_THREADS: &str = "MULTIPROC_FORK_WITH_THREADS";

/// Sets the start method for every process and pool that does not choose
/// one; once per program, as in Python.
///
/// # Errors
///
/// [`Error::StartMethodSet`] if another method was already set (setting the
/// same one again is fine); [`Error::InvalidArgument`] for a method this
/// system does not have (see [`get_all_start_methods`]).
///
/// # Examples
///
/// ```
/// use multiproc::StartMethod;
///
/// multiproc::set_start_method(StartMethod::Fork)?;
/// assert_eq!(multiproc::get_start_method(), StartMethod::Fork);
/// assert!(multiproc::set_start_method(StartMethod::Spawn).is_err());
/// # Ok::<(), multiproc::Error>(())
/// ```
///
/// Python: `multiprocessing.set_start_method("fork")`.
pub fn set_start_method(method: StartMethod) -> Result<()> {
    available(method)?;
    match *CHOSEN.get_or_init(|| method) {
        current if current == method => Ok(()),
        current => Err(Error::StartMethodSet {
            current: current.name(),
        }),
    }
}

/// The start methods this system has: all three on Linux with glibc on
/// x86-64 or aarch64; elsewhere `Spawn` and `Fork`, since the fork server's
/// children could not be its caller's (Linux's `clone(CLONE_PARENT)`, with
/// the child set up as the C library's fork would).
///
/// # Examples
///
/// ```
/// use multiproc::StartMethod;
///
/// assert!(multiproc::get_all_start_methods().contains(&StartMethod::Spawn));
/// ```
///
/// Python: `multiprocessing.get_all_start_methods()`.
pub fn get_all_start_methods() -> Vec<StartMethod> {
    METHODS
        .into_iter()
        .filter(|&method| available(method).is_ok())
        .collect()
}

/// `method`, if this system has it.
fn available(method: StartMethod) -> Result<StartMethod> {
    match method {
        StartMethod::ForkServer if !process::can_fork_siblings() => Err(Error::InvalidArgument {
            argument: "method",
            reason: "the fork server needs Linux with glibc on x86-64 or aarch64, and a \
                     kernel that tells where a thread's id is kept (PR_GET_TID_ADDRESS); \
                     use Spawn or Fork on this system",
        }),
        method => Ok(method),
    }
}

/// The method `set_start_method` chose in this program, if any.
pub(crate) fn chosen_start_method() -> Option<StartMethod> {
    CHOSEN.get().copied()
}

/// In a child: the method its parent's program chose is this one's too.
pub(crate) fn inherit_start_method(method: StartMethod) {
    let _ = CHOSEN.set(method);
}

/// The start method in use when none is chosen per process or pool: the one
/// set by [`set_start_method`], else `MULTIPROC_START_METHOD`, else `Spawn`.
///
/// # Examples
///
/// ```
/// let method = multiproc::get_start_method();
/// assert!(["spawn", "fork", "forkserver"].contains(&method.name()));
/// ```
///
/// Python: `multiprocessing.get_start_method()`.
pub fn get_start_method() -> StartMethod {
    chosen_start_method().unwrap_or_else(|| {
        std::env::var(ENV_START_METHOD)
            .ok()
            .and_then(|name| StartMethod::from_name(&name))
            // One this system lacks (the fork server on macOS) is ignored.
            .filter(|&method| available(method).is_ok())
            .unwrap_or(StartMethod::Spawn)
    })
}

/// Threads started by multiproc itself (pool drivers). They never hold a
/// lock a forked child could need, so `Fork` does not count them.
static OWN_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Counts a thread of multiproc's own while it lives.
pub(crate) struct OwnThread(());

impl OwnThread {
    pub(crate) fn enter() -> OwnThread {
        OWN_THREADS.fetch_add(1, Ordering::Relaxed);
        OwnThread(())
    }
}

impl Drop for OwnThread {
    fn drop(&mut self) {
        OWN_THREADS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The user's threads among `all` threads of this process.
fn user_threads(all: usize) -> usize {
    all.saturating_sub(OWN_THREADS.load(Ordering::Relaxed))
}

/// Starts a child for `start` by `launch`'s method.
pub(crate) fn start_child(launch: &Launch, start: &Start) -> Result<(OsChild, Conn)> {
    if let Some(attach) = launch.attach {
        return attach(start);
    }
    if launch.executable.is_some() {
        // Another executable can only be started, not forked.
        return crate::forking::ours(|| bootstrap::launch(launch, start));
    }
    crate::forking::ours(|| match launch.method.unwrap_or_else(get_start_method) {
        StartMethod::Spawn => bootstrap::launch(launch, start),
        StartMethod::Fork => fork_here(launch, start, Vec::new()),
        StartMethod::ForkServer => {
            available(StartMethod::ForkServer)?;
            fork_server_launch(launch, start)
        }
    })
}

/// Whether [`start_children`] can start several children for `launch` at
/// the cost of one: by a fork, here or in the fork server, on a system that
/// can fork a sibling ([`process::can_fork_siblings`]).
pub(crate) fn can_start_beside(launch: &Launch) -> bool {
    process::can_fork_siblings()
        && launch.attach.is_none()
        && launch.executable.is_none()
        && launch.method.unwrap_or_else(get_start_method) != StartMethod::Spawn
}

/// Starts a child for `start` and, beside it, one more for each of
/// `siblings`: the same job under another identity, at the cost of two
/// forks here or two requests to the fork server. The first of `siblings`,
/// the carrier, forks the others with `CLONE_PARENT`, so they are this
/// process's children too: before its job if its lifeline is a thread, else
/// when the job calls [`fork_late_siblings`]. Under `Fork` it is forked
/// here straight after the first child, while this process has no other
/// thread, and waits for a go on its connection; under the fork server it
/// is asked for only when its driver starts ([`Deferred`]), so that the
/// server forks nothing beside the first child's start. Each sibling's
/// connection is returned, with what its driver must do to start it; its
/// first message is the sibling's pid, which only the process that forked
/// it learns (the carrier's, under the fork server, comes in the server's
/// answer instead). A sibling that could not be forked closes its
/// connection before saying anything. For a `launch` that
/// [`can_start_beside`].
pub(crate) fn start_children(
    launch: &Launch,
    start: Start,
    siblings: Vec<Identity>,
) -> Result<(OsChild, Conn, Vec<Beside>)> {
    let mut conns = Vec::with_capacity(siblings.len());
    let mut ends = Vec::with_capacity(siblings.len());
    for identity in siblings {
        let (parent_end, child_end) =
            wire::socket::pair().map_err(spawn_error("creating a socket pair"))?;
        conns.push(Conn::new(parent_end));
        ends.push(Sibling {
            identity,
            end: child_end,
        });
    }
    let method = launch.method.unwrap_or_else(get_start_method);
    let (child, conn, mut deferred) = match method {
        StartMethod::Fork => {
            let (child, conn) = crate::forking::ours(|| fork_here(launch, &start, ends))?;
            (child, conn, None)
        }
        _ => {
            let (child, conn) = crate::forking::ours(|| fork_server_launch(launch, &start))?;
            let deferred = (!ends.is_empty()).then(|| Deferred {
                start,
                ends,
                launch: launch.clone(),
            });
            (child, conn, deferred)
        }
    };
    let beside = conns.into_iter().enumerate().map(|(i, conn)| {
        let role = match (i == CARRIER, deferred.take()) {
            (true, Some(deferred)) => Role::Deferred(Box::new(deferred)),
            (true, None) => Role::Parked,
            (false, _) => Role::Sibling,
        };
        Beside { conn, role }
    });
    Ok((child, conn, beside.collect()))
}

/// The carrier of [`start_children`] under the fork server, not forked
/// yet: its job, the ends of its connection and of its siblings', and how
/// to ask for it.
pub(crate) struct Deferred {
    start: Start,
    ends: Vec<Sibling>,
    launch: Launch,
}

impl Deferred {
    /// Asks the fork server for the carrier, which forks the others; the
    /// carrier's pid comes in the server's answer. Its driver holds the
    /// other end of its connection.
    pub(crate) fn fork(mut self) -> Result<OsChild> {
        let (carrier, theirs) = carrier(self.ends).ok_or(Error::Disconnected)?;
        self.start.identity = carrier.identity;
        crate::forking::ours(|| fork_server_request(&self.launch, &self.start, carrier.end, theirs))
    }
}

/// A child for the same job as the one being forked, which that child forks
/// in turn: its identity and its end of its connection.
struct Sibling {
    identity: Identity,
    end: UnixStream,
}

impl Sibling {
    /// In the sibling just forked: puts `start` under its identity, and
    /// says its pid on its connection (`say_own_pid`).
    fn connect(self, start: &mut Start) -> Conn {
        start.identity = self.identity;
        say_own_pid(self.end)
    }
}

fn spawn_error(what: &str) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.to_owned();
    move |source| Error::Spawn { what, source }
}

/// Forks this process for `start`, then a carrier for `siblings`
/// ([`carrier`]); in neither child does this return.
fn fork_here(launch: &Launch, start: &Start, siblings: Vec<Sibling>) -> Result<(OsChild, Conn)> {
    let allowed =
        launch.fork_with_threads || std::env::var(ENV_FORK_WITH_THREADS).is_ok_and(|v| v == "1");
    // Unknown where the system does not say (no /proc): taken as several
    // for the locks and the descriptor list, which is always safe, but not
    // refused, since the caller could not make it known.
    let mut threads = procfs::threads();
    if !allowed {
        // A thread of ours that is ending may still be listed for a moment.
        for _ in 0..10 {
            if threads.is_none_or(|all| user_threads(all) <= 1) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
            threads = procfs::threads();
        }
        if let Some(threads) = threads.map(user_threads).filter(|&user| user > 1) {
            return Err(Error::ForkWithThreads { threads });
        }
    }
    let (parent_end, child_end) =
        wire::socket::pair().map_err(spawn_error("creating a socket pair"))?;
    // Here, since the child must take no lock that another thread may hold.
    bootstrap::install_panic_hook();
    // A line still buffered would otherwise be printed by both processes.
    flush_std();
    wire::prepare_for_fork();
    // multiproc's own locks, held across the fork so that no other thread
    // holds one in the child, where it would stay locked for ever. With no
    // other thread there is none to hold one, and not taking them spares
    // both processes the copy-on-write faults of releasing them.
    let alone = threads == Some(1);
    let held = (!alone).then(crate::forking::hold);
    // Listed here, where this process's entries in /proc exist already: in
    // a new child, building them costs more than all the rest of its start.
    // Exact only while no other thread can open or close a descriptor.
    let mut inherited = alone.then(|| inherited_fds(start));
    let parent = std::process::id();
    // The kernel's parent-death signal fires when the forking thread ends:
    // a lifeline only if that thread is the main one, whose end is the
    // process's.
    let lifeline = match process::is_main_thread() && process::PARENT_DEATH_SIGNAL {
        true => Lifeline::Kernel,
        false => Lifeline::Thread,
    };
    let become_child = |held: Option<crate::forking::Held>, first: First, siblings, inherited| -> ! {
        let _unwinding = ExitOnUnwind;
        drop(held);
        // SAFETY: this process never returns into the frames that own
        // `start`; it leaves with `_exit`. So its copy of that value is
        // neither used nor dropped again, and can be moved out. Its
        // descriptors are this process's own copies.
        let mut start = unsafe { std::ptr::read(start) };
        let parked = first.parks();
        let conn = first.connect(&mut start);
        let child = InChild {
            start,
            lifeline,
            parent,
            inherited,
            siblings,
            parked,
        };
        child.run(conn)
    };
    // SAFETY: the child only runs code that does not depend on other threads
    // (refused above unless the caller accepted the risk) and ends with `_exit`.
    // (`parent_end` is closed in it with the other inherited descriptors.)
    let pid = match unsafe { process::fork() }.map_err(spawn_error("forking"))? {
        process::Forked::Child => {
            become_child(held, First::Child(child_end), Vec::new(), inherited)
        }
        process::Forked::Parent(pid) => pid,
    };
    if let Some(inherited) = &mut inherited {
        inherited.retain(|&fd| fd != child_end.as_raw_fd());
    }
    drop(child_end);
    if let Some((sibling, theirs)) = carrier(siblings) {
        // SAFETY: as for the first child.
        match unsafe { process::fork() } {
            Ok(process::Forked::Child) => {
                become_child(held, First::Sibling(sibling), theirs, inherited)
            }
            Ok(process::Forked::Parent(_)) => {}
            // Its siblings' ends are closed here: their drivers see that,
            // and start them one by one.
            Err(e) => log::debug!("no carrier forked beside the first child: {e}"),
        }
    }
    drop(held);
    // Nothing to wait for: the child exists, and runs from here on.
    Ok((OsChild::from_pid(pid), Conn::new(parent_end)))
}

/// How a child forked by the caller's process (or the fork server), not by
/// a sibling, comes to its connection.
enum First {
    /// As the child the caller asked for, through its end.
    Child(UnixStream),
    /// As one of the siblings beside that child: the one that forks the rest.
    Sibling(Sibling),
}

impl First {
    /// Whether the child waits for its parent's go (`InChild::parked`):
    /// the carrier does.
    fn parks(&self) -> bool {
        matches!(self, First::Sibling(_))
    }

    /// In the new child: its connection, once `start` is under its identity.
    fn connect(self, start: &mut Start) -> Conn {
        match self {
            First::Child(end) => Conn::new(end),
            First::Sibling(sibling) => sibling.connect(start),
        }
    }
}

/// Who forks `siblings`, which the caller asked for beside a first child:
/// one of them ([`CARRIER`]), which takes the rest. Not that child itself:
/// its first task would wait for those forks.
fn carrier(mut siblings: Vec<Sibling>) -> Option<(Sibling, Vec<Sibling>)> {
    if siblings.is_empty() {
        return None;
    }
    let sibling = siblings.remove(CARRIER);
    Some((sibling, siblings))
}

/// Where the carrier is among the siblings asked for.
const CARRIER: usize = 0;

/// A sibling's connection, as [`start_children`] returns it, and what its
/// driver must do to start it.
pub(crate) struct Beside {
    pub(crate) conn: Conn,
    pub(crate) role: Role,
}

/// What a sibling of [`start_children`] is to its driver.
pub(crate) enum Role {
    /// Forked by the carrier: it says its pid and goes on.
    Sibling,
    /// The carrier under `Fork`: it says its pid and waits for a go.
    Parked,
    /// The carrier under the fork server, to be asked for.
    Deferred(Box<Deferred>),
}

// The standard streams, so that no other thread is inside a print when
// the fork copies their buffers. First, before any lock of multiproc's: a
// thread may hold a stream's lock (a print to a full pipe, a kept
// `stdout().lock()`) while it calls into multiproc. Not around the user's
// own forks, which that thread may make.
crate::forking::fork_hook!(
    STDOUT_FORK,
    order: 1,
    holds: std::io::StdoutLock<'static> = std::io::stdout().lock(),
    forget: || {},
    ours_only: true,
);
crate::forking::fork_hook!(
    STDERR_FORK,
    order: 2,
    holds: std::io::StderrLock<'static> = std::io::stderr().lock(),
    forget: || {},
    ours_only: true,
);

fn flush_std() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// Has the kernel kill this (just forked) process when its parent's thread
/// that forked it ends; exits at once if `parent` has already gone.
fn die_with(parent: u32) {
    if !process::die_with_parent(parent) {
        process::exit_now(bootstrap::EXIT_NO_PARENT);
    }
}

/// Ends a forked child that unwinds, which must never return into the frames
/// it shares with its parent: it has moved values out of them.
struct ExitOnUnwind;

impl Drop for ExitOnUnwind {
    fn drop(&mut self) {
        process::exit_now(bootstrap::EXIT_NO_PARENT)
    }
}

/// A forked child on its way to its job: what it runs, how it dies with its
/// parent, the inherited descriptors it closes (listed by the parent while
/// that was alone, or `None` for the child to list), the children it forks
/// beside itself for the same job, and whether it waits for its parent's go
/// before it starts (the carrier of `start_children` under `Fork`): as the
/// first child's first task runs, its start would take, on a machine with
/// few cores, the core its parent needs to take that task's result.
struct InChild {
    start: Start,
    lifeline: Lifeline,
    parent: u32,
    inherited: Option<Vec<RawFd>>,
    siblings: Vec<Sibling>,
    parked: bool,
}

impl InChild {
    /// Forks a child for each of `siblings`, running this one's job under
    /// the sibling's identity. Each child forked takes half of those left
    /// and forks them in turn, so that `n` children take about `log2(n)`
    /// forks' time, not `n`. This process must be single-threaded, as a
    /// fork's child is.
    fn fork_siblings(&self, mut siblings: Vec<Sibling>) {
        // Less the ends closed here as the forks go: a child releasing a
        // closed number would put `/dev/null` under it for nothing.
        let mut inherited = self.inherited.clone();
        let mut close = |ends: Vec<UnixStream>| {
            for end in ends {
                if let Some(list) = &mut inherited {
                    list.retain(|&fd| fd != end.as_raw_fd());
                }
            }
        };
        if !single_threaded() {
            close(siblings.into_iter().map(|s| s.end).collect());
            return;
        }
        while let Some(sibling) = siblings.pop() {
            let theirs = siblings.split_off(siblings.len() / 2);
            // SAFETY: this process is single-threaded (checked above); the
            // child ends with `_exit`.
            match unsafe { process::fork_sibling() } {
                Ok(process::Forked::Child) => {
                    let _unwinding = ExitOnUnwind;
                    // SAFETY: as the first fork's child, this one never
                    // returns into the frames that own `self`, even
                    // unwinding (`ExitOnUnwind`).
                    let mut start = unsafe { std::ptr::read(&self.start) };
                    let conn = sibling.connect(&mut start);
                    let child = InChild {
                        start,
                        lifeline: self.lifeline,
                        parent: self.parent,
                        inherited: inherited.clone(),
                        siblings: theirs,
                        parked: false,
                    };
                    child.run(conn)
                }
                // Closed here, where what was inherited is released already:
                // a copy kept would hide the sibling's end from its driver.
                Ok(process::Forked::Parent(_)) => {
                    let ends = theirs.into_iter().map(|s| s.end);
                    close(std::iter::once(sibling.end).chain(ends).collect());
                }
                // The parent sees the end of a sibling that could not be
                // forked; the others may still be.
                Err(_) => {
                    close(vec![sibling.end]);
                    siblings.extend(theirs);
                }
            }
        }
    }

    /// The rest of the child's life: release what it inherited, wait for
    /// its go if it is a carrier, fork the siblings or leave them to the
    /// job, run the job, exit.
    fn run(mut self, mut conn: Conn) -> ! {
        let mut siblings = std::mem::take(&mut self.siblings);
        if self.lifeline == Lifeline::Kernel {
            die_with(self.parent);
        }
        // A carrier puts off even its release of what it inherited for a
        // moment: the first worker's first result is due about then, and
        // would otherwise wait for a core this start takes.
        let went = self.parked && wait_for_go(&mut conn, Some(PUT_OFF));
        let mut kept: Vec<RawFd> = siblings.iter().map(|s| s.end.as_raw_fd()).collect();
        kept.push(conn.stream().as_raw_fd());
        let inherited = self
            .inherited
            .take()
            .unwrap_or_else(|| inherited_fds(&self.start));
        let released: Vec<RawFd> = inherited.iter().copied().filter(|fd| !kept.contains(fd)).collect();
        // SAFETY: the child's own descriptors are kept; what the others
        // refer to is the parent's, which the job must not use.
        unsafe { process::release_inherited(&released) };
        // The siblings forked here release them again, keeping their own.
        self.inherited = Some(inherited);
        if self.parked && !went {
            // Not holding the parent's descriptors while it waits: a
            // parent reading a pipe to its end would wait with it.
            wait_for_go(&mut conn, None);
        }
        if self.lifeline == Lifeline::Thread {
            // The job would run beside the lifeline thread, and could not fork.
            self.fork_siblings(std::mem::take(&mut siblings));
        }
        crate::forking::forget_parent();
        if !siblings.is_empty() {
            *lock_late() = Some(LateSiblings {
                siblings,
                parent: self.parent,
            });
        }
        let code = bootstrap::run_job(conn, self.start, self.lifeline);
        flush_std();
        #[cfg(portable)]
        bootstrap::private_dir::remove();
        // Without running the parent's exit handlers.
        process::exit_now(code)
    }
}

/// In the carrier of `start_children` under `Fork` (`InChild::parked`):
/// waits, at most `within`, until its parent says go (`Forking::started`);
/// whether it did. Hung up on instead, or with the parent gone, it was
/// given up, and exits. Ctrl-C to the process group is ignored from here
/// on, as the job, a pool worker, ignores it: the parent decides what it
/// means.
fn wait_for_go(conn: &mut Conn, within: Option<Duration>) -> bool {
    process::ignore(process::Ignorable::Interrupt);
    if within.is_some() && !conn.wait_readable(within).unwrap_or(true) {
        return false;
    }
    if conn.recv::<()>().is_err() {
        process::exit_now(bootstrap::EXIT_NO_PARENT);
    }
    true
}

/// How long a carrier waits for its go before it releases what it
/// inherited ([`InChild::run`]).
const PUT_OFF: Duration = Duration::from_millis(2);

/// In a sibling just forked: its first message on its connection `end`,
/// its pid, which only it and its forker know. Exits if nobody listens.
fn say_own_pid(end: UnixStream) -> Conn {
    let mut conn = Conn::new(end);
    if conn.send(&process::own_id()).is_err() {
        process::exit_now(bootstrap::EXIT_NO_PARENT);
    }
    conn
}

/// Siblings left to the job to fork once it is ready ([`fork_late_siblings`]),
/// and the parent they die with.
struct LateSiblings {
    siblings: Vec<Sibling>,
    parent: u32,
}

static LATE_SIBLINGS: Mutex<Option<LateSiblings>> = Mutex::new(None);

fn lock_late() -> std::sync::MutexGuard<'static, Option<LateSiblings>> {
    LATE_SIBLINGS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether this process may fork a sibling: only with no other thread (the
/// user's fork handlers, or a constructor, may have started one), which a
/// raw clone would leave holding its locks, the C library's among them.
/// One that cannot count its threads may not either. Where it may not, the
/// parent sees the siblings' connections close, and starts them itself.
fn single_threaded() -> bool {
    procfs::threads() == Some(1)
}

/// In a carrier (`start_children`) whose lifeline is the kernel's: forks
/// the others here, as late as the job allows (a pool worker, once it has
/// said it is ready, or before its initializer). The job goes
/// on from here in each of them, under its own identity. Returns the
/// connection this process serves from now on, and whether it is one of
/// the siblings, which have said nothing on theirs but their pid. Elsewhere
/// (and a second time) it returns `conn` as it is. A job started beside
/// others must call this, or its siblings are never forked.
pub(crate) fn fork_late_siblings(conn: Conn) -> (Conn, bool) {
    let Some(LateSiblings {
        mut siblings,
        parent,
    }) = lock_late().take()
    else {
        return (conn, false);
    };
    if !single_threaded() {
        return (conn, false);
    }
    let (mut conn, mut forked) = (conn, false);
    while let Some(sibling) = siblings.pop() {
        let theirs = siblings.split_off(siblings.len() / 2);
        // The parent says nothing first: a connection it can read from has
        // been given up (its driver started another worker). A sibling
        // forked for it all the same would only be killed on arrival.
        let given_up = wire::wait_readable(&[sibling.end.as_fd()], Some(Duration::ZERO));
        if given_up.is_ok_and(|ready| !ready.is_empty()) {
            siblings.extend(theirs);
            continue;
        }
        // SAFETY: this process is single-threaded (counted above); the child
        // goes on with the job, which ends in `_exit` like this process's.
        match unsafe { process::fork_sibling() } {
            Ok(process::Forked::Child) => {
                // The kernel forgets the parent-death signal in a fork.
                die_with(parent);
                // What the forker may have learnt about itself since its own
                // fork is not this process's.
                crate::forking::forget_parent();
                // The forker's connection and siblings are not this one's.
                drop((conn, siblings));
                bootstrap::identity::set_identity(sibling.identity);
                conn = say_own_pid(sibling.end);
                bootstrap::wait_for_a_debugger();
                (siblings, forked) = (theirs, true);
            }
            Ok(process::Forked::Parent(_)) => drop((sibling.end, theirs)),
            // The parent sees the end of a sibling that could not be forked;
            // the others may still be.
            Err(_) => {
                drop(sibling.end);
                siblings.extend(theirs);
            }
        }
    }
    (conn, forked)
}

/// The descriptors a spawned child would not have had: those marked
/// close-on-exec (every one Rust opens), except those of `start`'s job. A
/// forked child releases them, but for its own connection
/// (`process::release_inherited`); otherwise a child holding a copy of,
/// say, its parent's end of a pipe would keep the other end from ever
/// seeing the end of the stream.
fn inherited_fds(start: &Start) -> Vec<RawFd> {
    let mut open = procfs::open_fds();
    // Looked at once the listing's own descriptor is closed, so that it is left out.
    open.retain(|&fd| {
        fd > 2
            && !start.job.fds().iter().any(|f| f.as_raw_fd() == fd)
            && process::closes_on_exec(fd)
    });
    open
}

/// The fork server's answer: the new child's pid, or why there is none.
#[derive(Serialize, Deserialize)]
struct Forked(std::result::Result<u32, String>);

/// This process's fork server, started on first use.
static FORK_SERVER: Mutex<Option<(OsChild, Conn)>> = Mutex::new(None);

fn lock_fork_server() -> std::sync::MutexGuard<'static, Option<(OsChild, Conn)>> {
    FORK_SERVER.lock().unwrap_or_else(|e| e.into_inner())
}

// In a forked child, the parent's fork server is not this process's.
// Forgotten, not dropped: the child closes every inherited descriptor.
crate::forking::fork_hook!(
    FORK_SERVER_FORK,
    order: 20,
    holds: std::sync::MutexGuard<'static, Option<(OsChild, Conn)>> = lock_fork_server(),
    forget: || {
        std::mem::forget(lock_fork_server().take());
        // Its thread is not in this process. The lock is free: it is only
        // taken under the fork server's, which a fork holds.
        std::mem::forget(LAUNCHER.lock().unwrap_or_else(|e| e.into_inner()).take());
    },
);

/// A request to the fork server: a child for `start`, which forks a sibling
/// for each of `siblings`.
#[derive(Serialize, Deserialize)]
struct ForkRequest<S> {
    start: S,
    siblings: Vec<Identity>,
}

/// Asks the fork server for a child for `start`.
fn fork_server_launch(launch: &Launch, start: &Start) -> Result<(OsChild, Conn)> {
    let (parent_end, child_end) =
        wire::socket::pair().map_err(spawn_error("creating a socket pair"))?;
    let child = fork_server_request(launch, start, child_end, Vec::new())?;
    Ok((child, Conn::new(parent_end)))
}

/// Asks the fork server for a child for `start`, connected through
/// `child_end`, which forks `siblings` in turn; the child's pid.
fn fork_server_request(
    launch: &Launch,
    start: &Start,
    child_end: UnixStream,
    siblings: Vec<Sibling>,
) -> Result<OsChild> {
    let mut fds = vec![OwnedFd::from(child_end)];
    let mut identities = Vec::with_capacity(siblings.len());
    for sibling in siblings {
        identities.push(sibling.identity);
        fds.push(OwnedFd::from(sibling.end));
    }
    let request = ForkRequest {
        start,
        siblings: identities,
    };
    for fd in start.job.fds() {
        fds.push(
            fd.try_clone()
                .map_err(spawn_error("duplicating a descriptor"))?,
        );
    }
    let mut server = lock_fork_server();
    // A server found dead when the request is sent is replaced once. Once
    // the request is out, it is never sent again: the server may have forked
    // before it failed, and the job must not run twice.
    let mut answer = None;
    for _ in 0..2 {
        if server.is_none() {
            *server = Some(start_fork_server()?);
        }
        let (_, conn) = server.as_mut().expect("started above");
        // The ends of the child's and its siblings' connections travel
        // first among the frame's descriptors, then the job's.
        if conn.send_with_fds(&request, &fds).is_err() {
            if let Some((old, _)) = server.take() {
                old.kill_and_reap();
            }
            continue;
        }
        // The server answers within microseconds; sleeping until then costs more.
        static SPINNER: wire::Spinner = wire::Spinner::new();
        SPINNER.spin_until(wire::SPIN, || {
            conn.wait_readable(Some(std::time::Duration::ZERO))
                .unwrap_or(true)
        });
        // A server that does not answer in time is given up on, as a spawned
        // child that does not report is.
        answer = Some(
            conn.wait_readable(Some(launch.handshake_timeout))
                .and_then(|ready| {
                    if ready {
                        conn.recv::<Forked>()
                    } else {
                        Err(Error::Timeout(launch.handshake_timeout))
                    }
                }),
        );
        if answer.as_ref().is_some_and(Result::is_err)
            && let Some((old, _)) = server.take()
        {
            old.kill_and_reap();
        }
        break;
    }
    drop(server);
    drop(fds);
    let pid = match answer {
        Some(Ok(Forked(Ok(pid)))) => pid,
        Some(Ok(Forked(Err(reason)))) => {
            return Err(Error::Spawn {
                what: "forking in the fork server".into(),
                source: std::io::Error::other(reason),
            });
        }
        Some(Err(e)) => {
            return Err(Error::Spawn {
                what: "hearing back from the fork server".into(),
                source: std::io::Error::other(e),
            });
        }
        None => {
            return Err(Error::Spawn {
                what: "reaching the fork server".into(),
                source: std::io::Error::other(
                    "the fork server, started again, died again before the request went out",
                ),
            });
        }
    };
    Ok(OsChild::from_pid(pid))
}

/// A reply to a request to start a fork server.
type Started = std::sync::mpsc::Sender<Result<(OsChild, Conn)>>;

/// The thread that starts fork servers, started with the first: the
/// servers' children are killed by `PR_SET_PDEATHSIG` when the thread that
/// started their server ends, which must therefore be when this process
/// ends. One thread serves every restart.
static LAUNCHER: Mutex<Option<std::sync::mpsc::Sender<Started>>> = Mutex::new(None);

fn start_fork_server() -> Result<(OsChild, Conn)> {
    let (reply, answer) = std::sync::mpsc::channel();
    {
        let mut launcher = LAUNCHER.lock().unwrap_or_else(|e| e.into_inner());
        if launcher.is_none() {
            let (requests, incoming) = std::sync::mpsc::channel::<Started>();
            let own = OwnThread::enter();
            std::thread::Builder::new()
                .name("multiproc-forkserver".into())
                .spawn(move || {
                    let _own = own;
                    for reply in incoming {
                        let start = Job::new(&FORK_SERVER_JOB, &(), Vec::new())
                            .map(|job| Start::new(job, Identity::helper("ForkServer")));
                        // As a start of multiproc's own: the thread that asked holds
                        // the fork server's lock meanwhile.
                        let launched = start.and_then(|start| {
                            crate::forking::ours(|| bootstrap::launch(&Launch::default(), &start))
                        });
                        let _ = reply.send(launched);
                    }
                })
                .map_err(spawn_error("starting the fork server's thread"))?;
            *launcher = Some(requests);
        }
        if let Some(launcher) = launcher.as_ref() {
            let _ = launcher.send(reply);
        }
    }
    answer.recv().unwrap_or_else(|_| {
        Err(spawn_error("starting the fork server")(std::io::Error::other(
            "the thread that starts fork servers has ended",
        )))
    })
}

/// The body of the fork server: forks a child for each request until its
/// owner hangs up. It never starts a thread, so forking is always safe here.
/// The fork server. No lifeline: it exits when its owner hangs up.
#[linkme::distributed_slice(bootstrap::JOB_KINDS)]
static FORK_SERVER_JOB: bootstrap::JobKind = bootstrap::JobKind {
    name: "fork server",
    lifeline: false,
    run: |conn, _, _| serve_forks(conn),
};

fn serve_forks(mut conn: Conn) -> i32 {
    bootstrap::install_panic_hook();
    // The owner that started this server, as it said. Asked of the system at
    // each request, it would be whoever adopted this server after the owner
    // died: a child forked for a request still queued then would live on,
    // tied to that process. Tied to the owner, it sees it gone, and exits.
    let owner = bootstrap::identity::parent().map(|owner| owner.pid());
    // Ctrl-C reaches the whole process group; the owner decides what it
    // means (as for Python's fork server), and this server ends with the
    // owner. Its children do again what it did.
    let interrupt = process::ignore(process::Ignorable::Interrupt);
    // Checked once, not at each fork: nothing here starts a thread, so any
    // other was started before this job, by a constructor of the program.
    let alone = single_threaded();
    while let Ok((frame, fds)) = conn.recv_frame_with_fds() {
        let request = read_request(&frame, fds).and_then(|request| match owner {
            Some(_) if !alone => Err("the fork server has another thread (started by a \
                 constructor of the program?), and cannot fork safely"
                .into()),
            Some(owner) => Ok((request, owner)),
            None => Err("the fork server's owner is not to be seen".into()),
        });
        let ((start, child_end, siblings), owner) = match request {
            Ok(request) => request,
            Err(e) => match conn.send(&Forked(Err(e))) {
                Ok(()) => continue,
                Err(_) => break,
            },
        };
        // Listed once, and exact: this process is single-threaded.
        let inherited = inherited_fds(&start);
        let answer = fork_for_owner(&start, child_end, siblings, &inherited, owner, interrupt);
        if conn.send(&Forked(answer)).is_err() {
            break;
        }
    }
    0
}

/// A fork request's job, with its descriptors, the child's end of its
/// connection, and the siblings to fork beside it.
fn read_request(
    frame: &[u8],
    mut fds: Vec<OwnedFd>,
) -> std::result::Result<(Start, UnixStream, Vec<Sibling>), String> {
    let ForkRequest { mut start, siblings } =
        wire::decode::<ForkRequest<Start>>(frame, "a fork request").map_err(|e| e.to_string())?;
    if fds.len() <= siblings.len() {
        return Err("the request carried too few connections".into());
    }
    start.job.set_fds(fds.split_off(siblings.len() + 1));
    let mut ends = fds.into_iter().map(UnixStream::from);
    let child_end = ends.next().expect("checked above");
    let siblings = siblings
        .into_iter()
        .zip(ends)
        .map(|(identity, end)| Sibling { identity, end })
        .collect();
    Ok((start, child_end, siblings))
}

/// Forks a child for `start`, which releases `inherited` (but its own
/// descriptors) and forks `siblings`, that the owner, not this server,
/// will reap.
fn fork_for_owner(
    start: &Start,
    child_end: UnixStream,
    siblings: Vec<Sibling>,
    inherited: &[RawFd],
    owner: u32,
    interrupt: process::Disposition,
) -> std::result::Result<u32, String> {
    // SAFETY: this process is single-threaded (`serve_forks` checked), and
    // the child ends with `_exit`.
    match unsafe { process::fork_sibling() }.map_err(|e| e.to_string())? {
        process::Forked::Child => {
            let _unwinding = ExitOnUnwind;
            process::restore(process::Ignorable::Interrupt, interrupt);
            // SAFETY: as in `fork_here`, this process never returns into
            // the frames that own `start`.
            let start = unsafe { std::ptr::read(start) };
            let conn = Conn::new(child_end);
            // The lifeline without a thread: killed when the owner's thread
            // that started this server dies, which lives as long as the owner.
            let child = InChild {
                start,
                lifeline: Lifeline::Kernel,
                parent: owner,
                inherited: Some(inherited.to_vec()),
                siblings,
                parked: false,
            };
            child.run(conn)
        }
        process::Forked::Parent(pid) => Ok(pid),
    }
}
