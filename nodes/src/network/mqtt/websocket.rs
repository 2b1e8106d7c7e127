//! MQTT over WebSocket for both sides: binary frames carry the MQTT byte stream (MQTT 5
//! §6). A bridge pumps frames to and from an in-memory pipe, so the connection code on the
//! other end of the pipe reads and writes plain bytes, exactly as over TCP.

use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Bytes the pipe between a bridge and its connection buffers.
pub(crate) const PIPE: usize = 64 * 1024;
/// How long a closing bridge waits for the peer's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Upgrades `stream` to a WebSocket at `url` (subprotocol `mqtt`) and returns the pipe end
/// that carries the MQTT bytes; the bridge runs until either side closes.
pub(crate) async fn connect<S>(stream: S, url: &str) -> Result<DuplexStream, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("WebSocket URL {url}: {e}"))?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let (ws, _response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| format!("WebSocket handshake with {url} failed: {e}"))?;
    let (pipe, connection_end) = tokio::io::duplex(PIPE);
    tokio::spawn(bridge(ws, pipe));
    Ok(connection_end)
}

/// Pumps binary frames into the pipe and the pipe's bytes out as binary frames, until
/// either side closes.
pub(crate) async fn bridge<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    mut pipe: tokio::io::DuplexStream,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(PIPE);
    loop {
        if buf.capacity() < PIPE / 4 {
            buf.reserve(PIPE);
        }
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Binary(data))) => {
                    if pipe.write_all(&data).await.is_err() {
                        break;
                    }
                }
                // Pings are answered by the WebSocket layer itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                // MQTT over WebSocket is binary only (MQTT 5 §6).
                Some(Ok(Message::Text(_) | Message::Close(_)) | Err(_)) | None => break,
            },
            read = pipe.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if ws.send(Message::Binary(buf.split().freeze())).await.is_err() {
                        break;
                    }
                }
            },
        }
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, ws.close(None)).await;
}
