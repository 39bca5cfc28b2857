//! The parent side of a pool: the queue of chunks, and one driver thread per
//! worker that feeds it, collects its results and replaces it when it dies.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::sys::process::{self, Signal};

use super::results::{Answered, ChunkResult, Lost, Sink};
use super::worker::{RunChunk, Started};
use crate::bootstrap::{self, CallSpec, Job, Launch};
use crate::error::{Error, Result};
use crate::process::{ChildProc, Forking, status_text};
use crate::wire::{Conn, SPIN, Spinner, push_message, set_fd_count};
use std::os::fd::OwnedFd;

/// How the pool's workers are started; shared by every driver for respawns.
#[derive(Debug)]
pub(super) struct WorkerConfig {
    pub(super) initializer: Option<CallSpec>,
    pub(super) retries: u32,
    pub(super) launch: Launch,
}

/// One unit of scheduling: some calls of one function, sent to one worker.
pub(super) struct Chunk {
    pub(super) key: &'static str,
    pub(super) items: Vec<u8>,
    pub(super) count: u32,
    pub(super) failed: Vec<(u32, String)>,
    /// Position among the chunks of its call.
    pub(super) index: usize,
    pub(super) sink: Arc<dyn Sink>,
    pub(super) attempts: u32,
    /// Descriptors exported by handles among the arguments, in order.
    pub(super) fds: Vec<OwnedFd>,
}

impl Chunk {
    /// Hands the chunk's results, and the descriptors that came with them,
    /// to whoever waits for them.
    fn deliver(self, worker: Arc<str>, results: (Vec<u8>, Vec<OwnedFd>)) {
        let (bytes, fds) = results;
        self.finish(Ok(Answered { worker, bytes }), fds);
    }

    fn lose(self, lost: Lost) {
        self.finish(Err(lost), Vec::new());
    }

    fn finish(self, outcome: std::result::Result<Answered, Lost>, fds: Vec<OwnedFd>) {
        self.sink.deliver(
            self.index,
            ChunkResult {
                outcome,
                count: self.count,
                failed: self.failed,
                // Mapped now: results may wait long to be decoded, and
                // would hold a descriptor per `Bytes` meanwhile.
                fds: std::sync::Mutex::new(crate::shm::map_received(fds)),
            },
        );
    }
}

#[derive(Default)]
pub(super) struct Dispatch {
    state: Mutex<State>,
    work: Condvar,
    /// `state.pending.len()`, readable without the lock.
    queued: AtomicUsize,
    /// Whether an idle driver is spinning for work, and will take the next
    /// chunk without being signalled. Only one spins: two spinning drivers
    /// and a caller waiting for its result left a worker no processor here.
    spinning: AtomicBool,
    /// Drivers serving a worker that has nothing in flight: each will take
    /// the next chunk it finds, so a driver that has work already leaves
    /// them one each. A driver counts itself before it hands over the last
    /// result its worker owed, so a caller that submits upon that result
    /// finds it counted.
    hungry: AtomicUsize,
    /// `max_tasks_per_child`, kept by drivers and by callers running chunks.
    max_tasks: Option<usize>,
}

/// This driver's place in [`Dispatch::hungry`].
struct Hunger<'a> {
    shared: &'a Dispatch,
    hungry: bool,
}

impl Hunger<'_> {
    fn set(&mut self, hungry: bool) {
        if hungry != self.hungry {
            self.hungry = hungry;
            if hungry {
                self.shared.hungry.fetch_add(1, Ordering::AcqRel);
            } else {
                self.shared.hungry.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

impl Drop for Hunger<'_> {
    fn drop(&mut self) {
        self.set(false);
    }
}

#[derive(Default)]
struct State {
    pending: VecDeque<Chunk>,
    closed: bool,
    terminated: bool,
    /// The pid of each slot's live worker, for `terminate`.
    pids: Vec<Option<u32>>,
    /// Slots still able to run work.
    live: usize,
    /// Why the last slot gave up, once none is live.
    broken: Option<String>,
    /// Drivers waiting on `work`: with none, queueing work signals nobody,
    /// which spares a system call per chunk.
    idle: usize,
    /// Each slot's worker while its driver waits for work.
    lent: Vec<Lent>,
}

/// A slot's worker as its driver lends it while waiting for work: a caller
/// that would only wait for the result of one call runs that call on it
/// itself ([`Dispatch::run_here`]), which spares two hand-offs between
/// threads, each a wake-up that costs more than the whole round trip to the
/// worker. The driver takes its worker back before it takes work.
#[derive(Default)]
enum Lent {
    /// With its driver (or the slot has none).
    #[default]
    Kept,
    /// Free for a caller; `sent` chunks so far.
    Free { worker: ChildProc, sent: usize },
    /// A caller runs a chunk on it.
    Borrowed,
    /// Back from a caller whose chunk the worker did not answer.
    Failed {
        worker: ChildProc,
        sent: usize,
        chunk: Chunk,
    },
}

/// What became of a chunk offered to [`Dispatch::run_here`].
pub(super) enum RanHere {
    /// Its results (or why there are none) went to its sink.
    Delivered,
    /// Its worker did not answer: its driver retries or fails it.
    ForDriver,
    /// No worker was free.
    NotRun(Chunk),
}

/// What a driver gets back when it takes its lent worker again.
struct Reclaimed {
    worker: ChildProc,
    sent: usize,
    /// The chunk a caller ran on it and lost: the worker died.
    failed: Option<Chunk>,
}

/// What [`Dispatch::take`] found.
enum Took {
    /// Work to go on with: chunks taken, or some still in flight.
    Work,
    /// Nothing for a worker that has nothing: time to wait, lending it.
    Idle,
    /// The pool is closed and drained, or terminated.
    Done,
}

impl State {
    /// Whether the drivers have something to do that needs their workers:
    /// queued work, or the pool's end (closed or terminated).
    fn drivers_wanted(&self) -> bool {
        !self.pending.is_empty() || self.closed || self.terminated
    }
}

/// Why a driver stopped serving one worker.
enum End {
    /// The pool is closed and drained, or terminated.
    Done,
    /// The worker reached `max_tasks_per_child`.
    Recycle,
    /// The worker died.
    Died,
    /// Nothing in flight and nothing to take: the driver lends its worker
    /// while it waits.
    Idle,
}

impl Dispatch {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn new(slots: usize, max_tasks: Option<usize>) -> Arc<Dispatch> {
        let shared = Dispatch {
            max_tasks,
            ..Dispatch::default()
        };
        let mut state = shared.lock();
        state.pids = vec![None; slots];
        state.lent = (0..slots).map(|_| Lent::Kept).collect();
        state.live = slots;
        drop(state);
        // Each driver starts hungry (`drive`).
        shared.hungry.store(slots, Ordering::Release);
        Arc::new(shared)
    }

    /// Queues `chunks`, or fails them all if no worker is left.
    pub(super) fn submit(&self, chunks: Vec<Chunk>) -> Result<()> {
        let mut state = self.lock();
        if state.closed || state.terminated {
            return Err(Error::PoolClosed);
        }
        if let Some(reason) = state.broken.clone().filter(|_| state.live == 0) {
            drop(state);
            for chunk in chunks {
                chunk.lose(Lost::NoWorkers(reason.clone()));
            }
            return Ok(());
        }
        let added = chunks.len();
        state.pending.extend(chunks);
        self.queued.store(state.pending.len(), Ordering::Release);
        if !(added == 1 && self.spinning.load(Ordering::Acquire)) {
            self.signal(&state, added);
        }
        Ok(())
    }

    /// Puts chunks back at the front of the queue, or fails them if the pool
    /// was terminated meanwhile.
    fn requeue(&self, chunks: VecDeque<Chunk>) {
        let mut state = self.lock();
        if state.terminated {
            drop(state);
            chunks.into_iter().for_each(|c| c.lose(Lost::Terminated));
            return;
        }
        for chunk in chunks.into_iter().rev() {
            state.pending.push_front(chunk);
        }
        self.queued.store(state.pending.len(), Ordering::Release);
        drop(state);
        self.work.notify_all();
    }

    /// Moves up to `room` chunks to `batch`, for a worker that has `queued`
    /// already. Taking beyond [`MIN_IN_FLIGHT`] is refused unless there is
    /// plenty left for the others, and taking beyond one while another
    /// driver waits with none. A driver whose worker has nothing queued
    /// spins a while for work first, if no other does.
    fn take(&self, batch: &mut Vec<Chunk>, queued: usize, room: usize) -> Took {
        if queued == 0 && !self.spinning.swap(true, Ordering::AcqRel) {
            static SPINNER: Spinner = Spinner::new();
            SPINNER.spin_until(SPIN, || self.queued.load(Ordering::Acquire) > 0);
            // Cleared before the lock is taken: a chunk queued from here on
            // is either seen below or signals this driver once it waits in
            // `reclaim`, which looks at the queue first.
            self.spinning.store(false, Ordering::Release);
        }
        let mut state = self.lock();
        if state.terminated {
            return Took::Done;
        }
        let before = batch.len();
        while batch.len() - before < room {
            let holding = queued + batch.len() - before;
            if holding >= MIN_IN_FLIGHT && state.pending.len() <= state.live * MIN_IN_FLIGHT {
                break;
            }
            // A worker that has work already takes no more while another
            // driver's worker has none: two long tasks on two workers
            // must not both queue at the first, nor the task after a
            // long one wait behind it.
            let others = self
                .hungry
                .load(Ordering::Acquire)
                .saturating_sub(usize::from(queued == 0));
            if holding > 0 && others > 0 {
                break;
            }
            match state.pending.pop_front() {
                Some(chunk) => batch.push(chunk),
                None => break,
            }
        }
        if batch.len() > before {
            self.queued.store(state.pending.len(), Ordering::Release);
            // What is left may have been queued unsignalled, for a
            // spinning driver that took only part of it.
            if !state.pending.is_empty() {
                self.signal(&state, 1);
            }
            return Took::Work;
        }
        match (state.pending.is_empty() && state.closed, queued) {
            (true, _) => Took::Done,
            (false, 0) => Took::Idle,
            (false, _) => Took::Work,
        }
    }

    /// Wakes drivers waiting for work, for `added` chunks. A driver woken
    /// while its worker is borrowed cannot take work, so then every one is.
    fn signal(&self, state: &State, added: usize) {
        let borrowed = state.lent.iter().any(|lent| matches!(lent, Lent::Borrowed));
        match (state.idle, added) {
            (0, _) => {}
            (_, 1) if !borrowed => self.work.notify_one(),
            _ => self.work.notify_all(),
        }
    }

    /// Lends `worker` (which has run `sent` chunks) to callers, and waits
    /// until its driver should take it back: there is work, the pool is
    /// closed or terminated, the worker is to be replaced, or a caller lost
    /// a chunk on it. Callers leave alone an MPI rank served through the
    /// relay, which keeps a chunk ahead of it; a rank linked to its driver's
    /// socket is lent like a local worker.
    fn lend(&self, slot: usize, worker: ChildProc, sent: usize) -> Reclaimed {
        let mut state = self.lock();
        state.lent[slot] = Lent::Free { worker, sent };
        self.reclaim(slot, state)
    }

    /// How many more chunks a worker that has run `sent` may run before it
    /// is replaced (`max_tasks_per_child`).
    fn tasks_left(&self, sent: usize) -> usize {
        self.max_tasks.map_or(usize::MAX, |max| max.saturating_sub(sent))
    }

    fn spent(&self, sent: usize) -> bool {
        self.tasks_left(sent) == 0
    }

    /// Lends a ready worker before its driver starts (`Launched::Lent`).
    pub(super) fn lend_ready(&self, slot: usize, worker: ChildProc) {
        let mut state = self.lock();
        state.pids[slot] = worker.pid();
        state.lent[slot] = Lent::Free { worker, sent: 0 };
    }

    fn reclaim(&self, slot: usize, mut state: MutexGuard<'_, State>) -> Reclaimed {
        loop {
            let wanted = state.drivers_wanted();
            match std::mem::take(&mut state.lent[slot]) {
                Lent::Free { worker, sent } if wanted || self.spent(sent) => {
                    return Reclaimed {
                        worker,
                        sent,
                        failed: None,
                    };
                }
                Lent::Failed {
                    worker,
                    sent,
                    chunk,
                } => {
                    return Reclaimed {
                        worker,
                        sent,
                        failed: Some(chunk),
                    };
                }
                other => state.lent[slot] = other,
            }
            state.idle += 1;
            state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
            state.idle -= 1;
        }
    }

    /// Runs `chunk` on a worker lent by its driver, from this thread, and
    /// delivers its results.
    pub(super) fn run_here(&self, chunk: Chunk) -> RanHere {
        let mut state = self.lock();
        // Not past queued work, which keeps its turn; and a driver woken
        // for that work must find its worker there.
        if state.drivers_wanted() {
            return RanHere::NotRun(chunk);
        }
        let free = state.lent.iter().position(|lent| match lent {
            Lent::Free { worker, sent } => !worker.relayed() && !self.spent(*sent),
            _ => false,
        });
        let Some(slot) = free else {
            return RanHere::NotRun(chunk);
        };
        let (mut worker, sent) = match std::mem::replace(&mut state.lent[slot], Lent::Borrowed) {
            Lent::Free { worker, sent } => (worker, sent),
            other => {
                state.lent[slot] = other;
                return RanHere::NotRun(chunk);
            }
        };
        // Busy now, as far as the other drivers' sharing goes (`take`).
        self.hungry.fetch_sub(1, Ordering::AcqRel);
        drop(state);
        let name: Arc<str> = Arc::from(worker.name());
        let answer = exchange(&mut worker.conn, &chunk, sent == 0);
        let mut state = self.lock();
        self.hungry.fetch_add(1, Ordering::AcqRel);
        let sent = sent + 1;
        // Its slot abandoned meanwhile (`abandon`), no driver takes it back.
        if !matches!(state.lent[slot], Lent::Borrowed) {
            drop(state);
            drop(worker);
            match answer {
                Ok(results) => chunk.deliver(name, results),
                Err(e) => chunk.lose(Lost::NoWorkers(e.to_string())),
            }
            return RanHere::Delivered;
        }
        match answer {
            Ok(results) => {
                state.lent[slot] = Lent::Free { worker, sent };
                // Its driver may be waiting for it, or must replace it.
                if state.drivers_wanted() || self.spent(sent) {
                    self.work.notify_all();
                }
                drop(state);
                chunk.deliver(name, results);
                RanHere::Delivered
            }
            // Its driver finds out why, and retries or fails the chunk.
            Err(e) => {
                log::debug!("pool slot {slot}: a call run from its caller failed: {e}");
                state.lent[slot] = Lent::Failed {
                    worker,
                    sent,
                    chunk,
                };
                self.work.notify_all();
                RanHere::ForDriver
            }
        }
    }

    /// Records the pid of a slot's worker; returns whether the pool was terminated.
    fn set_pid(&self, slot: usize, pid: Option<u32>) -> bool {
        let mut state = self.lock();
        state.pids[slot] = pid;
        state.terminated
    }

    fn is_terminated(&self) -> bool {
        self.lock().terminated
    }

    /// Retires a slot whose driver never started: its worker, if lent, is
    /// killed and reaped (on drop), and a chunk a caller lost on it fails.
    pub(super) fn abandon(&self, slot: usize, reason: String) {
        log::warn!("pool slot {slot}: {reason}");
        let mut state = self.lock();
        let lent = std::mem::take(&mut state.lent[slot]);
        // Its worker is reaped here (or by a caller that borrowed it), not
        // by `terminate`, which must not signal a pid that may be reused.
        state.pids[slot] = None;
        // Counted hungry from the start (`Dispatch::new`), it never takes work.
        self.hungry.fetch_sub(1, Ordering::AcqRel);
        drop(state);
        if let Lent::Failed { chunk, .. } = lent {
            chunk.lose(Lost::NoWorkers(reason.clone()));
        }
        self.retire(Some(reason));
    }

    /// A driver has stopped, for good. When the last one stops, whatever is
    /// still queued fails, so that no result is waited for in vain.
    fn retire(&self, broken: Option<String>) {
        let mut state = self.lock();
        state.live -= 1;
        if broken.is_some() {
            state.broken = broken;
        }
        if state.live > 0 {
            return;
        }
        let lost = if state.terminated {
            Lost::Terminated
        } else {
            let reason = state.broken.clone();
            Lost::NoWorkers(reason.unwrap_or_else(|| "every worker has exited".into()))
        };
        let pending: Vec<Chunk> = state.pending.drain(..).collect();
        self.queued.store(0, Ordering::Release);
        drop(state);
        for chunk in pending {
            chunk.lose(lost.clone());
        }
    }

    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.work.notify_all();
    }

    pub(super) fn is_closed(&self) -> bool {
        let state = self.lock();
        state.closed || state.terminated
    }

    /// Fails queued work, kills every worker, and wakes every driver.
    pub(super) fn terminate(&self) {
        let mut state = self.lock();
        state.terminated = true;
        let pending: Vec<Chunk> = state.pending.drain(..).collect();
        self.queued.store(0, Ordering::Release);
        for pid in state.pids.iter().flatten() {
            // The driver clears a pid (under this lock) before reaping it,
            // so every pid here still belongs to our unreaped worker.
            if let Some(pid) = process::pid(*pid) {
                let _ = process::kill(pid, Signal::KILL);
            }
        }
        drop(state);
        self.work.notify_all();
        for chunk in pending {
            chunk.lose(Lost::Terminated);
        }
    }
}

/// Starts one worker and waits until its initializer has run. With a slot,
/// the worker is registered there as soon as it exists, so that `terminate`
/// can reach it even while its initializer runs.
pub(super) fn start_worker(
    config: &WorkerConfig,
    slot: Option<(&Dispatch, usize)>,
) -> Result<ChildProc> {
    let worker = launch_worker(config)?;
    if let Some((shared, slot)) = slot
        && shared.set_pid(slot, worker.pid())
    {
        let _ = worker.signal(Signal::KILL);
    }
    worker_ready(worker, slot)
}

/// Starts a worker process, without waiting for it to be ready.
pub(super) fn launch_worker(config: &WorkerConfig) -> Result<ChildProc> {
    ChildProc::start(worker_job(config)?, None, "SpawnPoolWorker", &config.launch)
}

/// Starts a worker and `siblings` more beside it (`ChildProc::start_beside`).
pub(super) fn launch_workers(
    config: &WorkerConfig,
    siblings: usize,
) -> Result<(ChildProc, Vec<Forking>)> {
    ChildProc::start_beside(worker_job(config)?, "SpawnPoolWorker", &config.launch, siblings)
}

fn worker_job(config: &WorkerConfig) -> Result<Job> {
    let initializer = config
        .initializer
        .as_ref()
        .map(CallSpec::try_clone)
        .transpose()?;
    let (initializer, fds) = match initializer.map(CallSpec::split_fds) {
        Some((call, fds)) => (Some(call), fds),
        None => (None, Vec::new()),
    };
    Job::new(&super::worker::POOL_WORKER, &initializer, fds)
}

/// Waits until `worker` has run the initializer and is ready for work; a
/// worker whose initializer failed is killed and reaped.
pub(super) fn worker_ready(
    mut worker: ChildProc,
    slot: Option<(&Dispatch, usize)>,
) -> Result<ChildProc> {
    let failure = match worker.conn.recv::<Started>() {
        Ok(Started::Ready) => return Ok(worker),
        Ok(Started::InitializerFailed(outcome)) => {
            bootstrap::decode_outcome::<()>(&outcome, worker.name()).err()
        }
        Err(e) => Some(e),
    };
    if let Some((shared, slot)) = slot {
        shared.set_pid(slot, None);
    }
    let _ = worker.signal(Signal::KILL);
    let status = worker.reap()?;
    let source = match failure {
        Some(Error::Disconnected) | None => worker.ended_error(status),
        Some(e) => e,
    };
    Err(Error::Initializer {
        source: Box::new(source),
    })
}

/// A pool's first worker in one slot, as its driver gets it.
pub(super) enum Launched {
    /// Started, not yet known to be ready.
    Now(ChildProc),
    /// Started and ready: `build` waited for it, and lent it
    /// ([`Dispatch::lend_ready`]).
    Lent,
    /// Started, and died or failed before it was ready.
    Failed(Error),
    /// For the driver to start.
    Later,
    /// Being forked by another worker, or still to be asked of the fork
    /// server (a carrier).
    Forking(Forking),
}

/// The body of a driver thread: readies its first worker and says how that
/// went on `ready`, then serves the worker and its replacements.
pub(super) fn drive(
    shared: &Dispatch,
    config: &WorkerConfig,
    slot: usize,
    first: Launched,
    ready: std::sync::mpsc::Sender<Result<()>>,
) {
    // Counted hungry from the start, before this thread runs
    // (`Dispatch::new`): the first calls find every worker waiting for work
    // or about to, and one ready early takes no second task while another
    // is still starting.
    let mut hunger = Hunger {
        shared,
        hungry: true,
    };
    let first = match first {
        Launched::Lent => Ok(None),
        Launched::Now(worker) => Ok(Some(worker)),
        Launched::Failed(e) => Err(e),
        Launched::Later => launch_worker(config).map(Some),
        // Dropped unstarted, it is killed and reaped once its pid is read
        // (or, not yet asked of the fork server, never forked): a carrier
        // told to go would start, and fork the others, for nothing.
        Launched::Forking(forking) if shared.is_terminated() => {
            drop(forking);
            Err(Error::PoolTerminated)
        }
        // A worker that could not be forked beside the first is started here.
        Launched::Forking(forking) => forking
            .started()
            .or_else(|e| match shared.is_terminated() {
                true => Err(e),
                false => {
                    // Every forked pool starting its workers one by one
                    // would otherwise go unnoticed.
                    log::debug!("pool slot {slot}: not forked beside the first worker ({e})");
                    launch_worker(config)
                }
            })
            .map(Some),
    };
    let first = first.and_then(|worker| {
        let Some(worker) = worker else {
            return Ok(None);
        };
        if shared.set_pid(slot, worker.pid()) {
            let _ = worker.signal(Signal::KILL);
        }
        worker_ready(worker, Some((shared, slot))).map(Some)
    });
    let mut back = match first {
        // `build` waited for it, and lent it.
        Ok(None) => shared.reclaim(slot, shared.lock()),
        Ok(Some(worker)) => {
            let _ = ready.send(Ok(()));
            Reclaimed::fresh(worker)
        }
        Err(e) => {
            hunger.set(false);
            let reason = format!("its first worker did not start: {e}");
            // `build` may have returned already, with another worker ready.
            // (Not for a pool terminated first: nothing went wrong.)
            if !matches!(e, Error::PoolTerminated) {
                log::warn!("pool slot {slot}: {reason}");
            }
            let _ = ready.send(Err(e));
            shared.retire(Some(reason));
            return;
        }
    };
    drop(ready);
    let broken = loop {
        let (mut worker, end) = serve_lending(shared, config, slot, back, &mut hunger);
        hunger.set(false);
        shared.set_pid(slot, None);
        // The worker is idle (or dead): end of input lets it exit on its own.
        worker.conn.close_write();
        let _ = worker.reap();
        if matches!(end, End::Done) {
            break None;
        }
        match respawn(shared, config, slot) {
            Ok(next) => back = Reclaimed::fresh(next),
            Err(reason) => break Some(reason),
        }
    };
    shared.retire(broken);
}

impl Reclaimed {
    fn fresh(worker: ChildProc) -> Reclaimed {
        Reclaimed {
            worker,
            sent: 0,
            failed: None,
        }
    }
}

/// Serves one worker, lending it whenever there is nothing for it to do,
/// until its driver must stop serving it; returns it and why.
fn serve_lending(
    shared: &Dispatch,
    config: &WorkerConfig,
    slot: usize,
    mut back: Reclaimed,
    hunger: &mut Hunger<'_>,
) -> (ChildProc, End) {
    loop {
        let Reclaimed {
            mut worker,
            mut sent,
            failed,
        } = back;
        if let Some(chunk) = failed {
            let end = lost(shared, config, slot, &mut worker, VecDeque::from([chunk]));
            return (worker, end);
        }
        match serve(shared, config, slot, &mut worker, &mut sent, hunger) {
            End::Idle => back = shared.lend(slot, worker, sent),
            end => return (worker, end),
        }
    }
}

fn respawn(
    shared: &Dispatch,
    config: &WorkerConfig,
    slot: usize,
) -> std::result::Result<ChildProc, String> {
    let mut last_error = String::new();
    for attempt in 0..3 {
        if shared.is_terminated() {
            return Err("the pool was terminated".into());
        }
        match start_worker(config, Some((shared, slot))) {
            Ok(worker) => return Ok(worker),
            Err(e) => last_error = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100 << attempt));
    }
    Err(format!(
        "could not start a replacement worker: {last_error}"
    ))
}

/// How much work a driver keeps queued at its worker: enough to hide the
/// round trip, little enough to leave the rest of the queue to other workers.
const QUEUED_WORK: Duration = Duration::from_millis(2);
/// Chunks in flight per worker: at least two (one running, one waiting), and
/// more only while chunks take less than [`QUEUED_WORK`] in all.
const MIN_IN_FLIGHT: usize = 2;
const MAX_IN_FLIGHT: usize = 64;
/// Chunks that take this long go one at a time to a worker on this machine,
/// as in Python: a second in flight would hide a round trip that is a small
/// part of them, and at the end of a call it could wait behind the first
/// while another worker idles. To a worker whose round trip goes through a
/// relay that looks for answers only now and then (an MPI rank on another
/// machine), the next chunk always goes ahead: without it the rank would
/// idle for that round trip after every chunk.
const LONG_CHUNK: Duration = Duration::from_millis(5);

/// How many chunks to keep in flight, given the recent time per chunk, if
/// known yet, and whether the worker answers at once. A worker behind a
/// relay gets one more, which the relay holds and sends as soon as it sees
/// the worker's answer: the rank then need not wait for this driver, nor
/// the relay wake for this driver's next chunk, which it takes at its next
/// look for answers (the relay's part of the protocol is in `mpi`). The
/// dispatch withholds it near the end of a call (`Dispatch::take`).
fn in_flight_limit(per_chunk: Option<Duration>, nearby: bool) -> usize {
    let relay = usize::from(!nearby);
    let Some(per_chunk) = per_chunk else {
        return MIN_IN_FLIGHT + relay;
    };
    if per_chunk >= LONG_CHUNK {
        return match nearby {
            true => 1,
            false => MIN_IN_FLIGHT + relay,
        };
    }
    let per_chunk = per_chunk.max(Duration::from_micros(1));
    let fit = QUEUED_WORK.as_nanos() / per_chunk.as_nanos();
    usize::try_from(fit)
        .unwrap_or(MAX_IN_FLIGHT)
        .saturating_add(relay)
        .clamp(MIN_IN_FLIGHT + relay, MAX_IN_FLIGHT)
}

fn serve(
    shared: &Dispatch,
    config: &WorkerConfig,
    slot: usize,
    worker: &mut ChildProc,
    sent: &mut usize,
    hunger: &mut Hunger<'_>,
) -> End {
    let name: Arc<str> = Arc::from(worker.name());
    let mut inflight: VecDeque<Chunk> = VecDeque::new();
    // Exponential average of the time between results while the worker is
    // busy; unknown (two in flight) until the first result.
    let mut per_chunk = None;
    let mut busy_since = Instant::now();
    let mut batch = Vec::new();
    hunger.set(true);
    loop {
        let queued = inflight.len();
        if queued == 0 && shared.queued.load(Ordering::Acquire) == 0 {
            // Idle: whatever comes next may be slower than what came before.
            per_chunk = None;
        }
        let room = in_flight_limit(per_chunk, !worker.relayed())
            .saturating_sub(queued)
            .min(shared.tasks_left(*sent));
        let took = match room {
            0 => Took::Work,
            _ => shared.take(&mut batch, queued, room),
        };
        if matches!(took, Took::Idle) {
            return End::Idle;
        }
        let finished = matches!(took, Took::Done);
        *sent += batch.len();
        if !batch.is_empty() {
            if inflight.is_empty() {
                busy_since = Instant::now();
            }
            hunger.set(false);
            let framed = frames_of(&batch);
            // In flight before the first byte goes out: a result can come
            // back while the rest of the batch is still being written.
            inflight.extend(batch.drain(..));
            let written = framed.and_then(|(frames, fds)| {
                let mut drain = |conn: &mut crate::wire::Conn| {
                    let results = conn.recv_frame_with_fds()?;
                    if let Some(chunk) = inflight.pop_front() {
                        hunger.set(inflight.is_empty());
                        chunk.deliver(Arc::clone(&name), results);
                    }
                    Ok(())
                };
                worker
                    .conn
                    .send_framed_draining(&frames, &fds, Some(&mut drain))
            });
            if written.is_err() {
                return lost(shared, config, slot, worker, inflight);
            }
        }
        if inflight.is_empty() {
            return if finished { End::Done } else { End::Recycle };
        }
        // Every result already read, not just the first, so that the chunks
        // replacing them go out in one write.
        loop {
            match worker.conn.recv_frame_with_fds() {
                Ok(results) => {
                    let now = Instant::now();
                    let took = now - busy_since;
                    per_chunk = Some(per_chunk.map_or(took, |p| (p * 3 + took) / 4));
                    busy_since = now;
                    if let Some(chunk) = inflight.pop_front() {
                        hunger.set(inflight.is_empty());
                        chunk.deliver(Arc::clone(&name), results);
                    }
                }
                Err(_) => return lost(shared, config, slot, worker, inflight),
            }
            if inflight.is_empty() || !worker.conn.has_frame() {
                break;
            }
        }
    }
}

/// The frames that send `batch` to a worker, and the descriptors that go
/// with them: duplicates, so that a chunk sent again after a crash still
/// has its own.
fn frames_of(batch: &[Chunk]) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut frames = Vec::new();
    for c in batch {
        let chunk = RunChunk {
            key: c.key,
            items: &c.items,
        };
        let start = frames.len();
        push_message(&mut frames, &chunk)?;
        set_fd_count(&mut frames[start..], c.fds.len())?;
    }
    let fds = batch
        .iter()
        .flat_map(|c| &c.fds)
        .map(OwnedFd::try_clone)
        .collect::<std::io::Result<_>>()
        .map_err(Error::io("duplicating a descriptor"))?;
    Ok((frames, fds))
}

/// Sends `chunk` to a worker that has nothing else in flight and waits for
/// its results, spinning a while first (but for a worker's `first` chunk,
/// see `worker::serve_started`): a short call's answer comes back sooner
/// than this thread would wake.
fn exchange(conn: &mut Conn, chunk: &Chunk, first: bool) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
    let (frames, fds) = frames_of(std::slice::from_ref(chunk))?;
    // A worker reads a whole chunk before it answers, so nothing needs
    // draining while this one is written.
    conn.send_framed_draining(&frames, &fds, None)?;
    static ANSWERS: Spinner = Spinner::new();
    if !first {
        ANSWERS.spin_until(SPIN, || conn.try_fill());
    }
    conn.recv_frame_with_fds()
}

/// The worker died: its running chunk fails (or is retried); the chunks it
/// had not started go back to the queue.
fn lost(
    shared: &Dispatch,
    config: &WorkerConfig,
    slot: usize,
    worker: &mut ChildProc,
    mut inflight: VecDeque<Chunk>,
) -> End {
    shared.set_pid(slot, None);
    // It may still be alive (a frame it sent was refused); it must not block the reaping.
    let _ = worker.signal(Signal::KILL);
    let reason = match worker.reap() {
        Ok(status) => status_text(status),
        Err(e) => e.to_string(),
    };
    if shared.is_terminated() {
        for chunk in inflight {
            chunk.lose(Lost::Terminated);
        }
        return End::Done;
    }
    if let Some(mut running) = inflight.pop_front() {
        if running.attempts < config.retries {
            running.attempts += 1;
            inflight.push_front(running);
        } else {
            running.lose(Lost::Died {
                worker: worker.name().to_string(),
                reason,
            });
        }
    }
    shared.requeue(inflight);
    End::Died
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_behind_a_relay_gets_one_chunk_more_in_flight() {
        let ms = Duration::from_millis(1);
        for (per_chunk, nearby, relayed) in [
            (None, 2, 3),
            (Some(ms), 2, 3),
            (Some(10 * ms), 1, 3),
            (Some(ms / 10), 20, 21),
            (Some(Duration::from_nanos(1)), MAX_IN_FLIGHT, MAX_IN_FLIGHT),
        ] {
            assert_eq!(in_flight_limit(per_chunk, true), nearby, "{per_chunk:?}");
            assert_eq!(in_flight_limit(per_chunk, false), relayed, "{per_chunk:?}");
        }
    }
}
