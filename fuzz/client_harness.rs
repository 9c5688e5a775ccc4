//! The logic of the client-side fuzz targets (`content`, `daemon_request`), kept free of
//! libFuzzer types so `crates/sotto-cli/tests/fuzz_corpus.rs` replays the corpora through it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The daemon's request decoder, compiled from its own source (it depends on serde alone).
#[path = "../crates/sotto-cli/src/daemon/request.rs"]
pub mod request;

use sotto_client::content::Content;

/// `Content::decode` on a decrypted payload: no panic, and an accepted content survives an
/// encode/decode round trip unchanged.
pub fn content(data: &[u8]) {
    let Ok(content) = Content::decode(data) else {
        return;
    };
    assert_ne!(content.version, 0, "version 0 is refused");
    let bytes = content.encode().expect("a decoded content encodes");
    let again = Content::decode(&bytes).expect("an encoded content decodes");
    assert_eq!(again, content);
}

/// The daemon's request decoder on one line: no panic; an answer goes to every request that
/// carries an id, and a well-formed request decodes the same way twice.
pub fn daemon_request(data: &[u8]) {
    // The daemon reads UTF-8 lines; anything else ends the connection before decoding.
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    match request::decode(line) {
        Ok(decoded) => assert_eq!(request::decode(line), Ok(decoded)),
        Err(error) => {
            assert!((-32700..=-32600).contains(&error.code()));
            assert!(!error.message().is_empty());
            if let request::RequestError::Invalid { id: Some(id), .. }
            | request::RequestError::UnknownMethod { id: Some(id) }
            | request::RequestError::Params { id: Some(id), .. } = &error
            {
                assert_eq!(error.answer_id().as_ref(), Some(id));
            }
        }
    }
}

/// Hand-made seeds: (target, input).
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let content = [
        r#"{"version":2,"id":"0123456789abcdef0123456789abcdef","sent_at":1764633600000,"sender":"alice","body":{"type":"text","text":"hi bob"}}"#,
        r#"{"version":2,"id":"m2","sent_at":5,"sender":"alice","sent_to":"acct-7","body":{"type":"text","text":"sync copy","quote":{"id":"m1","author":"acct-7","text":"earlier"},"expire_timer":60}}"#,
        r#"{"version":3,"id":"m3","sent_at":-1,"sender":"a","future":{"x":[1,2]},"body":{"type":"text","text":"ünïcødé \n\u0000","attachments":[{"id":"blob-1","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","digest":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","size":3,"name":"a.txt","content_type":"text/plain"}]}}"#,
        r#"{"version":2,"id":"m4","sent_at":6,"sender":"b","body":{"type":"receipt","kind":"read","message_ids":["m1","m2"]}}"#,
        r#"{"version":2,"id":"m5","sent_at":7,"sender":"b","body":{"type":"typing","started":false}}"#,
        r#"{"version":2,"id":"m6","sent_at":8,"sender":"b","body":{"type":"reaction","target":{"id":"m1","author":"acct-1"},"emoji":"👍"}}"#,
        r#"{"version":2,"id":"m7","sent_at":9,"sender":"b","body":{"type":"edit","target_id":"m1","text":"fixed"}}"#,
        r#"{"version":2,"id":"m8","sent_at":10,"sender":"b","body":{"type":"delete","target_id":"m1"}}"#,
        r#"{"version":2,"id":"m9","sent_at":11,"sender":"b","body":{"type":"timer","seconds":3600}}"#,
        r#"{"version":9,"id":"m10","sent_at":12,"sender":"b","body":{"type":"poll","question":"?"}}"#,
        r#"{"version":2,"id":"m11","sent_at":13,"sender":"b","body":{"type":"text","attachments":[{"id":"x","key":"AA==","digest":"AA==","size":1,"name":"../etc/passwd"}]}}"#,
        r#"{"version":0,"id":"m","sent_at":0,"sender":"","body":{"type":"text","text":""}}"#,
        r#"{"version":2,"id":"m12","sent_at":14,"sender":"b","body":{"type":"group","group_id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","state":"FQ==","sender_key":"EwECAw=="}}"#,
        r#"{"version":2,"id":"m13","sent_at":15,"sender":"b","body":{"type":"group","group_id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","leave":true,"state_attachment":{"id":"blob-2","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","digest":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","size":200000}}}"#,
        r#"{"version":2,"id":"m14","sent_at":16,"sender":"b","body":{"type":"group","group_id":"AAAA"}}"#,
    ];
    let requests = [
        r#"{"jsonrpc":"2.0","method":"send","params":{"username":"bob","text":"hi"},"id":1}"#,
        r#"{"jsonrpc":"2.0","method":"conversations","id":"c"}"#,
        r#"{"jsonrpc":"2.0","method":"history","params":{"username":"bob"},"id":null}"#,
        r#"{"jsonrpc":"2.0","method":"verify","params":{"username":"bob","accept":true,"mark_verified":false},"id":3}"#,
        r#"{"jsonrpc":"2.0","method":"subscribe"}"#,
        r#"{"jsonrpc":"2.0","method":"send","params":{"username":"bob","text":"yes","reply_to":"m1"},"id":6}"#,
        r#"{"jsonrpc":"2.0","method":"react","params":{"username":"bob","message_id":"m1","emoji":"👍"},"id":7}"#,
        r#"{"jsonrpc":"2.0","method":"edit","params":{"username":"bob","message_id":"m1","text":"x"},"id":8}"#,
        r#"{"jsonrpc":"2.0","method":"delete","params":{"username":"bob","message_id":"m1"},"id":9}"#,
        r#"{"jsonrpc":"2.0","method":"timer","params":{"username":"bob","seconds":60},"id":10}"#,
        r#"{"jsonrpc":"2.0","method":"typing","params":{"username":"bob","started":false}}"#,
        r#"{"jsonrpc":"2.0","method":"read","params":{"username":"bob"},"id":11}"#,
        r#"{"jsonrpc":"2.0","method":"timer","params":{"username":"bob","seconds":-1},"id":12}"#,
        r#"{"jsonrpc":"1.0","method":"send","id":4}"#,
        r#"{"jsonrpc":"2.0","method":"nope","id":[5]}"#,
        r#"[{"jsonrpc":"2.0"}]"#,
        r#"{"jsonrpc":"2.0","method":"send","params":[1,2],"id":6}"#,
        r#"{"jsonrpc":"2.0","method":"group_create","params":{"name":"fam","members":["bob","carol"]},"id":13}"#,
        r#"{"jsonrpc":"2.0","method":"send","params":{"group":"fam","text":"hi all"},"id":14}"#,
        r#"{"jsonrpc":"2.0","method":"group_admins","params":{"group":"fam","add":["bob"]},"id":15}"#,
        r#"{"jsonrpc":"2.0","method":"send","params":{"group":"fam","username":"bob"},"id":16}"#,
    ];
    let mut seeds = Vec::new();
    seeds.extend(content.iter().map(|s| ("content", s.as_bytes().to_vec())));
    seeds.extend(
        requests
            .iter()
            .map(|s| ("daemon_request", s.as_bytes().to_vec())),
    );
    seeds
}
