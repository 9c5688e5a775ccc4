//! Delivery over WebSocket: one authenticated connection per device.
//!
//! On connect the server pushes the device's backlog oldest first, then a `queue_empty`
//! frame, then new envelopes as they arrive. The client acks each envelope by id; only an
//! ack deletes it, so a dropped connection loses nothing and the envelope comes again on the
//! next one. A second connection for the same device closes the first with close code
//! [`CLOSE_CONNECTED_ELSEWHERE`](sotto_proto::api::CLOSE_CONNECTED_ELSEWHERE).

pub mod bus;
mod connection;
mod frames;
pub mod redis;
mod send;

pub use bus::{DeliveryBus, LocalBus, Subscription};
pub use frames::FrameFormat;

use crate::api::auth::authenticate;
use crate::api::{ApiError, AppState};
use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

/// Largest frame a client may send: acks are tiny, so this only bounds garbage.
const MAX_CLIENT_FRAME: usize = 16 * 1024;
/// Initial read buffer of a connection. The WebSocket library's default (128 KiB) would
/// dominate the memory of an idle connection; clients only send small acks.
const READ_BUFFER: usize = 4 * 1024;
/// Outgoing bytes buffered before a write is forced; envelopes are flushed per burst anyway.
const WRITE_BUFFER: usize = 8 * 1024;

/// `GET /v1/websocket[?frames=json|binary]`: authenticates, then upgrades.
pub async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let device = authenticate(&state, &headers).await?;
    let format = FrameFormat::from_query(uri.query()).ok_or(ApiError::InvalidFrameFormat)?;
    let upgrade = upgrade.map_err(|_| ApiError::WebSocketRequired)?;
    // Binary connections carry sends, so their frames may be as large as a send's HTTP body.
    let max_frame = match format {
        FrameFormat::Json => MAX_CLIENT_FRAME,
        FrameFormat::Binary => state.policy.limits.max_body_bytes(),
    };
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| connection::serve(state, device, format, socket)))
}
