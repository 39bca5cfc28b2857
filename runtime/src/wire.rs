//! Framing and codec for every byte that crosses between processes.
//!
//! A frame is a little-endian `u64` header followed by that many bytes of
//! postcard: the low 48 bits of the header are the length, the high 16 bits
//! the number of file descriptors that travel with the frame (SCM_RIGHTS, in
//! order). This module is the one seam between the runtime and the
//! transport: nothing else touches sockets, descriptors in flight or the codec.
//!
//! Handles that own a descriptor (`Fd`, `Connection`) serialize as an index
//! into the frame's descriptors: [`collect_fds`] gathers them while encoding,
//! [`with_fds`] offers them while decoding.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The largest frame accepted; a longer length prefix is garbage, not a message.
const MAX_FRAME: u64 = 1 << 36;
/// Where the descriptor count starts in a frame header.
const FD_SHIFT: u32 = 48;
/// Descriptors per `sendmsg`: the kernel's `SCM_MAX_FD`.
const FDS_PER_SEND: usize = 253;

thread_local! {
    /// Why the last handle could not be encoded or decoded: postcard keeps
    /// no message of its own.
    static HANDLE_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Descriptors handed over by handles being encoded, if an encoding collects them.
    static OUTGOING: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    /// Descriptors of handles in the values that calls run here return, when
    /// the frame of their outcomes can carry them ([`collect_returned_fds`]).
    static RETURNED: RefCell<Option<Vec<OwnedFd>>> = const { RefCell::new(None) };
    /// Whether a value a call returned is being encoded ([`encode_returned`]).
    static RETURNING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The smallest buffer sent beside the frame being encoded, if the
    /// encoding asked for more than a buffer's own threshold; and the bytes
    /// of the buffers sent beside it so far.
    static BESIDE: RefCell<(usize, u64)> = const { RefCell::new((0, 0)) };
    /// Descriptors received with the frame being decoded, taken by index.
    static INCOMING: RefCell<Option<Vec<Option<Incoming>>>> = const { RefCell::new(None) };
}

/// Buffers sent beside one frame at most; more go inline, so that a frame
/// of many buffers does not bring its receiver near the usual limit of 1024
/// open descriptors.
const MAX_BESIDE: usize = 64;

/// A thread-local set to a value for a while: the value it held before is
/// put back when this is dropped, even by a panic unwinding through an
/// encoding (which `catch_unwind` in a worker survives).
struct Scoped<T: 'static> {
    key: &'static std::thread::LocalKey<RefCell<T>>,
    outer: Option<T>,
}

impl<T> Scoped<T> {
    fn set(key: &'static std::thread::LocalKey<RefCell<T>>, value: T) -> Scoped<T> {
        let outer = key.with(|k| k.replace(value));
        Scoped {
            key,
            outer: Some(outer),
        }
    }

    /// Ends the scope: what the thread-local held, before the outer value returns.
    fn end(mut self) -> T {
        let outer = self.outer.take().expect("a scope ends once");
        self.key.with(|k| k.replace(outer))
    }
}

impl<T> Drop for Scoped<T> {
    fn drop(&mut self) {
        if let Some(outer) = self.outer.take() {
            self.key.with(|k| k.replace(outer));
        }
    }
}

/// Sets up this thread's handle state now. A child forked from this thread
/// then finds it set up: registering it there would cost an allocation and
/// a dynamic-linker lookup, each a copy-on-write page fault.
pub(crate) fn prepare_for_fork() {
    HANDLE_ERROR.with(|_| ());
    OUTGOING.with(|_| ());
    RETURNED.with(|_| ());
    BESIDE.with(|_| ());
    INCOMING.with(|_| ());
}

/// Runs `encode`, collecting (duplicates of) the descriptors that handles export.
pub(crate) fn collect_fds<R>(encode: impl FnOnce() -> R) -> (R, Vec<OwnedFd>) {
    let scope = Scoped::set(&OUTGOING, Some(Vec::new()));
    let result = encode();
    (result, scope.end().unwrap_or_default())
}

/// Runs `run`, collecting the descriptors that handles hand over while the
/// values returned by the calls it runs are encoded ([`encode_returned`]);
/// not while the calls themselves run, whose own messages (a `Queue` item,
/// say) cannot carry descriptors.
pub(crate) fn collect_returned_fds<R>(run: impl FnOnce() -> R) -> (R, Vec<OwnedFd>) {
    let scope = Scoped::set(&RETURNED, Some(Vec::new()));
    let result = run();
    (result, scope.end().unwrap_or_default())
}

/// Appends the encoding of a value a call returned to `out`: handles in it
/// hand their descriptors to [`collect_returned_fds`], if that runs. Only
/// a flag is set per value, as this runs once per item of a pool's chunk.
#[inline]
pub(crate) fn encode_returned<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    /// Clears [`RETURNING`] when dropped, even by a panic in a `Serialize`.
    struct Returning;
    impl Drop for Returning {
        fn drop(&mut self) {
            RETURNING.set(false);
        }
    }
    RETURNING.set(true);
    let _returning = Returning;
    encode_into(value, out)
}

/// Runs `f` on the descriptors the value being encoded hands over: those
/// of the frame being encoded, or those of the returned values being
/// collected; `None` if neither collects.
fn outgoing<R>(f: impl FnOnce(&mut Vec<OwnedFd>) -> R) -> Option<R> {
    let key = match OUTGOING.with(|o| o.borrow().is_some()) {
        true => &OUTGOING,
        false if RETURNING.get() => &RETURNED,
        false => return None,
    };
    key.with(|fds| fds.borrow_mut().as_mut().map(f))
}

/// [`collect_fds`], with buffers (a `Bytes`) smaller than `min` bytes kept
/// inline: for a frame whose inline bytes are cheaper to move than a memfd.
/// Also returns how many bytes the buffers sent beside it hold.
pub(crate) fn collect_fds_beside_from<R>(
    min: usize,
    encode: impl FnOnce() -> R,
) -> (R, Vec<OwnedFd>, u64) {
    let scope = Scoped::set(&BESIDE, (min, 0));
    let (result, fds) = collect_fds(encode);
    let (_, beside) = scope.end();
    (result, fds, beside)
}

/// Called by a buffer of `len` bytes that goes beside the frame.
pub(crate) fn count_beside(len: usize) {
    BESIDE.with(|b| b.borrow_mut().1 += len as u64);
}

/// The smallest buffer to send beside the frame being encoded, given the
/// buffer's own threshold; `None` if the frame cannot carry (more)
/// descriptors.
pub(crate) fn beside_from(threshold: usize) -> Option<usize> {
    let room = outgoing(|fds| fds.len() < MAX_BESIDE).unwrap_or(false);
    room.then(|| BESIDE.with(|b| b.borrow().0).max(threshold))
}

/// Called by a handle's `Serialize`: hands a duplicate of `fd` to the frame.
pub(crate) fn export_fd(fd: BorrowedFd<'_>) -> Result<u32, String> {
    match fd.try_clone_to_owned() {
        Ok(fd) => export_owned_fd(fd),
        Err(e) => Err(refused(format!("could not duplicate a descriptor: {e}"))),
    }
}

/// Hands `fd` itself to the frame being encoded: its index there.
pub(crate) fn export_owned_fd(fd: OwnedFd) -> Result<u32, String> {
    give(fd).map_err(refused)
}

/// Keeps why a handle could not be encoded or decoded, for the codec's
/// error, which has no message of its own; returns it.
pub(crate) fn refused(why: String) -> String {
    HANDLE_ERROR.with(|h| *h.borrow_mut() = Some(why.clone()));
    why
}

fn give(fd: OwnedFd) -> Result<u32, String> {
    outgoing(|fds| {
        fds.push(fd);
        u32::try_from(fds.len() - 1).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|| {
        Err(
            "a handle cannot cross here: handles cross to another process only \
             as arguments and return values of `#[process]` and `#[pool_task]` \
             functions, in `Connection` messages and in `Queue` items (not to a \
             manager or another MPI rank)"
                .into(),
        )
    })
}

/// A descriptor that came with a frame, as its decoding finds it.
#[derive(Debug)]
pub(crate) enum Incoming {
    Fd(OwnedFd),
    /// A memfd sealed against change, already mapped and closed: results
    /// that wait to be decoded would otherwise hold a descriptor each.
    Mapped(memmap2::Mmap),
}

/// Runs `decode` with `fds` on offer to the handles it decodes; the ones not
/// taken are closed afterwards.
pub(crate) fn with_fds<R>(fds: Vec<OwnedFd>, decode: impl FnOnce() -> R) -> R {
    let mut offered = fds.into_iter().map(|fd| Some(Incoming::Fd(fd))).collect();
    with_fds_in(&mut offered, decode)
}

/// Runs `decode` with `fds` on offer; the ones it does not take stay there,
/// for a later decoding of another part of the same frame.
pub(crate) fn with_fds_in<R>(
    fds: &mut Vec<Option<Incoming>>,
    decode: impl FnOnce() -> R,
) -> R {
    HANDLE_ERROR.with(|h| h.borrow_mut().take());
    let scope = Scoped::set(&INCOMING, Some(std::mem::take(fds)));
    let result = decode();
    *fds = scope.end().unwrap_or_default();
    result
}

/// Called by a handle's `Deserialize`: takes the descriptor at `index`.
pub(crate) fn import_fd(index: u32) -> Result<OwnedFd, String> {
    match import(index)? {
        Incoming::Fd(fd) => Ok(fd),
        Incoming::Mapped(_) => Err(refused(format!(
            "descriptor {index} is shared memory, not a handle"
        ))),
    }
}

/// Called by a `Bytes`'s `Deserialize`: takes what came at `index`.
pub(crate) fn import(index: u32) -> Result<Incoming, String> {
    INCOMING.with(|i| {
        i.borrow_mut()
            .as_mut()
            .and_then(|fds| fds.get_mut(index as usize)?.take())
            .ok_or_else(|| {
                refused(format!(
                    "descriptor {index} did not arrive with the message"
                ))
            })
    })
}

/// Encodes a value with postcard.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<Vec<u8>, Error> {
    HANDLE_ERROR.with(|h| h.borrow_mut().take());
    postcard::to_stdvec(value).map_err(|e| Error::Codec {
        what: format!("encode {what}"),
        reason: codec_failure(&e),
    })
}

/// Why encoding or decoding failed, in words, including a handle's own reason.
pub(crate) fn codec_failure(e: &postcard::Error) -> String {
    HANDLE_ERROR
        .with(|h| h.borrow_mut().take())
        .map_or_else(|| e.to_string(), |why| format!("{e}: {why}"))
}

/// Appends the postcard encoding of `value` to `out`.
#[inline]
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    // `serialize_with_flavor` is not marked inline, and a call per value
    // cost as much as the encoding of a small one.
    value.serialize(&mut postcard::Serializer {
        output: Append(out),
    })
}

/// postcard output appended to a `Vec`. Short runs are copied by an inlined
/// loop after one capacity check: a `memcpy` call per varint would cost more
/// than the copy itself.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if data.len() <= 16 {
            self.0.extend(data.iter().copied());
        } else {
            self.0.extend_from_slice(data);
        }
        Ok(())
    }

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// `postcard::take_from_bytes`, which postcard does not mark inline: a call
/// per small value cost as much as decoding it.
#[inline]
pub(crate) fn take_from_bytes<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
) -> postcard::Result<(T, &'a [u8])> {
    let mut deserializer = postcard::Deserializer::from_bytes(bytes);
    let value = T::deserialize(&mut deserializer)?;
    Ok((value, deserializer.finalize()?))
}

/// Decodes a value with postcard; bytes left over after it are an error,
/// since they mean the frame is not what the sender encoded.
#[inline]
pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    what: &str,
) -> Result<T, Error> {
    HANDLE_ERROR.with(|h| h.borrow_mut().take());
    match take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(trailing(what, rest.len())),
        Err(e) => Err(undecodable(what, &e)),
    }
}

#[cold]
fn trailing(what: &str, left: usize) -> Error {
    Error::Codec {
        what: format!("decode {what}"),
        reason: format!("{left} bytes were left over after the value"),
    }
}

#[cold]
fn undecodable(what: &str, e: &postcard::Error) -> Error {
    Error::Codec {
        what: format!("decode {what}"),
        reason: codec_failure(e),
    }
}

/// Reads what the peer has to say while a write waits for room.
pub(crate) type Drain<'a> = &'a mut dyn FnMut(&mut Conn) -> Result<(), Error>;

/// The most bytes read from the socket ahead of need, so that many small
/// frames cost one read. A connection starts reading a page at a time and
/// doubles up to this when reads fill its buffer: zeroing the whole of it up
/// front cost every short-lived connection sixteen page faults.
const READ_AHEAD: usize = 64 * 1024;
const FIRST_READ: usize = 4 * 1024;

/// One end of a framed, bidirectional connection to another process.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: UnixStream,
    /// Received bytes not yet returned: `buffer[start..end]`; the rest of
    /// `buffer` is room for the next read.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// Received descriptors not yet claimed by a frame.
    fds: VecDeque<OwnedFd>,
}

impl Conn {
    pub(crate) fn new(stream: UnixStream) -> Conn {
        Conn::with_buffered(stream, Vec::new())
    }

    /// A connection whose first bytes are `buffered`, read earlier by another handle.
    pub(crate) fn with_buffered(stream: UnixStream, buffered: Vec<u8>) -> Conn {
        Conn {
            stream,
            end: buffered.len(),
            buffer: buffered,
            start: 0,
            fds: VecDeque::new(),
        }
    }

    /// The bytes received but not yet returned.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Whether a whole frame has been read already, so that receiving it
    /// will not touch the socket.
    pub(crate) fn has_frame(&self) -> bool {
        self.buffered()
            .split_first_chunk::<8>()
            .is_some_and(|(header, rest)| {
                frame_len(u64::from_le_bytes(*header)) <= rest.len() as u64
            })
    }

    pub(crate) fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// Sends one (handle-free) message as one frame, with `fds` beside it.
    pub(crate) fn send_with_fds<T: Serialize>(
        &mut self,
        msg: &T,
        fds: &[OwnedFd],
    ) -> Result<(), Error> {
        let mut frame = Vec::new();
        push_message(&mut frame, msg)?;
        set_fd_count(&mut frame, fds.len())?;
        self.send_framed_with(&frame, fds)
    }

    /// Sends one message as one frame, with the descriptors its handles export.
    pub(crate) fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), Error> {
        self.send_within(msg, None)
    }

    /// [`send`](Conn::send), giving up once `timeout` has passed with the
    /// peer not reading: `Error::Timeout`. If part of the frame went out,
    /// the rest of the stream would be garbled, so this end stops sending.
    pub(crate) fn send_within<T: Serialize>(
        &mut self,
        msg: &T,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        let mut frame = Vec::new();
        let (pushed, fds) = collect_fds(|| push_message(&mut frame, msg));
        pushed?;
        set_fd_count(&mut frame, fds.len())?;
        self.send_framed_until(&frame, &fds, None, timeout)
    }

    /// Sends frames built with [`push_frame`] and the descriptors they announce.
    pub(crate) fn send_framed_with(&mut self, frames: &[u8], fds: &[OwnedFd]) -> Result<(), Error> {
        self.send_framed_draining(frames, fds, None)
    }

    /// Sends `body` as one frame, as is.
    pub(crate) fn send_frame(&mut self, body: &[u8]) -> Result<(), Error> {
        let len = (body.len() as u64).to_le_bytes();
        if body.len() <= READ_AHEAD {
            // One write for a small frame: one wake-up for the reader.
            self.send_framed(&[&len[..], body].concat())
        } else {
            self.send_framed(&len)?;
            self.send_framed(body)
        }
    }

    /// Sends bytes already framed by [`push_frame`], announcing no descriptors.
    pub(crate) fn send_framed(&mut self, frames: &[u8]) -> Result<(), Error> {
        self.send_framed_with(frames, &[])
    }

    /// Writes `frames` (built with [`push_frame`]) and the descriptors they
    /// announce. With `drain`, whenever the socket is full and the peer has
    /// data for us, lets `drain` read it first, so that two processes writing
    /// to each other never wait on each other.
    pub(crate) fn send_framed_draining(
        &mut self,
        frames: &[u8],
        fds: &[OwnedFd],
        drain: Option<Drain<'_>>,
    ) -> Result<(), Error> {
        self.send_framed_until(frames, fds, drain, None)
    }

    /// [`send_framed_draining`](Conn::send_framed_draining) that gives up
    /// after `timeout` (see [`send_within`](Conn::send_within)).
    fn send_framed_until(
        &mut self,
        frames: &[u8],
        fds: &[OwnedFd],
        mut drain: Option<Drain<'_>>,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        let deadline = timeout.and_then(deadline);
        let mut rest = frames;
        let mut fds_left = fds;
        while !rest.is_empty() {
            let (now, later) = fds_left.split_at(fds_left.len().min(FDS_PER_SEND));
            // Each batch of descriptors rides on at least one byte.
            let bytes = if later.is_empty() { rest } else { &rest[..1] };
            let borrowed: Vec<BorrowedFd<'_>> = now.iter().map(AsFd::as_fd).collect();
            let mut space =
                vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(borrowed.len()))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            if !borrowed.is_empty() {
                control.push(SendAncillaryMessage::ScmRights(&borrowed));
            }
            let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
            match sendmsg(&self.stream, &[IoSlice::new(bytes)], &mut control, flags) {
                Ok(n) => {
                    rest = &rest[n..];
                    fds_left = later;
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => match drain.as_mut() {
                    Some(drain) if self.wait_readable(Some(Duration::ZERO))? => drain(self)?,
                    Some(_) => {
                        wait_for(self.stream.as_fd(), PollFlags::IN | PollFlags::OUT, None)?;
                    }
                    None => {
                        let left = deadline
                            .map(|d| d.saturating_duration_since(std::time::Instant::now()));
                        if !wait_for(self.stream.as_fd(), PollFlags::OUT, left)? {
                            if rest.len() < frames.len() {
                                let _ = self.stream.shutdown(std::net::Shutdown::Write);
                            }
                            return Err(Error::Timeout(timeout.unwrap_or_default()));
                        }
                    }
                },
                Err(e) => return Err(send_error(e)),
            }
        }
        Ok(())
    }

    /// Receives one message. A peer that closed between frames gives [`Error::Disconnected`].
    pub(crate) fn recv<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        self.recv_with_fds()
    }

    /// Reads until at least `n` unreturned bytes are buffered; `false` at end of stream.
    fn fill(&mut self, n: usize) -> Result<bool, Error> {
        while self.end - self.start < n {
            // Fewer than `n` bytes to move: cheap next to the read.
            self.buffer.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            if self.buffer.len() < n.max(FIRST_READ) {
                self.buffer.resize(n.max(FIRST_READ), 0);
            }
            match self.receive(self.end) {
                Ok(0) => return Ok(false),
                Ok(read) => self.end += read,
                Err(e) if is_disconnect(&e) => return Ok(false),
                Err(e) => return Err(Error::io("receiving a frame")(e)),
            }
            if self.end == self.buffer.len() && self.buffer.len() < READ_AHEAD {
                let longer = (self.buffer.len() * 2).min(READ_AHEAD);
                self.buffer.resize(longer, 0);
            }
        }
        Ok(true)
    }

    /// One `recvmsg` into `buffer[at..]`, keeping any descriptors that come along.
    fn receive(&mut self, at: usize) -> io::Result<usize> {
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FDS_PER_SEND))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let received = loop {
            let mut iov = [IoSliceMut::new(&mut self.buffer[at..])];
            match recvmsg(
                &self.stream,
                &mut iov,
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            ) {
                Err(rustix::io::Errno::INTR) => {}
                other => break other?,
            }
        };
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = message {
                self.fds.extend(fds);
            }
        }
        if received.flags.contains(ReturnFlags::CTRUNC) {
            return Err(io::Error::other(
                "descriptors were lost in transit (truncated)",
            ));
        }
        Ok(received.bytes)
    }

    /// Receives one frame's bytes, dropping any descriptors that came with it.
    /// A peer that closed between frames gives [`Error::Disconnected`].
    pub(crate) fn recv_frame(&mut self) -> Result<Vec<u8>, Error> {
        self.recv_frame_with_fds().map(|(body, _)| body)
    }

    /// Receives one frame's bytes and the descriptors it announces.
    pub(crate) fn recv_frame_with_fds(&mut self) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
        if !self.fill(8)? {
            return Err(Error::Disconnected);
        }
        let header = u64::from_le_bytes(
            self.buffer[self.start..self.start + 8]
                .try_into()
                .unwrap_or_default(),
        );
        let (len, nfds) = (frame_len(header), (header >> FD_SHIFT) as usize);
        if len > MAX_FRAME {
            return Err(Error::Codec {
                what: "read a frame".into(),
                reason: format!("length prefix {len} exceeds the limit of {MAX_FRAME} bytes"),
            });
        }
        self.start += 8;
        let len = len as usize;
        let buffered = (self.end - self.start).min(len);
        let mut body = Vec::new();
        body.try_reserve_exact(len)
            .map_err(|e| Error::io("allocating a frame")(io::Error::other(e)))?;
        body.extend_from_slice(&self.buffer[self.start..self.start + buffered]);
        self.start += buffered;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if body.len() < len {
            // A large frame: read the rest straight into place.
            (&self.stream)
                .take((len - body.len()) as u64)
                .read_to_end(&mut body)
                .map_err(Error::io("receiving a frame"))?;
            if body.len() < len {
                return Err(Error::Disconnected);
            }
        }
        if self.fds.len() < nfds {
            return Err(Error::Codec {
                what: "read a frame".into(),
                reason: format!("{nfds} descriptors announced, {} arrived", self.fds.len()),
            });
        }
        Ok((body, self.fds.drain(..nfds).collect()))
    }

    /// Receives one message, decoding the handles in it with the frame's descriptors.
    pub(crate) fn recv_with_fds<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let (body, fds) = self.recv_frame_with_fds()?;
        with_fds(fds, || decode(&body, "a message"))
    }

    /// Waits until a frame (or the peer's hang-up) can be read; `false` on timeout.
    pub(crate) fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        if self.start < self.end {
            return Ok(true);
        }
        wait_for(self.stream.as_fd(), PollFlags::IN, timeout)
    }

    /// Blocks until the peer has closed its end entirely (or polling fails),
    /// without reading anything; a peer that only stopped writing does not count.
    pub(crate) fn wait_hangup(&self) {
        let _ = wait_for(self.stream.as_fd(), PollFlags::empty(), None);
    }

    /// Tells the peer there is nothing more to read, even while duplicates of this end stay open.
    pub(crate) fn close_write(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    pub(crate) fn try_clone(&self) -> Result<Conn, Error> {
        let stream = self
            .stream
            .try_clone()
            .map_err(Error::io("duplicating a socket"))?;
        Ok(Conn::new(stream))
    }
}

/// Appends `msg`, encoded, to `out` as one frame.
pub(crate) fn push_message<T: Serialize + ?Sized>(out: &mut Vec<u8>, msg: &T) -> Result<(), Error> {
    push_frame(out, |out| {
        encode_into(msg, out).map_err(|e| Error::Codec {
            what: "encode a message".into(),
            reason: codec_failure(&e),
        })
    })
}

/// The length part of a frame header.
fn frame_len(header: u64) -> u64 {
    header & ((1 << FD_SHIFT) - 1)
}

/// Sets the descriptor count in the header of the single frame in `frame`.
pub(crate) fn set_fd_count(frame: &mut [u8], fds: usize) -> Result<(), Error> {
    let count = u64::try_from(fds)
        .ok()
        .filter(|&n| n < 1 << (64 - FD_SHIFT))
        .ok_or_else(|| Error::Codec {
            what: "encode a message".into(),
            reason: format!("{fds} descriptors in one message is too many"),
        })?;
    let header = frame.get_mut(..8).ok_or_else(|| Error::Codec {
        what: "encode a message".into(),
        reason: "the frame is shorter than its header".into(),
    })?;
    let len = frame_len(u64::from_le_bytes(header.try_into().unwrap_or_default()));
    header.copy_from_slice(&(len | count << FD_SHIFT).to_le_bytes());
    Ok(())
}

/// Appends one frame to `out`: the u64 length, then what `write` appends.
pub(crate) fn push_frame(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mark = out.len();
    out.resize(mark + 8, 0);
    if let Err(e) = write(out) {
        out.truncate(mark);
        return Err(e);
    }
    let len = (out.len() - mark - 8) as u64;
    out[mark..mark + 8].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// How long a thread about to sleep for an event spins first. On this kind
/// of machine waking a sleeping thread costs tens of microseconds, more than
/// a whole round trip to another process, so a short spin pays for itself.
pub(crate) const SPIN: Duration = Duration::from_micros(100);

/// One place that spins before it sleeps, and that stops spinning while
/// spins there stop paying off.
///
/// On an idle machine the peer answers within the spin, which saves the
/// tens of microseconds a wake-up costs. When every core is busy, the peer
/// often cannot run until the spinner gives up its core, so a spin costs
/// the peer its time slice and gains nothing. So spins that keep ending
/// empty make the waits here skip spinning, twice as many after each (up to
/// [`MAX_SKIP`]); one empty spin alone costs nothing (a busy moment on an
/// idle machine), and one that succeeds starts over. Threads share the
/// record; racing updates only blur it.
pub(crate) struct Spinner {
    /// Waits still to skip spinning.
    skip: AtomicU32,
    /// How many waits the next empty spin makes skip: 0 after a success.
    backoff: AtomicU32,
}

/// The most waits one place skips spinning after spins that ended empty.
const MAX_SKIP: u32 = 256;

impl Spinner {
    pub(crate) const fn new() -> Spinner {
        Spinner {
            skip: AtomicU32::new(0),
            backoff: AtomicU32::new(0),
        }
    }

    /// Spins until `ready()` or `budget` has passed, unless spinning here
    /// has stopped paying off or the machine has no core to spare; returns
    /// `ready()`.
    pub(crate) fn spin_until(&self, budget: Duration, ready: impl Fn() -> bool) -> bool {
        if ready() {
            return true;
        }
        if crowded() {
            return false;
        }
        if self.skip.load(Ordering::Relaxed) > 0 {
            self.skip.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let start = std::time::Instant::now();
        while !ready() {
            if start.elapsed() > budget {
                let backoff = self.backoff.load(Ordering::Relaxed);
                self.skip.store(backoff, Ordering::Relaxed);
                self.backoff
                    .store((backoff * 2).clamp(1, MAX_SKIP), Ordering::Relaxed);
                return false;
            }
            std::hint::spin_loop();
        }
        self.backoff.store(0, Ordering::Relaxed);
        true
    }
}

/// Whether the run queue is long: more threads ready to run than twice the
/// cores, plus one. A spin then mostly takes the time slice its peer needs.
/// (A tighter bound, the cores plus two, counted this program's own threads
/// as crowding and made a pool's `apply` slower with 2 busy processes on 2
/// cores.) Read from the runnable count in `/proc/loadavg`, at most every 10 ms.
fn crowded() -> bool {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    static CORES: OnceLock<usize> = OnceLock::new();
    static READ_AT: AtomicU64 = AtomicU64::new(u64::MAX);
    static CROWDED: AtomicBool = AtomicBool::new(false);
    const EVERY: u64 = 10_000_000;
    let now = START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64;
    let read_at = READ_AT.load(Ordering::Relaxed);
    if read_at == u64::MAX || now.saturating_sub(read_at) >= EVERY {
        READ_AT.store(now, Ordering::Relaxed);
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
        // "0.52 0.58 0.59 3/467 12345": the fourth field is runnable/total.
        let runnable = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| {
                text.split_whitespace()
                    .nth(3)?
                    .split('/')
                    .next()?
                    .parse::<usize>()
                    .ok()
            });
        CROWDED.store(
            runnable.is_some_and(|r| r > 2 * cores + 1),
            Ordering::Relaxed,
        );
    }
    CROWDED.load(Ordering::Relaxed)
}

/// A pair of connected datagram sockets that hold descriptors in flight for
/// a shared structure (a queue's items): any process holding both ends
/// can post descriptors on one end and take them from the other. Datagrams
/// carry a tag, so that a taker can match them with the records that
/// announce them, and skip ones whose record was lost.
pub(crate) struct Mailbox {
    post: OwnedFd,
    take: OwnedFd,
}

impl Mailbox {
    pub(crate) fn new() -> io::Result<Mailbox> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};
        let (post, take) = socketpair(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            None,
        )?;
        Ok(Mailbox { post, take })
    }

    /// Hands duplicates of both ends to the frame being encoded: their indices.
    pub(crate) fn export(&self) -> Result<(u32, u32), String> {
        Ok((export_fd(self.post.as_fd())?, export_fd(self.take.as_fd())?))
    }

    /// The ends at `indices` among the descriptors of the frame being decoded.
    pub(crate) fn import(indices: (u32, u32)) -> Result<Mailbox, String> {
        Ok(Mailbox {
            post: import_fd(indices.0)?,
            take: import_fd(indices.1)?,
        })
    }

    /// Posts `fds` under `tag`, without waiting: an error if the sockets
    /// hold as much as the system allows.
    pub(crate) fn post(&self, tag: u64, fds: &[OwnedFd]) -> io::Result<()> {
        let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(borrowed.len()))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
            return Err(io::Error::other("too many descriptors in one item"));
        }
        let tag = tag.to_le_bytes();
        let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
        loop {
            match sendmsg(&self.post, &[IoSlice::new(&tag)], &mut control, flags) {
                Err(rustix::io::Errno::INTR) => {}
                sent => return sent.map(drop).map_err(io::Error::from),
            }
        }
    }

    /// Takes the descriptors posted under `tag`, dropping those posted
    /// under earlier tags (whose records were lost); `None` if they are not
    /// there. Tags must be posted and taken in increasing order.
    pub(crate) fn take(&self, tag: u64) -> io::Result<Option<Vec<OwnedFd>>> {
        loop {
            let mut found = [0u8; 8];
            // A peek without room for descriptors installs none.
            let peeked = loop {
                match rustix::net::recv(
                    &self.take,
                    &mut found,
                    RecvFlags::PEEK | RecvFlags::DONTWAIT,
                ) {
                    Err(rustix::io::Errno::INTR) => {}
                    other => break other,
                }
            };
            match peeked {
                Err(rustix::io::Errno::AGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            let found = u64::from_le_bytes(found);
            if found > tag {
                return Ok(None);
            }
            let mut space =
                vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FDS_PER_SEND))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let mut datagram = [0u8; 8];
            let flags = RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT;
            let received = loop {
                let mut iov = [IoSliceMut::new(&mut datagram)];
                match recvmsg(&self.take, &mut iov, &mut control, flags) {
                    Err(rustix::io::Errno::INTR) => {}
                    other => break other?,
                };
            };
            let mut fds = Vec::new();
            for message in control.drain() {
                if let RecvAncillaryMessage::ScmRights(received) = message {
                    fds.extend(received);
                }
            }
            if found == tag {
                if received.flags.contains(ReturnFlags::CTRUNC) {
                    return Err(io::Error::other(
                        "descriptors were lost in transit (truncated)",
                    ));
                }
                return Ok(Some(fds));
            }
        }
    }
}

/// The moment `timeout` from now; `None` (no deadline) if that is too far
/// to represent, so that a huge timeout waits for ever instead of panicking.
pub(crate) fn deadline(timeout: Duration) -> Option<std::time::Instant> {
    std::time::Instant::now().checked_add(timeout)
}

/// A poll timeout.
pub(crate) fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: d.subsec_nanos().into(),
    }
}

/// Polls one fd; `Ok(false)` means the timeout passed first.
pub(crate) fn wait_for(
    fd: impl AsFd,
    events: PollFlags,
    timeout: Option<Duration>,
) -> Result<bool, Error> {
    let timeout = timeout.map(timespec);
    let mut fds = [PollFd::new(&fd, events)];
    loop {
        match poll(&mut fds, timeout.as_ref()) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::io("polling a socket")(e.into())),
        }
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

fn send_error(e: rustix::io::Errno) -> Error {
    let e = io::Error::from(e);
    if is_disconnect(&e) {
        Error::Disconnected
    } else {
        Error::io("sending a frame")(e)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Panics while being encoded, as a user's `Serialize` may.
    struct Exploding;

    impl Serialize for Exploding {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("exploding on purpose")
        }
    }

    fn null_fd() -> crate::Fd {
        crate::Fd::from(std::fs::File::open("/dev/null").unwrap())
    }

    #[test]
    fn a_value_that_panics_while_encoded_leaves_the_next_ones_their_descriptors() {
        let ((), fds) = collect_returned_fds(|| {
            let mut out = Vec::new();
            encode_returned(&null_fd(), &mut out).unwrap();
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                encode_returned(&(null_fd(), Exploding), &mut Vec::new())
            }));
            assert!(panicked.is_err());
            encode_returned(&null_fd(), &mut out).unwrap();
            assert!(!OUTGOING.with(|o| o.borrow().is_some()), "left collecting");
            assert!(!RETURNING.get(), "left encoding a returned value");
        });
        // The first value's, the panicking one's (unused), the third's.
        assert_eq!(fds.len(), 3);
        let panicked =
            std::panic::catch_unwind(|| collect_fds(|| -> () { panic!("in a collection") }));
        assert!(panicked.is_err());
        assert!(beside_from(0).is_none(), "a collection outlived its panic");
    }

    #[test]
    fn no_more_than_a_few_dozen_buffers_go_beside_one_frame() {
        let buffers: Vec<crate::Bytes> = (0..MAX_BESIDE + 5)
            .map(|_| crate::Bytes::from(vec![1u8; 1 << 20]))
            .collect();
        let (encoded, fds) = collect_fds(|| encode(&buffers, "buffers"));
        assert_eq!(fds.len(), MAX_BESIDE);
        let decoded: Vec<crate::Bytes> =
            with_fds(fds, || decode(&encoded.unwrap(), "buffers")).unwrap();
        assert_eq!(decoded, buffers);
    }

    fn pair() -> (Conn, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        (Conn::new(a), b)
    }

    #[test]
    fn messages_keep_their_boundaries_including_empty_ones() {
        let (mut a, b) = pair();
        let mut b = Conn::new(b);
        for msg in [vec![], vec![1u8, 2, 3], vec![]] {
            b.send(&msg).unwrap();
            assert_eq!(a.recv::<Vec<u8>>().unwrap(), msg);
        }
    }

    #[test]
    fn a_burst_of_frames_of_every_size_arrives_whole_and_in_order() {
        let (mut a, b) = pair();
        // Sizes that straddle the read buffer's edges as it grows, sent
        // before any is read so that reads return many frames at once.
        let sizes: Vec<usize> = (0..400)
            .map(|i| (i * 37) % 5000)
            .chain([70_000, 3, 0])
            .collect();
        let sent = sizes.clone();
        let writer = std::thread::spawn(move || {
            let mut b = Conn::new(b);
            for (i, n) in sent.into_iter().enumerate() {
                b.send(&vec![i as u8; n]).unwrap();
            }
        });
        for (i, n) in sizes.into_iter().enumerate() {
            assert_eq!(a.recv::<Vec<u8>>().unwrap(), vec![i as u8; n], "frame {i}");
        }
        writer.join().unwrap();
        assert!(matches!(a.recv::<u8>(), Err(Error::Disconnected)));
    }

    #[test]
    fn oversized_length_prefix_is_an_error_not_an_allocation() {
        let (mut a, mut b) = pair();
        b.write_all(&u64::MAX.to_le_bytes()).unwrap();
        let err = a.recv::<u8>().unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
    }

    #[test]
    fn bytes_left_over_after_a_value_are_a_codec_error() {
        let mut bytes = encode(&42u32, "a test value").unwrap();
        assert_eq!(decode::<u32>(&bytes, "a test value").unwrap(), 42);
        bytes.extend_from_slice(&[0; 100]);
        assert!(matches!(
            decode::<u32>(&bytes, "a test value"),
            Err(Error::Codec { .. })
        ));
    }

    #[test]
    fn undecodable_frame_is_a_codec_error() {
        let (mut a, mut b) = pair();
        b.write_all(&2u64.to_le_bytes()).unwrap();
        b.write_all(&[0xff, 0xff]).unwrap();
        let err = a.recv::<String>().unwrap_err();
        assert!(matches!(err, Error::Codec { .. }), "{err:?}");
    }

    #[test]
    fn peer_that_closes_mid_frame_or_between_frames_disconnects() {
        let (mut a, mut b) = pair();
        b.write_all(&10u64.to_le_bytes()).unwrap();
        b.write_all(&[1, 2]).unwrap();
        drop(b);
        assert!(matches!(a.recv::<Vec<u8>>(), Err(Error::Disconnected)));
        let (mut a, b) = pair();
        drop(b);
        assert!(matches!(a.recv::<u8>(), Err(Error::Disconnected)));
        assert!(matches!(a.send(&1u8), Err(Error::Disconnected)));
    }

    #[test]
    fn wait_readable_times_out_without_data() {
        let (a, _b) = pair();
        assert!(!a.wait_readable(Some(Duration::from_millis(10))).unwrap());
    }
}
