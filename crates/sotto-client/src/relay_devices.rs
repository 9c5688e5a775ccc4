//! The relay's device endpoints: provisioning channels, link tokens, linking, the own device
//! list and removal.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::{Method, StatusCode};
use sotto_proto::api::{
    DeviceList, LinkDeviceRequest, LinkToken, ProvisioningChannel, ProvisioningEnvelope,
    RegisterResponse,
};
use zeroize::Zeroizing;

use crate::error::RelayError;
use crate::relay::{Relay, status_error};

impl Relay {
    /// `POST /v1/provisioning` (no credentials).
    pub(crate) async fn open_provisioning(&self) -> Result<ProvisioningChannel, RelayError> {
        self.call(Method::POST, "/v1/provisioning", None).await
    }

    /// `GET /v1/provisioning/{id}` with the channel's secret: `None` while it is empty.
    pub(crate) async fn read_provisioning(
        &self,
        channel_id: &str,
        secret: &[u8],
    ) -> Result<Option<Vec<u8>>, RelayError> {
        let bearer = Zeroizing::new(format!("Bearer {}", STANDARD.encode(secret)));
        let path = format!("/v1/provisioning/{channel_id}");
        let (status, headers, bytes) = self
            .request_with(
                Method::GET,
                &path,
                None,
                &[("authorization", bearer.as_str())],
            )
            .await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(status_error(status, &headers, &bytes));
        }
        let envelope: ProvisioningEnvelope =
            serde_json::from_slice(&bytes).map_err(|e| RelayError::Malformed(e.to_string()))?;
        Ok(Some(envelope.message.0))
    }

    /// `PUT /v1/provisioning/{id}` as this device.
    pub(crate) async fn fill_provisioning(
        &self,
        channel_id: &str,
        envelope: &ProvisioningEnvelope,
    ) -> Result<(), RelayError> {
        let path = format!("/v1/provisioning/{channel_id}");
        self.expect_empty(Method::PUT, &path, Self::json(envelope)?)
            .await
    }

    /// `POST /v1/devices/link-token` as this device.
    pub(crate) async fn link_token(&self) -> Result<LinkToken, RelayError> {
        self.call(Method::POST, "/v1/devices/link-token", None)
            .await
    }

    /// `POST /v1/devices/link` (no credentials: the token authorises it).
    pub(crate) async fn link_device(
        &self,
        request: &LinkDeviceRequest,
    ) -> Result<RegisterResponse, RelayError> {
        self.call(Method::POST, "/v1/devices/link", Self::json(request)?)
            .await
    }

    /// `GET /v1/devices` as this device.
    pub(crate) async fn own_devices(&self) -> Result<DeviceList, RelayError> {
        self.call(Method::GET, "/v1/devices", None).await
    }

    /// `DELETE /v1/devices/{id}` as this device.
    pub(crate) async fn remove_device(&self, device_id: u32) -> Result<(), RelayError> {
        let path = format!("/v1/devices/{device_id}");
        self.expect_empty(Method::DELETE, &path, None).await
    }

    async fn expect_empty(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(), RelayError> {
        let (status, headers, bytes) = self.request(method, path, body).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(status_error(status, &headers, &bytes))
        }
    }
}
