//! State shared by every connection: sessions by client id, the subscription table, the
//! retained messages, and the event sink. Lock order: `sessions`, then a session's own
//! lock; `router` and `retained` are never held while taking another lock except a
//! session's (to queue a message).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, watch};

use super::router::{Delivery, Router};
use super::session::{Outgoing, Session};
use super::{ClientInfo, ServerConfig, ServerEvent};
use crate::network::mqtt::codec::{Props, Publish, QoS};

/// A message as the broker keeps it: shared by every subscriber it goes to.
#[derive(Debug)]
pub(super) struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5 publish properties, passed through (without topic alias and subscription
    /// identifiers, which are per connection).
    pub props: Props,
    /// From the message expiry interval: not delivered after this.
    pub expires: Option<Instant>,
}

impl Message {
    /// A message from a PUBLISH (or a will), keeping its properties.
    pub fn new(topic: String, payload: Bytes, qos: QoS, retain: bool, mut props: Props) -> Self {
        let mut expires = None;
        if let Some(p) = props.as_deref_mut() {
            p.topic_alias = None;
            p.subscription_identifiers.clear();
            p.will_delay_interval = None;
            expires = p
                .message_expiry_interval
                .map(|secs| Instant::now() + Duration::from_secs(u64::from(secs)));
        }
        Self {
            topic,
            payload,
            qos,
            retain,
            props,
            expires,
        }
    }

    pub fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }

    /// The seconds left of its expiry interval, as forwarded copies must carry it (rounded
    /// up: a message forwarded at once keeps its whole interval).
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires.map(|at| {
            let left = at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }
}

/// The limits connections apply, copied out of [`ServerConfig`].
#[derive(Debug, Clone)]
pub(super) struct Limits {
    pub max_packet_size: usize,
    pub max_queued: usize,
    pub max_queued_qos0: usize,
    pub max_inflight: u16,
    pub connect_timeout: Duration,
    pub publish_events: bool,
}

pub(super) struct Broker {
    pub limits: Limits,
    pub credentials: Option<(String, String)>,
    pub sessions: Mutex<HashMap<String, Arc<Session>>>,
    pub router: RwLock<Router>,
    pub retained: RwLock<super::retained::Retained>,
    pub events: Option<mpsc::Sender<ServerEvent>>,
    /// Clients with an open, accepted connection.
    pub connected: AtomicUsize,
    /// Messages dropped by full session queues, since start.
    pub dropped: AtomicU64,
    /// Numbers the client ids the broker assigns.
    next_client: AtomicU64,
    /// Becomes true when the server closes: timers (will delay, session expiry) stop.
    pub shutdown: watch::Receiver<bool>,
}

/// Takes a std lock even if a panicking thread poisoned it: the data stays consistent
/// because no code here panics while holding one.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Broker {
    pub fn new(
        config: ServerConfig,
        events: Option<mpsc::Sender<ServerEvent>>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            limits: Limits {
                max_packet_size: config.max_packet_size,
                max_queued: config.max_queued.max(1),
                max_queued_qos0: config.max_queued_qos0.max(1),
                max_inflight: config.max_inflight.max(1),
                connect_timeout: config.connect_timeout,
                publish_events: config.publish_events,
            },
            credentials: config.credentials,
            sessions: Mutex::default(),
            router: RwLock::default(),
            retained: RwLock::default(),
            events,
            connected: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            next_client: AtomicU64::new(1),
            shutdown,
        }
    }

    pub async fn emit(&self, event: ServerEvent) {
        if let Some(events) = &self.events {
            let _ = events.send(event).await;
        }
    }

    /// A client id for a client that gave none.
    pub fn assign_client_id(&self) -> String {
        let n = self.next_client.fetch_add(1, Ordering::Relaxed);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("ferrite-{n}-{stamp:08x}")
    }

    /// Stores or clears the retained message of `msg.topic` (an empty payload clears).
    pub fn retain(&self, msg: &Arc<Message>) {
        let mut retained = self
            .retained
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if msg.payload.is_empty() {
            retained.remove(&msg.topic);
        } else {
            retained.insert(msg);
        }
    }

    /// Queues `msg` on every session subscribed to its topic; `scratch` is the caller's
    /// reusable list of targets.
    pub fn route(&self, msg: &Arc<Message>, publisher: &str, scratch: &mut Vec<Delivery>) {
        {
            let router = self.router.read().unwrap_or_else(PoisonError::into_inner);
            router.route(&msg.topic, publisher, msg.qos, msg.retain, scratch);
        }
        for delivery in scratch.drain(..) {
            let out = Outgoing {
                msg: Arc::clone(msg),
                qos: delivery.qos,
                retain: delivery.retain,
                sub_ids: delivery.sub_ids,
            };
            self.queue(&delivery.session, out);
        }
    }

    /// Queues one message for one session, counting what its limits drop.
    pub fn queue(&self, session: &Session, out: Outgoing) {
        if session.push(out, &self.limits) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Publishes a message that did not come from a PUBLISH packet (a will): retained,
    /// routed, and reported.
    pub async fn publish_will(&self, msg: Message, client: &Arc<ClientInfo>) {
        let msg = Arc::new(msg);
        if msg.retain {
            self.retain(&msg);
        }
        self.route(&msg, &client.id, &mut Vec::new());
        if self.limits.publish_events {
            self.emit(ServerEvent::Publish {
                client: Some(Arc::clone(client)),
                packet: Publish {
                    dup: false,
                    qos: msg.qos,
                    retain: msg.retain,
                    topic: msg.topic.clone(),
                    pkid: 0,
                    payload: msg.payload.clone(),
                    props: msg.props.clone(),
                },
            })
            .await;
        }
    }

    /// Removes every subscription `session` holds from the routing table.
    pub fn drop_subscriptions(&self, session: &Arc<Session>, filters: Vec<String>) {
        if filters.is_empty() {
            return;
        }
        let mut router = self.router.write().unwrap_or_else(PoisonError::into_inner);
        for filter in filters {
            router.unsubscribe(&filter, session);
        }
    }

    /// Ends a session: out of the table of sessions (when it is still the one there) and
    /// out of the routing table.
    pub fn end_session(
        &self,
        sessions: &mut HashMap<String, Arc<Session>>,
        session: &Arc<Session>,
    ) {
        if sessions
            .get(&*session.id)
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            sessions.remove(&*session.id);
        }
        let filters = session.take_filters();
        self.drop_subscriptions(session, filters);
    }

    /// Ends `session` once it has been offline for `expiry`, unless a client resumed it.
    pub fn expire_later(self: &Arc<Self>, session: Arc<Session>, generation: u64, expiry: u32) {
        let broker = Arc::clone(self);
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(u64::from(expiry))) => {}
                () = stopping(&mut shutdown) => return,
            }
            let mut sessions = lock(&broker.sessions);
            if session.generation() == generation {
                broker.end_session(&mut sessions, &session);
            }
        });
    }

    /// Publishes a will after `delay`, unless the client resumed its session by then.
    pub fn will_later(
        self: &Arc<Self>,
        msg: Message,
        client: Arc<ClientInfo>,
        session: Arc<Session>,
        generation: u64,
        delay: u32,
    ) {
        let broker = Arc::clone(self);
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(u64::from(delay))) => {}
                () = stopping(&mut shutdown) => return,
            }
            if session.generation() == generation {
                broker.publish_will(msg, &client).await;
            }
        });
    }
}

/// Resolves once the server is closing (or gone).
pub(super) async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Wakes a connection that must stop (taken over, or its session discarded).
pub(super) type Kick = Arc<Notify>;
