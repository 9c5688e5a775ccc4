//! The bench's HTTP side of attachments: a blob goes up in `PATCH` requests of a fixed
//! size at increasing `Upload-Offset`s, as a resuming client sends it, and comes down in one
//! streamed `GET`.

use super::attachments::bytes_bar;
use anyhow::{Context, Result, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use sotto_cli::relay_client::{Credentials, RelayClient};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// One blob's trip through a relay.
#[derive(Debug, Default)]
pub struct Transfer {
    /// The attachment id the relay gave.
    pub id: String,
    /// Announcing the blob and every `PATCH`, reading the file included.
    pub upload: Duration,
    /// The `GET`, writing the file included.
    pub download: Duration,
    /// `PATCH` requests sent.
    pub requests: u64,
    /// The relay's peak resident memory afterwards, in KiB.
    pub peak_rss_kib: u64,
}

fn http() -> Client<HttpConnector, Full<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Announces the blob in `path` and sends it in `request`-byte `PATCH`es.
pub async fn upload(
    relay: &RelayClient,
    device: &Credentials,
    path: &Path,
    request: u64,
) -> Result<Transfer> {
    let len = std::fs::metadata(path)?.len();
    let bar = bytes_bar(len, "uploading");
    let started = Instant::now();
    let (status, created) = relay
        .json(
            Method::POST,
            "/v1/attachments",
            Some(device),
            &json!({ "size": len }),
        )
        .await?;
    ensure!(
        status == StatusCode::CREATED,
        "announcing the blob: {status} {created}"
    );
    let id = created["id"]
        .as_str()
        .context("no attachment id")?
        .to_owned();
    let (http, mut file) = (http(), File::open(path)?);
    let (mut offset, mut requests) = (0u64, 0u64);
    while offset < len {
        let mut body = vec![0u8; request.min(len - offset) as usize];
        file.read_exact(&mut body)?;
        let sent = body.len() as u64;
        let patch = Request::builder()
            .method(Method::PATCH)
            .uri(format!("{}/v1/attachments/{id}", relay.base()))
            .header("authorization", device.authorization())
            .header("upload-offset", offset)
            .body(Full::new(Bytes::from(body)))?;
        let response = http
            .request(patch)
            .await
            .context("PATCH to the relay failed")?;
        ensure!(
            response.status() == StatusCode::NO_CONTENT,
            "PATCH at {offset}: {}",
            response.status()
        );
        offset += sent;
        requests += 1;
        bar.inc(sent);
    }
    bar.finish_and_clear();
    Ok(Transfer {
        id,
        upload: started.elapsed(),
        requests,
        ..Transfer::default()
    })
}

/// Downloads attachment `id` into `path`; the time it took.
pub async fn download(relay: &RelayClient, id: &str, path: &Path) -> Result<Duration> {
    let started = Instant::now();
    let get = Request::builder()
        .uri(format!("{}/v1/attachments/{id}", relay.base()))
        .body(Full::new(Bytes::new()))?;
    let response = http()
        .request(get)
        .await
        .context("GET from the relay failed")?;
    ensure!(
        response.status() == StatusCode::OK,
        "download: {}",
        response.status()
    );
    let len = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .context("download without a length")?;
    let bar = bytes_bar(len, "downloading");
    let mut out = BufWriter::new(File::create(path)?);
    let mut body = response.into_body();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.context("download interrupted")?.into_data() {
            out.write_all(&data)?;
            received += data.len() as u64;
            bar.inc(data.len() as u64);
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    ensure!(
        received == len,
        "download ended after {received} of {len} bytes"
    );
    Ok(started.elapsed())
}
