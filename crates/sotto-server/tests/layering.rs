//! The relay handles only ciphertext: it must not depend on the protocol core's
//! secret-handling code (design §1), directly or through another crate of ours. (It signs
//! sender certificates with its own keys, using ed25519-dalek and the wire types of
//! sotto-proto.)

#[test]
fn the_relay_does_not_depend_on_sotto_core() {
    let manifest = include_str!("../Cargo.toml");
    // Dev-dependencies do not ship: tests may check the relay's output with the core.
    let shipped = manifest
        .split("[dev-dependencies]")
        .next()
        .unwrap_or_default();
    let ours: Vec<&str> = shipped
        .lines()
        .filter_map(|line| line.split(['=', ' ', '.']).next())
        .filter(|name| name.starts_with("sotto-"))
        .collect();
    assert!(!ours.is_empty(), "the manifest was not read");
    assert!(
        ours.iter()
            .all(|name| *name == "sotto-server" || *name == "sotto-proto"),
        "{ours:?}"
    );
    let proto = include_str!("../../sotto-proto/Cargo.toml");
    assert!(
        !proto
            .lines()
            .any(|line| line.trim_start().starts_with("sotto-core"))
    );
}
