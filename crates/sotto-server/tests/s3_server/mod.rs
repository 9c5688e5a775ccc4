//! A real S3-compatible server for tests: s3s-fs (the S3 protocol of the `s3s` crate,
//! signature checks included, over a local directory), in-process on a loopback port.
//! Shared by the blob storage unit tests, the relay tests and the `s3_test_server` example;
//! each includer has `S3Settings` and `S3Credentials` of `sotto_server::blobs` in scope.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::path::Path;
use tokio::net::TcpListener;

/// The bucket every test server holds.
pub const BUCKET: &str = "sotto-test";
/// The only access key the server accepts.
pub const ACCESS_KEY_ID: &str = "sotto-test-key";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "sotto-test-secret-not-a-real-one";

/// A running server; stops when dropped.
pub struct TestS3 {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The directory holding the buckets (one subdirectory each) and their objects.
    pub root: std::path::PathBuf,
    server: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

impl TestS3 {
    /// Starts a server on a fresh temporary directory with an empty [`BUCKET`].
    pub async fn start() -> TestS3 {
        let dir = tempfile::tempdir().unwrap();
        let mut server = TestS3::start_in(dir.path(), "127.0.0.1:0").await;
        server._dir = Some(dir);
        server
    }

    /// Starts a server keeping its objects under `root` (with [`BUCKET`] created), on `listen`.
    pub async fn start_in(root: &Path, listen: &str) -> TestS3 {
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(root).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
        let service = builder.build();
        let listener = TcpListener::bind(listen).await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                // Without it, Nagle's algorithm and delayed ACKs stall each small answer by
                // up to 40 ms.
                let _ = socket.set_nodelay(true);
                let service = service.clone();
                tokio::spawn(async move {
                    let http = Builder::new(TokioExecutor::new());
                    let _ = http.serve_connection(TokioIo::new(socket), service).await;
                });
            }
        });
        TestS3 {
            endpoint,
            root: root.to_path_buf(),
            server,
            _dir: None,
        }
    }

    /// Settings that reach this server's bucket under `prefix`.
    pub fn settings(&self, prefix: &str) -> super::S3Settings {
        super::S3Settings {
            bucket: BUCKET.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".to_owned()),
            credentials: Some(super::S3Credentials {
                access_key_id: ACCESS_KEY_ID.to_owned(),
                secret_access_key: SECRET_ACCESS_KEY.to_owned().into(),
            }),
            allow_http: true,
        }
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.server.abort();
    }
}
