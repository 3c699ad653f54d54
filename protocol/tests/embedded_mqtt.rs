//! The microcontroller adapter against a real MQTT broker (the Mosquitto server of the
//! machine, `EDGECODER_TEST_MQTT`, default 127.0.0.1:1883): a small device, speaking through an
//! `embedded-svc` client (here implemented over `rumqttc`, as ESP-IDF implements it on a chip),
//! sends its hello and heartbeats to a coordinator and obeys the policies the coordinator
//! publishes; garbage and stale policies leave its policy as it was.

use edgecoder_protocol::envelope::unix_time_ms;
use edgecoder_protocol::embedded::{Received, SwarmLink};
use edgecoder_protocol::swarm::{Heartbeat, Hello, Policy, Presence, SandboxLayers, Status, Text};
use edgecoder_protocol::topic::Leaf;
use edgecoder_protocol::{AgentId, Envelope, Kind, MessageId, Topic};
use embedded_svc::mqtt::client::{Details, ErrorType, EventPayload, MessageId as MqttId, QoS};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// `embedded-svc`'s client traits over a `rumqttc` client.
struct Rumqttc(rumqttc::Client);

impl ErrorType for Rumqttc {
    type Error = rumqttc::ClientError;
}

fn qos(qos: QoS) -> rumqttc::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

impl embedded_svc::mqtt::client::Client for Rumqttc {
    fn subscribe<'a>(&'a mut self, topic: &'a str, level: QoS) -> Result<MqttId, Self::Error> {
        self.0.subscribe(topic, qos(level)).map(|()| 0)
    }

    fn unsubscribe<'a>(&'a mut self, topic: &'a str) -> Result<MqttId, Self::Error> {
        self.0.unsubscribe(topic).map(|()| 0)
    }
}

impl embedded_svc::mqtt::client::Publish for Rumqttc {
    fn publish<'a>(
        &'a mut self,
        topic: &'a str,
        level: QoS,
        retain: bool,
        payload: &'a [u8],
    ) -> Result<MqttId, Self::Error> {
        self.0
            .publish(topic, qos(level), retain, payload.to_vec())
            .map(|()| 0)
    }
}

fn broker() -> (String, u16) {
    let address = std::env::var("EDGECODER_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into());
    let (host, port) = address
        .rsplit_once(':')
        .expect("EDGECODER_TEST_MQTT is HOST:PORT");
    (host.into(), port.parse().expect("EDGECODER_TEST_MQTT port"))
}

/// A connected client and the messages it receives, as (topic, payload).
fn connect(name: &str) -> (rumqttc::Client, Receiver<(String, Vec<u8>)>) {
    let (host, port) = broker();
    let mut options = rumqttc::MqttOptions::new(name, host, port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = rumqttc::Client::new(options, 64);
    let (sender, received) = channel();
    let (connected, ready) = channel();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    let _ = connected.send(());
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish))) => {
                    if sender
                        .send((publish.topic, publish.payload.to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => panic!(
                    "MQTT connection to the test broker failed: {error} (is Mosquitto running? set EDGECODER_TEST_MQTT)"
                ),
            }
        }
    });
    ready
        .recv_timeout(Duration::from_secs(10))
        .expect("no CONNACK from the test broker within 10 s");
    (client, received)
}

fn fresh_id(n: u8) -> MessageId {
    let mut id = [n; 16];
    id[..8].copy_from_slice(&unix_time_ms().to_le_bytes());
    MessageId(id)
}

fn policy(version: u32, cap: u8) -> Policy {
    Policy {
        version,
        enabled: true,
        cpu_cap_percent: cap,
        memory_limit_mb: 64,
        windows: heapless::Vec::new(),
        idle_only: true,
        idle_after_s: 120,
        concurrency: 0,
        backoff_s: 30,
        heartbeat_s: 15,
    }
}

/// Waits for the next message on `topic`, skipping others.
fn next_on(received: &Receiver<(String, Vec<u8>)>, topic: &str) -> Vec<u8> {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok((t, payload)) if t == topic => return payload,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                panic!("nothing arrived on {topic} within 10 s")
            }
        }
    }
}

/// Feeds what the device's connection received to its link, as ESP-IDF's event loop would.
fn deliver(
    link: &mut SwarmLink<Rumqttc>,
    received: &Receiver<(String, Vec<u8>)>,
    topic: &str,
) -> Received {
    let payload = next_on(received, topic);
    let event: EventPayload<'_, rumqttc::ClientError> = EventPayload::Received {
        id: 0,
        topic: Some(topic),
        data: &payload,
        details: Details::Complete,
    };
    link.handle(&event)
}

#[test]
fn a_small_device_reports_and_obeys_policy_over_a_real_broker() {
    let agent = AgentId::new(&format!("esp32-{}-{}", std::process::id(), unix_time_ms())).unwrap();
    let coordinator_id = AgentId::new("coord-test").unwrap();
    let policy_topic = Topic::agent(&agent, Leaf::Policy).to_string();

    let (coordinator, coordinator_inbox) = connect(&format!("{agent}-coordinator"));
    coordinator
        .subscribe(format!("ec/v1/agents/{agent}/+"), rumqttc::QoS::AtLeastOnce)
        .unwrap();
    let (device_client, device_inbox) = connect(agent.as_str());
    let mut link = SwarmLink::new(Rumqttc(device_client), agent.clone());
    link.subscribe().unwrap();
    // Let both subscriptions reach the broker before anything is published.
    std::thread::sleep(Duration::from_millis(300));

    let hello = Hello {
        software: Text::try_from("edgecoder-fw 0.1.0").unwrap(),
        platform: Text::try_from("esp-idf-xtensa").unwrap(),
        cores: 2,
        memory_mb: 8,
        models: heapless::Vec::new(),
        sandbox: SandboxLayers::default(),
        max_concurrency: 0,
    };
    link.send(&hello, fresh_id(1), unix_time_ms()).unwrap();
    let wire = next_on(
        &coordinator_inbox,
        &Topic::agent(&agent, Leaf::Hello).to_string(),
    );
    let opened = Envelope::open::<Hello>(&wire).unwrap();
    assert_eq!(opened.message, hello);
    assert_eq!(opened.envelope.sender, agent);

    let heartbeat = Heartbeat {
        seq: link.next_heartbeat_seq(),
        cpu_busy_percent: 3,
        user_idle_s: u32::MAX,
        running: 0,
        free_memory_mb: 5,
        policy_version: 0,
    };
    link.send(&heartbeat, fresh_id(2), unix_time_ms()).unwrap();
    let wire = next_on(
        &coordinator_inbox,
        &Topic::agent(&agent, Leaf::Heartbeat).to_string(),
    );
    let raw = Envelope::parse(&wire).unwrap();
    Topic::agent(&agent, Leaf::Heartbeat)
        .admits(&raw.envelope)
        .unwrap();
    assert_eq!(raw.decode_body::<Heartbeat>().unwrap(), heartbeat);

    // The coordinator sets a policy (retained): the device applies it.
    let publish = |payload: Vec<u8>| {
        coordinator
            .publish(
                policy_topic.clone(),
                rumqttc::QoS::AtLeastOnce,
                true,
                payload,
            )
            .unwrap()
    };
    let v2 = policy(2, 40);
    publish(
        Envelope::new::<Policy>(fresh_id(3), coordinator_id.clone(), unix_time_ms())
            .seal(&v2)
            .unwrap(),
    );
    assert_eq!(
        deliver(&mut link, &device_inbox, &policy_topic),
        Received::Policy(v2.clone())
    );
    assert_eq!(link.policy(), Some(&v2));

    // Garbage, a heartbeat on the policy topic, and an older policy change nothing.
    publish(b"\x01\x06garbage".to_vec());
    assert!(matches!(
        deliver(&mut link, &device_inbox, &policy_topic),
        Received::Rejected(_)
    ));
    publish(
        Envelope::new::<Heartbeat>(fresh_id(4), coordinator_id.clone(), unix_time_ms())
            .seal(&heartbeat)
            .unwrap(),
    );
    assert!(matches!(
        deliver(&mut link, &device_inbox, &policy_topic),
        Received::Rejected(edgecoder_protocol::DecodeError::WrongKind {
            got: Kind::Heartbeat,
            ..
        })
    ));
    publish(
        Envelope::new::<Policy>(fresh_id(5), coordinator_id.clone(), unix_time_ms())
            .seal(&policy(1, 90))
            .unwrap(),
    );
    assert_eq!(
        deliver(&mut link, &device_inbox, &policy_topic),
        Received::StalePolicy { version: 1 }
    );
    assert_eq!(link.policy(), Some(&v2), "the policy in force is unchanged");
    assert_eq!(link.rejected.total(), 2);
    assert_eq!(link.rejected.get("wrong_kind"), 1);

    let refusing = Status {
        presence: Presence::Refusing,
        reason: Text::try_from("no executor on this device").unwrap(),
    };
    link.send(&refusing, fresh_id(6), unix_time_ms()).unwrap();
    let wire = next_on(
        &coordinator_inbox,
        &Topic::agent(&agent, Leaf::Status).to_string(),
    );
    assert_eq!(Envelope::open::<Status>(&wire).unwrap().message, refusing);

    // Clear the retained messages this test left on the shared broker.
    for leaf in [Leaf::Policy, Leaf::Status] {
        coordinator
            .publish(
                Topic::agent(&agent, leaf).to_string(),
                rumqttc::QoS::AtLeastOnce,
                true,
                Vec::new(),
            )
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
}
