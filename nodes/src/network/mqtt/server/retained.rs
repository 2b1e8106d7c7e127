//! Retained messages: the last retained message of each topic, sent to new subscribers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::broker::Message;
use crate::network::mqtt::topic;

#[derive(Debug, Default)]
pub(super) struct Retained {
    by_topic: HashMap<String, Arc<Message>>,
}

impl Retained {
    /// Keeps `msg` as its topic's retained message. The payload is copied: the one
    /// received is a slice of a connection's read buffer, which it would keep alive.
    pub fn insert(&mut self, msg: &Arc<Message>) {
        let own = Message {
            topic: msg.topic.clone(),
            payload: Bytes::copy_from_slice(&msg.payload),
            qos: msg.qos,
            retain: true,
            props: msg.props.clone(),
            expires: msg.expires,
        };
        self.by_topic.insert(own.topic.clone(), Arc::new(own));
    }

    pub fn remove(&mut self, topic: &str) {
        self.by_topic.remove(topic);
    }

    /// The retained messages `filter` (without `$share`) matches and that have not expired.
    pub fn matching(&self, filter: &str, out: &mut Vec<Arc<Message>>) {
        let now = Instant::now();
        if filter.contains(['+', '#']) {
            out.extend(
                self.by_topic
                    .values()
                    .filter(|m| !m.expired(now) && topic::matches(filter, &m.topic))
                    .cloned(),
            );
        } else if let Some(m) = self.by_topic.get(filter)
            && !m.expired(now)
        {
            out.push(Arc::clone(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::mqtt::codec::{Properties, QoS};

    fn msg(topic: &str, payload: &'static [u8], expiry: Option<u32>) -> Arc<Message> {
        let props = expiry.map(|secs| {
            Box::new(Properties {
                message_expiry_interval: Some(secs),
                ..Properties::default()
            })
        });
        Arc::new(Message::new(
            topic.into(),
            Bytes::from_static(payload),
            QoS::AtLeastOnce,
            true,
            props,
        ))
    }

    fn topics(retained: &Retained, filter: &str) -> Vec<String> {
        let mut out = Vec::new();
        retained.matching(filter, &mut out);
        let mut topics: Vec<String> = out.iter().map(|m| m.topic.clone()).collect();
        topics.sort();
        topics
    }

    #[test]
    fn server_retained_replaces_matches_and_skips_expired() {
        let mut retained = Retained::default();
        retained.insert(&msg("a/1", b"x", None));
        retained.insert(&msg("a/1", b"y", None));
        retained.insert(&msg("a/2", b"z", Some(0)));
        retained.insert(&msg("$SYS/x", b"s", None));
        let mut out = Vec::new();
        retained.matching("a/1", &mut out);
        assert_eq!(&out[0].payload[..], b"y");
        assert_eq!(topics(&retained, "a/+"), ["a/1"], "a/2 has expired");
        assert_eq!(
            topics(&retained, "#"),
            ["a/1"],
            "$ topics need an explicit $ level"
        );
        assert_eq!(topics(&retained, "$SYS/#"), ["$SYS/x"]);
        retained.remove("a/1");
        assert!(topics(&retained, "a/1").is_empty());
    }
}
