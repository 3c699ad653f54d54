//! The broker's TLS listener with real rumqttc clients: an agent that trusts the development CA
//! logs in and gets its work over TLS under the same ACLs, while a client that trusts another
//! CA, a plain MQTT client on the TLS port, and unusable certificate files are refused.

use edgecoder_broker::{Broker, BrokerConfig, BrokerError, Credentials, DevCa, TlsError, TlsListener};
use edgecoder_protocol::AgentId;
use rumqttc::{AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn hosts() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

async fn broker(dir: &Path, credentials: Arc<Credentials>) -> Broker {
    let config = BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(TlsListener {
            listen: "127.0.0.1:0".parse().unwrap(),
            certificate: dir.join("server.pem"),
            key: dir.join("server.key"),
        }),
        ..BrokerConfig::default()
    };
    Broker::start(config, credentials).await.unwrap()
}

/// A client configuration that trusts only the CA certificates in the PEM file `ca`.
fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn options(id: &str, password: &str, address: SocketAddr, ca: Option<&Path>) -> MqttOptions {
    let mut options = MqttOptions::new(id, "localhost", address.port());
    options.set_credentials(id, password);
    options.set_keep_alive(Duration::from_secs(5));
    if let Some(ca) = ca {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(client_config(ca))));
    }
    options
}

/// Polls until CONNACK; the error text when the connection fails first.
async fn connect(options: MqttOptions) -> Result<(AsyncClient, rumqttc::EventLoop), String> {
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    match tokio::time::timeout(Duration::from_secs(10), eventloop.poll()).await.expect("no answer within 10 s") {
        Ok(Event::Incoming(Packet::ConnAck(ack))) if ack.code == ConnectReturnCode::Success => Ok((client, eventloop)),
        Ok(other) => Err(format!("{other:?}")),
        Err(error) => Err(error.to_string()),
    }
}

/// The next publish's topic and payload; `None` when the connection fails first.
async fn next_publish(eventloop: &mut rumqttc::EventLoop) -> Option<(String, Vec<u8>)> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), eventloop.poll()).await.expect("nothing within 10 s") {
            Ok(Event::Incoming(Packet::Publish(p))) => return Some((p.topic, p.payload.to_vec())),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

#[test]
fn the_development_ca_is_written_once_with_private_keys() {
    let dir = tempfile::tempdir().unwrap();
    let written = DevCa::generate(&hosts()).unwrap().write(dir.path()).unwrap();
    let names: Vec<_> = written.iter().map(|p| p.file_name().unwrap().to_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["ca.pem", "ca.key", "server.pem", "server.key"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode("ca.key"), mode("server.key"), mode("ca.pem")), (0o600, 0o600, 0o644));
    }
    let chain = std::fs::read_to_string(dir.path().join("server.pem")).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "the leaf and the CA");

    let before = std::fs::read(dir.path().join("ca.key")).unwrap();
    let again = DevCa::generate(&hosts()).unwrap().write(dir.path());
    assert!(matches!(again, Err(TlsError::Exists(ref path)) if path.ends_with("ca.pem")), "{again:?}");
    assert_eq!(std::fs::read(dir.path().join("ca.key")).unwrap(), before, "nothing was replaced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gets_its_work_over_tls_and_the_acls_still_hold() {
    let dir = tempfile::tempdir().unwrap();
    DevCa::generate(&hosts()).unwrap().write(dir.path()).unwrap();
    let credentials = Arc::new(Credentials::new());
    credentials.add_coordinator("coordinator", "coordinator-secret");
    let token = credentials.issue_enrolment_token(Duration::from_secs(60)).await.unwrap();
    let secret = credentials.enrol(&token, &AgentId::new("agent-a").unwrap()).await.unwrap().secret;
    let broker = broker(dir.path(), credentials).await;
    let tls = broker.tls_address().expect("the TLS listener is up");
    assert_ne!(tls, broker.address());

    let ca = dir.path().join("ca.pem");
    let (agent, mut agent_events) = connect(options("agent-a", &secret, tls, Some(&ca))).await.unwrap();
    agent.subscribe("ec/v1/agents/agent-a/work", QoS::AtLeastOnce).await.unwrap();
    let (coordinator, mut coordinator_events) =
        connect(options("coordinator", "coordinator-secret", broker.address(), None)).await.unwrap();
    tokio::spawn(async move { while coordinator_events.poll().await.is_ok() {} });
    // Until the subscription is in place, the work is published again.
    let mut received = None;
    for _ in 0..20 {
        coordinator.publish("ec/v1/agents/agent-a/work", QoS::AtLeastOnce, false, b"job 1".to_vec()).await.unwrap();
        if let Ok(found) = tokio::time::timeout(Duration::from_millis(500), next_publish(&mut agent_events)).await {
            received = found;
            break;
        }
    }
    assert_eq!(received, Some(("ec/v1/agents/agent-a/work".into(), b"job 1".to_vec())));

    // Publishing as another agent ends the TLS connection just as it would a plain one.
    agent.publish("ec/v1/agents/agent-b/result", QoS::AtLeastOnce, false, b"forged".to_vec()).await.unwrap();
    assert_eq!(next_publish(&mut agent_events).await, None);
    assert_eq!(broker.stats().denied_publishes, 1);
    assert_eq!(broker.stats().tls_failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_ca_and_plain_mqtt_on_the_tls_port_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    DevCa::generate(&hosts()).unwrap().write(dir.path()).unwrap();
    let other = tempfile::tempdir().unwrap();
    DevCa::generate(&hosts()).unwrap().write(other.path()).unwrap();
    let credentials = Arc::new(Credentials::new());
    credentials.add_coordinator("coordinator", "coordinator-secret");
    let broker = broker(dir.path(), credentials).await;
    let tls = broker.tls_address().unwrap();

    let foreign = connect(options("coordinator", "coordinator-secret", tls, Some(&other.path().join("ca.pem")))).await;
    let error = foreign.err().expect("a certificate from an untrusted CA is refused");
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    let plain = connect(options("coordinator", "coordinator-secret", tls, None)).await;
    assert!(plain.is_err(), "plain MQTT on the TLS port must fail");
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while broker.stats().tls_failures < 2 && std::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(broker.stats().tls_failures, 2);
    assert_eq!(broker.stats().connections, 0);

    // The plain listener still serves.
    assert!(connect(options("coordinator", "coordinator-secret", broker.address(), None)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_certificate_files_stop_the_start_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    DevCa::generate(&hosts()).unwrap().write(dir.path()).unwrap();
    let other = tempfile::tempdir().unwrap();
    DevCa::generate(&hosts()).unwrap().write(other.path()).unwrap();
    let start = |certificate: &Path, key: &Path| {
        let config = BrokerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: Some(TlsListener { listen: "127.0.0.1:0".parse().unwrap(), certificate: certificate.into(), key: key.into() }),
            ..BrokerConfig::default()
        };
        Broker::start(config, Arc::new(Credentials::new()))
    };

    let missing = start(&dir.path().join("nope.pem"), &dir.path().join("server.key")).await.err().unwrap();
    assert!(matches!(missing, BrokerError::Tls(TlsError::Pem { .. })), "{missing:?}");
    assert!(missing.to_string().contains("edgecoder-coordinator certs"), "{missing}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let empty = start(&garbage, &dir.path().join("server.key")).await.err().unwrap();
    assert!(empty.to_string().contains("no CERTIFICATE"), "{empty}");

    let mismatched = start(&dir.path().join("server.pem"), &other.path().join("server.key")).await.err().unwrap();
    assert!(matches!(mismatched, BrokerError::Tls(TlsError::Config(_))), "{mismatched:?}");
}
