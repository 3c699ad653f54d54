//! The swarm envelope on the wire: every message kind round-trips, and every kind of bad payload
//! (truncated, flipped, oversized, wrong version or kind, trailing garbage, random bytes) is
//! rejected with its own counted error and never panics.

use edgecoder_protocol::envelope::{MAX_ENVELOPE_BYTES, RawEnvelope, attach_signature};
use edgecoder_protocol::manifest::SignedStatement;
use edgecoder_protocol::swarm::{
    AgentFeatures, AnyMessage, Ask, ContextItem, Heartbeat, Hello, InstallState, ManifestOffer, ModelMode, ModelReport,
    Policy, Presence, SandboxLayers, Snapshot, Status, Text, Window, Work, WorkMode, WorkOutcome,
    WorkResult,
};
use edgecoder_protocol::topic::{Leaf, Mismatch};
use edgecoder_protocol::{
    AgentId, DecodeCounters, DecodeError, EncodeError, Envelope, Kind, Lang, Limits, Message,
    MessageId, PROTOCOL_VERSION, Sha256, Topic,
};

fn agent() -> AgentId {
    AgentId::new("laptop-1").unwrap()
}

fn text<const N: usize>(s: &str) -> Text<N> {
    Text::try_from(s).unwrap()
}

fn hello() -> Hello {
    Hello {
        software: text("edgecoderd 0.1.0"),
        platform: text("linux-x86_64"),
        cores: 8,
        memory_mb: 16_384,
        models: [text("qwen2.5-coder-0.5b")].into_iter().collect(),
        sandbox: SandboxLayers::REQUIRED_FOR_WORK.union(SandboxLayers::CPU_CGROUP),
        max_concurrency: 2,
    }
}

fn heartbeat() -> Heartbeat {
    Heartbeat {
        seq: 41,
        cpu_busy_percent: 12,
        user_idle_s: 600,
        running: 1,
        free_memory_mb: 9_000,
        policy_version: 3,
    }
}

const FEATURES: AgentFeatures = AgentFeatures { local_model: true, mode: ModelMode::IdeEnabled };

fn policy() -> Policy {
    Policy {
        version: 3,
        enabled: true,
        cpu_cap_percent: 50,
        memory_limit_mb: 512,
        windows: [Window {
            days: 0b001_1111,
            start_minute: 22 * 60,
            end_minute: 6 * 60,
        }]
        .into_iter()
        .collect(),
        idle_only: true,
        idle_after_s: 300,
        concurrency: 1,
        backoff_s: 60,
        heartbeat_s: 15,
    }
}

fn work() -> Work {
    Work {
        job: MessageId([1; 16]),
        subtask: MessageId([2; 16]),
        lease: MessageId([3; 16]),
        lease_ms: 30_000,
        attempt: 1,
        lang: Lang::Python,
        mode: WorkMode::MicroLoop { max_iterations: 3 },
        instruction: "Write `slugify(title)`.".into(),
        context: vec![ContextItem {
            title: "subtask 1".into(),
            text: "def normalize(s): ...".into(),
        }],
        tests: Some("assert slugify('A b') == 'a-b'".into()),
        snapshot: Snapshot {
            sha256: Sha256([7; 32]),
            bytes: 4096,
        },
        limits: Limits::default(),
        file: Some("text/slug.py".into()),
    }
}

fn result() -> WorkResult {
    WorkResult {
        job: MessageId([1; 16]),
        subtask: MessageId([2; 16]),
        lease: MessageId([3; 16]),
        attempt: 1,
        snapshot_sha256: Sha256([7; 32]),
        sandbox: SandboxLayers::REQUIRED_FOR_WORK,
        elapsed_ms: 1234,
        outcome: WorkOutcome::Completed {
            output: "def slugify(t): ...".into(),
            patch: None,
            report: None,
        },
    }
}

fn status() -> Status {
    Status {
        presence: Presence::Refusing,
        reason: text("landlock is not available"),
    }
}

fn offer() -> ManifestOffer {
    ManifestOffer {
        rollout: 3,
        signed: SignedStatement {
            statement: vec![1, 2, 3, 4],
            key: edgecoder_protocol::PublicKey([7; 32]),
            signature: vec![9; 64],
        },
    }
}

fn model_report() -> ModelReport {
    ModelReport {
        rollout: 3,
        model: "qwen2.5-coder-0.5b".into(),
        version: "1.2.0".into(),
        sequence: 8,
        state: InstallState::Downloading,
        code: String::new(),
        message: "downloading".into(),
        done_bytes: 1 << 20,
        total_bytes: 491_400_064,
        rate_bps: 40 << 20,
    }
}

fn seal<M: Message>(message: &M) -> Vec<u8> {
    Envelope::new::<M>(MessageId([9; 16]), agent(), 1_780_000_000_000)
        .seal(message)
        .unwrap()
}

/// One sealed envelope of every kind.
fn every_kind() -> Vec<(Kind, Vec<u8>)> {
    vec![
        (Kind::Hello, seal(&hello())),
        (Kind::Heartbeat, seal(&heartbeat())),
        (Kind::Ask, seal(&Ask { slots: 2 })),
        (Kind::Work, seal(&work())),
        (Kind::Result, seal(&result())),
        (Kind::Policy, seal(&policy())),
        (Kind::Status, seal(&status())),
        (Kind::Manifest, seal(&offer())),
        (Kind::ModelReport, seal(&model_report())),
        (Kind::Features, seal(&FEATURES)),
    ]
}

fn round_trip<M: Message + PartialEq + std::fmt::Debug>(message: M) {
    let header = Envelope::new::<M>(MessageId([5; 16]), agent(), 42);
    let wire = header.seal(&message).unwrap();
    let opened = Envelope::open::<M>(&wire).unwrap();
    assert_eq!(opened.envelope, header);
    assert_eq!(opened.message, message);
    assert_eq!(opened.signature, None);
    assert_eq!(opened.signed_part, &wire[..wire.len() - 1]);
    // The allocation-free path writes the same bytes.
    let mut buffer = vec![0u8; wire.len() + 16];
    assert_eq!(header.seal_into(&message, &mut buffer).unwrap(), &wire[..]);
    let mut tight = vec![0u8; wire.len() - 1];
    assert_eq!(
        header.seal_into(&message, &mut tight),
        Err(EncodeError::BufferTooSmall)
    );
}

#[test]
fn every_message_kind_round_trips() {
    round_trip(hello());
    round_trip(heartbeat());
    round_trip(Ask { slots: 1 });
    round_trip(work());
    round_trip(result());
    round_trip(policy());
    round_trip(status());
    round_trip(offer());
    round_trip(model_report());
    round_trip(FEATURES);
    for (kind, wire) in every_kind() {
        let raw = Envelope::parse(&wire).unwrap();
        let any = AnyMessage::decode(&raw).unwrap();
        assert_eq!(any.kind(), kind);
        assert_eq!(
            any.seal(&raw.envelope).unwrap(),
            wire,
            "sealing what was decoded gives the same bytes"
        );
        // The JSON mirror reads back to the same message.
        let json = serde_json::to_string(&any).unwrap();
        assert!(
            json.starts_with(&format!("{{\"kind\":\"{kind}\"")),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<AnyMessage>(&json).unwrap(), any);
    }
}

#[test]
fn small_messages_are_small() {
    // A heartbeat every 15 s from 10,000 agents must stay cheap for the broker.
    let wire = seal(&heartbeat());
    assert!(wire.len() < 64, "{} bytes", wire.len());
}

#[test]
fn wrong_version_unknown_kind_and_wrong_kind_are_named() {
    let mut wire = seal(&Ask { slots: 1 });
    assert_eq!(wire[0], PROTOCOL_VERSION as u8);
    // An agent of version 1 (before `Work` named the file it edits) and a newer one.
    for other in [1u8, PROTOCOL_VERSION as u8 + 1] {
        wire[0] = other;
        assert_eq!(
            Envelope::parse(&wire),
            Err(DecodeError::WrongVersion {
                got: u16::from(other),
                supported: PROTOCOL_VERSION
            })
        );
    }
    wire[0] = PROTOCOL_VERSION as u8;
    for code in [0u8, Kind::ALL.len() as u8 + 1, 200] {
        wire[1] = code;
        assert_eq!(
            Envelope::parse(&wire),
            Err(DecodeError::UnknownKind { code })
        );
    }
    wire[1] = Kind::Ask.code();
    assert_eq!(
        Envelope::open::<Heartbeat>(&wire).unwrap_err(),
        DecodeError::WrongKind {
            expected: Kind::Heartbeat,
            got: Kind::Ask
        }
    );
    // The kind byte says heartbeat, but the body is an ask: it does not decode as one.
    wire[1] = Kind::Heartbeat.code();
    assert_eq!(
        Envelope::open::<Heartbeat>(&wire).unwrap_err(),
        DecodeError::BadBody {
            kind: Kind::Heartbeat
        }
    );
}

#[test]
fn every_truncation_is_a_clean_error() {
    for (kind, wire) in every_kind() {
        for cut in 0..wire.len() {
            let error = Envelope::parse(&wire[..cut])
                .map(|raw| AnyMessage::decode(&raw))
                .unwrap_err();
            assert!(
                matches!(error, DecodeError::Truncated { .. }),
                "{kind} cut at {cut}: {error:?}"
            );
        }
    }
}

#[test]
fn trailing_bytes_oversize_and_bad_signatures_are_rejected() {
    let mut wire = seal(&heartbeat());
    wire.push(0);
    assert_eq!(
        Envelope::parse(&wire),
        Err(DecodeError::TrailingBytes { count: 1 })
    );
    let huge = vec![1u8; MAX_ENVELOPE_BYTES + 1];
    assert_eq!(
        Envelope::parse(&huge),
        Err(DecodeError::TooLarge {
            len: MAX_ENVELOPE_BYTES + 1,
            max: MAX_ENVELOPE_BYTES
        })
    );

    let wire = seal(&heartbeat());
    let mut short_signature = wire[..wire.len() - 1].to_vec();
    short_signature.extend_from_slice(&[1, 3, 0xaa, 0xbb, 0xcc]);
    assert_eq!(
        Envelope::parse(&short_signature),
        Err(DecodeError::BadSignature { len: 3 })
    );
    let mut bad_option = wire.clone();
    *bad_option.last_mut().unwrap() = 7;
    assert_eq!(
        Envelope::parse(&bad_option),
        Err(DecodeError::Malformed { field: "signature" })
    );
}

#[test]
fn a_signature_covers_every_byte_before_it() {
    let wire = seal(&policy());
    let signature = [0x5a; 64];
    let signed = attach_signature(&wire, &signature).unwrap();
    let opened = Envelope::open::<Policy>(&signed).unwrap();
    assert_eq!(opened.signature, Some(&signature));
    assert_eq!(opened.signed_part, &wire[..wire.len() - 1]);
    assert_eq!(opened.message, policy());
    // Signing twice is refused; the signed part of a signed envelope is the same bytes.
    assert!(attach_signature(&signed, &signature).is_err());
    assert_eq!(
        Envelope::parse(&signed).unwrap().signed_part,
        Envelope::parse(&wire).unwrap().signed_part
    );
}

#[test]
fn bodies_over_their_kinds_limit_are_refused_both_ways() {
    let mut big = work();
    big.instruction = "x".repeat(Work::MAX_BODY);
    let header = Envelope::new::<Work>(MessageId::default(), agent(), 0);
    assert!(matches!(
        header.seal(&big),
        Err(EncodeError::BodyTooLarge {
            kind: Kind::Work,
            ..
        })
    ));

    // A heartbeat body padded past its 64-byte limit inside an otherwise valid envelope.
    let wire = seal(&heartbeat());
    let raw = Envelope::parse(&wire).unwrap();
    let padded = [raw.body, &[0u8; 80][..]].concat();
    let forged = RawEnvelope {
        body: &padded,
        ..raw
    };
    assert!(matches!(
        forged.decode_body::<Heartbeat>(),
        Err(DecodeError::BodyTooLarge {
            kind: Kind::Heartbeat,
            len: 88..,
            max: 64
        })
    ));
}

#[test]
fn invalid_messages_are_refused_on_send_and_on_receipt() {
    let mut bad = policy();
    bad.cpu_cap_percent = 0;
    let header = Envelope::new::<Policy>(MessageId::default(), agent(), 0);
    assert_eq!(
        header.seal(&bad),
        Err(EncodeError::Invalid {
            kind: Kind::Policy,
            reason: "cpu_cap_percent must be 1-100"
        })
    );
    // Forge the invalid policy onto the wire by hand: the receiver refuses it.
    let good = seal(&policy());
    let raw = Envelope::parse(&good).unwrap();
    let body = postcard::to_allocvec(&bad).unwrap();
    let forged = RawEnvelope { body: &body, ..raw };
    assert_eq!(
        forged.decode_body::<Policy>(),
        Err(DecodeError::Invalid {
            kind: Kind::Policy,
            reason: "cpu_cap_percent must be 1-100"
        })
    );

    // Work may only name a file inside the snapshot; the receiver refuses any other path.
    for (path, reason) in [
        ("../etc/passwd", "a snapshot path has no empty, `.` or `..` parts"),
        ("src/./x.py", "a snapshot path has no empty, `.` or `..` parts"),
        ("src//x.py", "a snapshot path has no empty, `.` or `..` parts"),
        ("src/", "a snapshot path has no empty, `.` or `..` parts"),
        ("/etc/passwd", "a snapshot path is relative to the snapshot's root, not absolute"),
        ("src\\x.py", "a snapshot path uses `/` between its parts and no control characters"),
        ("x\n.py", "a snapshot path uses `/` between its parts and no control characters"),
        ("", "a snapshot path has 1 to 512 bytes"),
    ] {
        let mut escaping = work();
        escaping.file = Some(path.into());
        assert_eq!(
            Envelope::new::<Work>(MessageId::default(), agent(), 0).seal(&escaping),
            Err(EncodeError::Invalid { kind: Kind::Work, reason }),
            "{path:?}"
        );
        let sealed = seal(&work());
        let raw = Envelope::parse(&sealed).unwrap();
        let body = postcard::to_allocvec(&escaping).unwrap();
        assert_eq!(
            RawEnvelope { body: &body, ..raw }.decode_body::<Work>(),
            Err(DecodeError::Invalid { kind: Kind::Work, reason }),
            "{path:?}"
        );
    }
    let mut long = work();
    long.file = Some(format!("{}.py", "a/".repeat(300)));
    assert!(Envelope::new::<Work>(MessageId::default(), agent(), 0).seal(&long).is_err());
    for fine in ["calc.py", "src/deep/er/x.js", ".github/ci.yml", "a..b.py"] {
        let mut edit = work();
        edit.file = Some(fine.into());
        assert!(Envelope::new::<Work>(MessageId::default(), agent(), 0).seal(&edit).is_ok(), "{fine}");
    }

    let mut unconfined = result();
    unconfined.sandbox = SandboxLayers::RLIMITS;
    assert!(matches!(
        Envelope::new::<WorkResult>(MessageId::default(), agent(), 0).seal(&unconfined),
        Err(EncodeError::Invalid { .. })
    ));
    let mut hollow = hello();
    hollow.sandbox = SandboxLayers::default();
    assert!(
        Envelope::new::<Hello>(MessageId::default(), agent(), 0)
            .seal(&hollow)
            .is_err()
    );
    hollow.max_concurrency = 0;
    assert!(
        Envelope::new::<Hello>(MessageId::default(), agent(), 0)
            .seal(&hollow)
            .is_ok(),
        "a report-only device needs no sandbox"
    );
    let mut silent = model_report();
    silent.state = InstallState::Refused;
    assert!(
        Envelope::new::<ModelReport>(MessageId::default(), agent(), 0)
            .seal(&silent)
            .is_err(),
        "a refusal without its reason code"
    );
    silent.code = "bad_signature".into();
    assert!(
        Envelope::new::<ModelReport>(MessageId::default(), agent(), 0)
            .seal(&silent)
            .is_ok()
    );
    let mut overdone = model_report();
    overdone.done_bytes = overdone.total_bytes + 1;
    assert!(
        Envelope::new::<ModelReport>(MessageId::default(), agent(), 0)
            .seal(&overdone)
            .is_err()
    );
    let mut empty = offer();
    empty.signed.statement.clear();
    assert!(
        Envelope::new::<ManifestOffer>(MessageId::default(), agent(), 0)
            .seal(&empty)
            .is_err()
    );
    let mut nowhere = policy();
    nowhere.windows[0].end_minute = nowhere.windows[0].start_minute;
    assert!(
        Envelope::new::<Policy>(MessageId::default(), agent(), 0)
            .seal(&nowhere)
            .is_err()
    );
}

#[test]
fn a_bad_sender_id_is_rejected() {
    let wire = seal(&Ask { slots: 1 });
    // The sender follows version (1), kind (1) and id (16): a length byte, then "laptop-1".
    let at = 1 + 1 + 16 + 1;
    assert_eq!(&wire[at..at + 8], b"laptop-1");
    let mut slash = wire.clone();
    slash[at + 6] = b'/';
    assert!(matches!(
        Envelope::parse(&slash),
        Err(DecodeError::BadSender(_))
    ));
}

#[test]
fn topics_admit_only_their_kind_from_their_agent() {
    let wire = seal(&heartbeat());
    let raw = Envelope::parse(&wire).unwrap();
    assert_eq!(
        Topic::agent(&agent(), Leaf::Heartbeat).admits(&raw.envelope),
        Ok(())
    );
    assert_eq!(
        Topic::agent(&agent(), Leaf::Ask).admits(&raw.envelope),
        Err(Mismatch::Kind {
            topic: Kind::Ask,
            envelope: Kind::Heartbeat
        })
    );
    let other = AgentId::new("laptop-2").unwrap();
    assert_eq!(
        Topic::agent(&other, Leaf::Heartbeat).admits(&raw.envelope),
        Err(Mismatch::Sender)
    );
    // Work comes from the coordinator, whose id is not the agent's.
    let work = Envelope::new::<Work>(MessageId::default(), AgentId::new("coord-1").unwrap(), 0)
        .seal(&work())
        .unwrap();
    assert_eq!(
        Topic::agent(&agent(), Leaf::Work).admits(&Envelope::parse(&work).unwrap().envelope),
        Ok(())
    );
}

/// xorshift64*: deterministic bytes for the mutation tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn decode_and_count(payload: &[u8], counters: &DecodeCounters) -> bool {
    match Envelope::parse(payload).and_then(|raw| AnyMessage::decode(&raw)) {
        Ok(_) => true,
        Err(error) => {
            counters.record(error);
            false
        }
    }
}

#[test]
fn mutated_and_random_payloads_never_panic_and_every_rejection_is_counted() {
    let counters = DecodeCounters::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut rejected = 0u64;
    let seeds = every_kind();
    for round in 0..20_000 {
        let (_, seed) = &seeds[round % seeds.len()];
        let mut payload = seed.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % payload.len();
            match rng.next() % 4 {
                0 => payload[at] ^= 1 << (rng.next() % 8),
                1 => payload[at] = rng.next() as u8,
                2 => {
                    payload.insert(at, rng.next() as u8);
                }
                _ => {
                    payload.remove(at);
                    if payload.is_empty() {
                        payload.push(0);
                    }
                }
            }
        }
        rejected += u64::from(!decode_and_count(&payload, &counters));
    }
    for _ in 0..20_000 {
        let len = (rng.next() % 300) as usize;
        let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        rejected += u64::from(!decode_and_count(&payload, &counters));
    }
    assert_eq!(counters.total(), rejected);
    assert!(
        rejected > 30_000,
        "only {rejected} of 40,000 mutated or random payloads were rejected"
    );
    let snapshot = counters.snapshot();
    for code in [
        "truncated",
        "malformed",
        "wrong_version",
        "unknown_kind",
        "bad_body",
    ] {
        assert!(counters.get(code) > 0, "no `{code}` among {snapshot:?}");
    }
}
