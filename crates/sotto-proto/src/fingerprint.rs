//! The scannable (QR code) form of a safety number.

/// One party's half of a scannable safety number.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogicalFingerprint {
    /// The first 32 bytes of the party's iterated hash.
    #[prost(bytes = "vec", tag = "1")]
    pub content: Vec<u8>,
}

/// What a QR code for a safety number carries.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CombinedFingerprints {
    /// Fingerprint format version.
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The fingerprint of the party who shows the code.
    #[prost(message, optional, tag = "2")]
    pub local_fingerprint: Option<LogicalFingerprint>,
    /// The fingerprint of the party expected to scan it.
    #[prost(message, optional, tag = "3")]
    pub remote_fingerprint: Option<LogicalFingerprint>,
}
