//! Blobs in S3-compatible object storage, shared by every node of a cluster: each upload
//! request becomes one segment object (layout in [`super::segments`]); reads stream the
//! segments in order. Requests go through `object_store` over rustls with the ring provider.

use super::segments::{self, Segment, Segments};
use super::upload::SegmentWriter;
use super::{BlobReader, BlobStorage, BlobWriter};
use crate::domain::AttachmentId;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// Where and how to reach a bucket. Unset fields fall back to the standard `AWS_*`
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION`, `AWS_ENDPOINT`, …), then to the instance's role where there is one.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// The bucket.
    pub bucket: String,
    /// Key prefix of every blob (no leading or trailing `/`; may be empty).
    pub prefix: String,
    /// Endpoint URL of an S3-compatible service (MinIO, Garage, Ceph, …) instead of AWS.
    pub endpoint: Option<String>,
    /// Region (AWS default: `us-east-1`).
    pub region: Option<String>,
    /// An access key; `None` takes it from the environment.
    pub credentials: Option<S3Credentials>,
    /// Allow a plain-HTTP endpoint (test servers and private networks only).
    pub allow_http: bool,
}

impl S3Settings {
    /// Settings for `s3://bucket` or `s3://bucket/prefix`, the rest unset.
    ///
    /// Fails with [`S3ConfigError::NotS3Url`] for another scheme or an empty bucket.
    pub fn from_url(url: &str) -> Result<S3Settings, S3ConfigError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| S3ConfigError::NotS3Url(url.to_owned()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(S3ConfigError::NotS3Url(url.to_owned()));
        }
        Ok(S3Settings {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            ..S3Settings::default()
        })
    }
}

/// An access key pair; the secret is zeroized on drop and never printed.
#[derive(Clone)]
pub struct S3Credentials {
    /// The access key id (not secret).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Why S3 storage could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3ConfigError {
    /// The location is not `s3://bucket[/prefix]`.
    #[error("not an S3 location (expected s3://bucket or s3://bucket/prefix): {0}")]
    NotS3Url(String),
    /// The client could not be built from the settings (a bad endpoint URL, say).
    #[error("invalid S3 settings: {0}")]
    Client(String),
}

/// Blobs as segment objects in one bucket, under one prefix.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    store: Arc<AmazonS3>,
    prefix: Path,
}

impl S3Blobs {
    /// A client for the bucket in `settings`. Contacts nothing yet: see [`S3Blobs::check`].
    ///
    /// Fails if the settings do not make a valid client.
    pub fn open(settings: S3Settings) -> Result<S3Blobs, S3ConfigError> {
        // reqwest is built without a default TLS provider: use the ring one, like the
        // relay's own TLS. Another part of the process may have installed it already.
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_allow_http(settings.allow_http)
            .with_retry(retries());
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &settings.credentials {
            builder = builder
                .with_access_key_id(&key.access_key_id)
                .with_secret_access_key(key.secret_access_key.as_str());
        }
        let store = builder
            .build()
            .map_err(|e| S3ConfigError::Client(e.to_string()))?;
        let prefix = Path::parse(&settings.prefix)
            .map_err(|e| S3ConfigError::Client(format!("prefix: {e}")))?;
        Ok(S3Blobs {
            store: Arc::new(store),
            prefix,
        })
    }

    /// Lists the prefix once, so that a wrong endpoint, bucket or key shows at startup.
    ///
    /// Fails with the service's answer.
    pub async fn check(&self) -> io::Result<()> {
        let mut listing = self.store.list(Some(&self.prefix));
        match listing.next().await {
            Some(Err(e)) => Err(io::Error::other(format!("object storage: {e}"))),
            _ => Ok(()),
        }
    }

    fn blob_dir(&self, id: &AttachmentId) -> Path {
        self.prefix.clone().join(id.as_str())
    }

    /// The blob's segments, as the bucket lists them now.
    async fn segments(&self, id: &AttachmentId) -> io::Result<Segments> {
        let objects: Vec<_> = self
            .store
            .list(Some(&self.blob_dir(id)))
            .try_collect()
            .await
            .map_err(|e| redact(e, id))?;
        let found = objects.iter().filter_map(|meta| {
            let start = segments::parse_name(meta.location.filename()?)?;
            Some(Segment {
                start,
                len: meta.size,
            })
        });
        Ok(Segments::new(found.collect()))
    }

    fn segment_path(&self, id: &AttachmentId, start: u64) -> Path {
        self.blob_dir(id).join(segments::name(start))
    }

    /// The bytes of the segment object at `path` (those in `range`, or all), as a stream.
    async fn open_segment(
        store: Arc<AmazonS3>,
        path: Path,
        range: Option<GetRange>,
        id: AttachmentId,
    ) -> io::Result<BoxStream<'static, io::Result<Bytes>>> {
        let options = GetOptions {
            range,
            ..GetOptions::default()
        };
        let result = store
            .get_opts(&path, options)
            .await
            .map_err(|e| redact(e, &id))?;
        Ok(result
            .into_stream()
            .map_err(move |e| redact(e, &id))
            .boxed())
    }
}

#[async_trait]
impl BlobStorage for S3Blobs {
    async fn writer(&self, id: &AttachmentId, offset: u64) -> io::Result<Box<dyn BlobWriter>> {
        let cut = self.segments(id).await?.cut_at(offset)?;
        for stale in &cut.remove {
            self.store
                .delete(&self.segment_path(id, stale.start))
                .await
                .map_err(|e| redact(e, id))?;
        }
        let start = cut.carry.map_or(offset, |s| s.start);
        let path = self.segment_path(id, start);
        let mut writer = SegmentWriter::new(self.store.clone(), path.clone(), start, id.clone());
        if cut.carry.is_some() {
            // The spanning segment's bytes before `offset` become the new segment's first.
            let range = Some(GetRange::Bounded(0..offset - start));
            let mut kept = Self::open_segment(self.store.clone(), path, range, id.clone()).await?;
            while let Some(bytes) = kept.next().await {
                writer.write(&bytes?).await?;
            }
        }
        Ok(Box::new(writer))
    }

    async fn reader(&self, id: &AttachmentId, start: u64) -> io::Result<Option<BlobReader>> {
        let segments = self.segments(id).await?;
        if segments.is_empty() {
            return Ok(None);
        }
        let plan = segments.read_from(start)?;
        let (store, dir, id) = (self.store.clone(), self.blob_dir(id), id.clone());
        let bytes = futures_util::stream::iter(plan)
            .then(move |(segment, skip)| {
                let path = dir.clone().join(segments::name(segment.start));
                let range = (skip > 0).then_some(GetRange::Offset(skip));
                Self::open_segment(store.clone(), path, range, id.clone())
            })
            .try_flatten();
        Ok(Some(Box::pin(tokio_util::io::StreamReader::new(bytes))))
    }

    async fn delete(&self, id: &AttachmentId) -> io::Result<()> {
        let objects: Vec<_> = self
            .store
            .list(Some(&self.blob_dir(id)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| redact(e, id))?;
        let locations = futures_util::stream::iter(objects.into_iter().map(Ok)).boxed();
        self.store
            .delete_stream(locations)
            .try_for_each(|_| async { Ok(()) })
            .await
            .map_err(|e| redact(e, id))
    }
}

/// Transient failures (timeouts, 5xx, throttling) are retried with backoff, but for at most
/// 30 s instead of `object_store`'s 3 min: an upload request or download waits that long, and
/// the client resumes anyway; a wrong endpoint fails the startup check within that time.
fn retries() -> RetryConfig {
    RetryConfig {
        max_retries: 5,
        retry_timeout: Duration::from_secs(30),
        ..RetryConfig::default()
    }
}

/// An `io::Error` for a storage error about blob `id`, without the id: it is the download
/// capability, and storage errors (with their object paths) end up in the log.
pub(super) fn redact(err: object_store::Error, id: &AttachmentId) -> io::Error {
    let kind = match err {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    let text = err.to_string().replace(id.as_str(), "<attachment id>");
    io::Error::new(kind, format!("object storage: {text}"))
}

#[cfg(test)]
mod tests;
