//! The authenticating, ACL-enforcing MQTT gateway in front of rumqttd.

use crate::{Authenticate, BrokerConfig, Internal};
use bytes::{Bytes, BytesMut};
use edgecoder_protocol::topic::{Role, may_publish, may_subscribe};
use rumqttc::mqttbytes::Error as MqttError;
use rumqttc::mqttbytes::v4::{
    ConnAck, ConnectReturnCode, Login, Packet, SubAck, SubscribeReasonCode,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::Instrument;

/// What the gateway refused and served, counted since start.
#[derive(Debug, Default)]
pub struct Stats {
    connections: AtomicU64,
    refused_logins: AtomicU64,
    denied_publishes: AtomicU64,
    denied_subscribes: AtomicU64,
    protocol_errors: AtomicU64,
    tls_failures: AtomicU64,
}

/// A copy of the [`Stats`] counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Clients that logged in.
    pub connections: u64,
    /// CONNECTs refused (bad credentials, or a will on a topic the client may not publish).
    pub refused_logins: u64,
    /// PUBLISHes refused (each ended its connection).
    pub denied_publishes: u64,
    /// SUBSCRIBEs refused.
    pub denied_subscribes: u64,
    /// Connections ended for a malformed or out-of-order packet.
    pub protocol_errors: u64,
    /// TLS handshakes that failed or did not finish in time.
    pub tls_failures: u64,
}

impl Stats {
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            connections: get(&self.connections),
            refused_logins: get(&self.refused_logins),
            denied_publishes: get(&self.denied_publishes),
            denied_subscribes: get(&self.denied_subscribes),
            protocol_errors: get(&self.protocol_errors),
            tls_failures: get(&self.tls_failures),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) struct Gateway {
    pub(crate) internal: Internal,
    pub(crate) auth: Arc<dyn Authenticate>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) config: BrokerConfig,
}

/// Why a client's connection ended early.
#[derive(Debug, thiserror::Error)]
enum End {
    #[error("connection closed")]
    Closed,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed MQTT packet: {0:?}")]
    Malformed(MqttError),
    #[error("{0}")]
    Refused(String),
}

impl Gateway {
    /// Serves every client that connects to `listener`; with `tls`, each one's TLS handshake
    /// comes first.
    pub(crate) async fn accept(self: Arc<Self>, listener: TcpListener, tls: Option<TlsAcceptor>) {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept an MQTT client");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let gateway = self.clone();
            let tls = tls.clone();
            let span = tracing::info_span!("mqtt_client", %peer, tls = tls.is_some(), client = tracing::field::Empty);
            tokio::spawn(
                async move {
                    let served = match tls {
                        None => {
                            let (read, write) = stream.into_split();
                            gateway.serve(read, write, peer).await
                        }
                        Some(acceptor) => gateway.serve_tls(&acceptor, stream, peer).await,
                    };
                    match served {
                        Ok(()) | Err(End::Closed) => tracing::debug!("client left"),
                        Err(error) => tracing::info!(%error, "client connection ended"),
                    }
                }
                .instrument(span),
            );
        }
    }

    async fn serve_tls(&self, acceptor: &TlsAcceptor, stream: TcpStream, peer: SocketAddr) -> Result<(), End> {
        let handshake = tokio::time::timeout(self.config.connect_timeout, acceptor.accept(stream)).await;
        match handshake {
            Ok(Ok(stream)) => {
                let (read, write) = tokio::io::split(stream);
                self.serve(read, write, peer).await
            }
            Ok(Err(error)) => {
                bump(&self.stats.tls_failures);
                Err(End::Refused(format!("TLS handshake with {peer} failed: {error}")))
            }
            Err(_) => {
                bump(&self.stats.tls_failures);
                Err(End::Refused(format!("{peer} did not finish its TLS handshake in time")))
            }
        }
    }

    async fn serve(
        &self,
        mut client_read: impl AsyncRead + Unpin,
        mut client_write: impl AsyncWrite + Unpin + Send + 'static,
        peer: SocketAddr,
    ) -> Result<(), End> {
        let max = self.config.max_packet_bytes;
        let mut inbound = BytesMut::with_capacity(4096);
        let first = tokio::time::timeout(
            self.config.connect_timeout,
            read_packet(&mut client_read, &mut inbound, max),
        )
        .await
        .map_err(|_| End::Refused(format!("{peer} sent no CONNECT in time")))?;
        let mut connect = match first {
            Ok(Packet::Connect(connect)) => connect,
            Ok(other) => {
                bump(&self.stats.protocol_errors);
                return Err(End::Refused(format!(
                    "first packet was {other:?}, not CONNECT"
                )));
            }
            Err(end) => {
                if matches!(end, End::Malformed(_)) {
                    bump(&self.stats.protocol_errors);
                }
                return Err(end);
            }
        };
        tracing::Span::current().record("client", connect.client_id.as_str());
        let (username, password) = connect
            .login
            .as_ref()
            .map_or(("", ""), |l| (l.username.as_str(), l.password.as_str()));
        let Some(role) = self
            .auth
            .authenticate(&connect.client_id, username, password)
            .await
        else {
            bump(&self.stats.refused_logins);
            refuse(
                &mut client_write,
                ConnectReturnCode::BadUserNamePassword,
                max,
            )
            .await;
            return Err(End::Refused(format!(
                "bad credentials for client `{}`",
                connect.client_id
            )));
        };
        if let Some(will) = &connect.last_will
            && !may_publish(&role, &will.topic)
        {
            bump(&self.stats.refused_logins);
            refuse(&mut client_write, ConnectReturnCode::NotAuthorized, max).await;
            return Err(End::Refused(format!(
                "a will on `{}`, which this client may not publish",
                will.topic
            )));
        }
        bump(&self.stats.connections);
        connect.login = Some(Login::new(
            self.internal.username.clone(),
            self.internal.password.clone(),
        ));

        let upstream = TcpStream::connect(self.internal.address).await?;
        let (mut upstream_read, mut upstream_write) = upstream.into_split();
        upstream_write
            .write_all(&encode(&Packet::Connect(connect), max)?)
            .await?;

        // One writer to the client: the broker's bytes as they come, and the gateway's own
        // refusals in between.
        let (to_client, mut outbox) = mpsc::channel::<Bytes>(64);
        let writer = tokio::spawn(async move {
            while let Some(bytes) = outbox.recv().await {
                if client_write.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        let from_broker = to_client.clone();
        let relay = tokio::spawn(async move {
            let mut buffer = BytesMut::with_capacity(16 * 1024);
            loop {
                buffer.clear();
                match upstream_read.read_buf(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if from_broker.send(buffer.split().freeze()).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let result = self
            .pump(
                &role,
                &mut client_read,
                &mut inbound,
                &mut upstream_write,
                &to_client,
            )
            .await;
        relay.abort();
        drop(to_client);
        let _ = writer.await;
        result
    }

    /// Checks and forwards the client's packets until it leaves or breaks a rule.
    async fn pump(
        &self,
        role: &Role,
        client: &mut (impl AsyncRead + Unpin),
        inbound: &mut BytesMut,
        upstream: &mut (impl AsyncWriteExt + Unpin),
        to_client: &mpsc::Sender<Bytes>,
    ) -> Result<(), End> {
        let max = self.config.max_packet_bytes;
        loop {
            let packet = match read_packet(client, inbound, max).await {
                Ok(packet) => packet,
                Err(End::Malformed(error)) => {
                    bump(&self.stats.protocol_errors);
                    return Err(End::Malformed(error));
                }
                Err(end) => return Err(end),
            };
            match &packet {
                Packet::Publish(publish) if !may_publish(role, &publish.topic) => {
                    bump(&self.stats.denied_publishes);
                    return Err(End::Refused(format!(
                        "publish to `{}` denied",
                        publish.topic
                    )));
                }
                Packet::Subscribe(subscribe)
                    if !subscribe
                        .filters
                        .iter()
                        .all(|f| may_subscribe(role, &f.path)) =>
                {
                    bump(&self.stats.denied_subscribes);
                    let denied: Vec<&str> = subscribe
                        .filters
                        .iter()
                        .map(|f| f.path.as_str())
                        .filter(|p| !may_subscribe(role, p))
                        .collect();
                    tracing::info!(?denied, "subscription denied");
                    let refusal = SubAck::new(
                        subscribe.pkid,
                        vec![SubscribeReasonCode::Failure; subscribe.filters.len()],
                    );
                    if to_client
                        .send(encode(&Packet::SubAck(refusal), max)?)
                        .await
                        .is_err()
                    {
                        return Err(End::Closed);
                    }
                    continue;
                }
                Packet::Connect(_) => {
                    bump(&self.stats.protocol_errors);
                    return Err(End::Refused("a second CONNECT".into()));
                }
                _ => {}
            }
            let disconnect = matches!(packet, Packet::Disconnect);
            upstream.write_all(&encode(&packet, max)?).await?;
            if disconnect {
                return Ok(());
            }
        }
    }
}

async fn refuse(client: &mut (impl AsyncWriteExt + Unpin), code: ConnectReturnCode, max: usize) {
    if let Ok(bytes) = encode(&Packet::ConnAck(ConnAck::new(code, false)), max) {
        let _ = client.write_all(&bytes).await;
    }
}

fn encode(packet: &Packet, max: usize) -> Result<Bytes, End> {
    let mut out = BytesMut::new();
    packet.write(&mut out, max).map_err(End::Malformed)?;
    Ok(out.freeze())
}

/// Reads one whole packet, buffering what follows it.
async fn read_packet(
    stream: &mut (impl AsyncRead + Unpin),
    buffer: &mut BytesMut,
    max: usize,
) -> Result<Packet, End> {
    loop {
        match Packet::read(buffer, max) {
            Ok(packet) => return Ok(packet),
            Err(MqttError::InsufficientBytes(_)) => {}
            Err(error) => return Err(End::Malformed(error)),
        }
        if stream.read_buf(buffer).await? == 0 {
            return Err(End::Closed);
        }
    }
}
