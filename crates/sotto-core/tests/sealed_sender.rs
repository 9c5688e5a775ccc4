//! Sealed sender: round trips, every rejection with its typed error, flipped bytes in each
//! layer, re-addressed envelopes, and re-sealing by another recipient.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chacha20::ChaCha20Rng;
use prost::Message as _;
use rand_core::SeedableRng;
use sotto_core::sealed::{
    CertificateValidator, MultiSealed, SealedSenderError, SenderCertificate, ServerSigner,
    TrustRootKeyPair, Unsealed, multi_envelope, seal, seal_for_many, unseal, unseal_multi,
};
use sotto_core::{Address, IdentityKeyPair};
use sotto_proto::sealed as wire;

const NOW: u64 = 1_800_000_000_000;
const DAY: u64 = 86_400_000;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// One device of one account.
struct Party {
    identity: IdentityKeyPair,
    address: Address,
}

impl Party {
    fn new(account: &str, device: u32, seed: u64) -> Self {
        Self {
            identity: IdentityKeyPair::generate(&mut rng(seed)),
            address: Address::new(account, device).unwrap(),
        }
    }

    /// Another device of the same account (same identity).
    fn other_device(&self, device: u32) -> Self {
        Self {
            identity: self.identity.clone(),
            address: Address::new(self.address.account(), device).unwrap(),
        }
    }
}

/// A server with a root, a current key (id 7) and an older one (id 3).
struct Server {
    root: TrustRootKeyPair,
    current: ServerSigner,
    old: ServerSigner,
}

impl Server {
    fn new(seed: u64) -> Self {
        let mut rng = rng(seed);
        let root = TrustRootKeyPair::generate(&mut rng);
        let current = root.certify(&mut rng, 7);
        let old = root.certify(&mut rng, 3);
        Self { root, current, old }
    }

    fn certificate(&self, party: &Party) -> SenderCertificate {
        self.current
            .sender_certificate(&party.address, party.identity.public(), NOW + DAY)
    }

    fn validator(&self) -> CertificateValidator {
        CertificateValidator::new(self.root.trust_root(), NOW)
    }
}

fn alice_and_bob() -> (Server, Party, Party) {
    (
        Server::new(1),
        Party::new("alice", 1, 2),
        Party::new("bob", 1, 3),
    )
}

fn seal_to(server: &Server, from: &Party, to: &Party, message: &[u8]) -> Vec<u8> {
    seal(
        &mut rng(9),
        &from.identity,
        &server.certificate(from),
        to.identity.public(),
        message,
        None,
    )
    .unwrap()
}

fn open(server: &Server, to: &Party, envelope: &[u8]) -> Result<Vec<u8>, SealedSenderError> {
    unseal(&to.identity, &to.address, &server.validator(), envelope).map(|u| u.message)
}

#[test]
fn a_sealed_message_reveals_its_certified_sender_only_to_the_recipient() {
    let (server, alice, bob) = alice_and_bob();
    let envelope = seal_to(&server, &alice, &bob, b"\x11ratchet message");
    let opened = unseal(&bob.identity, &bob.address, &server.validator(), &envelope).unwrap();
    assert_eq!(opened.message, b"\x11ratchet message");
    assert_eq!(opened.certificate.sender(), &alice.address);
    assert_eq!(opened.certificate.identity(), alice.identity.public());
    assert_eq!(opened.group_id, None);
    // Neither the account id nor the identity appears in the bytes the relay carries.
    let identity = alice.identity.public().encode();
    assert!(!envelope.windows(5).any(|w| w == b"alice"));
    assert!(
        !envelope
            .windows(32)
            .any(|w| identity.windows(32).any(|k| k == w))
    );
}

#[test]
fn a_sync_transcript_from_another_device_of_the_same_account_is_accepted() {
    let server = Server::new(1);
    let phone = Party::new("alice", 1, 2);
    let laptop = phone.other_device(2);
    let envelope = seal_to(&server, &phone, &laptop, b"\x11sent transcript");
    assert_eq!(
        open(&server, &laptop, &envelope).unwrap(),
        b"\x11sent transcript"
    );
}

#[test]
fn a_certificate_naming_the_receiving_device_itself_is_refused() {
    let server = Server::new(1);
    let bob = Party::new("bob", 1, 3);
    let envelope = seal_to(&server, &bob, &bob, b"\x11to myself");
    assert_eq!(
        open(&server, &bob, &envelope),
        Err(SealedSenderError::SelfSent)
    );
}

#[test]
fn an_expired_certificate_is_refused() {
    let (server, alice, bob) = alice_and_bob();
    let expired = server
        .current
        .sender_certificate(&alice.address, alice.identity.public(), NOW);
    let envelope = seal(
        &mut rng(9),
        &alice.identity,
        &expired,
        bob.identity.public(),
        b"x",
        None,
    )
    .unwrap();
    assert_eq!(
        open(&server, &bob, &envelope),
        Err(SealedSenderError::Expired {
            expires_ms: NOW,
            now_ms: NOW
        })
    );
}

#[test]
fn a_certificate_signed_by_a_revoked_server_key_is_refused() {
    let (server, alice, bob) = alice_and_bob();
    let certificate =
        server
            .old
            .sender_certificate(&alice.address, alice.identity.public(), NOW + DAY);
    let envelope = seal(
        &mut rng(9),
        &alice.identity,
        &certificate,
        bob.identity.public(),
        b"x",
        None,
    )
    .unwrap();
    // Accepted while key 3 is valid, refused once it is revoked.
    assert!(open(&server, &bob, &envelope).is_ok());
    let validator = server.validator().with_revoked([3]);
    assert_eq!(
        unseal(&bob.identity, &bob.address, &validator, &envelope).unwrap_err(),
        SealedSenderError::RevokedServerKey { key_id: 3 }
    );
}

#[test]
fn a_certificate_from_another_servers_root_is_refused() {
    let (server, alice, bob) = alice_and_bob();
    let rogue = Server::new(99);
    let envelope = seal_to(&rogue, &alice, &bob, b"x");
    assert_eq!(
        open(&server, &bob, &envelope),
        Err(SealedSenderError::UntrustedServerKey)
    );
}

#[test]
fn a_certificate_whose_signer_was_swapped_is_refused() {
    let (server, alice, _) = alice_and_bob();
    // Signed by key 7, but claiming key 3's (genuinely certified) server certificate.
    let signed_by_7 =
        wire::SenderCertificate::decode(server.certificate(&alice).encode().as_slice()).unwrap();
    let by_3 = server
        .old
        .sender_certificate(&alice.address, alice.identity.public(), NOW + DAY);
    let by_3 = wire::SenderCertificate::decode(by_3.encode().as_slice()).unwrap();
    let mut body = wire::SenderCertificateBody::decode(signed_by_7.body.as_slice()).unwrap();
    body.signer = wire::SenderCertificateBody::decode(by_3.body.as_slice())
        .unwrap()
        .signer;
    let forged = wire::SenderCertificate {
        body: body.encode_to_vec(),
        signature: signed_by_7.signature,
    }
    .encode_to_vec();
    let forged = SenderCertificate::from_wire(&forged).unwrap();
    assert_eq!(
        server.validator().validate(&forged),
        Err(SealedSenderError::BadCertificateSignature)
    );
}

#[test]
fn a_certificate_for_another_identity_than_the_sealing_one_is_refused() {
    let (server, alice, bob) = alice_and_bob();
    let mallory = Party::new("mallory", 1, 4);
    // Mallory seals with her own identity but presents alice's certificate.
    let envelope = seal(
        &mut rng(9),
        &mallory.identity,
        &server.certificate(&alice),
        bob.identity.public(),
        b"x",
        None,
    )
    .unwrap();
    assert_eq!(
        open(&server, &bob, &envelope),
        Err(SealedSenderError::IdentityMismatch)
    );
}

#[test]
fn an_envelope_readdressed_to_another_recipient_fails() {
    let (server, alice, bob) = alice_and_bob();
    let carol = Party::new("carol", 1, 5);
    let envelope = seal_to(&server, &alice, &bob, b"x");
    assert_eq!(
        open(&server, &carol, &envelope),
        Err(SealedSenderError::OuterLayer)
    );
}

/// Byte ranges of an envelope's three fields (after the version byte).
fn field_ranges(envelope: &[u8]) -> [(usize, usize); 3] {
    let decoded = wire::SealedEnvelope::decode(&envelope[1..]).unwrap();
    let find = |field: &[u8]| {
        let start = envelope
            .windows(field.len())
            .position(|w| w == field)
            .unwrap();
        (start, start + field.len())
    };
    [
        find(&decoded.ephemeral_key),
        find(&decoded.encrypted_static),
        find(&decoded.encrypted_message),
    ]
}

#[test]
fn a_flipped_byte_anywhere_is_refused_with_the_layer_that_caught_it() {
    let (server, alice, bob) = alice_and_bob();
    let envelope = seal_to(&server, &alice, &bob, b"\x11some message");
    let [_, outer, inner] = field_ranges(&envelope);
    for i in 0..envelope.len() {
        let mut flipped = envelope.clone();
        flipped[i] ^= 0x01;
        let error = open(&server, &bob, &flipped).unwrap_err();
        let expected_layer = if (outer.0..outer.1).contains(&i) {
            Some(SealedSenderError::OuterLayer)
        } else if (inner.0..inner.1).contains(&i) {
            Some(SealedSenderError::InnerLayer)
        } else {
            None
        };
        // Elsewhere (version byte, protobuf framing, the ephemeral key) any refusal will do.
        if let Some(layer) = expected_layer {
            assert_eq!(error, layer, "byte {i}");
        }
    }
}

#[test]
fn malformed_envelopes_get_typed_errors() {
    let (server, alice, bob) = alice_and_bob();
    let envelope = seal_to(&server, &alice, &bob, b"x");
    assert_eq!(
        open(&server, &bob, &[]),
        Err(SealedSenderError::Malformed("empty"))
    );
    let mut other_version = envelope.clone();
    other_version[0] = 0x28;
    assert_eq!(
        open(&server, &bob, &other_version),
        Err(SealedSenderError::UnknownVersion(2))
    );
    let mut ratchet = envelope.clone();
    ratchet[0] = 0x11;
    assert_eq!(
        open(&server, &bob, &ratchet),
        Err(SealedSenderError::WrongMessageType(1))
    );
    for cut in 1..envelope.len() {
        assert!(
            open(&server, &bob, &envelope[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}

struct Group {
    server: Server,
    alice: Party,
    members: Vec<Party>,
}

fn group() -> Group {
    Group {
        server: Server::new(1),
        alice: Party::new("alice", 1, 2),
        members: vec![
            Party::new("bob", 1, 3),
            Party::new("carol", 1, 5),
            Party::new("dave", 2, 6),
        ],
    }
}

fn identities(members: &[Party]) -> Vec<sotto_core::IdentityKey> {
    members
        .iter()
        .map(|m| m.identity.public().clone())
        .collect()
}

impl Group {
    /// `by` seals to `to` with the certificate of `certified` (alice's, unless forging).
    fn seal(
        &self,
        by: &Party,
        certified: &Party,
        to: &[Party],
        message: &[u8],
        group_id: Option<&[u8]>,
    ) -> MultiSealed {
        seal_for_many(
            &mut rng(9),
            &by.identity,
            &self.server.certificate(certified),
            &identities(to),
            message,
            group_id,
        )
        .unwrap()
    }

    /// Alice seals to every member.
    fn seal_from_alice(&self, message: &[u8], group_id: Option<&[u8]>) -> MultiSealed {
        self.seal(&self.alice, &self.alice, &self.members, message, group_id)
    }

    fn open(&self, member: &Party, envelope: &[u8]) -> Result<Unsealed, SealedSenderError> {
        unseal_multi(
            &member.identity,
            &member.address,
            &self.server.validator(),
            envelope,
        )
    }
}

#[test]
fn a_multi_recipient_message_opens_for_every_recipient_with_the_shared_part_stored_once() {
    let g = group();
    let sealed = g.seal_from_alice(b"\x14group message", Some(&[7; 32]));
    assert_eq!(sealed.headers().len(), 3);
    for (i, member) in g.members.iter().enumerate() {
        let envelope = sealed.envelope_for(i).unwrap();
        assert_eq!(
            envelope,
            multi_envelope(&sealed.headers()[i], sealed.shared())
        );
        assert!(envelope.ends_with(sealed.shared()));
        let opened = g.open(member, &envelope).unwrap();
        assert_eq!(opened.message, b"\x14group message");
        assert_eq!(opened.group_id.as_deref(), Some(&[7u8; 32][..]));
        assert_eq!(opened.certificate.sender(), &g.alice.address);
    }
}

#[test]
fn a_multi_recipient_header_used_by_another_recipient_fails() {
    let g = group();
    let sealed = g.seal_from_alice(b"\x14m", None);
    // Carol receives bob's envelope.
    let error = g
        .open(&g.members[1], &sealed.envelope_for(0).unwrap())
        .unwrap_err();
    assert_eq!(error, SealedSenderError::OuterLayer);
}

#[test]
fn a_recipient_cannot_reseal_a_message_as_its_sender() {
    let g = group();
    // Bob, who holds alice's certificate from an earlier message, seals to carol as "alice".
    let sealed = g.seal(
        &g.members[0],
        &g.alice,
        &g.members[1..2],
        b"\x14forged",
        None,
    );
    let error = g
        .open(&g.members[1], &sealed.envelope_for(0).unwrap())
        .unwrap_err();
    assert_eq!(error, SealedSenderError::SenderAuthentication);
}

#[test]
fn a_flipped_byte_in_a_multi_recipient_envelope_is_refused() {
    let g = group();
    let sealed = g.seal_from_alice(b"\x14group message", None);
    let bob = &g.members[0];
    let envelope = sealed.envelope_for(0).unwrap();
    let header_end = envelope.len() - sealed.shared().len();
    for i in 0..envelope.len() {
        let mut flipped = envelope.clone();
        flipped[i] ^= 0x01;
        let error = g.open(bob, &flipped).unwrap_err();
        if (header_end - 48..header_end - 16).contains(&i) {
            assert_eq!(error, SealedSenderError::OuterLayer, "byte {i}");
        } else if (header_end - 16..header_end).contains(&i) {
            assert_eq!(error, SealedSenderError::SenderAuthentication, "byte {i}");
        }
    }
    assert!(matches!(
        unseal(
            &bob.identity,
            &bob.address,
            &g.server.validator(),
            &envelope
        ),
        Err(SealedSenderError::WrongMessageType(9))
    ));
}

#[test]
fn certificates_survive_their_encoding_and_reject_garbage() {
    let (server, alice, _) = alice_and_bob();
    let certificate = server.certificate(&alice);
    let decoded = SenderCertificate::from_wire(&certificate.encode()).unwrap();
    assert_eq!(decoded, certificate);
    assert_eq!(decoded.signer_key_id(), 7);
    assert_eq!(decoded.expires_ms(), NOW + DAY);
    assert!(server.validator().validate(&decoded).is_ok());
    for garbage in [&b""[..], b"\x0a\x01", &[0xff; 40]] {
        assert!(matches!(
            SenderCertificate::from_wire(garbage),
            Err(SealedSenderError::MalformedCertificate(_))
        ));
    }
}

#[test]
fn server_keys_and_roots_survive_storage() {
    let server = Server::new(1);
    let root = TrustRootKeyPair::from_seed(&server.root.to_seed());
    assert_eq!(root.trust_root(), server.root.trust_root());
    let again = root.certify_seed(7, &server.current.to_seed());
    let alice = Party::new("alice", 1, 2);
    let certificate = again.sender_certificate(&alice.address, alice.identity.public(), NOW + DAY);
    assert!(server.validator().validate(&certificate).is_ok());
    assert_eq!(
        sotto_core::sealed::TrustRoot::from_bytes(&root.trust_root().to_bytes()).unwrap(),
        root.trust_root()
    );
}
