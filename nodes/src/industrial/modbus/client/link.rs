//! Opening a transport, and the framing each one speaks.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::super::frame::{self, Frame, FrameError, Reading};
use super::super::pdu::Request;
use super::{Parity, Transport};

/// A byte stream to the device.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Opens the transport; the error is the text the state and failed calls report.
pub(super) async fn open(
    transport: &Transport,
    timeout: Duration,
    open_delay: Duration,
) -> Result<Box<dyn Io>, String> {
    match transport {
        Transport::Tcp { host, port } | Transport::RtuOverTcp { host, port } => {
            let stream = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), *port)))
                .await
                .map_err(|_| format!("connecting to {host}:{port} timed out"))?
                .map_err(|e| format!("{host}:{port}: {e}"))?;
            // Requests are small and answers are awaited: Nagle would only add latency.
            let _ = stream.set_nodelay(true);
            Ok(Box::new(stream))
        }
        Transport::Serial {
            path,
            baud,
            data_bits,
            parity,
            stop_bits,
        } => {
            use tokio_serial::SerialPortBuilderExt;
            let data_bits = match data_bits {
                5 => tokio_serial::DataBits::Five,
                6 => tokio_serial::DataBits::Six,
                7 => tokio_serial::DataBits::Seven,
                _ => tokio_serial::DataBits::Eight,
            };
            let parity = match parity {
                Parity::None => tokio_serial::Parity::None,
                Parity::Even => tokio_serial::Parity::Even,
                Parity::Odd => tokio_serial::Parity::Odd,
            };
            let stop_bits = if *stop_bits == 2 {
                tokio_serial::StopBits::Two
            } else {
                tokio_serial::StopBits::One
            };
            let port = tokio_serial::new(path, *baud)
                .data_bits(data_bits)
                .parity(parity)
                .stop_bits(stop_bits)
                .open_native_async()
                .map_err(|e| format!("{path}: {e}"))?;
            tokio::time::sleep(open_delay).await;
            Ok(Box::new(port))
        }
    }
}

/// The framing of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Mbap,
    Rtu,
}

impl Framing {
    pub(super) fn of(transport: &Transport) -> Self {
        if transport.is_rtu() {
            Framing::Rtu
        } else {
            Framing::Mbap
        }
    }

    /// Appends `request` for `unit` (`transaction` is ignored by RTU).
    pub(super) fn encode(self, transaction: u16, unit: u8, request: &Request, buf: &mut BytesMut) {
        match self {
            Framing::Mbap => frame::encode_tcp(transaction, unit, buf, |b| request.encode(b)),
            Framing::Rtu => frame::encode_rtu(unit, buf, |b| request.encode(b)),
        }
    }

    /// Takes one answer off the front of `buf`, once it is all there.
    pub(super) fn decode(self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        match self {
            Framing::Mbap => frame::decode_tcp(buf),
            Framing::Rtu => frame::decode_rtu(buf, Reading::Responses),
        }
    }
}
