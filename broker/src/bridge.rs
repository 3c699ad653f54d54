//! A two-way bridge between the embedded broker and an external MQTT broker (a cluster for
//! large fleets): every message on the bridged filter published on one side is published on
//! the other, retain flag and QoS kept.
//!
//! The external broker is trusted like the embedded one: whoever may publish there under the
//! bridged filter reaches the agents here. MQTT 3.1.1 delivers a client's own publishes back
//! to it when it subscribes to them, so each side remembers what it forwarded and drops that
//! echo once, which keeps a message from circling.

use crate::Internal;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Where the bridge connects and what it carries.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The external broker, `host:port`.
    pub remote: String,
    /// Its login, when it needs one.
    pub login: Option<(String, String)>,
    /// The MQTT client id the bridge uses there (unique per coordinator).
    pub client_id: String,
    /// The topics carried both ways.
    pub filter: String,
}

impl BridgeConfig {
    /// A bridge of `ec/v1/#` to `remote` as `client_id`, without a login.
    pub fn new(remote: &str, client_id: &str) -> BridgeConfig {
        BridgeConfig {
            remote: remote.into(),
            login: None,
            client_id: client_id.into(),
            filter: "ec/v1/#".into(),
        }
    }
}

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The remote address is not `host:port`.
    #[error("bridge remote `{0}` is not HOST:PORT")]
    BadRemote(String),
}

/// Messages a side forwarded and whose echo it has not seen yet: (topic, sha256 of payload) →
/// how many.
type Pending = Arc<Mutex<HashMap<(String, [u8; 32]), u32>>>;

fn key(publish: &Publish) -> (String, [u8; 32]) {
    (
        publish.topic.clone(),
        Sha256::digest(&publish.payload).into(),
    )
}

/// A running bridge; dropping it stops both directions.
pub struct Bridge {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Bridge {
    pub(crate) fn start(config: BridgeConfig, internal: &Internal) -> Result<Bridge, BridgeError> {
        let (host, port) = config
            .remote
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| BridgeError::BadRemote(config.remote.clone()))?;
        let mut remote = MqttOptions::new(config.client_id.clone(), host, port);
        if let Some((user, password)) = &config.login {
            remote.set_credentials(user, password);
        }
        let mut local = MqttOptions::new(
            format!("{}-local", config.client_id),
            internal.address.ip().to_string(),
            internal.address.port(),
        );
        local.set_credentials(&internal.username, &internal.password);
        for options in [&mut remote, &mut local] {
            options.set_keep_alive(Duration::from_secs(15));
            options.set_clean_session(true);
            options.set_max_packet_size(
                crate::BrokerConfig::default().max_packet_bytes,
                crate::BrokerConfig::default().max_packet_bytes,
            );
        }
        let (local_client, local_loop) = AsyncClient::new(local, 256);
        let (remote_client, remote_loop) = AsyncClient::new(remote, 256);
        let to_remote: Pending = Arc::default();
        let to_local: Pending = Arc::default();
        let tasks = vec![
            tokio::spawn(forward(
                "local",
                local_loop,
                local_client.clone(),
                config.filter.clone(),
                remote_client.clone(),
                to_local.clone(),
                to_remote.clone(),
            )),
            tokio::spawn(forward(
                "remote",
                remote_loop,
                remote_client,
                config.filter,
                local_client,
                to_remote,
                to_local,
            )),
        ];
        Ok(Bridge { tasks })
    }
}

/// Reads one side and publishes what arrives on the other. `echoes` holds what the other side
/// forwarded to this one (dropped once when it comes back); `forwarded` records what this side
/// sends over.
async fn forward(
    side: &'static str,
    mut events: EventLoop,
    own: AsyncClient,
    filter: String,
    other: AsyncClient,
    echoes: Pending,
    forwarded: Pending,
) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(side, %filter, "bridge connected");
                if let Err(error) = own.subscribe(filter.clone(), QoS::AtLeastOnce).await {
                    tracing::warn!(side, %error, "bridge cannot subscribe");
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let key = key(&publish);
                {
                    let mut pending = echoes.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(count) = pending.get_mut(&key) {
                        *count -= 1;
                        if *count == 0 {
                            pending.remove(&key);
                        }
                        continue;
                    }
                }
                *forwarded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(key)
                    .or_default() += 1;
                let qos = if publish.qos == QoS::AtMostOnce {
                    QoS::AtMostOnce
                } else {
                    QoS::AtLeastOnce
                };
                if let Err(error) = other
                    .publish_bytes(publish.topic, qos, publish.retain, publish.payload)
                    .await
                {
                    tracing::warn!(side, %error, "bridge cannot forward a message");
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(side, %error, "bridge connection lost; reconnecting in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
