//! TURN over TCP for networks that block UDP: accepts TCP connections and
//! presents their messages to the `turn` crate's server as if they were
//! datagrams from each connection's address (the crate only reads
//! datagrams). Framing (RFC 8656 §12): a STUN message carries its length in
//! its header; ChannelData carries its length too and is padded to four
//! bytes over TCP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use webrtc_util::Conn;

/// Connections held at once; more wait for one to close.
const MAX_CONNECTIONS: usize = 2048;
/// A connection must say something this soon after opening.
const FIRST_MESSAGE_WITHIN: Duration = Duration::from_secs(10);
/// Messages queued towards one client before newer ones are dropped (media
/// is real-time: late is as bad as lost).
const OUTBOUND_QUEUE: usize = 256;
/// The largest message accepted: a STUN message or ChannelData never needs
/// more than a UDP datagram.
const MAX_MESSAGE: usize = 1500 + 4 + 3;

/// How long the next message is, from its first four bytes; `None` when
/// they start neither a STUN message nor ChannelData of a sensible size
/// (not a TURN client).
pub fn message_length(head: [u8; 4]) -> Option<usize> {
    let length = u16::from_be_bytes([head[2], head[3]]) as usize;
    let total = match head[0] >> 6 {
        // STUN: 20-byte header, attributes already a multiple of four.
        0b00 if length.is_multiple_of(4) => 20 + length,
        // ChannelData (channel numbers 0x4000–0x4FFF), padded to four.
        0b01 if head[0] & 0xF0 == 0x40 => 4 + length.div_ceil(4) * 4,
        _ => return None,
    };
    (total <= MAX_MESSAGE).then_some(total)
}

/// The listener, seen by the TURN server as one datagram socket.
pub struct TcpTurnConn {
    local: SocketAddr,
    inbound: tokio::sync::Mutex<mpsc::Receiver<(Vec<u8>, SocketAddr)>>,
    clients: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl TcpTurnConn {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (to_server, inbound) = mpsc::channel(1024);
        let clients = Arc::new(Mutex::new(HashMap::new()));
        let accept = tokio::spawn(accept_loop(listener, to_server, clients.clone()));
        Ok(Self {
            local,
            inbound: tokio::sync::Mutex::new(inbound),
            clients,
            accept,
        })
    }
}

impl Drop for TcpTurnConn {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    to_server: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    clients: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "TURN over TCP: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (outbound, queue) = mpsc::channel(OUTBOUND_QUEUE);
        if let Ok(mut map) = clients.lock() {
            map.insert(peer, outbound);
        }
        let to_server = to_server.clone();
        let clients = clients.clone();
        tokio::spawn(async move {
            serve_client(stream, peer, to_server, queue).await;
            if let Ok(mut map) = clients.lock() {
                map.remove(&peer);
            }
            drop(slot);
        });
    }
}

/// Reads one client's messages for the server and writes the server's to
/// it, until either side ends.
async fn serve_client(
    stream: TcpStream,
    peer: SocketAddr,
    to_server: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    mut queue: mpsc::Receiver<Vec<u8>>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let read = async {
        let mut first = true;
        loop {
            let mut head = [0u8; 4];
            let got = if first {
                tokio::time::timeout(FIRST_MESSAGE_WITHIN, reader.read_exact(&mut head))
                    .await
                    .ok()
            } else {
                Some(reader.read_exact(&mut head).await)
            };
            first = false;
            if !matches!(got, Some(Ok(_))) {
                return;
            }
            let Some(length) = message_length(head) else {
                tracing::debug!(%peer, "TURN over TCP: not a TURN client");
                return;
            };
            let mut message = vec![0u8; length];
            message[..4].copy_from_slice(&head);
            if reader.read_exact(&mut message[4..]).await.is_err() {
                return;
            }
            if to_server.send((message, peer)).await.is_err() {
                return;
            }
        }
    };
    let write = async {
        while let Some(message) = queue.recv().await {
            if writer.write_all(&message).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = read => {},
        () = write => {},
    }
}

#[async_trait::async_trait]
impl Conn for TcpTurnConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(webrtc_util::Error::Other(
            "a listener does not connect".into(),
        ))
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let (message, peer) = self
            .inbound
            .lock()
            .await
            .recv()
            .await
            .ok_or(webrtc_util::Error::ErrUseClosedNetworkConn)?;
        let n = message.len().min(buf.len());
        buf[..n].copy_from_slice(&message[..n]);
        Ok((n, peer))
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(webrtc_util::Error::Other("send needs an address".into()))
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        let client = self
            .clients
            .lock()
            .ok()
            .and_then(|map| map.get(&target).cloned());
        // The server answers on the connection a message came from; if it
        // closed meanwhile, or its queue is full, the message is dropped,
        // as a datagram would be.
        if let Some(client) = client {
            let _ = client.try_send(buf.to_vec());
        }
        Ok(buf.len())
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.accept.abort();
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_reads_stun_and_padded_channel_data() {
        // A STUN Binding request with 8 bytes of attributes.
        assert_eq!(message_length([0x00, 0x01, 0x00, 0x08]), Some(28));
        // ChannelData of 5 bytes on channel 0x4001: padded to 8.
        assert_eq!(message_length([0x40, 0x01, 0x00, 0x05]), Some(12));
        assert_eq!(message_length([0x4F, 0xFF, 0x00, 0x04]), Some(8));
        // Not TURN: TLS, HTTP, a channel number out of range, a STUN
        // length that is not a multiple of four.
        assert_eq!(message_length([0x16, 0x03, 0x01, 0x02]), None);
        assert_eq!(message_length(*b"GET "), None);
        // Longer than any datagram.
        assert_eq!(message_length([0x00, 0x01, 0x08, 0x00]), None);
        assert_eq!(message_length([0x50, 0x00, 0x00, 0x04]), None);
        assert_eq!(message_length([0x00, 0x01, 0x00, 0x07]), None);
    }
}
