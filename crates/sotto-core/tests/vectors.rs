//! Known-answer vectors (`testdata/vectors/`): the code must reproduce every file exactly, and
//! each vector is also checked from its explicit inputs alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod vectors_gen;

use serde_json::Value;
use sotto_core::safety_number::{Comparison, SafetyNumber};
use sotto_core::{Address, IdentityKeyPair, InMemoryPreKeyStore, Parties, SessionRecord, kat};
use vectors_gen::{Device, RecordingRng};

fn load(name: &str) -> Value {
    let path = vectors_gen::directory().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().unwrap()).unwrap()
}

fn array<const N: usize>(value: &Value) -> [u8; N] {
    bytes(value).try_into().unwrap()
}

#[test]
fn the_code_reproduces_every_vector_file_exactly() {
    for (name, generated) in vectors_gen::all() {
        assert_eq!(
            load(name),
            generated,
            "{name} differs: run `cargo run -p sotto-core --example generate_vectors` only for a deliberate change"
        );
    }
}

#[test]
fn kdf_vectors_from_their_inputs() {
    let v = load("kdf.json");
    for case in v["root_kdf"].as_array().unwrap() {
        let (root, chain) = kat::root_step(
            array(&case["root_key"]),
            array(&case["our_private"]),
            &bytes(&case["their_public"]),
        )
        .unwrap();
        assert_eq!(root, array::<32>(&case["new_root_key"]));
        assert_eq!(chain, array::<32>(&case["chain_key"]));
    }
    for case in v["chain_kdf"].as_array().unwrap() {
        let (seed, next) = kat::chain_step(array(&case["chain_key"]));
        assert_eq!(seed, array::<32>(&case["message_key_seed"]));
        assert_eq!(next, array::<32>(&case["next_chain_key"]));
    }
    for case in v["message_keys"].as_array().unwrap() {
        let (cipher, mac, iv) = kat::message_keys(array(&case["message_key_seed"]));
        assert_eq!(cipher, array::<32>(&case["cipher_key"]));
        assert_eq!(mac, array::<32>(&case["mac_key"]));
        assert_eq!(iv, array::<16>(&case["iv"]));
    }
    for case in v["pqxdh_kdf"].as_array().unwrap() {
        let dh: Vec<[u8; 32]> = case["dh"].as_array().unwrap().iter().map(array).collect();
        let root = kat::pqxdh_root_key(
            &dh,
            array(&case["kem_shared_secret"]),
            array(&case["transcript_hash"]),
        );
        assert_eq!(root, array::<32>(&case["sk"]));
    }
}

fn device_from(secrets: &Value) -> Device {
    Device::from_secrets(
        secrets["account"].as_str().unwrap(),
        secrets["device"].as_u64().unwrap() as u32,
        &array(&secrets["identity_secret"]),
        array(&secrets["signed_pre_key"]["private"]),
        array(&secrets["one_time_pre_key"]["private"]),
        &array(&secrets["kem_pre_key"]["seed"]),
        RecordingRng::new(0),
    )
}

#[test]
fn pqxdh_vector_from_its_inputs() {
    let v = load("pqxdh.json");
    let alice = device_from(&v["alice"]);
    let mut bob = device_from(&v["bob"]);
    assert_eq!(
        hex::encode(alice.identity.public().encode()),
        v["alice_identity_key"]
    );
    assert_eq!(hex::encode(bob.bundle_bytes()), v["bob_bundle"]);
    let message = bytes(&v["prekey_message"]);
    let plaintext = bob.decrypt(&alice.address, &message);
    assert_eq!(String::from_utf8(plaintext).unwrap(), v["plaintext"]);
    assert_eq!(
        hex::encode(bob.record.current_associated_data().unwrap()),
        v["transcript_hash"]
    );
    let root = vectors_gen::handshake_root_key(&alice, &bob, &message);
    assert_eq!(hex::encode(root), v["sk"]);
    assert!(
        bob.store.one_time.is_empty() && bob.store.kem.is_empty(),
        "one-time keys retired"
    );
}

#[test]
fn ratchet_transcript_delivers_what_was_sent() {
    let v = load("ratchet.json");
    let steps = v["steps"].as_array().unwrap();
    let deliveries = steps.iter().filter(|s| s.get("deliver").is_some());
    let mut count = 0;
    for delivery in deliveries {
        let of = delivery["deliver"].as_u64().unwrap() as usize;
        assert_eq!(steps[of]["plaintext"], delivery["plaintext"]);
        count += 1;
    }
    assert_eq!(count, 8);
}

#[test]
fn safety_number_vector_from_its_inputs() {
    let v = load("safety_number.json");
    let alice = IdentityKeyPair::from_secret_bytes(&array(&v["alice_identity_secret"]));
    let bob = IdentityKeyPair::from_secret_bytes(&array(&v["bob_identity_secret"]));
    let at_alice = SafetyNumber::compute(b"alice", alice.public(), b"bob", bob.public());
    assert_eq!(at_alice.digits(), v["digits"]);
    assert_eq!(hex::encode(at_alice.qr_payload()), v["qr_payload_at_alice"]);
    assert_eq!(
        at_alice.compare_scanned(&bytes(&v["qr_payload_at_bob"])),
        Ok(Comparison::Match)
    );
}

#[test]
fn a_version_1_record_still_loads_and_decrypts() {
    let v = load("session_record_v1.json");
    let mut record = SessionRecord::from_bytes(&bytes(&v["record"])).unwrap();
    let bob_secrets = load("pqxdh.json")["bob"].clone();
    let bob = device_from(&bob_secrets);
    let from = Address::new(v["from"]["account"].as_str().unwrap(), 1).unwrap();
    let parties = Parties {
        local_identity: &bob.identity,
        local_address: &bob.address,
        remote_address: &from,
    };
    let decrypted = record
        .decrypt(
            parties,
            &bytes(&v["message"]),
            &InMemoryPreKeyStore::default(),
        )
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&decrypted.plaintext).unwrap(),
        v["plaintext"]
    );
}

#[test]
fn group_vector_from_its_inputs() {
    use sotto_core::group::{
        GroupId, GroupState, Member, Role, SenderKeyDistribution, SenderKeyRecord,
        VerifiedGroupState,
    };
    let v = load("group.json");
    let group_id = GroupId::from_bytes(array(&v["group_id"]));
    let sender = Address::new("alice", 1).unwrap();
    assert_eq!(
        kat::group_associated_data(&group_id, &sender),
        array::<32>(&v["associated_data"])
    );
    let draws = v["sender_key_draws"].as_array().unwrap();
    let chain_id = u32::from_be_bytes(array(&draws[0]));
    let mut key = kat::sender_key_from_parts(
        group_id,
        sender.clone(),
        chain_id,
        0,
        array(&draws[1]),
        array(&draws[2]),
    );
    assert_eq!(
        hex::encode(&*key.distribution().to_bytes()),
        v["distribution"]
    );
    let distribution =
        SenderKeyDistribution::try_from(bytes(&v["distribution"]).as_slice()).unwrap();
    let mut record = SenderKeyRecord::new(group_id, sender);
    record.process(&distribution).unwrap();
    let mut chain_key = array::<32>(&draws[1]);
    for m in v["messages"].as_array().unwrap() {
        let (seed, next) = kat::chain_step(chain_key);
        assert_eq!(seed, array::<32>(&m["message_key_seed"]));
        let (cipher, mac, iv) = kat::group_message_keys(seed);
        assert_eq!(cipher, array::<32>(&m["cipher_key"]));
        assert_eq!(mac, array::<32>(&m["mac_key"]));
        assert_eq!(iv, array::<16>(&m["iv"]));
        let plaintext = m["plaintext"].as_str().unwrap();
        assert_eq!(
            hex::encode(key.encrypt(plaintext.as_bytes()).unwrap()),
            m["wire"]
        );
        assert_eq!(
            &*record.decrypt(&bytes(&m["wire"])).unwrap(),
            plaintext.as_bytes()
        );
        chain_key = next;
    }
    let alice = IdentityKeyPair::from_secret_bytes(&array(&v["alice_identity_secret"]));
    let bob = IdentityKeyPair::from_secret_bytes(&array(&v["bob_identity_secret"]));
    let state = GroupState::new(
        group_id,
        1,
        "vectors",
        vec![
            Member::new("alice", alice.public().clone(), Role::Admin).unwrap(),
            Member::new("bob", bob.public().clone(), Role::Member).unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(hex::encode(state.sign(b"alice", &alice)), v["signed_state"]);
    let verified = VerifiedGroupState::verify_initial(&bytes(&v["signed_state"]), b"bob").unwrap();
    assert_eq!(verified.state(), &state);
}
