//! Any bytes, as a whole envelope: parsing and decoding the body of whatever kind it names
//! must return a result, never panic; what decodes must seal back to a payload that decodes to
//! the same header and message.
#![no_main]

use edgecoder_protocol::Envelope;
use edgecoder_protocol::swarm::AnyMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = Envelope::parse(data) else { return };
    let Ok(message) = AnyMessage::decode(&raw) else { return };
    assert_eq!(message.kind(), raw.envelope.kind);
    let wire = message.seal(&raw.envelope).expect("a message that decoded and passed its checks seals");
    let again = Envelope::parse(&wire).expect("a sealed envelope parses");
    assert_eq!(again.envelope, raw.envelope);
    assert_eq!(AnyMessage::decode(&again).expect("a sealed message decodes"), message);
});
