//! A throwaway S3-compatible server (s3s-fs over a directory) for trying `sotto serve
//! --attachments s3://…` and `sotto bench attachments --s3` by hand. Test use only: one
//! fixed access key, plain HTTP, loopback.
//!
//! ```sh
//! cargo run --release -p sotto-server --example s3_test_server -- DIR [127.0.0.1:9000]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use sotto_server::blobs::{S3Credentials, S3Settings};

#[path = "../tests/s3_server/mod.rs"]
mod s3_server;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let root = args.next().expect("usage: s3_test_server DIR [ADDRESS]");
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    let server = s3_server::TestS3::start_in(root.as_ref(), &listen).await;
    let settings: S3Settings = server.settings("");
    let key: Option<S3Credentials> = settings.credentials;
    println!("endpoint {}", server.endpoint);
    println!("bucket   {}", s3_server::BUCKET);
    if let Some(key) = key {
        println!("AWS_ACCESS_KEY_ID={}", key.access_key_id);
        println!("AWS_SECRET_ACCESS_KEY={}", key.secret_access_key.as_str());
    }
    tokio::signal::ctrl_c().await.unwrap();
}
