//! The JSON body extractor: parse failures become [`ApiError`]s with stable codes instead of
//! axum's plain-text rejections.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sotto_proto::api::BASE64_ERROR_PREFIX;

/// A request body parsed as `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge
            } else {
                ApiError::MalformedJson(rejection.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|err| {
            let message = err.to_string();
            if message.starts_with(BASE64_ERROR_PREFIX) {
                ApiError::InvalidBase64(message)
            } else {
                ApiError::MalformedJson(message)
            }
        })
    }
}
