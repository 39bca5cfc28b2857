//! Every socket the crate makes, and the options it sets on them: the
//! local stream pairs and listening sockets that connect a parent to its
//! children, and the TCP connections of a remote manager.

use std::io;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{RecvFlags, SendFlags};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// How every send goes: without waiting, and without raising `SIGPIPE`
/// when the peer is gone (macOS has no such flag: its sockets are made
/// with `SO_NOSIGPIPE` instead, by [`no_sigpipe`]).
#[cfg(target_os = "linux")]
pub(crate) const SEND: SendFlags = SendFlags::NOSIGNAL.union(SendFlags::DONTWAIT);
#[cfg(target_os = "macos")]
pub(crate) const SEND: SendFlags = SendFlags::DONTWAIT;

/// How every receive that may carry descriptors goes: they arrive
/// close-on-exec, where the system can do that (Linux, but for its
/// portable backend); elsewhere [`received`] marks them just after.
#[cfg(not(portable))]
pub(crate) const RECEIVE: RecvFlags = RecvFlags::CMSG_CLOEXEC;
#[cfg(portable)]
pub(crate) const RECEIVE: RecvFlags = RecvFlags::empty();

/// Marks descriptors just received close-on-exec, where [`RECEIVE`] could
/// not. Until then, a fork and exec in another thread could leak them.
pub(crate) fn received<'a>(fds: impl IntoIterator<Item = &'a OwnedFd>) -> io::Result<()> {
    if cfg!(portable) {
        for fd in fds {
            close_on_exec(fd)?;
        }
    }
    Ok(())
}

fn close_on_exec(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)?)
}

/// Sets up a local socket this crate made or accepted: on macOS, no
/// `SIGPIPE` when its peer is gone (see [`SEND`]).
fn no_sigpipe<S: AsFd>(socket: S) -> io::Result<S> {
    #[cfg(target_os = "macos")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: sets an integer option of an open socket from a live value.
        let set = unsafe {
            libc::setsockopt(
                socket.as_fd().as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_NOSIGPIPE,
                std::ptr::from_ref(&on).cast(),
                std::mem::size_of_val(&on) as libc::socklen_t,
            )
        };
        if set != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(socket)
}

/// Two connected local stream sockets.
pub(crate) fn pair() -> io::Result<(UnixStream, UnixStream)> {
    let (a, b) = UnixStream::pair()?;
    Ok((no_sigpipe(a)?, no_sigpipe(b)?))
}

/// Two connected local datagram sockets, each datagram with its
/// descriptors.
pub(crate) fn datagram_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};
    #[cfg(not(portable))]
    let flags = SocketFlags::CLOEXEC;
    #[cfg(portable)]
    let flags = SocketFlags::empty();
    let (a, b) = socketpair(AddressFamily::UNIX, SocketType::DGRAM, flags, None)?;
    if cfg!(portable) {
        close_on_exec(&a)?;
        close_on_exec(&b)?;
    }
    // macOS holds 4 KiB of datagrams by default, some forty of them: room
    // for more, as Linux gives, where the system allows it.
    #[cfg(target_os = "macos")]
    {
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&b, 1 << 20);
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&a, 1 << 20);
    }
    Ok((no_sigpipe(a)?, no_sigpipe(b)?))
}

/// Sets up a connection accepted on a local listening socket: on Linux,
/// one from a process of this user only ([`same_user`]).
pub(crate) fn accepted_local(stream: UnixStream) -> io::Result<UnixStream> {
    #[cfg(not(portable))]
    let stream = same_user(stream)?;
    no_sigpipe(stream)
}

/// Writes `bytes` to `socket` without waiting (or raising `SIGPIPE`);
/// returns how many went. (The MPI relay's wake-ups.)
#[cfg(feature = "mpi")]
pub(crate) fn send_now(socket: impl AsFd, bytes: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(socket, bytes, SEND)?)
}

/// A local socket at `path` to accept connections on: a socket file, or on
/// Linux, for a path that starts with [`ABSTRACT`], a name in the abstract
/// namespace, which no file backs.
pub(crate) fn listen_local(path: &Path) -> io::Result<UnixListener> {
    #[cfg(not(portable))]
    if let Some(name) = abstract_name(path) {
        use std::os::linux::net::SocketAddrExt;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        return UnixListener::bind_addr(&address);
    }
    UnixListener::bind(path)
}

/// Connects to the local socket at `path` (as [`listen_local`] reads it).
pub(crate) fn connect_local(path: &Path) -> io::Result<UnixStream> {
    #[cfg(not(portable))]
    if let Some(name) = abstract_name(path) {
        use std::os::linux::net::SocketAddrExt;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        // Once its listener is gone, another user may take the name.
        return same_user(UnixStream::connect_addr(&address)?).and_then(no_sigpipe);
    }
    no_sigpipe(UnixStream::connect(path)?)
}

/// `stream`, if the process at its other end acts as the same user as this
/// one: a name in the abstract namespace can be reached, and taken once
/// free, by any user (`/proc/net/unix` lists them), where a socket file in
/// the private directory keeps others out by its mode.
#[cfg(not(portable))]
fn same_user(stream: UnixStream) -> io::Result<UnixStream> {
    if rustix::net::sockopt::socket_peercred(&stream)?.uid.as_raw() != crate::sys::process::user_id()
    {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "a process of another user is at the other end",
        ));
    }
    Ok(stream)
}

/// What starts a path that names a socket in Linux's abstract namespace, as
/// `ss` shows them (the kernel's own mark, a zero byte, cannot travel in an
/// environment variable).
#[cfg(not(portable))]
pub(crate) const ABSTRACT: &str = "@";

#[cfg(not(portable))]
fn abstract_name(path: &Path) -> Option<&[u8]> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().strip_prefix(ABSTRACT.as_bytes())
}

/// Whether `path` names a socket in the abstract namespace, not a file.
pub(crate) fn is_abstract(path: &Path) -> bool {
    #[cfg(not(portable))]
    return abstract_name(path).is_some();
    #[cfg(portable)]
    {
        let _ = path;
        false
    }
}

/// A TCP socket bound to `address` (`host:port`) to accept connections on.
pub(crate) fn listen_tcp(address: &str) -> io::Result<TcpListener> {
    TcpListener::bind(address)
}

/// Connects to `address` (`host:port`, its first address), waiting at most
/// `timeout`, and sets the connection up as [`accepted_tcp`] does.
pub(crate) fn connect_tcp(address: &str, timeout: Duration) -> io::Result<TcpStream> {
    let first = address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the host has no address"))?;
    accepted_tcp(TcpStream::connect_timeout(&first, timeout)?)
}

/// Sets up either end of a TCP connection: small messages go out at once,
/// and a peer that vanished (a host that crashed, a network that dropped)
/// is noticed within about 25 s instead of never: probed after 10 s idle,
/// then 3 times 5 s apart.
pub(crate) fn accepted_tcp(stream: TcpStream) -> io::Result<TcpStream> {
    use rustix::net::sockopt;
    stream.set_nodelay(true)?;
    sockopt::set_socket_keepalive(&stream, true)?;
    sockopt::set_tcp_keepidle(&stream, Duration::from_secs(10))?;
    sockopt::set_tcp_keepintvl(&stream, Duration::from_secs(5))?;
    sockopt::set_tcp_keepcnt(&stream, 3)?;
    Ok(stream)
}

/// What a look at a stream socket's next byte finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peeked {
    /// A byte waits to be read.
    Data,
    /// The peer has closed its end, or the connection failed.
    End,
    /// Nothing has arrived yet.
    Nothing,
}

/// Looks at `socket`'s next byte without taking it or blocking.
pub(crate) fn peek(socket: impl AsFd) -> Peeked {
    use rustix::net::RecvFlags;
    let mut byte = [0u8; 1];
    match rustix::net::recv(socket, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
        Ok((0, _)) => Peeked::End,
        Ok(_) => Peeked::Data,
        Err(rustix::io::Errno::AGAIN) => Peeked::Nothing,
        Err(_) => Peeked::End,
    }
}

/// Reads what `socket` has, up to `buf.len()` bytes, without blocking:
/// `None` if nothing has arrived, `Some(0)` at the end of the stream.
pub(crate) fn try_read(socket: impl AsFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match rustix::net::recv(&socket, &mut *buf, rustix::net::RecvFlags::DONTWAIT) {
            Ok((read, _)) => return Ok(Some(read)),
            Err(rustix::io::Errno::AGAIN) => return Ok(None),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name in the abstract namespace for test `tag`, and its address.
    #[cfg(not(portable))]
    fn test_name(tag: &str) -> (String, std::os::unix::net::SocketAddr) {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("{ABSTRACT}multiproc-test-{tag}-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(&name[1..]).unwrap();
        (name, address)
    }

    /// Runs `child` in a forked child that has become the user `nobody`;
    /// returns the child's pid. Only root can become another user.
    #[cfg(not(portable))]
    fn fork_as_nobody(child: impl FnOnce() -> bool) -> libc::pid_t {
        // SAFETY: the child makes system calls only (what it needs is built
        // before the fork), and leaves with `_exit`.
        match unsafe { libc::fork() } {
            0 => unsafe {
                let nobody = libc::setgid(65534) == 0 && libc::setuid(65534) == 0;
                libc::_exit(i32::from(!(nobody && child())))
            },
            pid => pid,
        }
    }

    /// Whether the child `pid` exited with 0, once it has.
    #[cfg(not(portable))]
    fn exited_well(pid: libc::pid_t) -> bool {
        let mut status = 0;
        // SAFETY: waits for a child this test forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        libc::WEXITSTATUS(status) == 0
    }

    #[cfg(not(portable))]
    #[test]
    fn a_peer_of_another_user_is_refused_and_one_of_this_user_accepted() {
        if crate::sys::process::user_id() != 0 {
            return;
        }
        let (name, address) = test_name("peer");
        let listener = listen_local(Path::new(&name)).unwrap();
        let child = fork_as_nobody(|| UnixStream::connect_addr(&address).is_ok());
        let (stream, _) = listener.accept().unwrap();
        assert!(exited_well(child), "the other user could not connect");
        let refused = accepted_local(stream).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied);
        let _own = connect_local(Path::new(&name)).unwrap();
        let (stream, _) = listener.accept().unwrap();
        assert!(accepted_local(stream).is_ok());
    }

    #[cfg(not(portable))]
    #[test]
    fn a_name_another_user_listens_on_is_refused() {
        if crate::sys::process::user_id() != 0 {
            return;
        }
        use std::io::{Read, Write};
        let (name, address) = test_name("taken");
        let (mut listening, mut listens) = std::io::pipe().unwrap();
        let (mut done, mut finished) = std::io::pipe().unwrap();
        let child = fork_as_nobody(|| {
            let listener = UnixListener::bind_addr(&address);
            let said = listener.is_ok() && listens.write(&[1]).is_ok();
            let _ = done.read(&mut [0]);
            said
        });
        drop(listens);
        let ready = listening.read(&mut [0]).unwrap() == 1;
        let connected = connect_local(Path::new(&name));
        let _ = finished.write(&[1]);
        let listened = exited_well(child);
        assert!(ready && listened, "the other user could not listen");
        assert_eq!(connected.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn a_tcp_connection_probes_an_idle_peer() {
        use rustix::net::sockopt;
        let listener = listen_tcp("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let stream = connect_tcp(&address, Duration::from_secs(5)).unwrap();
        assert!(sockopt::socket_keepalive(&stream).unwrap());
        assert_eq!(
            sockopt::tcp_keepidle(&stream).unwrap(),
            Duration::from_secs(10)
        );
        assert_eq!(sockopt::tcp_keepcnt(&stream).unwrap(), 3);
        assert!(stream.nodelay().unwrap());
    }

    #[test]
    fn a_peek_tells_data_from_nothing_from_the_end() {
        let (a, b) = pair().unwrap();
        assert_eq!(peek(&b), Peeked::Nothing);
        std::io::Write::write_all(&mut &a, b"x").unwrap();
        assert_eq!(peek(&b), Peeked::Data);
        assert_eq!(peek(&b), Peeked::Data, "a peek takes nothing");
        drop(a);
        let mut byte = [0u8; 1];
        std::io::Read::read_exact(&mut &b, &mut byte).unwrap();
        assert_eq!(peek(&b), Peeked::End);
    }
}
