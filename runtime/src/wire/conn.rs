//! [`Conn`]: frames over a Unix stream socket, with descriptors beside them.

use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use rustix::event::PollFlags;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, recvmsg, sendmsg,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;
use crate::error::Error;

/// The largest frame accepted; a longer length prefix is garbage, not a message.
const MAX_FRAME: u64 = 1 << 36;
/// Where the descriptor count starts in a frame header.
const FD_SHIFT: u32 = 48;
/// Descriptors per `sendmsg`: the kernel's `SCM_MAX_FD`.
pub(super) const FDS_PER_SEND: usize = 253;


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
    /// What went wrong in a receive that [`try_fill`](Conn::try_fill) made,
    /// for the next receive to report: bytes may have gone with it.
    failed: Option<io::Error>,
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
            failed: None,
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
            match sendmsg(&self.stream, &[IoSlice::new(bytes)], &mut control, socket::SEND) {
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
            let received = match self.failed.take() {
                Some(failed) => Err(failed),
                None => self.receive(self.end),
            };
            match received {
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

    /// Whether something can be read without blocking: bytes already
    /// buffered, or read now by one non-blocking `recvmsg` (kept for the next
    /// receive), or the end of the stream or an error, which the next
    /// receive reports (an error is kept for it: its `recvmsg` may have taken
    /// bytes). One call instead of a poll and then a read.
    pub(crate) fn try_fill(&mut self) -> bool {
        if self.start < self.end {
            return true;
        }
        (self.start, self.end) = (0, 0);
        if self.buffer.len() < FIRST_READ {
            self.buffer.resize(FIRST_READ, 0);
        }
        match self.receive_with(0, socket::RECEIVE | rustix::net::RecvFlags::DONTWAIT) {
            Ok(read) => {
                self.end = read;
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) => {
                self.failed = Some(e);
                true
            }
        }
    }

    /// One `recvmsg` into `buffer[at..]`, keeping any descriptors that come along.
    fn receive(&mut self, at: usize) -> io::Result<usize> {
        self.receive_with(at, socket::RECEIVE)
    }

    fn receive_with(&mut self, at: usize, flags: rustix::net::RecvFlags) -> io::Result<usize> {
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FDS_PER_SEND))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let received = loop {
            let mut iov = [IoSliceMut::new(&mut self.buffer[at..])];
            match recvmsg(
                &self.stream,
                &mut iov,
                &mut control,
                flags,
            ) {
                Err(rustix::io::Errno::INTR) => {}
                other => break other?,
            }
        };
        let before = self.fds.len();
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = message {
                self.fds.extend(fds);
            }
        }
        socket::received(self.fds.iter().skip(before))?;
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
