//! The manager's transport: length-prefixed postcard frames over a Unix or
//! TCP stream, opened by a mutual HMAC-SHA256 challenge, as Python's
//! `multiprocessing.connection` does, so the key never crosses the wire.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::wire;
use crate::wire::socket::{self, Peeked};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Where a manager listens.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) enum Address {
    /// A local socket (`bootstrap::SocketPath`).
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "{}", path.display()),
            Address::Tcp(addr) => f.write_str(addr),
        }
    }
}

/// One connection to or from a manager.
#[derive(Debug)]
pub(crate) enum Link {
    Unix(UnixStream),
    Tcp(TcpStream),
}

/// Opens the stream a manager connection starts with.
const MAGIC: &[u8; 16] = b"multiproc-mgr-01";
/// Largest frame accepted before the peer has proven it knows the key.
const MAX_UNAUTHENTICATED: u32 = 256;
/// Frames up to this size are read into a buffer sized at once.
const SMALL_FRAME: u32 = 64 * 1024;
/// How long either side of the handshake waits for the other.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Link {
    /// Connects to `address` and proves both sides know `key`, waiting at
    /// most `timeout` (and never more than [`HANDSHAKE_TIMEOUT`]) for each step.
    pub(crate) fn connect(
        address: &Address,
        key: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Link, Error> {
        if key.is_empty() {
            return Err(Error::Authentication {
                address: address.to_string(),
                reason: "this proxy came through a manager, which passes on no keys; \
                         connect to its manager first (`Manager::connect` with its key)"
                    .into(),
            });
        }
        let timeout = timeout.map_or(HANDSHAKE_TIMEOUT, |t| t.min(HANDSHAKE_TIMEOUT));
        let unreachable = |source| Error::ManagerUnreachable {
            address: address.to_string(),
            source,
        };
        let mut link = match address {
            Address::Unix(path) => Link::Unix(socket::connect_local(path).map_err(unreachable)?),
            Address::Tcp(addr) => Link::Tcp(socket::connect_tcp(addr, timeout).map_err(unreachable)?),
        };
        link.set_timeout(Some(timeout)).map_err(unreachable)?;
        link.answer_challenge(key).map_err(|reason| match reason {
            Refusal::Io(source) => unreachable(source),
            Refusal::Key(reason) => Error::Authentication {
                address: address.to_string(),
                reason,
            },
        })?;
        link.deliver_challenge(key).map_err(|reason| match reason {
            Refusal::Io(source) => unreachable(source),
            Refusal::Key(reason) => Error::Authentication {
                address: address.to_string(),
                reason: format!("the server {reason}"),
            },
        })?;
        link.set_timeout(None).map_err(unreachable)?;
        Ok(link)
    }

    /// The server's side of [`Link::connect`]; an error means the peer is to be dropped.
    pub(crate) fn accept(mut self, key: &[u8]) -> Result<Link, Refusal> {
        self.set_timeout(Some(HANDSHAKE_TIMEOUT))?;
        self.deliver_challenge(key)?;
        self.answer_challenge(key)?;
        self.set_timeout(None)?;
        Ok(self)
    }

    /// Sends a fresh challenge and checks the peer's answer.
    fn deliver_challenge(&mut self, key: &[u8]) -> Result<(), Refusal> {
        let mut nonce = [0u8; 32];
        crate::sys::process::random(&mut nonce)?;
        let mut challenge = MAGIC.to_vec();
        challenge.extend_from_slice(&nonce);
        self.send_raw(&challenge)?;
        let answer = self.recv_raw(MAX_UNAUTHENTICATED)?;
        let welcome = mac(key, &challenge).verify_slice(&answer).is_ok();
        self.send_raw(&[u8::from(welcome)])?;
        if welcome {
            Ok(())
        } else {
            Err(Refusal::Key(
                "gave a wrong answer to the key challenge".into(),
            ))
        }
    }

    /// Answers the peer's challenge and reads its verdict.
    fn answer_challenge(&mut self, key: &[u8]) -> Result<(), Refusal> {
        let challenge = self.recv_raw(MAX_UNAUTHENTICATED)?;
        if !challenge.starts_with(MAGIC) {
            return Err(Refusal::Key("is not a multiproc manager".into()));
        }
        self.send_raw(&mac(key, &challenge).finalize().into_bytes())?;
        match self.recv_raw(MAX_UNAUTHENTICATED)?.as_slice() {
            [1] => Ok(()),
            _ => Err(Refusal::Key(
                "refused the authentication key; the keys differ".into(),
            )),
        }
    }

    /// Sends one message.
    pub(crate) fn send<T: Serialize>(&mut self, msg: &T, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        buf.extend_from_slice(&[0; 4]);
        wire::encode_into(msg, buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, wire::codec_failure(&e)))?;
        let len = u32::try_from(buf.len() - 4)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a message over 4 GiB"))?;
        buf[..4].copy_from_slice(&len.to_le_bytes());
        self.write_all(buf)
    }

    /// Receives one message; a frame that does not decode is `InvalidData`.
    pub(crate) fn recv<T: DeserializeOwned>(&mut self, buf: &mut Vec<u8>) -> io::Result<T> {
        self.recv_into(buf, u32::MAX)?;
        postcard::from_bytes(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn send_raw(&mut self, body: &[u8]) -> io::Result<()> {
        let mut frame = (body.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(body);
        self.write_all(&frame)
    }

    fn recv_raw(&mut self, max: u32) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.recv_into(&mut buf, max)?;
        Ok(buf)
    }

    fn recv_into(&mut self, buf: &mut Vec<u8>, max: u32) -> io::Result<()> {
        // An answer usually comes within microseconds; waking from a blocking
        // read would cost more than the whole round trip. The spin reads the
        // length prefix itself, one system call fewer than a look and a read.
        static SPINNER: wire::Spinner = wire::Spinner::new();
        let (mut len, mut got) = ([0u8; 4], 0);
        SPINNER.spin_until(wire::SPIN, || {
            match socket::try_read(self.as_fd(), &mut len[got..]) {
                Ok(Some(0)) | Err(_) => true,
                Ok(Some(read)) => {
                    got += read;
                    got == len.len()
                }
                Ok(None) => false,
            }
        });
        self.read_exact(&mut len[got..])?;
        let len = u32::from_le_bytes(len);
        if len > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a frame of {len} bytes where at most {max} are allowed"),
            ));
        }
        buf.clear();
        if len <= SMALL_FRAME {
            buf.resize(len as usize, 0);
            return self.read_exact(buf);
        }
        // Grows as bytes arrive, so a lying length prefix costs no more memory than was sent.
        (&mut *self).take(u64::from(len)).read_to_end(buf)?;
        if buf.len() < len as usize {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// Bounds each read and write (`None`: no bound); one that runs out
    /// fails with `WouldBlock`.
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Link::Unix(s) => s
                .set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout)),
            Link::Tcp(s) => s
                .set_read_timeout(timeout)
                .and_then(|()| s.set_write_timeout(timeout)),
        }
    }

    /// Whether the peer has closed its end: the server asks this while a call blocks.
    pub(crate) fn peer_gone(&self) -> bool {
        self.peek() == Peeked::End
    }

    fn peek(&self) -> Peeked {
        socket::peek(self.as_fd())
    }

    pub(crate) fn shutdown(&self) {
        let _ = match self {
            Link::Unix(s) => s.shutdown(Shutdown::Both),
            Link::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }
}

fn mac(key: &[u8], challenge: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(challenge);
    mac
}

/// Why a handshake failed.
#[derive(Debug)]
pub(crate) enum Refusal {
    Io(io::Error),
    Key(String),
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Refusal {
        Refusal::Io(e)
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Link::Unix(s) => s.as_fd(),
            Link::Tcp(s) => s.as_fd(),
        }
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Link::Unix(s) => s.read(buf),
            Link::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Link::Unix(s) => s.write(buf),
            Link::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
