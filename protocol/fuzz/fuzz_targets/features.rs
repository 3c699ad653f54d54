//! Any bytes, as the body of a `features` envelope: decoding and checking must return a result,
//! never panic; what decodes must encode back to a body that decodes to the same message.
#![no_main]

use edgecoder_protocol::envelope::RawEnvelope;
use edgecoder_protocol::swarm::AgentFeatures;
use edgecoder_protocol::{AgentId, Envelope, MessageId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let envelope = Envelope::new::<AgentFeatures>(MessageId::default(), AgentId::new("fuzz").expect("a valid id"), 0);
    let raw = RawEnvelope { envelope: envelope.clone(), body: data, signature: None, signed_part: &[] };
    let Ok(message) = raw.decode_body::<AgentFeatures>() else { return };
    let wire = envelope.seal(&message).expect("a message that decoded and passed its checks seals");
    let opened = Envelope::open::<AgentFeatures>(&wire).expect("a sealed message opens");
    assert_eq!(opened.message, message);
});
