//! Modbus polling benchmark (issue 6): polls per second and per-poll latency for the
//! cellular loggers' 47-register, 11-block map (starts `1;10;55;69;72;100;120;130;152;160;170`,
//! counts `1;3;2;2;9;10;5;4;3;7;1`, with a typed point in each block) read through
//! Ferrite's Modbus client from Ferrite's simulated device over loopback TCP, decoded
//! into `{name: value}` each poll as `modbus-read` does.
//!
//! The device runs on its own thread and runtime, like a separate process would; the
//! client polls back to back for a few seconds per case:
//! * `maxGap 0`: the blocks do not touch, so 11 requests per poll (the honest case);
//! * `maxGap 10`: holes of up to 10 registers are read too, 5 requests per poll;
//! * `4 units in parallel`: four pollers on one connection, one per unit id, as
//!   `parallelUnitIdsAllowed` runs them (answers matched by transaction id).
//!
//! `cargo bench --bench modbus [-- --quick]`. Target: at least 2,000 polls per second for
//! the first case; a miss is reported, not a failure.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ferrite_nodes::industrial::modbus::client::{ClientOptions, ModbusClient, Transport};
use ferrite_nodes::industrial::modbus::flow::read_all;
use ferrite_nodes::industrial::modbus::pdu::Area;
use ferrite_nodes::industrial::modbus::regmap::RegisterMap;
use ferrite_nodes::industrial::modbus::server::{
    Device, ModbusServer, ServerConfig, ServerTransport, Sizes,
};
use serde_json::json;

const STARTS: &str = "1;10;55;69;72;100;120;130;152;160;170";
const COUNTS: &str = "1;3;2;2;9;10;5;4;3;7;1";
const TARGET_POLLS_PER_SECOND: f64 = 2_000.0;

fn register_map(max_gap: u16) -> anyhow::Result<RegisterMap> {
    let points = json!([
        {"name": "alarm", "address": 1, "type": "bool", "bit": 0},
        {"name": "level", "address": 10, "type": "uint16", "scale": 0.1},
        {"name": "temperature", "address": 55, "type": "float32", "order": "CDAB"},
        {"name": "energy", "address": 69, "type": "int32"},
        {"name": "serial", "address": 72, "type": "string", "length": 9},
        {"name": "total", "address": 100, "type": "uint64"},
        {"name": "pressure", "address": 120, "type": "float32"},
        {"name": "flow", "address": 130, "type": "float64"},
        {"name": "mode", "address": 152, "type": "int16"},
        {"name": "counter", "address": 160, "type": "uint32", "order": "DCBA"},
        {"name": "setpoint", "address": 170, "type": "int16", "offset": -40}
    ]);
    RegisterMap::from_config(
        Area::HoldingRegisters,
        STARTS,
        COUNTS,
        Some(&points),
        max_gap,
    )
    .context("the benchmark's register map")
}

/// Starts the device on its own thread; returns its port.
fn start_device(units: BTreeSet<u8>) -> anyhow::Result<u16> {
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("device runtime");
        runtime.block_on(async move {
            let sizes = Sizes {
                coils: 1000,
                discrete: 1000,
                holding: 1000,
                input: 1000,
            };
            let device = Arc::new(Device::new(sizes, Some(units)));
            let config = ServerConfig {
                host: "127.0.0.1".into(),
                port: 0,
                transport: ServerTransport::Tcp,
                response_delay: Duration::ZERO,
                node_id: "bench".into(),
            };
            let server = ModbusServer::start(config, device)
                .await
                .expect("device listens");
            let _ = port_tx.send(server.local_addr().port());
            std::future::pending::<()>().await;
        });
    });
    port_rx
        .recv_timeout(Duration::from_secs(5))
        .context("the device did not start")
}

struct Measured {
    polls: usize,
    seconds: f64,
    latencies: Vec<Duration>,
    requests_per_poll: usize,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.polls as f64 / self.seconds
    }

    fn percentile(&mut self, p: f64) -> Duration {
        self.latencies.sort_unstable();
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(index).copied().unwrap_or_default()
    }
}

/// Polls `map` back to back from `pollers` tasks (one unit id each) for `length`.
async fn measure(
    client: &ModbusClient,
    map: Arc<RegisterMap>,
    pollers: u8,
    length: Duration,
) -> anyhow::Result<Measured> {
    let requests_per_poll = map.requests().len();
    // Warm up: connect and settle.
    for unit in 1..=pollers {
        read_all(client, Some(unit), map.requests()).await?;
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for unit in 1..=pollers {
        let client = client.clone();
        let map = Arc::clone(&map);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while start.elapsed() < length {
                let poll = Instant::now();
                let responses = read_all(&client, Some(unit), map.requests()).await?;
                let decoded = map.decode(&responses)?;
                std::hint::black_box(decoded);
                latencies.push(poll.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Measured {
        polls: latencies.len(),
        seconds: start.elapsed().as_secs_f64(),
        latencies,
        requests_per_poll,
    })
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let length = if quick {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    };
    let port = start_device((1..=4).collect())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut options = ClientOptions::new(Transport::Tcp {
            host: "127.0.0.1".into(),
            port,
        });
        options.timeout = Duration::from_secs(2);
        let client = ModbusClient::start(options, "bench".into());
        println!("Modbus polling, 47 registers in 11 blocks, Ferrite client -> Ferrite device over loopback TCP ({} s per case)\n", length.as_secs());
        println!("| case | requests/poll | polls/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|");
        let mut first_rate = None;
        for (case, max_gap, pollers) in [
            ("maxGap 0", 0, 1),
            ("maxGap 10", 10, 1),
            ("maxGap 0, 4 units in parallel", 0, 4),
        ] {
            let map = Arc::new(register_map(max_gap)?);
            let mut measured = measure(&client, map, pollers, length).await?;
            let (p50, p99) = (measured.percentile(0.5), measured.percentile(0.99));
            let max = measured.percentile(1.0);
            println!(
                "| {case} | {} | {:.0} | {:.3} | {:.3} | {:.3} |",
                measured.requests_per_poll,
                measured.rate(),
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3
            );
            first_rate.get_or_insert(measured.rate());
        }
        let rate = first_rate.unwrap_or_default();
        let verdict = if rate >= TARGET_POLLS_PER_SECOND {
            "met"
        } else {
            "MISSED"
        };
        println!("\ntarget: >= {TARGET_POLLS_PER_SECOND:.0} polls/s (maxGap 0): {rate:.0} {verdict}");
        client.close().await;
        anyhow::Ok(())
    })
}
