//! The worker side of a pool: runs in the child process until the parent hangs up.

use serde::{Deserialize, Serialize};

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::bootstrap::start::fork_late_siblings;
use crate::bootstrap::{self, CallSpec, Entry, JobKind};
use crate::error::Error;
use crate::wire::{self, Conn, prefixed_items, push_frame, push_prefixed};

/// Parent to worker: run these calls; borrowed on both sides.
#[derive(Serialize, Deserialize)]
pub(super) struct RunChunk<'a> {
    pub(super) key: &'a str,
    /// The calls' arguments, each as a varint length and that many bytes (`push_prefixed`).
    #[serde(with = "serde_bytes")]
    pub(super) items: &'a [u8],
}

/// Worker to parent, once, after the initializer. Later frames are chunk results:
/// a byte that is 1 if every call returned, then each item's encoded outcome,
/// prefixed in the same way.
#[derive(Serialize, Deserialize)]
pub(crate) enum Started {
    Ready,
    /// The initializer's encoded outcome.
    InitializerFailed(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// A pool's worker: runs the initializer, then chunks until the parent hangs up.
#[linkme::distributed_slice(bootstrap::JOB_KINDS)]
pub(crate) static POOL_WORKER: JobKind = JobKind {
    name: "pool worker",
    lifeline: true,
    run: run_worker,
};

fn run_worker(conn: Conn, payload: &[u8], fds: Vec<OwnedFd>) -> i32 {
    match wire::decode::<Option<CallSpec>>(payload, "a pool worker's initializer") {
        Ok(initializer) => serve(conn, initializer.map(|call| CallSpec { fds, ..call })),
        Err(_) => 1,
    }
}

/// The body of a pool worker process; returns its exit code.
fn serve(conn: Conn, initializer: Option<CallSpec>) -> i32 {
    // Ctrl-C reaches the whole process group; the parent decides what it means.
    crate::sys::process::ignore(crate::sys::process::Ignorable::Interrupt);
    bootstrap::send_panics_to_callers();
    // The workers this one carries (`start::start_children`) are forked as
    // late as they can be: before an initializer, which each runs for
    // itself; without one, once this worker has said it is ready.
    let conn = match initializer {
        Some(_) => fork_late_siblings(conn).0,
        None => conn,
    };
    let Some(conn) = say_started(conn, initializer) else {
        return 1;
    };
    let (mut conn, sibling) = fork_late_siblings(conn);
    if sibling && conn.send(&Started::Ready).is_err() {
        return 1;
    }
    serve_started(conn, None)
}

/// Runs the initializer, then the chunks that come through `conn`, until
/// its other end hangs up (0) or cannot be answered (1). For an MPI rank,
/// `relay` is its link to the MPI relay: the rank stops between chunks
/// once that can be read (the relay stopping it), and, since a rank may be
/// on another machine, its results hold no descriptors: handles among them
/// fail their items, and `Bytes` travel inline.
#[cfg(feature = "mpi")]
pub(crate) fn serve_chunks(
    conn: Conn,
    initializer: Option<CallSpec>,
    relay: Option<BorrowedFd<'_>>,
) -> i32 {
    bootstrap::send_panics_to_callers();
    match say_started(conn, initializer) {
        Some(conn) => serve_started(conn, relay),
        None => 1,
    }
}

/// Runs the initializer and tells the parent how that went; `None` if
/// this worker is to end.
fn say_started(mut conn: Conn, initializer: Option<CallSpec>) -> Option<Conn> {
    let started = initialize(initializer);
    (conn.send(&started).is_ok() && matches!(started, Started::Ready)).then_some(conn)
}

/// How long a worker spins for its next chunk before it blocks: enough for
/// a caller to take one answer and send the next call, and short, since a
/// worker may share its core with that caller.
const NEXT_CHUNK_SPIN: std::time::Duration = std::time::Duration::from_micros(20);

/// [`serve_chunks`] once the parent knows the worker is ready.
fn serve_started(mut conn: Conn, relay: Option<BorrowedFd<'_>>) -> i32 {
    // Single-threaded: the parent never blocks writing to a worker that is
    // writing to it (its driver reads results while its writes wait), so this
    // process may block on either direction.
    let mut frame_out = Vec::new();
    let mut cached: Option<&'static Entry> = None;
    let mut first = true;
    // Each chunk's results go out before the next chunk starts, so that when
    // this process dies the parent knows exactly which chunk it was running.
    loop {
        if relay.is_some_and(|relay| stopped(&conn, relay)) {
            return 0;
        }
        // The next chunk often follows within microseconds (a caller that
        // runs its calls on this worker itself, `Dispatch::run_here`), and
        // waking from a blocking read costs more than the round trip. Not
        // before the first: a process just forked may share its parent's
        // core until the scheduler moves it, and a spin there would keep
        // the parent from sending it anything.
        // (An MPI rank has waited in `stopped` already.)
        static CHUNKS: wire::Spinner = wire::Spinner::new();
        if !first && relay.is_none() {
            CHUNKS.spin_until(NEXT_CHUNK_SPIN, || conn.try_fill());
        }
        first = false;
        let Ok((frame, fds)) = conn.recv_frame_with_fds() else {
            return 0;
        };
        frame_out.clear();
        let _unmap_later = crate::bytes::UnmapLater::new();
        // Handles (and large `Bytes`) among the results travel beside them.
        let answer = || answer_chunk(&frame, fds, &mut cached, &mut frame_out);
        let out_fds = match relay {
            None => wire::collect_returned_fds(answer).1,
            Some(_) => {
                answer();
                Vec::new()
            }
        };
        let sent = wire::set_fd_count(&mut frame_out, out_fds.len())
            .and_then(|()| conn.send_framed_with(&frame_out, &out_fds));
        if sent.is_err() {
            return 1;
        }
    }
}

/// Whether an MPI rank's `relay` link can be read (the relay stopping the
/// rank) before `conn` brings the next chunk.
fn stopped(conn: &Conn, relay: BorrowedFd<'_>) -> bool {
    if conn.has_frame() {
        return false;
    }
    let ready = wire::wait_readable(&[conn.stream().as_fd(), relay], None);
    ready.map_or(true, |ready| ready.contains(&1))
}

/// Runs the pool's initializer, if any: what to tell the parent.
pub(crate) fn initialize(initializer: Option<CallSpec>) -> Started {
    let mut outcome = Vec::new();
    match initializer.map(|init| init.run(&mut outcome)) {
        Some(false) => Started::InitializerFailed(outcome),
        _ => Started::Ready,
    }
}

/// Runs the chunk in `frame` and appends the frame of its results to `out`.
/// `cached` keeps the last function looked up, since chunks in a row
/// usually call the same one.
pub(crate) fn answer_chunk(
    frame: &[u8],
    fds: Vec<std::os::fd::OwnedFd>,
    cached: &mut Option<&'static Entry>,
    out: &mut Vec<u8>,
) {
    let _ = push_frame(out, |out| {
        let flag = out.len();
        out.push(0);
        let returned = wire::with_fds(fds, || {
            match wire::decode::<RunChunk<'_>>(frame, "a chunk") {
                Ok(chunk) => {
                    let entry = match cached.filter(|e| e.key == chunk.key) {
                        Some(entry) => Ok(entry),
                        None => bootstrap::lookup(chunk.key).inspect(|e| *cached = Some(e)),
                    };
                    run_chunk(entry, chunk.items, out)
                }
                Err(e) => {
                    bootstrap::push_failed(out, &e.to_string());
                    false
                }
            }
        });
        out[flag] = u8::from(returned);
        Ok(())
    });
}

/// Runs every call of a chunk; `true` if each one returned.
fn run_chunk(entry: Result<&'static Entry, Error>, items: &[u8], results: &mut Vec<u8>) -> bool {
    let mut returned = true;
    for args in prefixed_items(items) {
        let mark = results.len();
        let fits = push_prefixed(results, |out| match &entry {
            Ok(entry) => returned &= bootstrap::run(entry, args, out),
            Err(e) => {
                bootstrap::push_failed(out, &e.to_string());
                returned = false;
            }
        });
        if !fits {
            results.truncate(mark);
            push_prefixed(results, |out| {
                bootstrap::push_failed(out, "a value larger than 4 GiB cannot leave a pool task");
            });
            returned = false;
        }
    }
    returned
}
