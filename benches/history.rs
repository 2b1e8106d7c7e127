//! History benchmark (issue 8): stores 10,000,000 points of ONE series (one a second, about
//! 116 days of a PLC value) in a fresh `ferrite.db` through the store's batched writer and
//! reports the sustained insert rate; then times 1,000-point bucketed queries over the
//! whole range, 20 of each aggregate (min / max / avg / last; median and p99), and a CSV
//! export of 1,000 buckets (query plus formatting).
//!
//! `cargo bench --bench history [-- --points N]`. Targets: at least 50,000 inserts a
//! second; the query and the export under 100 ms. Each number is printed against its
//! target; a miss is reported, not a failure.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use ferrite_runtime::history::{Agg, HistoryQuery, HistoryStore, HistoryValue, Retention, to_csv};
use ferrite_runtime::store::Db;

const TARGET_INSERTS_PER_SECOND: f64 = 50_000.0;
const TARGET_QUERY: Duration = Duration::from_millis(100);
const QUERIES: usize = 20;
const BUCKETS: usize = 1000;
/// Not on a whole hour, as a chart's range never is: the query's edges fall inside
/// rollup rows.
const START_MS: i64 = 1_700_000_000_000;
const SERIES: &str = "plc.temperature";

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

    let started = Instant::now();
    for i in 0..total {
        let ts = START_MS + i * 1000;
        // A slow daily swing with a faster ripple, like a temperature.
        let value = 20.0 + 5.0 * (i as f64 / 13_750.0).sin() + (i as f64 / 60.0).sin();
        store
            .record_wait(SERIES, ts, HistoryValue::Number(value))
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

    let last_ts = START_MS + (total - 1) * 1000;
    let query = |agg| HistoryQuery {
        series: SERIES.to_owned(),
        from_ms: START_MS,
        to_ms: last_ts,
        points: Some(BUCKETS),
        agg,
    };
    for agg in [Agg::Min, Agg::Max, Agg::Avg, Agg::Last] {
        let q = query(agg);
        let mut times = Vec::with_capacity(QUERIES);
        let mut buckets = Vec::new();
        for _ in 0..QUERIES {
            let t = Instant::now();
            buckets = store.query(&q).await?;
            // What a chart takes from each bucket, so the pick is part of the time.
            let values = buckets.iter().filter_map(|b| b.value(agg)).count();
            times.push(t.elapsed());
            anyhow::ensure!(values == buckets.len(), "a bucket without a value");
        }
        let counted: u64 = buckets.iter().map(|b| b.count).sum();
        anyhow::ensure!(
            counted == total as u64,
            "the buckets count {counted} points, not {total}"
        );
        times.sort();
        let median = times[QUERIES / 2];
        // p99 of 20 samples is the slowest.
        let p99 = times[QUERIES - 1];
        println!(
            "query {}: {} buckets over {total} points: median {median:.1?}, p99 {p99:.1?} (target < {TARGET_QUERY:?}) {}",
            agg.as_str(),
            buckets.len(),
            verdict(p99 < TARGET_QUERY)
        );
    }

    let t = Instant::now();
    let csv = to_csv(&store.query(&query(Agg::Avg)).await?);
    let csv_time = t.elapsed();
    println!(
        "csv export: {} rows, {} bytes in {csv_time:.1?} (target < {TARGET_QUERY:?}) {}",
        csv.lines().count() - 1,
        csv.len(),
        verdict(csv_time < TARGET_QUERY)
    );
    let size = std::fs::metadata(dir.path().join("ferrite.db"))?.len();
    println!("ferrite.db: {:.0} MB", size as f64 / 1e6);
    store.close().await;
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "MISSED" }
}
