//! S3 blobs against a real S3-compatible server (s3s-fs, started in-process).

use super::*;
use crate::blobs::conformance;

#[path = "../../../tests/s3_server/mod.rs"]
mod s3_server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_blobs_pass_the_conformance_suite() {
    let server = s3_server::TestS3::start().await;
    let blobs = S3Blobs::open(server.settings("relay/blobs")).unwrap();
    blobs.check().await.unwrap();
    conformance::run(&blobs).await;
}

#[tokio::test]
async fn segments_are_laid_out_as_documented() {
    let server = s3_server::TestS3::start().await;
    let blobs = S3Blobs::open(server.settings("p")).unwrap();
    let id = AttachmentId::random().unwrap();
    for (offset, bytes) in [(0, &b"abc"[..]), (3, b"defg")] {
        let mut writer = blobs.writer(&id, offset).await.unwrap();
        writer.write(bytes).await.unwrap();
        writer.finish().await.unwrap();
    }
    let listed: Vec<(String, u64)> = blobs
        .store
        .list(None)
        .map_ok(|meta| (meta.location.to_string(), meta.size))
        .try_collect()
        .await
        .unwrap();
    let name = |start| format!("p/{}/{}", id.as_str(), segments::name(start));
    assert_eq!(listed, vec![(name(0), 3), (name(3), 4)]);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_at_the_startup_check() {
    let server = s3_server::TestS3::start().await;
    let mut settings = server.settings("");
    settings.credentials = Some(S3Credentials {
        access_key_id: s3_server::ACCESS_KEY_ID.to_owned(),
        secret_access_key: "wrong".to_owned().into(),
    });
    let blobs = S3Blobs::open(settings).unwrap();
    assert!(blobs.check().await.is_err());
}

#[test]
fn locations_parse_into_bucket_and_prefix() {
    let settings = S3Settings::from_url("s3://bucket/a/b/").unwrap();
    assert_eq!(
        (settings.bucket.as_str(), settings.prefix.as_str()),
        ("bucket", "a/b")
    );
    assert_eq!(S3Settings::from_url("s3://bucket").unwrap().prefix, "");
    for bad in ["s3://", "s3:///x", "/var/lib/sotto", "https://bucket"] {
        assert!(S3Settings::from_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn errors_never_show_the_attachment_id() {
    let id = AttachmentId::random().unwrap();
    let err = object_store::Error::NotFound {
        path: format!("p/{}/00000000000000000000", id.as_str()),
        source: "gone".into(),
    };
    let io = redact(err, &id);
    assert_eq!(io.kind(), io::ErrorKind::NotFound);
    assert!(!io.to_string().contains(id.as_str()));
}

#[test]
fn credentials_debug_hides_the_secret() {
    let key = S3Credentials {
        access_key_id: "AKID".to_owned(),
        secret_access_key: "hunter2".to_owned().into(),
    };
    assert!(!format!("{key:?}").contains("hunter2"));
}

#[test]
fn an_opened_store_does_not_debug_print_the_secret() {
    let settings = S3Settings {
        bucket: "b".to_owned(),
        credentials: Some(S3Credentials {
            access_key_id: "AKID".to_owned(),
            secret_access_key: "hunter2-secret".to_owned().into(),
        }),
        ..S3Settings::default()
    };
    assert!(!format!("{settings:?}").contains("hunter2"));
    let blobs = S3Blobs::open(settings).unwrap();
    assert!(!format!("{blobs:?}").contains("hunter2"));
}
