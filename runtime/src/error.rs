use std::io;

/// Everything that can go wrong when running a function in another process.
///
/// Each variant's message says what happened; an underlying I/O error, when
/// there is one, is available through [`std::error::Error::source`].
///
/// # Examples
///
/// ```
/// use multiproc::process;
///
/// #[process]
/// fn fail() -> u8 {
///     panic!("bad input")
/// }
///
/// # fn main() {
/// let err = fail.spawn().unwrap().join().unwrap_err();
/// assert!(matches!(err, multiproc::Error::Panicked { .. }));
/// assert!(err.to_string().contains("bad input"));
/// # }
/// ```
///
/// Python: an exception in the child is only printed there, and the parent sees
/// `p.exitcode == 1`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The child function panicked.
    #[error("process `{process}` panicked at {location}: {message}")]
    #[non_exhaustive]
    Panicked {
        /// Name of the process that panicked.
        process: String,
        /// The panic message.
        message: String,
        /// `file:line:column` of the panic.
        location: String,
    },
    /// The child exited (for example through `std::process::exit`) before returning a value.
    #[error("process `{process}` exited with code {code} before returning a value")]
    #[non_exhaustive]
    Exited {
        /// Name of the process.
        process: String,
        /// Its exit code.
        code: i32,
    },
    /// The child ended without returning a value, and its exit status is
    /// lost: this program ignores SIGCHLD, so the system reaped the child.
    #[error(
        "process `{process}` ended before returning a value; its exit status is lost because this program ignores SIGCHLD"
    )]
    #[non_exhaustive]
    StatusLost {
        /// The child's name.
        process: String,
    },
    /// The child was killed by a signal.
    #[error("process `{process}` was killed by signal {signal} ({})", crate::sys::process::signal_name(*.signal))]
    #[non_exhaustive]
    Signaled {
        /// Name of the process.
        process: String,
        /// The signal number, e.g. 9 for SIGKILL.
        signal: i32,
    },
    /// The child process could not be started.
    #[error("could not start a child process: {what}")]
    #[non_exhaustive]
    Spawn {
        /// What failed.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The child started but did not complete the start-up handshake.
    #[error("child process {pid} failed its start-up handshake: {reason}")]
    #[non_exhaustive]
    Handshake {
        /// Pid of the child, which has been reaped.
        pid: u32,
        /// Why the handshake failed.
        reason: String,
    },
    /// The function is not registered in this executable.
    #[error("no function is registered under `{key}`; annotate it with `#[multiproc::process]`")]
    #[non_exhaustive]
    NotRegistered {
        /// The registration key (module path and function name).
        key: String,
    },
    /// Two annotated functions share one registration key.
    #[error(
        "{count} functions are registered under `{key}`; give the annotated functions distinct names or move them into distinct modules"
    )]
    #[non_exhaustive]
    DuplicateKey {
        /// The registration key (module path and function name).
        key: String,
        /// How many functions share it.
        count: usize,
    },
    /// A value could not be encoded for, or decoded from, another process.
    #[error("could not {what}: {reason}")]
    #[non_exhaustive]
    Codec {
        /// What was being encoded or decoded.
        what: String,
        /// What postcard reported.
        reason: String,
    },
    /// The peer process closed its end or died.
    #[error("the peer process disconnected")]
    Disconnected,
    /// The value was already taken by an earlier `join_timeout`.
    #[error("process `{process}` was already joined")]
    #[non_exhaustive]
    AlreadyJoined {
        /// Name of the process.
        process: String,
    },
    /// A task of a `map` or `starmap` (the first to fail), or of an
    /// `imap_unordered`, failed; `index` is its item's place in the input,
    /// which those calls would otherwise not tell.
    #[error("the task of item {index} failed: {source}")]
    #[non_exhaustive]
    Task {
        /// The item's place in the input, from 0.
        index: usize,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// A pool worker died (was killed, crashed, or exited) while it held this task.
    #[error("pool worker `{process}` died while running this task: {reason}")]
    #[non_exhaustive]
    WorkerLost {
        /// Name of the worker process.
        process: String,
        /// How it died, e.g. "killed by signal 9 (SIGKILL)".
        reason: String,
    },
    /// The pool has no worker left and could not start one.
    #[error("the pool has no workers left: {reason}")]
    #[non_exhaustive]
    NoWorkers {
        /// Why the last worker could not be started.
        reason: String,
    },
    /// The pool's initializer did not complete in a new worker.
    #[error("the pool initializer failed")]
    #[non_exhaustive]
    Initializer {
        /// What happened in the worker.
        #[source]
        source: Box<Error>,
    },
    /// A task was submitted after `close()` or `terminate()`.
    #[error("the pool is closed; it accepts no new tasks")]
    PoolClosed,
    /// The pool was terminated, by [`Pool::terminate`](crate::Pool::terminate)
    /// or by being dropped, before the task completed.
    #[error(
        "the pool was terminated before this task completed (by `terminate`, or by dropping the `Pool`, which a temporary such as `Pool::new(1)?.apply_async(..)` does at once)"
    )]
    PoolTerminated,
    /// `join()` was called on a pool that was neither closed nor terminated.
    #[error("the pool is still running; call close() or terminate() before join()")]
    PoolRunning,
    /// A bounded queue had no room before the deadline.
    #[error("the queue is full")]
    Full,
    /// `task_done` was called more times than items were put.
    #[error("task_done() was called more times than items were put")]
    TooManyTaskDone,
    /// A bounded semaphore was released more times than it was acquired, or
    /// a semaphore released past its limit of 2^30 permits.
    #[error(
        "a semaphore was released past its limit (a bounded one's initial value, or 2^30 permits)"
    )]
    OverReleased,
    /// A barrier was aborted, reset or timed out while parties waited.
    #[error("the barrier is broken")]
    BrokenBarrier,
    /// An argument is out of its range, such as a pool of no workers or a
    /// shared memory block of no bytes.
    #[error("invalid {argument}: {reason}")]
    #[non_exhaustive]
    InvalidArgument {
        /// The argument, as the API names it.
        argument: &'static str,
        /// What it must be.
        reason: &'static str,
    },
    /// A [`Condition`](crate::Condition) already has as many waiters as it can hold.
    #[error("a condition can hold {limit} waiters at once; wait on another condition")]
    #[non_exhaustive]
    TooManyWaiters {
        /// How many waiters one condition holds.
        limit: usize,
    },
    /// No shared memory block has this name.
    #[error("no shared memory block is named `{name}`")]
    #[non_exhaustive]
    NoSuchSharedMemory {
        /// The name looked for.
        name: String,
    },
    /// An offset and length reach past the end of a shared memory block.
    #[error("bytes {offset}..{offset}+{len} are outside a shared memory block of {size} bytes")]
    #[non_exhaustive]
    OutOfBounds {
        /// Where the access starts.
        offset: usize,
        /// How many bytes it covers.
        len: usize,
        /// The block's size.
        size: usize,
    },
    /// No manager answers at this address, or it went away during a call.
    #[error("the manager at {address} is unreachable")]
    #[non_exhaustive]
    ManagerUnreachable {
        /// Where the manager was expected.
        address: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The manager and this process do not share the same key.
    #[error("could not authenticate with the manager at {address}: {reason}")]
    #[non_exhaustive]
    Authentication {
        /// Where the manager listens.
        address: String,
        /// What went wrong in the challenge.
        reason: String,
    },
    /// The manager could not carry out a request.
    #[error("the manager refused the request: {reason}")]
    #[non_exhaustive]
    Manager {
        /// Why.
        reason: String,
    },
    /// A manager object looked up by name, or a namespace attribute, has
    /// another type than the one asked for.
    #[error("the manager object `{name}` is a {found}, not a {expected}")]
    #[non_exhaustive]
    TypeMismatch {
        /// The name it was published or set under.
        name: String,
        /// The type asked for.
        expected: String,
        /// The type it was made or set as.
        found: String,
    },
    /// A list index is past either end.
    #[error("index {index} is out of range for a list of {len} items")]
    #[non_exhaustive]
    IndexOutOfRange {
        /// The index asked for.
        index: i64,
        /// The list's length.
        len: usize,
    },
    /// A lock or condition was released or used by a thread that does not hold it.
    #[error("the lock is not held by this thread")]
    NotOwner,
    /// A namespace has no attribute of this name.
    #[error("the namespace has no attribute `{name}`")]
    #[non_exhaustive]
    NoSuchAttribute {
        /// The attribute asked for.
        name: String,
    },
    /// `set_start_method` was called again with another method.
    #[error(
        "the start method is already set to `{current}`; set it once, before starting processes"
    )]
    #[non_exhaustive]
    StartMethodSet {
        /// The method set first.
        current: &'static str,
    },
    /// `StartMethod::Fork` was asked for while other threads run.
    #[error(
        "refusing to fork with {threads} threads running: a lock held by another thread would stay locked in the child; use StartMethod::ForkServer, or allow it with fork_with_threads(true)"
    )]
    #[non_exhaustive]
    ForkWithThreads {
        /// The threads of this process, the caller's included.
        threads: usize,
    },
    /// The MPI backend cannot run the pool.
    #[error("the MPI pool cannot run: {reason}")]
    #[non_exhaustive]
    Mpi {
        /// Why.
        reason: String,
    },
    /// A `_timeout` call gave up.
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// An operating-system call failed.
    #[error("{what} failed")]
    #[non_exhaustive]
    Io {
        /// The operation that failed.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// `Result` with [`Error`] as its error type.
///
/// # Examples
///
/// ```
/// fn counter() -> multiproc::Result<multiproc::Value<u64>> {
///     multiproc::Value::new(0)
/// }
/// # counter().unwrap();
/// ```
///
/// Python: a call that may raise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { what, source }
    }
}

