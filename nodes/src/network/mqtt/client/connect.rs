//! Opening a connection: TCP, TLS and WebSocket as the endpoint asks, then CONNECT and
//! the broker's CONNACK.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

use super::{Io, MAX_INCOMING_PACKET, Options};
use crate::network::mqtt::codec::{self, ConnAck, Connect, Packet, Version};

/// A connected byte stream, split into halves the reader and the actor own.
pub(super) struct Stream {
    pub(super) read: Box<dyn AsyncRead + Send + Unpin>,
    pub(super) write: Box<dyn AsyncWrite + Send + Unpin>,
}

pub(super) struct Opened {
    pub(super) stream: Stream,
    pub(super) leftover: BytesMut,
    pub(super) connack: ConnAck,
}

/// TCP (+ TLS), CONNECT, and the CONNACK.
pub(super) async fn open(options: &Options) -> Result<Opened, String> {
    let endpoint = &options.endpoint;
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| e.to_string())?;
    // Latency over packet count: each message is written as soon as it is ready.
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut stream = if options.dialer.is_none() && endpoint.websocket.is_none() {
        let (read, write) = tcp.into_split();
        Stream {
            read: Box::new(QuickAck(read)),
            write: Box::new(write),
        }
    } else {
        let tcp: Box<dyn Io> = Box::new(QuickAck(tcp));
        let io: Box<dyn Io> = match &options.dialer {
            Some(dial) => dial(tcp, endpoint)
                .await
                .map_err(|e| crate::network::tls::explain(&e))?,
            None => tcp,
        };
        let io: Box<dyn Io> = match &endpoint.websocket {
            Some(_) => {
                Box::new(crate::network::mqtt::websocket::connect(io, &endpoint.url()).await?)
            }
            None => io,
        };
        let (read, write) = tokio::io::split(io);
        Stream {
            read: Box::new(read),
            write: Box::new(write),
        }
    };
    let connect = Packet::Connect(Connect {
        version: options.version,
        client_id: options.client_id.clone(),
        keep_alive: options.keep_alive,
        clean_start: options.clean_start,
        username: options.username.clone(),
        password: options.password.clone(),
        will: options.will.clone(),
        props: options.connect_props.clone(),
    });
    let mut buf = BytesMut::with_capacity(256);
    codec::encode(&connect, options.version, &mut buf).map_err(|e| e.to_string())?;
    stream
        .write
        .write_all(&buf)
        .await
        .map_err(|e| e.to_string())?;
    let mut read_buf = BytesMut::with_capacity(64 * 1024);
    loop {
        match codec::decode(&mut read_buf, options.version, MAX_INCOMING_PACKET) {
            Ok(Some(Packet::ConnAck(connack))) => {
                if connack.code != 0 {
                    return Err(refusal(options.version, &connack));
                }
                return Ok(Opened {
                    stream,
                    leftover: read_buf,
                    connack,
                });
            }
            Ok(Some(other)) => return Err(format!("expected CONNACK, got {other:?}")),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        let n = stream
            .read
            .read_buf(&mut read_buf)
            .await
            .map_err(|e| crate::network::tls::explain(&e))?;
        if n == 0 {
            return Err("connection closed by the broker".to_owned());
        }
    }
}

/// Why the broker refused the connection, in words.
fn refusal(version: Version, connack: &ConnAck) -> String {
    let text = match (version, connack.code) {
        (Version::V5, 0x84) | (Version::V31 | Version::V311, 1) => "unacceptable protocol version",
        (Version::V5, 0x85) | (Version::V31 | Version::V311, 2) => "client identifier rejected",
        (Version::V5, 0x88) | (Version::V31 | Version::V311, 3) => "server unavailable",
        (Version::V5, 0x86) | (Version::V31 | Version::V311, 4) => "bad user name or password",
        (Version::V5, 0x87) | (Version::V31 | Version::V311, 5) => "not authorized",
        (Version::V5, 0x8a) => "banned",
        (Version::V5, 0x9c | 0x9d) => "use another server",
        _ => "refused",
    };
    let reason = connack
        .props
        .as_ref()
        .and_then(|p| p.reason_string.as_deref())
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!("Connection refused: {text} (code {}){reason}", connack.code)
}

/// A TCP stream that acknowledges what it reads at once. Linux delays an ACK (up to 40 ms)
/// hoping to send it with a reply; a broker with Nagle's algorithm on (Mosquitto's default)
/// holds its next small packet until that ACK arrives, so without this a client that does
/// not answer what it reads (a SUBACK, a QoS 0 message) gets the next message late. It
/// costs one `setsockopt` per read, and reads come in batches under load.
struct QuickAck<T>(T);

trait OnTcp {
    fn tcp(&self) -> &TcpStream;
}

impl OnTcp for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl OnTcp for OwnedReadHalf {
    fn tcp(&self) -> &TcpStream {
        self.as_ref()
    }
}

impl<T: AsyncRead + OnTcp + Unpin> AsyncRead for QuickAck<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        #[cfg(target_os = "linux")]
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            // Only a hint: a socket that refuses it still works, just with delayed ACKs.
            let _ = self.0.tcp().set_quickack(true);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (before, self.0.tcp());
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for QuickAck<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
