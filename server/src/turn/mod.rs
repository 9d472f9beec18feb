//! The TURN server built into Visita, for patients whose network lets no
//! media through directly (UDP blocked, strict NAT): they relay through it,
//! over UDP or TCP, to this node's SFU and nowhere else.
//!
//! Credentials are the TURN REST kind the media pass hands out (username
//! `expiry:participant`, password HMAC-SHA1 of it), signed with a key
//! derived from the installation's media secret, so any node can check them.

pub mod relay;
pub mod tcp;

use crate::sfu::pass::{turn_password, turn_username_expiry};
use relay::{SfuAddresses, SfuRelays};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use turn::auth::{AuthHandler, generate_auth_key};
use turn::server::Server;
use turn::server::config::{ConnConfig, ServerConfig};

/// The realm clients authenticate in.
pub const REALM: &str = "visita";

/// Relays allowed per consultation the node takes (`media_max_sessions`):
/// eight people, each relaying over UDP and TCP.
pub const RELAYS_PER_SESSION: usize = 16;

/// Why the TURN server could not start.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error("cannot listen on {addr} ({transport}): {source}")]
    Listen {
        addr: SocketAddr,
        transport: &'static str,
        source: std::io::Error,
    },
    #[error("the TURN server did not start: {0}")]
    Start(String),
}

/// The running server; `close` stops it.
pub struct TurnServer {
    server: Server,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
}

impl TurnServer {
    /// Listens on `listen` (UDP and TCP, same port) and relays to `sfu`,
    /// with at most `max_relays` allocations at once.
    pub async fn start(
        listen: SocketAddr,
        sfu: SfuAddresses,
        secret: Vec<u8>,
        max_relays: usize,
    ) -> Result<Self, TurnError> {
        let udp = tokio::net::UdpSocket::bind(listen)
            .await
            .map_err(|source| TurnError::Listen {
                addr: listen,
                transport: "UDP",
                source,
            })?;
        let udp_addr = udp.local_addr().map_err(|source| TurnError::Listen {
            addr: listen,
            transport: "UDP",
            source,
        })?;
        // The same port for TCP (port 0 picks one for UDP first).
        let tcp_listen = SocketAddr::new(listen.ip(), udp_addr.port());
        let tcp = tcp::TcpTurnConn::bind(tcp_listen)
            .await
            .map_err(|source| TurnError::Listen {
                addr: tcp_listen,
                transport: "TCP",
                source,
            })?;
        let tcp_addr = tcp_listen;
        let sfu = Arc::new(sfu);
        let live = Arc::new(AtomicUsize::new(0));
        let relays = || {
            Box::new(SfuRelays::new(sfu.clone(), live.clone(), max_relays))
                as Box<dyn turn::relay::RelayAddressGenerator + Send + Sync>
        };
        let server = Server::new(ServerConfig {
            conn_configs: vec![
                ConnConfig {
                    conn: Arc::new(udp),
                    relay_addr_generator: relays(),
                },
                ConnConfig {
                    conn: Arc::new(tcp),
                    relay_addr_generator: relays(),
                },
            ],
            realm: REALM.into(),
            auth_handler: Arc::new(RestCredentials { secret }),
            channel_bind_timeout: std::time::Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .map_err(|e| TurnError::Start(e.to_string()))?;
        Ok(Self {
            server,
            udp: udp_addr,
            tcp: tcp_addr,
        })
    }

    pub async fn close(&self) {
        let _ = self.server.close().await;
    }
}

/// Checks TURN REST credentials: unexpired, signed with our key.
struct RestCredentials {
    secret: Vec<u8>,
}

impl AuthHandler for RestCredentials {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        _source: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let expiry = turn_username_expiry(username)
            .ok_or_else(|| turn::Error::Other("not a Visita TURN username".into()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if expiry < now {
            return Err(turn::Error::Other("expired TURN credentials".into()));
        }
        let password = turn_password(&self.secret, username);
        Ok(generate_auth_key(username, realm, &password))
    }
}
