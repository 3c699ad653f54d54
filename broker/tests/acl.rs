//! The broker with real MQTT clients (rumqttc) on loopback: logins, and the topic ACLs that keep
//! agents apart — agent A cannot publish as B nor read B's work.

use edgecoder_broker::{Broker, BrokerConfig, Credentials};
use edgecoder_protocol::AgentId;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, LastWill, MqttOptions, Packet, QoS,
    SubscribeReasonCode,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

struct Fleet {
    broker: Broker,
    credentials: Arc<Credentials>,
}

async fn fleet() -> Fleet {
    let credentials = Arc::new(Credentials::new());
    credentials.add_coordinator("coordinator", "coordinator-secret");
    let config = BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..BrokerConfig::default()
    };
    let broker = Broker::start(config, credentials.clone()).await.unwrap();
    Fleet {
        broker,
        credentials,
    }
}

impl Fleet {
    async fn enrol(&self, id: &str) -> String {
        let token = self
            .credentials
            .issue_enrolment_token(Duration::from_secs(60))
            .await
            .unwrap();
        self.credentials
            .enrol(&token, &AgentId::new(id).unwrap())
            .await
            .unwrap()
            .secret
    }

    fn options(&self, client_id: &str, username: &str, password: &str) -> MqttOptions {
        let address = self.broker.address();
        let mut options = MqttOptions::new(client_id, address.ip().to_string(), address.port());
        options.set_credentials(username, password);
        options.set_keep_alive(Duration::from_secs(5));
        options
    }
}

/// A client whose events arrive on a channel; the channel closes when the connection fails.
struct Client {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<Result<Packet, String>>,
}

async fn connect(options: MqttOptions) -> Client {
    let (client, mut eventloop) = AsyncClient::new(options, 32);
    let (sender, events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(packet)) => {
                    if sender.send(Ok(packet)).is_err() {
                        return;
                    }
                }
                Ok(Event::Outgoing(_)) => {}
                Err(error) => {
                    let _ = sender.send(Err(describe(&error)));
                    return;
                }
            }
        }
    });
    let mut connected = Client { client, events };
    match connected.next().await {
        Some(Ok(Packet::ConnAck(ack))) if ack.code == ConnectReturnCode::Success => {}
        other => panic!("connect failed: {other:?}"),
    }
    connected
}

fn describe(error: &ConnectionError) -> String {
    match error {
        ConnectionError::ConnectionRefused(code) => format!("refused: {code:?}"),
        other => format!("{other}"),
    }
}

/// Connects and returns how the broker answered (the error text when it refused).
async fn try_connect(options: MqttOptions) -> Result<(), String> {
    let (_client, mut eventloop) = AsyncClient::new(options, 8);
    match tokio::time::timeout(Duration::from_secs(10), eventloop.poll())
        .await
        .expect("no answer within 10 s")
    {
        Ok(Event::Incoming(Packet::ConnAck(ack))) if ack.code == ConnectReturnCode::Success => {
            Ok(())
        }
        Ok(other) => Err(format!("{other:?}")),
        Err(error) => Err(describe(&error)),
    }
}

impl Client {
    async fn next(&mut self) -> Option<Result<Packet, String>> {
        tokio::time::timeout(Duration::from_secs(10), self.events.recv())
            .await
            .expect("nothing within 10 s")
    }

    /// The next publish (skipping acks), or None when none comes within `wait`.
    async fn publish_within(&mut self, wait: Duration) -> Option<(String, Vec<u8>)> {
        let give_up = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(give_up, self.events.recv()).await {
                Ok(Some(Ok(Packet::Publish(p)))) => return Some((p.topic, p.payload.to_vec())),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    async fn suback(&mut self) -> Vec<SubscribeReasonCode> {
        loop {
            match self.next().await {
                Some(Ok(Packet::SubAck(ack))) => return ack.return_codes,
                Some(Ok(_)) => {}
                other => panic!("no SUBACK: {other:?}"),
            }
        }
    }

    /// Waits until the connection fails; returns the error.
    async fn closed(&mut self) -> String {
        loop {
            match self.next().await {
                Some(Err(error)) => return error,
                None => return "channel closed".into(),
                Some(Ok(_)) => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_publish_only_as_themselves_and_read_only_their_own_work() {
    let fleet = fleet().await;
    let secret_a = fleet.enrol("agent-a").await;
    let secret_b = fleet.enrol("agent-b").await;
    let mut coordinator =
        connect(fleet.options("coord-1", "coordinator", "coordinator-secret")).await;
    coordinator
        .client
        .subscribe("ec/v1/agents/+/heartbeat", QoS::AtLeastOnce)
        .await
        .unwrap();
    assert_eq!(
        coordinator.suback().await,
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    let mut a = connect(fleet.options("agent-a", "agent-a", &secret_a)).await;
    let mut b = connect(fleet.options("agent-b", "agent-b", &secret_b)).await;

    // A's own heartbeat reaches the coordinator.
    a.client
        .publish(
            "ec/v1/agents/agent-a/heartbeat",
            QoS::AtLeastOnce,
            false,
            b"alive".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(
        coordinator.publish_within(Duration::from_secs(5)).await,
        Some(("ec/v1/agents/agent-a/heartbeat".into(), b"alive".to_vec()))
    );

    // A may not read B's work; B may. The coordinator hands B work: only B gets it.
    a.client
        .subscribe("ec/v1/agents/agent-b/work", QoS::AtLeastOnce)
        .await
        .unwrap();
    assert_eq!(a.suback().await, [SubscribeReasonCode::Failure]);
    a.client
        .subscribe("ec/v1/agents/+/work", QoS::AtLeastOnce)
        .await
        .unwrap();
    assert_eq!(a.suback().await, [SubscribeReasonCode::Failure]);
    b.client
        .subscribe("ec/v1/agents/agent-b/work", QoS::AtLeastOnce)
        .await
        .unwrap();
    assert_eq!(
        b.suback().await,
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    coordinator
        .client
        .publish(
            "ec/v1/agents/agent-b/work",
            QoS::AtLeastOnce,
            false,
            b"job".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(
        b.publish_within(Duration::from_secs(5)).await,
        Some(("ec/v1/agents/agent-b/work".into(), b"job".to_vec()))
    );
    assert_eq!(
        a.publish_within(Duration::from_millis(500)).await,
        None,
        "A read B's work"
    );

    // A publishing as B is cut off, and nothing reaches the coordinator.
    a.client
        .publish(
            "ec/v1/agents/agent-b/heartbeat",
            QoS::AtLeastOnce,
            false,
            b"forged".to_vec(),
        )
        .await
        .unwrap();
    a.closed().await;
    assert_eq!(
        coordinator.publish_within(Duration::from_millis(500)).await,
        None,
        "a forged heartbeat got through"
    );
    // Nor may an agent grant itself a policy.
    b.client
        .publish(
            "ec/v1/agents/agent-b/policy",
            QoS::AtLeastOnce,
            true,
            b"cpu 100%".to_vec(),
        )
        .await
        .unwrap();
    b.closed().await;

    let stats = fleet.broker.stats();
    assert_eq!(
        (
            stats.denied_publishes,
            stats.denied_subscribes,
            stats.connections
        ),
        (2, 2, 3),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_logins_foreign_wills_and_garbage_are_refused() {
    let fleet = fleet().await;
    let secret = fleet.enrol("agent-a").await;
    assert_eq!(
        try_connect(fleet.options("agent-a", "agent-a", "wrong")).await,
        Err("refused: BadUserNamePassword".into())
    );
    assert_eq!(
        try_connect(fleet.options("agent-b", "agent-a", &secret)).await,
        Err("refused: BadUserNamePassword".into()),
        "another client id"
    );
    assert_eq!(
        try_connect(fleet.options("nobody", "nobody", "x")).await,
        Err("refused: BadUserNamePassword".into())
    );
    let mut anonymous = MqttOptions::new(
        "anon",
        fleet.broker.address().ip().to_string(),
        fleet.broker.address().port(),
    );
    anonymous.set_keep_alive(Duration::from_secs(5));
    assert!(try_connect(anonymous).await.is_err());

    let mut foreign_will = fleet.options("agent-a", "agent-a", &secret);
    foreign_will.set_last_will(LastWill::new(
        "ec/v1/agents/agent-b/status",
        b"offline".to_vec(),
        QoS::AtLeastOnce,
        true,
    ));
    assert_eq!(
        try_connect(foreign_will).await,
        Err("refused: NotAuthorized".into())
    );
    let mut own_will = fleet.options("agent-a", "agent-a", &secret);
    own_will.set_last_will(LastWill::new(
        "ec/v1/agents/agent-a/status",
        b"offline".to_vec(),
        QoS::AtLeastOnce,
        true,
    ));
    assert_eq!(try_connect(own_will).await, Ok(()));

    // Bytes that are not MQTT end the connection and are counted.
    let mut raw = tokio::net::TcpStream::connect(fleet.broker.address())
        .await
        .unwrap();
    raw.write_all(&[0xff; 32]).await.unwrap();
    let mut sink = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut raw, &mut sink),
    )
    .await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the gateway kept a garbage connection open: {read:?}"
    );
    let stats = fleet.broker.stats();
    assert_eq!(stats.refused_logins, 5, "{stats:?}");
    assert_eq!(stats.protocol_errors, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_policy_reaches_an_agent_that_subscribes_later_and_a_will_reaches_the_coordinator()
 {
    let fleet = fleet().await;
    let secret = fleet.enrol("agent-a").await;
    let mut coordinator =
        connect(fleet.options("coord-1", "coordinator", "coordinator-secret")).await;
    coordinator
        .client
        .subscribe("ec/v1/agents/+/status", QoS::AtLeastOnce)
        .await
        .unwrap();
    coordinator.suback().await;
    coordinator
        .client
        .publish(
            "ec/v1/agents/agent-a/policy",
            QoS::AtLeastOnce,
            true,
            b"policy v1".to_vec(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut options = fleet.options("agent-a", "agent-a", &secret);
    options.set_last_will(LastWill::new(
        "ec/v1/agents/agent-a/status",
        b"offline".to_vec(),
        QoS::AtLeastOnce,
        false,
    ));
    let mut a = connect(options).await;
    a.client
        .subscribe("ec/v1/agents/agent-a/policy", QoS::AtLeastOnce)
        .await
        .unwrap();
    assert_eq!(
        a.publish_within(Duration::from_secs(5)).await,
        Some(("ec/v1/agents/agent-a/policy".into(), b"policy v1".to_vec()))
    );

    // The agent vanishes without a DISCONNECT: the broker publishes its will.
    drop(a);
    assert_eq!(
        coordinator.publish_within(Duration::from_secs(15)).await,
        Some(("ec/v1/agents/agent-a/status".into(), b"offline".to_vec()))
    );
}

/// The external broker of the bridge test (the machine's Mosquitto).
fn mosquitto() -> String {
    std::env::var("EDGECODER_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_carries_swarm_topics_both_ways_with_mosquitto_without_echoes() {
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let credentials = Arc::new(Credentials::new());
    let config = BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        bridge: Some(edgecoder_broker::BridgeConfig::new(
            &mosquitto(),
            &format!("edgecoder-bridge-{unique}"),
        )),
        ..BrokerConfig::default()
    };
    let broker = Broker::start(config, credentials.clone()).await.unwrap();
    let fleet = Fleet {
        broker,
        credentials,
    };
    let agent = format!("agent-{unique}");
    let secret = fleet.enrol(&agent).await;

    let (host, port) = mosquitto()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.parse::<u16>().unwrap()))
        .unwrap();
    let mut outside_options = MqttOptions::new(format!("outside-{unique}"), host, port);
    outside_options.set_keep_alive(Duration::from_secs(5));
    let mut outside = connect(outside_options).await;
    outside
        .client
        .subscribe(format!("ec/v1/agents/{agent}/heartbeat"), QoS::AtLeastOnce)
        .await
        .unwrap();
    outside.suback().await;
    let mut inside = connect(fleet.options(&agent, &agent, &secret)).await;
    inside
        .client
        .subscribe(format!("ec/v1/agents/{agent}/work"), QoS::AtLeastOnce)
        .await
        .unwrap();
    inside.suback().await;
    // Let the bridge connect and subscribe on both sides.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Embedded → Mosquitto.
    inside
        .client
        .publish(
            format!("ec/v1/agents/{agent}/heartbeat"),
            QoS::AtLeastOnce,
            false,
            b"hb-1".to_vec(),
        )
        .await
        .unwrap();
    let heartbeat = (format!("ec/v1/agents/{agent}/heartbeat"), b"hb-1".to_vec());
    assert_eq!(
        outside.publish_within(Duration::from_secs(5)).await,
        Some(heartbeat)
    );
    // Mosquitto → embedded.
    outside
        .client
        .publish(
            format!("ec/v1/agents/{agent}/work"),
            QoS::AtLeastOnce,
            false,
            b"job-1".to_vec(),
        )
        .await
        .unwrap();
    let work = (format!("ec/v1/agents/{agent}/work"), b"job-1".to_vec());
    assert_eq!(
        inside.publish_within(Duration::from_secs(5)).await,
        Some(work)
    );
    // Each crossed exactly once: no echo comes back around.
    assert_eq!(
        outside.publish_within(Duration::from_millis(1500)).await,
        None,
        "the heartbeat came around again"
    );
    assert_eq!(
        inside.publish_within(Duration::from_millis(500)).await,
        None,
        "the work came around again"
    );
}
