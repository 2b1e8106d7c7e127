//! The reader of a connection: decodes what the broker sends, hands PUBLISHes to the
//! subscribing nodes (waiting while their feeds are full) and the rest to the actor.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError};

use bytes::BytesMut;
use ferrite_runtime::{Event, Msg, Receipt};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::{AckOnRelease, Control, DeliveryError, Dispatch, MAX_INCOMING_PACKET, Subscription};
use crate::network::mqtt::codec::{self, Packet, Publish, QoS, Version};
use crate::network::mqtt::{message, topic};

/// Reads packets until the connection ends; PUBLISHes go to the subscribers, the rest to
/// the actor.
pub(super) async fn read_loop(
    mut read: Box<dyn AsyncRead + Send + Unpin>,
    mut buf: BytesMut,
    version: Version,
    dispatch: Arc<Dispatch>,
    control: mpsc::UnboundedSender<Control>,
    generation: u64,
    local: bool,
) {
    let v5 = version == Version::V5;
    let mut matched: Vec<Arc<Subscription>> = Vec::new();
    // Incoming QoS 2 packet ids received and not yet released by the broker (PUBREL).
    let mut qos2: HashSet<u16> = HashSet::new();
    loop {
        loop {
            let packet = match codec::decode(&mut buf, version, MAX_INCOMING_PACKET) {
                Ok(Some(packet)) => packet,
                Ok(None) => break,
                Err(e) => {
                    let _ = control.send(Control::Lost(generation, e.to_string()));
                    return;
                }
            };
            match packet {
                Packet::Publish(publish) => {
                    if publish.qos == QoS::ExactlyOnce && !qos2.insert(publish.pkid) {
                        // A repeat of a message the flow already has.
                        continue;
                    }
                    if !deliver(
                        publish,
                        &dispatch,
                        &mut matched,
                        &control,
                        generation,
                        v5,
                        local,
                    )
                    .await
                    {
                        return;
                    }
                }
                Packet::PubRel(ack) => {
                    qos2.remove(&ack.pkid);
                    let _ = control.send(Control::Packet(generation, Packet::PubRel(ack)));
                }
                Packet::Disconnect(d) => {
                    let reason = d
                        .props
                        .as_ref()
                        .and_then(|p| p.reason_string.clone())
                        .unwrap_or_default();
                    let _ = control.send(Control::Lost(
                        generation,
                        format!("the broker disconnected the client: {} {reason}", d.reason),
                    ));
                    return;
                }
                other => {
                    let _ = control.send(Control::Packet(generation, other));
                }
            }
        }
        buf.reserve(64 * 1024);
        match read.read_buf(&mut buf).await {
            Ok(0) => {
                let _ = control.send(Control::Lost(generation, "connection closed".into()));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                let _ = control.send(Control::Lost(generation, e.to_string()));
                return;
            }
        }
    }
}

/// Hands one PUBLISH to every matching subscription; false when the client is gone.
async fn deliver(
    publish: Publish,
    dispatch: &Dispatch,
    matched: &mut Vec<Arc<Subscription>>,
    control: &mpsc::UnboundedSender<Control>,
    generation: u64,
    v5: bool,
    local: bool,
) -> bool {
    matched.clear();
    {
        let subs = dispatch
            .subscriptions
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        matched.extend(
            subs.iter()
                .filter(|(_, s)| topic::matches(&s.filter, &publish.topic))
                .map(|(_, s)| Arc::clone(s)),
        );
    }
    // The acknowledgement waits until every message made from this one is let go of.
    let receipt = (publish.qos != QoS::AtMostOnce).then(|| {
        Receipt::new(AckOnRelease {
            control: control.clone(),
            generation,
            pkid: publish.pkid,
            qos: publish.qos,
        })
    });
    for subscription in matched.drain(..) {
        let event = match message::incoming(&publish, subscription.datatype, v5, local) {
            Ok(msg) => Event::Message(attach(msg, receipt.as_ref())),
            Err(error) => Event::Custom(Box::new(DeliveryError(error))),
        };
        // A stopped node's feed is closed: its share of the message is simply dropped.
        subscription.feed.send(event).await;
    }
    !control.is_closed()
}

fn attach(msg: Msg, receipt: Option<&Receipt>) -> Msg {
    match receipt {
        Some(r) => msg.with_receipt(r.clone()),
        None => msg,
    }
}
