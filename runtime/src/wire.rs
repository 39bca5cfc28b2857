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

/// Decodes a value with postcard.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::Codec {
        what: format!("decode {what}"),
        reason: e.to_string(),
    })
}

/// One end of a framed, bidirectional connection to another process.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: UnixStream,
}

impl Conn {
    pub(crate) fn new(stream: UnixStream) -> Conn {
        Conn { stream }
    }

    /// Sends one message as one frame.
    pub(crate) fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), Error> {
        let body = encode(msg, "a message")?;
        self.send_frame(&body)
    }

    /// Sends `body` as one frame, as is.
    pub(crate) fn send_frame(&mut self, body: &[u8]) -> Result<(), Error> {
        let len = (body.len() as u64).to_le_bytes();
        write_all(&self.stream, &len).and_then(|()| write_all(&self.stream, body))
    }

    /// Receives one message. A peer that closed between frames gives [`Error::Disconnected`].
    pub(crate) fn recv<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let body = self.recv_frame()?;
        decode(&body, "a message")
    }

    /// Receives one frame's bytes. A peer that closed between frames gives [`Error::Disconnected`].
    pub(crate) fn recv_frame(&mut self) -> Result<Vec<u8>, Error> {
        let mut len = [0u8; 8];
        match self.stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if is_disconnect(&e) => return Err(Error::Disconnected),
            Err(e) => return Err(Error::io("receiving a frame")(e)),
        }
        let len = u64::from_le_bytes(len);
        if len > MAX_FRAME {
            return Err(Error::Codec {
                what: "read a frame".into(),
                reason: format!("length prefix {len} exceeds the limit of {MAX_FRAME} bytes"),
            });
        }
        let mut body = Vec::new();
        body.try_reserve_exact(len as usize)
            .map_err(|e| Error::io("allocating a frame")(io::Error::other(e)))?;
        (&self.stream)
            .take(len)
            .read_to_end(&mut body)
            .map_err(Error::io("receiving a frame"))?;
        if body.len() as u64 != len {
            return Err(Error::Disconnected);
        }
        Ok(body)
    }

    /// Waits until a frame (or the peer's hang-up) can be read; `false` on timeout.
    pub(crate) fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool, Error> {
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
        Ok(Conn { stream })
    }
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

/// Writes all of `buf` without ever raising SIGPIPE, which the runtime has not
/// yet ignored when a child runs before `main`.
fn write_all(stream: &UnixStream, mut buf: &[u8]) -> Result<(), Error> {
    while !buf.is_empty() {
        match send(stream, buf, SendFlags::NOSIGNAL) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                let e = io::Error::from(e);
                return Err(if is_disconnect(&e) {
                    Error::Disconnected
                } else {
                    Error::io("sending a frame")(e)
                });
            }
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
