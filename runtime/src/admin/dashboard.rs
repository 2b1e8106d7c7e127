//! The dashboard page (`/dashboard`) and its websocket (`/dashboard/ws`): Ferrite's own page
//! for what the `ui-*` nodes put on the [`UiHub`](crate::ui::UiHub). It plays the part of
//! FlowFuse Dashboard 2.0's page, with our own code (`editor-static/dashboard/`) and uPlot
//! for charts (pinned in `editor-static/package.json`).
//!
//! Like Node-RED's `httpNode` routes, the page and its socket need no editor login.
//!
//! Socket protocol (one JSON object per text frame):
//! * server → page: `{"type":"layout","items":[UiItem...]}` on connect and after every hub
//!   `Layout` (the whole snapshot, states included); `{"type":"msg","id","msg"}` for each hub
//!   `Msg`; `{"type":"error","id","code","message"}` when an input was refused.
//! * page → server: `{"type":"input","id","msg":{...}}`; the object's keys become the
//!   message's properties and the message goes to the node through `UiHub::input`.
//!   Anything else is ignored.
//!
//! A page that reads slower than the flows send never slows them: the hub's broadcast keeps
//! a bounded backlog per page and drops the oldest; the page then gets a fresh snapshot, so
//! its widgets show current states again.

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use serde::Serialize;
use serde_json::{Value as Json, json};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use super::assets::{file_response, lookup};
use super::{AdminState, ApiError};
use crate::msg::Msg;
use crate::ui::{UiError, UiEvent, UiHub, UiItem};

/// The page's own files (`index.html`, `dashboard.js`, `dashboard.css`).
#[derive(RustEmbed)]
#[folder = "../editor-static/dashboard/"]
struct Page;

/// Of uPlot, the browser build and its stylesheet; served under `uplot/`.
#[derive(RustEmbed)]
#[folder = "../editor-static/node_modules/uplot/dist/"]
#[include = "uPlot.iife.min.js"]
#[include = "uPlot.min.css"]
struct UPlot;

/// Hub events taken in one go, so a deploy's burst of `Layout`s costs one snapshot.
const DRAIN_LIMIT: usize = 256;

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/dashboard", get(redirect))
        .route("/dashboard/", get(|| async { file("index.html") }))
        .route("/dashboard/ws", get(upgrade))
        .route(
            "/dashboard/{*path}",
            get(|Path(path): Path<String>| async move { file(&path) }),
        )
}

/// `/dashboard` → `/dashboard/`, so the page's relative URLs resolve inside it. Relative,
/// so it holds under any `httpAdminRoot`.
async fn redirect() -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, "dashboard/")],
    )
        .into_response()
}

fn file(path: &str) -> Response {
    let data = match path.strip_prefix("uplot/") {
        Some(rest) => lookup::<UPlot>(rest),
        None => lookup::<Page>(path),
    };
    match data {
        Some(data) => file_response(path, data),
        None => ApiError::not_found(format!("No dashboard file {path}")).into_response(),
    }
}

async fn upgrade(State(state): State<AdminState>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| async move {
        tracing::debug!("dashboard connection opened");
        serve(socket, state.runtime.ui().clone()).await;
        tracing::debug!("dashboard connection closed");
    })
}

/// The socket went away (closed by the page, or broken).
struct Closed;

async fn serve(mut socket: WebSocket, hub: Arc<UiHub>) {
    // Subscribed before the snapshot is taken, so no change between the two is missed.
    let mut events = hub.subscribe();
    if send_layout(&mut socket, &hub).await.is_err() {
        return;
    }
    loop {
        let served = tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => on_frame(&mut socket, &hub, &text).await,
                Some(Ok(Message::Close(_)) | Err(_)) | None => Err(Closed),
                // Pings are answered by axum; binary frames mean nothing here.
                Some(Ok(_)) => Ok(()),
            },
            event = events.recv() => match event {
                Ok(event) => relay(&mut socket, &hub, &mut events, event).await,
                Err(RecvError::Lagged(lost)) => {
                    tracing::warn!(lost, "dashboard page fell behind; oldest events dropped");
                    // What it lost may be widget states: a snapshot brings them back.
                    send_layout(&mut socket, &hub).await
                }
                Err(RecvError::Closed) => return,
            },
        };
        if served.is_err() {
            return;
        }
    }
}

/// Sends `first` and whatever else the hub already holds, one snapshot per run of `Layout`s.
async fn relay(
    socket: &mut WebSocket,
    hub: &UiHub,
    events: &mut broadcast::Receiver<Arc<UiEvent>>,
    first: Arc<UiEvent>,
) -> Result<(), Closed> {
    let mut batch = vec![first];
    while batch.len() < DRAIN_LIMIT {
        match events.try_recv() {
            Ok(event) => batch.push(event),
            // `recv` reports the loss on the next turn.
            Err(TryRecvError::Lagged(_) | TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    let mut after_layout = false;
    for event in batch {
        match &*event {
            UiEvent::Layout if after_layout => {}
            UiEvent::Layout => {
                after_layout = true;
                send_layout(socket, hub).await?;
            }
            UiEvent::Msg { .. } => {
                after_layout = false;
                send_json(socket, &json!(&*event)).await?;
            }
        }
    }
    Ok(())
}

/// The layout frame. Serialized straight from the items: a chart's state can hold 100,000
/// points, and a detour through a `Json` value would copy them all once more.
#[derive(Serialize)]
struct LayoutFrame {
    r#type: &'static str,
    items: Vec<UiItem>,
}

async fn send_layout(socket: &mut WebSocket, hub: &UiHub) -> Result<(), Closed> {
    let frame = LayoutFrame {
        r#type: "layout",
        items: hub.snapshot(),
    };
    // Plain data with string keys: serializing it cannot fail.
    let text = serde_json::to_string(&frame).unwrap_or_default();
    send_text(socket, text).await
}

async fn send_json(socket: &mut WebSocket, frame: &Json) -> Result<(), Closed> {
    send_text(socket, frame.to_string()).await
}

async fn send_text(socket: &mut WebSocket, text: String) -> Result<(), Closed> {
    socket
        .send(Message::Text(Utf8Bytes::from(text)))
        .await
        .map_err(|error| {
            tracing::debug!(%error, "dashboard send failed; closing the connection");
            Closed
        })
}

/// A page's frame: an input goes to its node; a refused input is answered with an error
/// frame, so the page can say so; anything else is ignored.
async fn on_frame(socket: &mut WebSocket, hub: &UiHub, text: &str) -> Result<(), Closed> {
    let Some((id, msg)) = parse_input(text) else {
        tracing::debug!("dashboard frame ignored: not an input");
        return Ok(());
    };
    match hub.input(&id, msg) {
        Ok(()) => Ok(()),
        Err(error) => {
            tracing::info!(item = %id, %error, "dashboard input refused");
            let code = match error {
                UiError::UnknownItem(_) => "unknown_item",
                UiError::NoInput(_) => "no_input",
                UiError::Stopped(_) => "stopped",
            };
            let frame =
                json!({"type": "error", "id": id, "code": code, "message": error.to_string()});
            send_json(socket, &frame).await
        }
    }
}

/// `{"type":"input","id":"..","msg":{..}}` → the item id and the message to deliver.
fn parse_input(text: &str) -> Option<(String, Msg)> {
    let Json::Object(mut frame) = serde_json::from_str::<Json>(text).ok()? else {
        return None;
    };
    if frame.get("type").and_then(Json::as_str) != Some("input") {
        return None;
    }
    let Some(Json::String(id)) = frame.remove("id") else {
        return None;
    };
    let msg = match frame.remove("msg") {
        Some(msg @ Json::Object(_)) => Msg::try_from(msg).ok()?,
        _ => return None,
    };
    Some((id, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_input_frames_with_an_id_and_an_object_msg_are_inputs() {
        let (id, msg) =
            parse_input(r#"{"type":"input","id":"b1","msg":{"on":true}}"#).expect("input");
        assert_eq!(id, "b1");
        assert_eq!(msg.get("on"), Some(&crate::Value::Bool(true)));
        for bad in [
            "not json",
            "[]",
            r#"{"type":"other","id":"b1","msg":{}}"#,
            r#"{"type":"input","msg":{}}"#,
            r#"{"type":"input","id":7,"msg":{}}"#,
            r#"{"type":"input","id":"b1","msg":5}"#,
            r#"{"type":"input","id":"b1"}"#,
        ] {
            assert!(parse_input(bad).is_none(), "{bad}");
        }
    }
}
