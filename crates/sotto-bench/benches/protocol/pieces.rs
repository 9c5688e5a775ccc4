//! Where the time of each operation goes: Sotto's operations split into their steps, the
//! non-primitive work inside them, and the primitives alone.

use std::hint::black_box;

use chacha20::ChaCha20Rng;
use criterion::{BatchSize, Criterion};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use libcrux_ml_kem::mlkem1024::{self, MlKem1024PublicKey};
use prost::Message;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};
use sotto_core::curve::PublicKey;
use sotto_core::identity::IdentityKey;
use sotto_core::{PreKeyStore, SessionRecord, VerifiedPreKeyBundle};
use sotto_proto::protocol as wire;
use x25519_dalek::StaticSecret;

use crate::cpu_time::CpuTime;
use crate::harness::{self, FIRST_MESSAGE, Strangers};

/// The set-up's steps, each alone, and the non-primitive checks inside them.
pub fn setup_pieces(c: &mut Criterion<CpuTime>) {
    let strangers = Strangers::new();
    let (alice, bob) = (&strangers.alice, &strangers.bob);
    let bundle = VerifiedPreKeyBundle::from_wire(&strangers.bundle).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    let mut initiator = SessionRecord::new();
    initiator
        .initiate(alice.parties(&bob.address), &bundle, &mut rng)
        .unwrap();
    let prekey_message = initiator.encrypt(FIRST_MESSAGE, &mut rng).unwrap();
    let header = wire::PreKeyMessage::decode(&prekey_message[1..]).unwrap();
    let base_key = PublicKey::from_wire(&header.base_key).unwrap();

    let mut group = c.benchmark_group("setup_pieces");
    group.bench_function("bundle_from_wire", |b| {
        b.iter(|| VerifiedPreKeyBundle::from_wire(black_box(&strangers.bundle)).unwrap())
    });
    group.bench_function("initiate", |b| {
        b.iter_batched(
            SessionRecord::new,
            |mut record| {
                let parties = alice.parties(&bob.address);
                record.initiate(parties, &bundle, &mut rng).unwrap();
                record
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("encrypt_first_message", |b| {
        b.iter_batched(
            || initiator.clone(),
            |mut record| (record.encrypt(FIRST_MESSAGE, &mut rng).unwrap(), record),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("respond_decrypt_prekey_message", |b| {
        b.iter_batched(
            SessionRecord::new,
            |mut record| {
                let parties = bob.parties(&alice.address);
                let decrypted = record
                    .decrypt(parties, &prekey_message, &bob.store)
                    .unwrap();
                (record, decrypted)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("prekey_message_protobuf_decode", |b| {
        b.iter(|| wire::PreKeyMessage::decode(black_box(&prekey_message[1..])).unwrap())
    });
    group.bench_function("identity_key_from_wire", |b| {
        b.iter(|| IdentityKey::from_wire(black_box(&header.identity_key)).unwrap())
    });
    group.bench_function("base_key_require_torsion_free", |b| {
        b.iter(|| black_box(&base_key).require_torsion_free().unwrap())
    });
    group.bench_function("prekey_store_lookups", |b| {
        b.iter(|| {
            let store = black_box(&bob.store);
            (
                store.signed_pre_key(header.signed_pre_key_id),
                store.one_time_pre_key(header.one_time_pre_key_id.unwrap()),
                store.kem_pre_key(header.kem_pre_key_id),
            )
        })
    });
    group.finish();
}

/// The steady-state message split into encrypt, decrypt and the wire decoding.
pub fn message_pieces(c: &mut Criterion<CpuTime>) {
    let plaintext = vec![0x61; 1024];
    let (mut alice, mut bob) = harness::established();
    // Alice's first message after Bob's answer takes a DH ratchet step: get past it.
    harness::one_way(&mut alice, &mut bob, &plaintext);
    let message = alice.encrypt(&plaintext);
    let mut group = c.benchmark_group("message_pieces");
    group.bench_function("encrypt_1kib", |b| b.iter(|| alice.encrypt(&plaintext)));
    group.bench_function("decrypt_1kib", |b| {
        b.iter_batched(
            || bob.record.clone(),
            |mut record| {
                let parties = bob.parties(&alice.address);
                let decrypted = record.decrypt(parties, &message, &bob.store).unwrap();
                (record, decrypted)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("ratchet_message_protobuf_decode", |b| {
        let body = &message[1..message.len() - 32];
        b.iter(|| wire::RatchetMessage::decode(black_box(body)).unwrap())
    });
    group.bench_function("session_record_clone", |b| {
        b.iter(|| black_box(&bob.record).clone())
    });
    group.finish();
}

/// The record round trip split in two, and what parsing re-verifies.
pub fn record_pieces(c: &mut Criterion<CpuTime>) {
    let (alice, _) = harness::established();
    let bytes = alice.record.to_bytes();
    let mut group = c.benchmark_group("record_pieces");
    group.bench_function("to_bytes", |b| {
        b.iter(|| black_box(&alice.record).to_bytes())
    });
    group.bench_function("from_bytes", |b| {
        b.iter(|| SessionRecord::from_bytes(black_box(&bytes)).unwrap())
    });
    group.finish();
}

/// Single primitive calls, for reading the floors.
pub fn primitives(c: &mut Criterion<CpuTime>) {
    let mut group = c.benchmark_group("primitives");
    let secret = StaticSecret::from([9; 32]);
    let public = x25519_dalek::PublicKey::from(&StaticSecret::from([10; 32]));
    group.bench_function("x25519_keygen", |b| {
        b.iter(|| x25519_dalek::PublicKey::from(black_box(&secret)))
    });
    group.bench_function("x25519_agree", |b| {
        b.iter(|| black_box(&secret).diffie_hellman(&public))
    });
    let signer = SigningKey::from_bytes(&[5; 32]);
    let message = [0x17u8; 58];
    let signature = signer.sign(&message);
    let encoded = signer.verifying_key().to_bytes();
    group.bench_function("ed25519_key_decode", |b| {
        b.iter(|| VerifyingKey::from_bytes(black_box(&encoded)).unwrap())
    });
    let key = signer.verifying_key();
    group.bench_function("ed25519_verify_strict_58b", |b| {
        b.iter(|| key.verify_strict(black_box(&message), &signature).unwrap())
    });
    let (secret_kem, public_kem) = mlkem1024::generate_key_pair([7; 64]).into_parts();
    group.bench_function("mlkem1024_validate_public_key", |b| {
        b.iter(|| {
            let key = MlKem1024PublicKey::try_from(black_box(&public_kem.as_slice()[..])).unwrap();
            mlkem1024::validate_public_key(&key)
        })
    });
    group.bench_function("mlkem1024_encapsulate", |b| {
        b.iter(|| mlkem1024::encapsulate(black_box(&public_kem), [8; 32]))
    });
    let (ciphertext, _) = mlkem1024::encapsulate(&public_kem, [8; 32]);
    group.bench_function("mlkem1024_decapsulate", |b| {
        b.iter(|| mlkem1024::decapsulate(black_box(&secret_kem), &ciphertext))
    });
    let transcript = [0x33u8; 3539];
    group.bench_function("sha256_transcript_3539b", |b| {
        b.iter(|| Sha256::digest(black_box(&transcript)))
    });
    group.finish();
}
