//! Where a node keeps attachment blobs: a directory (by default `DATA_DIR/attachments`), or
//! an S3-compatible bucket that every node of a cluster shares. Access keys come only from
//! the standard `AWS_*` environment variables (or the machine's role), never from flags,
//! which other users can read in the process list.

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;
use sotto_server::blobs::{BlobStorage, LocalBlobs, S3Blobs, S3Settings};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where attachment blobs live inside the data directory by default.
const ATTACHMENTS_DIR: &str = "attachments";

#[derive(Debug, Default, Args)]
pub struct AttachmentArgs {
    /// Where attachment blobs live: a directory, or s3://BUCKET[/PREFIX] for S3-compatible
    /// object storage (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)
    /// [default: DATA_DIR/attachments].
    #[arg(long, env = "SOTTO_ATTACHMENTS")]
    attachments: Option<String>,
    /// S3 endpoint URL of a service other than AWS (MinIO, Garage, Ceph, ...).
    #[arg(long, env = "SOTTO_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// S3 region [default: AWS_REGION, else us-east-1].
    #[arg(long, env = "SOTTO_S3_REGION")]
    s3_region: Option<String>,
    /// Allow a plain-HTTP S3 endpoint (a test server, or a private network).
    #[arg(long, env = "SOTTO_S3_ALLOW_HTTP")]
    s3_allow_http: bool,
}

/// The `[s3]` table of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3File {
    endpoint: Option<String>,
    region: Option<String>,
    allow_http: Option<bool>,
}

/// Where blobs go, after merging flags, environment and file.
pub enum BlobLocation {
    Directory(PathBuf),
    S3(S3Settings),
}

impl BlobLocation {
    /// Flags and environment over the file's `attachments` and `[s3]`; by default a
    /// directory in `data_dir`.
    pub fn merge(
        args: AttachmentArgs,
        file_location: Option<String>,
        file_s3: Option<S3File>,
        data_dir: &Path,
    ) -> Result<BlobLocation> {
        let Some(location) = args.attachments.or(file_location) else {
            return Ok(BlobLocation::Directory(data_dir.join(ATTACHMENTS_DIR)));
        };
        if !location.starts_with("s3://") {
            return Ok(BlobLocation::Directory(PathBuf::from(location)));
        }
        let file = file_s3.unwrap_or_default();
        let settings = S3Settings {
            endpoint: args.s3_endpoint.or(file.endpoint),
            region: args.s3_region.or(file.region),
            allow_http: args.s3_allow_http || file.allow_http.unwrap_or(false),
            ..S3Settings::from_url(&location)?
        };
        Ok(BlobLocation::S3(settings))
    }

    /// What the log says about it.
    pub fn describe(&self) -> String {
        match self {
            BlobLocation::Directory(dir) => dir.display().to_string(),
            BlobLocation::S3(s3) => format!("s3://{}/{}", s3.bucket, s3.prefix),
        }
    }

    /// Opens the storage; a bucket is listed once, so that a wrong endpoint, bucket or key
    /// stops the relay at startup rather than at the first upload.
    pub async fn open(&self) -> Result<Arc<dyn BlobStorage>> {
        match self {
            BlobLocation::Directory(dir) => {
                let blobs = LocalBlobs::open(dir).with_context(|| {
                    format!("cannot create the attachment directory {}", dir.display())
                })?;
                Ok(Arc::new(blobs))
            }
            BlobLocation::S3(settings) => {
                let blobs = S3Blobs::open(settings.clone())?;
                blobs.check().await.with_context(|| {
                    format!("cannot reach attachment storage {}", self.describe())
                })?;
                Ok(Arc::new(blobs))
            }
        }
    }
}
