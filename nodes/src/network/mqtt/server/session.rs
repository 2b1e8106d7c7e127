//! A client's session: its subscriptions, the messages waiting for it, the QoS 1/2
//! messages in flight either way. It outlives the connection when the client asked for a
//! persistent session; a reconnecting client takes it over.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::broker::{Kick, Limits, Message, lock};
use super::router::SubOptions;
use crate::network::mqtt::codec::QoS;

/// One message on its way to one client.
#[derive(Debug, Clone)]
pub(super) struct Outgoing {
    pub msg: Arc<Message>,
    /// The QoS it is sent with: the lower of the message's and the subscription's.
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5 subscription identifiers of the subscriptions it matched.
    pub sub_ids: Vec<u32>,
}

/// A QoS 1/2 message sent and not yet fully acknowledged.
#[derive(Debug)]
pub(super) struct Inflight {
    pub pkid: u16,
    pub out: Outgoing,
    /// QoS 2: PUBREC arrived, PUBREL sent, PUBCOMP awaited.
    pub released: bool,
}

#[derive(Debug, Default)]
pub(super) struct SessionState {
    /// Bumped each time a connection takes the session (or it is discarded): a connection
    /// holding an older number no longer owns it.
    pub generation: u64,
    /// Wakes the owning connection to stop; `None` while offline.
    pub kick: Option<Kick>,
    /// Waiting to be sent, oldest first.
    pub queue: VecDeque<Outgoing>,
    /// Sent, awaiting acknowledgement, in the order sent (packet ids ascend cyclically).
    pub inflight: VecDeque<Inflight>,
    pub last_pkid: u16,
    /// QoS 2 packet ids received (and routed) whose PUBREL has not come yet.
    pub incoming_qos2: HashSet<u16>,
    /// Filter as the client wrote it (with `$share/...`) → options.
    pub subs: HashMap<String, SubOptions>,
    /// Seconds the session outlives its connection (`u32::MAX`: for ever).
    pub expiry: u32,
}

#[derive(Debug)]
pub(super) struct Session {
    pub id: Arc<str>,
    state: Mutex<SessionState>,
    /// Wakes the owning connection: something was queued.
    pub wake: Notify,
}

impl Session {
    pub fn new(id: &str) -> Self {
        Self {
            id: Arc::from(id),
            state: Mutex::default(),
            wake: Notify::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, SessionState> {
        lock(&self.state)
    }

    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    pub fn online(&self) -> bool {
        self.lock().kick.is_some()
    }

    /// Hands the session to a new connection, stopping the one that had it. Returns the
    /// connection's generation.
    pub fn attach(&self, kick: Kick, expiry: u32) -> u64 {
        let mut state = self.lock();
        state.generation += 1;
        state.expiry = expiry;
        if let Some(old) = state.kick.replace(kick) {
            old.notify_one();
        }
        state.generation
    }

    /// Stops the owning connection, if any, and makes the session unusable to it.
    pub fn kick(&self) {
        let mut state = self.lock();
        state.generation += 1;
        if let Some(old) = state.kick.take() {
            old.notify_one();
        }
    }

    /// The connection of `generation` went away. Returns the session expiry when that
    /// connection still owned the session (QoS 0 messages waiting are dropped then).
    pub fn detach(&self, generation: u64) -> Option<u32> {
        let mut state = self.lock();
        if state.generation != generation {
            return None;
        }
        state.kick = None;
        state.queue.retain(|o| o.qos != QoS::AtMostOnce);
        Some(state.expiry)
    }

    /// Every filter subscribed, forgotten.
    pub fn take_filters(&self) -> Vec<String> {
        let mut state = self.lock();
        state.subs.drain().map(|(filter, _)| filter).collect()
    }

    /// Queues a message within the limits: QoS 0 only while online (offline clients are
    /// not owed it) and while the queue is short; when the queue is full the oldest QoS 0/1
    /// message makes room. True when a message (this one or an older one) was dropped.
    pub fn push(&self, out: Outgoing, limits: &Limits) -> bool {
        let mut state = self.lock();
        let online = state.kick.is_some();
        if out.qos == QoS::AtMostOnce {
            if !online {
                return false;
            }
            if state.queue.len() >= limits.max_queued_qos0 {
                return true;
            }
        }
        let mut dropped = false;
        if state.queue.len() >= limits.max_queued {
            dropped = true;
            match state.queue.iter().position(|o| o.qos != QoS::ExactlyOnce) {
                Some(oldest) => {
                    state.queue.remove(oldest);
                }
                None => return true,
            }
        }
        state.queue.push_back(out);
        drop(state);
        if online {
            self.wake.notify_one();
        }
        dropped
    }
}

impl SessionState {
    /// The packet id the next QoS 1/2 message gets, or `None` while sending one more would
    /// exceed `max_inflight` or reuse an id still in flight. Ids are handed out in order
    /// and the in-flight list keeps that order, so the only id that can still be in use is
    /// the oldest one's.
    pub fn next_pkid(&self, max_inflight: u16) -> Option<u16> {
        if self.inflight.len() >= usize::from(max_inflight) {
            return None;
        }
        let next = match self.last_pkid {
            u16::MAX => 1,
            n => n + 1,
        };
        match self.inflight.front() {
            Some(oldest) if oldest.pkid == next => None,
            _ => Some(next),
        }
    }

    /// Removes the in-flight message with `pkid`; false when there is none.
    pub fn complete(&mut self, pkid: u16) -> bool {
        match self.inflight.iter().position(|i| i.pkid == pkid) {
            Some(at) => {
                self.inflight.remove(at);
                true
            }
            None => false,
        }
    }

    /// A PUBREC: the message is now awaiting PUBCOMP. False when `pkid` is unknown.
    pub fn release(&mut self, pkid: u16) -> bool {
        match self.inflight.iter_mut().find(|i| i.pkid == pkid) {
            Some(inflight) => {
                inflight.released = true;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn limits(max_queued: usize, max_queued_qos0: usize) -> Limits {
        Limits {
            max_packet_size: 1 << 20,
            max_queued,
            max_queued_qos0,
            max_inflight: 10,
            connect_timeout: std::time::Duration::from_secs(1),
            publish_events: false,
        }
    }

    fn out(qos: QoS, n: u8) -> Outgoing {
        Outgoing {
            msg: Arc::new(Message::new(
                "t".into(),
                Bytes::from(vec![n]),
                qos,
                false,
                None,
            )),
            qos,
            retain: false,
            sub_ids: Vec::new(),
        }
    }

    fn online(limits_queue: usize) -> (Session, Limits) {
        let session = Session::new("c");
        session.attach(Arc::new(Notify::new()), 0);
        (session, limits(limits_queue, 2))
    }

    fn payloads(session: &Session) -> Vec<u8> {
        session
            .lock()
            .queue
            .iter()
            .map(|o| o.msg.payload[0])
            .collect()
    }

    #[test]
    fn server_session_drops_qos0_when_offline_or_backed_up() {
        let session = Session::new("c");
        let limits = limits(10, 2);
        assert!(!session.push(out(QoS::AtMostOnce, 1), &limits), "not owed");
        assert!(!session.push(out(QoS::AtLeastOnce, 2), &limits));
        assert_eq!(
            payloads(&session),
            [2],
            "offline: QoS 1 kept, QoS 0 dropped"
        );
        session.attach(Arc::new(Notify::new()), 0);
        let dropped: Vec<bool> = (3..6)
            .map(|n| session.push(out(QoS::AtMostOnce, n), &limits))
            .collect();
        assert_eq!(dropped, [false, true, true]);
        assert_eq!(payloads(&session), [2, 3], "QoS 0 stops at max_queued_qos0");
    }

    #[test]
    fn server_session_full_queue_drops_oldest_qos1_and_keeps_qos2() {
        let (session, limits) = online(3);
        session.push(out(QoS::ExactlyOnce, 1), &limits);
        session.push(out(QoS::AtLeastOnce, 2), &limits);
        session.push(out(QoS::AtLeastOnce, 3), &limits);
        assert!(session.push(out(QoS::AtLeastOnce, 4), &limits));
        assert_eq!(payloads(&session), [1, 3, 4]);
        let (session, limits) = online(2);
        session.push(out(QoS::ExactlyOnce, 1), &limits);
        session.push(out(QoS::ExactlyOnce, 2), &limits);
        assert!(session.push(out(QoS::ExactlyOnce, 3), &limits));
        assert_eq!(
            payloads(&session),
            [1, 2],
            "all QoS 2: the new one is dropped"
        );
    }

    #[test]
    fn server_session_packet_ids_wrap_and_skip_the_oldest_in_flight() {
        let mut state = SessionState {
            last_pkid: u16::MAX,
            ..SessionState::default()
        };
        assert_eq!(state.next_pkid(10), Some(1));
        state.last_pkid = 4;
        state.inflight.push_back(Inflight {
            pkid: 5,
            out: out(QoS::AtLeastOnce, 0),
            released: false,
        });
        assert_eq!(state.next_pkid(10), None, "id 5 is still in flight");
        assert_eq!(state.next_pkid(1), None, "window full");
        state.last_pkid = 6;
        assert_eq!(state.next_pkid(10), Some(7));
        assert!(state.release(5));
        assert!(state.complete(5));
        assert!(!state.complete(5));
    }

    #[test]
    fn server_session_detach_of_an_old_connection_changes_nothing() {
        let session = Session::new("c");
        let first = session.attach(Arc::new(Notify::new()), 60);
        let second = session.attach(Arc::new(Notify::new()), 30);
        assert_eq!(session.detach(first), None);
        assert!(session.online());
        assert_eq!(session.detach(second), Some(30));
        assert!(!session.online());
    }
}
