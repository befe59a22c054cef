//! UDP sockets for RTP: receivers bound to a unicast address or joined to an IPv4 multicast
//! group on a chosen interface, with a large receive buffer and the kernel's drop counter
//! (`SO_RXQ_OVFL`, read from each datagram's control message); senders with multicast TTL,
//! interface and loopback; and the address and interface syntax of the TOML parameters.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

/// Parses `host:port` or `host` (then `default_port`) into an IPv4 socket address; `host`
/// may be a name that resolves to IPv4.
pub fn parse_endpoint(text: &str, default_port: u16) -> Result<SocketAddrV4, String> {
    let with_port = if text
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        text.to_string()
    } else {
        format!("{text}:{default_port}")
    };
    let addrs = with_port
        .to_socket_addrs()
        .map_err(|e| format!("`{text}` is not an address: {e}"))?;
    addrs
        .into_iter()
        .find_map(|a| match a {
            SocketAddr::V4(v4) => Some(v4),
            SocketAddr::V6(_) => None,
        })
        .ok_or_else(|| format!("`{text}` has no IPv4 address"))
}

/// Checks the syntax of an address parameter without resolving names (for `flow check`).
pub fn check_endpoint(text: &str) -> Result<(), String> {
    let host = match text.rsplit_once(':') {
        Some((h, p)) => {
            p.parse::<u16>()
                .map_err(|_| format!("`{p}` in `{text}` is not a port number (0-65535)"))?;
            h
        }
        None => text,
    };
    if host.is_empty() {
        return Err(format!("`{text}` has no host"));
    }
    Ok(())
}

/// The local interface for multicast: any, an IPv4 address of it, or its name (`eth0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interface {
    /// Let the kernel choose (the default route's interface).
    Any,
    /// The interface holding this address.
    Addr(Ipv4Addr),
    /// The interface of this name.
    Name(String),
}

impl Interface {
    /// `""` or `"0.0.0.0"`: any; an IPv4 address; otherwise an interface name.
    pub fn parse(text: &str) -> Interface {
        match text.trim() {
            "" | "0.0.0.0" | "any" => Interface::Any,
            t => t
                .parse::<Ipv4Addr>()
                .map_or_else(|_| Interface::Name(t.to_string()), Interface::Addr),
        }
    }

    fn resolve(&self) -> io::Result<InterfaceIndexOrAddress> {
        match self {
            Interface::Any => Ok(InterfaceIndexOrAddress::Address(Ipv4Addr::UNSPECIFIED)),
            Interface::Addr(a) => Ok(InterfaceIndexOrAddress::Address(*a)),
            Interface::Name(n) => nix::net::if_::if_nametoindex(n.as_str())
                .map(InterfaceIndexOrAddress::Index)
                .map_err(|e| io::Error::other(format!("interface `{n}`: {e}"))),
        }
    }
}

/// The first IPv4 address of the interface named `name`.
fn interface_ipv4(name: &str) -> io::Result<Ipv4Addr> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(io::Error::from)?;
    for a in addrs {
        if a.interface_name == name {
            if let Some(sin) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) {
                return Ok(sin.ip());
            }
        }
    }
    Err(io::Error::other(format!(
        "interface `{name}` has no IPv4 address"
    )))
}

/// A non-blocking UDP receiver.
pub struct Receiver {
    sock: Socket,
    cmsg: Vec<u8>,
    kernel_drops: Option<u32>,
    /// The receive buffer the kernel granted, in bytes.
    pub recv_buffer: usize,
    /// The multicast group joined and on which interface.
    group: Option<(std::net::Ipv4Addr, Interface)>,
}

impl Receiver {
    /// Binds `addr` (a local unicast address, or a multicast group to join on `iface`)
    /// with a receive buffer of about `rcvbuf` bytes.
    pub fn open(addr: SocketAddrV4, iface: &Interface, rcvbuf: usize) -> io::Result<Receiver> {
        let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_reuse_address(true)?;
        // Above net.core.rmem_max only a privileged process gets what it asks; try that first.
        let fd = sock.as_fd();
        if nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::RcvBufForce, &rcvbuf)
            .is_err()
        {
            sock.set_recv_buffer_size(rcvbuf)?;
        }
        let multicast = addr.ip().is_multicast();
        sock.bind(&SocketAddr::V4(addr).into())?;
        if multicast {
            sock.join_multicast_v4_n(addr.ip(), &iface.resolve()?)?;
        }
        // Best effort: without it the kernel's drop count is simply not reported. The
        // kernel attaches the count to a datagram only once it is non-zero.
        #[cfg(target_os = "linux")]
        let kernel_drops =
            nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::RxqOvfl, &1)
                .ok()
                .map(|()| 0);
        #[cfg(not(target_os = "linux"))]
        let kernel_drops = None;
        sock.set_nonblocking(true)?;
        let recv_buffer = sock.recv_buffer_size().unwrap_or(0);
        Ok(Receiver {
            sock,
            cmsg: nix::cmsg_space!(u32),
            kernel_drops,
            recv_buffer,
            group: multicast.then(|| (*addr.ip(), iface.clone())),
        })
    }

    /// True when the receiver joined a multicast group.
    pub fn is_multicast(&self) -> bool {
        self.group.is_some()
    }

    /// Leaves and joins the multicast group again, resolving the interface anew: after an
    /// interface was removed and created again (a new index: a USB adapter, a VPN, a
    /// container's veth) the old membership no longer receives; a rejoin also sends a fresh
    /// IGMP report for switches that forgot it. Unicast: nothing to do.
    pub fn rejoin(&self) -> io::Result<()> {
        let Some((group, iface)) = &self.group else {
            return Ok(());
        };
        let at = iface.resolve()?;
        // The old membership may be gone with its interface; only the join matters.
        let _ = self.sock.leave_multicast_v4_n(group, &at);
        match self.sock.join_multicast_v4_n(group, &at) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
            r => r,
        }
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        self.sock
            .local_addr()?
            .as_socket_ipv4()
            .ok_or_else(|| io::Error::other("not an IPv4 socket"))
    }

    /// Receives one datagram into `buf` without waiting: `Ok(None)` when none is queued.
    /// A datagram longer than `buf` is reported as `Err(InvalidData)` (and discarded).
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut iov = [io::IoSliceMut::new(buf)];
        let msg = match recvmsg::<()>(
            self.sock.as_raw_fd(),
            &mut iov,
            Some(&mut self.cmsg),
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (bytes, truncated) = (msg.bytes, msg.flags.contains(MsgFlags::MSG_TRUNC));
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::RxqOvfl(n) = c {
                    self.kernel_drops = Some(n);
                }
            }
        }
        if truncated {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "datagram larger than the receive buffer",
            ));
        }
        Ok(Some(bytes))
    }

    /// Datagrams the kernel dropped on this socket because its buffer was full, as of the
    /// last datagram received (None where the platform does not report it).
    pub fn kernel_drops(&self) -> Option<u32> {
        self.kernel_drops
    }

    /// The socket, for [`wait_readable`].
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// Waits up to `timeout` until one of `fds` is readable. Returns which are.
pub fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Duration) -> io::Result<Vec<bool>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut pfds: Vec<PollFd> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let ms =
        PollTimeout::try_from(timeout.as_millis().min(60_000) as u32).unwrap_or(PollTimeout::ZERO);
    match poll(&mut pfds, ms) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(pfds
        .iter()
        .map(|p| {
            p.revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLERR))
        })
        .collect())
}

/// A UDP sender to one destination (unicast or multicast).
pub struct Sender {
    sock: Socket,
    dest: SocketAddrV4,
    iface: Interface,
    ttl: u32,
    loopback: bool,
    reopened: Option<std::time::Instant>,
}

fn sender_socket(
    dest: SocketAddrV4,
    iface: &Interface,
    ttl: u32,
    loopback: bool,
) -> io::Result<Socket> {
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    if dest.ip().is_multicast() {
        match iface {
            Interface::Any => {}
            Interface::Addr(a) => sock.set_multicast_if_v4(a)?,
            Interface::Name(n) => sock.set_multicast_if_v4(&interface_ipv4(n)?)?,
        }
        sock.set_multicast_ttl_v4(ttl)?;
        sock.set_multicast_loop_v4(loopback)?;
    } else {
        sock.set_ttl_v4(ttl.max(1))?;
    }
    let _ = sock.set_send_buffer_size(4 << 20);
    Ok(sock)
}

impl Sender {
    /// A sender to `dest`; for multicast, out of `iface` with `ttl`, looping back to local
    /// listeners when `loopback`.
    pub fn open(
        dest: SocketAddrV4,
        iface: &Interface,
        ttl: u32,
        loopback: bool,
    ) -> io::Result<Sender> {
        Ok(Sender {
            sock: sender_socket(dest, iface, ttl, loopback)?,
            dest,
            iface: iface.clone(),
            ttl,
            loopback,
            reopened: None,
        })
    }

    /// Sends one datagram. When the outgoing interface has gone (removed and created again,
    /// so the socket's multicast interface is stale) the socket is made again, at most once
    /// a second, and the datagram sent once more.
    pub fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        let dest: socket2::SockAddr = SocketAddr::V4(self.dest).into();
        match self.sock.send_to(packet, &dest) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENODEV | libc::ENETUNREACH | libc::EADDRNOTAVAIL)
                ) =>
            {
                let due = self
                    .reopened
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                if !due {
                    return Err(e);
                }
                self.reopened = Some(std::time::Instant::now());
                self.sock = sender_socket(self.dest, &self.iface, self.ttl, self.loopback)?;
                self.sock.send_to(packet, &dest).map(|_| ())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_endpoints_and_interfaces() {
        assert_eq!(
            parse_endpoint("127.0.0.1:5004", 1).unwrap(),
            "127.0.0.1:5004".parse().unwrap()
        );
        assert_eq!(
            parse_endpoint("239.1.2.3", 5006).unwrap(),
            "239.1.2.3:5006".parse().unwrap()
        );
        assert!(parse_endpoint("no such host.invalid", 1).is_err());
        assert!(check_endpoint("239.1.2.3:99999").is_err());
        assert!(check_endpoint(":5004").is_err());
        assert!(check_endpoint("radiod.local:5004").is_ok());
        assert_eq!(Interface::parse(""), Interface::Any);
        assert_eq!(
            Interface::parse("127.0.0.1"),
            Interface::Addr(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(Interface::parse("eth0"), Interface::Name("eth0".into()));
        assert_eq!(interface_ipv4("lo").unwrap(), Ipv4Addr::LOCALHOST);
        assert!(interface_ipv4("nosuch0").is_err());
    }

    #[test]
    fn unicast_and_multicast_loopback_round_trip() {
        let mut rx =
            Receiver::open("127.0.0.1:0".parse().unwrap(), &Interface::Any, 1 << 20).unwrap();
        assert!(rx.recv_buffer >= 1 << 20, "{}", rx.recv_buffer);
        let mut tx = Sender::open(rx.local_addr().unwrap(), &Interface::Any, 1, true).unwrap();
        tx.send(b"abc").unwrap();
        let ready = wait_readable(&[rx.fd()], Duration::from_secs(5)).unwrap();
        assert_eq!(ready, [true]);
        let mut buf = [0u8; 16];
        assert_eq!(rx.recv(&mut buf).unwrap(), Some(3));
        assert_eq!(rx.recv(&mut buf).unwrap(), None);
        assert_eq!(rx.kernel_drops(), Some(0));

        // A tiny buffer overflows: the kernel's count arrives with a later datagram.
        let mut small =
            Receiver::open("127.0.0.1:0".parse().unwrap(), &Interface::Any, 4096).unwrap();
        let mut tx = Sender::open(small.local_addr().unwrap(), &Interface::Any, 1, true).unwrap();
        for _ in 0..200 {
            tx.send(&[0u8; 1000]).unwrap();
        }
        let mut big = [0u8; 2000];
        while small.recv(&mut big).unwrap().is_some() {}
        // Datagrams queued after the drops carry the count.
        tx.send(&[0u8; 10]).unwrap();
        wait_readable(&[small.fd()], Duration::from_secs(5)).unwrap();
        assert_eq!(small.recv(&mut big).unwrap(), Some(10));
        assert!(
            small.kernel_drops().unwrap() > 100,
            "{:?}",
            small.kernel_drops()
        );

        let group: SocketAddrV4 = "239.255.77.11:0".parse().unwrap();
        let lo = Interface::Addr(Ipv4Addr::LOCALHOST);
        let mut mrx = Receiver::open(group, &lo, 1 << 16).unwrap();
        let port = mrx.local_addr().unwrap().port();
        let mut mtx = Sender::open(SocketAddrV4::new(*group.ip(), port), &lo, 1, true).unwrap();
        mtx.send(&[7u8; 40]).unwrap();
        wait_readable(&[mrx.fd()], Duration::from_secs(5)).unwrap();
        assert_eq!(
            mrx.recv(&mut buf).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
