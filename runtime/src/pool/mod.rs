//! [`Pool`]: a fixed set of worker processes running `#[pool_task]` functions.
//!
//! Design: calls are cut into chunks (like Python's `chunksize`) and queued in
//! the parent. One driver thread per worker takes chunks from the queue, keeps
//! up to two in flight, and hands each chunk's results to the call's sink
//! ([`AsyncResult`] or an [`IMap`]). Results stay encoded until the caller,
//! who knows their type, decodes them. When a worker dies, its running chunk
//! fails with [`Error::WorkerLost`] (or is retried, if asked), the chunks it
//! had not started go back to the queue, and a new worker takes its place.

mod driver;
pub(crate) mod progress;
mod results;
pub(crate) mod worker;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use results::{AsyncResult, IMap};

use crate::bootstrap::{self, CallSpec, Launch};
use crate::error::{Error, Result};
use crate::task::Task;
use crate::wire;
use driver::{Chunk, Dispatch, RanHere, WorkerConfig};
use results::{Collector, Encoded, Inbox, Sink, decode_all, decode_one};
use crate::wire::push_prefixed;

/// A function that pool methods accept: one annotated with `#[pool_task]` (or `#[process]`).
///
/// # Examples
///
/// ```
/// use multiproc::{pool_task, Pool, PoolTask};
///
/// #[pool_task]
/// fn add(a: u64, b: u64) -> u64 {
///     a + b
/// }
///
/// fn run_on<T: PoolTask>(pool: &Pool, task: T, args: T::Args) -> multiproc::Result<T::Output> {
///     pool.apply(task, args)
/// }
/// # fn main() -> Result<(), multiproc::Error> {
/// assert_eq!(run_on(&Pool::new(1)?, add, (1, 2))?, 3);
/// # Ok(())
/// # }
/// ```
///
/// Python: any picklable callable.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `#[pool_task]` function",
    label = "expected a function annotated with `#[pool_task]`",
    note = "annotate the function with `#[multiproc::pool_task]` so that worker processes can find it",
    note = "a closure cannot cross to another process: make it a `#[pool_task]` function, and pass what it captures as arguments"
)]
pub trait PoolTask: Copy {
    /// The tuple of the function's parameters.
    type Args: Serialize;
    /// What the function returns.
    type Output: DeserializeOwned;
    #[doc(hidden)]
    fn key(&self) -> &'static str;
}

impl<F: Copy, Args: Serialize, R: DeserializeOwned> PoolTask for Task<F, Args, R> {
    type Args = Args;
    type Output = R;

    fn key(&self) -> &'static str {
        Task::key(self)
    }
}

/// A [`PoolTask`] of exactly one parameter, as `map` and `imap` need.
///
/// # Examples
///
/// ```
/// use multiproc::{pool_task, Pool, UnaryTask};
///
/// #[pool_task]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn squares<T: UnaryTask<Arg = u64>>(pool: &Pool, task: T) -> multiproc::Result<Vec<T::Output>> {
///     pool.map(task, 0..4)
/// }
/// # fn main() -> Result<(), multiproc::Error> {
/// assert_eq!(squares(&Pool::new(1)?, square)?, [0, 1, 4, 9]);
/// # Ok(())
/// # }
/// ```
///
/// Python: a callable of one argument, as `Pool.map` calls it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a one-parameter `#[pool_task]` function, which `map` and `imap` need",
    label = "expected a `#[pool_task]` function of one parameter",
    note = "for a function of several parameters, use `starmap` with an iterator of tuples",
    note = "for a function without `#[multiproc::pool_task]`, annotate it",
    note = "a closure cannot cross to another process: make it a `#[pool_task]` function, and pass what it captures as arguments (`starmap` takes tuples)"
)]
pub trait UnaryTask: PoolTask {
    /// The function's one parameter.
    type Arg: Serialize;
}

impl<F: Copy, A: Serialize, R: DeserializeOwned> UnaryTask for Task<F, (A,), R> {
    type Arg = A;
}

/// Options for a [`Pool`]; made by [`Pool::builder`].
///
/// # Examples
///
/// ```
/// use multiproc::{pool_task, Pool};
///
/// #[pool_task]
/// fn setup(level: u8) {
///     let _ = level;
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let pool = Pool::builder()
///     .processes(2)
///     .initializer(setup, (3,))
///     .max_tasks_per_child(100)
///     .build()?;
/// # Ok(())
/// # }
/// ```
///
/// Python: the arguments of `multiprocessing.Pool(...)`.
#[derive(Debug, Default)]
#[must_use = "a builder starts nothing until `build`"]
pub struct PoolBuilder {
    processes: Option<usize>,
    initializer: Option<Result<CallSpec>>,
    /// The initializer encoded for a worker that cannot receive
    /// descriptors (an MPI rank), if its arguments handed any over.
    initializer_inline: Option<Result<CallSpec>>,
    /// How many workers the backend has, for one whose number is fixed
    /// (the ranks of an MPI job).
    pub(crate) workers: Option<fn() -> Result<usize>>,
    max_tasks_per_child: Option<usize>,
    retries: u32,
    pub(crate) launch: Launch,
    progress: bool,
}

impl PoolBuilder {
    /// Shows a progress bar on stderr for each `map`, `starmap`, `imap` and
    /// `imap_unordered` (and their `_async` and `_chunked` forms), advanced as
    /// chunks complete; a counter where the input's length is not known.
    /// Needs the `progress` feature: without it, a call does not compile.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::builder().processes(2).progress(true).build()?;
    /// assert_eq!(pool.map(square, 0..1000u64)?.len(), 1000);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: no equivalent; users wrap `imap` in `tqdm`.
    pub fn progress(mut self, on: impl progress::Shown) -> Self {
        self.progress = on.shown();
        self
    }

    /// The number of worker processes; [`cpu_count`](crate::cpu_count) by default.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = multiproc::Pool::builder().processes(2).build()?;
    /// assert_eq!(pool.processes(), 2);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `Pool(processes=2)`.
    pub fn processes(mut self, processes: usize) -> Self {
        self.processes = Some(processes);
        self
    }

    /// A function each worker runs once when it starts. If it panics in the
    /// first workers, [`build`](PoolBuilder::build) fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use multiproc::{pool_task, Pool};
    ///
    /// #[pool_task]
    /// fn refuse() {
    ///     panic!("no config")
    /// }
    ///
    /// let err = Pool::builder().processes(1).initializer(refuse, ()).build().unwrap_err();
    /// assert!(matches!(err, multiproc::Error::Initializer { .. }));
    /// ```
    ///
    /// Python: `Pool(initializer=f, initargs=(...))`, which instead respawns failing workers forever.
    pub fn initializer<T: PoolTask>(mut self, task: T, args: T::Args) -> Self {
        let key = task.key();
        self.initializer = Some(bootstrap::lookup(key).and_then(|_| CallSpec::new(key, &args)));
        if let Some(Ok(spec)) = &self.initializer
            && !spec.fds.is_empty()
        {
            self.initializer_inline = Some(CallSpec::inline(key, &args));
        }
        self
    }

    /// Replaces each worker after it has run this many chunks.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = multiproc::Pool::builder().processes(1).max_tasks_per_child(10).build()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `Pool(maxtasksperchild=10)`.
    pub fn max_tasks_per_child(mut self, tasks: usize) -> Self {
        self.max_tasks_per_child = Some(tasks);
        self
    }

    /// Runs a chunk again, up to `retries` times, when its worker dies under it.
    /// Off (0) by default, since a chunk may have had effects before the crash.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = multiproc::Pool::builder().processes(1).retries(2).build()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: no equivalent.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Starts the workers by `method` instead of the program's default
    /// ([`get_start_method`](crate::get_start_method)). With
    /// [`StartMethod::Fork`](crate::StartMethod::Fork), a worker that replaces
    /// a dead one is forked from the pool's own thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool, StartMethod};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::builder().processes(2).start_method(StartMethod::Fork).build()?;
    /// assert_eq!(pool.map(square, 0..4u64)?, [0, 1, 4, 9]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `multiprocessing.get_context("fork").Pool(2)`.
    pub fn start_method(mut self, method: crate::StartMethod) -> Self {
        self.launch.method = Some(method);
        self
    }

    /// Lets [`StartMethod::Fork`](crate::StartMethod::Fork) fork workers while
    /// other threads of the program run; see
    /// [`ProcessBuilder::fork_with_threads`](crate::ProcessBuilder::fork_with_threads).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{Pool, StartMethod};
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::builder()
    ///     .processes(1)
    ///     .start_method(StartMethod::Fork)
    ///     .fork_with_threads(true)
    ///     .build()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: forks with threads, and warns since 3.12.
    pub fn fork_with_threads(mut self, allow: bool) -> Self {
        self.launch.fork_with_threads = allow;
        self
    }

    /// Starts the workers and returns once one is ready for tasks; the
    /// others take tasks as soon as they are. With an
    /// [`initializer`](PoolBuilder::initializer), it waits until each has
    /// run it, so that its failure is reported here.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for 0 processes or 0 `max_tasks_per_child`;
    /// [`Error::Initializer`] if the initializer fails in a worker;
    /// [`Error::Spawn`] or [`Error::Handshake`] if no worker can start (or,
    /// with an initializer, any one). A worker that cannot start after
    /// `build` has returned is logged (`log::warn!`), and the pool goes on
    /// without it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = multiproc::Pool::builder().build()?;
    /// assert_eq!(pool.processes(), multiproc::cpu_count());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `multiprocessing.Pool(...)`.
    pub fn build(self) -> Result<Pool> {
        if self.processes == Some(0) {
            return Err(Error::InvalidArgument {
                argument: "processes",
                reason: "a pool needs at least one worker",
            });
        }
        if self.max_tasks_per_child == Some(0) {
            return Err(Error::InvalidArgument {
                argument: "max_tasks_per_child",
                reason: "a worker must be allowed at least one task",
            });
        }
        let processes = match self.workers {
            Some(workers) => workers()?,
            None => self.processes.unwrap_or_else(crate::cpu_count),
        };
        let initializer = match self.launch.passes_fds() {
            true => self.initializer,
            false => self.initializer_inline.or(self.initializer),
        };
        let config = Arc::new(WorkerConfig {
            initializer: initializer.transpose()?,
            retries: self.retries,
            launch: self.launch,
        });
        let shared = Dispatch::new(processes, self.max_tasks_per_child);
        let workers = launch_workers(&config, &shared, processes)?;
        // Their drivers report nothing more.
        let readied = workers
            .iter()
            .filter(|worker| matches!(worker, driver::Launched::Lent))
            .count();
        let (ready, readiness) = std::sync::mpsc::channel();
        // Each driver reports once: its worker ready, or why it is not (a
        // driver that ended without a word lost its thread). One ready worker
        // is enough to take tasks, and the others join as they start; an
        // initializer's failure, though, is reported here, from any of them.
        let wanted = match config.initializer {
            Some(_) => processes,
            None => 1,
        };
        let pool = Pool {
            passes_fds: config.launch.passes_fds(),
            shared,
            drivers: Mutex::new(Vec::new()),
            unstarted: Mutex::new(Some(Unstarted {
                workers,
                config: Arc::clone(&config),
                ready,
            })),
            running: Arc::new(Running::default()),
            processes,
            progress: self.progress,
        };
        let (mut ready, mut failure) = (readied, None);
        if ready == wanted {
            return Ok(pool);
        }
        // On error, dropping `pool` terminates the drivers already started.
        pool.start_drivers()?;
        let ended = || Error::Spawn {
            what: "starting a pool worker".into(),
            source: std::io::Error::other("the pool thread ended"),
        };
        for _ in readied..processes {
            match readiness.recv() {
                Ok(Ok(())) => ready += 1,
                Ok(Err(e)) if config.initializer.is_some() => return Err(e),
                Ok(Err(e)) => failure = failure.or(Some(e)),
                Err(_) => failure = failure.or_else(|| Some(ended())),
            }
            if ready == wanted {
                return Ok(pool);
            }
        }
        Err(failure.unwrap_or_else(ended))
    }
}

/// A pool of worker processes.
///
/// Tasks are functions annotated with `#[pool_task]`. Each call's panic comes
/// back as that call's error and the worker lives on; a worker that dies
/// (killed, crashed, out of memory) fails only the chunk it was running, and
/// is replaced. The pool never hangs on a dead worker.
///
/// Dropping the pool terminates it, like leaving Python's `with Pool() as p:`
/// block: queued tasks fail with [`Error::PoolTerminated`]. To let them
/// finish, call [`close`](Pool::close) and [`join`](Pool::join) first.
///
/// With the `mpi` feature, `Pool::mpi()` and `PoolBuilder::mpi(self)` make
/// the same pool with its workers on the ranks of an MPI job (one per rank
/// other than 0), across machines; every method here works the same. They
/// are not shown on docs.rs, which cannot build the MPI bindings (they need
/// Open MPI and libclang); the README's MPI section describes them.
///
/// # Examples
///
/// ```
/// use multiproc::{pool_task, Pool};
///
/// #[pool_task]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// # fn main() -> Result<(), multiproc::Error> {
/// let pool = Pool::new(2)?;
/// assert_eq!(pool.map(square, 0..5u64)?, [0, 1, 4, 9, 16]);
/// # Ok(())
/// # }
/// ```
///
/// Python: `multiprocessing.Pool`.
#[must_use = "dropping a `Pool` terminates its workers at once"]
pub struct Pool {
    shared: Arc<Dispatch>,
    drivers: Mutex<Vec<JoinHandle<()>>>,
    /// The driver threads' work, until they start: with its first worker
    /// ready and lent, `build` returns without them, and they start with
    /// the first call that needs one (`start_drivers`): an `apply` that
    /// runs on a lent worker needs none, and starting threads takes longer
    /// than that call.
    unstarted: Mutex<Option<Unstarted>>,
    /// How many driver threads have not ended yet, for `join_timeout`.
    running: Arc<Running>,
    processes: usize,
    /// Whether the descriptors of handles among the arguments reach the
    /// workers (not on MPI ranks, where a large `Bytes` goes inline).
    passes_fds: bool,
    /// Whether each call draws a progress bar.
    progress: bool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("processes", &self.processes)
            .finish_non_exhaustive()
    }
}

/// What the driver threads of a pool need to start.
struct Unstarted {
    workers: Vec<driver::Launched>,
    config: Arc<WorkerConfig>,
    ready: std::sync::mpsc::Sender<Result<()>>,
}

/// Starts `processes` workers, or leaves them to their drivers. Forked
/// workers (`Fork`, or the fork server) cost two forks or two requests per
/// group of [`GROUP`]: the first of each, and a second that forks the
/// others once its driver starts (`ChildProc::start_beside`,
/// `start::fork_late_siblings`); each driver but the first's learns its
/// worker's pid from the worker (or, for that second, from the fork server). A fork from another
/// thread would need a lifeline thread in each child, so the forks here
/// come before any driver thread exists. MPI ranks are attached in turn.
/// Spawned workers are each an exec and a handshake, mostly waiting: each
/// driver starts its own, side by side.
fn launch_workers(
    config: &WorkerConfig,
    shared: &Dispatch,
    processes: usize,
) -> Result<Vec<driver::Launched>> {
    let launch = &config.launch;
    if !crate::bootstrap::start::can_start_beside(launch) {
        let spawned = launch.executable.is_some()
            || launch.method.unwrap_or_else(crate::get_start_method) == crate::StartMethod::Spawn;
        return (0..processes)
            .map(|_| match launch.attach.is_none() && spawned {
                true => Ok(driver::Launched::Later),
                false => driver::launch_worker(config).map(driver::Launched::Now),
            })
            .collect();
    }
    let mut launched = Vec::with_capacity(processes);
    while launched.len() < processes {
        let group = (processes - launched.len()).min(GROUP);
        let (first, siblings) = driver::launch_workers(config, group - 1)?;
        // Without an initializer, the first is readied here, before any
        // driver thread exists: a thread started now would take the core
        // this new child is queued on, and delay the pool's first result.
        // It is lent at once, so that the pool's first call can run on it
        // before its driver does (`Dispatch::run_here`). (With an
        // initializer, `build` waits for every worker anyway.)
        let first = match launched.is_empty() && config.initializer.is_none() {
            true => match driver::worker_ready(first, None) {
                Ok(worker) => {
                    shared.lend_ready(0, worker);
                    driver::Launched::Lent
                }
                Err(e) => driver::Launched::Failed(e),
            },
            false => driver::Launched::Now(first),
        };
        // A later group's carrier starts now, not with its driver: no first
        // result waits for it, and under the fork server its siblings' ends
        // would be held here until then, two descriptors a worker.
        let later = !launched.is_empty();
        launched.push(first);
        for (i, forking) in siblings.into_iter().enumerate() {
            launched.push(match later && i == 0 {
                true => forking.started().map_or_else(
                    |e| {
                        log::debug!("the carrier of a later group of workers did not start: {e}");
                        driver::Launched::Later
                    },
                    driver::Launched::Now,
                ),
                false => driver::Launched::Forking(forking),
            });
        }
    }
    Ok(launched)
}

/// The most workers one fork (or request to the fork server) starts: each
/// holds two descriptors here until it is running.
const GROUP: usize = 64;

/// A chunk size the caller gave, if it is one.
fn valid_chunksize(size: usize) -> Result<usize> {
    if size == 0 {
        return Err(Error::InvalidArgument {
            argument: "chunksize",
            reason: "a chunk holds at least one item",
        });
    }
    Ok(size)
}

/// How a call of `len` items is cut into chunks, one chunk at a time.
///
/// By default, the first half of the items go in chunks of
/// `len / (8 * processes)`: Python's rule with twice as many chunks, so that
/// encoding, running and decoding overlap. Then each chunk takes a quarter
/// of a worker's share of what is left, down to a sixty-fourth of the first
/// size, so that the last chunks are short and no worker runs a long one
/// alone at the end, however uneven the items (files sorted by path cluster
/// the big ones). Each chunk costs a round trip, so no chunk is cut shorter
/// than the floor its caller gives ([`pace_floor`]): measured on the items
/// already back, it lets a tail much slower than those end on a longer
/// chunk, at most the first size, as Python's. A call of at most 32
/// items per worker goes one item per chunk: a chunk of two already doubles
/// the time of its worker when one of them is long.
/// With a `fixed` size, every chunk has it.
#[derive(Clone)]
struct Chunking {
    left: usize,
    first: usize,
    last: usize,
    processes: usize,
}

impl Chunking {
    fn new(len: usize, processes: usize, fixed: Option<usize>) -> Chunking {
        let (first, last) = match (fixed, len <= 32 * processes) {
            (Some(size), _) => (size, size),
            (None, true) => (1, 1),
            (None, false) => {
                let first = len.div_ceil(processes * 8).max(1);
                (first, (first / 64).max(1))
            }
        };
        Chunking {
            left: len,
            first,
            last,
            processes,
        }
    }

    /// The size of the next chunk, at least `floor` items where the
    /// schedule has that many and the call that many left.
    fn next(&mut self, floor: usize) -> Option<usize> {
        let shortest = self.last.max(floor.min(self.first));
        let size = self
            .left
            .div_ceil(self.processes * 4)
            .clamp(shortest, self.first)
            .min(self.left);
        self.left -= size;
        (size > 0).then_some(size)
    }

    /// How many chunks the call takes without a floor: the most it can take.
    fn count(mut self) -> usize {
        match self.first == self.last {
            true => self.left.div_ceil(self.first),
            false => std::iter::from_fn(|| self.next(0)).count(),
        }
    }

    /// Whether a floor can change the sizes: only the default's can.
    fn tapers(&self) -> bool {
        self.first > self.last
    }
}

/// The shortest time a chunk should take once the pace of a call is known:
/// a round trip to a worker costs 5 to 50 µs, more on a busy machine, so a
/// chunk of this takes at least twenty times that.
const SHORTEST_CHUNK: Duration = Duration::from_millis(1);

/// How many items one of `processes` workers runs in [`SHORTEST_CHUNK`], at
/// the pace of a call that has `done` items back after `since`; 0 before any
/// are back. An underestimate, since `since` also counts the time before
/// the first chunk arrived: it errs towards the shorter chunks that keep
/// the end even.
fn pace_floor(done: usize, since: Duration, processes: usize) -> usize {
    let per_worker = done as f64 / since.as_secs_f64().max(f64::MIN_POSITIVE) / processes as f64;
    (per_worker * SHORTEST_CHUNK.as_secs_f64()) as usize
}

/// Encodes up to `size` items of `items` as one chunk; `None` when `items`
/// is exhausted. With `passes_fds`, handles among them hand over their
/// descriptors to travel beside it.
fn encode_chunk<A: Serialize>(
    items: &mut impl Iterator<Item = A>,
    size: usize,
    passes_fds: bool,
) -> Option<Encoded> {
    if !passes_fds {
        return encode_items(items, size);
    }
    let (encoded, fds) = wire::collect_fds(|| encode_items(items, size));
    encoded.map(|encoded| Encoded { fds, ..encoded })
}

fn encode_items<A: Serialize>(items: &mut impl Iterator<Item = A>, size: usize) -> Option<Encoded> {
    // Room for small items: a length prefix and a few bytes each.
    let mut bytes = Vec::with_capacity(size.min(1 << 20) * 8);
    let mut failed = Vec::new();
    let mut count = 0;
    for item in items.take(size) {
        let fits = push_prefixed(&mut bytes, |out| {
            let mark = out.len();
            if let Err(e) = wire::encode_into(&item, out) {
                out.truncate(mark);
                failed.push((count, wire::codec_failure(&e)));
            }
        });
        if !fits {
            failed.push((
                count,
                "an argument larger than 4 GiB cannot be sent in a chunk".into(),
            ));
        }
        count += 1;
    }
    (count > 0).then_some(Encoded {
        items: bytes,
        count,
        failed,
        fds: Vec::new(),
    })
}

fn chunk(key: &'static str, encoded: Encoded, index: usize, sink: Arc<dyn Sink>) -> Chunk {
    Chunk {
        key,
        items: encoded.items,
        count: encoded.count,
        failed: encoded.failed,
        index,
        sink,
        attempts: 0,
        fds: encoded.fds,
    }
}

impl Pool {
    /// Starts a pool of `processes` workers.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `processes` is 0; otherwise as for
    /// [`PoolBuilder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = multiproc::Pool::new(multiproc::cpu_count())?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `multiprocessing.Pool(processes)`.
    pub fn new(processes: usize) -> Result<Pool> {
        Pool::builder().processes(processes).build()
    }

    /// Options: processes, initializer, `max_tasks_per_child`, retries.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = multiproc::Pool::builder().processes(1).build()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `multiprocessing.Pool(processes, initializer, initargs, maxtasksperchild)`.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// The number of worker processes.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// assert_eq!(multiproc::Pool::new(2)?.processes(), 2);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool._processes`.
    pub fn processes(&self) -> usize {
        self.processes
    }

    fn lock_drivers(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.drivers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the driver threads, one per slot, unless they run already.
    /// Another caller waits until they are all counted running, so that its
    /// `join_timeout` cannot miss them.
    fn start_drivers(&self) -> Result<()> {
        let mut unstarted = self.unstarted.lock().unwrap_or_else(|e| e.into_inner());
        let Some(Unstarted {
            workers,
            config,
            ready,
        }) = unstarted.take()
        else {
            return Ok(());
        };
        let mut drivers = self.lock_drivers();
        let mut failed = None;
        for (slot, worker) in workers.into_iter().enumerate() {
            if let Some(e) = &failed {
                self.shared.abandon(slot, format!("its thread did not start: {e}"));
                continue;
            }
            let (shared, config) = (Arc::clone(&self.shared), Arc::clone(&config));
            let ready = ready.clone();
            let own = crate::bootstrap::start::OwnThread::enter();
            let running = Running::enter(&self.running);
            let driver = std::thread::Builder::new()
                .name(format!("multiproc-pool-{slot}"))
                .spawn(move || {
                    let _own = own;
                    let _running = running;
                    driver::drive(&shared, &config, slot, worker, ready);
                });
            match driver {
                Ok(driver) => drivers.push(driver),
                Err(e) => {
                    self.shared.abandon(slot, format!("its thread did not start: {e}"));
                    failed = Some(e);
                }
            }
        }
        match failed {
            Some(e) => Err(Error::io("starting a pool thread")(e)),
            None => Ok(()),
        }
    }

    /// Queues every chunk of one call and returns the collector of its
    /// results. With `here`, a call of one chunk runs on a worker whose
    /// driver is idle, from this thread, if there is one
    /// (`Dispatch::run_here`): for a caller that would only wait for it.
    fn submit_all<A: Serialize>(
        &self,
        key: &'static str,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
        here: bool,
    ) -> Result<Arc<Collector>> {
        bootstrap::lookup(key)?;
        let items = items.into_iter();
        // The chunk size depends on the number of items: an input that does
        // not know it exactly is read in full first, as Python does.
        match items.size_hint() {
            (len, Some(upper)) if len == upper => {
                self.submit_known(key, items, len, chunksize, here)
            }
            _ => {
                let items: Vec<A> = items.collect();
                let len = items.len();
                self.submit_known(key, items.into_iter(), len, chunksize, here)
            }
        }
    }

    /// Chunks and queues `len` items, encoding each chunk as it is queued.
    fn submit_known<A: Serialize>(
        &self,
        key: &'static str,
        mut items: impl Iterator<Item = A>,
        len: usize,
        chunksize: Option<usize>,
        here: bool,
    ) -> Result<Arc<Collector>> {
        let fixed = chunksize.map(valid_chunksize).transpose()?;
        let mut chunking = Chunking::new(len, self.processes, fixed);
        let count = chunking.clone().count();
        // No bar for a single call (`apply`).
        let bar = progress::Bar::new(self.progress && len > 1, Some(len));
        let collector = Collector::new(count, bar);
        // Each chunk is queued as soon as it is encoded, so workers start at
        // once. An iterator may yield more or fewer items than its size hint
        // promised; the collector is resized to what it did yield, and items
        // beyond the schedule go in chunks of its last size.
        let started = Instant::now();
        let mut index = 0;
        let mut size = fixed.unwrap_or(1);
        loop {
            let floor = match chunking.tapers() {
                true => pace_floor(collector.calls_arrived(), started.elapsed(), self.processes),
                false => 0,
            };
            size = chunking.next(floor).unwrap_or(size);
            let Some(encoded) = encode_chunk(&mut items, size, self.passes_fds) else {
                break;
            };
            if index >= count {
                collector.set_len(index + 1);
            }
            let sink = Arc::clone(&collector) as Arc<dyn Sink>;
            let chunk = chunk(key, encoded, index, sink);
            let ran = match here && count == 1 {
                true => self.shared.run_here(chunk),
                false => RanHere::NotRun(chunk),
            };
            // A call that ran on a lent worker needs no driver (yet).
            match ran {
                RanHere::Delivered => {}
                // Its outcome reaches the collector either way: from its
                // driver, or as lost with its slot, if that cannot start.
                RanHere::ForDriver => {
                    let _ = self.start_drivers();
                }
                RanHere::NotRun(chunk) => {
                    self.start_drivers()?;
                    self.shared.submit(vec![chunk])?;
                }
            }
            index += 1;
        }
        if index < count {
            collector.set_len(index);
        }
        Ok(collector)
    }

    /// Starts a map-like call: every item is one call of the function under `key`.
    fn start_all<A: Serialize, R: DeserializeOwned>(
        &self,
        key: &'static str,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<R>>> {
        let collector = self.submit_all(key, items, chunksize, false)?;
        Ok(AsyncResult::new(collector, decode_all))
    }

    /// Calls `task` on every item, in parallel, and returns the values in order.
    ///
    /// Chunks are sized from the number of items, so an input that does not
    /// know its exact length is read in full first. The first half of the
    /// items goes in chunks of an eighth of a worker's share, and the chunks
    /// after shrink with what is left, so that no worker runs a long last
    /// chunk alone however uneven the items, but not below a millisecond's
    /// work at the pace of the results already back (items at the end much
    /// slower than the first can still make a long last chunk); up to 32
    /// items per worker go one at a time. [`map_chunked`](Pool::map_chunked) fixes the size instead.
    ///
    /// # Errors
    ///
    /// The error of the first item that failed (a panic, a lost worker, a
    /// codec error), as in Python; [`Error::PoolClosed`] after `close()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// #[pool_task]
    /// fn square(x: u64) -> u64 {
    ///     x * x
    /// }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map(square, [1u64, 2, 3])?, [1, 4, 9]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.map(square, [1, 2, 3])`.
    pub fn map<T: UnaryTask>(
        &self,
        task: T,
        items: impl IntoIterator<Item = T::Arg>,
    ) -> Result<Vec<T::Output>> {
        self.map_async(task, items)?.get()
    }

    /// [`map`](Pool::map) with `chunksize` items sent to a worker at a time.
    ///
    /// # Errors
    ///
    /// As for [`map`](Pool::map).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map_chunked(square, 0..4u64, 1)?, [0, 1, 4, 9]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.map(square, range(4), chunksize=1)`.
    pub fn map_chunked<T: UnaryTask>(
        &self,
        task: T,
        items: impl IntoIterator<Item = T::Arg>,
        chunksize: usize,
    ) -> Result<Vec<T::Output>> {
        self.start_all(task.key(), items, Some(chunksize))?.get()
    }

    /// Starts a [`map`](Pool::map) and returns at once.
    ///
    /// # Errors
    ///
    /// [`Error::PoolClosed`] after `close()`; the items' errors come from the result.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// let h = pool.map_async(square, 0..10u64)?;
    /// assert_eq!(h.get()?.len(), 10);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.map_async(square, range(10))`.
    pub fn map_async<T: UnaryTask>(
        &self,
        task: T,
        items: impl IntoIterator<Item = T::Arg>,
    ) -> Result<AsyncResult<Vec<T::Output>>> {
        self.start_all(task.key(), items, None)
    }

    /// Calls `task` with each tuple of arguments, in parallel; values in order.
    ///
    /// # Errors
    ///
    /// As for [`map`](Pool::map).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// #[pool_task]
    /// fn add(a: u64, b: u64) -> u64 {
    ///     a + b
    /// }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap(add, vec![(1, 2), (3, 4)])?, [3, 7]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.starmap(add, [(1, 2), (3, 4)])`.
    pub fn starmap<T: PoolTask>(
        &self,
        task: T,
        items: impl IntoIterator<Item = T::Args>,
    ) -> Result<Vec<T::Output>> {
        self.starmap_async(task, items)?.get()
    }

    /// [`starmap`](Pool::starmap) with `chunksize` calls sent to a worker at a time.
    ///
    /// # Errors
    ///
    /// As for [`map`](Pool::map).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap_chunked(add, vec![(1, 2), (3, 4)], 1)?, [3, 7]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.starmap(add, pairs, chunksize=1)`.
    pub fn starmap_chunked<T: PoolTask>(
        &self,
        task: T,
        items: impl IntoIterator<Item = T::Args>,
        chunksize: usize,
    ) -> Result<Vec<T::Output>> {
        self.start_all(task.key(), items, Some(chunksize))?.get()
    }

    /// Starts a [`starmap`](Pool::starmap) and returns at once.
    ///
    /// # Errors
    ///
    /// As for [`map_async`](Pool::map_async).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.starmap_async(add, vec![(1, 2)])?.get()?, [3]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.starmap_async(add, [(1, 2)])`.
    pub fn starmap_async<T: PoolTask>(
        &self,
        task: T,
        items: impl IntoIterator<Item = T::Args>,
    ) -> Result<AsyncResult<Vec<T::Output>>> {
        self.start_all(task.key(), items, None)
    }

    /// Calls `task` once in a worker and waits for its value.
    ///
    /// When a worker is idle and no call is queued, this thread sends the
    /// call to it and reads the answer itself, without waking a pool
    /// thread: a round trip of a few microseconds. Otherwise the call takes
    /// its turn in the queue. Either way it starts no sooner than the calls
    /// queued before it.
    ///
    /// # Errors
    ///
    /// The call's error; [`Error::PoolClosed`] after `close()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// assert_eq!(pool.apply(add, (1, 2))?, 3);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.apply(add, (1, 2))`.
    pub fn apply<T: PoolTask>(&self, task: T, args: T::Args) -> Result<T::Output> {
        self.submit_one(task, args, true)?.get()
    }

    /// Starts one call of `task` in a worker and returns at once.
    ///
    /// # Errors
    ///
    /// [`Error::PoolClosed`] after `close()`; the call's error comes from the result.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn add(a: u64, b: u64) -> u64 { a + b }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// let h = pool.apply_async(add, (1, 2))?;
    /// assert_eq!(h.get()?, 3);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.apply_async(add, (1, 2))`.
    pub fn apply_async<T: PoolTask>(
        &self,
        task: T,
        args: T::Args,
    ) -> Result<AsyncResult<T::Output>> {
        self.submit_one(task, args, false)
    }

    /// Submits one call; with `here`, runs it from this thread if a worker
    /// is free (`submit_all`).
    fn submit_one<T: PoolTask>(
        &self,
        task: T,
        args: T::Args,
        here: bool,
    ) -> Result<AsyncResult<T::Output>> {
        let collector = self.submit_all(task.key(), vec![args], Some(1), here)?;
        Ok(AsyncResult::new(collector, decode_one))
    }

    fn lazy<'p, A: Serialize + 'p, R: DeserializeOwned>(
        &'p self,
        key: &'static str,
        items: impl Iterator<Item = A> + 'p,
        chunksize: usize,
        ordered: bool,
    ) -> Result<IMap<'p, R>> {
        bootstrap::lookup(key)?;
        let chunksize = valid_chunksize(chunksize)?;
        let len = match items.size_hint() {
            (low, Some(high)) if low == high => Some(low),
            _ => None,
        };
        self.start_drivers()?;
        let mut items = items;
        let (shared, passes_fds) = (&self.shared, self.passes_fds);
        let ahead = (4 * self.processes).max(256 / chunksize);
        IMap::new(
            Box::new(move |encoded, index, inbox: Arc<Inbox>| {
                shared.submit(vec![chunk(key, encoded, index, inbox)])
            }),
            Box::new(move || encode_chunk(&mut items, chunksize, passes_fds)),
            ordered,
            ahead,
            chunksize,
            progress::Bar::new(self.progress, len),
        )
    }

    /// Like [`map`](Pool::map), but lazy: yields each value, in order, as soon
    /// as it is ready, and reads the input only a bounded distance ahead.
    ///
    /// # Errors
    ///
    /// [`Error::PoolClosed`] after `close()`; each item's error is yielded in its place.
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// for (i, r) in pool.imap(square, 0..10u64)?.enumerate() {
    ///     assert_eq!(r?, (i * i) as u64);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.imap(square, range(10))`.
    pub fn imap<'p, T: UnaryTask>(
        &'p self,
        task: T,
        items: impl IntoIterator<Item = T::Arg, IntoIter: 'p>,
    ) -> Result<IMap<'p, T::Output>>
    where
        T::Arg: 'p,
    {
        self.lazy(task.key(), items.into_iter(), 1, true)
    }

    /// [`imap`](Pool::imap) with `chunksize` items sent to a worker at a time.
    ///
    /// # Errors
    ///
    /// As for [`imap`](Pool::imap).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// let v: Vec<u64> = pool.imap_chunked(square, 0..100u64, 10)?.collect::<Result<_, _>>()?;
    /// assert_eq!(v[99], 99 * 99);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.imap(square, range(100), chunksize=10)`.
    pub fn imap_chunked<'p, T: UnaryTask>(
        &'p self,
        task: T,
        items: impl IntoIterator<Item = T::Arg, IntoIter: 'p>,
        chunksize: usize,
    ) -> Result<IMap<'p, T::Output>>
    where
        T::Arg: 'p,
    {
        self.lazy(task.key(), items.into_iter(), chunksize, true)
    }

    /// Like [`imap`](Pool::imap), but yields values in the order they complete.
    ///
    /// # Errors
    ///
    /// As for [`imap`](Pool::imap).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// let mut v: Vec<u64> = pool.imap_unordered(square, 0..5u64)?.collect::<Result<_, _>>()?;
    /// v.sort();
    /// assert_eq!(v, [0, 1, 4, 9, 16]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.imap_unordered(square, range(5))`.
    pub fn imap_unordered<'p, T: UnaryTask>(
        &'p self,
        task: T,
        items: impl IntoIterator<Item = T::Arg, IntoIter: 'p>,
    ) -> Result<IMap<'p, T::Output>>
    where
        T::Arg: 'p,
    {
        self.lazy(task.key(), items.into_iter(), 1, false)
    }

    /// [`imap_unordered`](Pool::imap_unordered) with `chunksize` items per worker message.
    ///
    /// # Errors
    ///
    /// As for [`imap`](Pool::imap).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(2)?;
    /// let n = pool.imap_unordered_chunked(square, 0..100u64, 10)?.count();
    /// assert_eq!(n, 100);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.imap_unordered(square, range(100), chunksize=10)`.
    pub fn imap_unordered_chunked<'p, T: UnaryTask>(
        &'p self,
        task: T,
        items: impl IntoIterator<Item = T::Arg, IntoIter: 'p>,
        chunksize: usize,
    ) -> Result<IMap<'p, T::Output>>
    where
        T::Arg: 'p,
    {
        self.lazy(task.key(), items.into_iter(), chunksize, false)
    }

    /// Accepts no new tasks; queued ones still run. Then call [`join`](Pool::join).
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// let h = pool.apply_async(square, (3,))?;
    /// pool.close();
    /// assert!(pool.apply(square, (4,)).is_err());
    /// pool.join()?;
    /// assert_eq!(h.get()?, 9);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.close()`.
    pub fn close(&self) {
        // They drain the queue, then end. Those that cannot start leave
        // their slots abandoned.
        let _ = self.start_drivers();
        self.shared.close();
    }

    /// Waits until every queued task has run and every worker has exited.
    ///
    /// # Errors
    ///
    /// [`Error::PoolRunning`] unless `close()` or `terminate()` came first.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = multiproc::Pool::new(1)?;
    /// pool.close();
    /// pool.join()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.join()`.
    pub fn join(&self) -> Result<()> {
        self.join_until(None).map(drop)
    }

    /// As [`join`](Pool::join), waiting at most `timeout`; returns whether
    /// every worker has exited.
    ///
    /// # Errors
    ///
    /// [`Error::PoolRunning`] unless `close()` or `terminate()` came first.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = multiproc::Pool::new(1)?;
    /// pool.close();
    /// assert!(pool.join_timeout(Duration::from_secs(10))?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.join()` has no timeout.
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.join_until(crate::wire::deadline(timeout))
    }

    fn join_until(&self, deadline: Option<Instant>) -> Result<bool> {
        if !self.shared.is_closed() {
            return Err(Error::PoolRunning);
        }
        Ok(self.wait_for_drivers(deadline))
    }

    /// Waits, at most until `deadline`, for every driver (so every worker)
    /// to end; returns whether they all have.
    fn wait_for_drivers(&self, deadline: Option<Instant>) -> bool {
        if !self.running.wait_until(deadline) {
            return false;
        }
        let drivers = std::mem::take(&mut *self.lock_drivers());
        for driver in drivers {
            let _ = driver.join();
        }
        true
    }

    /// Stops at once: kills the workers and fails every queued or running task
    /// with [`Error::PoolTerminated`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::new(1)?;
    /// let h = pool.map_async(square, 0..10_000u64)?;
    /// pool.terminate();
    /// assert!(h.get().is_err() || h.get()?.len() == 10_000);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `pool.terminate()`.
    pub fn terminate(&self) {
        // Marked first, so that drivers started only now find the pool
        // terminated: a second worker not started yet is then dropped as
        // it is (`driver::drive`), not told to start for nothing.
        self.shared.terminate();
        // They reap the workers.
        let _ = self.start_drivers();
        self.wait_for_drivers(None);
    }
}

/// The driver threads still running, and a signal when one ends.
#[derive(Default)]
struct Running {
    count: Mutex<usize>,
    ended: std::sync::Condvar,
}

/// Held by a driver thread for as long as it runs.
struct RunningGuard(Arc<Running>);

impl Running {
    fn enter(running: &Arc<Running>) -> RunningGuard {
        *running.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        RunningGuard(Arc::clone(running))
    }

    /// Waits until no driver runs, at most until `deadline`; whether none does.
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *count > 0 {
            count = match deadline {
                None => self.ended.wait(count).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.ended
                        .wait_timeout(count, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        true
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        *self.0.count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.ended.notify_all();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Chunking, pace_floor};

    fn sizes(len: usize, processes: usize, fixed: Option<usize>, floor: usize) -> Vec<usize> {
        let mut chunking = Chunking::new(len, processes, fixed);
        std::iter::from_fn(|| chunking.next(floor)).collect()
    }

    #[test]
    fn default_chunks_cover_every_item_and_shrink_towards_the_end() {
        for (len, processes) in [(1_000_000usize, 2), (16_000, 2), (16_000, 8), (65, 2), (1000, 3)] {
            let sizes = sizes(len, processes, None, 0);
            assert_eq!(sizes.iter().sum::<usize>(), len, "{len} on {processes}");
            assert_eq!(sizes.len(), Chunking::new(len, processes, None).count());
            let first = len.div_ceil(8 * processes);
            assert_eq!(sizes[0], first);
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
            assert!(*sizes.last().unwrap() <= (first / 64).max(1));
            assert!(sizes.len() <= 32 * processes, "{} chunks", sizes.len());
        }
    }

    #[test]
    fn the_end_of_a_call_is_cut_no_shorter_than_its_floor() {
        let floored = sizes(1_000_000, 2, None, 30_000);
        assert_eq!(floored.iter().sum::<usize>(), 1_000_000);
        assert_eq!(floored[0], 62_500);
        // Only the very last chunk may hold fewer: what was left.
        let (_, all_but_last) = floored.split_last().unwrap();
        assert!(all_but_last.iter().all(|&size| size >= 30_000), "{floored:?}");
        assert!(floored.len() < Chunking::new(1_000_000, 2, None).count());
        // A floor above the first size keeps every chunk at the first size.
        let capped = sizes(1_000_000, 2, None, 10_000_000);
        assert_eq!(capped, [62_500; 16]);
    }

    #[test]
    fn the_floor_is_a_millisecond_of_one_workers_work_at_the_pace_so_far() {
        assert_eq!(pace_floor(0, Duration::from_millis(5), 2), 0);
        assert_eq!(pace_floor(0, Duration::ZERO, 2), 0);
        // 200,000 calls back after 4 ms on 2 workers: 25 a microsecond each.
        assert_eq!(pace_floor(200_000, Duration::from_millis(4), 2), 25_000);
    }

    #[test]
    fn a_small_call_goes_one_item_per_chunk() {
        assert!(sizes(64, 2, None, 1000).iter().all(|&size| size == 1));
        assert_eq!(sizes(64, 2, None, 0).len(), 64);
        assert_eq!(Chunking::new(64, 2, None).count(), 64);
        assert!(sizes(0, 2, None, 0).is_empty());
    }

    #[test]
    fn a_fixed_chunk_size_is_kept_to_the_last_chunk() {
        assert_eq!(sizes(10, 2, Some(4), 0), [4, 4, 2]);
        assert_eq!(sizes(10, 2, Some(4), 8), [4, 4, 2]);
        assert_eq!(Chunking::new(10, 2, Some(4)).count(), 3);
    }
}
