//! A TCP proxy in front of the relay that can cut connections after a byte budget, to
//! interrupt uploads and downloads mid-way the way a broken network does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Bytes one direction may still carry (`u64::MAX`: unlimited), and bytes it carried.
#[derive(Default)]
pub struct Budget {
    left: AtomicU64,
    carried: AtomicU64,
}

impl Budget {
    fn unlimited() -> Self {
        Self {
            left: AtomicU64::new(u64::MAX),
            carried: AtomicU64::new(0),
        }
    }

    /// From now on, carry at most `bytes` more, then cut every connection.
    pub fn limit(&self, bytes: u64) {
        self.left.store(bytes, Ordering::SeqCst);
    }

    /// Carry everything again, and count from zero.
    pub fn unlimit(&self) {
        self.left.store(u64::MAX, Ordering::SeqCst);
        self.carried.store(0, Ordering::SeqCst);
    }

    /// Bytes carried since the last [`unlimit`](Self::unlimit).
    pub fn carried(&self) -> u64 {
        self.carried.load(Ordering::SeqCst)
    }

    /// Takes up to `n` bytes from the budget.
    fn take(&self, n: u64) -> u64 {
        let mut granted = 0;
        let _ = self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                granted = left.min(n);
                Some(if left == u64::MAX {
                    left
                } else {
                    left - granted
                })
            });
        self.carried.fetch_add(granted, Ordering::SeqCst);
        granted
    }
}

/// A running proxy.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Client to relay.
    pub up: Arc<Budget>,
    /// Relay to client.
    pub down: Arc<Budget>,
}

impl Proxy {
    /// Proxies to the relay at `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let up = Arc::new(Budget::unlimited());
        let down = Arc::new(Budget::unlimited());
        let (up2, down2) = (up.clone(), down.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(relay) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(pipe(client, relay, up2.clone(), down2.clone()));
            }
        });
        Self { url, up, down }
    }
}

/// Copies both ways until either side closes or a budget runs out; then drops both.
async fn pipe(client: TcpStream, relay: TcpStream, up: Arc<Budget>, down: Arc<Budget>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut relay_read, mut relay_write) = relay.into_split();
    tokio::select! {
        () = copy(&mut client_read, &mut relay_write, &up) => {}
        () = copy(&mut relay_read, &mut client_write, &down) => {}
    }
}

async fn copy(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    budget: &Budget,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(read) = from.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            return;
        }
        let granted = budget.take(read as u64) as usize;
        if to.write_all(&buffer[..granted]).await.is_err() || granted < read {
            return;
        }
    }
}
