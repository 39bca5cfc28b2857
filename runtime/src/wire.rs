//! Framing and codec for every byte that crosses between processes.
//!
//! A frame is a little-endian `u64` length followed by that many bytes of
//! postcard. This module is the one seam between the runtime and the transport:
//! nothing else touches sockets or the codec.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::net::{SendFlags, send};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The largest frame accepted; a longer length prefix is garbage, not a message.
const MAX_FRAME: u64 = 1 << 36;

/// Encodes a value with postcard.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<Vec<u8>, Error> {
    postcard::to_stdvec(value).map_err(|e| Error::Codec {
        what: format!("encode {what}"),
        reason: e.to_string(),
    })
}

/// Appends the postcard encoding of `value` to `out`.
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    postcard::serialize_with_flavor(value, Append(out))
}

/// postcard output appended to a `Vec`. Short runs are pushed byte by byte:
/// a `memcpy` call per varint would cost more than the copy itself.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if data.len() <= 16 {
            data.iter().for_each(|&b| self.0.push(b));
        } else {
            self.0.extend_from_slice(data);
        }
        Ok(())
    }

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Decodes a value with postcard.
pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(
    bytes: &'a [u8],
    what: &str,
) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::Codec {
        what: format!("decode {what}"),
        reason: e.to_string(),
    })
}

/// Bytes read from the socket ahead of need, so that small frames cost one read.
const READ_AHEAD: usize = 64 * 1024;

/// One end of a framed, bidirectional connection to another process.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: UnixStream,
    /// Received bytes not yet returned: `buffer[start..]`.
    buffer: Vec<u8>,
    start: usize,
}

impl Conn {
    pub(crate) fn new(stream: UnixStream) -> Conn {
        Conn {
            stream,
            buffer: Vec::new(),
            start: 0,
        }
    }

    /// Sends one message as one frame.
    pub(crate) fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), Error> {
        let mut frame = Vec::new();
        push_message(&mut frame, msg)?;
        write_all(&self.stream, &frame)
    }

    /// Sends `body` as one frame, as is.
    pub(crate) fn send_frame(&mut self, body: &[u8]) -> Result<(), Error> {
        let len = (body.len() as u64).to_le_bytes();
        write_all(&self.stream, &len).and_then(|()| write_all(&self.stream, body))
    }

    /// Sends bytes already framed by [`push_frame`].
    pub(crate) fn send_framed(&mut self, frames: &[u8]) -> Result<(), Error> {
        write_all(&self.stream, frames)
    }

    /// Writes `frames` (built with [`push_frame`]); whenever the socket is
    /// full and the peer has data for us, lets `drain` read it first, so that
    /// two processes writing to each other never wait on each other.
    pub(crate) fn send_framed_draining(
        &mut self,
        frames: &[u8],
        mut drain: impl FnMut(&mut Conn) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut rest = frames;
        while !rest.is_empty() {
            match send(
                &self.stream,
                rest,
                SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
            ) {
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => {
                    if self.wait_readable(Some(Duration::ZERO))? {
                        drain(self)?;
                    } else {
                        wait_for(self.stream.as_fd(), PollFlags::IN | PollFlags::OUT, None)?;
                    }
                }
                Err(e) => return Err(send_error(e)),
            }
        }
        Ok(())
    }

    /// Whether a whole frame is already buffered, so `recv_frame` will not block.
    pub(crate) fn has_buffered_frame(&self) -> bool {
        let buffered = &self.buffer[self.start..];
        buffered.len() >= 8
            && buffered.len() - 8
                >= usize::try_from(u64::from_le_bytes(
                    buffered[..8].try_into().unwrap_or_default(),
                ))
                .unwrap_or(usize::MAX)
    }

    /// Receives one message. A peer that closed between frames gives [`Error::Disconnected`].
    pub(crate) fn recv<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let body = self.recv_frame()?;
        decode(&body, "a message")
    }

    /// Reads until at least `n` unreturned bytes are buffered; `false` at end of stream.
    fn fill(&mut self, n: usize) -> Result<bool, Error> {
        if self.start > 0 && self.buffer.len() - self.start < n {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        while self.buffer.len() - self.start < n {
            let old = self.buffer.len();
            self.buffer.resize(old + READ_AHEAD.max(n), 0);
            let read = loop {
                match (&self.stream).read(&mut self.buffer[old..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other,
                }
            };
            self.buffer.truncate(old + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) if is_disconnect(&e) => return Ok(false),
                Err(e) => return Err(Error::io("receiving a frame")(e)),
            }
        }
        Ok(true)
    }

    /// Receives one frame's bytes. A peer that closed between frames gives [`Error::Disconnected`].
    pub(crate) fn recv_frame(&mut self) -> Result<Vec<u8>, Error> {
        if !self.fill(8)? {
            return Err(Error::Disconnected);
        }
        let len = u64::from_le_bytes(
            self.buffer[self.start..self.start + 8]
                .try_into()
                .unwrap_or_default(),
        );
        if len > MAX_FRAME {
            return Err(Error::Codec {
                what: "read a frame".into(),
                reason: format!("length prefix {len} exceeds the limit of {MAX_FRAME} bytes"),
            });
        }
        self.start += 8;
        let len = len as usize;
        let buffered = (self.buffer.len() - self.start).min(len);
        let mut body = Vec::new();
        body.try_reserve_exact(len)
            .map_err(|e| Error::io("allocating a frame")(io::Error::other(e)))?;
        body.extend_from_slice(&self.buffer[self.start..self.start + buffered]);
        self.start += buffered;
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
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
        Ok(body)
    }

    /// Waits until a frame (or the peer's hang-up) can be read; `false` on timeout.
    pub(crate) fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        if self.start < self.buffer.len() {
            return Ok(true);
        }
        wait_for(self.stream.as_fd(), PollFlags::IN, timeout)
    }

    /// Blocks until the peer hangs up (or polling fails), without reading anything.
    pub(crate) fn wait_hangup(&self) {
        let _ = wait_for(self.stream.as_fd(), PollFlags::RDHUP, None);
    }

    /// Tells the peer that this end is done, even while duplicates of it stay open.
    pub(crate) fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
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
            reason: e.to_string(),
        })
    })
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

/// Polls one fd; `Ok(false)` means the timeout passed first.
pub(crate) fn wait_for(
    fd: impl AsFd,
    events: PollFlags,
    timeout: Option<Duration>,
) -> Result<bool, Error> {
    let timeout = timeout.map(|d| Timespec {
        tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: d.subsec_nanos().into(),
    });
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

/// Writes all of `buf` without ever raising SIGPIPE, which the runtime has not
/// yet ignored when a child runs before `main`.
fn write_all(stream: &UnixStream, mut buf: &[u8]) -> Result<(), Error> {
    while !buf.is_empty() {
        match send(stream, buf, SendFlags::NOSIGNAL) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(send_error(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

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
    fn oversized_length_prefix_is_an_error_not_an_allocation() {
        let (mut a, mut b) = pair();
        b.write_all(&u64::MAX.to_le_bytes()).unwrap();
        let err = a.recv::<u8>().unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
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
