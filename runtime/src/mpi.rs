//! The pool on MPI: workers on the ranks of an `mpirun` job (feature `mpi`).
//!
//! Design: under `mpirun -n N ./app`, ranks 1..N divert to [`serve_rank`]
//! before `main`, as spawned children do, so the user's `main` runs on rank 0
//! only. There, `Pool::mpi()` builds an ordinary pool whose workers are
//! ranks: each "worker process" is one end of a socket pair, and the drivers,
//! chunking, result decoding and error handling are the local pool's,
//! unchanged. One thread of rank 0, the relay, alone calls MPI. What serves
//! the socket pair's other end depends on where the rank runs:
//! - A rank on rank 0's machine (same machine name and network namespace)
//!   is linked to the relay by a Unix socket when the relay starts
//!   ([`link_nearby_ranks`]). The relay hands it the other end itself, with
//!   the pool's initializer ([`hand_over`]), and the rank serves it as a
//!   local worker does ([`serve_nearby`]): its chunks and answers never pass
//!   through MPI or the relay. It says it is free, on its link, once its
//!   driver hangs up.
//! - A rank elsewhere is served through the relay, which forwards each chunk
//!   frame from a driver to its rank over MPI and the rank's answer back. A
//!   rank gets its next chunk while it runs one only if that chunk is small
//!   enough for MPI to buffer, so neither side ever blocks sending while the
//!   other sends too. `MULTIPROC_MPI_NEARBY=0` in rank 0's environment serves
//!   every rank so, to test and measure this path on one machine.
//!
//! Why ranks on rank 0's machine skip the relay: through it, a chunk passes
//! four threads (rank, relay, driver, relay) where a local one passes two,
//! and the relay cannot sleep until an MPI message comes, only look for one
//! now and then. Everything below was done to make that path cheap, and
//! with 2 and 4 worker ranks on this 2-core VM it still did only 0.84–0.93
//! of the local pool's tasks per second with tasks of 1 ms (sixteen
//! benchmarks). In a traced run (2 worker ranks, 1 ms tasks), the relay
//! woke about 40 times per call of 16 tasks and ran 10–30 µs each time,
//! 106 ms in all in a run whose calls took about 480 ms, and in 12 of its
//! 15 calls of 1 ms tasks the rank on one core took 1.0–1.4 ms per task
//! (the other 0.54–0.8 ms, a local worker 0.54–0.6 ms): a lost half of a
//! core that the scheduler's own counts do not fully explain. Linked, the
//! ranks did 0.97–1.07 of the local pool's tasks per second (eight
//! benchmarks), and an idle rank burns 0.2–0.4 ms of CPU per second, where
//! a rank served through the relay, napping between looks for MPI
//! messages, burns 12–20 ms (2–4 ms on the doorbell that preceded the
//! links: see below). The relay sleeps in poll(2) until a command comes (each wakes
//! it through a socket, [`Doorway`]), a driver sends a chunk, a linked rank
//! says it is free or an answer is due from a rank elsewhere: idle, it
//! burns 0.02–0.1 ms per second (3–4 ms when it looked for commands every
//! 10 ms).
//!
//! Through the relay, where a chunk's time goes, and what the waits cost
//! (measured on a 2-core VM with Open MPI 4.1, tasks of 1 ms and 5 ms; one
//! worker rank unless said):
//! - A rank that has answered found its next chunk, sent long before, by its
//!   first look only 10 times in 160: Open MPI's probe moves its progress
//!   on only after a miss, so a message is seen by the look after the one
//!   that could have seen it. Sleeping between looks then cost a sleep per
//!   chunk. A rank now looks again and again for 20 µs first ([`SPIN`]),
//!   and each look probes twice ([`look`]): a chunk sent while the rank
//!   waited is taken a median 90 µs after it was sent, not 300 µs.
//! - Chunks of 5 ms or more went one at a time, as to a local worker, whose
//!   round trip is about 15 µs. Through the relay it is hundreds of
//!   microseconds, which the rank spent idle after every chunk: the local
//!   pool's drivers now send the next chunk ahead to a worker elsewhere
//!   whatever its length (`pool::driver`'s `LONG_CHUNK`).
//! - The relay looked for answers every 300 µs while ranks worked and every
//!   100 µs otherwise, and each idle rank every 100 µs: an idle pool of one
//!   worker burned about 100 ms of CPU per second in the relay and 90 ms in
//!   the rank. The relay now sleeps until an answer is due (from how long
//!   the rank's chunks have lately taken), wakes at once for a driver's
//!   chunk (it polls the drivers' sockets), and, with no answer owed, then
//!   looked for commands every 10 ms (now it is woken for each); a rank
//!   idle for 100 ms looks every 1 ms. Idle, the relay then burned 2–6 ms
//!   per second and a rank 12–34 ms (`cargo bench --features mpi --bench
//!   mpi` prints both; on one day's six benchmarks 1.3–4.4 ms and
//!   11.7–20.4 ms).
//! - Open MPI makes an MPI call that finds nothing to do yield the
//!   processor when the job has more ranks than cores (`mpi_yield_when_idle`).
//!   Every look that missed yielded, and the scheduler (EEVDF) pushes a
//!   yielding thread's deadline back by a slice: the relay, runnable, then
//!   waited behind a working rank for 1–4 ms at a time (`perf sched`
//!   showed it switched out while runnable). With 2 worker ranks and tasks
//!   of 1 ms, 95 passes of the relay's loop in one bench run took over
//!   300 µs (7 without the yield), and the relay saw an answer a median
//!   641 µs after the rank sent it (32 µs without; 90th percentile 3.5 ms,
//!   0.2 ms without). The relay and the ranks look and then sleep on their
//!   own terms, so each rank turns the yield off unless the environment
//!   says otherwise ([`turn_yield_off`]; Open MPI 4 honours it, Open MPI 5
//!   does not when oversubscribed). They still wait inside MPI to send a
//!   message over Open MPI's eager limit (4 KiB) to a peer that is not
//!   receiving; such a wait now spins instead of yielding.
//! - Together with the double look above, this was the per-chunk toll: the
//!   median ratio of MPI to local tasks per second at 2 and 4 workers went
//!   from 0.67–0.80 (tasks of 1 ms) and 0.81–0.96 (5 ms) to 0.86–1.08 and
//!   1.01–1.16. Those figures came from a bench that timed both pools in
//!   turns in one MPI job, which flattered MPI: the idle ranks' looks took
//!   7–15% of the local pool's speed during its rounds. The bench now
//!   times each pool with the machine to itself (see `benches/mpi.rs`).
//! - The relay timed a rank's chunks from when it saw their answers, so an
//!   answer seen late made the next chunk seem to start late and be looked
//!   for later still; and a chunk much shorter than those before it was
//!   seen only when a long one would have been due. Now it also looks at
//!   twice the time a chunk has run ([`next_look`]) and timed chunks from
//!   its last look that missed their answer (the ranks time them now). In
//!   traces
//!   (2 worker ranks, 1 ms tasks) answers were then seen a median 90 µs
//!   after they were sent, the slowest tenth 0.35–0.43 ms (0.6–0.8 ms
//!   before); an `apply` after maps of 1 ms tasks took 0.35–0.4 ms (0.9–1.5
//!   ms before; 0.1 ms locally).
//! - What is left, measured with each pool alone (four benchmarks): 1
//!   worker 1.00–1.02; 2 workers 0.84–0.87 (1 ms) and 0.93–1.01 (5 ms); 4
//!   workers on 2 cores 0.87–0.92 and 0.94–0.97. In traces of 2 worker
//!   ranks with 1 ms tasks, each rank waited for work about 1 ms in every
//!   call of 16 tasks (a local worker 0.25–0.4 ms): between calls, the
//!   last answers wait for the relay's look and the first chunks for each
//!   rank's (each up to 100 µs, and each sleep overran by about 65 µs of
//!   timer slack and wake-up; traced before the ranks' doorbell and the
//!   links), and
//!   within a call a chunk passes four
//!   threads (rank, relay, driver, relay) where a local one passes two. The
//!   relay also wakes about three times a chunk, on cores the ranks keep
//!   busy: rank 0 used about 1.0–1.3 ms of CPU per call against 0.5 ms for
//!   the local pool's drivers. Tried, one benchmark or a few traced runs
//!   each, without a clear gain in tasks per second: a third chunk in
//!   flight (0.90 and 0.93 at 1 ms, 0.99 and 0.92 at 5 ms), 1 µs of timer
//!   slack for the relay and the ranks, and a short EEVDF slice for the
//!   relay (which cut its slowest wake-ups from 2 ms to 0.1–0.5 ms).
//! - Fewer wake-ups of the relay per chunk: each rank times its chunks and
//!   says how long each took with its answer ([`push_took`]), so the relay
//!   knows when the chunk queued behind it began ([`Link::answered`]); a
//!   driver keeps a third chunk in flight to a relayed rank, which the
//!   relay holds and sends as soon as the rank answers; and while the rank
//!   has a chunk queued, the relay looks for the answer once, a quarter of
//!   a chunk after it is due ([`Link::answer_due`]), and does not wake for
//!   the driver's next chunk, which it takes at that look. In one run of
//!   the bench's MPI rounds with every rank relayed (2 worker ranks), the
//!   relay switched in 3,060–3,120 times (4,530–4,860 before) and ran
//!   62–66 ms (82–90 ms); the rounds of 5 ms tasks took 30.9–31.1 ms
//!   (33.0–33.5 ms). In four benchmarks, the ratios through the relay were
//!   0.98–1.04 and 0.95–0.97 at 5 ms with 2 and 4 workers (0.91–1.00 in
//!   the four before), and 0.88–0.93 at 1 ms (0.86–0.93 before).
//!   Past due, the looks then came every [`CHECK`]: after the 5 ms tasks,
//!   the bench's tasks of 50 ms (which time the idle pool) woke the relay
//!   about 450 times each. They now back off by an eighth of the time the
//!   chunk has run, and a chunk far longer or shorter than the usual sets
//!   the usual at once: 2,010–2,100 switches per run (2,940–3,160 just
//!   before), 53–56 ms of the relay's time (63–78 ms), the same ratios in
//!   one benchmark. Most of the remaining wake-ups come with tasks of 1 ms,
//!   about two per chunk, while a rank has one chunk only (a call's first
//!   and last, and whenever the dispatch withholds the third), when the
//!   early looks of [`next_look`] apply.
//! - Tried and dropped: a doorbell, a Unix socket that ranks on rank 0's
//!   machine rang (a byte) before each answer, so that the relay slept in
//!   poll(2) until one came. It was worse in two benchmarks (2 workers:
//!   0.82–0.83 at 1 ms, 0.89–0.95 at 5 ms; 4 workers at 5 ms: 0.89): each
//!   answer then woke the relay at once on a busy core, where one timed
//!   look had taken several, and within a call the chunk sent ahead makes
//!   that promptness worth nothing.
//! - Replaced by the links: a doorbell the other way round, which the relay
//!   rang before each message to a rank on its machine, so that the rank
//!   slept until one came. Tasks per second did not move (at 1 ms, 2
//!   workers: 0.88 and 0.85 against 0.87 and 0.87 without it), and an idle
//!   rank's CPU fell from 12–20 to 2–4 ms per second.
//!
//! What MPI allows: Open MPI ends the whole job when a rank dies (it has no
//! way to replace one), so a crashed worker rank takes the job down with an
//! error from `mpirun`, never a hang. A panic is caught in the rank and is a
//! per-task error, as locally. Descriptors (`Fd`, `Connection`) cannot cross
//! to another machine: items that pass one to a rank, or return one from
//! it, fail, on every rank alike.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mpi::point_to_point::{MatchedReceiveVec, Message, Status};
use mpi::traits::*;

use crate::bootstrap::{self, CallSpec, OsChild, Start};
use crate::error::{Error, Result};
use crate::pool::worker::{Started, answer_chunk, initialize};
use crate::pool::{Pool, PoolBuilder};
use crate::wire::{self, Conn, push_frame};

/// Rank 0 to a rank: become a pool worker; the message is the initializer.
const TAG_START: i32 = 1;
/// Rank 0 to a rank: run this chunk frame. A rank to rank 0: its answer.
const TAG_CHUNK: i32 = 2;
/// Rank 0 to a rank: the job is over.
const TAG_STOP: i32 = 3;
/// Rank 0 to each rank, once: where rank 0 is ([`here`]) and the socket
/// file a rank in the same place connects to ([`link_nearby_ranks`]). A
/// rank to rank 0: 1 if it connected, and is served through that link from
/// then on, or 0.
const TAG_NEARBY: i32 = 4;

/// How long the relay waits for the ranks to answer [`TAG_NEARBY`].
const NEARBY_WAIT: Duration = Duration::from_secs(10);

/// Set to `0` in rank 0's environment, serves every rank through the relay,
/// as if each were on another machine: for tests and benchmarks of that
/// path on one machine.
const NEARBY_VAR: &str = "MULTIPROC_MPI_NEARBY";

/// How long a rank that has answered looks for its next chunk before it
/// sleeps between looks.
const SPIN: Duration = Duration::from_micros(20);

/// How often a rank, or the relay with an answer owed, looks for a message
/// it may soon get: a rank's pauses grow up to it, and the relay's are
/// never shorter...
const CHECK: Duration = Duration::from_micros(100);
/// ...and, once nothing has come for [`IDLE_AFTER`], between looks while
/// idle, so that an idle pool leaves the cores to others.
const IDLE_CHECK: Duration = Duration::from_millis(1);
const IDLE_AFTER: Duration = Duration::from_millis(100);

/// Frames up to this size go to a busy rank at once: MPI buffers them
/// (Open MPI sends up to 4 KiB eagerly on every transport), so the send
/// cannot wait for the rank.
const BUFFERED: usize = 1024;

/// How long rank 0, exiting, waits for answers still owed to it.
const DRAIN: Duration = Duration::from_secs(5);

/// How long a new worker waits for a rank to be freed.
const RANK_WAIT: Duration = Duration::from_secs(10);

/// This process's rank under `mpirun`, from the launcher's environment.
fn launcher_rank() -> Option<i32> {
    ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse().ok())
}

/// Runs before `main` on every rank: ranks other than 0 serve the pool and
/// exit; rank 0 arranges to release them when it exits.
#[ctor::ctor]
unsafe fn divert_rank() {
    crate::forking::guard_users_forks();
    // A process that multiproc started itself is not a rank, even though it
    // inherited the launcher's environment.
    if std::env::var_os("MULTIPROC_BOOTSTRAP_ADDR").is_some() {
        return;
    }
    let Some(rank) = launcher_rank() else {
        return;
    };
    turn_yield_off();
    match rank {
        0 => crate::sys::process::at_exit(finish_at_exit),
        _ => std::process::exit(serve_rank()),
    }
}

/// Open MPI's setting that makes each MPI call that finds nothing to do
/// yield the processor; it turns itself on when the job has more ranks
/// than cores.
const YIELD_WHEN_IDLE: &std::ffi::CStr = c"OMPI_MCA_mpi_yield_when_idle";

/// Turns Open MPI's yielding off for this rank, unless the environment
/// already says: the relay and the ranks look for messages and sleep
/// between looks, so the yield that followed each empty look only pushed
/// them behind busy ranks (the module's design note has the numbers).
/// Open MPI 4 honours it; Open MPI 5's source turns yielding on regardless
/// when oversubscribed (not tried here).
fn turn_yield_off() {
    if crate::sys::process::env_var(YIELD_WHEN_IDLE).is_none() {
        // SAFETY: this runs before `main`, as `bootstrap`'s diversion of a
        // child does, on the same assumption: no constructor that ran
        // before it started a thread.
        let _ = unsafe { crate::sys::process::set_env(YIELD_WHEN_IDLE.to_bytes(), Some(b"0")) };
    }
}

/// At rank 0's exit: stop every worker rank and finalize MPI, whether or
/// not a pool ever used them, so that `mpirun` can end.
extern "C" fn finish_at_exit() {
    match RELAY.get() {
        Some(Ok(relay)) if relay.pid == std::process::id() => {
            let (done, finished) = mpsc::channel();
            let sent = relay.doorway.send(Command::Shutdown(done));
            if sent {
                let _ = finished.recv_timeout(Duration::from_secs(10));
            }
        }
        // Failed, or a copy in a process forked from rank 0.
        Some(_) => {}
        None => {
            if crate::parent_process().is_none()
                && let Some(universe) = mpi::initialize()
            {
                let world = universe.world();
                stop_ranks(&world, 1..world.size());
            }
        }
    }
}

/// Tells `ranks`, which are served through MPI, that the job is over.
fn stop_ranks(world: &mpi::topology::SimpleCommunicator, ranks: impl Iterator<Item = i32>) {
    for rank in ranks {
        world
            .process_at_rank(rank)
            .send_with_tag(&[0u8][..], TAG_STOP);
    }
}

/// The name a worker on MPI rank `rank` goes by on both sides.
fn rank_name(rank: i32) -> String {
    format!("MpiWorker-{rank}")
}

/// The body of a worker rank: serves chunks from rank 0 until told to stop.
fn serve_rank() -> i32 {
    let Some(universe) = mpi::initialize() else {
        eprintln!("multiproc: MPI could not be initialized on this rank");
        return bootstrap::EXIT_NO_PARENT;
    };
    let world = universe.world();
    crate::bootstrap::identity::set_identity(crate::bootstrap::identity::Identity::helper(
        &rank_name(world.rank()),
    ));
    bootstrap::install_panic_hook();
    bootstrap::send_panics_to_callers();
    let root = world.process_at_rank(0);
    let mut cached = None;
    let mut out = Vec::new();
    loop {
        let (message, status) = receive_sleeping(&root);
        let taken = Instant::now();
        out.clear();
        match status.tag() {
            TAG_NEARBY => {
                let link = link_to_relay(&message, world.rank());
                root.send_with_tag(&[u8::from(link.is_some())][..], TAG_NEARBY);
                match link {
                    Some(link) => {
                        serve_nearby(link);
                        break;
                    }
                    None => continue,
                }
            }
            TAG_START => {
                let started = read_initializer(&message).map_or_else(|failed| failed, initialize);
                let _ = wire::push_message(&mut out, &started);
            }
            TAG_CHUNK => answer_chunk(&message, Vec::new(), &mut cached, &mut out),
            _ => break,
        }
        push_took(&mut out, taken.elapsed());
        root.send_with_tag(&out[..], TAG_CHUNK);
    }
    drop(universe);
    0
}

/// Receives the next message from rank 0, sleeping between checks: MPI's
/// own blocking receive spins, which would take a core from the workers and
/// rank 0 that share this machine. It looks again and again for [`SPIN`]
/// first: a chunk sent while this rank was busy is often not seen by the
/// first look, only by a later one (each look moves MPI's progress on), and
/// going to sleep then cost the rank a pause per chunk: with one worker and
/// tasks of 1 ms, 10 of 160 chunks were taken at once without the spin, 136
/// with it. (Gated as the other spins are, by a crowded run queue and by
/// spins that stop paying, it was skipped after each idle spell between
/// maps, and the pauses came back.)
fn receive_sleeping(root: &mpi::topology::Process<'_>) -> (Vec<u8>, Status) {
    let started = Instant::now();
    let mut pause = Duration::from_micros(10);
    loop {
        if let Some(probed) = look(root) {
            return probed.matched_receive_vec::<u8>();
        }
        if started.elapsed() < SPIN {
            continue;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(check_every(started.elapsed()));
    }
}

/// Where this process runs, as [`TAG_NEARBY`] tells it: its machine's name
/// and its network namespace, which tells apart "machines" that share a
/// kernel (as CI's two-host run does).
fn here() -> Option<String> {
    let machine = mpi::environment::processor_name().ok()?;
    let namespace = crate::sys::procfs::net_namespace().unwrap_or_default();
    Some(format!("{machine}\n{namespace}"))
}

/// The socket in a [`TAG_NEARBY`] message (where rank 0 is, a newline,
/// the path), if rank 0 is `here`.
fn nearby_path<'m>(message: &'m [u8], here: &str) -> Option<&'m std::path::Path> {
    let (there, path) = std::str::from_utf8(message).ok()?.rsplit_once('\n')?;
    (there == here).then(|| std::path::Path::new(path))
}

/// Connects to the relay's socket named by a [`TAG_NEARBY`] message, and
/// says this rank's number, if rank 0 is on this machine.
fn link_to_relay(message: &[u8], rank: i32) -> Option<Conn> {
    let path = nearby_path(message, &here()?)?;
    let mut stream = crate::wire::socket::connect_local(path).ok()?;
    std::io::Write::write_all(&mut stream, &rank.to_le_bytes()).ok()?;
    Some(Conn::new(stream))
}

/// Ends a rank's answer with how long the rank took to make it, for the
/// relay's schedule ([`Link::answered`]); [`split_took`] takes it off.
fn push_took(answer: &mut Vec<u8>, took: Duration) {
    let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    answer.extend_from_slice(&nanos.to_le_bytes());
}

/// The answer a rank sent, and how long it took to make it ([`push_took`]).
fn split_took(mut answer: Vec<u8>) -> (Vec<u8>, Duration) {
    let took = answer.split_off(answer.len().saturating_sub(8));
    let nanos = took.try_into().map_or(0, u64::from_le_bytes);
    (answer, Duration::from_nanos(nanos))
}

/// The pool's initializer in `message`, or, if it cannot be read, what to
/// answer the driver.
fn read_initializer(message: &[u8]) -> std::result::Result<Option<CallSpec>, Started> {
    wire::decode::<Option<CallSpec>>(message, "an initializer").map_err(|e| {
        let mut outcome = Vec::new();
        bootstrap::push_failed(&mut outcome, &e.to_string());
        Started::InitializerFailed(outcome)
    })
}

/// Serves pools through the relay's link until the relay stops it: each
/// frame from the relay is a pool worker's initializer, with the worker's
/// end of its driver's socket beside it, which this rank then serves as a
/// local worker would, with no relay between; a frame without a socket,
/// or the relay hanging up, stops it, between two chunks if it is serving.
/// Once the driver hangs up, the rank says it is free with an empty frame.
fn serve_nearby(mut link: Conn) {
    while let Ok((initializer, fds)) = link.recv_frame_with_fds() {
        let Some(socket) = fds.into_iter().next() else {
            return;
        };
        let mut conn = Conn::new(socket.into());
        match read_initializer(&initializer) {
            Ok(initializer) => {
                let stop = Some(link.stream().as_fd());
                crate::pool::worker::serve_chunks(conn, initializer, stop);
            }
            Err(failed) => {
                let _ = conn.send(&failed);
            }
        }
        if link.send_frame(&[]).is_err() {
            return;
        }
    }
}

/// Looks for a message from `source`, twice if need be: Open MPI's probe
/// checks what has arrived and, only on a miss, moves its progress on, which
/// may bring the message in; a single probe sees a message only at the look
/// after the one that could have. Between looks that sleep, that cost a
/// sleep per message: a rank took a chunk sent while it waited after a
/// median of about 300 µs with one probe, 90 µs with two.
fn look<S: Source>(source: &S) -> Option<(Message, Status)> {
    source
        .immediate_matched_probe()
        .or_else(|| source.immediate_matched_probe())
}

/// The pause between looks for a message after `idle_for` without one: a
/// rank's longest, the relay's shortest.
fn check_every(idle_for: Duration) -> Duration {
    match idle_for < IDLE_AFTER {
        true => CHECK,
        false => IDLE_CHECK,
    }
}

/// What the relay is asked to do.
enum Command {
    /// Make `rank` a worker fed through `stream`, starting with `initializer`.
    Attach {
        rank: i32,
        stream: UnixStream,
        initializer: Vec<u8>,
    },
    /// Stop every rank and finalize MPI, then say so.
    Shutdown(mpsc::Sender<()>),
}

/// The way to the relay: commands, and a socket that wakes it for each.
struct Doorway {
    commands: mpsc::Sender<Command>,
    /// Written a byte after each command: the relay sleeps in poll(2) on the
    /// other end.
    wake: UnixStream,
}

impl Doorway {
    /// Sends `command` and wakes the relay; whether the relay is there.
    fn send(&self, command: Command) -> bool {
        let sent = self.commands.send(command).is_ok();
        // Never waits: a full socket already holds wake-ups.
        let _ = crate::wire::socket::send_now(&self.wake, &[1]);
        sent
    }
}

/// A way to the relay, and the relay's end of it.
fn doorway() -> std::io::Result<(Doorway, Inbox)> {
    let (commands, receiver) = mpsc::channel();
    let (wake, woken) = wire::socket::pair()?;
    wake.set_nonblocking(true)?;
    woken.set_nonblocking(true)?;
    let inbox = Inbox {
        commands: receiver,
        wake: woken,
    };
    Ok((Doorway { commands, wake }, inbox))
}

/// The relay's end of its [`Doorway`].
struct Inbox {
    commands: mpsc::Receiver<Command>,
    wake: UnixStream,
}

impl Inbox {
    /// The commands sent so far. The wake-ups are read first: one written
    /// after the last command taken here is left to end the next sleep.
    fn take(&self) -> impl Iterator<Item = Command> + '_ {
        let mut bytes = [0u8; 64];
        while matches!(std::io::Read::read(&mut &self.wake, &mut bytes), Ok(1..)) {}
        self.commands.try_iter()
    }
}

/// Rank 0's relay: the one thread that talks MPI.
struct Relay {
    doorway: Doorway,
    /// Per rank (index 0 unused): whether a worker is attached to it.
    attached: Mutex<Vec<bool>>,
    /// Per rank: whether it is linked to the relay ([`link_nearby_ranks`]).
    linked: Vec<bool>,
    /// Signalled when a rank is freed.
    freed: Condvar,
    /// The process it serves: a forked copy of it has no thread behind it.
    pid: u32,
}

static RELAY: OnceLock<std::result::Result<Relay, String>> = OnceLock::new();

fn relay() -> Result<&'static Relay> {
    let refused = || Error::Mpi {
        reason: "only the process that mpirun started can use the MPI job's ranks".into(),
    };
    if crate::parent_process().is_some() {
        return Err(refused());
    }
    match RELAY.get_or_init(start_relay) {
        Ok(relay) if relay.pid == std::process::id() => Ok(relay),
        // A copy in a process forked from rank 0, without the relay's thread.
        Ok(_) => Err(refused()),
        Err(reason) => Err(Error::Mpi {
            reason: reason.clone(),
        }),
    }
}

fn start_relay() -> std::result::Result<Relay, String> {
    if launcher_rank().is_none() {
        return Err(
            "this program was not started by mpirun; run it as `mpirun -n N program`".into(),
        );
    }
    let (doorway, inbox) =
        doorway().map_err(|e| format!("could not make the MPI thread's wake-up socket: {e}"))?;
    let (ready, size) = mpsc::channel();
    std::thread::Builder::new()
        .name("multiproc-mpi".into())
        .spawn(move || {
            let Some((universe, _)) = mpi::initialize_with_threading(mpi::Threading::Serialized)
            else {
                let _ = ready.send(Err("MPI could not be initialized".to_string()));
                return;
            };
            let world = universe.world();
            if world.size() < 2 {
                let _ = ready.send(Err(format!(
                    "the MPI job has {} rank; start it with `mpirun -n N` for N-1 workers",
                    world.size()
                )));
                // Dropping `universe` finalizes MPI, as the job requires.
                return;
            }
            let served = match link_nearby_ranks(&world) {
                Ok(served) => served,
                Err(reason) => {
                    // Linked ranks stop as their links drop; the others are
                    // told.
                    stop_ranks(&world, 1..world.size());
                    let _ = ready.send(Err(reason));
                    return;
                }
            };
            let linked = served.iter().map(|s| matches!(s, Served::Linked(_)));
            let _ = ready.send(Ok(linked.collect()));
            let done = relay_loop(&world, &inbox, served);
            drop(world);
            // Finalizes MPI; only then may the process exit.
            drop(universe);
            let _ = done.send(());
        })
        .map_err(|e| format!("could not start the MPI thread: {e}"))?;
    let linked: Vec<bool> = size
        .recv()
        .map_err(|_| "the MPI thread ended at once".to_string())??;
    Ok(Relay {
        doorway,
        attached: Mutex::new(vec![false; linked.len()]),
        linked,
        freed: Condvar::new(),
        pid: std::process::id(),
    })
}

/// A rank's link to its driver.
struct Link {
    conn: Conn,
    /// Chunks (or the start) sent to the rank and not yet answered: at most
    /// two, so that the rank has its next chunk when it finishes one.
    in_flight: u8,
    /// A chunk read from the driver and not sent yet: sent as soon as the
    /// rank has fewer than two, or, if MPI cannot buffer it, none.
    held: Option<Vec<u8>>,
    /// When the rank began what it runs now, at the earliest.
    began: Instant,
    /// When the chunk queued at the rank behind the one it runs was sent.
    ahead: Instant,
    /// How long its chunks have lately taken, as the rank timed them (an
    /// average), once one has.
    typical: Option<Duration>,
    /// Whether the rank has answered the start (its initializer's run,
    /// which says nothing of how long chunks take).
    started: bool,
    /// Its driver hung up with answers still owed: they go nowhere, and the
    /// rank stays taken until they have come, so that none reaches the
    /// rank's next driver.
    orphaned: bool,
}

impl Link {
    fn new(conn: Conn) -> Link {
        Link {
            conn,
            in_flight: 1,
            held: None,
            began: Instant::now(),
            ahead: Instant::now(),
            typical: None,
            started: false,
            orphaned: false,
        }
    }

    /// Records the rank's answer to a chunk it took `took` to make, seen
    /// `now`, after the relay's last look that did not see it, begun at
    /// `missed`; returns whether the link is done (orphaned, and owed
    /// nothing more). The chunk queued behind it, if any, began as it
    /// ended: no earlier than it began plus `took`, or than `missed`, nor
    /// than the queued chunk was sent. Timed by the rank, the lengths are
    /// not stretched by answers the relay saw late; each start is bounded
    /// from below by the one before, from the first, sent to an idle rank.
    /// A chunk far shorter or longer than the usual sets the usual at once:
    /// while the rank has one queued, the relay looks for its answer only
    /// when a usual one would be due.
    fn answered(&mut self, took: Duration, missed: Instant, now: Instant) -> bool {
        // Never longer than it can have been, whatever the rank said.
        let took = took.min(now.saturating_duration_since(self.began));
        if std::mem::replace(&mut self.started, true) {
            self.typical = Some(match self.typical {
                Some(typical) if took >= typical / 2 && took <= typical * 2 => {
                    (typical * 3 + took) / 4
                }
                _ => took,
            });
        }
        if self.in_flight == 2 {
            let ended = (self.began + took).max(missed);
            self.began = ended.max(self.ahead).min(now);
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.orphaned && self.in_flight == 0
    }

    /// Records that the driver hung up; returns whether the link is done
    /// (owed nothing).
    fn hung_up(&mut self) -> bool {
        self.held = None;
        self.orphaned = true;
        self.in_flight == 0
    }

    /// Whether a driver's next chunk can be taken for the rank now: it has
    /// a driver, and none is held back.
    fn has_room(&self) -> bool {
        !self.orphaned && self.held.is_none()
    }

    /// Whether the rank may run out of work before the relay's next look:
    /// then a driver's chunk must wake the relay.
    fn wants_work(&self) -> bool {
        self.has_room() && self.in_flight < 2
    }

    /// When to look next for its answer (`None` if none is owed): with a
    /// chunk queued behind it, once; otherwise by [`next_look`].
    fn answer_due(&self, now: Instant) -> Option<Instant> {
        let due = match self.in_flight {
            0 => return None,
            1 => next_look(self.began, self.typical, now),
            // The rank has its next chunk: one look a quarter of a chunk
            // after the answer is due sees it, and leaves the driver the
            // rest of that chunk to send the one after.
            _ => self.began + self.typical.unwrap_or_default() * 5 / 4,
        };
        // Past due, looks back off by an eighth of the time the chunk has
        // run: a chunk ten times the usual costs a dozen looks, not one
        // every `CHECK` (about 450 for tasks of 50 ms after ones of 5 ms,
        // the relay's busiest spell in a bench run), for a lateness of at
        // most an eighth.
        Some(due.max(now + now.saturating_duration_since(self.began) / 8))
    }
}

impl Link {
    /// Sends `frame` to `rank` now if that cannot block and the rank has
    /// fewer than two: the rank is idle, or the frame is small enough for
    /// MPI to buffer (the rank may itself be sending a large answer, which
    /// waits for this thread to receive it). Otherwise holds it.
    fn offer(&mut self, world: &mpi::topology::SimpleCommunicator, rank: i32, frame: Vec<u8>) {
        if self.in_flight == 0 || (self.in_flight < 2 && frame.len() <= BUFFERED) {
            world
                .process_at_rank(rank)
                .send_with_tag(&frame[..], TAG_CHUNK);
            match self.in_flight {
                0 => self.began = Instant::now(),
                _ => self.ahead = Instant::now(),
            }
            self.in_flight += 1;
        } else {
            self.held = Some(frame);
        }
    }
}

/// When to look next for the answer to a chunk that began at `began`, now:
/// a while before the rank's chunks have lately taken (`typical`), so that
/// the answer is seen soon after it comes, or at once if that is not known
/// or has passed; but also at twice the time the chunk has run so far.
/// When `typical` was measured up to the look that saw each answer, it
/// could only shrink by about 3% a chunk without these early looks: a
/// chunk far shorter than those before it was seen only when a long one
/// would have been due, and so were the next ones. After maps of 1 ms
/// tasks, an `apply` of a trivial task took 0.9–1.5 ms through the relay
/// (against 0.1 ms locally); with the early looks 0.35–0.4 ms.
fn next_look(began: Instant, typical: Option<Duration>, now: Instant) -> Instant {
    let typical = typical.unwrap_or_default();
    let expected = began + typical.saturating_sub(typical / 8);
    let early = began + now.saturating_duration_since(began) * 2;
    expected.min(early)
}

/// How the relay serves a rank.
enum Served {
    /// Over MPI, through the relay.
    Relayed,
    /// Through the rank's link to the relay ([`link_nearby_ranks`]).
    Linked(Conn),
    /// Linked once, but its link broke: taken for good.
    Lost,
}

/// Links each rank on rank 0's machine to the relay by a Unix socket,
/// through which the relay then hands it its drivers' sockets
/// ([`serve_nearby`]): its chunks and answers pass straight between it and
/// its driver, as a local worker's do, never through MPI and the relay.
/// Returns how each rank is served; an error if a rank did not answer, or
/// did not link as it said, within [`NEARBY_WAIT`].
fn link_nearby_ranks(
    world: &mpi::topology::SimpleCommunicator,
) -> std::result::Result<Vec<Served>, String> {
    let size = world.size() as usize;
    let mut served: Vec<Served> = (0..size).map(|_| Served::Relayed).collect();
    if std::env::var_os(NEARBY_VAR).is_some_and(|v| v == "0") {
        return Ok(served);
    }
    // The socket goes once every rank has answered.
    let (_path, listener, message) = match listen_nearby() {
        Ok(listening) => listening,
        Err(reason) => {
            log::warn!("MPI ranks on this machine are served through the relay: {reason}");
            return Ok(served);
        }
    };
    for rank in 1..world.size() {
        world
            .process_at_rank(rank)
            .send_with_tag(message.as_bytes(), TAG_NEARBY);
    }
    // Per rank: whether it says it connected; `None` until it answers.
    let mut linked: Vec<Option<bool>> = vec![None; size];
    let anyone = world.any_process();
    let deadline = Instant::now() + NEARBY_WAIT;
    loop {
        while let Some(probed) = anyone.immediate_matched_probe_with_tag(TAG_NEARBY) {
            let (answer, status) = probed.matched_receive_vec::<u8>();
            linked[status.source_rank() as usize] = Some(answer == [1]);
        }
        while let Ok((stream, _)) = listener.accept() {
            if let Some((rank, stream)) = said_rank(stream).filter(|(rank, _)| *rank < size) {
                served[rank] = Served::Linked(Conn::new(stream));
            }
        }
        let waiting = (1..size).find(|&rank| match linked[rank] {
            None => true,
            Some(linked) => linked && !matches!(served[rank], Served::Linked(_)),
        });
        let Some(waiting) = waiting else {
            break;
        };
        if Instant::now() > deadline {
            let what = match linked[waiting] {
                None => "answer",
                Some(_) => "link to it as it said",
            };
            return Err(format!(
                "rank {waiting} did not {what} within {NEARBY_WAIT:?}"
            ));
        }
        let _ = wire::wait_readable(&[listener.as_fd()], Some(CHECK));
    }
    for (served, linked) in served.iter_mut().zip(linked) {
        if linked != Some(true) {
            *served = Served::Relayed;
        }
    }
    Ok(served)
}

/// The socket that nearby ranks connect to, and the [`TAG_NEARBY`] message
/// that names it.
fn listen_nearby()
-> std::result::Result<(bootstrap::SocketPath, std::os::unix::net::UnixListener, String), String> {
    let path = bootstrap::SocketPath::new().map_err(|e| e.to_string())?;
    let listener = crate::wire::socket::listen_local(&path.0)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|e| format!("could not listen on {}: {e}", path.0.display()))?;
    let here = here().ok_or("MPI does not name this machine")?;
    let socket = path.0.to_str().ok_or("the socket's path is not UTF-8")?;
    let message = format!("{here}\n{socket}");
    Ok((path, listener, message))
}

/// The rank number that a rank connecting to the relay writes first.
fn said_rank(stream: UnixStream) -> Option<(usize, UnixStream)> {
    let mut stream = crate::wire::socket::accepted_local(stream).ok()?;
    // Accepted from a non-blocking listener, it is non-blocking on some systems.
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let mut rank = [0u8; 4];
    std::io::Read::read_exact(&mut stream, &mut rank).ok()?;
    stream.set_read_timeout(None).ok()?;
    Some((usize::try_from(i32::from_le_bytes(rank)).ok()?, stream))
}

/// Hands a nearby rank its driver's socket and the pool's initializer
/// ([`serve_nearby`]); whether it went.
fn hand_over(link: &mut Conn, stream: UnixStream, initializer: &[u8]) -> bool {
    let mut frame = Vec::new();
    let built = push_frame(&mut frame, |out| {
        out.extend_from_slice(initializer);
        Ok(())
    });
    built
        .and_then(|()| wire::set_fd_count(&mut frame, 1))
        .and_then(|()| link.send_framed_with(&frame, &[stream.into()]))
        .is_ok()
}

/// Marks `rank` free for the next pool, or (`taken`) not.
fn set_taken(rank: usize, taken: bool) {
    if let Some(Ok(relay)) = RELAY.get() {
        lock(&relay.attached)[rank] = taken;
        relay.freed.notify_all();
    }
}

/// Serves until told to shut down; returns whom to tell when MPI is
/// finalized.
fn relay_loop(
    world: &mpi::topology::SimpleCommunicator,
    inbox: &Inbox,
    mut served: Vec<Served>,
) -> mpsc::Sender<()> {
    let size = world.size();
    let mut links: Vec<Option<Link>> = (0..size).map(|_| None).collect();
    let mut idle_since = Instant::now();
    // When the last look for answers began: an answer it did not take was
    // sent after it.
    let mut missed = Instant::now();
    loop {
        let mut progressed = false;
        for command in inbox.take() {
            progressed = true;
            match command {
                Command::Attach {
                    rank,
                    stream,
                    initializer,
                } => match &mut served[rank as usize] {
                    Served::Linked(link) => {
                        // Its driver sees the worker hang up.
                        if !hand_over(link, stream, &initializer) {
                            served[rank as usize] = Served::Lost;
                        }
                    }
                    Served::Relayed => {
                        world
                            .process_at_rank(rank)
                            .send_with_tag(&initializer[..], TAG_START);
                        links[rank as usize] = Some(Link::new(Conn::new(stream)));
                    }
                    Served::Lost => {}
                },
                Command::Shutdown(done) => {
                    drain_answers(world, &mut links);
                    let relayed = |r: &i32| matches!(served[*r as usize], Served::Relayed);
                    stop_ranks(world, (1..size).filter(relayed));
                    // Even one still serving a driver stops, between chunks;
                    // a stop frame, not just the hang-up, since a forked
                    // child of this process may hold the link too.
                    for linked in &mut served {
                        if let Served::Linked(link) = linked {
                            let _ = link.send_frame(&[]);
                        }
                    }
                    drop(served);
                    return done;
                }
            }
        }
        for (rank, linked) in served.iter_mut().enumerate() {
            if let Served::Linked(link) = linked
                && link.wait_readable(Some(Duration::ZERO)).unwrap_or(true)
            {
                progressed = true;
                match link.recv_frame() {
                    Ok(_) => set_taken(rank, false),
                    Err(_) => {
                        *linked = Served::Lost;
                        set_taken(rank, true);
                    }
                }
            }
        }
        let looked = Instant::now();
        while let Some(probed) = look(&world.any_process()) {
            progressed = true;
            let (answer, status) = probed.matched_receive_vec::<u8>();
            let rank = status.source_rank() as usize;
            if let Some(link) = links[rank].as_mut() {
                let (answer, took) = split_took(answer);
                if link.answered(took, missed, Instant::now()) {
                    links[rank] = None;
                    set_taken(rank, false);
                } else if !link.orphaned {
                    let _ = link.conn.send_framed(&answer);
                }
            }
        }
        missed = looked;
        for rank in 1..size {
            let Some(link) = links[rank as usize].as_mut() else {
                continue;
            };
            if link.in_flight < 2
                && let Some(frame) = link.held.take()
            {
                link.offer(world, rank, frame);
                // Held again, it is no progress: the loop would spin.
                if link.held.is_none() {
                    progressed = true;
                }
            }
            if !link.has_room()
                || !link
                    .conn
                    .wait_readable(Some(Duration::ZERO))
                    .unwrap_or(true)
            {
                continue;
            }
            progressed = true;
            match link.conn.recv_frame_with_fds() {
                // Descriptors stay behind; the items that needed them fail.
                Ok((frame, _fds)) => link.offer(world, rank, frame),
                Err(_) => {
                    if link.hung_up() {
                        links[rank as usize] = None;
                        set_taken(rank as usize, false);
                    }
                }
            }
        }
        if !progressed {
            wait_for_work(&links, &served, inbox, idle_since.elapsed());
        } else {
            idle_since = Instant::now();
        }
    }
}

/// Waits for the next thing the relay may do. A command, a driver's chunk
/// for a rank that may run short ([`Link::wants_work`]), or a linked rank
/// saying it is free ends the wait at once (poll(2)). MPI's answers cannot
/// be waited for so: they are looked for when due ([`Link::answer_due`];
/// no more often than every [`CHECK`], or [`IDLE_CHECK`] once the relay
/// has been idle for [`IDLE_AFTER`]), which leaves the cores to the ranks
/// while they work. With no answer owed, the relay sleeps until woken.
fn wait_for_work(links: &[Option<Link>], served: &[Served], inbox: &Inbox, idle_for: Duration) {
    let now = Instant::now();
    let pause = links
        .iter()
        .flatten()
        .filter_map(|link| link.answer_due(now))
        .min()
        .map(|due| due.saturating_duration_since(now).max(check_every(idle_for)));
    let linked = served.iter().filter_map(|served| match served {
        Served::Linked(link) => Some(link),
        _ => None,
    });
    let open: Vec<_> = links
        .iter()
        .flatten()
        .filter(|link| link.wants_work())
        .map(|link| &link.conn)
        .chain(linked)
        .map(|conn| conn.stream().as_fd())
        .chain(std::iter::once(inbox.wake.as_fd()))
        .collect();
    let _ = wire::wait_readable(&open, pause);
}

/// Receives (and drops) the answers ranks still owe, for a bounded time: a
/// rank blocked sending a large answer would otherwise never stop.
fn drain_answers(world: &mpi::topology::SimpleCommunicator, links: &mut [Option<Link>]) {
    let deadline = std::time::Instant::now() + DRAIN;
    while links.iter().flatten().any(|link| link.in_flight > 0)
        && std::time::Instant::now() < deadline
    {
        match look(&world.any_process()) {
            Some(probed) => {
                let (_, status) = probed.matched_receive_vec::<u8>();
                if let Some(link) = links[status.source_rank() as usize].as_mut() {
                    link.in_flight = link.in_flight.saturating_sub(1);
                }
            }
            None => std::thread::sleep(CHECK),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl PoolBuilder {
    /// Runs the workers on the other ranks of the MPI job this program was
    /// started in (`mpirun -n N program`: N-1 workers, on every host
    /// `mpirun` was given); needs the `mpi` feature. The pool's size is the
    /// number of worker ranks, whatever [`processes`](Self::processes) says.
    /// Ranks on this machine take their chunks straight from the pool, as
    /// local workers do; ranks elsewhere through MPI (all ranks, if
    /// `MULTIPROC_MPI_NEARBY=0` is set). Either way a descriptor cannot
    /// cross: an item that passes or returns one fails.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// // Run as `mpirun -n 5 ./app`: rank 0 runs `main`, ranks 1..4 the tasks.
    /// let pool = Pool::builder().mpi().build()?;
    /// assert_eq!(pool.map(square, 0..4u64)?, [0, 1, 4, 9]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `mpi4py.futures.MPIPoolExecutor()`.
    pub fn mpi(mut self) -> Self {
        self.launch.attach = Some(attach);
        self.workers = Some(worker_ranks);
        self
    }
}

impl Pool {
    /// A pool whose workers are the other ranks of this MPI job; see
    /// [`PoolBuilder::mpi`]. Needs the `mpi` feature.
    ///
    /// # Errors
    ///
    /// [`Error::Mpi`] if the program was not started by `mpirun`, or the job
    /// has a single rank.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use multiproc::{pool_task, Pool};
    /// # #[pool_task] fn square(x: u64) -> u64 { x * x }
    /// # fn main() -> Result<(), multiproc::Error> {
    /// let pool = Pool::mpi()?;
    /// let squares = pool.map(square, 0..100u64)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Python: `mpi4py.futures.MPIPoolExecutor()`.
    pub fn mpi() -> Result<Pool> {
        Pool::builder().mpi().build()
    }
}

/// The number of worker ranks of this job (its size less rank 0).
fn worker_ranks() -> Result<usize> {
    Ok(lock(&relay()?.attached).len() - 1)
}

/// Makes a free rank the worker for `start` (a pool worker's job).
fn attach(start: &Start) -> Result<(OsChild, Conn)> {
    let relay = relay()?;
    // The pool worker's payload is its initializer, as the rank decodes it.
    if start.job.kind != crate::pool::worker::POOL_WORKER.name {
        return Err(Error::Mpi {
            reason: "only pool workers run on MPI ranks".into(),
        });
    }
    let initializer = start.job.payload.clone();
    let rank = {
        // A pool just dropped frees each of its ranks once the chunks it
        // was sent are done.
        let free = |attached: &mut Vec<bool>| !(1..attached.len()).any(|rank| !attached[rank]);
        let (mut attached, _) = relay
            .freed
            .wait_timeout_while(lock(&relay.attached), RANK_WAIT, free)
            .unwrap_or_else(|e| e.into_inner());
        let rank = (1..attached.len())
            .find(|&rank| !attached[rank])
            .ok_or_else(|| Error::Mpi {
                reason: format!("every rank still had a worker after {RANK_WAIT:?}"),
            })?;
        attached[rank] = true;
        rank
    };
    let (ours, theirs) = wire::socket::pair().map_err(Error::io("creating a socket pair"))?;
    let command = Command::Attach {
        rank: rank as i32,
        stream: theirs,
        initializer,
    };
    if !relay.doorway.send(command) {
        return Err(Error::Mpi {
            reason: "the MPI thread has ended".into(),
        });
    }
    let name = rank_name(rank as i32);
    let relayed = !relay.linked[rank];
    Ok((OsChild::Remote { name, relayed }, Conn::new(ours)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn an_answer_of_the_usual_length_is_looked_for_shortly_before_it_is_due() {
        let began = Instant::now();
        let now = began + MS;
        assert_eq!(next_look(began, Some(2 * MS), now), began + 2 * MS * 7 / 8);
    }

    #[test]
    fn a_chunk_far_shorter_than_the_last_ones_is_looked_for_within_twice_its_time() {
        let began = Instant::now();
        let now = began + MS / 10;
        assert_eq!(next_look(began, Some(2 * MS), now), began + MS / 5);
    }

    /// A link whose rank runs a chunk begun at the returned instant and
    /// has the next one queued, with the socket's other end.
    fn two_in_flight() -> (Link, Instant, UnixStream) {
        let (conn, other) = crate::wire::socket::pair().unwrap();
        let mut link = Link::new(Conn::new(conn));
        link.in_flight = 2;
        link.started = true;
        link.ahead = link.began + MS / 10;
        let began = link.began;
        (link, began, other)
    }

    #[test]
    fn an_answer_seen_late_dates_the_next_chunk_from_the_rank_s_own_timing() {
        let (mut link, began, _other) = two_in_flight();
        // Seen 3 ms in, after a look at 1 ms that missed it: it ended at 2 ms.
        link.answered(2 * MS, began + MS, began + 3 * MS);
        assert_eq!(link.typical, Some(2 * MS));
        assert_eq!(link.began, began + 2 * MS);
        assert_eq!(link.in_flight, 1);
    }

    #[test]
    fn a_chunk_queued_after_the_last_one_ended_begins_when_it_was_sent() {
        let (mut link, began, _other) = two_in_flight();
        link.ahead = began + 3 * MS;
        link.answered(2 * MS, began, began + 4 * MS);
        assert_eq!(link.began, began + 3 * MS);
    }

    #[test]
    fn with_a_chunk_queued_the_answer_is_looked_for_once_after_it_is_due() {
        let (mut link, began, _other) = two_in_flight();
        link.typical = Some(4 * MS);
        assert_eq!(link.answer_due(began + MS), Some(began + 5 * MS));
        link.in_flight = 1;
        assert_eq!(link.answer_due(began + MS), Some(began + 2 * MS));
    }

    #[test]
    fn two_answers_seen_in_one_look_are_both_timed() {
        let (mut link, began, _other) = two_in_flight();
        link.answered(2 * MS, began, began + 10 * MS);
        link.answered(4 * MS, began, began + 10 * MS);
        assert_eq!(link.typical, Some(MS * 5 / 2));
        assert_eq!(link.in_flight, 0);
    }

    #[test]
    fn the_start_s_answer_says_nothing_of_how_long_chunks_take() {
        let (conn, _other) = crate::wire::socket::pair().unwrap();
        let mut link = Link::new(Conn::new(conn));
        let began = link.began;
        link.answered(3 * MS, began, began + 3 * MS);
        assert_eq!(link.typical, None);
        assert_eq!(link.in_flight, 0);
    }

    #[test]
    fn a_chunk_far_longer_than_the_usual_is_looked_for_ever_more_rarely() {
        let (mut link, began, _other) = two_in_flight();
        link.typical = Some(MS);
        assert_eq!(link.answer_due(began), Some(began + MS * 5 / 4));
        assert_eq!(link.answer_due(began + 8 * MS), Some(began + 9 * MS));
        assert_eq!(link.answer_due(began + 80 * MS), Some(began + 90 * MS));
        link.answered(40 * MS, began, began + 90 * MS);
        assert_eq!(link.typical, Some(40 * MS));
    }

    #[test]
    fn a_chunk_far_shorter_than_the_usual_sets_the_usual_at_once() {
        let (mut link, began, _other) = two_in_flight();
        link.typical = Some(8 * MS);
        link.answered(4 * MS, began, began + 4 * MS);
        assert_eq!(link.typical, Some(7 * MS));
        link.answered(MS, began, began + 9 * MS);
        assert_eq!(link.typical, Some(MS));
    }

    #[test]
    fn a_rank_s_timing_is_never_taken_as_longer_than_the_chunk_can_have_been() {
        let (mut link, began, _other) = two_in_flight();
        link.answered(Duration::from_nanos(u64::MAX), began, began + 2 * MS);
        assert_eq!(link.typical, Some(2 * MS));
        assert_eq!(link.answer_due(began + 2 * MS), Some(began + 2 * MS));
    }

    #[test]
    fn a_link_whose_driver_hung_up_is_done_once_its_answers_have_come() {
        let (mut link, began, _other) = two_in_flight();
        link.held = Some(vec![1]);
        assert!(!link.hung_up());
        assert!(!link.has_room());
        assert_eq!(link.held, None);
        assert!(!link.answered(MS, began, began + MS));
        assert!(link.answered(MS, began, began + 2 * MS));
        // A stray answer more does not wrap the count.
        link.answered(MS, began, began + 3 * MS);
        assert_eq!(link.in_flight, 0);
    }

    #[test]
    fn a_rank_s_timing_rides_at_the_end_of_its_answer() {
        let mut answer = vec![1, 2, 3];
        push_took(&mut answer, Duration::from_micros(1500));
        assert_eq!(split_took(answer), (vec![1, 2, 3], Duration::from_micros(1500)));
        assert_eq!(split_took(vec![7; 3]), (Vec::new(), Duration::ZERO));
    }

    #[test]
    fn a_rank_links_to_the_relay_only_where_rank_0_is() {
        let message = b"node-a\nnet:[1]\n/tmp/multiproc-1-x/2-0";
        assert_eq!(
            nearby_path(message, "node-a\nnet:[1]"),
            Some(std::path::Path::new("/tmp/multiproc-1-x/2-0"))
        );
        assert_eq!(nearby_path(message, "node-b\nnet:[1]"), None);
        assert_eq!(nearby_path(message, "node-a\nnet:[2]"), None);
        assert_eq!(nearby_path(b"no newline", "no newline"), None);
        assert_eq!(nearby_path(b"\xff\n/p", "\u{fffd}"), None);
    }

    #[test]
    fn the_relay_learns_a_connecting_rank_s_number_and_drops_one_that_says_none() {
        // As `listen_nearby` makes it, which needs MPI for the message.
        let path = bootstrap::SocketPath::new().unwrap();
        let listener = crate::wire::socket::listen_local(&path.0).unwrap();
        listener.set_nonblocking(true).unwrap();
        // Connected first, its number written only once the relay waits.
        let slow = crate::wire::socket::connect_local(&path.0).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            std::io::Write::write_all(&mut &slow, &3i32.to_le_bytes()).unwrap();
            slow
        });
        assert_eq!(said_rank(accepted).map(|(rank, _)| rank), Some(3));
        drop(writer.join().unwrap());
        let mut short = crate::wire::socket::connect_local(&path.0).unwrap();
        std::io::Write::write_all(&mut short, &[3, 0]).unwrap();
        drop(short);
        let (accepted, _) = listener.accept().unwrap();
        assert!(said_rank(accepted).is_none());
        // Connected and silent: given up after a second.
        let _silent = crate::wire::socket::connect_local(&path.0).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(said_rank(accepted).is_none());
    }

    #[test]
    fn a_nearby_rank_serves_the_driver_it_is_handed_then_says_it_is_free() {
        let (relay_end, rank_end) = crate::wire::socket::pair().unwrap();
        let rank = std::thread::spawn(move || serve_nearby(Conn::new(rank_end)));
        let mut link = Conn::new(relay_end);
        for _pool in 0..2 {
            let (driver, worker) = crate::wire::socket::pair().unwrap();
            let mut driver = Conn::new(driver);
            let no_initializer = wire::encode(&None::<CallSpec>, "an initializer").unwrap();
            assert!(hand_over(&mut link, worker, &no_initializer));
            assert!(matches!(driver.recv::<Started>().unwrap(), Started::Ready));
            // Still serving the driver: not free yet.
            assert!(!link.wait_readable(Some(Duration::from_millis(50))).unwrap());
            drop(driver);
            assert_eq!(link.recv_frame().unwrap(), Vec::<u8>::new());
        }
        drop(link);
        rank.join().unwrap();
    }

    #[test]
    fn a_linked_rank_serving_a_driver_stops_when_the_relay_says_so() {
        let (relay_end, rank_end) = crate::wire::socket::pair().unwrap();
        let (stopped, stop) = mpsc::channel();
        std::thread::spawn(move || {
            serve_nearby(Conn::new(rank_end));
            stopped.send(()).unwrap();
        });
        let mut link = Conn::new(relay_end);
        let (driver, worker) = crate::wire::socket::pair().unwrap();
        let mut driver = Conn::new(driver);
        let no_initializer = wire::encode(&None::<CallSpec>, "an initializer").unwrap();
        assert!(hand_over(&mut link, worker, &no_initializer));
        assert!(matches!(driver.recv::<Started>().unwrap(), Started::Ready));
        // The driver still there, and a fork of this process might hold
        // the link open too: the stop frame ends it.
        link.send_frame(&[]).unwrap();
        stop.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(driver.recv_frame().is_err());
    }

    #[test]
    fn the_relay_with_nothing_owed_sleeps_until_a_command_comes() {
        let (doorway, inbox) = doorway().unwrap();
        let (done, _) = mpsc::channel();
        // Sent after the commands were taken, before the relay sleeps: no
        // sleep at all.
        assert_eq!(inbox.take().count(), 0);
        doorway.send(Command::Shutdown(done.clone()));
        let (woken, wake) = mpsc::channel();
        let relay = std::thread::spawn(move || {
            for _ in 0..2 {
                let started = Instant::now();
                wait_for_work(&[], &[], &inbox, Duration::ZERO);
                woken.send((inbox.take().count(), started.elapsed())).unwrap();
            }
        });
        let (taken, _) = wake.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(taken, 1);
        std::thread::sleep(Duration::from_millis(50));
        doorway.send(Command::Shutdown(done));
        let (taken, slept) = wake.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(taken, 1);
        assert!(slept >= Duration::from_millis(50), "{slept:?}");
        relay.join().unwrap();
    }

    #[test]
    fn the_first_answer_is_looked_for_at_once() {
        let began = Instant::now();
        assert_eq!(next_look(began, None, began + MS), began);
    }
}
