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
//!
//! Beside the plain TCP listener the gateway can serve the same on a TLS listener
//! ([`TlsListener`]); [`DevCa`] makes a development CA for fleets without their own.

mod bridge;
mod credentials;
mod gateway;
mod tls;

pub use bridge::{BridgeConfig, BridgeError};
pub use credentials::{
    AgentDirectory, Authenticate, Credentials, CredentialsFileError, Digest32, EnrolError, Enrolled, LocalAgents,
    random_secret,
};
pub use gateway::{Stats, StatsSnapshot};
pub use tls::{DevCa, TlsError, TlsListener};

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
    /// A TLS listener beside the plain one.
    pub tls: Option<TlsListener>,
}

impl Default for BrokerConfig {
    fn default() -> BrokerConfig {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            max_packet_bytes: edgecoder_protocol::envelope::MAX_ENVELOPE_BYTES + 1024,
            max_connections: 10_000,
            connect_timeout: Duration::from_secs(10),
            bridge: None,
            tls: None,
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
    /// The TLS listener's certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A running broker. Dropping it stops accepting new clients; the embedded rumqttd thread
/// lives as long as the process (rumqttd 0.20 cannot be stopped).
pub struct Broker {
    address: SocketAddr,
    tls_address: Option<SocketAddr>,
    stats: Arc<Stats>,
    accept: Vec<JoinHandle<()>>,
    _bridge: Option<bridge::Bridge>,
}

impl Broker {
    /// Starts rumqttd on a private loopback port and the gateway on `config.listen`.
    pub async fn start(
        config: BrokerConfig,
        auth: Arc<dyn Authenticate>,
    ) -> Result<Broker, BrokerError> {
        let (listener, address) = bind(config.listen).await?;
        let tls = match &config.tls {
            Some(tls) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(tls)?);
                Some((bind(tls.listen).await?, acceptor))
            }
            None => None,
        };
        let internal = start_rumqttd(&config).await?;
        let bridge = config
            .bridge
            .clone()
            .map(|b| bridge::Bridge::start(b, &internal))
            .transpose()?;
        let stats = Arc::new(Stats::default());
        let gateway = Arc::new(gateway::Gateway {
            internal,
            auth,
            stats: stats.clone(),
            config,
        });
        let mut accept = vec![tokio::spawn(gateway.clone().accept(listener, None))];
        tracing::info!(%address, "swarm broker listening");
        let tls_address = tls.map(|((listener, tls_address), acceptor)| {
            accept.push(tokio::spawn(gateway.accept(listener, Some(acceptor))));
            tracing::info!(address = %tls_address, "swarm broker listening with TLS");
            tls_address
        });
        Ok(Broker {
            address,
            tls_address,
            stats,
            accept,
            _bridge: bridge,
        })
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where TLS clients connect, when the broker has a TLS listener.
    pub fn tls_address(&self) -> Option<SocketAddr> {
        self.tls_address
    }

    /// The gateway's counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        for task in &self.accept {
            task.abort();
        }
    }
}

async fn bind(address: SocketAddr) -> Result<(TcpListener, SocketAddr), BrokerError> {
    let listen = |source| BrokerError::Listen { address, source };
    let listener = TcpListener::bind(address).await.map_err(listen)?;
    let bound = listener.local_addr().map_err(listen)?;
    Ok((listener, bound))
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
