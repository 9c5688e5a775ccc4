//! The relay's attachment endpoints: create an upload, append to it at an offset, ask how far
//! it got, and stream a finished blob (from an offset) back. Bodies go out in bounded pieces
//! and come back as a stream, so no call holds a whole blob in memory.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sotto_proto::api::{AttachmentUpload, NewAttachmentRequest};

use crate::error::RelayError;
use crate::relay::{Relay, network, status_error};

/// What the relay said to an append.
pub(crate) enum Appended {
    /// The relay now durably holds this many bytes.
    To(u64),
    /// The relay holds another number of bytes than we assumed: continue from there.
    OffsetMismatch(u64),
}

/// A blob download in progress.
pub(crate) struct BlobDownload {
    /// The relay's answer: `200` (whole blob) or `206` (from the offset asked for).
    pub(crate) partial: bool,
    /// The body, frame by frame.
    pub(crate) body: Incoming,
}

impl Relay {
    /// Sends one request with a raw body and extra headers; the answer's body is not read.
    async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Bytes,
        authenticated: bool,
    ) -> Result<Response<Incoming>, RelayError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.endpoint.authority());
        if authenticated && let Some(auth) = &self.authorization {
            request = request.header("authorization", auth.as_str());
        }
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request.body(Full::new(body)).map_err(network)?;
        let stream = self.endpoint.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(network)?;
        // Driven in the background until the response body is read or dropped.
        tokio::spawn(connection);
        sender.send_request(request).await.map_err(network)
    }

    /// Reads an error answer whole (error bodies are small) into a [`RelayError`].
    async fn failure(response: Response<Incoming>) -> RelayError {
        let (parts, body) = response.into_parts();
        match body.collect().await {
            Ok(bytes) => status_error(parts.status, &parts.headers, &bytes.to_bytes()),
            Err(error) => network(error),
        }
    }

    async fn upload_json(response: Response<Incoming>) -> Result<AttachmentUpload, RelayError> {
        if !response.status().is_success() {
            return Err(Self::failure(response).await);
        }
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(network)?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| RelayError::Malformed(e.to_string()))
    }

    /// `POST /v1/attachments`: announces a blob of `size` bytes.
    pub(crate) async fn create_attachment(
        &self,
        size: u64,
    ) -> Result<AttachmentUpload, RelayError> {
        let body = serde_json::to_vec(&NewAttachmentRequest { size })
            .map_err(|e| RelayError::Malformed(e.to_string()))?;
        let headers = [("content-type", "application/json".to_owned())];
        let response = self
            .raw(
                Method::POST,
                "/v1/attachments",
                &headers,
                Bytes::from(body),
                true,
            )
            .await?;
        Self::upload_json(response).await
    }

    /// `GET /v1/attachments/{id}/upload`: how far an upload of ours got; `None` if the relay
    /// does not know it (expired, or never ours).
    pub(crate) async fn upload_state(
        &self,
        id: &str,
    ) -> Result<Option<AttachmentUpload>, RelayError> {
        let path = format!("/v1/attachments/{id}/upload");
        let response = self
            .raw(Method::GET, &path, &[], Bytes::new(), true)
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Self::upload_json(response).await.map(Some)
    }

    /// `PATCH /v1/attachments/{id}`: appends `bytes` at `offset`.
    pub(crate) async fn append_attachment(
        &self,
        id: &str,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<Appended, RelayError> {
        let path = format!("/v1/attachments/{id}");
        let headers = [
            ("upload-offset", offset.to_string()),
            ("content-type", "application/octet-stream".to_owned()),
        ];
        let response = self
            .raw(Method::PATCH, &path, &headers, Bytes::from(bytes), true)
            .await?;
        let status = response.status();
        let held = response
            .headers()
            .get("upload-offset")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        match (status, held) {
            (StatusCode::NO_CONTENT, Some(held)) => Ok(Appended::To(held)),
            (StatusCode::CONFLICT, Some(held)) => Ok(Appended::OffsetMismatch(held)),
            (StatusCode::NO_CONTENT, None) => Err(RelayError::Malformed(
                "an append answered without Upload-Offset".to_owned(),
            )),
            _ => Err(Self::failure(response).await),
        }
    }

    /// `GET /v1/attachments/{id}`, from byte `from` on (no authentication: the id is the
    /// capability, and the relay need not learn who fetches). `None` when the relay does not
    /// have the blob.
    pub(crate) async fn download_attachment(
        &self,
        id: &str,
        from: u64,
    ) -> Result<Option<BlobDownload>, RelayError> {
        let path = format!("/v1/attachments/{id}");
        let headers: Vec<(&str, String)> = if from > 0 {
            vec![("range", format!("bytes={from}-"))]
        } else {
            Vec::new()
        };
        let response = self
            .raw(Method::GET, &path, &headers, Bytes::new(), false)
            .await?;
        match response.status() {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => Ok(Some(BlobDownload {
                partial: response.status() == StatusCode::PARTIAL_CONTENT,
                body: response.into_body(),
            })),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Self::failure(response).await),
        }
    }
}
