//! Assembling and running a relay: state, router, listener, background expiry, shutdown.

use crate::api::attachments::Attachments;
use crate::api::{self, AppState};
use crate::blobs::BlobStorage;
use crate::config::Policy;
use crate::delivery::LocalBus;
use crate::metrics::Metrics;
use crate::ratelimit::InMemoryRateLimiter;
use crate::store::{AttachmentIndex, Day, Store};
use crate::tls::TlsListener;
use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How often expired envelopes are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How long shutdown waits for open requests after WebSockets were told to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A relay ready to serve: its state and the switch that starts shutdown.
pub struct Relay {
    /// Handler state.
    pub state: AppState,
    shutdown: watch::Sender<bool>,
}

impl Relay {
    /// A single-node relay (in-process bus and rate limits) over `store`.
    pub fn new(store: Arc<dyn Store>, policy: Policy) -> Self {
        let limiter = Arc::new(InMemoryRateLimiter::new(policy.rate_limits.clone()));
        Self::with_bus(store, policy, Arc::new(LocalBus::new()), limiter)
    }

    /// A relay with a given bus and rate limiter: a cluster node passes its Redis ones.
    pub fn with_bus(
        store: Arc<dyn Store>,
        policy: Policy,
        bus: Arc<dyn crate::delivery::DeliveryBus>,
        limiter: Arc<dyn crate::ratelimit::RateLimiter>,
    ) -> Self {
        let (shutdown, shutdown_rx) = watch::channel(false);
        store.set_commit_hook(Arc::new(crate::delivery::bus::BusHook(bus.clone())));
        let state = AppState {
            directory: crate::api::directory::Directory::new(
                store.clone(),
                Duration::from_millis(policy.directory_cache_ms),
            ),
            store,
            bus,
            limiter,
            policy: Arc::new(policy),
            metrics: Arc::new(Metrics::default()),
            attachments: None,
            certificates: None,
            shutdown: shutdown_rx,
        };
        Self { state, shutdown }
    }

    /// Stores attachments: their records in the relay's store, their bytes in `blobs`.
    pub fn with_attachments(mut self, blobs: Arc<dyn BlobStorage>) -> Self {
        let index: Arc<dyn AttachmentIndex> = self.state.store.clone();
        self.state.attachments = Some(Arc::new(Attachments::new(index, blobs)));
        self
    }

    /// Issues sender certificates for sealed sender.
    pub fn with_sender_certificates(
        mut self,
        certificates: Arc<crate::sealed_sender::SenderCertificates>,
    ) -> Self {
        self.state.certificates = Some(certificates);
        self
    }

    /// The router, with client addresses available to handlers (for registration limits).
    pub fn router(&self) -> Router {
        api::router(self.state.clone())
    }

    /// Serves on `listener` (plain or TLS) until `stop` resolves, then closes WebSockets and
    /// waits up to a grace period for requests in progress.
    pub async fn serve(
        self,
        listener: Listener,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let purge = tokio::spawn(purge_loop(self.state.clone()));
        let app = self
            .router()
            .into_make_service_with_connect_info::<ClientAddr>();
        let shutdown = self.shutdown.clone();
        let mut closed = self.shutdown.subscribe();
        let graceful = async move {
            stop.await;
            let _ = shutdown.send(true);
        };
        let served = async move {
            match listener {
                Listener::Plain(tcp) => {
                    axum::serve(tcp, app).with_graceful_shutdown(graceful).await
                }
                Listener::Tls(tls) => axum::serve(tls, app).with_graceful_shutdown(graceful).await,
            }
        };
        tokio::pin!(served);
        let result = tokio::select! {
            result = &mut served => result,
            _ = async { let _ = closed.wait_for(|stopped| *stopped).await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                tracing::warn!("requests still open after the grace period; stopping anyway");
                Ok(())
            }
        };
        purge.abort();
        result
    }
}

/// The client's address, as handlers see it. Used only for the in-memory registration
/// limit: never stored, never logged at the default level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// Where the relay accepts connections.
pub enum Listener {
    /// Plain HTTP (loopback, or behind a TLS-terminating proxy).
    Plain(TcpListener),
    /// HTTPS with rustls.
    Tls(TlsListener),
}

impl Listener {
    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Listener::Plain(tcp) => tcp.local_addr(),
            Listener::Tls(tls) => tls.local_addr(),
        }
    }
}

async fn purge_loop(state: AppState) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    loop {
        tick.tick().await;
        match state.store.purge_expired(api::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "purged expired envelopes"),
            Err(e) => tracing::error!(error = %e, "purging expired envelopes failed"),
        }
        let Some(attachments) = &state.attachments else {
            continue;
        };
        match attachments
            .purge_expired(&Day::from_unix(api::now_ms() / 1000))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "purged expired attachments"),
            Err(e) => tracing::error!(error = %e, "purging expired attachments failed"),
        }
    }
}
