//! The SDK sits between the protocol core and the front ends (design §1): it may depend on
//! sotto-core and sotto-proto only, never on the relay (not even for tests: they run the real
//! `sotto` binary instead).

#[test]
fn the_sdk_depends_only_on_core_and_proto() {
    let manifest = include_str!("../Cargo.toml");
    let ours: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.split(['=', ' ', '.']).next())
        .filter(|name| name.starts_with("sotto-"))
        .collect();
    assert!(
        ours.contains(&"sotto-core"),
        "the manifest was not read: {ours:?}"
    );
    assert!(
        ours.iter()
            .all(|name| ["sotto-client", "sotto-core", "sotto-proto"].contains(name)),
        "{ours:?}"
    );
}
