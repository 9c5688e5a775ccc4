//! Attachment upload (resumable) and download.
//!
//! `POST /v1/attachments` announces a blob's size and gets an id; `PATCH /v1/attachments/{id}`
//! with `Upload-Offset` appends bytes (any number of requests, each resumable where the last
//! one stopped); `GET /v1/attachments/{id}/upload` tells the uploader the offset to resume
//! from; `GET /v1/attachments/{id}` serves the finished blob to anyone holding its id, with
//! `Range: bytes=N-` for resumed downloads. The relay sees only ciphertext.

use super::auth::AuthenticatedDevice;
use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, now_ms};
use crate::blobs::{BlobReader, BlobStorage};
use crate::domain::{AttachmentId, DeviceAddress};
use crate::store::{AttachmentIndex, AttachmentRecord, Day, NewAttachment};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sotto_proto::api::{AttachmentUpload, NewAttachmentRequest};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;

/// The header carrying an upload's byte offset, in requests and answers.
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");

/// Bytes read from disk per download frame.
const READ_FRAME: usize = 64 * 1024;

/// Attachment records and their bytes.
pub struct Attachments {
    index: Arc<dyn AttachmentIndex>,
    blobs: Arc<dyn BlobStorage>,
    /// Uploads with a `PATCH` in progress: a second one at the same time is refused, since
    /// both would append at the same offset.
    uploading: Mutex<HashSet<AttachmentId>>,
}

impl Attachments {
    /// Attachments recorded in `index`, stored in `blobs`.
    pub fn new(index: Arc<dyn AttachmentIndex>, blobs: Arc<dyn BlobStorage>) -> Attachments {
        Attachments {
            index,
            blobs,
            uploading: Mutex::new(HashSet::new()),
        }
    }

    /// Forgets expired attachments and deletes their blobs; returns how many.
    ///
    /// Fails if the index cannot be read; a blob that cannot be deleted is logged.
    pub async fn purge_expired(&self, today: &Day) -> Result<usize, crate::store::StoreError> {
        let expired = self.index.purge_expired_attachments(today).await?;
        for id in &expired {
            if let Err(e) = self.blobs.delete(id).await {
                tracing::error!(error = %e, "deleting an expired attachment blob failed");
            }
        }
        Ok(expired.len())
    }

    fn claim(&self, id: &AttachmentId) -> Option<UploadClaim<'_>> {
        let mut uploading = self.uploading.lock().unwrap_or_else(|e| e.into_inner());
        uploading
            .insert(id.clone())
            .then(|| UploadClaim(self, id.clone()))
    }
}

/// Releases an upload's claim when the request ends, however it ends.
struct UploadClaim<'a>(&'a Attachments, AttachmentId);

impl Drop for UploadClaim<'_> {
    fn drop(&mut self) {
        let mut uploading = self.0.uploading.lock().unwrap_or_else(|e| e.into_inner());
        uploading.remove(&self.1);
    }
}

fn service(state: &AppState) -> Result<&Attachments, ApiError> {
    state
        .attachments
        .as_deref()
        .ok_or(ApiError::AttachmentsDisabled)
}

fn view(record: &AttachmentRecord) -> AttachmentUpload {
    AttachmentUpload {
        id: record.id.as_str().to_owned(),
        size: record.size,
        upload_offset: record.received,
        complete: record.complete,
        expires_day: record.expires.0.clone(),
    }
}

/// The record of an upload of `me`'s account; others get `not_found`, like unknown ids.
async fn own_upload(
    attachments: &Attachments,
    me: &DeviceAddress,
    id: &str,
) -> Result<AttachmentRecord, ApiError> {
    let id = AttachmentId::parse(id)?;
    match attachments.index.attachment(&id).await? {
        Some(record) if record.account == me.account => Ok(record),
        _ => Err(ApiError::NotFound),
    }
}

/// `POST /v1/attachments`
pub(super) async fn create(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    ApiJson(request): ApiJson<NewAttachmentRequest>,
) -> Result<(StatusCode, Json<AttachmentUpload>), ApiError> {
    let attachments = service(&state)?;
    let limits = &state.policy.limits;
    if request.size > limits.max_attachment_bytes {
        return Err(ApiError::AttachmentTooLarge(limits.max_attachment_bytes));
    }
    let id = AttachmentId::random().map_err(|e| ApiError::Internal(e.to_string()))?;
    let ttl_seconds = i64::from(limits.attachment_ttl_days) * 86_400;
    let new = NewAttachment {
        id,
        account: me.account.clone(),
        size: request.size,
        expires: Day::from_unix(now_ms() / 1000 + ttl_seconds),
    };
    attachments
        .index
        .create_attachment(&new, limits.attachment_quota_bytes)
        .await?;
    let record = AttachmentRecord {
        id: new.id,
        account: new.account,
        size: new.size,
        received: 0,
        complete: request.size == 0,
        expires: new.expires,
    };
    if record.complete {
        finish_empty(attachments, &record).await?;
    }
    Ok((StatusCode::CREATED, Json(view(&record))))
}

/// An empty blob is complete at once: create its file so that it can be downloaded.
async fn finish_empty(
    attachments: &Attachments,
    record: &AttachmentRecord,
) -> Result<(), ApiError> {
    let writer = attachments
        .blobs
        .writer(&record.id, 0)
        .await
        .map_err(internal)?;
    writer.finish().await.map_err(internal)?;
    attachments.index.set_received(&record.id, 0, true).await?;
    Ok(())
}

fn internal(err: std::io::Error) -> ApiError {
    ApiError::Internal(format!("blob storage: {err}"))
}

/// `GET /v1/attachments/{id}/upload`
pub(super) async fn status(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    Path(id): Path<String>,
) -> Result<Json<AttachmentUpload>, ApiError> {
    let record = own_upload(service(&state)?, &me, &id).await?;
    Ok(Json(view(&record)))
}

fn offset_header(offset: u64) -> [(HeaderName, HeaderValue); 1] {
    [(UPLOAD_OFFSET, HeaderValue::from(offset))]
}

/// `PATCH /v1/attachments/{id}`: appends the body at `Upload-Offset`.
pub(super) async fn append(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let attachments = service(&state)?;
    let record = own_upload(attachments, &me, &id).await?;
    let offset = headers
        .get(&UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .ok_or(ApiError::MissingUploadOffset)?;
    let Some(_claim) = attachments.claim(&record.id) else {
        return Err(ApiError::UploadInProgress);
    };
    // Read again under the claim: a request that just ended may have moved the offset.
    let record = own_upload(attachments, &me, &id).await?;
    if offset != record.received || record.complete {
        return Err(ApiError::OffsetMismatch(record.received));
    }
    let (received, outcome) = receive_body(attachments, &record, body).await?;
    let complete = received == record.size;
    attachments
        .index
        .set_received(&record.id, received, complete)
        .await?;
    outcome?;
    Ok((StatusCode::NO_CONTENT, offset_header(received)).into_response())
}

/// Streams the body into the blob and makes it durable. Returns the durable length, and
/// the request's own outcome separately: bytes that arrived before a failure are kept, so
/// the client resumes after them.
async fn receive_body(
    attachments: &Attachments,
    record: &AttachmentRecord,
    body: Body,
) -> Result<(u64, Result<(), ApiError>), ApiError> {
    let mut writer = attachments
        .blobs
        .writer(&record.id, record.received)
        .await
        .map_err(internal)?;
    let mut stream = body.into_data_stream();
    let mut len = record.received;
    let mut outcome = Ok(());
    while let Some(frame) = stream.next().await {
        let Ok(frame) = frame else {
            outcome = Err(ApiError::UploadInterrupted);
            break;
        };
        if len + frame.len() as u64 > record.size {
            outcome = Err(ApiError::AttachmentTooLarge(record.size));
            break;
        }
        writer.write(&frame).await.map_err(internal)?;
        len += frame.len() as u64;
    }
    let durable = writer.finish().await.map_err(internal)?;
    Ok((durable, outcome))
}

/// `GET /v1/attachments/{id}`: the finished blob, whole or from `Range: bytes=N-`.
pub(super) async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let attachments = service(&state)?;
    let id = AttachmentId::parse(&id)?;
    let record = match attachments.index.attachment(&id).await? {
        Some(record) if record.complete => record,
        _ => return Err(ApiError::NotFound),
    };
    let start = match headers.get(header::RANGE) {
        None => None,
        Some(value) => Some(parse_range(value, record.size)?),
    };
    let reader = attachments
        .blobs
        .reader(&id, start.unwrap_or(0))
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            // Lost with a disk, or a database restored without its blobs.
            tracing::warn!("a complete attachment has no blob");
            ApiError::NotFound
        })?;
    let remaining = record.size - start.unwrap_or(0);
    let mut response = Body::from_stream(read_frames(reader, remaining)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(remaining));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(start) = start {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let range = format!(
            "bytes {start}-{}/{}",
            record.size.saturating_sub(1),
            record.size
        );
        if let Ok(value) = HeaderValue::from_str(&range) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// `bytes=N-` with `N` inside the blob (the only form resumed downloads need).
fn parse_range(value: &HeaderValue, size: u64) -> Result<u64, ApiError> {
    let start = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<u64>().ok());
    match start {
        Some(start) if start < size => Ok(start),
        _ => Err(ApiError::RangeNotSatisfiable(size)),
    }
}

/// The blob as a stream of frames, `remaining` bytes in all.
fn read_frames(
    reader: BlobReader,
    remaining: u64,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    futures_util::stream::unfold((reader, remaining), |(mut reader, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        // Full frames even when the storage hands out small pieces (an object service's
        // response arrives in whatever chunks its server wrote).
        let mut frame = vec![0u8; READ_FRAME.min(remaining as usize)];
        match reader.read_exact(&mut frame).await {
            Ok(n) => Some((Ok(frame), (reader, remaining - n as u64))),
            Err(e) => Some((Err(e), (reader, 0))),
        }
    })
}
