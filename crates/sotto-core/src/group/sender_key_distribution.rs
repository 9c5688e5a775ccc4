//! The Sender Key distribution message: how a sender hands its current chain to a member.
//!
//! `0x13 || SenderKeyDistribution (protobuf)`: group id, chain id, iteration, chain key and the
//! chain's Ed25519 signing public key. It is secret (the chain key reads every later message of
//! the chain) and travels only inside the pairwise sessions, which authenticate the sender.

use core::fmt;

use ed25519_dalek::VerifyingKey;
use prost::Message;
use sotto_proto::group as wire;
use zeroize::Zeroizing;

use super::error::DistributionError;
use super::{DISTRIBUTION_MESSAGE_TYPE, GroupId, strip_version_byte, version_byte};
use crate::identity::verifying_key;
use crate::ratchet::chain_key::ChainKey;

/// A parsed distribution message: the signing key is valid, the chain key is secret.
#[derive(Clone)]
pub struct SenderKeyDistribution {
    pub(crate) group_id: GroupId,
    pub(crate) chain_id: u32,
    pub(crate) chain_key: ChainKey,
    pub(crate) signing_key: VerifyingKey,
}

impl SenderKeyDistribution {
    /// The group the key sends in.
    pub fn group_id(&self) -> &GroupId {
        &self.group_id
    }

    /// The chain's id.
    pub fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The first iteration a receiver of this distribution can read.
    pub fn iteration(&self) -> u32 {
        self.chain_key.index()
    }

    /// The wire bytes (secret: send them only inside a pairwise session).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let body = wire::SenderKeyDistribution {
            group_id: self.group_id.as_bytes().to_vec(),
            chain_id: self.chain_id,
            iteration: self.chain_key.index(),
            chain_key: self.chain_key.key().to_vec(),
            signing_key: self.signing_key.as_bytes().to_vec(),
        };
        let mut out = Zeroizing::new(Vec::with_capacity(1 + body.encoded_len()));
        out.push(version_byte(DISTRIBUTION_MESSAGE_TYPE));
        body.encode_raw(&mut *out);
        let mut body = body;
        zeroize::Zeroize::zeroize(&mut body.chain_key);
        out
    }
}

impl TryFrom<&[u8]> for SenderKeyDistribution {
    type Error = DistributionError;

    /// Parses a distribution message.
    ///
    /// # Errors
    /// A wrong first byte, a body that does not decode, a group id or chain key of the wrong
    /// length, or an invalid signing key.
    fn try_from(bytes: &[u8]) -> Result<Self, DistributionError> {
        let rest = strip_version_byte(bytes, DISTRIBUTION_MESSAGE_TYPE)?;
        let mut body = wire::SenderKeyDistribution::decode(rest)
            .map_err(|_| DistributionError::Malformed("distribution does not decode"))?;
        let parsed = parse(&body);
        zeroize::Zeroize::zeroize(&mut body.chain_key);
        parsed
    }
}

fn parse(body: &wire::SenderKeyDistribution) -> Result<SenderKeyDistribution, DistributionError> {
    let group_id = GroupId::from_wire(&body.group_id)
        .ok_or(DistributionError::Malformed("group id is not 32 bytes"))?;
    let key: [u8; 32] = body
        .chain_key
        .as_slice()
        .try_into()
        .map_err(|_| DistributionError::Malformed("chain key is not 32 bytes"))?;
    Ok(SenderKeyDistribution {
        group_id,
        chain_id: body.chain_id,
        chain_key: ChainKey::new(key, body.iteration),
        signing_key: verifying_key(&body.signing_key)?,
    })
}

impl fmt::Debug for SenderKeyDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyDistribution")
            .field("group_id", &self.group_id)
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.chain_key.index())
            .finish_non_exhaustive()
    }
}
