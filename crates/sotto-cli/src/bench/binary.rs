//! The throughput bench over binary WebSocket frames (`?frames=binary`): each device's one
//! connection carries its sends (answered by request id after the relay's durable commit),
//! the envelopes pushed to it, and its acks, one ack frame per burst of envelopes.

use super::stats::Latencies;
use super::throughput::{Delivered, sent_at};
use anyhow::{Context, Result, anyhow, bail};
use futures_util::{FutureExt, SinkExt, StreamExt};
use sotto_cli::relay_client::{Credentials, DeliverySocket, RelayClient};
use sotto_proto::frames::{
    self, Acks, DeviceCiphertext, SendMessage, SendResult, client_message, server_message,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// A send handed to a device's connection task, with where its result goes.
type Command = (SendMessage, oneshot::Sender<SendResult>);

/// The sending side of one device's connection.
#[derive(Clone)]
pub struct DeviceLink {
    commands: mpsc::Sender<Command>,
}

impl DeviceLink {
    /// Sends one envelope to device 1 of `to_account`; returns once the relay has answered.
    pub async fn send(&self, to_account: &str, message_id: String, content: Vec<u8>) -> Result<()> {
        let send = SendMessage {
            request_id: 0,
            recipient_account: to_account.to_owned(),
            message_id,
            envelopes: vec![DeviceCiphertext {
                device_id: 1,
                content,
            }],
        };
        let (answer, result) = oneshot::channel();
        self.commands
            .send((send, answer))
            .await
            .map_err(|_| anyhow!("the connection task ended"))?;
        let result = result
            .await
            .context("the connection closed before the answer")?;
        match result.error {
            None => Ok(()),
            Some(e) => bail!("send failed: {} {} {}", e.status, e.code, e.message),
        }
    }
}

/// Connects `device` with binary frames, waits for `queue_empty`, and starts its task.
pub async fn open(
    client: &RelayClient,
    device: &Credentials,
    clock: Instant,
    delivered: Arc<Delivered>,
    bar: indicatif::ProgressBar,
    stop: watch::Receiver<bool>,
) -> Result<(DeviceLink, JoinHandle<Result<Latencies>>)> {
    let url = format!(
        "{}/v1/websocket?frames=binary",
        client.base().replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", device.authorization().parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("WebSocket connection failed")?;
    wait_queue_empty(&mut socket).await?;
    let (commands, incoming) = mpsc::channel(64);
    let task = Task {
        socket,
        clock,
        delivered,
        bar,
        pending: HashMap::new(),
        next_request: 0,
        latencies: Latencies::default(),
    };
    Ok((
        DeviceLink { commands },
        tokio::spawn(task.run(incoming, stop)),
    ))
}

async fn wait_queue_empty(socket: &mut DeliverySocket) -> Result<()> {
    while let Some(message) = socket.next().await {
        if let Message::Binary(bytes) = message?
            && let Ok(server_message::Kind::QueueEmpty(_)) = frames::decode_server(&bytes)
        {
            return Ok(());
        }
    }
    bail!("connection closed before queue_empty")
}

struct Task {
    socket: DeliverySocket,
    clock: Instant,
    delivered: Arc<Delivered>,
    bar: indicatif::ProgressBar,
    pending: HashMap<u64, oneshot::Sender<SendResult>>,
    next_request: u64,
    latencies: Latencies,
}

impl Task {
    async fn run(
        mut self,
        mut incoming: mpsc::Receiver<Command>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<Latencies> {
        loop {
            tokio::select! {
                // Maps the guard away: it must not live across the other branches' awaits.
                _ = stop.wait_for(|stop| *stop).map(|_| ()) => break,
                command = incoming.recv() => match command {
                    Some(command) => self.send_burst(command, &mut incoming).await?,
                    None => break,
                },
                message = self.socket.next() => match message {
                    Some(message) => self.read_burst(message?).await?,
                    None => break,
                },
            }
        }
        Ok(self.latencies)
    }

    /// Writes this send and every other one already waiting, then flushes once.
    async fn send_burst(
        &mut self,
        first: Command,
        incoming: &mut mpsc::Receiver<Command>,
    ) -> Result<()> {
        let mut next = Some(first);
        while let Some((mut send, answer)) = next.take() {
            self.next_request += 1;
            send.request_id = self.next_request;
            self.pending.insert(send.request_id, answer);
            let frame = frames::encode_client(client_message::Kind::Send(send));
            self.socket.feed(Message::Binary(frame.into())).await?;
            next = incoming.try_recv().ok();
        }
        self.socket.flush().await?;
        Ok(())
    }

    /// Handles this frame and every other one already read; acks the envelopes in one frame.
    async fn read_burst(&mut self, first: Message) -> Result<()> {
        let mut acks = Vec::new();
        let mut next = Some(Ok(first));
        while let Some(message) = next.take() {
            if let Message::Binary(bytes) = message? {
                self.on_frame(frames::decode_server(&bytes)?, &mut acks);
            }
            // The relay allows at most 256 ids per ack frame.
            if acks.len() >= 256 {
                break;
            }
            next = self.socket.next().now_or_never().flatten();
        }
        if !acks.is_empty() {
            let frame = frames::encode_client(client_message::Kind::Acks(Acks { ids: acks }));
            self.socket.send(Message::Binary(frame.into())).await?;
        }
        Ok(())
    }

    fn on_frame(&mut self, frame: server_message::Kind, acks: &mut Vec<i64>) {
        match frame {
            server_message::Kind::Envelope(envelope) => {
                let latency = self
                    .clock
                    .elapsed()
                    .saturating_sub(sent_at(&envelope.content));
                self.latencies.record(latency);
                acks.push(envelope.id);
                self.delivered.record(&self.bar);
            }
            server_message::Kind::SendResult(result) => {
                if let Some(answer) = self.pending.remove(&result.request_id) {
                    let _ = answer.send(result);
                }
            }
            server_message::Kind::QueueEmpty(_) => {}
        }
    }
}
