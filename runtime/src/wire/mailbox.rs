//! [`Mailbox`]: descriptors held in flight for a shared structure.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, recvmsg, sendmsg,
};

use super::conn::FDS_PER_SEND;
use super::*;

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
        let (post, take) = super::socket::datagram_pair()?;
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
        loop {
            match sendmsg(&self.post, &[IoSlice::new(&tag)], &mut control, socket::SEND) {
                Err(rustix::io::Errno::INTR) => {}
                // macOS never makes a datagram sender wait: a full receiver
                // refuses the datagram instead.
                Err(rustix::io::Errno::NOBUFS) if cfg!(target_os = "macos") => {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
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
            let flags = socket::RECEIVE | RecvFlags::DONTWAIT;
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
            socket::received(&fds)?;
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
