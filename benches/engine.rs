//! Engine benchmark: a real `Runtime` deploying real flows JSON.
//!
//! Measures
//! 1. a 5-node chain of change-like nodes ending in a counting sink (node hops per second and
//!    nanoseconds per hop, hop = one change node handling one message),
//! 2. a 1-to-8 fan-out (messages in per second and deliveries to the sink per second),
//! 3. VmRSS before and after deploying a generated 1,000-node flow,
//! 4. a 5-node chain of real `rhai` nodes each running the bench harness's script
//!    `msg.payload.value = msg.payload.value * 2; msg` (target: >= 500,000 runs/s on one core),
//! 5. a real `split` node turning one 20,000-item array into 20,000 messages, timed from the
//!    receive to the sink having counted them all (current-thread runtime; target < 20 ms:
//!    a part must never copy the whole array),
//!
//! each throughput figure on a current-thread tokio runtime (the "one core" figure) and on a
//! 2-worker multi-thread runtime. Target: >= 1,000,000 hops/s on one core, < 1 µs per hop.
//!
//! `cargo bench --bench engine [-- --quick]`; env `BENCH_N` sets the chain's message count
//! (the fan-out sends a quarter of it), `BENCH_REPS` the repetitions (median is reported),
//! `BENCH_ONLY` a comma-separated filter (`memory`, `chain-current`, `chain-multi`,
//! `fanout-current`, `fanout-multi`, `rhai-current`, `rhai-multi`, `split-current`, or any part
//! such as `chain`, `split` or `current`) for profiling; `BENCH_SPLIT_REPS` sets the split repetitions (default 21).
//! Exits non-zero only on real failure: a deploy issue, lost or malformed messages, a stall.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use ferrite_runtime::path::PropPath;
use ferrite_runtime::{
    Build, BuildCtx, ConfigError, DeployKind, Map, Msg, Node, NodeCtx, NodeDef, NodeError,
    Registry, Role, Runtime, Settings, Value, async_trait,
};
use serde_json::{Value as Json, json};
use tokio::sync::Notify;

/// The allocator the `ferrite` binary uses, so the numbers are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Change nodes in the chain (hops per message).
const CHAIN_LEN: usize = 5;
/// Branches of the fan-out.
const FAN_OUT: usize = 8;
/// The memory test: `RSS_CHAINS` chains of `RSS_CHAIN_LEN` nodes on one tab.
const RSS_CHAINS: usize = 100;
const RSS_CHAIN_LEN: usize = 10;
/// A run fails when the sink counts nothing new for this long.
const STALL: Duration = Duration::from_secs(10);

const TARGET_HOPS_PER_SEC: f64 = 1_000_000.0;
const TARGET_NS_PER_HOP: f64 = 1_000.0;
const TARGET_RHAI_RUNS_PER_SEC: f64 = 500_000.0;
/// The script of `shared/bench/flows-rhai/pipeline.json`.
const RHAI_DOUBLE: &str = "msg.payload.value = msg.payload.value * 2;\nmsg";
/// Items of the array the split scenario splits, and its target time.
const SPLIT_ITEMS: u64 = 20_000;
const TARGET_SPLIT: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------------------------------
// The bench's node types.

/// What a sink counts; found by the sink's build fn through [`COUNTERS`] by runtime id.
#[derive(Default)]
struct Counter {
    /// Messages received.
    count: AtomicU64,
    /// Messages without the property the sink checks for.
    bad: AtomicU64,
    /// `count` at which `done` is notified.
    target: AtomicU64,
    done: Notify,
}

impl Counter {
    fn arm(&self, target: u64) {
        self.count.store(0, Ordering::SeqCst);
        self.bad.store(0, Ordering::SeqCst);
        self.target.store(target, Ordering::SeqCst);
    }
}

static COUNTERS: LazyLock<Mutex<HashMap<u64, Arc<Counter>>>> = LazyLock::new(Mutex::default);

fn counters() -> std::sync::MutexGuard<'static, HashMap<u64, Arc<Counter>>> {
    COUNTERS.lock().unwrap_or_else(PoisonError::into_inner)
}

const BENCH_CHANGE: NodeDef = NodeDef {
    type_name: "bench-change",
    category: "bench",
    set_id: "bench/change",
    role: Role::Plain,
    build: Build::Flow(build_change),
};

const BENCH_SINK: NodeDef = NodeDef {
    type_name: "bench-sink",
    category: "bench",
    set_id: "bench/sink",
    role: Role::Plain,
    build: Build::Flow(build_sink),
};

static BENCH_NODES: &[NodeDef] = &[BENCH_CHANGE, BENCH_SINK];

fn property(cx: &BuildCtx<'_>, key: &str) -> Result<PropPath, ConfigError> {
    let expr = cx
        .raw()
        .get(key)
        .and_then(Json::as_str)
        .unwrap_or("payload");
    PropPath::parse_msg(expr).map_err(|e| ConfigError::field(key, e))
}

/// `bench-change`: sets `property` (a `msg.` path) to `value`, like a change node's one
/// "set" rule with a JSON-typed value, and sends the message on.
fn build_change(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let path = property(cx, "property")?;
    let value = Value::from(cx.raw().get("value").cloned().unwrap_or(Json::Null));
    Ok(Box::new(BenchChange { path, value }))
}

struct BenchChange {
    path: PropPath,
    value: Value,
}

#[async_trait]
impl Node for BenchChange {
    async fn on_input(&mut self, mut msg: Msg, cx: &mut NodeCtx) -> Result<(), NodeError> {
        if let Err(e) = msg.set_path(&self.path, self.value.clone()) {
            return Err(NodeError::new(e.to_string()).for_msg(msg));
        }
        cx.send(msg).await;
        Ok(())
    }
}

/// `bench-sink`: counts messages, checks `check` is set on each, notifies at the target.
fn build_sink(cx: &mut BuildCtx<'_>) -> Result<Box<dyn Node>, ConfigError> {
    let counter = counters()
        .get(&cx.runtime_id())
        .cloned()
        .ok_or_else(|| ConfigError::Invalid("no counter registered for this runtime".to_owned()))?;
    let check = match cx.raw().get("check") {
        Some(Json::String(_)) => Some(property(cx, "check")?),
        _ => None,
    };
    Ok(Box::new(BenchSink { counter, check }))
}

struct BenchSink {
    counter: Arc<Counter>,
    check: Option<PropPath>,
}

#[async_trait]
impl Node for BenchSink {
    async fn on_input(&mut self, msg: Msg, _cx: &mut NodeCtx) -> Result<(), NodeError> {
        if let Some(check) = &self.check
            && msg.get_path(check).is_none()
        {
            self.counter.bad.fetch_add(1, Ordering::Relaxed);
        }
        let n = self.counter.count.fetch_add(1, Ordering::AcqRel) + 1;
        if n == self.counter.target.load(Ordering::Acquire) {
            // Stores a permit when nobody waits yet: the completion cannot be missed.
            self.counter.done.notify_one();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Flows, as the editor writes them.

const TAB: &str = "b3e1c0a2f4d5e6f7";

fn tab() -> Json {
    json!({"id": TAB, "type": "tab", "label": "Bench", "disabled": false, "info": "", "env": []})
}

fn change(id: &str, property: &str, value: i64, x: usize, y: usize, wires: &[&str]) -> Json {
    json!({
        "id": id, "type": "bench-change", "z": TAB, "name": "",
        "property": property, "value": value,
        "x": x, "y": y, "wires": [wires],
    })
}

fn sink(id: &str, check: &str, x: usize, y: usize) -> Json {
    json!({"id": id, "type": "bench-sink", "z": TAB, "name": "", "check": check, "x": x, "y": y, "wires": []})
}

/// `c1 -> c2 -> ... -> c5 -> sink`; `cN` sets `payload.hopN = N`.
fn chain_flow() -> Vec<Json> {
    let mut flow = vec![tab()];
    for n in 1..=CHAIN_LEN {
        let next = if n == CHAIN_LEN {
            "sink".to_owned()
        } else {
            format!("c{}", n + 1)
        };
        let value = i64::try_from(n).unwrap_or_default();
        flow.push(change(
            &format!("c{n}"),
            &format!("payload.hop{n}"),
            value,
            100 + 180 * n,
            80,
            &[&next],
        ));
    }
    flow.push(sink(
        "sink",
        &format!("payload.hop{CHAIN_LEN}"),
        100 + 180 * (CHAIN_LEN + 1),
        80,
    ));
    flow
}

/// `r1 -> ... -> r5 -> sink`, each `r` a `rhai` node doubling `payload.value`.
fn rhai_chain_flow() -> Vec<Json> {
    let mut flow = vec![tab()];
    for n in 1..=CHAIN_LEN {
        let next = if n == CHAIN_LEN {
            "sink".to_owned()
        } else {
            format!("r{}", n + 1)
        };
        flow.push(json!({
            "id": format!("r{n}"), "type": "rhai", "z": TAB, "name": "double",
            "func": RHAI_DOUBLE, "outputs": 1, "timeout": 0, "initialize": "", "finalize": "",
            "x": 100 + 180 * n, "y": 160, "wires": [[next]],
        }));
    }
    flow.push(sink(
        "sink",
        "payload.value",
        100 + 180 * (CHAIN_LEN + 1),
        160,
    ));
    flow
}

/// `src` sets `msg.fan`, wired to `b1..b8`, each setting `payload.branch` (so each copies the
/// shared message on write), all wired to `sink`.
fn fanout_flow() -> Vec<Json> {
    let branches: Vec<String> = (1..=FAN_OUT).map(|k| format!("b{k}")).collect();
    let branch_refs: Vec<&str> = branches.iter().map(String::as_str).collect();
    let mut flow = vec![tab(), change("src", "msg.fan", 1, 120, 300, &branch_refs)];
    for (k, id) in branches.iter().enumerate() {
        flow.push(change(
            id,
            "payload.branch",
            i64::try_from(k).unwrap_or_default(),
            320,
            60 + 60 * k,
            &["sink"],
        ));
    }
    flow.push(sink("sink", "payload.branch", 520, 300));
    flow
}

/// Editor-style 16-hex-digit ids, deterministic.
fn node_id(i: usize) -> String {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("{:016x}", z ^ (z >> 31))
}

/// `RSS_CHAINS` chains of `RSS_CHAIN_LEN` change nodes on one tab, as flows.json text.
fn big_flow_text() -> String {
    let mut flow = vec![tab()];
    for chain in 0..RSS_CHAINS {
        for step in 0..RSS_CHAIN_LEN {
            let i = chain * RSS_CHAIN_LEN + step;
            let next = node_id(i + 1);
            let wires: &[&str] = if step + 1 == RSS_CHAIN_LEN {
                &[]
            } else {
                &[&next]
            };
            let value = i64::try_from(step).unwrap_or_default();
            flow.push(change(
                &node_id(i),
                &format!("payload.step{step}"),
                value,
                130 + 200 * step,
                40 + 60 * chain,
                wires,
            ));
        }
    }
    Json::Array(flow).to_string()
}

// ---------------------------------------------------------------------------------------
// Measuring.

/// VmRSS of this process in KiB, if `/proc` has it.
fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn new_runtime() -> anyhow::Result<(Runtime, Arc<Counter>)> {
    let registry = Registry::new([BENCH_NODES, ferrite_nodes::ALL])?;
    let runtime = Runtime::new(Arc::new(registry), Settings::default()).await?;
    let counter = Arc::new(Counter::default());
    counters().insert(runtime.runtime_id(), Arc::clone(&counter));
    Ok((runtime, counter))
}

async fn deploy(runtime: &Runtime, flow: Vec<Json>) -> anyhow::Result<()> {
    let report = runtime.deploy(flow, DeployKind::Full).await;
    ensure!(
        report.issues.is_empty() && report.missing_types.is_empty(),
        "deploy failed: {report:?}"
    );
    ensure!(runtime.started().await, "flows did not start");
    Ok(())
}

/// A fresh message, as an inject node would make it: `{payload: {seq, value: 1}}`.
fn message(seq: u64) -> Msg {
    let mut payload = Map::with_capacity(CHAIN_LEN + 2);
    payload.insert(
        "seq".to_owned(),
        Value::Int(i64::try_from(seq).unwrap_or_default()),
    );
    payload.insert("value".to_owned(), Value::Int(1));
    let mut map = Map::with_capacity(2);
    map.insert("payload".to_owned(), Value::Object(payload));
    Msg::from_map(map)
}

/// Feeds `n` messages to `entry` from one task and waits until the sink counted
/// `n * per_msg`. Returns the elapsed time (CPU time too: see [`Timing`]).
async fn pump(
    runtime: &Runtime,
    counter: &Arc<Counter>,
    entry: &str,
    n: u64,
    per_msg: u64,
) -> anyhow::Result<Timing> {
    let expected = n * per_msg;
    counter.arm(expected);
    let start = Instant::now();
    let cpu_start = thread_cpu_ns();
    let feeder = {
        let runtime = runtime.clone();
        let entry = entry.to_owned();
        tokio::spawn(async move {
            for seq in 0..n {
                runtime.receive(&entry, message(seq)).await?;
            }
            anyhow::Ok(())
        })
    };
    let mut last = 0;
    loop {
        if tokio::time::timeout(STALL, counter.done.notified())
            .await
            .is_ok()
        {
            break;
        }
        let now = counter.count.load(Ordering::Acquire);
        if now == last {
            feeder.abort();
            bail!(
                "stalled: the sink counted {now} of {expected} messages and nothing more for {STALL:?}"
            );
        }
        last = now;
    }
    let wall = start.elapsed();
    let cpu = cpu_start
        .zip(thread_cpu_ns())
        .map(|(a, b)| Duration::from_nanos(b.saturating_sub(a)));
    feeder.await.context("feeder task")??;
    Ok(Timing { wall, cpu })
}

/// Deploys `flow`, warms up, runs `reps` timed batches of `n`; checks nothing was lost.
async fn scenario(
    flow: Vec<Json>,
    entry: &str,
    n: u64,
    per_msg: u64,
    reps: usize,
) -> anyhow::Result<Vec<Timing>> {
    let (runtime, counter) = new_runtime().await?;
    let result = async {
        deploy(&runtime, flow).await?;
        pump(
            &runtime,
            &counter,
            entry,
            (n / 10).clamp(1, 50_000),
            per_msg,
        )
        .await?;
        let mut times = Vec::with_capacity(reps);
        for _ in 0..reps {
            times.push(pump(&runtime, &counter, entry, n, per_msg).await?);
            let bad = counter.bad.load(Ordering::Acquire);
            ensure!(
                bad == 0,
                "{bad} messages reached the sink without the property set on the way"
            );
        }
        anyhow::Ok(times)
    }
    .await;
    runtime.stop().await;
    counters().remove(&runtime.runtime_id());
    let times = result?;
    // After stop every node task has finished: a count beyond the target is a duplicate.
    let (count, target) = (
        counter.count.load(Ordering::Acquire),
        counter.target.load(Ordering::Acquire),
    );
    ensure!(
        count == target,
        "the sink counted {count} messages, expected {target}"
    );
    Ok(times)
}

/// `split` (Node-RED's defaults: one message per array element) wired to a sink checking
/// `parts.index` on every part.
fn split_flow() -> Vec<Json> {
    vec![
        tab(),
        json!({
            "id": "split", "type": "split", "z": TAB, "name": "", "splt": "\\n", "spltType": "str",
            "arraySplt": 1, "arraySpltType": "len", "stream": false, "addname": "", "property": "payload",
            "x": 300, "y": 80, "wires": [["sink"]],
        }),
        sink("sink", "parts.index", 500, 80),
    ]
}

/// `{topic, payload: [{id, value} x n]}`: what a query or a Modbus block read might give.
fn array_message(n: u64) -> Msg {
    let items = (0..n)
        .map(|i| {
            let i = i64::try_from(i).unwrap_or_default();
            let mut item = Map::with_capacity(2);
            item.insert("id".to_owned(), Value::Int(i));
            item.insert("value".to_owned(), Value::js_number(i as f64 * 0.5));
            Value::Object(item)
        })
        .collect();
    let mut map = Map::with_capacity(2);
    map.insert("topic".to_owned(), Value::from("rows"));
    map.insert("payload".to_owned(), Value::Array(items));
    Msg::from_map(map)
}

/// Nanoseconds the calling thread has spent on a CPU (`/proc/thread-self/schedstat`), if
/// the kernel tells. On the current-thread runtime every node runs on this thread, so this
/// is the work done, whatever else loads the machine.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// One timed split: wall-clock time, and on-CPU time of the runtime thread.
/// A timed run: wall time, and on a current-thread runtime the on-CPU time of its thread,
/// which leaves out time other processes (or a noisy virtual machine) took the core.
struct Timing {
    wall: Duration,
    cpu: Option<Duration>,
}

/// Hands `split` one `n`-item array and waits until the sink counted `n` parts. The message
/// is built before the clock starts. Call on the current-thread runtime (see `thread_cpu_ns`).
async fn split_once(runtime: &Runtime, counter: &Arc<Counter>, n: u64) -> anyhow::Result<Timing> {
    counter.arm(n);
    let msg = array_message(n);
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    runtime.receive("split", msg).await?;
    let mut last = 0;
    loop {
        if tokio::time::timeout(STALL, counter.done.notified())
            .await
            .is_ok()
        {
            break;
        }
        let now = counter.count.load(Ordering::Acquire);
        if now == last {
            bail!("stalled: the sink counted {now} of {n} parts and nothing more for {STALL:?}");
        }
        last = now;
    }
    let wall = start.elapsed();
    let cpu = cpu_start
        .zip(thread_cpu_ns())
        .map(|(a, b)| Duration::from_nanos(b.saturating_sub(a)));
    Ok(Timing { wall, cpu })
}

/// Deploys split → sink, warms up once, then times `reps` splits of `n` items.
async fn split_scenario(n: u64, reps: usize) -> anyhow::Result<Vec<Timing>> {
    let (runtime, counter) = new_runtime().await?;
    let result = async {
        deploy(&runtime, split_flow()).await?;
        split_once(&runtime, &counter, n).await?;
        let mut times = Vec::with_capacity(reps);
        for _ in 0..reps {
            times.push(split_once(&runtime, &counter, n).await?);
            let bad = counter.bad.load(Ordering::Acquire);
            ensure!(bad == 0, "{bad} parts reached the sink without parts.index");
        }
        anyhow::Ok(times)
    }
    .await;
    runtime.stop().await;
    counters().remove(&runtime.runtime_id());
    let times = result?;
    let count = counter.count.load(Ordering::Acquire);
    ensure!(count == n, "the sink counted {count} parts, expected {n}");
    Ok(times)
}

struct MemoryReport {
    json_bytes: usize,
    before_kib: Option<u64>,
    parsed_kib: Option<u64>,
    after_kib: Option<u64>,
    deploy: Duration,
}

async fn memory() -> anyhow::Result<MemoryReport> {
    let text = big_flow_text();
    let (runtime, _counter) = new_runtime().await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before_kib = vm_rss_kib();
    let start = Instant::now();
    let flow: Vec<Json> = serde_json::from_str(&text)?;
    let parsed_kib = vm_rss_kib();
    deploy(&runtime, flow).await?;
    let deploy_time = start.elapsed();
    // Let every node task start (on_start, first poll) before reading.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_kib = vm_rss_kib();
    let running = runtime.running_ids().await.len();
    runtime.stop().await;
    counters().remove(&runtime.runtime_id());
    let nodes = RSS_CHAINS * RSS_CHAIN_LEN;
    ensure!(
        running == nodes,
        "{running} nodes running, expected {nodes}"
    );
    Ok(MemoryReport {
        json_bytes: text.len(),
        before_kib,
        parsed_kib,
        after_kib,
        deploy: deploy_time,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    CurrentThread,
    MultiThread2,
}

impl Flavor {
    fn label(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "current-thread",
            Flavor::MultiThread2 => "multi-thread x2",
        }
    }

    /// Name used by the `BENCH_ONLY` filter.
    fn key(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "current",
            Flavor::MultiThread2 => "multi",
        }
    }

    fn build(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            Flavor::MultiThread2 => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
        }
    }
}

struct Row {
    flavor: Flavor,
    median: Duration,
    best: Duration,
    worst: Duration,
    /// Median on-CPU time, where measured (current-thread runs).
    cpu: Option<Duration>,
}

fn summarize(flavor: Flavor, mut times: Vec<Duration>) -> Row {
    times.sort();
    Row {
        flavor,
        median: times[times.len() / 2],
        best: times[0],
        worst: times[times.len() - 1],
        cpu: None,
    }
}

/// [`summarize`] for timed runs; the CPU median only for a current-thread runtime, where
/// the thread's CPU time is the whole run's.
fn summarize_runs(flavor: Flavor, runs: Vec<Timing>) -> Row {
    let cpu: Option<Vec<Duration>> = runs.iter().map(|t| t.cpu).collect();
    let mut row = summarize(flavor, runs.iter().map(|t| t.wall).collect());
    if flavor == Flavor::CurrentThread {
        row.cpu = cpu.map(|c| summarize(flavor, c).median);
    }
    row
}

fn per_sec(count: u64, time: Duration) -> f64 {
    count as f64 / time.as_secs_f64()
}

fn ns_per(count: u64, time: Duration) -> f64 {
    time.as_nanos() as f64 / count as f64
}

/// `1234567.8` as `1,234,568`.
fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn show_mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

/// One table of throughput rows: `unit` names what `per_msg` counts (hops, deliveries).
struct Table {
    title: String,
    n: u64,
    per_msg: u64,
    /// Plural and singular of what `per_msg` counts.
    unit: (&'static str, &'static str),
    rows: Vec<Row>,
}

impl Table {
    fn print(&self) {
        if self.rows.is_empty() {
            return;
        }
        let work = self.n * self.per_msg;
        println!("{}", self.title);
        println!(
            "  {:<17}{:>10}{:>11}{:>19}{:>12}{:>16}{:>14}{:>18}",
            "runtime",
            "messages",
            "median",
            "min..max",
            "msgs in/s",
            format!("{}/s", self.unit.0),
            format!("ns/{}", self.unit.1),
            format!("cpu ns/{}", self.unit.1),
        );
        for row in &self.rows {
            let cpu = row
                .cpu
                .map_or_else(|| "-".to_owned(), |c| format!("{:.0}", ns_per(work, c)));
            println!(
                "  {:<17}{:>10}{:>11}{:>19}{:>12}{:>16}{:>14.0}{cpu:>18}",
                row.flavor.label(),
                self.n,
                format!("{:.3} s", row.median.as_secs_f64()),
                format!(
                    "{:.3}..{:.3} s",
                    row.best.as_secs_f64(),
                    row.worst.as_secs_f64()
                ),
                grouped(per_sec(self.n, row.median)),
                grouped(per_sec(work, row.median)),
                ns_per(work, row.median),
            );
        }
        println!();
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("engine bench FAILED: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let env_u64 = |key: &str| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.replace('_', "").parse::<u64>().ok())
    };
    let n_chain = env_u64("BENCH_N")
        .unwrap_or(if quick { 100_000 } else { 1_000_000 })
        .max(1);
    let n_fan = (n_chain / 4).max(1);
    let reps = env_u64("BENCH_REPS").map_or(if quick { 1 } else { 3 }, |r| {
        usize::try_from(r.max(1)).unwrap_or(1)
    });
    // `BENCH_ONLY=chain-current,memory`: run only the parts whose name contains one of these
    // (names: memory, chain-current, chain-multi, fanout-current, fanout-multi, split-current).
    let only: Vec<String> = std::env::var("BENCH_ONLY")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let selected = |name: &str| only.is_empty() || only.iter().any(|f| name.contains(f.as_str()));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");

    println!("Ferrite engine benchmark");
    println!(
        "  chain: {n_chain} msgs; fan-out: {n_fan} msgs; {reps} timed rep(s) after a warm-up, median shown; \
         inbox capacity {}; cpus {}; loadavg {load}",
        Settings::default().inbox_capacity(),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    println!();

    let mut memory_line = String::new();
    let nodes = RSS_CHAINS * RSS_CHAIN_LEN;
    // Memory first, while the allocator has not yet grown for the throughput runs.
    if selected("memory") {
        let mem = Flavor::CurrentThread.build()?.block_on(memory())?;
        let delta_kib = mem
            .before_kib
            .zip(mem.after_kib)
            .map(|(b, a)| a.saturating_sub(b));
        println!(
            "Memory: {nodes}-node flow ({RSS_CHAINS} chains x {RSS_CHAIN_LEN} bench-change, one tab; flows.json {:.0} KiB)",
            mem.json_bytes as f64 / 1024.0
        );
        println!("  {:<34}{:>12}", "VmRSS before", show_mib(mem.before_kib));
        println!(
            "  {:<34}{:>12}",
            "VmRSS after parsing flows.json",
            show_mib(mem.parsed_kib)
        );
        println!(
            "  {:<34}{:>12}",
            "VmRSS after deploy (nodes running)",
            show_mib(mem.after_kib)
        );
        let per_node = delta_kib.map_or_else(String::new, |d| {
            format!("   ({:.1} KiB/node)", d as f64 / nodes as f64)
        });
        println!("  {:<34}{:>12}{per_node}", "delta", show_mib(delta_kib));
        println!(
            "  {:<34}{:>12}",
            "parse + deploy time",
            format!("{:.1} ms", mem.deploy.as_secs_f64() * 1e3)
        );
        println!();
        let _ = writeln!(
            memory_line,
            "  memory  {nodes}-node flow: VmRSS {} -> {} (+{})",
            show_mib(mem.before_kib),
            show_mib(mem.after_kib),
            show_mib(delta_kib),
        );
    }

    let mut chain = Table {
        title: format!(
            "Chain: feeder -> {CHAIN_LEN} x bench-change -> bench-sink  (hop = one change node handling one message; \
             ns/hop = elapsed / (messages x {CHAIN_LEN}))"
        ),
        n: n_chain,
        per_msg: CHAIN_LEN as u64,
        unit: ("hops", "hop"),
        rows: Vec::new(),
    };
    let mut fan = Table {
        title: format!(
            "Fan-out: feeder -> src -> {FAN_OUT} x bench-change -> bench-sink  (delivery = one message reaching the sink)"
        ),
        n: n_fan,
        per_msg: FAN_OUT as u64,
        unit: ("deliveries", "delivery"),
        rows: Vec::new(),
    };
    let mut rhai = Table {
        title: format!(
            "Rhai chain: feeder -> {CHAIN_LEN} x rhai ({RHAI_DOUBLE:?}) -> bench-sink  (run = one rhai node handling one message)"
        ),
        n: n_chain,
        per_msg: CHAIN_LEN as u64,
        unit: ("runs", "run"),
        rows: Vec::new(),
    };
    for flavor in [Flavor::CurrentThread, Flavor::MultiThread2] {
        let run_chain = selected(&format!("chain-{}", flavor.key()));
        let run_fan = selected(&format!("fanout-{}", flavor.key()));
        let run_rhai = selected(&format!("rhai-{}", flavor.key()));
        if !run_chain && !run_fan && !run_rhai {
            continue;
        }
        let rt = flavor.build()?;
        if run_chain {
            let times = rt
                .block_on(scenario(chain_flow(), "c1", n_chain, 1, reps))
                .with_context(|| format!("chain on {}", flavor.label()))?;
            chain.rows.push(summarize_runs(flavor, times));
        }
        if run_fan {
            let times = rt
                .block_on(scenario(fanout_flow(), "src", n_fan, FAN_OUT as u64, reps))
                .with_context(|| format!("fan-out on {}", flavor.label()))?;
            fan.rows.push(summarize_runs(flavor, times));
        }
        if run_rhai {
            let times = rt
                .block_on(scenario(rhai_chain_flow(), "r1", n_chain, 1, reps))
                .with_context(|| format!("rhai chain on {}", flavor.label()))?;
            rhai.rows.push(summarize_runs(flavor, times));
        }
    }
    chain.print();
    fan.print();
    rhai.print();

    let mut split_line = String::new();
    if selected("split-current") {
        let split_reps = env_u64("BENCH_SPLIT_REPS").map_or(if quick { 5 } else { 21 }, |r| {
            usize::try_from(r.max(1)).unwrap_or(1)
        });
        let times = Flavor::CurrentThread
            .build()?
            .block_on(split_scenario(SPLIT_ITEMS, split_reps))
            .context("split on current-thread")?;
        let cpu: Option<Vec<Duration>> = times.iter().map(|t| t.cpu).collect();
        let cpu = cpu.map(|c| summarize(Flavor::CurrentThread, c));
        let row = summarize(
            Flavor::CurrentThread,
            times.iter().map(|t| t.wall).collect(),
        );
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "Split: one {}-item array -> split -> bench-sink ({} parts; receive to last part counted; \
             {split_reps} timed reps after a warm-up)",
            grouped(SPLIT_ITEMS as f64),
            grouped(SPLIT_ITEMS as f64),
        );
        println!(
            "  {:<17}{:<6}{:>11}{:>19}{:>14}",
            "runtime", "time", "median", "min..max", "ns/part"
        );
        for (kind, r) in [("wall", Some(&row)), ("cpu", cpu.as_ref())] {
            let Some(r) = r else { continue };
            println!(
                "  {:<17}{:<6}{:>11}{:>19}{:>14.0}",
                r.flavor.label(),
                kind,
                format!("{:.2} ms", ms(r.median)),
                format!("{:.2}..{:.2} ms", ms(r.best), ms(r.worst)),
                ns_per(SPLIT_ITEMS, r.median),
            );
        }
        println!(
            "  (cpu: on-CPU time of the runtime thread, from /proc/thread-self/schedstat; \
             it leaves out time other processes took the core)"
        );
        println!();
        let verdict = if row.median < TARGET_SPLIT {
            "MET"
        } else {
            "MISSED"
        };
        let cpu_text = cpu
            .as_ref()
            .map_or_else(String::new, |c| format!(" (cpu {:.2} ms)", ms(c.median)));
        let _ = writeln!(
            split_line,
            "  split   {:<16} {:>8.2} ms{cpu_text} for {} parts  target < {} ms: {verdict}",
            row.flavor.label(),
            ms(row.median),
            grouped(SPLIT_ITEMS as f64),
            TARGET_SPLIT.as_millis(),
        );
    }

    let mut headline = String::new();
    for row in &chain.rows {
        let work = chain.n * chain.per_msg;
        let (rate, ns) = (per_sec(work, row.median), ns_per(work, row.median));
        let verdict = match row.flavor {
            Flavor::CurrentThread if rate >= TARGET_HOPS_PER_SEC && ns < TARGET_NS_PER_HOP => {
                "  target (one core) >= 1M hops/s, < 1 µs/hop: MET"
            }
            Flavor::CurrentThread => "  target (one core) >= 1M hops/s, < 1 µs/hop: MISSED",
            Flavor::MultiThread2 => "",
        };
        let _ = writeln!(
            headline,
            "  chain   {:<16} {:>11} hops/s {:>7.0} ns/hop{verdict}",
            row.flavor.label(),
            grouped(rate),
            ns,
        );
    }
    for row in &fan.rows {
        let _ = writeln!(
            headline,
            "  fan-out {:<16} {:>11} msgs/s {:>11} deliveries/s",
            row.flavor.label(),
            grouped(per_sec(fan.n, row.median)),
            grouped(per_sec(fan.n * fan.per_msg, row.median)),
        );
    }
    for row in &rhai.rows {
        let work = rhai.n * rhai.per_msg;
        let rate = per_sec(work, row.median);
        let met = |r: f64| {
            if r >= TARGET_RHAI_RUNS_PER_SEC {
                "MET"
            } else {
                "MISSED"
            }
        };
        let verdict = match (row.flavor, row.cpu) {
            (Flavor::CurrentThread, Some(cpu)) => format!(
                "  ({} runs/s on-CPU)  target (one core) >= 500k runs/s: wall {}, on-CPU {}",
                grouped(per_sec(work, cpu)),
                met(rate),
                met(per_sec(work, cpu)),
            ),
            (Flavor::CurrentThread, None) => {
                format!("  target (one core) >= 500k runs/s: {}", met(rate))
            }
            (Flavor::MultiThread2, _) => String::new(),
        };
        let _ = writeln!(
            headline,
            "  rhai    {:<16} {:>11} runs/s {:>7.0} ns/run{verdict}",
            row.flavor.label(),
            grouped(rate),
            ns_per(work, row.median),
        );
    }
    println!("HEADLINE");
    print!("{headline}{split_line}{memory_line}");
    Ok(())
}
