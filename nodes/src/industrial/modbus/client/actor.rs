//! The connection actor: connects, serves the per-unit queues round-robin, matches answers,
//! expires requests, degrades silent units, and reconnects with backoff.

use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::super::frame::Frame;
use super::super::pdu::{Request, Response};
use super::link::{self, Framing, Io};
use super::{CallError, ClientOptions, ClientState, Command, Link, MAX_RECONNECT_DELAY};

const NODE_TYPE: &str = "modbus-client";

type Reply = oneshot::Sender<Result<Response, CallError>>;

struct Pending {
    request: Request,
    reply: Reply,
}

struct InFlight {
    unit: u8,
    request: Request,
    reply: Reply,
    deadline: Instant,
}

/// A unit's recent record, for degradation.
#[derive(Default)]
struct Health {
    consecutive_timeouts: u32,
    suspended_until: Option<Instant>,
    /// The one request let through after a suspension is queued or in flight.
    probing: bool,
}

/// What a call gets while the actor is in a phase.
#[derive(Clone, Copy)]
enum Admit {
    Queue,
    /// Waiting to reconnect: fail at once rather than hold polls that would be stale.
    Refuse,
}

enum Event {
    Read(std::io::Result<usize>),
    Command(Option<Command>),
    Tick,
}

pub(super) struct Actor {
    options: ClientOptions,
    node_id: String,
    framing: Framing,
    one_at_a_time: bool,
    commands: mpsc::UnboundedReceiver<Command>,
    state: watch::Sender<ClientState>,
    queues: HashMap<u8, VecDeque<Pending>>,
    /// Units with queued requests, in the order they get their next turn.
    ready: VecDeque<u8>,
    health: HashMap<u8, Health>,
    /// By transaction id (RTU: only ever the one request, under 0).
    in_flight: HashMap<u16, InFlight>,
    next_transaction: u16,
    /// One at a time: no request goes out before this (`commandDelay`).
    quiet_until: Instant,
    last_error: Option<String>,
    closer: Option<oneshot::Sender<()>>,
}

impl Actor {
    pub(super) fn new(
        options: ClientOptions,
        node_id: String,
        commands: mpsc::UnboundedReceiver<Command>,
        state: watch::Sender<ClientState>,
    ) -> Self {
        let framing = Framing::of(&options.transport);
        Self {
            one_at_a_time: framing == Framing::Rtu || !options.parallel_units,
            framing,
            options,
            node_id,
            commands,
            state,
            queues: HashMap::new(),
            ready: VecDeque::new(),
            health: HashMap::new(),
            in_flight: HashMap::new(),
            next_transaction: 1,
            quiet_until: Instant::now(),
            last_error: None,
            closer: None,
        }
    }

    pub(super) async fn run(mut self) {
        let mut delay = self.options.reconnect_delay.min(MAX_RECONNECT_DELAY);
        let transport = self.options.transport.clone();
        loop {
            self.set_link(Link::Connecting);
            let opened = {
                let open = link::open(&transport, self.options.timeout, self.options.open_delay);
                tokio::pin!(open);
                loop {
                    tokio::select! {
                        opened = &mut open => break Some(opened),
                        command = self.commands.recv() => {
                            if self.command(command, Admit::Queue).is_break() {
                                break None;
                            }
                        }
                    }
                }
            };
            let Some(opened) = opened else {
                return self.shut_down();
            };
            let error = match opened {
                Ok(io) => {
                    tracing::info!(node_id = %self.node_id, node_type = NODE_TYPE, transport = %transport, "connected");
                    delay = self.options.reconnect_delay.min(MAX_RECONNECT_DELAY);
                    self.set_link(Link::Connected);
                    match self.serve(io).await {
                        Ok(()) => return self.shut_down(),
                        Err(error) => error,
                    }
                }
                Err(error) => error,
            };
            // One warning per distinct failure: a device that stays away is not a log flood.
            if self.last_error.as_ref() != Some(&error) {
                tracing::warn!(node_id = %self.node_id, node_type = NODE_TYPE, transport = %transport, %error, "connection failed");
            }
            self.last_error = Some(error.clone());
            self.set_link(Link::Disconnected);
            self.fail_all(&CallError::NotConnected(error));
            // Jitter keeps many clients of one restarted gateway from reconnecting in step.
            let until = Instant::now() + delay.mul_f64(1.0 + fastrand::f64() * 0.1);
            delay = (delay * 2).min(MAX_RECONNECT_DELAY);
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => break,
                    command = self.commands.recv() => {
                        if self.command(command, Admit::Refuse).is_break() {
                            return self.shut_down();
                        }
                    }
                }
            }
        }
    }

    fn set_link(&self, link: Link) {
        self.state.send_replace(ClientState {
            link,
            last_error: self.last_error.clone(),
        });
    }

    fn shut_down(mut self) {
        self.fail_all(&CallError::Closed);
        self.set_link(Link::Closed);
        if let Some(closer) = self.closer.take() {
            let _ = closer.send(());
        }
    }

    /// Takes a command; `Break` when the client is closed or every handle is gone.
    fn command(&mut self, command: Option<Command>, admit: Admit) -> ControlFlow<()> {
        match command {
            None => ControlFlow::Break(()),
            Some(Command::Close(done)) => {
                self.closer = Some(done);
                ControlFlow::Break(())
            }
            Some(Command::Call {
                unit,
                request,
                reply,
            }) => {
                match admit {
                    Admit::Queue => self.enqueue(unit, request, reply),
                    Admit::Refuse => {
                        let error = self.last_error.clone().unwrap_or_default();
                        let _ = reply.send(Err(CallError::NotConnected(error)));
                    }
                }
                ControlFlow::Continue(())
            }
        }
    }

    fn enqueue(&mut self, unit: u8, request: Request, reply: Reply) {
        let health = self.health.entry(unit).or_default();
        if let Some(until) = health.suspended_until {
            if Instant::now() < until || health.probing {
                let _ = reply.send(Err(CallError::Suspended { unit }));
                return;
            }
            health.probing = true;
        }
        let queue = self.queues.entry(unit).or_default();
        if queue.len() >= self.options.queue_limit {
            let _ = reply.send(Err(CallError::QueueFull { unit }));
            return;
        }
        if queue.is_empty() {
            self.ready.push_back(unit);
        }
        queue.push_back(Pending { request, reply });
    }

    /// Serves a connection until it is lost (`Err` with why) or the client closes (`Ok`).
    async fn serve(&mut self, mut io: Box<dyn Io>) -> Result<(), String> {
        let mut input = BytesMut::with_capacity(512);
        let mut output = BytesMut::with_capacity(512);
        loop {
            self.dispatch(&mut io, &mut input, &mut output).await?;
            let deadline = self.in_flight.values().map(|f| f.deadline).min();
            let pause = (self.one_at_a_time && self.in_flight.is_empty() && !self.ready.is_empty())
                .then_some(self.quiet_until);
            let wake = deadline.or(pause);
            let event = tokio::select! {
                read = io.read_buf(&mut input) => Event::Read(read),
                command = self.commands.recv() => Event::Command(command),
                () = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => Event::Tick,
            };
            match event {
                Event::Read(Ok(0)) => return Err("connection closed by the device".into()),
                Event::Read(Err(e)) => return Err(format!("read failed: {e}")),
                Event::Read(Ok(_)) => self.take_answers(&mut input)?,
                Event::Command(command) => {
                    if self.command(command, Admit::Queue).is_break() {
                        return Ok(());
                    }
                }
                Event::Tick => self.expire(),
            }
        }
    }

    /// Sends what may go now: one request per idle unit, or one request in all when they
    /// go one at a time.
    async fn dispatch(
        &mut self,
        io: &mut Box<dyn Io>,
        input: &mut BytesMut,
        output: &mut BytesMut,
    ) -> Result<(), String> {
        if self.one_at_a_time {
            if !self.in_flight.is_empty() || Instant::now() < self.quiet_until {
                return Ok(());
            }
            if let Some(unit) = self.ready.pop_front() {
                // RTU has no transaction id: whatever is buffered belongs to an earlier,
                // timed-out request and must not be read as this one's answer.
                if self.framing == Framing::Rtu {
                    input.clear();
                }
                self.send(unit, io, output).await?;
            }
            return Ok(());
        }
        for _ in 0..self.ready.len() {
            let Some(unit) = self.ready.pop_front() else {
                break;
            };
            if self.in_flight.values().any(|f| f.unit == unit) {
                self.ready.push_back(unit);
            } else {
                self.send(unit, io, output).await?;
            }
        }
        Ok(())
    }

    /// Sends the head of `unit`'s queue (which is not empty: the unit was ready).
    async fn send(
        &mut self,
        unit: u8,
        io: &mut Box<dyn Io>,
        output: &mut BytesMut,
    ) -> Result<(), String> {
        let Some(queue) = self.queues.get_mut(&unit) else {
            return Ok(());
        };
        let Some(Pending { request, reply }) = queue.pop_front() else {
            return Ok(());
        };
        if !queue.is_empty() {
            self.ready.push_back(unit);
        }
        let transaction = match self.framing {
            Framing::Rtu => 0,
            Framing::Mbap => loop {
                let id = self.next_transaction;
                self.next_transaction = id.wrapping_add(1);
                if !self.in_flight.contains_key(&id) {
                    break id;
                }
            },
        };
        output.clear();
        self.framing.encode(transaction, unit, &request, output);
        // In flight before the write, so a failed write fails this call with the rest.
        self.in_flight.insert(
            transaction,
            InFlight {
                unit,
                request,
                reply,
                deadline: Instant::now() + self.options.timeout,
            },
        );
        match tokio::time::timeout(self.options.timeout, io.write_all(output)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write failed: {e}")),
            Err(_) => Err("write timed out".into()),
        }
    }

    fn take_answers(&mut self, input: &mut BytesMut) -> Result<(), String> {
        loop {
            if self.framing == Framing::Rtu && self.in_flight.is_empty() {
                // Late bytes of a timed-out request (or noise): nobody is waiting for them.
                input.clear();
                return Ok(());
            }
            match self.framing.decode(input) {
                Ok(None) => return Ok(()),
                Ok(Some(frame)) => self.answer(frame),
                Err(e) => return Err(format!("framing error: {e}")),
            }
        }
    }

    fn answer(&mut self, frame: Frame) {
        let Some(flight) = self.in_flight.get(&frame.transaction) else {
            tracing::debug!(node_id = %self.node_id, node_type = NODE_TYPE, transaction = frame.transaction, "answer to no outstanding request dropped");
            return;
        };
        // RTU answers carry only the unit to tell them apart; over MBAP the transaction id
        // decides, as some TCP devices answer with another unit id than they were asked.
        if self.framing == Framing::Rtu && flight.unit != frame.unit {
            tracing::debug!(node_id = %self.node_id, node_type = NODE_TYPE, unit = frame.unit, "answer from another unit dropped");
            return;
        }
        let Some(flight) = self.in_flight.remove(&frame.transaction) else {
            return;
        };
        let result = match flight.request.decode_response(&frame.pdu) {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(exception)) => Err(CallError::Exception(exception)),
            Err(e) => Err(CallError::BadResponse(e)),
        };
        // Any answer, an exception included, shows the unit is alive.
        self.health.insert(flight.unit, Health::default());
        let _ = flight.reply.send(result);
        if self.one_at_a_time {
            self.quiet_until = Instant::now() + self.options.command_delay;
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        let expired: Vec<u16> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        if expired.is_empty() {
            return;
        }
        for id in expired {
            if let Some(flight) = self.in_flight.remove(&id) {
                let _ = flight
                    .reply
                    .send(Err(CallError::Timeout(self.options.timeout)));
                self.timed_out(flight.unit, now);
            }
        }
        if self.one_at_a_time {
            // A late answer may still come: the pause lets it arrive while nothing is in
            // flight, so it is discarded instead of read as the next request's answer.
            self.quiet_until = now + self.options.command_delay;
        }
    }

    fn timed_out(&mut self, unit: u8, now: Instant) {
        let health = self.health.entry(unit).or_default();
        health.consecutive_timeouts += 1;
        let degrade = self.options.degrade_after > 0
            && (health.probing || health.consecutive_timeouts >= self.options.degrade_after);
        if !degrade {
            return;
        }
        health.suspended_until = Some(now + self.options.degrade_for);
        health.probing = false;
        tracing::warn!(node_id = %self.node_id, node_type = NODE_TYPE, unit, timeouts = health.consecutive_timeouts, "unit suspended after repeated timeouts");
        if let Some(queue) = self.queues.remove(&unit) {
            for pending in queue {
                let _ = pending.reply.send(Err(CallError::Suspended { unit }));
            }
        }
        self.ready.retain(|&u| u != unit);
    }

    fn fail_all(&mut self, error: &CallError) {
        for (_, flight) in self.in_flight.drain() {
            let _ = flight.reply.send(Err(error.clone()));
        }
        for (_, queue) in self.queues.drain() {
            for pending in queue {
                let _ = pending.reply.send(Err(error.clone()));
            }
        }
        self.ready.clear();
        // A probe that never went out proves nothing: the next call after the pause probes.
        for health in self.health.values_mut() {
            health.probing = false;
        }
    }
}
