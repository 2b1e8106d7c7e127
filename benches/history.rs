//! History benchmark (issue 8): fills 10,000,000 points (4 series, one point a second
//! each) into a fresh `ferrite.db` through the store's batched writer and reports inserts
//! per second; then times 1,000-point bucketed queries over the whole range (median and
//! p99 of 20) and a CSV export of 1,000 buckets.
//!
//! `cargo bench --bench history [-- --points N]`. Targets: at least 50,000 inserts a
//! second and a 1,000-point query under 100 ms; a miss is reported, not a failure.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use ferrite_runtime::history::{Agg, HistoryQuery, HistoryStore, HistoryValue, Retention, to_csv};
use ferrite_runtime::store::Db;

const SERIES: i64 = 4;
const TARGET_INSERTS_PER_SECOND: f64 = 50_000.0;
const TARGET_QUERY: Duration = Duration::from_millis(100);
const QUERIES: usize = 20;
const START_MS: i64 = 1_700_000_000_000;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let total: i64 = args
        .iter()
        .position(|a| a == "--points")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse())
        .transpose()
        .context("--points takes a number")?
        .unwrap_or(10_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(total))
}

async fn run(total: i64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(&dir.path().join("ferrite.db")).await?;
    let store = HistoryStore::open(db, Retention::default());
    let names: Vec<String> = (0..SERIES).map(|s| format!("plc.value{s}")).collect();

    let started = Instant::now();
    for i in 0..total {
        let series = i % SERIES;
        let ts = START_MS + (i / SERIES) * 1000;
        let value = ((i / SERIES) as f64 / 600.0).sin() * 100.0 + series as f64;
        store
            .record_wait(&names[series as usize], ts, HistoryValue::Number(value))
            .await?;
    }
    store.flush().await?;
    let elapsed = started.elapsed();
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "insert: {total} points in {:.1} s = {rate:.0} points/s (target >= {TARGET_INSERTS_PER_SECOND:.0}) {}",
        elapsed.as_secs_f64(),
        verdict(rate >= TARGET_INSERTS_PER_SECOND)
    );

    let last_ts = START_MS + (total / SERIES) * 1000;
    let query = HistoryQuery {
        series: names[0].clone(),
        from_ms: START_MS,
        to_ms: last_ts,
        points: Some(1000),
        agg: Agg::Avg,
    };
    let mut times = Vec::with_capacity(QUERIES);
    let mut buckets = 0;
    for _ in 0..QUERIES {
        let t = Instant::now();
        buckets = store.query(&query).await?.len();
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[QUERIES / 2];
    // p99 of 20 samples is the slowest.
    let p99 = times[QUERIES - 1];
    println!(
        "query: {buckets} buckets over {} points of one series: median {median:.1?}, p99 {p99:.1?} (target < {TARGET_QUERY:?}) {}",
        total / SERIES,
        verdict(p99 < TARGET_QUERY)
    );

    let t = Instant::now();
    let csv = to_csv(&store.query(&query).await?);
    let csv_time = t.elapsed();
    println!(
        "csv: {} rows, {} bytes in {csv_time:.1?}",
        csv.lines().count() - 1,
        csv.len()
    );
    let size = std::fs::metadata(dir.path().join("ferrite.db"))?.len();
    println!("ferrite.db: {:.0} MB", size as f64 / 1e6);
    store.close().await;
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "MISSED" }
}
