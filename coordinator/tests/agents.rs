//! Enrolled agents on PostgreSQL: coordinators sharing one database share their agents, so an
//! agent enrolled at one logs in at the broker of another, an enrolment token issued by one is
//! used up for all, and a revocation at one is obeyed by every one (`EDGECODER_TEST_PG`,
//! default `postgres://postgres@127.0.0.1/test`; the test gets its own schema).

use edgecoder_broker::{Authenticate, Broker, BrokerConfig, Credentials, EnrolError};
use edgecoder_coordinator::model::Backoff;
use edgecoder_coordinator::store::Postgres;
use edgecoder_protocol::ids::{AgentId, MessageId};
use edgecoder_protocol::topic::Role;
use rumqttc::{AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet};
use std::sync::Arc;
use std::time::Duration;

fn pg_url() -> String {
    std::env::var("EDGECODER_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1/test".into())
}

/// A coordinator's credentials over the shared schema, and its broker.
async fn coordinator(schema: &str) -> (Arc<Credentials>, Broker) {
    let store = Postgres::connect(&pg_url(), schema, Backoff::default())
        .await
        .expect("PostgreSQL at EDGECODER_TEST_PG must be running for the coordinator tests");
    let credentials = Arc::new(Credentials::shared(Arc::new(store)));
    credentials.add_coordinator("coordinator", "coordinator-secret");
    let config = BrokerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..BrokerConfig::default() };
    let broker = Broker::start(config, credentials.clone()).await.unwrap();
    (credentials, broker)
}

/// What the broker answers to an MQTT CONNECT as `agent` with `secret`.
async fn login(broker: &Broker, agent: &str, secret: &str) -> ConnectReturnCode {
    let address = broker.address();
    let mut options = MqttOptions::new(agent, address.ip().to_string(), address.port());
    options.set_credentials(agent, secret);
    let (_client, mut events): (AsyncClient, _) = AsyncClient::new(options, 4);
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => return ack.code,
                Ok(_) => {}
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => return code,
                Err(error) => panic!("the broker closed the connection without an answer: {error}"),
            }
        }
    });
    answer.await.expect("the broker answers a CONNECT")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinators_on_one_database_admit_the_agents_any_of_them_enrolled() {
    let schema = format!("ec_agents_{}", MessageId::random()).to_lowercase();
    let (a, broker_a) = coordinator(&schema).await;
    let (b, broker_b) = coordinator(&schema).await;
    let laptop = AgentId::new("laptop-1").unwrap();

    // A token issued by A enrols at B, once.
    let token = a.issue_enrolment_token(Duration::from_secs(60)).await.unwrap();
    let secret = b.enrol(&token, &laptop).await.unwrap().secret;
    assert_eq!(a.enrol(&token, &AgentId::new("laptop-2").unwrap()).await, Err(EnrolError::BadToken));
    assert_eq!((a.enrolled().await.unwrap(), b.enrolled().await.unwrap()), (1, 1));

    // Both brokers admit it, with its secret only, as itself only.
    assert_eq!(a.authenticate("laptop-1", "laptop-1", &secret).await, Some(Role::Agent(laptop.clone())));
    assert_eq!(login(&broker_a, "laptop-1", &secret).await, ConnectReturnCode::Success);
    assert_eq!(login(&broker_b, "laptop-1", &secret).await, ConnectReturnCode::Success);
    assert_eq!(login(&broker_a, "laptop-1", "wrong").await, ConnectReturnCode::BadUserNamePassword);
    assert_eq!(a.authenticate("laptop-2", "laptop-1", &secret).await, None, "another client id");

    // A taken id leaves the token usable at any coordinator; an expired token is refused.
    let second = b.issue_enrolment_token(Duration::from_secs(60)).await.unwrap();
    assert_eq!(a.enrol(&second, &laptop).await, Err(EnrolError::IdTaken(laptop.clone())));
    let other = a.enrol(&second, &AgentId::new("laptop-2").unwrap()).await.unwrap().secret;
    assert_eq!(login(&broker_b, "laptop-2", &other).await, ConnectReturnCode::Success);
    let expired = a.issue_enrolment_token(Duration::ZERO).await.unwrap();
    assert_eq!(b.enrol(&expired, &AgentId::new("laptop-3").unwrap()).await, Err(EnrolError::BadToken));

    // Two enrolments racing with one token at two coordinators: exactly one wins.
    let raced = a.issue_enrolment_token(Duration::from_secs(60)).await.unwrap();
    let (x, y) = (AgentId::new("racer-a").unwrap(), AgentId::new("racer-b").unwrap());
    let (first, second) = tokio::join!(a.enrol(&raced, &x), b.enrol(&raced, &y));
    assert_eq!(
        [first.is_ok(), second.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{first:?} {second:?}"
    );
    assert_eq!(a.enrolled().await.unwrap(), 3);

    // Revoked at B: refused at A's broker too.
    assert!(b.revoke(&laptop).await.unwrap());
    assert!(!a.revoke(&laptop).await.unwrap(), "gone for every coordinator");
    assert_eq!(login(&broker_a, "laptop-1", &secret).await, ConnectReturnCode::BadUserNamePassword);

    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
}
