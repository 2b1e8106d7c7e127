//! `delay` — mirrors Node-RED `@node-red/nodes/core/function/89-delay.js`.
//!
//! Config (missing keys take the editor's defaults):
//! * `pauseType` — `delay` (fixed), `delayv` (`msg.delay` overrides), `random`, `rate` (rate
//!   limit all messages), `queue` (one topic per tick, fair), `timed` (latest msg of every
//!   topic each tick) or `burst` (at most `rate` msgs per window). Another value is a
//!   deploy error (Node-RED silently installs no input handler then).
//! * `timeout` ("5") + `timeoutUnits` (`milliseconds|seconds|minutes|hours|days`).
//! * `rate` ("1") per `nbRateUnits` ("1") × `rateUnits` (`second|minute|hour|day`): the rate
//!   modes release one message every `unit / rate × nbRateUnits` ms; `burst` lets `rate`
//!   messages through per `nbRateUnits × unit` window.
//! * `randomFirst` ("1") / `randomLast` ("5") + `randomUnits`.
//! * `drop` (false): in `rate` mode drop messages arriving too soon instead of queueing them.
//! * `allowrate` (false): `msg.rate` (ms) changes the rate of `rate`, `queue` and `timed`.
//! * `outputs` (1): 2 sends dropped (or replaced, for `queue`/`timed`) messages to output 2.
//!
//! Reads: `msg.delay` (`delayv`, ms, parsed like `parseFloat`; negative → 0), `msg.rate`,
//! `msg.topic` (`queue`/`timed`; written as `"_none_"` when missing), and the control
//! properties `msg.reset` (discard what is held, no output), `msg.flush` (release held
//! messages now; a number releases that many) and `msg.toFront` (`rate`: queue at the
//! head). A message holding only `flush` (besides `_msgid`) is control only; any other
//! message is held like the rest and released by its own flush. In the rate modes the
//! released copies lose `flush` and `reset`.
//!
//! Status: held count as a blue dot (`delay` above 1 s, `delayv` always, `random` when
//! `timeout` is at least 1 s), a blue ring `0` after a reset; rate modes report the queue
//! depth at most every 500 ms; `queue`/`timed` show `reset`; `burst` is a green ring while
//! messages pass and a red dot while it drops. Cleared on close.
//!
//! Completion (`done()`, what Complete nodes watching the delay see): a message the node
//! holds completes when it leaves: after it is sent by its timer, the rate tick or a flush,
//! when a reset or close clears it, when a newer message of its topic replaces it
//! (`queue`/`timed`, after it went to output 2) or when the rate queue overflows. A message
//! that is sent, dropped or only controls the node completes when it is handled. Each
//! message completes once: Node-RED calls `done()` a second time for a message carrying
//! `flush` (right away, and again when it leaves), and never for what a reset or overflow
//! clears from the `rate` queue (though it does on close); here those complete as they go.
//!
//! Settings: `nodeMessageBufferMaxLength` bounds the `rate` queue: a message arriving
//! when it is full discards the queue and is reported as "too many pending messages in
//! delay node" (catchable, with the message).
//!
//! Deviations: a `msg.rate` change in `queue`/`timed` keeps
//! the mode's own tick (Node-RED switches to the `rate` tick, which stops for good once the
//! queue empties), a reset there also restores the configured tick, and a `flush` count
//! larger than the queue releases what there is (Node-RED throws).
//! Delays beyond 24.8 days wait as set, up to about 2.2 years (Node.js fires them after
//! 1 ms).

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use ferrite_runtime::loose::{json_bool, json_f64};
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, Event, Msg, Node, NodeCtx, NodeDef, NodeError, Role, Status,
    TimerId, Value, async_trait,
};
use serde_json::{Map, Value as Json};

pub const DEF: NodeDef = NodeDef {
    type_name: "delay",
    category: "function",
    set_id: "node-red/delay",
    role: Role::Plain,
    build: Build::Flow(build),
};

/// Node-RED's `delay.errors.too-many`.
const TOO_MANY: &str = "too many pending messages in delay node";
/// The queue depth shown in the status is refreshed at most this often.
const DEPTH_REPORT: Duration = Duration::from_millis(500);
/// The topic `queue`/`timed` give messages without one.
const NO_TOPIC: &str = "_none_";
/// Longest wait honoured: tokio's documented maximum sleep (about 2.2 years). Node.js
/// timers stop at 2^31-1 ms (24.8 days) and fire anything longer after 1 ms, which is not
/// what anyone setting a 30-day delay wants.
const TIMER_MAX_MS: f64 = 68_719_476_734.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pause {
    Delay,
    DelayV,
    Random,
    Rate,
    Queue,
    Timed,
    Burst,
}

struct Delay {
    pause: Pause,
    timeout_ms: f64,
    random_first_ms: f64,
    random_span_ms: f64,
    /// The configured interval of the rate modes; `msg.rate` may change `rate_ms` for a while.
    fixed_rate_ms: f64,
    rate_ms: f64,
    /// `burst`: window length and messages allowed per window.
    window_ms: f64,
    burst: f64,
    drop: bool,
    allow_rate: bool,
    second_output: bool,
    /// `nodeMessageBufferMaxLength`: the longest the `rate` queue may grow.
    max_kept: Option<usize>,

    /// `delay` / `delayv` / `random`: messages waiting for their time.
    held: Held,
    /// `rate` / `queue` / `timed`: the queue, released on `interval` ticks.
    buffer: VecDeque<Msg>,
    interval: Option<TimerId>,
    depth_timer: Option<TimerId>,
    /// `rate` with `drop`: when the last message went out.
    last_sent: Option<Instant>,
    /// `burst`: one timer per message let through in the current windows.
    windows: HashSet<TimerId>,
    rng: u64,
}

fn build(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let raw = cx.raw();
    let pause = match text(raw, "pauseType", "delay").as_str() {
        "delay" => Pause::Delay,
        "delayv" => Pause::DelayV,
        "random" => Pause::Random,
        "rate" => Pause::Rate,
        "queue" => Pause::Queue,
        "timed" => Pause::Timed,
        "burst" => Pause::Burst,
        other => {
            return Err(ConfigError::field(
                "pauseType",
                format!("unknown pause type '{other}'"),
            ));
        }
    };

    let timeout_ms = number(raw, "timeout", 5.0) * duration_unit(&text(raw, "timeoutUnits", ""));
    let random_unit = duration_unit(&text(raw, "randomUnits", ""));
    let random_first_ms = number(raw, "randomFirst", 1.0) * random_unit;
    let random_last_ms = number(raw, "randomLast", 5.0) * random_unit;

    let rate_unit = match text(raw, "rateUnits", "second").as_str() {
        "minute" => 60_000.0,
        "hour" => 3_600_000.0,
        "day" => 86_400_000.0,
        _ => 1_000.0,
    };
    let rate = number(raw, "rate", 1.0);
    let nb_units = number(raw, "nbRateUnits", 1.0);
    let rate_ms = rate_unit / rate * if nb_units > 0.0 { nb_units } else { 1.0 };

    Ok(Box::new(Delay {
        pause,
        timeout_ms,
        random_first_ms,
        random_span_ms: random_last_ms - random_first_ms,
        fixed_rate_ms: rate_ms,
        rate_ms,
        window_ms: nb_units * rate_unit,
        burst: rate,
        drop: raw.get("drop").is_some_and(json_bool),
        allow_rate: raw.get("allowrate").is_some_and(json_bool),
        second_output: raw.get("outputs").and_then(json_f64) == Some(2.0),
        max_kept: cx.settings().message_buffer_limit(),
        held: Held::default(),
        buffer: VecDeque::new(),
        interval: None,
        depth_timer: None,
        last_sent: None,
        windows: HashSet::new(),
        rng: RandomState::new().hash_one(cx.id()) | 1,
    }))
}

/// A config string; numbers and booleans as their text.
fn text(raw: &Map<String, Json>, key: &str, default: &str) -> String {
    match raw.get(key) {
        None | Some(Json::Null) => default.to_owned(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A config number as JavaScript's `n.key * 1` gives it: missing takes the editor default,
/// `""` is 0 and text that is no number is NaN.
fn number(raw: &Map<String, Json>, key: &str, default: f64) -> f64 {
    match raw.get(key) {
        None | Some(Json::Null) => default,
        Some(Json::String(s)) if s.trim().is_empty() => 0.0,
        Some(v) => json_f64(v).unwrap_or(f64::NAN),
    }
}

/// Milliseconds per `timeoutUnits` / `randomUnits` value (seconds unless named).
fn duration_unit(unit: &str) -> f64 {
    match unit {
        "milliseconds" => 1.0,
        "minutes" => 60_000.0,
        "hours" => 3_600_000.0,
        "days" => 86_400_000.0,
        _ => 1_000.0,
    }
}

/// How long a timer set to `ms` waits: as in Node.js, NaN, Infinity and anything below
/// 1 ms wait 1 ms.
pub(crate) fn timer_duration(ms: f64) -> Duration {
    if ms.is_finite() && ms >= 1.0 {
        Duration::from_secs_f64(ms.min(TIMER_MAX_MS) / 1_000.0)
    } else {
        Duration::from_millis(1)
    }
}

/// How many held messages a `msg.flush` releases: a number → that many (floored), anything
/// else → all.
fn flush_count(flush: &Value, held: usize) -> usize {
    match flush {
        Value::Int(_) | Value::Float(_) => {
            let n = flush.as_f64().unwrap_or(f64::NAN).floor();
            if n >= 1.0 {
                // Saturating float-to-int cast; `held` bounds it anyway.
                (n as usize).min(held)
            } else {
                0
            }
        }
        _ => held,
    }
}

/// A message with nothing but `flush` (and its id) only controls the node.
fn is_flush_only(msg: &Msg) -> bool {
    msg.get("flush").is_some() && msg.map().keys().all(|k| k == "flush" || k == "_msgid")
}

fn count_status(fill_dot: usize) -> Status {
    Status::dot("blue", fill_dot.to_string())
}

/// Sends a held message on `port`, then completes it: Node-RED calls `done()` after `send`.
async fn release(cx: &mut NodeCtx, port: usize, msg: Msg) {
    // A pointer copy for `done`, only when a Complete node watches: while it lives, a
    // downstream node changing the message would have to copy it.
    let copy = cx.watched_by_complete().then(|| msg.clone());
    cx.send_to(port, msg).await;
    if let Some(copy) = copy {
        cx.done(&copy).await;
    }
}

/// Completes messages the node discards without sending them.
async fn complete_all(cx: &mut NodeCtx, msgs: impl IntoIterator<Item = Msg>) {
    for msg in msgs {
        cx.done(&msg).await;
    }
}

/// Messages held by the fixed, variable and random delays: in arrival order (what a flush
/// releases first) and by due time, with one timer armed for the earliest.
#[derive(Default)]
struct Held {
    next_seq: u64,
    by_seq: BTreeMap<u64, (Instant, Msg)>,
    by_due: BTreeSet<(Instant, u64)>,
    timer: Option<(TimerId, Instant)>,
}

impl Held {
    fn len(&self) -> usize {
        self.by_seq.len()
    }

    fn push(&mut self, due: Instant, msg: Msg) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_seq.insert(seq, (due, msg));
        self.by_due.insert((due, seq));
    }

    /// The first `n` messages that arrived, in arrival order.
    fn take_first(&mut self, n: usize) -> Vec<Msg> {
        let mut out = Vec::with_capacity(n.min(self.len()));
        while out.len() < n {
            let Some((seq, (due, msg))) = self.by_seq.pop_first() else {
                break;
            };
            self.by_due.remove(&(due, seq));
            out.push(msg);
        }
        out
    }

    /// Every message due by `now`, earliest first (arrival order among equals).
    fn take_due(&mut self, now: Instant) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(&(due, seq)) = self.by_due.first() {
            if due > now {
                break;
            }
            self.by_due.pop_first();
            if let Some((_, msg)) = self.by_seq.remove(&seq) {
                out.push(msg);
            }
        }
        out
    }

    /// Every held message, in arrival order.
    fn drain(&mut self) -> Vec<Msg> {
        self.by_due.clear();
        std::mem::take(&mut self.by_seq)
            .into_values()
            .map(|(_, msg)| msg)
            .collect()
    }

    /// Keeps one timer armed for the earliest due message.
    fn rearm(&mut self, cx: &mut NodeCtx) {
        let earliest = self.by_due.first().map(|&(due, _)| due);
        if self.timer.map(|(_, due)| due) == earliest {
            return;
        }
        if let Some((id, _)) = self.timer.take() {
            cx.cancel_timer(id);
        }
        if let Some(due) = earliest {
            let wait = due.saturating_duration_since(Instant::now());
            self.timer = Some((cx.after(wait), due));
        }
    }
}

impl Delay {
    /// A uniform random number in [0, 1) (xorshift; the delay needs no more than that).
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    fn restart_interval(&mut self, cx: &mut NodeCtx) {
        if let Some(id) = self.interval.take() {
            cx.cancel_timer(id);
        }
        self.interval = Some(cx.every(timer_duration(self.rate_ms)));
    }

    fn stop_interval(&mut self, cx: &mut NodeCtx) {
        if let Some(id) = self.interval.take() {
            cx.cancel_timer(id);
        }
    }

    /// Node-RED's `reportDepth`: the queue length, shown once the 500 ms debounce ends.
    fn report_depth(&mut self, cx: &mut NodeCtx) {
        if self.depth_timer.is_none() {
            self.depth_timer = Some(cx.after(DEPTH_REPORT));
        }
    }

    /// `msg.rate` when `allowrate` is on and it parses as a number.
    fn rate_override(&self, msg: &Msg) -> Option<f64> {
        if self.allow_rate {
            msg.get("rate").and_then(Value::parse_float)
        } else {
            None
        }
    }

    /// Whether the hold modes show the held count on the status.
    fn shows_count(&self) -> bool {
        match self.pause {
            Pause::Delay => self.timeout_ms > 1_000.0,
            Pause::DelayV => true,
            _ => self.timeout_ms >= 1_000.0,
        }
    }

    async fn hold_input(&mut self, msg: Msg, cx: &mut NodeCtx) {
        let wait = match self.pause {
            Pause::DelayV => {
                let wait = msg
                    .get("delay")
                    .and_then(Value::parse_float)
                    .unwrap_or(self.timeout_ms);
                wait.max(0.0)
            }
            Pause::Random => self.random_first_ms + self.random_span_ms * self.random(),
            _ => self.timeout_ms,
        };
        let reset = msg.get("reset").is_some();
        let flush = msg.get("flush").cloned();
        // Done is explicit here: a flush sends other messages while handling this one.
        cx.defer_done();
        if is_flush_only(&msg) {
            cx.done(&msg).await;
        } else {
            self.held.push(Instant::now() + timer_duration(wait), msg);
        }
        // The fixed delay treats reset and flush as alternatives; the others do both.
        if reset {
            let cleared = self.held.drain();
            complete_all(cx, cleared).await;
            cx.status(Status::ring("blue", "0")).await;
        }
        if let Some(flush) = flush.filter(|_| !(reset && self.pause == Pause::Delay)) {
            let n = flush_count(&flush, self.held.len());
            for out in self.held.take_first(n) {
                release(cx, 0, out).await;
            }
            cx.status(count_status(self.held.len())).await;
        } else if self.shows_count() && !(reset && self.pause == Pause::Delay) {
            cx.status(count_status(self.held.len())).await;
        }
        self.held.rearm(cx);
    }

    async fn hold_timer(&mut self, cx: &mut NodeCtx) {
        self.held.timer = None;
        for out in self.held.take_due(Instant::now()) {
            release(cx, 0, out).await;
            if self.shows_count() {
                cx.status(count_status(self.held.len())).await;
            }
        }
        self.held.rearm(cx);
    }

    async fn rate_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if !self.drop {
            return self.queue_rate_input(msg, cx).await;
        }
        let reset = msg.get("reset").is_some();
        let flush = msg.get("flush").is_some();
        if reset {
            self.reset_rate(flush, cx).await;
            return Ok(());
        }
        if let Some(rate) = self.rate_override(&msg) {
            self.rate_ms = rate;
        }
        let now = Instant::now();
        let due = self
            .last_sent
            .is_none_or(|last| now.duration_since(last).as_secs_f64() * 1_000.0 > self.rate_ms);
        if due {
            self.last_sent = Some(now);
            cx.send(msg).await;
        } else if self.second_output {
            cx.send_to(1, msg).await;
        }
        Ok(())
    }

    async fn queue_rate_input(&mut self, msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let reset = msg.get("reset").is_some();
        let flush = msg.get("flush").cloned();
        let to_front = matches!(msg.get("toFront"), Some(Value::Bool(true)));
        let mut error = None;
        // A message with nothing but `flush` (and its id) only controls the queue; it
        // completes after what it releases, so its done is explicit.
        let mut control = None;
        if msg.map().len().saturating_sub(usize::from(flush.is_some())) > 1 {
            let mut m = msg;
            m.remove("flush");
            let rate = self.rate_override(&m);
            if self.interval.is_some() {
                if let Some(rate) = rate.filter(|r| *r != self.rate_ms) {
                    self.rate_ms = rate;
                    self.restart_interval(cx);
                }
                if self.max_kept.is_some_and(|max| self.buffer.len() >= max) {
                    let dropped = std::mem::take(&mut self.buffer);
                    complete_all(cx, dropped).await;
                    error = Some(NodeError::new(TOO_MANY).for_msg(m));
                } else {
                    if to_front {
                        self.buffer.push_front(m);
                    } else {
                        self.buffer.push_back(m);
                    }
                    cx.defer_done();
                    self.report_depth(cx);
                }
            } else {
                if let Some(rate) = rate {
                    self.rate_ms = rate;
                }
                if !reset {
                    // Sent at once: the runtime completes it when this returns.
                    cx.send(m).await;
                } else if flush.is_some() {
                    self.buffer.push_back(m);
                    cx.defer_done();
                }
                self.report_depth(cx);
                self.restart_interval(cx);
            }
        } else {
            cx.defer_done();
            control = Some(msg);
        }
        if let Some(flush) = &flush {
            let n = flush_count(flush, self.buffer.len());
            if n == 0 {
                self.stop_interval(cx);
            } else {
                for _ in 0..n {
                    let Some(mut out) = self.buffer.pop_front() else {
                        break;
                    };
                    out.remove("flush");
                    out.remove("reset");
                    if out.map().len() > 1 {
                        release(cx, 0, out).await;
                    } else {
                        cx.done(&out).await;
                    }
                }
                self.restart_interval(cx);
            }
            cx.status(count_status(self.buffer.len())).await;
        }
        if reset {
            self.reset_rate(flush.is_some(), cx).await;
        }
        if let Some(control) = control {
            cx.done(&control).await;
        }
        error.map_or(Ok(()), Err)
    }

    /// `msg.reset` in `rate` mode: the queue is discarded; without a flush in the same
    /// message the interval stops and the next message passes at once.
    async fn reset_rate(&mut self, with_flush: bool, cx: &mut NodeCtx) {
        if !with_flush {
            self.stop_interval(cx);
            self.last_sent = None;
        }
        let cleared = std::mem::take(&mut self.buffer);
        complete_all(cx, cleared).await;
        self.rate_ms = self.fixed_rate_ms;
        cx.status(Status::ring("blue", "0")).await;
    }

    /// A tick of the `rate` interval: one message out, or stop once the queue is empty.
    async fn rate_tick(&mut self, cx: &mut NodeCtx) {
        match self.buffer.pop_front() {
            None => self.stop_interval(cx),
            Some(out) if out.map().len() > 1 => release(cx, 0, out).await,
            Some(out) => cx.done(&out).await,
        }
        self.report_depth(cx);
    }

    async fn topic_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) {
        if let Some(rate) = self.rate_override(&msg).filter(|r| *r != self.rate_ms) {
            self.rate_ms = rate;
            self.restart_interval(cx);
        }
        if msg.get("topic").is_none() {
            msg.insert("topic", NO_TOPIC);
        }
        let reset = msg.get("reset").is_some();
        let flush = msg.get("flush").cloned();
        // Always queued (or replacing): done when it leaves the queue.
        cx.defer_done();
        let topic = msg.get("topic");
        match self.buffer.iter().position(|q| q.get("topic") == topic) {
            Some(i) => {
                if let Some(slot) = self.buffer.get_mut(i) {
                    let replaced = std::mem::replace(slot, msg);
                    if self.second_output {
                        release(cx, 1, replaced).await;
                    } else {
                        cx.done(&replaced).await;
                    }
                }
            }
            None => {
                self.buffer.push_back(msg);
                self.report_depth(cx);
            }
        }
        if let Some(flush) = &flush {
            let n = flush_count(flush, self.buffer.len());
            for _ in 0..n {
                let Some(mut out) = self.buffer.pop_front() else {
                    break;
                };
                out.remove("flush");
                out.remove("reset");
                // More than `_msgid` and `topic`.
                if out.map().len() > 2 {
                    release(cx, 0, out).await;
                } else {
                    cx.done(&out).await;
                }
            }
            cx.status(Status::clear()).await;
        }
        if reset {
            let cleared = std::mem::take(&mut self.buffer);
            complete_all(cx, cleared).await;
            if self.rate_ms != self.fixed_rate_ms {
                self.rate_ms = self.fixed_rate_ms;
                self.restart_interval(cx);
            }
            cx.status(Status::text("reset")).await;
        }
    }

    async fn topic_tick(&mut self, cx: &mut NodeCtx) {
        if self.pause == Pause::Queue {
            if let Some(out) = self.buffer.pop_front() {
                release(cx, 0, out).await;
            }
        } else {
            while let Some(out) = self.buffer.pop_front() {
                release(cx, 0, out).await;
            }
        }
        self.report_depth(cx);
    }

    async fn burst_input(&mut self, msg: Msg, cx: &mut NodeCtx) {
        if msg.get("reset").is_some() {
            for id in self.windows.drain() {
                cx.cancel_timer(id);
            }
            cx.status(Status::ring("green", "")).await;
            return;
        }
        if (self.windows.len() as f64) < self.burst {
            cx.send(msg).await;
            self.windows
                .insert(cx.after(timer_duration(self.window_ms)));
        } else {
            if self.second_output {
                cx.send_to(1, msg).await;
            }
            cx.status(Status::dot("red", "")).await;
        }
    }

    async fn burst_window_ended(&mut self, id: TimerId, cx: &mut NodeCtx) {
        if (self.windows.len() as f64) >= self.burst {
            cx.status(Status::ring("green", "")).await;
        }
        self.windows.remove(&id);
    }
}

#[async_trait]
impl Node for Delay {
    async fn on_start(&mut self, cx: &mut NodeCtx) -> Result<(), NodeError> {
        match self.pause {
            Pause::Queue | Pause::Timed => self.restart_interval(cx),
            Pause::Burst => cx.status(Status::ring("green", "")).await,
            _ => {}
        }
        Ok(())
    }

    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        msg.release_receipt();
        match self.pause {
            Pause::Delay | Pause::DelayV | Pause::Random => self.hold_input(msg, cx).await,
            Pause::Rate => return self.rate_input(msg, cx).await,
            Pause::Queue | Pause::Timed => self.topic_input(msg, cx).await,
            Pause::Burst => self.burst_input(msg, cx).await,
        }
        Ok(())
    }

    async fn on_event(&mut self, event: Event, cx: &mut NodeCtx) -> Result<(), NodeError> {
        let Event::Timer(id) = event else {
            return Ok(());
        };
        if self.held.timer.is_some_and(|(t, _)| t == id) {
            cx.timer_fired(id);
            self.hold_timer(cx).await;
        } else if self.interval == Some(id) {
            if self.pause == Pause::Rate {
                self.rate_tick(cx).await;
            } else {
                self.topic_tick(cx).await;
            }
        } else if self.depth_timer == Some(id) {
            cx.timer_fired(id);
            self.depth_timer = None;
            cx.status(count_status(self.buffer.len())).await;
        } else if self.windows.contains(&id) {
            cx.timer_fired(id);
            self.burst_window_ended(id, cx).await;
        }
        // Anything else is a tick of a timer cancelled after it fired.
        Ok(())
    }

    async fn on_close(&mut self, _removed: bool, cx: &mut NodeCtx) {
        // Node-RED completes what the node still holds when it closes.
        let held = self.held.drain();
        complete_all(cx, held).await;
        let queued = std::mem::take(&mut self.buffer);
        complete_all(cx, queued).await;
        cx.status(Status::clear()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_counts_numbers_and_releases_all_otherwise() {
        assert_eq!(flush_count(&Value::Bool(true), 4), 4);
        assert_eq!(flush_count(&Value::Bool(false), 4), 4);
        assert_eq!(flush_count(&Value::Int(2), 4), 2);
        assert_eq!(flush_count(&Value::Float(2.9), 4), 2);
        assert_eq!(flush_count(&Value::Int(9), 4), 4);
        assert_eq!(flush_count(&Value::Int(-1), 4), 0);
        assert_eq!(flush_count(&Value::Float(f64::NAN), 4), 0);
    }

    #[test]
    fn timers_follow_node_js_limits() {
        assert_eq!(timer_duration(0.0), Duration::from_millis(1));
        assert_eq!(timer_duration(f64::NAN), Duration::from_millis(1));
        assert_eq!(timer_duration(f64::INFINITY), Duration::from_millis(1));
        assert_eq!(timer_duration(250.0), Duration::from_millis(250));
        assert_eq!(
            timer_duration(30.0 * 86_400_000.0),
            Duration::from_secs(30 * 86_400)
        );
        let longest = timer_duration(1e300).as_secs_f64() * 1_000.0;
        assert!((longest - TIMER_MAX_MS).abs() < 1.0, "{longest}");
    }

    #[test]
    fn held_messages_leave_by_due_time_and_flush_by_arrival() {
        let mut held = Held::default();
        let now = Instant::now();
        held.push(now + Duration::from_millis(30), Msg::with_payload(1));
        held.push(now + Duration::from_millis(10), Msg::with_payload(2));
        held.push(now + Duration::from_millis(20), Msg::with_payload(3));
        let due = held.take_due(now + Duration::from_millis(25));
        let payloads: Vec<_> = due.iter().filter_map(Msg::payload).cloned().collect();
        assert_eq!(payloads, [Value::Int(2), Value::Int(3)]);
        let first = held.take_first(5);
        assert_eq!(first.len(), 1);
        assert_eq!(held.len(), 0);
        assert!(held.by_due.is_empty());
    }
}
