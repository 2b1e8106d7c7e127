//! The editor's `/comms` websocket: mirrors Node-RED's `@node-red/editor-api/lib/editor/comms.js`.
//!
//! Client frames (one JSON object each): `{"subscribe": "<filter>"}` replays the retained
//! messages matching the filter; `{"auth": "<access token>"}` authenticates. Anything else
//! (`{"topic", "data"}` is multiplayer, which Ferrite has not) is ignored, as are frames that
//! are not JSON.
//!
//! Server frames: JSON arrays of `{topic, data}`. Subscriptions do not filter: every
//! connection gets every event published on the bus (the editor filters). Events are queued
//! and sent 50 ms after the first one queued, at most 50 per frame, as Node-RED batches
//! them, so a chatty flow costs the browser one frame per 50 ms. After
//! `webSocketKeepAliveTime` ms (15000) without a frame the topic `hb` is sent with the epoch
//! ms of the last frame. Auth replies are single objects: `{"auth":"ok"}` or
//! `{"auth":"fail"}` (then the socket is closed).
//!
//! With `adminAuth` the connection hears nothing until its first frame authenticates; a
//! token that names no user (or a first frame without a token) fails it.
//!
//! A browser that reads slower than the flows publish never slows the flows: at most
//! [`QUEUE_LIMIT`] events wait per connection; beyond that the bus drops the oldest for this
//! connection and the loss is logged.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value as Json, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use super::{AdminState, auth};
use crate::events::CommsMessage;

/// How long events wait to be batched into one frame (Node-RED's transmit timer).
const BATCH_DELAY: Duration = Duration::from_millis(50);
/// Most events in one frame.
const BATCH_SIZE: usize = 50;
/// Most events waiting for one browser; past this the bus drops the oldest for it.
const QUEUE_LIMIT: usize = 4096;
/// Node-RED's keep-alive when `webSocketKeepAliveTime` is not set (or 0).
const DEFAULT_KEEP_ALIVE_MS: u64 = 15_000;

pub(super) fn routes() -> Router<AdminState> {
    Router::new().route("/comms", get(upgrade))
}

async fn upgrade(State(state): State<AdminState>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| async move {
        tracing::debug!("comms connection opened");
        Connection::new(socket, state).run().await;
        tracing::debug!("comms connection closed");
    })
}

/// What a client frame asks for.
enum Frame {
    Auth(String),
    Subscribe(String),
    /// JSON, but nothing Ferrite handles.
    Other,
    /// Not a JSON object: Node-RED drops it without an answer.
    Malformed,
}

impl Frame {
    fn parse(text: &str) -> Self {
        let Ok(Json::Object(mut frame)) = serde_json::from_str::<Json>(text) else {
            return Self::Malformed;
        };
        // Node-RED tests truthiness: an empty token or topic counts as absent.
        match (frame.remove("auth"), frame.remove("subscribe")) {
            (Some(Json::String(token)), _) if !token.is_empty() => Self::Auth(token),
            (_, Some(Json::String(topic))) if !topic.is_empty() => Self::Subscribe(topic),
            _ => Self::Other,
        }
    }
}

/// Why a connection ends.
enum End {
    /// The browser closed the socket, or it broke.
    Closed,
    /// Authentication failed: `{"auth":"fail"}` was sent.
    AuthFailed,
}

struct Connection {
    socket: WebSocket,
    state: AdminState,
    /// Events waiting for the next frame.
    queue: VecDeque<Arc<CommsMessage>>,
    /// When the queued events are sent (`None` while the queue is empty).
    flush_at: Option<Instant>,
    /// When the last frame went out, for the heartbeat.
    last_sent: Instant,
    last_sent_epoch_ms: u64,
    keep_alive: Duration,
}

impl Connection {
    fn new(socket: WebSocket, state: AdminState) -> Self {
        let keep_alive = match state.runtime.settings().web_socket_keep_alive_time {
            0 => DEFAULT_KEEP_ALIVE_MS,
            ms => ms,
        };
        Self {
            socket,
            state,
            queue: VecDeque::new(),
            flush_at: None,
            last_sent: Instant::now(),
            last_sent_epoch_ms: epoch_ms(),
            keep_alive: Duration::from_millis(keep_alive),
        }
    }

    async fn run(mut self) {
        if auth::enabled(&self.state) {
            match self.authenticate().await {
                Ok(()) => {}
                Err(End::Closed) => return,
                Err(End::AuthFailed) => {
                    let _ = self.socket.send(Message::Close(None)).await;
                    return;
                }
            }
        }
        // Like Node-RED, the connection hears the bus only once it is active (after auth).
        let bus = self.state.runtime.events().subscribe();
        if let Err(End::AuthFailed) = self.serve(bus).await {
            let _ = self.socket.send(Message::Close(None)).await;
        }
    }

    /// Waits for the first frame, which must carry a valid token.
    async fn authenticate(&mut self) -> Result<(), End> {
        loop {
            let text = match self.socket.recv().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(End::Closed),
                // Pings and binary frames are no auth attempt.
                Some(Ok(_)) => continue,
            };
            return match Frame::parse(&text) {
                Frame::Auth(token) => self.check_token(&token).await,
                // Node-RED accepts a token-less first frame only for an anonymous default
                // user; Ferrite's adminAuth has none.
                Frame::Subscribe(_) | Frame::Other => {
                    tracing::info!("comms connection refused: no auth token in its first frame");
                    self.send_text(json!({"auth": "fail"}).to_string()).await?;
                    Err(End::AuthFailed)
                }
                Frame::Malformed => continue,
            };
        }
    }

    /// Answers an auth frame: `ok` for a token naming a user, else `fail`.
    async fn check_token(&mut self, token: &str) -> Result<(), End> {
        match auth::user_for_token(&self.state, token) {
            Some(user) => {
                tracing::info!(user = %user.username, "comms connection authenticated");
                self.send_text(json!({"auth": "ok"}).to_string()).await
            }
            None => {
                tracing::info!("comms connection refused: unknown or expired token");
                self.send_text(json!({"auth": "fail"}).to_string()).await?;
                Err(End::AuthFailed)
            }
        }
    }

    /// Relays the bus until the browser goes away.
    async fn serve(&mut self, mut bus: broadcast::Receiver<Arc<CommsMessage>>) -> Result<(), End> {
        loop {
            let heartbeat_at = self.last_sent + self.keep_alive;
            tokio::select! {
                frame = self.socket.recv() => match frame {
                    Some(Ok(Message::Text(text))) => self.on_frame(&text).await?,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(End::Closed),
                    Some(Ok(_)) => {}
                },
                event = bus.recv(), if self.queue.len() < QUEUE_LIMIT => match event {
                    Ok(event) => self.enqueue(event),
                    Err(RecvError::Lagged(lost)) => {
                        tracing::warn!(lost, "comms connection fell behind; oldest events dropped");
                    }
                    Err(RecvError::Closed) => return Ok(()),
                },
                () = sleep_until(self.flush_at) => {
                    self.drain_bus(&mut bus);
                    self.flush().await?;
                },
                () = tokio::time::sleep_until(heartbeat_at) => {
                    let data = json!(self.last_sent_epoch_ms);
                    self.enqueue(Arc::new(CommsMessage { topic: "hb".to_owned(), data }));
                    // Until the batch goes out, the heartbeat is not due again.
                    self.last_sent = Instant::now();
                },
            }
        }
    }

    async fn on_frame(&mut self, text: &str) -> Result<(), End> {
        match Frame::parse(text) {
            // A logged-in editor re-authenticates an open connection (its `login` event).
            Frame::Auth(token) => self.check_token(&token).await,
            Frame::Subscribe(filter) => {
                for retained in self.state.runtime.events().retained(&filter) {
                    self.enqueue(Arc::new(retained));
                }
                Ok(())
            }
            Frame::Other | Frame::Malformed => Ok(()),
        }
    }

    fn enqueue(&mut self, event: Arc<CommsMessage>) {
        self.queue.push_back(event);
        if self.flush_at.is_none() {
            self.flush_at = Some(Instant::now() + BATCH_DELAY);
        }
    }

    /// Takes what the bus already holds, so a burst fills frames instead of trickling.
    fn drain_bus(&mut self, bus: &mut broadcast::Receiver<Arc<CommsMessage>>) {
        while self.queue.len() < QUEUE_LIMIT {
            match bus.try_recv() {
                Ok(event) => self.queue.push_back(event),
                Err(broadcast::error::TryRecvError::Lagged(lost)) => {
                    tracing::warn!(lost, "comms connection fell behind; oldest events dropped");
                }
                Err(_) => break,
            }
        }
    }

    /// Sends one frame of up to [`BATCH_SIZE`] events; the rest wait another delay.
    async fn flush(&mut self) -> Result<(), End> {
        let take = self.queue.len().min(BATCH_SIZE);
        let batch: Vec<Arc<CommsMessage>> = self.queue.drain(..take).collect();
        let frame: Vec<&CommsMessage> = batch.iter().map(|m| &**m).collect();
        // Serializing plain JSON values cannot fail.
        let text = serde_json::to_string(&frame).unwrap_or_else(|_| "[]".to_owned());
        self.send_text(text).await?;
        self.flush_at = (!self.queue.is_empty()).then(|| Instant::now() + BATCH_DELAY);
        Ok(())
    }

    async fn send_text(&mut self, text: String) -> Result<(), End> {
        if let Err(error) = self.socket.send(Message::Text(Utf8Bytes::from(text))).await {
            tracing::debug!(%error, "comms send failed; closing the connection");
            return Err(End::Closed);
        }
        self.last_sent = Instant::now();
        self.last_sent_epoch_ms = epoch_ms();
        Ok(())
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
