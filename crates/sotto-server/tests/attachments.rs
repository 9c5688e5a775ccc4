//! Attachment upload, resume, download and expiry through the router, with every error code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "s3_server/mod.rs"]
mod s3_server;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sotto_server::blobs::{BlobStorage, S3Blobs, S3Credentials, S3Settings};
use sotto_server::config::{Limits, Policy};
use sotto_server::domain::AttachmentId;
use sotto_server::store::Day;
use std::sync::Arc;
use tower::ServiceExt;

/// A request with a raw body and extra headers; status, body bytes, headers.
async fn send(
    relay: &TestRelay,
    method: Method,
    path: &str,
    auth: Option<&str>,
    headers: &[(&str, &str)],
    body: Body,
) -> (StatusCode, Bytes, HeaderMap) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = relay
        .router()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        body.collect().await.unwrap().to_bytes(),
        parts.headers,
    )
}

fn code(body: &Bytes) -> String {
    serde_json::from_slice::<Value>(body).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create(relay: &TestRelay, device: &TestDevice, size: u64) -> (StatusCode, Value) {
    let body = json!({ "size": size });
    let (status, value, _) = relay
        .call(
            Method::POST,
            "/v1/attachments",
            Some(&device.auth),
            Some(body),
        )
        .await;
    (status, value)
}

async fn append(
    relay: &TestRelay,
    device: &TestDevice,
    id: &str,
    offset: u64,
    bytes: &[u8],
) -> (StatusCode, Bytes, HeaderMap) {
    let offset = offset.to_string();
    let path = format!("/v1/attachments/{id}");
    let headers = [("upload-offset", offset.as_str())];
    let body = Body::from(bytes.to_vec());
    send(
        relay,
        Method::PATCH,
        &path,
        Some(&device.auth),
        &headers,
        body,
    )
    .await
}

async fn download(
    relay: &TestRelay,
    id: &str,
    range: Option<&str>,
) -> (StatusCode, Bytes, HeaderMap) {
    let path = format!("/v1/attachments/{id}");
    let headers: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
    send(relay, Method::GET, &path, None, &headers, Body::empty()).await
}

fn blob(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

#[tokio::test]
async fn upload_in_parts_then_download_whole_and_from_an_offset() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let data = blob(300_000);
    let (status, created) = create(&relay, &alice, data.len() as u64).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(
        (
            created["upload_offset"].as_u64(),
            created["complete"].as_bool()
        ),
        (Some(0), Some(false))
    );

    let (status, _, headers) = append(&relay, &alice, &id, 0, &data[..100_000]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["upload-offset"], "100000");
    let (status, _, _) = download(&relay, &id, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not downloadable before it is complete"
    );
    let path = format!("/v1/attachments/{id}/upload");
    let (_, state, _) = relay
        .call(Method::GET, &path, Some(&alice.auth), None)
        .await;
    assert_eq!(state["upload_offset"], 100_000);
    let (status, _, _) = append(&relay, &alice, &id, 100_000, &data[100_000..]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, state, _) = relay
        .call(Method::GET, &path, Some(&alice.auth), None)
        .await;
    assert_eq!(state["complete"], true);

    let (status, body, headers) = download(&relay, &id, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-length"], "300000");
    assert_eq!(body.as_ref(), data.as_slice());
    let (status, body, headers) = download(&relay, &id, Some("bytes=250000-")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(headers["content-range"], "bytes 250000-299999/300000");
    assert_eq!(body.as_ref(), &data[250_000..]);
}

#[tokio::test]
async fn an_interrupted_upload_keeps_what_arrived_and_resumes() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let data = blob(50_000);
    let (_, created) = create(&relay, &alice, data.len() as u64).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let first = Bytes::copy_from_slice(&data[..20_000]);
    let frames: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(first), Err(std::io::Error::other("connection reset"))];
    let path = format!("/v1/attachments/{id}");
    let body = Body::from_stream(futures_util::stream::iter(frames));
    let headers = [("upload-offset", "0")];
    let (status, body, _) = send(
        &relay,
        Method::PATCH,
        &path,
        Some(&alice.auth),
        &headers,
        body,
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "upload_interrupted")
    );

    let (status, body, headers) = append(&relay, &alice, &id, 0, &data).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::CONFLICT, "offset_mismatch")
    );
    assert_eq!(headers["upload-offset"], "20000");
    let (status, _, _) = append(&relay, &alice, &id, 20_000, &data[20_000..]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body, _) = download(&relay, &id, None).await;
    assert_eq!(body.as_ref(), data.as_slice());
}

#[tokio::test]
async fn an_empty_attachment_is_complete_at_once() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let (status, created) = create(&relay, &alice, 0).await;
    assert_eq!(
        (status, created["complete"].as_bool()),
        (StatusCode::CREATED, Some(true))
    );
    let (status, body, _) = download(&relay, created["id"].as_str().unwrap(), None).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 0));
}

#[tokio::test]
async fn upload_errors_have_their_codes() {
    let policy = Policy {
        limits: Limits {
            max_attachment_bytes: 1000,
            attachment_quota_bytes: 1500,
            ..Limits::default()
        },
        ..relaxed()
    };
    let relay = TestRelay::new(policy).await;
    let alice = relay.register("alice", 1).await;
    let mallory = relay.register("mallory", 1).await;

    let (status, body, _) = relay
        .call(
            Method::POST,
            "/v1/attachments",
            None,
            Some(json!({"size": 1})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, body) = create(&relay, &alice, 1001).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("attachment_too_large"))
    );
    let (_, first) = create(&relay, &alice, 1000).await;
    let (status, body) = create(&relay, &alice, 501).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::INSUFFICIENT_STORAGE,
            Some("attachment_quota_exceeded")
        )
    );
    let id = first["id"].as_str().unwrap();

    let path = format!("/v1/attachments/{id}");
    let (status, body, _) = send(
        &relay,
        Method::PATCH,
        &path,
        Some(&alice.auth),
        &[],
        Body::from("x"),
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "missing_upload_offset")
    );
    let (status, body, headers) = append(&relay, &alice, id, 5, b"x").await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::CONFLICT, "offset_mismatch")
    );
    assert_eq!(headers["upload-offset"], "0");
    let (status, body, _) = append(&relay, &alice, id, 0, &blob(1001)).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "attachment_too_large")
    );
    // Another account cannot see or append to the upload.
    let (status, body, _) = append(&relay, &mallory, id, 0, b"x").await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let upload = format!("{path}/upload");
    let (status, _, _) = relay
        .call(Method::GET, &upload, Some(&mallory.auth), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body, _) = download(&relay, "not-an-id", None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_attachment_id")
    );
    let (status, body, _) = download(&relay, &"A".repeat(32), None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    append(&relay, &alice, id, 0, &blob(1000)).await;
    let (status, body, headers) = download(&relay, id, Some("bytes=1000-")).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
    );
    assert_eq!(headers["content-range"], "bytes */1000");
    let (status, _, _) = download(&relay, id, Some("bytes=0-10")).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    let (status, body, _) = append(&relay, &alice, id, 1000, b"x").await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::CONFLICT, "offset_mismatch"),
        "complete uploads take no more bytes"
    );
}

#[tokio::test]
async fn expired_attachments_and_their_blobs_are_purged() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let (_, created) = create(&relay, &alice, 3).await;
    let id = created["id"].as_str().unwrap();
    append(&relay, &alice, id, 0, b"abc").await;
    let file = relay.dir.path().join("attachments").join(id);
    assert!(file.exists());
    let attachments = relay.relay.state.attachments.clone().unwrap();
    let today = Day(created["expires_day"].as_str().unwrap().to_owned());
    assert_eq!(
        attachments.purge_expired(&today).await.unwrap(),
        0,
        "kept through its last day"
    );
    assert_eq!(
        attachments
            .purge_expired(&Day("9999-12-31".into()))
            .await
            .unwrap(),
        1
    );
    assert!(!file.exists(), "the blob is deleted with its record");
    let (status, _, _) = download(&relay, id, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_blob_lost_from_disk_is_not_found_not_an_internal_error() {
    let relay = TestRelay::new(relaxed()).await;
    let alice = relay.register("alice", 1).await;
    let (_, created) = create(&relay, &alice, 3).await;
    let id = created["id"].as_str().unwrap();
    append(&relay, &alice, id, 0, b"abc").await;
    std::fs::remove_file(relay.dir.path().join("attachments").join(id)).unwrap();
    let (status, body, _) = download(&relay, id, None).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

/// The same protocol with blobs in a real S3-compatible server: an upload cut after 9 MiB
/// (inside its second multipart part) resumes in a second request, then downloads whole and
/// from an offset inside a later segment; the purge deletes every segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_resume_download_and_purge_with_s3_storage() {
    let server = s3_server::TestS3::start().await;
    let blobs = Arc::new(S3Blobs::open(server.settings("attachments")).unwrap());
    let storage: Arc<dyn BlobStorage> = blobs.clone();
    let relay = TestRelay::with_blobs(relaxed(), move |_| storage).await;
    let alice = relay.register("alice", 1).await;
    let data = blob(12 << 20);
    let (_, created) = create(&relay, &alice, data.len() as u64).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let cut = (9 << 20) + 1;
    let mut frames: Vec<Result<Bytes, std::io::Error>> = data[..cut]
        .chunks(1 << 20)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    frames.push(Err(std::io::Error::other("connection reset")));
    let path = format!("/v1/attachments/{id}");
    let body = Body::from_stream(futures_util::stream::iter(frames));
    let (status, _, _) = send(
        &relay,
        Method::PATCH,
        &path,
        Some(&alice.auth),
        &[("upload-offset", "0")],
        body,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, headers) = append(&relay, &alice, &id, 0, &data).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(headers["upload-offset"], cut.to_string().as_str());
    let (status, _, _) = append(&relay, &alice, &id, cut as u64, &data[cut..]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body, _) = download(&relay, &id, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.as_ref() == data.as_slice());
    let from = (10 << 20) + 3;
    let range = format!("bytes={from}-");
    let (status, body, _) = download(&relay, &id, Some(&range)).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert!(body.as_ref() == &data[from..]);

    let attachments = relay.relay.state.attachments.clone().unwrap();
    let purged = attachments.purge_expired(&Day("9999-12-31".into())).await;
    assert_eq!(purged.unwrap(), 1);
    let id = AttachmentId::parse(&id).unwrap();
    assert!(blobs.reader(&id, 0).await.unwrap().is_none());
}
