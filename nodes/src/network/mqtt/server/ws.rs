//! MQTT over WebSocket: the HTTP upgrade (subprotocol `mqtt`), then binary frames carry
//! the MQTT byte stream. A bridge pumps frames to and from an in-memory pipe whose other
//! end the ordinary connection task serves, so WebSocket clients get exactly the same
//! broker.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::super::websocket;
use super::broker::Broker;
use super::conn;

/// The subprotocols MQTT clients ask for; the first one offered is echoed back.
const SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

fn choose_subprotocol(request: &Request, mut response: Response) -> Response {
    let offered = request
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| SUBPROTOCOLS.contains(p));
    if let Some(protocol) = offered {
        response.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(match protocol {
                "mqtt" => "mqtt",
                _ => "mqttv3.1",
            }),
        );
    }
    response
}

#[allow(
    clippy::result_large_err,
    reason = "the handshake callback's error type is tungstenite's HTTP response"
)]
pub(super) async fn serve<S>(
    broker: Arc<Broker>,
    stream: S,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default()
        .max_message_size(Some(broker.limits.max_packet_size))
        .max_frame_size(Some(broker.limits.max_packet_size));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |request: &Request, response: Response| Ok(choose_subprotocol(request, response)),
        Some(config),
    );
    let Some(ws) = super::listener::handshake(&broker, "WebSocket", handshake).await else {
        return;
    };
    let (pipe, connection_end) = tokio::io::duplex(websocket::PIPE);
    let (reader, writer) = tokio::io::split(connection_end);
    tokio::join!(
        conn::serve(broker, reader, writer, Some(peer), shutdown),
        websocket::bridge(ws, pipe),
    );
}
