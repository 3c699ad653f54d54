//! The swarm's embedded MQTT broker: `rumqttd`, reachable only through a gateway that
//! authenticates every client and enforces the swarm's topic ACLs.
//!
//! `rumqttd` 0.20 has logins but no per-topic authorisation, so it listens on a loopback port
//! with a random password that only the gateway knows. Clients connect to the gateway, which
//! reads their MQTT 3.1.1 packets: a CONNECT must carry credentials the [`Authenticate`]
//! implementation accepts (an agent logs in with its id as client id and username and its
//! enrolment secret as password); the will, every PUBLISH and every SUBSCRIBE are checked with
//! [`edgecoder_protocol::topic::may_publish`] and [`may_subscribe`](edgecoder_protocol::topic::may_subscribe).
//! A refused subscription gets a failure SUBACK; a refused publish ends the connection (MQTT
//! 3.1.1 cannot refuse one otherwise). Everything the broker sends back passes through
//! untouched. Each refusal is counted in [`Stats`].

mod bridge;
mod credentials;
mod gateway;

pub use bridge::{BridgeConfig, BridgeError};
pub use credentials::{Authenticate, Credentials, CredentialsFileError, EnrolError, Enrolled, random_secret};
pub use gateway::{Stats, StatsSnapshot};

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How the broker listens and what it accepts.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Where clients connect (port 0: any free port).
    pub listen: SocketAddr,
    /// The largest MQTT packet accepted, in bytes (the swarm envelope's limit plus headers).
    pub max_packet_bytes: usize,
    /// Most clients at once.
    pub max_connections: usize,
    /// How long a client has to send its CONNECT.
    pub connect_timeout: Duration,
    /// An external broker to bridge the swarm's topics to, both ways.
    pub bridge: Option<BridgeConfig>,
}

impl Default for BrokerConfig {
    fn default() -> BrokerConfig {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            max_packet_bytes: edgecoder_protocol::envelope::MAX_ENVELOPE_BYTES + 1024,
            max_connections: 10_000,
            connect_timeout: Duration::from_secs(10),
            bridge: None,
        }
    }
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {address}: {source} — choose another address or port")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The embedded rumqttd did not come up.
    #[error("the embedded MQTT broker did not start: {0}")]
    Embedded(String),
    /// The bridge is misconfigured.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
}

/// A running broker. Dropping it stops accepting new clients; the embedded rumqttd thread
/// lives as long as the process (rumqttd 0.20 cannot be stopped).
pub struct Broker {
    address: SocketAddr,
    stats: Arc<Stats>,
    accept: JoinHandle<()>,
    _bridge: Option<bridge::Bridge>,
}

impl Broker {
    /// Starts rumqttd on a private loopback port and the gateway on `config.listen`.
    pub async fn start(
        config: BrokerConfig,
        auth: Arc<dyn Authenticate>,
    ) -> Result<Broker, BrokerError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| BrokerError::Listen {
                    address: config.listen,
                    source,
                })?;
        let address = listener
            .local_addr()
            .map_err(|source| BrokerError::Listen {
                address: config.listen,
                source,
            })?;
        let internal = start_rumqttd(&config).await?;
        let bridge = config
            .bridge
            .clone()
            .map(|b| bridge::Bridge::start(b, &internal))
            .transpose()?;
        let stats = Arc::new(Stats::default());
        let gateway = gateway::Gateway {
            internal,
            auth,
            stats: stats.clone(),
            config,
        };
        let accept = tokio::spawn(gateway.accept(listener));
        tracing::info!(%address, "swarm broker listening");
        Ok(Broker {
            address,
            stats,
            accept,
            _bridge: bridge,
        })
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The gateway's counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The gateway's own login to rumqttd.
#[derive(Clone)]
pub(crate) struct Internal {
    pub(crate) address: SocketAddr,
    pub(crate) username: String,
    pub(crate) password: String,
}

/// Starts rumqttd on a free loopback port with a random password and waits until it accepts
/// connections.
async fn start_rumqttd(config: &BrokerConfig) -> Result<Internal, BrokerError> {
    // rumqttd binds by address only: find a free port, release it, hand it over.
    let probe = StdListener::bind(("127.0.0.1", 0))
        .map_err(|e| BrokerError::Embedded(format!("no free loopback port: {e}")))?;
    let address = probe
        .local_addr()
        .map_err(|e| BrokerError::Embedded(e.to_string()))?;
    drop(probe);
    let internal = Internal {
        address,
        username: "edgecoder-gateway".into(),
        password: random_secret(),
    };

    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: config.max_packet_bytes,
        max_inflight_count: 100,
        auth: Some(HashMap::from([(
            internal.username.clone(),
            internal.password.clone(),
        )])),
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "edgecoder-internal".into(),
        listen: address,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    let broker_config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: config.max_connections + 16,
            max_outgoing_packet_count: 200,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("internal".to_owned(), server)])),
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("edgecoder-rumqttd".into())
        .spawn(move || {
            if let Err(error) = rumqttd::Broker::new(broker_config).start() {
                tracing::error!(%error, "the embedded MQTT broker stopped");
            }
        })
        .map_err(|e| BrokerError::Embedded(format!("cannot start its thread: {e}")))?;
    let give_up = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(address).await.is_err() {
        if Instant::now() > give_up {
            return Err(BrokerError::Embedded(format!(
                "nothing listens on {address} after 10 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(internal)
}
