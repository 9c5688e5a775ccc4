//! Exit codes: one per kind of failure a script may want to react to (see `docs/cli.md`).

use sotto_client::{ClientError, RelayError, StoreError};

/// Success.
pub const OK: u8 = 0;
/// Any failure not listed below.
pub const OTHER: u8 = 1;
/// Bad usage: unknown flag, bad username, empty or too long text.
pub const USAGE: u8 = 2;
/// The relay could not be reached (network, TLS).
pub const NETWORK: u8 = 3;
/// The relay asked us to slow down.
pub const RATE_LIMITED: u8 = 4;
/// A verified contact's identity changed: `sotto verify USERNAME --accept` first.
pub const UNTRUSTED_IDENTITY: u8 = 5;
/// The profile could not be unlocked (wrong or missing passphrase or key file, or in use).
pub const LOCKED: u8 = 6;

/// A usage error found by the CLI itself (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The profile could not be unlocked (exit code 6).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LockedError(pub String);

/// The exit code for an error: the first error in its chain that says what kind it is.
pub fn code_for(error: &anyhow::Error) -> u8 {
    error
        .chain()
        .find_map(|cause| {
            if cause.is::<UsageError>() {
                Some(USAGE)
            } else if cause.is::<LockedError>() {
                Some(LOCKED)
            } else if let Some(e) = cause.downcast_ref::<ClientError>() {
                client_code(e)
            } else if let Some(e) = cause.downcast_ref::<StoreError>() {
                store_code(e)
            } else {
                cause.downcast_ref::<RelayError>().and_then(relay_code)
            }
        })
        .unwrap_or(OTHER)
}

fn client_code(error: &ClientError) -> Option<u8> {
    match error {
        ClientError::Store(e) => store_code(e),
        ClientError::Relay(e) => relay_code(e),
        ClientError::UntrustedIdentity { .. } => Some(UNTRUSTED_IDENTITY),
        ClientError::InvalidUsername(_)
        | ClientError::TextTooLong(_)
        | ClientError::UnknownMessage { .. }
        | ClientError::MessageLocked { .. }
        | ClientError::InvalidInput(_)
        | ClientError::AttachmentTooLarge { .. } => Some(USAGE),
        _ => None,
    }
}

fn store_code(error: &StoreError) -> Option<u8> {
    match error {
        StoreError::InUse
        | StoreError::WrongPassphrase
        | StoreError::WrongKeyFile
        | StoreError::WrongUnlockMethod { .. }
        | StoreError::KeyFileTooOpen { .. }
        | StoreError::KeyFile { .. } => Some(LOCKED),
        _ => None,
    }
}

fn relay_code(error: &RelayError) -> Option<u8> {
    match error {
        RelayError::Network(_) | RelayError::Tls(_) => Some(NETWORK),
        RelayError::RateLimited { .. } => Some(RATE_LIMITED),
        RelayError::Status { status: 429, .. } => Some(RATE_LIMITED),
        _ => None,
    }
}

/// A hint printed under the error, saying what to do.
pub fn hint_for(code: u8) -> Option<&'static str> {
    match code {
        NETWORK => Some("check that the relay is running and its URL is right, then try again"),
        RATE_LIMITED => Some("wait a little and try again"),
        UNTRUSTED_IDENTITY => Some(
            "compare the new safety number with `sotto verify USERNAME`, then run \
             `sotto verify USERNAME --accept`",
        ),
        LOCKED => Some(
            "set SOTTO_PASSPHRASE, type the passphrase at a terminal, or keep the profile's \
             key file (profile.key, mode 0600); only one process may use a profile at a time",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_code() {
        let untrusted = anyhow::Error::new(ClientError::UntrustedIdentity {
            username: "bob".into(),
        });
        assert_eq!(code_for(&untrusted), UNTRUSTED_IDENTITY);
        let network = anyhow::Error::new(ClientError::Relay(RelayError::Network("x".into())));
        assert_eq!(code_for(&network.context("sending")), NETWORK);
        let limited = anyhow::Error::new(RelayError::RateLimited {
            retry_after_secs: None,
        });
        assert_eq!(code_for(&limited), RATE_LIMITED);
        let locked = anyhow::Error::new(ClientError::Store(StoreError::WrongPassphrase));
        assert_eq!(code_for(&locked), LOCKED);
        assert_eq!(code_for(&anyhow::Error::new(UsageError("x".into()))), USAGE);
        assert_eq!(code_for(&anyhow::anyhow!("something else")), OTHER);
    }
}
