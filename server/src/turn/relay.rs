//! Relayed addresses that reach this node's SFU and nothing else.
//!
//! A TURN server relays to whatever address its client names; an open one
//! is a way into the hospital's network. Visita's TURN exists only to carry
//! media to its own SFU, so a relay sends only to the SFU's media ports on
//! the addresses the SFU announces, and hears only from them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::UdpSocket;
use turn::relay::RelayAddressGenerator;
use webrtc_util::Conn;

/// Where the SFU is, as its candidates say and as this machine reaches it.
#[derive(Debug, Clone)]
pub struct SfuAddresses {
    /// The SFU's media ports, first and last.
    pub ports: (u16, u16),
    /// The address the SFU binds (unspecified: every interface).
    pub bind_ip: IpAddr,
    /// The address its candidates announce instead of the bound one (1:1 NAT).
    pub public_ip: Option<IpAddr>,
}

impl SfuAddresses {
    /// The address relays bind and send from: the SFU's own address, or
    /// loopback when it listens on every interface.
    pub fn local_ip(&self) -> IpAddr {
        if self.bind_ip.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.bind_ip
        }
    }

    fn is_media_port(&self, port: u16) -> bool {
        (self.ports.0..=self.ports.1).contains(&port)
    }

    /// Where a datagram a client sends to `peer` really goes, or `None`
    /// when `peer` is not the SFU.
    pub fn outbound(&self, peer: SocketAddr) -> Option<SocketAddr> {
        if !self.is_media_port(peer.port()) {
            return None;
        }
        let ip = peer.ip();
        if Some(ip) == self.public_ip || ip == self.local_ip() {
            return Some(SocketAddr::new(self.local_ip(), peer.port()));
        }
        // Listening on every interface with no public address: the SFU's
        // candidates are this machine's addresses.
        if self.bind_ip.is_unspecified() && self.public_ip.is_none() && is_own_address(ip) {
            return Some(peer);
        }
        None
    }

    /// How a datagram from `source` is shown to the client (the address
    /// its permission names), or `None` when it is not from the SFU.
    pub fn inbound(&self, source: SocketAddr) -> Option<SocketAddr> {
        if !self.is_media_port(source.port()) {
            return None;
        }
        if source.ip() == self.local_ip() {
            let shown = self.public_ip.unwrap_or(source.ip());
            return Some(SocketAddr::new(shown, source.port()));
        }
        (self.bind_ip.is_unspecified() && self.public_ip.is_none()).then_some(source)
    }
}

/// Whether `ip` belongs to this machine (a socket can bind to it).
fn is_own_address(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// Hands the TURN server relays bound next to the SFU, at most `max` at
/// once: each is a socket, and a flood of allocations (a leaked credential
/// replayed, a broken client looping) must not take them all.
pub struct SfuRelays {
    pub sfu: Arc<SfuAddresses>,
    live: Arc<AtomicUsize>,
    max: usize,
}

impl SfuRelays {
    /// A generator of its own count; generators sharing `live` share `max`.
    pub fn new(sfu: Arc<SfuAddresses>, live: Arc<AtomicUsize>, max: usize) -> Self {
        Self { sfu, live, max }
    }
}

/// One place among the live relays, given back when the relay is dropped
/// (the allocation ended or expired).
struct Place(Arc<AtomicUsize>);

impl Place {
    fn take(live: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Place(live.clone()))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[async_trait::async_trait]
impl RelayAddressGenerator for SfuRelays {
    fn validate(&self) -> Result<(), turn::Error> {
        Ok(())
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        _requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        let ip = self.sfu.local_ip();
        if ip.is_ipv4() != use_ipv4 {
            return Err(turn::Error::Other(
                "the relay's address family is not the SFU's".into(),
            ));
        }
        let Some(place) = Place::take(&self.live, self.max) else {
            tracing::warn!(
                max = self.max,
                "TURN: every relay place is taken; allocation refused"
            );
            return Err(turn::Error::Other("the TURN server is at capacity".into()));
        };
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let address = socket.local_addr()?;
        let relay = SfuRelay {
            socket,
            sfu: self.sfu.clone(),
            _place: place,
        };
        Ok((Arc::new(relay), address))
    }
}

/// One relayed address.
pub struct SfuRelay {
    socket: UdpSocket,
    sfu: Arc<SfuAddresses>,
    _place: Place,
}

#[async_trait::async_trait]
impl Conn for SfuRelay {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(webrtc_util::Error::Other("a relay does not connect".into()))
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, source) = self.socket.recv_from(buf).await?;
            // Anything but the SFU is dropped here, not reported as an
            // error (an error would end the allocation).
            if let Some(shown) = self.sfu.inbound(source) {
                return Ok((n, shown));
            }
        }
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(webrtc_util::Error::Other("send needs an address".into()))
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        match self.sfu.outbound(target) {
            Some(to) => Ok(self.socket.send_to(buf, to).await?),
            None => {
                tracing::debug!(%target, "TURN: relaying elsewhere than the SFU refused");
                Ok(buf.len())
            }
        }
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn relays_are_capped_and_their_places_come_back() {
        let sfu = Arc::new(SfuAddresses {
            ports: (50_000, 50_199),
            bind_ip: "127.0.0.1".parse().unwrap(),
            public_ip: None,
        });
        let live = Arc::new(AtomicUsize::new(0));
        // Two generators (UDP and TCP listeners) share one count.
        let udp = SfuRelays::new(sfu.clone(), live.clone(), 2);
        let tcp = SfuRelays::new(sfu, live.clone(), 2);
        let first = udp.allocate_conn(true, 0).await.expect("first relay");
        let second = tcp.allocate_conn(true, 0).await.expect("second relay");
        assert!(udp.allocate_conn(true, 0).await.is_err(), "over the cap");
        assert!(tcp.allocate_conn(true, 0).await.is_err(), "over the cap");
        drop(first);
        assert_eq!(live.load(Ordering::Acquire), 1);
        let third = udp.allocate_conn(true, 0).await.expect("a place came back");
        drop((second, third));
        assert_eq!(live.load(Ordering::Acquire), 0);
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn relays_reach_only_the_sfu() {
        let sfu = SfuAddresses {
            ports: (50_000, 50_199),
            bind_ip: "0.0.0.0".parse().unwrap(),
            public_ip: Some("203.0.113.7".parse().unwrap()),
        };
        // The public address is reached on loopback, and answers show it.
        assert_eq!(
            sfu.outbound(addr("203.0.113.7:50010")),
            Some(addr("127.0.0.1:50010"))
        );
        assert_eq!(
            sfu.inbound(addr("127.0.0.1:50010")),
            Some(addr("203.0.113.7:50010"))
        );
        // Not a media port, another machine, the hospital's network.
        assert_eq!(sfu.outbound(addr("203.0.113.7:22")), None);
        assert_eq!(sfu.outbound(addr("198.51.100.1:50010")), None);
        assert_eq!(sfu.outbound(addr("10.0.0.5:50010")), None);
        assert_eq!(sfu.inbound(addr("10.0.0.5:50010")), None);
        assert_eq!(sfu.inbound(addr("127.0.0.1:8080")), None);

        let bound = SfuAddresses {
            ports: (50_000, 50_199),
            bind_ip: "127.0.0.1".parse().unwrap(),
            public_ip: None,
        };
        assert_eq!(
            bound.outbound(addr("127.0.0.1:50000")),
            Some(addr("127.0.0.1:50000"))
        );
        assert_eq!(bound.outbound(addr("127.0.0.2:50000")), None);
        assert_eq!(
            bound.inbound(addr("127.0.0.1:50199")),
            Some(addr("127.0.0.1:50199"))
        );
    }
}
