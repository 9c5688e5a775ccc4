//! Sealed sender: sender certificates for authenticated devices, and the trust root clients pin.

use super::auth::AuthenticatedDevice;
use super::error::ApiError;
use super::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use sotto_proto::api::{Base64Bytes, SenderCertificateResponse, TrustRootResponse};

/// `GET /v1/certificate`: a short-lived certificate for the calling device.
pub(super) async fn sender_certificate(
    State(state): State<AppState>,
    AuthenticatedDevice(me): AuthenticatedDevice,
) -> Result<Json<SenderCertificateResponse>, ApiError> {
    let certificates = state
        .certificates
        .as_ref()
        .ok_or(ApiError::SealedSenderUnavailable)?;
    let account = state
        .store
        .account(&me.account)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let now = u64::try_from(now_ms()).unwrap_or(0);
    let issued = certificates
        .issue(
            &me.account.to_string(),
            me.device.get(),
            &account.identity_key,
            now,
        )
        .map_err(ApiError::Internal)?;
    Ok(Json(SenderCertificateResponse {
        certificate: Base64Bytes(issued.certificate),
        expires_ms: issued.expires_ms,
        key_id: certificates.key_id(),
    }))
}

/// `GET /v1/certificate/trust-root`: the key clients pin, and the revoked server key ids.
pub(super) async fn trust_root(
    State(state): State<AppState>,
) -> Result<Json<TrustRootResponse>, ApiError> {
    let certificates = state
        .certificates
        .as_ref()
        .ok_or(ApiError::SealedSenderUnavailable)?;
    Ok(Json(TrustRootResponse {
        trust_root: Base64Bytes(certificates.trust_root().to_vec()),
        key_id: certificates.key_id(),
        revoked_key_ids: certificates.revoked().to_vec(),
    }))
}
