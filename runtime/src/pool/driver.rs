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
use crate::wire::{SPIN, Spinner, push_message, set_fd_count};
use std::os::fd::OwnedFd;

/// How the pool's workers are started; shared by every driver for respawns.
#[derive(Debug)]
pub(super) struct WorkerConfig {
    pub(super) initializer: Option<CallSpec>,
    pub(super) max_tasks_per_child: Option<usize>,
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
}

/// Why a driver stopped serving one worker.
enum End {
    /// The pool is closed and drained, or terminated.
    Done,
    /// The worker reached `max_tasks_per_child`.
    Recycle,
    /// The worker died.
    Died,
}

impl Dispatch {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn new(slots: usize) -> Arc<Dispatch> {
        let shared = Dispatch::default();
        let mut state = shared.lock();
        state.pids = vec![None; slots];
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
        let idle = state.idle;
        drop(state);
        match (idle, added) {
            (0, _) => {}
            (_, 1) if self.spinning.load(Ordering::Acquire) => {}
            (_, 1) => self.work.notify_one(),
            _ => self.work.notify_all(),
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
    /// already; waits for one if it has none. Taking beyond [`MIN_IN_FLIGHT`]
    /// is refused unless there is plenty left for the others, and taking
    /// beyond one while another driver waits with none. Returns
    /// whether the pool is done: closed and drained, or terminated.
    fn take(&self, batch: &mut Vec<Chunk>, queued: usize, room: usize) -> bool {
        if queued == 0 && !self.spinning.swap(true, Ordering::AcqRel) {
            static SPINNER: Spinner = Spinner::new();
            SPINNER.spin_until(SPIN, || self.queued.load(Ordering::Acquire) > 0);
            // Cleared before the lock is taken: a chunk queued from here on
            // either is seen below or signals this driver once it sleeps.
            self.spinning.store(false, Ordering::Release);
        }
        let mut state = self.lock();
        loop {
            if state.terminated {
                return true;
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
                if !state.pending.is_empty() && state.idle > 0 {
                    self.work.notify_one();
                }
                return false;
            }
            if state.pending.is_empty() && state.closed {
                return true;
            }
            if queued > 0 {
                return false;
            }
            state.idle += 1;
            state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
            state.idle -= 1;
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

/// Starts a worker that forks `siblings` more (`ChildProc::start_beside`).
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
    /// Started and ready: the caller waited for it.
    Ready(ChildProc),
    /// Started, and died or failed before it was ready.
    Failed(Error),
    /// For the driver to start.
    Later,
    /// Being forked by another worker.
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
    let (first, is_ready) = match first {
        Launched::Now(worker) => (Ok(worker), false),
        Launched::Ready(worker) => (Ok(worker), true),
        Launched::Failed(e) => (Err(e), false),
        Launched::Later => (launch_worker(config), false),
        // A worker that its sibling could not fork is started here.
        Launched::Forking(forking) => {
            let started = forking.started().or_else(|e| match shared.is_terminated() {
                true => Err(e),
                false => {
                    // Every forked pool starting its workers one by one
                    // would otherwise go unnoticed.
                    log::debug!("pool slot {slot}: not forked beside the first worker ({e})");
                    launch_worker(config)
                }
            });
            (started, false)
        }
    };
    let first = first.and_then(|worker| {
        if shared.set_pid(slot, worker.pid()) {
            let _ = worker.signal(Signal::KILL);
        }
        match is_ready {
            true => Ok(worker),
            false => worker_ready(worker, Some((shared, slot))),
        }
    });
    let mut worker = match first {
        Ok(worker) => {
            if !is_ready {
                let _ = ready.send(Ok(()));
            }
            worker
        }
        Err(e) => {
            hunger.set(false);
            let reason = format!("its first worker did not start: {e}");
            // `build` may have returned already, with another worker ready.
            log::warn!("pool slot {slot}: {reason}");
            let _ = ready.send(Err(e));
            shared.retire(Some(reason));
            return;
        }
    };
    drop(ready);
    let broken = loop {
        if shared.set_pid(slot, worker.pid()) {
            let _ = worker.signal(Signal::KILL);
        }
        let end = serve(shared, config, slot, &mut worker, &mut hunger);
        hunger.set(false);
        shared.set_pid(slot, None);
        // The worker is idle (or dead): end of input lets it exit on its own.
        worker.conn.close_write();
        let _ = worker.reap();
        if matches!(end, End::Done) {
            break None;
        }
        match respawn(shared, config, slot) {
            Ok(next) => worker = next,
            Err(reason) => break Some(reason),
        }
    };
    shared.retire(broken);
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
    hunger: &mut Hunger<'_>,
) -> End {
    let name: Arc<str> = Arc::from(worker.name());
    let mut inflight: VecDeque<Chunk> = VecDeque::new();
    let mut sent = 0;
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
            .min(config.max_tasks_per_child.map_or(usize::MAX, |m| m - sent));
        let finished = room > 0 && shared.take(&mut batch, queued, room);
        sent += batch.len();
        if !batch.is_empty() {
            if inflight.is_empty() {
                busy_since = Instant::now();
            }
            hunger.set(false);
            let mut frames = Vec::new();
            let encoded = batch.iter().try_for_each(|c| {
                let chunk = RunChunk {
                    key: c.key,
                    items: &c.items,
                };
                let start = frames.len();
                push_message(&mut frames, &chunk)?;
                set_fd_count(&mut frames[start..], c.fds.len())
            });
            // Duplicates travel, so that a chunk sent again after a crash still has its own.
            let fds: std::io::Result<Vec<OwnedFd>> = batch
                .iter()
                .flat_map(|c| &c.fds)
                .map(OwnedFd::try_clone)
                .collect();
            // In flight before the first byte goes out: a result can come
            // back while the rest of the batch is still being written.
            inflight.extend(batch.drain(..));
            let sent = encoded.and_then(|()| {
                let fds = fds.map_err(Error::io("duplicating a descriptor"))?;
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
            if sent.is_err() {
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
