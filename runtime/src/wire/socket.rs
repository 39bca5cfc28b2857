//! Every socket the crate makes, and the options it sets on them: the
//! local stream pairs and socket files that connect a parent to its
//! children, and the TCP connections of a remote manager.

use std::io;
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// Two connected local stream sockets.
pub(crate) fn pair() -> io::Result<(UnixStream, UnixStream)> {
    UnixStream::pair()
}

/// A local socket file at `path` to accept connections on.
pub(crate) fn listen_local(path: &Path) -> io::Result<UnixListener> {
    UnixListener::bind(path)
}

/// Connects to the local socket file at `path`.
pub(crate) fn connect_local(path: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(path)
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

#[cfg(test)]
mod tests {
    use super::*;

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
