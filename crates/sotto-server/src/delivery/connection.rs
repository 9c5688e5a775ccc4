//! One device's delivery connection.

use super::frames::{self, FrameFormat, Incoming, Outgoing};
use crate::api::{AppState, now_ms};
use crate::domain::DeviceAddress;
use crate::metrics::Metrics;
use crate::store::QueuedEnvelope;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use sotto_proto::api::{
    CLOSE_CONNECTED_ELSEWHERE, CLOSE_GOING_AWAY, CLOSE_INVALID_FRAME, CLOSE_PING_TIMEOUT,
};
use sotto_proto::frames::{SendMessage, SendResult};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Most envelopes pushed and not yet acked; the connection stops reading the mailbox there.
const PUSH_WINDOW: usize = 256;
/// Most envelopes read from the mailbox at once.
const FETCH_BATCH: usize = 128;
/// Most acks gathered into one delete; also the most ids one binary ack frame may carry.
const ACK_BATCH: usize = 256;
/// Most sends of one binary connection being stored at once; past it the connection stops
/// reading frames until a result is out.
const MAX_SENDS: usize = 64;

/// Close code for a frame over the size limit (RFC 6455 "message too big").
const CLOSE_TOO_LARGE: u16 = 1009;

/// Why the connection ends.
enum End {
    /// The peer closed or the socket failed: nothing more to send.
    Gone,
    /// We close with this code and reason.
    Close(u16, String),
}

struct Connection {
    state: AppState,
    device: DeviceAddress,
    sink: SplitSink<WebSocket, Message>,
    in_flight: HashSet<i64>,
    last_id: i64,
    maybe_more: bool,
    queue_empty_sent: bool,
    lossy: Arc<AtomicBool>,
    unanswered_pings: u32,
    format: FrameFormat,
    sends_in_flight: usize,
    /// Where finished sends report; only binary connections have it (an idle JSON connection
    /// would otherwise hold the channel's first block, a few KiB).
    results: Option<mpsc::Sender<SendResult>>,
}

/// Serves a device until it disconnects, is superseded, or the server shuts down.
pub(super) async fn serve(
    state: AppState,
    device: DeviceAddress,
    format: FrameFormat,
    socket: WebSocket,
) {
    let metrics = state.metrics.clone();
    metrics.websockets_open.fetch_add(1, Ordering::Relaxed);
    // Subscribe before the first read, so an envelope committed meanwhile still wakes us.
    let subscription = state.bus.subscribe(&device);
    let (sink, stream) = socket.split();
    let (results, finished) = match format {
        FrameFormat::Binary => {
            let (results, finished) = mpsc::channel(MAX_SENDS);
            (Some(results), Some(finished))
        }
        FrameFormat::Json => (None, None),
    };
    let mut connection = Connection {
        state,
        device,
        sink,
        in_flight: HashSet::new(),
        last_id: 0,
        maybe_more: true,
        queue_empty_sent: false,
        lossy: subscription.lossy.clone(),
        unanswered_pings: 0,
        format,
        sends_in_flight: 0,
        results,
    };
    let end = connection.run(stream, subscription, finished).await;
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = connection.sink.send(Message::Close(Some(frame))).await;
    }
    metrics.websockets_open.fetch_sub(1, Ordering::Relaxed);
}

impl Connection {
    async fn run(
        &mut self,
        mut stream: SplitStream<WebSocket>,
        mut subscription: crate::delivery::Subscription,
        mut finished: Option<mpsc::Receiver<SendResult>>,
    ) -> End {
        let mut shutdown = self.state.shutdown.clone();
        // Keep-alive: two pings in a row without any pong close the connection.
        let every = Duration::from_millis(self.state.policy.websocket_ping_ms.max(10));
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            if self.maybe_more && self.in_flight.len() < PUSH_WINDOW {
                if let Err(end) = self.push_pending().await {
                    return end;
                }
                if self.maybe_more && self.in_flight.len() < PUSH_WINDOW {
                    continue;
                }
            }
            tokio::select! {
                biased;
                _ = subscription.superseded.changed() => {
                    return End::Close(CLOSE_CONNECTED_ELSEWHERE, "connected elsewhere".into());
                }
                _ = shutdown.changed() => return End::Close(CLOSE_GOING_AWAY, "server shutting down".into()),
                Some(result) = next_result(&mut finished) => {
                    if let Err(end) = self.on_send_results(result, &mut finished).await {
                        return end;
                    }
                }
                frame = stream.next(), if self.sends_in_flight < MAX_SENDS => {
                    if let Err(end) = self.on_frame(frame, &mut stream).await {
                        return end;
                    }
                }
                live = subscription.live.recv() => match live {
                    Some(envelope) => {
                        if let Err(end) = self.on_live(envelope, &mut subscription.live).await {
                            return end;
                        }
                    }
                    // The bus dropped our slot: only a newer connection does that.
                    None => return End::Close(CLOSE_CONNECTED_ELSEWHERE, "connected elsewhere".into()),
                },
                _ = subscription.wake.notified() => self.maybe_more = true,
                _ = ping.tick() => {
                    if self.unanswered_pings >= 2 {
                        return End::Close(CLOSE_PING_TIMEOUT, "no answer to pings".into());
                    }
                    self.unanswered_pings += 1;
                    if self.sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                        return End::Gone;
                    }
                }
            }
        }
    }

    /// Pushes envelopes handed over by the bus, as long as they continue exactly where the
    /// mailbox reads left off; otherwise leaves them to the next mailbox read.
    async fn on_live(
        &mut self,
        first: Box<QueuedEnvelope>,
        live: &mut mpsc::Receiver<Box<QueuedEnvelope>>,
    ) -> Result<(), End> {
        let mut next = Some(first);
        let mut pushed = false;
        while let Some(envelope) = next.take() {
            if self.lossy.load(Ordering::Acquire) {
                self.maybe_more = true;
            }
            if envelope.id > self.last_id {
                if self.maybe_more || self.in_flight.len() >= PUSH_WINDOW {
                    self.maybe_more = true;
                } else {
                    self.last_id = envelope.id;
                    self.in_flight.insert(envelope.id);
                    self.feed(Outgoing::Envelope(*envelope)).await?;
                    Metrics::inc(&self.state.metrics.envelopes_pushed);
                    pushed = true;
                }
            }
            next = live.try_recv().ok();
        }
        if pushed {
            self.sink.flush().await.map_err(|_| End::Gone)?;
        }
        Ok(())
    }

    /// Reads the next envelopes after the last one pushed and sends them.
    async fn push_pending(&mut self) -> Result<(), End> {
        // Cleared before reading: the read sees every envelope whose hand-over failed so far.
        self.lossy.store(false, Ordering::Release);
        let room = (PUSH_WINDOW - self.in_flight.len()).min(FETCH_BATCH);
        let limit = u32::try_from(room).unwrap_or(u32::MAX);
        let batch = self
            .state
            .store
            .pending(&self.device, self.last_id, limit, now_ms())
            .await;
        let batch = batch.map_err(|e| {
            tracing::error!(error = %e, "reading mailbox failed");
            End::Close(1011, "internal error".into())
        })?;
        self.maybe_more = batch.len() == room;
        for envelope in batch {
            self.last_id = envelope.id;
            self.in_flight.insert(envelope.id);
            self.feed(Outgoing::Envelope(envelope)).await?;
            Metrics::inc(&self.state.metrics.envelopes_pushed);
        }
        if !self.maybe_more && !self.queue_empty_sent {
            self.queue_empty_sent = true;
            self.feed(Outgoing::QueueEmpty).await?;
        }
        self.sink.flush().await.map_err(|_| End::Gone)
    }

    async fn feed(&mut self, outgoing: Outgoing) -> Result<(), End> {
        let Some(message) = frames::encode(self.format, outgoing) else {
            return Ok(());
        };
        self.sink.feed(message).await.map_err(|_| End::Gone)
    }

    /// Sends the results of every finished send, then flushes once.
    async fn on_send_results(
        &mut self,
        first: SendResult,
        finished: &mut Option<mpsc::Receiver<SendResult>>,
    ) -> Result<(), End> {
        let mut next = Some(first);
        while let Some(result) = next.take() {
            self.sends_in_flight = self.sends_in_flight.saturating_sub(1);
            self.feed(Outgoing::SendResult(result)).await?;
            next = finished.as_mut().and_then(|f| f.try_recv().ok());
        }
        self.sink.flush().await.map_err(|_| End::Gone)
    }

    fn start_send(&mut self, send: SendMessage) {
        // Only binary connections decode sends, and they all have a result channel.
        let Some(results) = self.results.clone() else {
            return;
        };
        self.sends_in_flight += 1;
        let state = self.state.clone();
        super::send::spawn(state, self.device.clone(), send, results);
    }

    /// Handles one client frame, gathering any acks already waiting into one delete.
    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, axum::Error>>,
        stream: &mut SplitStream<WebSocket>,
    ) -> Result<(), End> {
        let mut acks = Vec::new();
        let mut next = frame;
        loop {
            match next {
                Some(Err(ref error)) if is_too_large(error) => {
                    self.apply_acks(&acks).await?;
                    return Err(End::Close(CLOSE_TOO_LARGE, "frame too large".into()));
                }
                Some(Ok(Message::Close(_))) => {
                    self.apply_acks(&acks).await?;
                    // Sends the close reply the WebSocket layer queued when it read ours.
                    let _ = self.sink.flush().await;
                    return Err(End::Gone);
                }
                None | Some(Err(_)) => {
                    self.apply_acks(&acks).await?;
                    return Err(End::Gone);
                }
                Some(Ok(ref message @ (Message::Text(_) | Message::Binary(_)))) => {
                    match frames::decode(self.format, message) {
                        Ok(Incoming::Acks(ids)) if ids.len() <= ACK_BATCH => acks.extend(ids),
                        Ok(Incoming::Acks(_)) => {
                            self.apply_acks(&acks).await?;
                            return Err(invalid("invalid frame: too many acks in one frame"));
                        }
                        Ok(Incoming::Send(send)) => self.start_send(send),
                        Err(reason) => {
                            self.apply_acks(&acks).await?;
                            return Err(invalid(&reason));
                        }
                    }
                }
                Some(Ok(Message::Pong(_))) => self.unanswered_pings = 0,
                Some(Ok(Message::Ping(_))) => {}
            }
            if acks.len() >= ACK_BATCH || self.sends_in_flight >= MAX_SENDS {
                break;
            }
            match stream.next().now_or_never() {
                Some(more) => next = more,
                None => break,
            }
        }
        self.apply_acks(&acks).await
    }

    async fn apply_acks(&mut self, acks: &[i64]) -> Result<(), End> {
        if acks.is_empty() {
            return Ok(());
        }
        let deleted = self
            .state
            .store
            .ack(&self.device, acks)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "deleting acked envelopes failed");
                End::Close(1011, "internal error".into())
            })?;
        for id in acks {
            self.in_flight.remove(id);
        }
        self.state
            .metrics
            .envelopes_acked
            .fetch_add(deleted, Ordering::Relaxed);
        Ok(())
    }
}

/// Whether a read failed because the client's frame exceeded the size limit.
fn is_too_large(error: &axum::Error) -> bool {
    let cause = std::error::Error::source(error);
    matches!(
        cause.and_then(|e| e.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::Capacity(_))
    )
}

/// The next finished send, or never on a connection without sends.
async fn next_result(finished: &mut Option<mpsc::Receiver<SendResult>>) -> Option<SendResult> {
    match finished {
        Some(finished) => finished.recv().await,
        None => std::future::pending().await,
    }
}

/// Closes for a frame the client should not have sent; the reason is cut to fit a close frame.
fn invalid(reason: &str) -> End {
    End::Close(CLOSE_INVALID_FRAME, reason.chars().take(120).collect())
}
