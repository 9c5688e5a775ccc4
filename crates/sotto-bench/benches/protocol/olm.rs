//! vodozemac's Olm as a peer reference, driven like the Sotto benches: every message goes through
//! its wire form (`to_parts` / `from_parts`), as it would between two devices.

use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig};

/// Olm's deployed configuration (v1: AES-256-CBC, HMAC-SHA256 truncated to 8 bytes); v2 is
/// behind vodozemac's `experimental-session-config` feature.
fn config() -> SessionConfig {
    SessionConfig::version_1()
}

fn over_the_wire(message: &OlmMessage) -> OlmMessage {
    let (kind, bytes) = message.to_parts();
    OlmMessage::from_parts(kind, &bytes).expect("decodes")
}

/// A responder account with one published one-time key.
pub struct Responder {
    account: Account,
    one_time_key: vodozemac::Curve25519PublicKey,
}

impl Responder {
    pub fn new() -> Self {
        let mut account = Account::new();
        account.generate_one_time_keys(1);
        let one_time_key = *account.one_time_keys().values().next().expect("one key");
        account.mark_keys_as_published();
        Self {
            account,
            one_time_key,
        }
    }
}

/// Session set-up for both sides: outbound session from the one-time key, first message,
/// inbound session from that prekey message.
pub fn set_up(alice: &Account, mut bob: Responder, plaintext: &[u8]) -> (Session, Session) {
    let mut outbound = alice
        .create_outbound_session(config(), bob.account.curve25519_key(), bob.one_time_key)
        .expect("outbound");
    let first = over_the_wire(&outbound.encrypt(plaintext).expect("encrypt"));
    let OlmMessage::PreKey(first) = first else {
        panic!("the first message is a prekey message")
    };
    let inbound = bob
        .account
        .create_inbound_session(config(), alice.curve25519_key(), &first)
        .expect("inbound");
    (outbound, inbound.session)
}

/// Two sessions after one message each way.
pub fn established() -> (Session, Session) {
    let alice = Account::new();
    let (mut outbound, mut inbound) = set_up(&alice, Responder::new(), b"hello");
    let answer = inbound.encrypt(b"hi").expect("encrypt");
    outbound.decrypt(&over_the_wire(&answer)).expect("decrypt");
    (outbound, inbound)
}

/// One message from `sender` to `receiver`.
pub fn one_way(sender: &mut Session, receiver: &mut Session, plaintext: &[u8]) -> Vec<u8> {
    let message = sender.encrypt(plaintext).expect("encrypt");
    receiver.decrypt(&over_the_wire(&message)).expect("decrypt")
}
