//! The connection actor: connects and reconnects, writes every packet, tracks in-flight
//! messages and runs the outbox (see the parent module).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::connect::{Opened, open};
use super::reader::read_loop;
use super::{
    ACK_HOLD_BYTES, CLOSE_TIMEOUT, CONNECT_TIMEOUT, Command, Control, DEFAULT_INFLIGHT, Dispatch,
    FIRST_RETRY, Link, LinkState, Options, Outgoing, REPLAY_BATCH, STATUS_REFRESH, Subscription,
    WAITING_MAX_BYTES,
};
use crate::network::mqtt::codec::{
    self, Ack, Packet, Publish, QoS, Subscribe, SubscribeFilter, Unsubscribe, Version,
};
use crate::network::mqtt::outbox::{self, Cursor, Outbox};

/// A connection that is up.
struct Live {
    write: Box<dyn AsyncWrite + Send + Unpin>,
    reader: JoinHandle<()>,
    version: Version,
    inflight: HashMap<u16, Outgoing>,
    /// Outgoing QoS 2 messages the broker has received (PUBREC), awaiting PUBCOMP.
    released: HashMap<u16, Outgoing>,
    receive_max: usize,
    next_pkid: u16,
    /// Subscribe / unsubscribe packets awaiting their ack: the filters, for the log.
    requests: HashMap<u16, Vec<String>>,
    ping_at: Instant,
    pong_due: Option<Instant>,
    keep_alive: Duration,
}

impl Live {
    fn room(&self) -> bool {
        self.inflight.len() + self.released.len() < self.receive_max
    }

    fn take_pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
            let id = self.next_pkid;
            if !self.inflight.contains_key(&id)
                && !self.released.contains_key(&id)
                && !self.requests.contains_key(&id)
            {
                return id;
            }
        }
    }
}

/// A connection attempt under way.
type Attempt = JoinHandle<Result<Opened, String>>;

pub(super) struct Actor {
    options: Options,
    /// The connection should be up (a node registered with autoConnect, or `connect`).
    wanted: bool,
    users: usize,
    retry_delay: Duration,
    reconnect_at: Option<Instant>,
    connecting: Option<Attempt>,
    live: Option<Live>,
    /// Counts connections, so acks from an older one are not sent on a newer one.
    generation: u64,
    dispatch: Arc<Dispatch>,
    outbox: Outbox,
    /// Messages to write to the outbox at the end of this turn.
    to_store: Vec<Outgoing>,
    /// Messages that were on their way when the connection went, to store at the end of
    /// this turn: never dropped by the outbox's caps (they were accepted while connected).
    to_keep: Vec<Outgoing>,
    /// Acknowledgements of incoming messages held back while too much waits for the
    /// broker (see [`ACK_HOLD_BYTES`]).
    held_acks: Vec<(u16, QoS)>,
    /// Messages waiting for an in-flight slot.
    waiting: Waiting,
    /// QoS 0 messages in `write_buf`: safe once it is written.
    unflushed: Vec<Outgoing>,
    write_buf: BytesMut,
    /// Outbox rows the broker has acknowledged, deleted at the end of the turn.
    acked_rows: Vec<i64>,
    /// Where replay stands on this connection; `None` while disconnected.
    cursor: Option<Cursor>,
    replay_tokens: f64,
    replay_clock: Instant,
    /// Rows up to this id were stored before the connection came up: they replay at the
    /// configured rate, newer ones at once.
    backlog_end: i64,
    link_tx: watch::Sender<Link>,
    status_at: Option<Instant>,
    /// Messages dropped by the outbox's caps since the last warning, and when that was.
    dropped: u64,
    warned_at: Option<Instant>,
    control: mpsc::UnboundedSender<Control>,
    control_rx: mpsc::UnboundedReceiver<Control>,
}

impl Actor {
    pub(super) fn new(options: Options, outbox: Outbox, link_tx: watch::Sender<Link>) -> Self {
        let (control, control_rx) = mpsc::unbounded_channel();
        Self {
            wanted: false,
            users: 0,
            retry_delay: FIRST_RETRY,
            reconnect_at: None,
            connecting: None,
            live: None,
            generation: 0,
            dispatch: Arc::new(Dispatch::default()),
            outbox,
            to_store: Vec::new(),
            to_keep: Vec::new(),
            held_acks: Vec::new(),
            waiting: Waiting::default(),
            unflushed: Vec::new(),
            write_buf: BytesMut::with_capacity(64 * 1024),
            acked_rows: Vec::new(),
            cursor: None,
            replay_tokens: 0.0,
            replay_clock: Instant::now(),
            backlog_end: 0,
            link_tx,
            status_at: None,
            dropped: 0,
            warned_at: None,
            control,
            control_rx,
            options,
        }
    }

    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut closing: Option<oneshot::Sender<()>> = None;
        // One timer for the whole life of the actor, moved only to an earlier deadline: a
        // later one (the keepalive, pushed back by every write) is picked up when it fires.
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        let mut armed: Option<Instant> = None;
        loop {
            if let Some(deadline) = self.next_deadline()
                && armed.is_none_or(|at| deadline < at)
            {
                timer.as_mut().reset(deadline);
                armed = Some(deadline);
            }
            tokio::select! {
                biased;
                Some(control) = self.control_rx.recv() => {
                    self.on_control(control).await;
                    while let Ok(control) = self.control_rx.try_recv() {
                        self.on_control(control).await;
                    }
                }
                opened = wait_attempt(&mut self.connecting), if self.connecting.is_some() => {
                    self.connecting = None;
                    match opened {
                        Ok(Ok(opened)) => self.on_open(opened),
                        Ok(Err(reason)) => self.on_connect_failed(&reason),
                        Err(join) => self.on_connect_failed(&join.to_string()),
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Close(reply)) => {
                        closing = Some(reply);
                        break;
                    }
                    Some(command) => {
                        self.on_command(command).await;
                        for _ in 0..256 {
                            match commands.try_recv() {
                                Ok(Command::Close(reply)) => {
                                    closing = Some(reply);
                                    break;
                                }
                                Ok(command) => self.on_command(command).await,
                                Err(_) => break,
                            }
                        }
                        if closing.is_some() {
                            break;
                        }
                    }
                    None => break,
                },
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    self.on_timer().await;
                }
            }
            self.end_turn().await;
            while self.replay().await {
                self.end_turn().await;
            }
        }
        self.shut_down().await;
        if let Some(reply) = closing {
            let _ = reply.send(());
        }
    }

    fn label(&self) -> String {
        self.options.label()
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.reconnect_at;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        if let Some(live) = &self.live {
            if !live.keep_alive.is_zero() {
                consider(Some(live.ping_at));
            }
            consider(live.pong_due);
            if self.replay_blocked_by_rate() {
                consider(Some(self.replay_clock + Duration::from_millis(20)));
            }
        }
        consider(self.status_at);
        next
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish(outgoing) => self.publish(*outgoing),
            Command::Subscribe(id, subscription) => {
                if let Some(live) = &mut self.live {
                    let packet = subscribe_packet(live.take_pkid(), [&*subscription]);
                    send_request(live, &mut self.write_buf, packet);
                }
                self.dispatch
                    .subscriptions
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((id, subscription));
            }
            Command::Unsubscribe(id, at_broker) => {
                let filter = {
                    let mut subs = self
                        .dispatch
                        .subscriptions
                        .write()
                        .unwrap_or_else(PoisonError::into_inner);
                    let removed = subs
                        .iter()
                        .position(|(sid, _)| *sid == id)
                        .map(|i| subs.remove(i).1);
                    removed
                        .filter(|r| !subs.iter().any(|(_, s)| s.filter == r.filter))
                        .map(|r| r.filter.clone())
                };
                if let (Some(filter), Some(live)) = (filter, &mut self.live)
                    && (at_broker || self.options.auto_unsubscribe)
                {
                    let packet = Packet::Unsubscribe(Unsubscribe {
                        pkid: live.take_pkid(),
                        filters: vec![filter],
                        props: None,
                    });
                    send_request(live, &mut self.write_buf, packet);
                }
            }
            Command::Register => {
                self.users += 1;
                if self.users == 1 && self.options.auto_connect && !self.wanted {
                    self.wanted = true;
                    self.start_connecting();
                }
            }
            Command::Deregister { removed } => {
                self.users = self.users.saturating_sub(1);
                if self.users == 0 && removed {
                    self.go_offline().await;
                }
            }
            Command::Connect {
                options,
                force,
                reply,
            } => {
                let busy = self.live.is_some() || self.connecting.is_some();
                if busy && !force && options.is_some() {
                    let _ = reply.send(Err("Disconnect from broker before connecting".into()));
                    return;
                }
                if busy && force {
                    self.go_offline().await;
                }
                if let Some(options) = options {
                    self.options = *options;
                }
                self.wanted = true;
                if self.live.is_none() && self.connecting.is_none() {
                    self.retry_delay = FIRST_RETRY;
                    self.start_connecting();
                }
                let _ = reply.send(Ok(()));
            }
            Command::Disconnect(reply) => {
                self.go_offline().await;
                let _ = reply.send(());
            }
            Command::Close(_) => {}
        }
    }

    /// Routes a message: to the broker now, or to the outbox.
    fn publish(&mut self, outgoing: Outgoing) {
        if self.live.is_none() || outgoing.is_durable_request() || self.unsent_backlog() {
            self.to_store.push(outgoing);
        } else {
            self.send(outgoing);
        }
    }

    /// In FIFO order a new message waits behind stored ones not yet sent (rows already
    /// sent and awaiting their ack are no reason to: the new one goes after them anyway).
    fn unsent_backlog(&self) -> bool {
        if self.outbox.policy().order != outbox::Order::Fifo {
            return false;
        }
        if !self.to_store.is_empty() || !self.to_keep.is_empty() {
            return true;
        }
        !self.outbox.is_empty()
            && self
                .cursor
                .is_none_or(|cursor| cursor.position() < self.outbox.last_id())
    }

    /// Writes a message on the live connection (or queues it for a free in-flight slot).
    fn send(&mut self, mut outgoing: Outgoing) {
        let Some(live) = &mut self.live else {
            self.to_store.push(outgoing);
            return;
        };
        if outgoing.publish.qos == QoS::AtMostOnce {
            outgoing.publish.pkid = 0;
            outgoing.publish = encode_publish(outgoing.publish, live.version, &mut self.write_buf);
            self.unflushed.push(outgoing);
            return;
        }
        if !live.room() || !self.waiting.is_empty() {
            // Past a bounded queue the overflow goes to the outbox: waiting here for acks
            // could deadlock, as the acks arrive on the connection whose incoming messages
            // the flow may be too busy to take.
            if self.waiting.bytes < WAITING_MAX_BYTES || outgoing.row.is_some() {
                self.waiting.push_back(outgoing);
            } else {
                if !self.waiting.spilling {
                    self.waiting.spilling = true;
                    tracing::info!(broker = %self.options.label(), "The broker acknowledges more slowly than messages arrive: {} wait in memory, newer ones go to the outbox until it catches up.", self.waiting.queue.len());
                }
                self.to_store.push(outgoing);
            }
            return;
        }
        write_inflight(live, &mut self.write_buf, outgoing);
    }

    async fn on_control(&mut self, control: Control) {
        match control {
            Control::Release {
                generation,
                pkid,
                qos,
            } => {
                if let Some(live) = self.live.as_ref().filter(|_| generation == self.generation) {
                    if self.waiting.bytes >= ACK_HOLD_BYTES || !self.held_acks.is_empty() {
                        self.held_acks.push((pkid, qos));
                    } else {
                        encode_ack(pkid, qos, live.version, &mut self.write_buf);
                    }
                }
            }
            Control::Lost(generation, reason) => {
                if generation == self.generation && self.live.is_some() {
                    tracing::info!(broker = %self.label(), "Disconnected from broker: {} ({reason})", self.label());
                    self.drop_connection();
                    self.schedule_reconnect();
                }
            }
            Control::Packet(generation, packet) => {
                if generation == self.generation {
                    self.on_packet(packet);
                }
            }
        }
    }

    fn on_packet(&mut self, packet: Packet) {
        let Some(live) = &mut self.live else { return };
        match packet {
            Packet::PubAck(ack) => {
                if let Some(done) = live.inflight.remove(&ack.pkid) {
                    if ack.reason >= 0x80 {
                        tracing::warn!(broker = %self.options.label(), topic = %done.publish.topic, "The broker refused a message (reason 0x{:02x}).", ack.reason);
                    }
                    settle(done, &mut self.acked_rows);
                }
            }
            Packet::PubRec(ack) => {
                if let Some(done) = live.inflight.remove(&ack.pkid) {
                    if ack.reason >= 0x80 {
                        settle(done, &mut self.acked_rows);
                    } else {
                        live.released.insert(ack.pkid, done);
                        encode(
                            &Packet::PubRel(Ack::new(ack.pkid)),
                            live.version,
                            &mut self.write_buf,
                        );
                    }
                }
            }
            Packet::PubComp(ack) => {
                if let Some(done) = live.released.remove(&ack.pkid) {
                    settle(done, &mut self.acked_rows);
                }
            }
            Packet::PubRel(ack) => {
                encode(
                    &Packet::PubComp(Ack::new(ack.pkid)),
                    live.version,
                    &mut self.write_buf,
                );
            }
            Packet::SubAck(suback) => {
                if let Some(filters) = live.requests.remove(&suback.pkid) {
                    for (filter, code) in filters.iter().zip(&suback.codes) {
                        if *code >= 0x80 {
                            tracing::warn!(broker = %self.options.label(), "The broker refused the subscription to '{filter}' (code 0x{code:02x}).");
                        }
                    }
                }
            }
            Packet::UnsubAck(unsuback) => {
                live.requests.remove(&unsuback.pkid);
            }
            Packet::PingResp => live.pong_due = None,
            _ => {}
        }
        self.fill_window();
    }

    /// Moves waiting messages into free in-flight slots. Below the hold mark, each message
    /// that moves lets one held acknowledgement go: the broker sends about as fast as it
    /// takes what we publish, instead of in waves.
    fn fill_window(&mut self) {
        let Some(live) = &mut self.live else { return };
        let mut held = self.held_acks.len();
        while live.room() {
            let Some(outgoing) = self.waiting.pop_front() else {
                break;
            };
            write_inflight(live, &mut self.write_buf, outgoing);
            if held > 0 && self.waiting.bytes < ACK_HOLD_BYTES {
                held -= 1;
            }
        }
        if self.waiting.is_empty() {
            held = 0;
        }
        let release = self.held_acks.len() - held;
        for (pkid, qos) in self.held_acks.drain(..release) {
            encode_ack(pkid, qos, live.version, &mut self.write_buf);
        }
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        if self.reconnect_at.is_some_and(|t| t <= now) {
            self.reconnect_at = None;
            if self.wanted && self.live.is_none() && self.connecting.is_none() {
                self.start_connecting();
            }
        }
        if self.status_at.is_some_and(|t| t <= now) {
            self.status_at = None;
            self.show_queue();
        }
        let lost = match &mut self.live {
            Some(live) if live.pong_due.is_some_and(|t| t <= now) => true,
            Some(live) => {
                if !live.keep_alive.is_zero() && live.ping_at <= now {
                    encode(&Packet::PingReq, live.version, &mut self.write_buf);
                    live.pong_due = Some(now + live.keep_alive.max(Duration::from_secs(5)));
                    live.ping_at = now + live.keep_alive;
                }
                false
            }
            None => false,
        };
        if lost {
            tracing::info!(broker = %self.label(), "Disconnected from broker: {} (no answer to ping)", self.label());
            self.drop_connection();
            self.schedule_reconnect();
        }
    }

    fn start_connecting(&mut self) {
        self.set_state(LinkState::Connecting);
        let options = self.options.clone();
        self.connecting = Some(tokio::spawn(async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, open(&options)).await {
                Ok(result) => result,
                Err(_) => Err("timed out".to_owned()),
            }
        }));
    }

    fn on_connect_failed(&mut self, reason: &str) {
        tracing::info!(broker = %self.label(), "Connection failed to broker: {} ({reason})", self.label());
        self.set_state(LinkState::Disconnected);
        self.schedule_reconnect();
    }

    fn schedule_reconnect(&mut self) {
        if !self.wanted {
            return;
        }
        self.reconnect_at = Some(Instant::now() + self.retry_delay);
        self.retry_delay = (self.retry_delay * 2).min(self.options.reconnect_max.max(FIRST_RETRY));
    }

    fn on_open(&mut self, opened: Opened) {
        if !self.wanted {
            // Disconnected while the attempt was under way.
            return;
        }
        tracing::info!(broker = %self.label(), "Connected to broker: {}", self.label());
        self.generation += 1;
        self.retry_delay = FIRST_RETRY;
        let receive_max = opened
            .connack
            .props
            .as_ref()
            .and_then(|p| p.receive_maximum)
            .map_or(DEFAULT_INFLIGHT, usize::from);
        let reader = tokio::spawn(read_loop(
            opened.stream.read,
            opened.leftover,
            self.options.version,
            Arc::clone(&self.dispatch),
            self.control.clone(),
            self.generation,
            self.options.endpoint.is_local(),
        ));
        let keep_alive = Duration::from_secs(u64::from(
            opened
                .connack
                .props
                .as_ref()
                .and_then(|p| p.server_keep_alive)
                .unwrap_or(self.options.keep_alive),
        ));
        let mut live = Live {
            write: opened.stream.write,
            reader,
            version: self.options.version,
            inflight: HashMap::new(),
            released: HashMap::new(),
            receive_max: receive_max.max(1),
            next_pkid: 0,
            requests: HashMap::new(),
            ping_at: Instant::now() + keep_alive,
            pong_due: None,
            keep_alive,
        };
        // Subscriptions are made again whatever the session kept (Node-RED does too).
        let subscriptions: Vec<Arc<Subscription>> = self
            .dispatch
            .subscriptions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, s)| Arc::clone(s))
            .collect();
        if !subscriptions.is_empty() {
            let pkid = live.take_pkid();
            let packet = subscribe_packet(pkid, subscriptions.iter().map(|s| &**s));
            send_request(&mut live, &mut self.write_buf, packet);
        }
        self.live = Some(live);
        self.cursor = Some(Cursor::start(self.outbox.policy().order));
        self.backlog_end = self.outbox.last_id();
        self.replay_tokens = 1.0;
        self.replay_clock = Instant::now();
        self.set_state(LinkState::Connected);
        if let Some(birth) = &self.options.birth {
            self.send(Outgoing {
                publish: birth.clone(),
                receipt: None,
                accepted: None,
                row: None,
            });
        }
    }

    /// Forgets the connection; what was in flight goes to the outbox.
    fn drop_connection(&mut self) {
        let Some(live) = self.live.take() else { return };
        live.reader.abort();
        self.cursor = None;
        let unsent = live
            .inflight
            .into_values()
            .chain(live.released.into_values())
            .chain(self.waiting.drain())
            .chain(self.unflushed.drain(..));
        for outgoing in unsent {
            // Rows already stored are replayed from the outbox.
            if outgoing.row.is_none() {
                self.to_keep.push(outgoing);
            }
        }
        // Unacknowledged, the broker sends those messages again (or, with a clean session,
        // they were never ours).
        self.held_acks.clear();
        self.write_buf.clear();
        self.set_state(LinkState::Disconnected);
    }

    /// The connection is to go down on purpose: close message, DISCONNECT, no reconnect.
    async fn go_offline(&mut self) {
        self.wanted = false;
        self.reconnect_at = None;
        if let Some(attempt) = self.connecting.take() {
            attempt.abort();
        }
        if let Some(live) = &mut self.live {
            if let Some(close) = &self.options.close {
                let mut close = close.clone();
                if close.qos != QoS::AtMostOnce {
                    close.pkid = live.take_pkid();
                }
                encode(&Packet::Publish(close), live.version, &mut self.write_buf);
            }
            encode(
                &Packet::Disconnect(codec::Disconnect {
                    reason: 0,
                    props: None,
                }),
                live.version,
                &mut self.write_buf,
            );
            let bytes = self.write_buf.split();
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                live.write.write_all(&bytes).await?;
                live.write.shutdown().await
            })
            .await;
        }
        self.drop_connection();
    }

    async fn shut_down(&mut self) {
        self.go_offline().await;
        self.end_turn().await;
    }

    /// Sends one batch of stored messages if the connection has room (and the replay rate
    /// allows); true when it sent any.
    async fn replay(&mut self) -> bool {
        let Some(cursor) = self.cursor else {
            return false;
        };
        let Some(live) = &self.live else {
            return false;
        };
        if !live.room() || !self.waiting.is_empty() || self.outbox.is_empty() {
            return false;
        }
        let free = live.receive_max - live.inflight.len() - live.released.len();
        let limit = free.min(REPLAY_BATCH).min(self.replay_allowance());
        if limit == 0 {
            return false;
        }
        let batch = match self.outbox.next(&cursor, limit).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(broker = %self.label(), "Could not read the outbox: {e}");
                return false;
            }
        };
        let Some(last) = batch.last() else {
            return false;
        };
        let mut cursor = cursor;
        cursor.advance(last.id);
        self.cursor = Some(cursor);
        for stored in batch {
            if stored.id <= self.backlog_end {
                self.replay_tokens -= 1.0;
            }
            self.send(Outgoing {
                publish: stored.publish,
                receipt: None,
                accepted: None,
                row: Some(stored.id),
            });
        }
        true
    }

    fn replay_allowance(&mut self) -> usize {
        let rate = self.outbox.policy().replay_rate;
        // LIFO replays the backlog last; FIFO first, up to the row stored before connecting.
        let in_backlog = self.cursor.is_some_and(|c| {
            self.outbox.policy().order == outbox::Order::Lifo || c.position() < self.backlog_end
        });
        if rate <= 0.0 || !in_backlog {
            return usize::MAX;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.replay_clock).as_secs_f64();
        self.replay_clock = now;
        self.replay_tokens = (self.replay_tokens + elapsed * rate).min(rate.max(1.0));
        if self.replay_tokens < 1.0 {
            return 0;
        }
        self.replay_tokens.floor() as usize
    }

    fn replay_blocked_by_rate(&self) -> bool {
        self.outbox.policy().replay_rate > 0.0
            && !self.outbox.is_empty()
            && self.replay_tokens < 1.0
    }

    /// The end of one turn of the loop: write what was encoded, commit the outbox.
    async fn end_turn(&mut self) {
        if !self.write_buf.is_empty() {
            let written = match &mut self.live {
                Some(live) => {
                    let bytes = self.write_buf.split();
                    let keep_alive = live.keep_alive.max(Duration::from_secs(10));
                    match tokio::time::timeout(keep_alive, live.write.write_all(&bytes)).await {
                        Ok(Ok(())) => {
                            live.ping_at = Instant::now() + live.keep_alive;
                            Ok(())
                        }
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("write timed out".to_owned()),
                    }
                }
                None => Ok(()),
            };
            match written {
                Ok(()) => {
                    for sent in self.unflushed.drain(..) {
                        settle(sent, &mut self.acked_rows);
                    }
                }
                Err(reason) => {
                    tracing::info!(broker = %self.label(), "Disconnected from broker: {} ({reason})", self.label());
                    self.drop_connection();
                    self.schedule_reconnect();
                }
            }
        }
        if !self.to_keep.is_empty() {
            let batch = std::mem::take(&mut self.to_keep);
            if let Err(batch) = self.store(batch, false).await {
                self.to_keep = batch;
            }
        }
        if !self.to_store.is_empty() {
            // The caps bound what piles up while the broker is away. Stored while
            // connected, a message is on its way (a durable QoS 1/2 send, or overflow past
            // the in-flight window) and is never dropped.
            let capped = self.live.is_none();
            let batch = std::mem::take(&mut self.to_store);
            if let Err(batch) = self.store(batch, capped).await {
                self.to_store = batch;
            }
        }
        if !self.acked_rows.is_empty() {
            let rows = std::mem::take(&mut self.acked_rows);
            if let Err(e) = self.outbox.remove(&rows).await {
                tracing::error!(broker = %self.label(), "Could not update the outbox: {e}");
            }
            self.queue_changed();
        }
    }

    /// Commits `batch` to the outbox, then releases its messages; hands the batch back
    /// when it could not be stored (it is tried again on the next turn).
    async fn store(&mut self, batch: Vec<Outgoing>, capped: bool) -> Result<(), Vec<Outgoing>> {
        let publishes: Vec<&Publish> = batch.iter().map(|o| &o.publish).collect();
        let result = match self.outbox.push(&publishes, capped).await {
            Ok((ids, pushed)) => {
                self.dropped += pushed.dropped;
                // One warning per interval, with the count, however fast messages drop.
                let now = Instant::now();
                if self.dropped > 0
                    && self
                        .warned_at
                        .is_none_or(|at| now >= at + DROP_WARNING_EVERY)
                {
                    tracing::warn!(broker = %self.label(), "Outbox full: dropped the {} oldest messages.", self.dropped);
                    self.dropped = 0;
                    self.warned_at = Some(now);
                }
                for (mut outgoing, id) in batch.into_iter().zip(ids) {
                    outgoing.row = Some(id);
                    if let Some(accepted) = outgoing.accepted.take() {
                        let _ = accepted.send(());
                    }
                    // The receipt goes: the message is safe on disk.
                    drop(outgoing);
                }
                Ok(())
            }
            Err(e) => {
                // Not stored: kept in memory (receipts unreleased, senders waiting).
                tracing::error!(broker = %self.label(), "Could not store {} messages in the outbox: {e}", batch.len());
                Err(batch)
            }
        };
        self.queue_changed();
        result
    }

    fn set_state(&mut self, state: LinkState) {
        let queued = self.outbox.len();
        self.link_tx.send_if_modified(|link| {
            let changed = link.state != state || link.queued != queued;
            *link = Link { state, queued };
            changed
        });
    }

    /// Shows the outbox count, at most every [`STATUS_REFRESH`].
    fn queue_changed(&mut self) {
        if self.status_at.is_none() {
            self.status_at = Some(Instant::now() + STATUS_REFRESH);
        }
        if self.outbox.is_empty() || self.link_tx.borrow().queued == 0 {
            self.show_queue();
        }
    }

    fn show_queue(&mut self) {
        let queued = self.outbox.len();
        self.link_tx.send_if_modified(|link| {
            let changed = link.queued != queued;
            link.queued = queued;
            changed
        });
    }
}

async fn wait_attempt(
    attempt: &mut Option<Attempt>,
) -> Result<Result<Opened, String>, tokio::task::JoinError> {
    match attempt {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

/// Messages waiting for an in-flight slot, with their memory footprint.
#[derive(Default)]
struct Waiting {
    queue: VecDeque<Outgoing>,
    bytes: usize,
    /// Newer messages go to the outbox since the queue filled (until it empties).
    spilling: bool,
}

impl Waiting {
    fn push_back(&mut self, outgoing: Outgoing) {
        self.bytes += outgoing.footprint();
        self.queue.push_back(outgoing);
    }

    fn pop_front(&mut self) -> Option<Outgoing> {
        let outgoing = self.queue.pop_front()?;
        self.bytes -= outgoing.footprint();
        self.spilling &= !self.queue.is_empty();
        Some(outgoing)
    }

    fn drain(&mut self) -> impl Iterator<Item = Outgoing> + '_ {
        self.bytes = 0;
        self.spilling = false;
        self.queue.drain(..)
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// How often a full outbox is reported.
const DROP_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Done with a message: its row (if any) is to be deleted; receipt and waiter released.
fn settle(mut outgoing: Outgoing, acked_rows: &mut Vec<i64>) {
    if let Some(row) = outgoing.row.take() {
        acked_rows.push(row);
    }
    if let Some(accepted) = outgoing.accepted.take() {
        let _ = accepted.send(());
    }
}

/// Acknowledges an incoming QoS 1 (PUBACK) or QoS 2 (PUBREC) message.
fn encode_ack(pkid: u16, qos: QoS, version: Version, buf: &mut BytesMut) {
    let ack = Ack::new(pkid);
    let packet = match qos {
        QoS::ExactlyOnce => Packet::PubRec(ack),
        _ => Packet::PubAck(ack),
    };
    encode(&packet, version, buf);
}

fn encode(packet: &Packet, version: Version, buf: &mut BytesMut) {
    // Packets we build are valid by construction; a failure is a bug worth a log line,
    // never a crash.
    if let Err(e) = codec::encode(packet, version, buf) {
        tracing::error!("MQTT packet not encoded: {e}");
    }
}

/// Encodes a PUBLISH and hands it back (kept for a resend, never copied).
fn encode_publish(publish: Publish, version: Version, buf: &mut BytesMut) -> Publish {
    let packet = Packet::Publish(publish);
    encode(&packet, version, buf);
    match packet {
        Packet::Publish(publish) => publish,
        _ => unreachable!("built as a PUBLISH above"),
    }
}

fn write_inflight(live: &mut Live, buf: &mut BytesMut, mut outgoing: Outgoing) {
    outgoing.publish.pkid = live.take_pkid();
    outgoing.publish = encode_publish(outgoing.publish, live.version, buf);
    // The message this one came from is acknowledged once this one is on the wire: the
    // actor writes `buf` before it handles the release, and a failed write moves the
    // message to the outbox. Waiting for the broker's PUBACK instead costs every incoming
    // message a round trip, and a broker's in-flight window of 20 then caps a relay at a
    // few hundred messages a second.
    outgoing.receipt = None;
    live.inflight.insert(outgoing.publish.pkid, outgoing);
}

fn send_request(live: &mut Live, buf: &mut BytesMut, packet: Packet) {
    let (pkid, filters) = match &packet {
        Packet::Subscribe(s) => (s.pkid, s.filters.iter().map(|f| f.filter.clone()).collect()),
        Packet::Unsubscribe(u) => (u.pkid, u.filters.clone()),
        _ => return,
    };
    live.requests.insert(pkid, filters);
    encode(&packet, live.version, buf);
}

fn subscribe_packet<'a>(
    pkid: u16,
    subscriptions: impl IntoIterator<Item = &'a Subscription>,
) -> Packet {
    Packet::Subscribe(Subscribe {
        pkid,
        filters: subscriptions
            .into_iter()
            .map(|s| SubscribeFilter {
                filter: s.filter.clone(),
                qos: s.qos,
                no_local: s.no_local,
                retain_as_published: s.retain_as_published,
                retain_handling: s.retain_handling,
            })
            .collect(),
        props: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(payload: &'static [u8]) -> Outgoing {
        let mut publish = Publish::new("bench/out", payload);
        publish.qos = QoS::AtLeastOnce;
        Outgoing {
            publish,
            receipt: None,
            accepted: None,
            row: None,
        }
    }

    #[test]
    fn the_waiting_queue_counts_the_memory_its_messages_take() {
        let mut waiting = Waiting::default();
        waiting.push_back(outgoing(b"small"));
        let one = waiting.bytes;
        assert!(one >= std::mem::size_of::<Outgoing>() + "bench/out".len() + 5);
        waiting.push_back(outgoing(&[0; 1000]));
        assert_eq!(waiting.bytes, one * 2 + 995);
        waiting.spilling = true;
        assert_eq!(
            waiting.pop_front().map(|o| o.publish.payload.len()),
            Some(5)
        );
        assert_eq!(waiting.bytes, one + 995);
        assert!(waiting.spilling, "still full of older messages");
        assert!(waiting.pop_front().is_some());
        assert_eq!(waiting.bytes, 0);
        assert!(
            !waiting.spilling,
            "empty again: new messages may wait in memory"
        );
        waiting.push_back(outgoing(b"x"));
        assert_eq!(waiting.drain().count(), 1);
        assert_eq!(waiting.bytes, 0);
        assert!(waiting.is_empty());
    }

    #[test]
    fn a_burst_of_small_messages_waits_in_memory_rather_than_on_disk() {
        // The bench's burst: about 20,000 messages of ~70 bytes outran the broker's
        // acknowledgements; they must fit, or the burst runs at the disk's pace.
        let message = outgoing(&[b'x'; 70]);
        assert!(message.footprint() * 50_000 < WAITING_MAX_BYTES);
    }
}
