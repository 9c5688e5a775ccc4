//! Admin-signed group state: first state, updates, every way an update is refused, membership
//! decisions, rotation after a removal, and a 1,000-member state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod group_common;

use group_common::{Device, distribute, group_id, record_of, three};
use sotto_core::group::{
    GroupDecryptError, GroupState, GroupStateError, MAX_GROUP_MEMBERS, Member, MembershipError,
    Role, SenderKeyRecord, VerifiedGroupState, rotation_after,
};
use sotto_core::{Address, IdentityKeyPair};

fn joined(state: &GroupState, admin: &Device, me: &Device) -> VerifiedGroupState {
    let signed = state.sign(admin.account.as_bytes(), &admin.identity);
    VerifiedGroupState::verify_initial(&signed, me.account.as_bytes()).unwrap()
}

#[test]
fn a_member_joins_and_follows_admin_updates() {
    let (alice, bob, _carol, v1) = three(group_id(1));
    let at_bob = joined(&v1, &alice, &bob);
    assert_eq!(at_bob.state(), &v1);
    let dave = Device::new("dave", 4);
    let v2 = v1
        .with_member(dave.member(Role::Member))
        .unwrap()
        .renamed("crag")
        .unwrap();
    assert_eq!(v2.version(), 3);
    let at_bob = at_bob
        .verify_update(&v2.sign(b"alice", &alice.identity))
        .unwrap();
    assert_eq!(at_bob.state().name(), "crag");
    assert!(at_bob.admit(&dave.address, dave.identity.public()).is_ok());
    // The new member joins from the signed bytes a member hands on.
    let at_dave = VerifiedGroupState::verify_initial(at_bob.signed_bytes(), b"dave").unwrap();
    assert_eq!(at_dave.state(), at_bob.state());
    let stored = VerifiedGroupState::from_bytes(&at_bob.to_bytes()).unwrap();
    assert_eq!(stored, at_bob);
}

#[test]
fn an_update_signed_by_a_non_admin_is_refused() {
    let (alice, bob, carol, v1) = three(group_id(2));
    let at_carol = joined(&v1, &alice, &carol);
    let promoted = v1.with_member(bob.member(Role::Admin)).unwrap();
    assert_eq!(
        at_carol.verify_update(&promoted.sign(b"bob", &bob.identity)),
        Err(GroupStateError::NotAnAdmin)
    );
    // Bob claims to be Alice: her key does not verify his signature.
    assert_eq!(
        at_carol.verify_update(&promoted.sign(b"alice", &bob.identity)),
        Err(GroupStateError::BadSignature)
    );
    // An outsider's first state naming itself admin does not make a member accept it.
    let mallory = Device::new("mallory", 9);
    let hijack = promoted.with_member(mallory.member(Role::Admin)).unwrap();
    assert_eq!(
        at_carol.verify_update(&hijack.sign(b"mallory", &mallory.identity)),
        Err(GroupStateError::NotAnAdmin)
    );
    assert_eq!(at_carol.state(), &v1, "nothing changed");
}

#[test]
fn the_admin_of_the_previous_state_decides() {
    let (alice, bob, carol, v1) = three(group_id(3));
    let at_carol = joined(&v1, &alice, &carol);
    // Alice hands over to Bob and steps down in one state: valid, she was admin in v1.
    let v2 = GroupState::new(
        *v1.group_id(),
        2,
        v1.name(),
        vec![
            alice.member(Role::Member),
            bob.member(Role::Admin),
            carol.member(Role::Member),
        ],
    )
    .unwrap();
    let at_carol = at_carol
        .verify_update(&v2.sign(b"alice", &alice.identity))
        .unwrap();
    let v3 = v2.without_member(b"bob");
    assert!(matches!(v3, Err(GroupStateError::NoAdmin)));
    let v3 = v2.renamed("bob's").unwrap();
    assert_eq!(
        at_carol.verify_update(&v3.sign(b"alice", &alice.identity)),
        Err(GroupStateError::NotAnAdmin)
    );
    assert!(
        at_carol
            .verify_update(&v3.sign(b"bob", &bob.identity))
            .is_ok()
    );
    // The stored state loads although its signer is no longer an admin of it.
    assert!(VerifiedGroupState::from_bytes(&at_carol.to_bytes()).is_ok());
}

#[test]
fn an_old_or_same_version_is_refused() {
    let (alice, bob, _carol, v1) = three(group_id(4));
    let signed_v1 = v1.sign(b"alice", &alice.identity);
    let v2 = v1.renamed("two").unwrap();
    let at_bob = joined(&v1, &alice, &bob)
        .verify_update(&v2.sign(b"alice", &alice.identity))
        .unwrap();
    assert_eq!(
        at_bob.verify_update(&signed_v1),
        Err(GroupStateError::VersionNotNewer {
            current: 2,
            offered: 1
        })
    );
    let other_v2 = v1.renamed("also two").unwrap();
    assert_eq!(
        at_bob.verify_update(&other_v2.sign(b"alice", &alice.identity)),
        Err(GroupStateError::VersionNotNewer {
            current: 2,
            offered: 2
        })
    );
}

#[test]
fn a_state_of_another_group_is_refused() {
    let (alice, bob, _carol, v1) = three(group_id(5));
    let at_bob = joined(&v1, &alice, &bob);
    let (_, _, _, elsewhere) = three(group_id(6));
    let elsewhere = elsewhere.renamed("other").unwrap();
    assert_eq!(
        at_bob.verify_update(&elsewhere.sign(b"alice", &alice.identity)),
        Err(GroupStateError::UnknownGroup)
    );
}

#[test]
fn a_first_state_must_list_us_and_be_signed_by_its_admin() {
    let (alice, bob, _carol, v1) = three(group_id(7));
    let signed = v1.sign(b"alice", &alice.identity);
    assert_eq!(
        VerifiedGroupState::verify_initial(&signed, b"zed"),
        Err(GroupStateError::NotListed)
    );
    assert_eq!(
        VerifiedGroupState::verify_initial(&v1.sign(b"bob", &bob.identity), b"bob"),
        Err(GroupStateError::NotAnAdmin)
    );
    assert_eq!(
        VerifiedGroupState::verify_initial(&v1.sign(b"nobody", &bob.identity), b"bob"),
        Err(GroupStateError::NotAnAdmin)
    );
}

#[test]
fn every_flipped_bit_of_a_signed_state_is_refused() {
    let (alice, bob, _carol, v1) = three(group_id(8));
    let at_bob = joined(&v1, &alice, &bob);
    let update = v1
        .renamed("flipped")
        .unwrap()
        .sign(b"alice", &alice.identity);
    let first = v1.sign(b"alice", &alice.identity);
    for bit in 0..update.len() * 8 {
        let mut bad = update.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        if let Ok(accepted) = at_bob.verify_update(&bad) {
            // Only a flip protobuf decoders ignore (a varint's bits beyond its type) may pass,
            // and then the state is the one Alice signed.
            assert_eq!(accepted.state().name(), "flipped", "bit {bit}");
            assert_eq!(accepted.state().version(), 2, "bit {bit}");
        }
    }
    for bit in 0..first.len() * 8 {
        let mut bad = first.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        if let Ok(accepted) = VerifiedGroupState::verify_initial(&bad, b"bob") {
            assert_eq!(accepted.state(), &v1, "bit {bit}");
        }
    }
    for len in 0..update.len() {
        assert!(
            at_bob.verify_update(&update[..len]).is_err(),
            "prefix {len}"
        );
    }
}

#[test]
fn ghosts_and_impostors_are_not_admitted() {
    let (alice, bob, carol, v1) = three(group_id(9));
    let at_bob = joined(&v1, &alice, &bob);
    let ghost = Device::new("ghost", 66);
    assert_eq!(
        at_bob.admit(&ghost.address, ghost.identity.public()),
        Err(MembershipError::NotAMember)
    );
    // The server pairs Carol's account with a key of its own.
    assert_eq!(
        at_bob.admit(&carol.address, ghost.identity.public()),
        Err(MembershipError::IdentityMismatch)
    );
    // Any device of a member's account is admitted under the account's identity.
    let second = Address::new("carol", 2).unwrap();
    assert_eq!(
        at_bob
            .admit(&second, carol.identity.public())
            .unwrap()
            .role(),
        Role::Member
    );
}

#[test]
fn a_removal_rotates_every_remaining_sender_and_locks_the_removed_out() {
    let group = group_id(10);
    let (alice, bob, carol, v1) = three(group);
    let v2 = v1.without_member(b"carol").unwrap();
    let rotation = rotation_after(&v1, &v2);
    assert_eq!(rotation.removed, vec![b"carol".to_vec()]);
    assert!(rotation.must_rotate(b"alice") && rotation.must_rotate(b"bob"));
    assert!(!rotation.must_rotate(b"carol"));

    let mut alice_old = alice.sender_key(group, 11);
    let mut at_carol = record_of(&alice_old);
    let mut at_bob = record_of(&alice_old);
    assert!(
        at_carol
            .decrypt(&alice_old.encrypt(b"before").unwrap())
            .is_ok()
    );
    // Alice rotates and distributes to the remaining members only.
    let mut alice_new = alice.sender_key(group, 12);
    assert_ne!(alice_new.chain_id(), alice_old.chain_id());
    at_bob.process(&distribute(&alice_new)).unwrap();
    let after = alice_new.encrypt(b"after carol left").unwrap();
    assert_eq!(&*at_bob.decrypt(&after).unwrap(), b"after carol left");
    assert_eq!(
        at_carol.decrypt(&after).unwrap_err(),
        GroupDecryptError::UnknownChain {
            chain_id: alice_new.chain_id()
        }
    );
    // Carol's old chain, stepped as far as she likes, never reaches the new keys: later
    // messages of the old chain are the only ones it reads.
    let old_later = alice_old.encrypt(b"old chain").unwrap();
    assert!(at_carol.decrypt(&old_later).is_ok());
    let _ = (bob, carol);
}

#[test]
fn adding_a_member_needs_no_rotation_and_an_identity_change_does() {
    let (_alice, _bob, carol, v1) = three(group_id(11));
    let dave = Device::new("dave", 4);
    let v2 = v1.with_member(dave.member(Role::Member)).unwrap();
    assert!(rotation_after(&v1, &v2).must_rotate.is_empty());
    let new_key = IdentityKeyPair::generate(&mut group_common::rng(77));
    let v3 = v2
        .with_member(Member::new("carol", new_key.public().clone(), Role::Member).unwrap())
        .unwrap();
    let rotation = rotation_after(&v2, &v3);
    assert_eq!(rotation.removed, vec![b"carol".to_vec()]);
    assert_eq!(rotation.must_rotate.len(), 3);
    let _ = carol;
}

fn big_state(count: usize) -> (Vec<Device>, GroupState) {
    let devices: Vec<Device> = (0..count)
        .map(|i| Device::new(&format!("member-{i:04}"), 1000 + i as u64))
        .collect();
    let members = devices
        .iter()
        .enumerate()
        .map(|(i, d)| d.member(if i == 0 { Role::Admin } else { Role::Member }))
        .collect();
    let state = GroupState::new(group_id(12), 1, "big", members).unwrap();
    (devices, state)
}

#[test]
fn a_thousand_member_state_verifies_and_updates() {
    let (devices, v1) = big_state(1000);
    let admin = &devices[0];
    let signed = v1.sign(admin.account.as_bytes(), &admin.identity);
    let at_last =
        VerifiedGroupState::verify_initial(&signed, devices[999].account.as_bytes()).unwrap();
    assert_eq!(at_last.state().members().len(), 1000);
    for d in devices.iter().step_by(97) {
        assert!(at_last.admit(&d.address, d.identity.public()).is_ok());
    }
    let v2 = v1.without_member(devices[500].account.as_bytes()).unwrap();
    let at_last = at_last
        .verify_update(&v2.sign(admin.account.as_bytes(), &admin.identity))
        .unwrap();
    assert_eq!(at_last.state().members().len(), 999);
    assert_eq!(rotation_after(&v1, at_last.state()).must_rotate.len(), 999);
}

#[test]
fn the_member_limit_is_enforced_before_any_key_is_parsed() {
    let (alice, bob, _carol, v1) = three(group_id(13));
    let at_bob = joined(&v1, &alice, &bob);
    let mut body = sotto_proto::group::GroupState {
        group_id: v1.group_id().as_bytes().to_vec(),
        version: 2,
        name: String::new(),
        members: Vec::new(),
    };
    body.members = (0..=MAX_GROUP_MEMBERS)
        .map(|i| sotto_proto::group::GroupMember {
            account: format!("m{i}").into_bytes(),
            identity_key: vec![0; 129],
            role: 2,
        })
        .collect();
    use prost::Message;
    let signed = sotto_proto::group::SignedGroupState {
        state: body.encode_to_vec(),
        signer: b"alice".to_vec(),
        signature: vec![0; 64],
    };
    let mut bytes = vec![0x15];
    signed.encode(&mut bytes).unwrap();
    assert_eq!(
        at_bob.verify_update(&bytes),
        Err(GroupStateError::TooManyMembers(MAX_GROUP_MEMBERS + 1))
    );
}

#[test]
fn a_sender_key_is_accepted_only_from_an_admitted_device() {
    // The client's order of checks, on the core's types: admit, then process.
    let group = group_id(14);
    let (alice, bob, _carol, v1) = three(group);
    let at_bob = joined(&v1, &alice, &bob);
    let ghost = Device::new("ghost", 99);
    let ghost_key = ghost.sender_key(group, 15);
    let mut records: Vec<SenderKeyRecord> = Vec::new();
    for (device, key) in [(&ghost, &ghost_key), (&alice, &alice.sender_key(group, 16))] {
        if at_bob
            .admit(&device.address, device.identity.public())
            .is_ok()
        {
            records.push(record_of(key));
        }
    }
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].sender(), &alice.address);
}
