//! History: time series in `ferrite.db`, written in batches and read back bucketed.
//!
//! Writes never wait on SQLite: [`HistoryStore::record`] queues a point for the writer
//! task, which commits every [`FLUSH_EVERY`] or [`BATCH_MAX`] points in one transaction.
//! When the queue is full `record` counts the point as dropped and warns (it must not
//! block a node that cannot wait); [`HistoryStore::record_wait`] waits for room instead,
//! which is what a node in a flow uses, so a burst slows its senders (backpressure) and
//! loses nothing.
//!
//! Reads: a bucketed query over millions of points would scan them all with a plain
//! GROUP BY, so the writer also keeps rollups (min / max / sum / count / last per
//! 10 s, 1 min and 1 h) and a query answers from the coarsest rollup that still gives at
//! least the asked number of buckets, falling back to the raw points when the range is
//! narrow. Buckets are aligned to that rollup, so each rollup row falls in exactly one
//! bucket. Only rollup rows wholly inside the range are used: the parts of the range in
//! the rows at either edge are read from the raw points, so a bucket never counts a point
//! outside the range, and a query gives the same aggregates as the raw points would.
//!
//! Retention (`historyMaxAgeDays`, `historyMaxPoints` per series) is applied by a
//! periodic prune on the writer task. Rollup rows wholly older than what was pruned are
//! removed, and the rows that straddle the cut are recomputed from the points left, so
//! they never count pruned points.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use sqlx::Row;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::store::Db;

/// Longest a recorded point waits before it is committed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Points committed in one transaction at most.
pub const BATCH_MAX: usize = 5000;
/// Points queued for the writer before `record` drops and `record_wait` waits.
const QUEUE: usize = 50_000;
/// How often retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Rollup resolutions (ms), finest first.
const RESOLUTIONS: [i64; 3] = [10_000, 60_000, 3_600_000];
/// Rows per multi-row INSERT (4 and 10 bound values a row, far under SQLite's limit).
const ROWS_PER_INSERT: usize = 200;
/// Query bounds are clamped to ±this (2^53 ms: JavaScript's safe integers).
const MAX_TS: i64 = 1 << 53;
/// Bucketed queries answer at most this many buckets.
pub const MAX_POINTS: usize = 100_000;

/// A recorded value: numbers (booleans as 0/1) or text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HistoryValue {
    Number(f64),
    Text(String),
}

impl From<f64> for HistoryValue {
    fn from(v: f64) -> Self {
        Self::Number(v)
    }
}

impl From<bool> for HistoryValue {
    fn from(v: bool) -> Self {
        Self::Number(if v { 1.0 } else { 0.0 })
    }
}

impl From<&str> for HistoryValue {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

/// Which value of a bucket a caller wants as "the" value (CSV, charts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Agg {
    Min,
    Max,
    #[default]
    Avg,
    Last,
}

impl std::str::FromStr for Agg {
    type Err = HistoryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "min" => Ok(Self::Min),
            "max" => Ok(Self::Max),
            "avg" => Ok(Self::Avg),
            "last" => Ok(Self::Last),
            other => Err(HistoryError::BadAgg(other.to_owned())),
        }
    }
}

impl Agg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Min => "min",
            Self::Max => "max",
            Self::Avg => "avg",
            Self::Last => "last",
        }
    }
}

/// A range query. `points: None` returns every raw point; `Some(n)` at most `n` buckets
/// (raw points when there are no more than `n` of them).
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub series: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub points: Option<usize>,
    pub agg: Agg,
}

/// One bucket (or one raw point, with `count` 1). `min`/`max`/`avg` cover numbers only.
/// Serialises as `[ts, min, max, avg, last, count]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub ts_ms: i64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub avg: Option<f64>,
    pub last: Option<HistoryValue>,
    pub count: u64,
}

impl HistoryPoint {
    /// The value `agg` picks (`last` for text series whatever `agg` is).
    pub fn value(&self, agg: Agg) -> Option<HistoryValue> {
        let number = match agg {
            Agg::Min => self.min,
            Agg::Max => self.max,
            Agg::Avg => self.avg,
            Agg::Last => None,
        };
        number
            .map(HistoryValue::Number)
            .or_else(|| self.last.clone())
    }
}

impl Serialize for HistoryPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (
            self.ts_ms, self.min, self.max, self.avg, &self.last, self.count,
        )
            .serialize(s)
    }
}

/// How much history is kept: by age and by points per series (`None`: unlimited).
#[derive(Debug, Clone, Copy, Default)]
pub struct Retention {
    pub max_age_ms: Option<i64>,
    pub max_points: Option<u64>,
}

impl Retention {
    /// From the settings keys `historyMaxAgeDays` and `historyMaxPoints` (0: unlimited).
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        let days = settings.history_max_age_days;
        Self {
            max_age_ms: (days > 0.0).then_some((days * 86_400_000.0) as i64),
            max_points: (settings.history_max_points > 0).then_some(settings.history_max_points),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("history database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("the history writer has stopped")]
    Closed,
    #[error("'to' ({to}) is before 'from' ({from})")]
    BadRange { from: i64, to: i64 },
    #[error("unknown aggregate '{0}': use min, max, avg or last")]
    BadAgg(String),
}

struct Point {
    series: String,
    ts_ms: i64,
    value: HistoryValue,
}

impl Point {
    /// Timestamps are clamped to ±[`MAX_TS`], like query bounds, so rollup buckets
    /// can be computed for any timestamp a message carries.
    fn new(series: &str, ts_ms: i64, value: HistoryValue) -> Self {
        Self {
            series: series.to_owned(),
            ts_ms: ts_ms.clamp(-MAX_TS, MAX_TS),
            value,
        }
    }
}

enum Cmd {
    Point(Point),
    Flush(oneshot::Sender<Result<(), HistoryError>>),
    Prune(oneshot::Sender<Result<u64, HistoryError>>),
    Close(oneshot::Sender<()>),
    Delete(String, oneshot::Sender<Result<u64, HistoryError>>),
}

/// The history of one runtime, on its `ferrite.db`.
pub struct HistoryStore {
    db: Db,
    tx: mpsc::Sender<Cmd>,
    dropped: AtomicU64,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryStore")
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl HistoryStore {
    /// Starts the writer task on `db` (needs a Tokio runtime).
    pub fn open(db: Db, retention: Retention) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = Writer {
            db: db.clone(),
            ids: HashMap::new(),
            // Unique within a (series, ts) after a restart too: it starts from the clock in
            // µs, which the writer (far under a million points a second) never overtakes.
            seq: chrono::Utc::now().timestamp_micros(),
            batch: Vec::with_capacity(BATCH_MAX),
            retention,
        };
        let task = tokio::spawn(writer.run(rx));
        Arc::new(Self {
            db,
            tx,
            dropped: AtomicU64::new(0),
            writer: Mutex::new(Some(task)),
        })
    }

    /// Queues a point without waiting; when the queue is full the point is counted in
    /// [`Self::dropped`] and a warning logged.
    pub fn record(&self, series: &str, ts_ms: i64, value: HistoryValue) {
        let point = Point::new(series, ts_ms, value);
        if self.tx.try_send(Cmd::Point(point)).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Once per 10,000 so a flood does not become a log flood.
            if dropped % 10_000 == 1 {
                tracing::warn!(
                    series,
                    dropped,
                    "History queue full or closed; points dropped."
                );
            }
        }
    }

    /// Queues a point, waiting while the queue is full.
    pub async fn record_wait(
        &self,
        series: &str,
        ts_ms: i64,
        value: HistoryValue,
    ) -> Result<(), HistoryError> {
        let point = Point::new(series, ts_ms, value);
        self.tx
            .send(Cmd::Point(point))
            .await
            .map_err(|_| HistoryError::Closed)
    }

    /// Points `record` could not queue.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Commits everything queued before this call.
    pub async fn flush(&self) -> Result<(), HistoryError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Cmd::Flush(done))
            .await
            .map_err(|_| HistoryError::Closed)?;
        wait.await.map_err(|_| HistoryError::Closed)?
    }

    /// Applies retention now (it also runs every ten minutes); returns points removed.
    pub async fn prune(&self) -> Result<u64, HistoryError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Cmd::Prune(done))
            .await
            .map_err(|_| HistoryError::Closed)?;
        wait.await.map_err(|_| HistoryError::Closed)?
    }

    /// Removes every point of a series (after committing what is queued, so points
    /// recorded before this call go too and later ones stay); returns how many.
    pub async fn delete_series(&self, series: &str) -> Result<u64, HistoryError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Cmd::Delete(series.to_owned(), done))
            .await
            .map_err(|_| HistoryError::Closed)?;
        wait.await.map_err(|_| HistoryError::Closed)?
    }

    /// Commits what is queued and stops the writer.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Cmd::Close(done)).await.is_ok() {
            let _ = wait.await;
        }
        if let Some(task) = self.writer.lock().await.take() {
            let _ = task.await;
        }
    }

    /// Every series name, sorted.
    pub async fn series_list(&self) -> Result<Vec<String>, HistoryError> {
        let rows = sqlx::query("SELECT name FROM history_series ORDER BY name")
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    /// Points of one series in `[from_ms, to_ms]`, oldest first (see [`HistoryQuery`]).
    /// Bounds beyond ±2^53 ms (JavaScript's safe integers, ~285,000 years) are clamped,
    /// so the bucket arithmetic cannot overflow whatever a caller asks.
    pub async fn query(&self, q: &HistoryQuery) -> Result<Vec<HistoryPoint>, HistoryError> {
        if q.to_ms < q.from_ms {
            return Err(HistoryError::BadRange {
                from: q.from_ms,
                to: q.to_ms,
            });
        }
        let (from, to) = (q.from_ms.max(-MAX_TS), q.to_ms.min(MAX_TS));
        if to < from {
            return Ok(Vec::new());
        }
        let Some(sid) = self.series_id(&q.series).await? else {
            return Ok(Vec::new());
        };
        let Some(points) = q.points else {
            return self.raw(sid, from, to).await;
        };
        let points = points.clamp(1, MAX_POINTS);
        let span = to - from + 1;
        let width = span.div_euclid(points as i64) + i64::from(span % points as i64 != 0);
        let mut acc = BTreeMap::new();
        let start = match RESOLUTIONS.iter().rev().find(|r| **r <= width) {
            Some(&res) => {
                let width = width.div_euclid(res) * res + if width % res != 0 { res } else { 0 };
                let start = from.div_euclid(res) * res;
                // Only rollup rows wholly inside the range may be used: a row at either
                // edge also counts points outside it. Those partial edges (each shorter
                // than one row) are read from the raw points instead.
                let inner_from = start + if from == start { 0 } else { res };
                let inner_end = (to + 1).div_euclid(res) * res;
                if inner_from < inner_end {
                    let grid = Grid { sid, start, width };
                    if from < inner_from {
                        self.fold(Source::Raw, grid, from, inner_from - 1, &mut acc)
                            .await?;
                    }
                    self.fold(
                        Source::Rollup(res),
                        grid,
                        inner_from,
                        inner_end - res,
                        &mut acc,
                    )
                    .await?;
                    if inner_end <= to {
                        self.fold(Source::Raw, grid, inner_end, to, &mut acc)
                            .await?;
                    }
                } else {
                    let grid = Grid { sid, start, width };
                    self.fold(Source::Raw, grid, from, to, &mut acc).await?;
                }
                Grid { sid, start, width }
            }
            None => {
                let grid = Grid {
                    sid,
                    start: from,
                    width,
                };
                self.fold(Source::Raw, grid, from, to, &mut acc).await?;
                grid
            }
        };
        let total: i64 = acc.values().map(|p: &Partial| p.count).sum();
        if total <= points as i64 {
            // Few enough to send as they are.
            return self.raw(sid, from, to).await;
        }
        Ok(acc
            .into_iter()
            .map(|(b, p)| p.into_point(start.start + b * start.width))
            .collect())
    }

    async fn series_id(&self, name: &str) -> Result<Option<i64>, HistoryError> {
        let row = sqlx::query("SELECT id FROM history_series WHERE name = ?")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn raw(&self, sid: i64, from: i64, to: i64) -> Result<Vec<HistoryPoint>, HistoryError> {
        let rows = sqlx::query(
            "SELECT ts_ms, CASE WHEN typeof(value) = 'text' THEN NULL ELSE CAST(value AS REAL) END, \
             CASE WHEN typeof(value) = 'text' THEN value END \
             FROM history_points WHERE series_id = ? AND ts_ms BETWEEN ? AND ? ORDER BY ts_ms, seq",
        )
        .bind(sid)
        .bind(from)
        .bind(to)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let number: Option<f64> = r.try_get(1)?;
                let last = last_of(number, r.try_get(2)?);
                Ok(HistoryPoint {
                    ts_ms: r.try_get(0)?,
                    min: number,
                    max: number,
                    avg: number,
                    last,
                    count: 1,
                })
            })
            .collect()
    }

    /// Adds what `source` holds in `[from, to]` to the buckets of `grid` in `acc` (keyed by
    /// bucket number): aggregates in one query, the newest value per bucket in another
    /// (SQLite gives a bare column from the row `max()` picked). For a rollup, `from` and
    /// `to` must be row starts.
    async fn fold(
        &self,
        source: Source,
        grid: Grid,
        from: i64,
        to: i64,
        acc: &mut BTreeMap<i64, Partial>,
    ) -> Result<(), HistoryError> {
        let (aggs_sql, lasts_sql, res) = match source {
            Source::Raw => (
                "SELECT (ts_ms - ?1) / ?2 AS b, min(n), max(n), total(n), count(n), count(*) FROM \
                 (SELECT ts_ms, CASE WHEN typeof(value) = 'text' THEN NULL ELSE CAST(value AS REAL) END AS n \
                  FROM history_points WHERE series_id = ?3 AND ts_ms BETWEEN ?5 AND ?6) \
                 GROUP BY b ORDER BY b",
                "SELECT (ts_ms - ?1) / ?2 AS b, \
                 CASE WHEN typeof(value) = 'text' THEN NULL ELSE CAST(value AS REAL) END, \
                 CASE WHEN typeof(value) = 'text' THEN value END, max(ts_ms) \
                 FROM history_points WHERE series_id = ?3 AND ts_ms BETWEEN ?5 AND ?6 \
                 GROUP BY b ORDER BY b",
                0,
            ),
            Source::Rollup(res) => (
                "SELECT (bucket_ms - ?1) / ?2 AS b, min(mn), max(mx), total(sum), sum(num), sum(count) \
                 FROM history_rollup WHERE series_id = ?3 AND res_ms = ?4 AND bucket_ms BETWEEN ?5 AND ?6 \
                 GROUP BY b ORDER BY b",
                "SELECT (bucket_ms - ?1) / ?2 AS b, \
                 CASE WHEN typeof(last) = 'text' THEN NULL ELSE CAST(last AS REAL) END, \
                 CASE WHEN typeof(last) = 'text' THEN last END, max(last_ts) \
                 FROM history_rollup WHERE series_id = ?3 AND res_ms = ?4 AND bucket_ms BETWEEN ?5 AND ?6 \
                 GROUP BY b ORDER BY b",
                res,
            ),
        };
        let run = |sql: &'static str| {
            sqlx::query(sql)
                .bind(grid.start)
                .bind(grid.width)
                .bind(grid.sid)
                .bind(res)
                .bind(from)
                .bind(to)
                .fetch_all(self.db.pool())
        };
        let aggs = run(aggs_sql).await?;
        let lasts = run(lasts_sql).await?;
        let mut last_by_bucket = HashMap::with_capacity(lasts.len());
        for r in &lasts {
            let b: i64 = r.try_get(0)?;
            let last = last_of(r.try_get(1)?, r.try_get(2)?);
            last_by_bucket.insert(b, (last, r.try_get::<i64, _>(3)?));
        }
        for r in &aggs {
            let b: i64 = r.try_get(0)?;
            let (last, last_ts) = last_by_bucket.remove(&b).unwrap_or((None, i64::MIN));
            let part = Partial {
                mn: r.try_get(1)?,
                mx: r.try_get(2)?,
                sum: r.try_get(3)?,
                num: r.try_get(4)?,
                count: r.try_get(5)?,
                last,
                last_ts,
            };
            match acc.entry(b) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(part);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().merge(part),
            }
        }
        Ok(())
    }
}

/// Where a query reads from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Raw,
    /// The rollup of this resolution.
    Rollup(i64),
}

/// A query's buckets: `width` ms each from `start`, of series `sid`.
#[derive(Debug, Clone, Copy)]
struct Grid {
    sid: i64,
    start: i64,
    width: i64,
}

fn last_of(number: Option<f64>, text: Option<String>) -> Option<HistoryValue> {
    number
        .map(HistoryValue::Number)
        .or(text.map(HistoryValue::Text))
}

/// The aggregate of some points: a rollup row being built from a batch, or a query's
/// bucket being put together from rollup rows and raw points.
struct Partial {
    mn: Option<f64>,
    mx: Option<f64>,
    sum: f64,
    num: i64,
    count: i64,
    last: Option<HistoryValue>,
    last_ts: i64,
}

impl Partial {
    const EMPTY: Self = Self {
        mn: None,
        mx: None,
        sum: 0.0,
        num: 0,
        count: 0,
        last: None,
        last_ts: i64::MIN,
    };

    fn add(&mut self, ts_ms: i64, value: &HistoryValue) {
        let number = match value {
            HistoryValue::Number(v) => Some(*v),
            HistoryValue::Text(_) => None,
        };
        self.merge(Self {
            mn: number,
            mx: number,
            sum: number.unwrap_or(0.0),
            num: i64::from(number.is_some()),
            count: 1,
            last: Some(value.clone()),
            last_ts: ts_ms,
        });
    }

    /// Takes in `other`'s points; on equal newest timestamps `other`'s value wins (it
    /// was recorded later).
    fn merge(&mut self, other: Self) {
        self.mn = either(self.mn, other.mn, f64::min);
        self.mx = either(self.mx, other.mx, f64::max);
        self.sum += other.sum;
        self.num += other.num;
        self.count += other.count;
        if other.last.is_some() && other.last_ts >= self.last_ts {
            self.last = other.last;
            self.last_ts = other.last_ts;
        }
    }

    fn into_point(self, ts_ms: i64) -> HistoryPoint {
        HistoryPoint {
            ts_ms,
            min: self.mn,
            max: self.mx,
            avg: (self.num > 0).then(|| self.sum / self.num as f64),
            last: self.last,
            count: u64::try_from(self.count).unwrap_or(0),
        }
    }
}

/// `pick` of two optional numbers, either alone when the other is missing.
fn either(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

struct Writer {
    db: Db,
    ids: HashMap<String, i64>,
    seq: i64,
    batch: Vec<Point>,
    retention: Retention,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut flush_tick = tokio::time::interval(FLUSH_EVERY);
        flush_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut prune_tick = tokio::time::interval(PRUNE_EVERY);
        prune_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Cmd::Point(p)) => {
                        self.batch.push(p);
                        if self.batch.len() >= BATCH_MAX {
                            self.flush_logged().await;
                        }
                    }
                    Some(Cmd::Flush(done)) => {
                        let _ = done.send(self.flush().await);
                    }
                    Some(Cmd::Prune(done)) => {
                        self.flush_logged().await;
                        let _ = done.send(self.prune().await);
                    }
                    Some(Cmd::Delete(series, done)) => {
                        self.flush_logged().await;
                        let _ = done.send(self.delete(&series).await);
                    }
                    Some(Cmd::Close(done)) => {
                        self.flush_logged().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.flush_logged().await;
                        return;
                    }
                },
                _ = flush_tick.tick() => self.flush_logged().await,
                _ = prune_tick.tick() => {
                    if let Err(error) = self.prune().await {
                        tracing::warn!(%error, "History retention failed.");
                    }
                }
            }
        }
    }

    async fn flush_logged(&mut self) {
        let points = self.batch.len();
        if let Err(error) = self.flush().await {
            tracing::error!(%error, points, "History points could not be written; they are lost.");
        }
    }

    /// Commits the batch, points and rollups, in one transaction.
    async fn flush(&mut self) -> Result<(), HistoryError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        // Series rows first, outside the transaction, so a failed batch leaves no id in
        // the cache that the database does not have.
        for p in &batch {
            if !self.ids.contains_key(&p.series) {
                let id = self.series_id(&p.series).await?;
                self.ids.insert(p.series.clone(), id);
            }
        }
        let mut rolls: HashMap<(i64, i64, i64), Partial> = HashMap::new();
        let mut rows = Vec::with_capacity(batch.len());
        for p in &batch {
            let sid = self.ids[&p.series];
            self.seq += 1;
            rows.push((sid, p.ts_ms, self.seq, &p.value));
            for res in RESOLUTIONS {
                let bucket = p.ts_ms.div_euclid(res) * res;
                rolls
                    .entry((sid, res, bucket))
                    .or_insert(Partial::EMPTY)
                    .add(p.ts_ms, &p.value);
            }
        }
        let mut tx = self.db.pool().begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let sql = insert_sql(
                "INSERT INTO history_points (series_id, ts_ms, seq, value) VALUES ",
                "(?,?,?,?)",
                chunk.len(),
                "",
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (sid, ts, seq, value) in chunk {
                q = bind_value(q.bind(*sid).bind(*ts).bind(*seq), value);
            }
            q.execute(&mut *tx).await?;
        }
        let rolls: Vec<_> = rolls.into_iter().collect();
        for chunk in rolls.chunks(ROWS_PER_INSERT) {
            let sql = insert_sql(
                "INSERT INTO history_rollup \
                 (series_id, res_ms, bucket_ms, mn, mx, sum, num, count, last, last_ts) VALUES ",
                "(?,?,?,?,?,?,?,?,?,?)",
                chunk.len(),
                " ON CONFLICT (series_id, res_ms, bucket_ms) DO UPDATE SET \
                 mn = min(coalesce(mn, excluded.mn), coalesce(excluded.mn, mn)), \
                 mx = max(coalesce(mx, excluded.mx), coalesce(excluded.mx, mx)), \
                 sum = sum + excluded.sum, num = num + excluded.num, count = count + excluded.count, \
                 last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END, \
                 last_ts = max(last_ts, excluded.last_ts)",
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((sid, res, bucket), r) in chunk {
                q = q
                    .bind(*sid)
                    .bind(*res)
                    .bind(*bucket)
                    .bind(r.mn)
                    .bind(r.mx)
                    .bind(r.sum)
                    .bind(r.num)
                    .bind(r.count);
                q = match &r.last {
                    Some(last) => bind_value(q, last),
                    None => q.bind(None::<f64>),
                }
                .bind(r.last_ts);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn series_id(&self, name: &str) -> Result<i64, HistoryError> {
        sqlx::query("INSERT OR IGNORE INTO history_series (name) VALUES (?)")
            .bind(name)
            .execute(self.db.pool())
            .await?;
        let row = sqlx::query("SELECT id FROM history_series WHERE name = ?")
            .bind(name)
            .fetch_one(self.db.pool())
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn delete(&mut self, series: &str) -> Result<u64, HistoryError> {
        // The series row stays: the id cache keeps pointing at it.
        let pool = self.db.pool();
        let Some(row) = sqlx::query("SELECT id FROM history_series WHERE name = ?")
            .bind(series)
            .fetch_optional(pool)
            .await?
        else {
            return Ok(0);
        };
        let sid: i64 = row.try_get(0)?;
        let mut tx = pool.begin().await?;
        let removed = sqlx::query("DELETE FROM history_points WHERE series_id = ?")
            .bind(sid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM history_rollup WHERE series_id = ?")
            .bind(sid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Removes points past the retention limits; returns how many.
    async fn prune(&mut self) -> Result<u64, HistoryError> {
        let Retention {
            max_age_ms,
            max_points,
        } = self.retention;
        if max_age_ms.is_none() && max_points.is_none() {
            return Ok(0);
        }
        let pool = self.db.pool();
        let series: Vec<i64> = sqlx::query("SELECT id FROM history_series")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut removed = 0;
        for sid in series {
            // One transaction a series, so a query never sees points gone but their
            // rollups not yet corrected.
            let mut tx = pool.begin().await?;
            if let Some(age) = max_age_ms {
                let cutoff = chrono::Utc::now().timestamp_millis() - age;
                let gone =
                    sqlx::query("DELETE FROM history_points WHERE series_id = ? AND ts_ms < ?")
                        .bind(sid)
                        .bind(cutoff)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if gone > 0 {
                    fix_rollups_at(&mut tx, sid, cutoff).await?;
                }
                removed += gone;
            }
            if let Some(max) = max_points {
                // The oldest point to keep; everything before it goes.
                let keep = sqlx::query(
                    "SELECT ts_ms, seq FROM history_points WHERE series_id = ? \
                     ORDER BY ts_ms DESC, seq DESC LIMIT 1 OFFSET ?",
                )
                .bind(sid)
                .bind(i64::try_from(max.saturating_sub(1)).unwrap_or(i64::MAX))
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = keep {
                    let (ts, seq): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
                    let gone = sqlx::query(
                        "DELETE FROM history_points WHERE series_id = ? AND (ts_ms, seq) < (?, ?)",
                    )
                    .bind(sid)
                    .bind(ts)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if gone > 0 {
                        fix_rollups_at(&mut tx, sid, ts).await?;
                    }
                    removed += gone;
                }
            }
            tx.commit().await?;
        }
        if removed > 0 {
            tracing::debug!(removed, "History retention removed points.");
        }
        Ok(removed)
    }
}

/// After the points of series `sid` before a cut at `cut` ms were removed: drops the
/// rollup rows that end at or before the cut and recomputes, from the points left, the
/// row of each resolution that holds the cut, so no rollup counts a removed point.
async fn fix_rollups_at(
    tx: &mut sqlx::SqliteConnection,
    sid: i64,
    cut: i64,
) -> Result<(), HistoryError> {
    sqlx::query("DELETE FROM history_rollup WHERE series_id = ? AND bucket_ms + res_ms <= ?")
        .bind(sid)
        .bind(cut)
        .execute(&mut *tx)
        .await?;
    for res in RESOLUTIONS {
        let bucket = cut.div_euclid(res) * res;
        sqlx::query(
            "DELETE FROM history_rollup WHERE series_id = ? AND res_ms = ? AND bucket_ms = ?",
        )
        .bind(sid)
        .bind(res)
        .bind(bucket)
        .execute(&mut *tx)
        .await?;
        // No row when no point is left in it (the GROUP BY of no rows is no row).
        sqlx::query(
            "INSERT INTO history_rollup \
             (series_id, res_ms, bucket_ms, mn, mx, sum, num, count, last, last_ts) \
             SELECT ?1, ?2, ?3, min(n), max(n), total(n), count(n), count(*), \
             (SELECT value FROM history_points WHERE series_id = ?1 AND ts_ms >= ?3 AND ts_ms < ?3 + ?2 \
              ORDER BY ts_ms DESC, seq DESC LIMIT 1), max(ts_ms) \
             FROM (SELECT series_id, ts_ms, \
                   CASE WHEN typeof(value) = 'text' THEN NULL ELSE CAST(value AS REAL) END AS n \
                   FROM history_points WHERE series_id = ?1 AND ts_ms >= ?3 AND ts_ms < ?3 + ?2) \
             GROUP BY series_id",
        )
        .bind(sid)
        .bind(res)
        .bind(bucket)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

fn insert_sql(head: &str, row: &str, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + rows * (row.len() + 1) + tail.len());
    sql.push_str(head);
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(row);
    }
    sql.push_str(tail);
    sql
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

fn bind_value<'q>(q: Query<'q>, value: &'q HistoryValue) -> Query<'q> {
    match value {
        HistoryValue::Number(v) => q.bind(*v),
        HistoryValue::Text(s) => q.bind(s.as_str()),
    }
}

/// CSV of a query's answer: a header line, then one row per bucket (`ts` in epoch ms
/// and as ISO 8601, the aggregates, empty where there is none).
pub fn to_csv(points: &[HistoryPoint]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64 + points.len() * 64);
    out.push_str("ts,time,min,max,avg,last,count\n");
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for p in points {
        let time = chrono::DateTime::from_timestamp_millis(p.ts_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let last = match &p.last {
            Some(HistoryValue::Number(v)) => v.to_string(),
            Some(HistoryValue::Text(s)) => csv_field(s),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{},{time},{},{},{},{last},{}",
            p.ts_ms,
            number(p.min),
            number(p.max),
            number(p.avg),
            p.count
        );
    }
    out
}

/// Quotes a text field when it holds a separator, a quote or a line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open(dir: &tempfile::TempDir, retention: Retention) -> (Db, Arc<HistoryStore>) {
        let db = Db::open(&dir.path().join("ferrite.db"))
            .await
            .expect("db opens");
        let store = HistoryStore::open(db.clone(), retention);
        (db, store)
    }

    fn query(series: &str, from_ms: i64, to_ms: i64, points: Option<usize>) -> HistoryQuery {
        HistoryQuery {
            series: series.to_owned(),
            from_ms,
            to_ms,
            points,
            agg: Agg::Avg,
        }
    }

    fn number(v: f64) -> Option<HistoryValue> {
        Some(HistoryValue::Number(v))
    }

    fn bucket(ts_ms: i64, min: f64, max: f64, avg: f64, last: f64, count: u64) -> HistoryPoint {
        HistoryPoint {
            ts_ms,
            min: Some(min),
            max: Some(max),
            avg: Some(avg),
            last: number(last),
            count,
        }
    }

    /// Recorded numbers, booleans and text come back as raw points in time order.
    #[tokio::test]
    async fn round_trip_keeps_values_and_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, store) = open(&dir, Retention::default()).await;
        store.record("s", 20, HistoryValue::Number(2.5));
        store.record("s", 10, HistoryValue::from(true));
        store.record("s", 30, HistoryValue::from("on"));
        store.record("other", 15, HistoryValue::Number(9.0));
        store.flush().await.expect("flush");
        let points = store.query(&query("s", 0, 100, None)).await.expect("query");
        let values: Vec<_> = points.iter().map(|p| (p.ts_ms, p.last.clone())).collect();
        assert_eq!(
            values,
            vec![
                (10, number(1.0)),
                (20, number(2.5)),
                (30, Some(HistoryValue::Text("on".into())))
            ]
        );
        assert_eq!(points[2].avg, None, "text has no average");
        assert_eq!(
            store.series_list().await.expect("list"),
            vec!["other".to_owned(), "s".to_owned()]
        );
    }

    /// Buckets over raw points give min, max, avg, last and count of each bucket.
    #[tokio::test]
    async fn raw_buckets_aggregate_each_bucket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, store) = open(&dir, Retention::default()).await;
        for (ts, v) in [
            (0, 3.0),
            (1, 1.0),
            (2, 4.0),
            (3, 1.0),
            (4, 5.0),
            (5, 9.0),
            (6, 2.0),
            (7, 6.0),
            (8, 5.0),
            (9, 3.0),
        ] {
            store.record("s", ts, HistoryValue::Number(v));
        }
        store.flush().await.expect("flush");
        let points = store
            .query(&query("s", 0, 9, Some(2)))
            .await
            .expect("query");
        assert_eq!(
            points,
            vec![
                bucket(0, 1.0, 5.0, 2.8, 5.0, 5),
                bucket(5, 2.0, 9.0, 5.0, 3.0, 5)
            ]
        );
    }

    /// Wide ranges are answered from the rollups, with the same aggregates, also when one
    /// rollup row was written by several batches.
    #[tokio::test]
    async fn rollup_buckets_match_the_points() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, store) = open(&dir, Retention::default()).await;
        // One point a minute for two hours, value = minute; written in two batches that
        // share the first hour's rollup rows.
        for k in 0..120_i64 {
            store.record("s", k * 60_000, HistoryValue::Number(k as f64));
            if k == 30 {
                store.flush().await.expect("flush");
            }
        }
        store.flush().await.expect("flush");
        let hourly = store
            .query(&query("s", 0, 7_199_999, Some(2)))
            .await
            .expect("query");
        assert_eq!(
            hourly,
            vec![
                bucket(0, 0.0, 59.0, 29.5, 59.0, 60),
                bucket(3_600_000, 60.0, 119.0, 89.5, 119.0, 60)
            ]
        );
        let ten_minutes = store
            .query(&query("s", 0, 7_199_999, Some(12)))
            .await
            .expect("query");
        assert_eq!(ten_minutes.len(), 12);
        assert_eq!(ten_minutes[0], bucket(0, 0.0, 9.0, 4.5, 9.0, 10));
        assert_eq!(
            ten_minutes[11],
            bucket(6_600_000, 110.0, 119.0, 114.5, 119.0, 10)
        );
    }

    /// A query asking for more buckets than there are points answers the raw points.
    #[tokio::test]
    async fn few_points_come_back_raw() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, store) = open(&dir, Retention::default()).await;
        store.record("s", 100, HistoryValue::Number(1.0));
        store.record("s", 200_000, HistoryValue::Number(2.0));
        store.flush().await.expect("flush");
        let points = store
            .query(&query("s", 0, 1_000_000, Some(1000)))
            .await
            .expect("query");
        assert_eq!(
            points,
            vec![
                bucket(100, 1.0, 1.0, 1.0, 1.0, 1),
                bucket(200_000, 2.0, 2.0, 2.0, 2.0, 1)
            ]
        );
    }

    /// `to` before `from` is an error, an unknown series an empty answer.
    #[tokio::test]
    async fn bad_range_is_an_error_and_unknown_series_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, store) = open(&dir, Retention::default()).await;
        assert!(matches!(
            store.query(&query("s", 10, 5, None)).await,
            Err(HistoryError::BadRange { from: 10, to: 5 })
        ));
        assert_eq!(
            store
                .query(&query("nope", 0, 5, Some(10)))
                .await
                .expect("query"),
            vec![]
        );
    }

    /// Retention by count keeps the newest points of each series.
    #[tokio::test]
    async fn retention_by_count_keeps_the_newest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let retention = Retention {
            max_age_ms: None,
            max_points: Some(3),
        };
        let (_db, store) = open(&dir, retention).await;
        for ts in 0..10 {
            store.record("a", ts, HistoryValue::Number(ts as f64));
        }
        store.record("b", 5, HistoryValue::Number(1.0));
        assert_eq!(store.prune().await.expect("prune"), 7);
        let kept: Vec<i64> = store
            .query(&query("a", 0, 100, None))
            .await
            .expect("query")
            .iter()
            .map(|p| p.ts_ms)
            .collect();
        assert_eq!(kept, vec![7, 8, 9]);
        assert_eq!(
            store
                .query(&query("b", 0, 100, None))
                .await
                .expect("query")
                .len(),
            1
        );
    }

    /// Retention by age removes points (and their rollups) older than the limit.
    #[tokio::test]
    async fn retention_by_age_removes_old_points() {
        let dir = tempfile::tempdir().expect("tempdir");
        let retention = Retention {
            max_age_ms: Some(86_400_000),
            max_points: None,
        };
        let (_db, store) = open(&dir, retention).await;
        let now = chrono::Utc::now().timestamp_millis();
        store.record("a", now - 3 * 86_400_000, HistoryValue::Number(1.0));
        store.record("a", now, HistoryValue::Number(2.0));
        assert_eq!(store.prune().await.expect("prune"), 1);
        let points = store
            .query(&query("a", 0, now + 1, Some(10)))
            .await
            .expect("query");
        assert_eq!(
            points.iter().map(|p| p.ts_ms).collect::<Vec<_>>(),
            vec![now]
        );
        // The hourly rollup of the old point went too.
        let wide = store
            .query(&query("a", now - 5 * 86_400_000, now + 1, Some(2)))
            .await
            .expect("query");
        assert_eq!(wide.iter().map(|p| p.count).sum::<u64>(), 1);
    }

    /// What the raw points of `q`'s range give for each bucket `answer` has, bucket `i`
    /// spanning from its `ts_ms` to the next bucket's (buckets partition time, empty ones
    /// are left out); fails when a point of the range lies before the first bucket.
    async fn assert_buckets_match_raw_points(store: &HistoryStore, q: &HistoryQuery) {
        let answer = store.query(q).await.expect("query");
        let raw = store
            .query(&HistoryQuery {
                points: None,
                ..q.clone()
            })
            .await
            .expect("raw query");
        assert!(!answer.is_empty(), "{q:?}: no buckets");
        assert!(
            raw.first().is_none_or(|p| p.ts_ms >= answer[0].ts_ms),
            "{q:?}: a point lies before the first bucket"
        );
        for (i, got) in answer.iter().enumerate() {
            let end = answer.get(i + 1).map_or(i64::MAX, |next| next.ts_ms);
            let inside: Vec<&HistoryPoint> = raw
                .iter()
                .filter(|p| p.ts_ms >= got.ts_ms && p.ts_ms < end)
                .collect();
            let numbers: Vec<f64> = inside.iter().filter_map(|p| p.min).collect();
            let context = format!("{q:?}, bucket {i} at {}", got.ts_ms);
            assert_eq!(got.count, inside.len() as u64, "count of {context}");
            assert_eq!(
                got.min,
                numbers.iter().copied().reduce(f64::min),
                "min of {context}"
            );
            assert_eq!(
                got.max,
                numbers.iter().copied().reduce(f64::max),
                "max of {context}"
            );
            let avg =
                (!numbers.is_empty()).then(|| numbers.iter().sum::<f64>() / numbers.len() as f64);
            match (got.avg, avg) {
                (Some(a), Some(b)) => {
                    assert!(
                        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                        "avg of {context}: {a} vs {b}"
                    )
                }
                (a, b) => assert_eq!(a, b, "avg of {context}"),
            }
            assert_eq!(
                got.last,
                inside.last().and_then(|p| p.last.clone()),
                "last of {context}"
            );
        }
    }

    /// A query answered from the rollups gives the same min, max, avg, last and count as
    /// the raw points, also for ranges that start and end inside rollup rows.
    #[tokio::test]
    async fn rollup_answers_match_raw_points_for_unaligned_ranges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, store) = open(&dir, Retention::default()).await;
        let mut rng = fastrand::Rng::with_seed(8);
        // A point every 7 s for two days, some of them text.
        let t0 = 1_700_000_003_000_i64;
        let end = t0 + 2 * 86_400_000;
        for (k, ts) in (t0..end).step_by(7_000).enumerate() {
            let value = if k % 97 == 0 {
                HistoryValue::Text(format!("t{k}"))
            } else {
                HistoryValue::Number(rng.f64() * 100.0 - 50.0)
            };
            store.record_wait("s", ts, value).await.expect("record");
        }
        store.flush().await.expect("flush");
        for _ in 0..40 {
            let from = rng.i64(t0 - 3_600_000..end);
            let to = from + rng.i64(2 * 3_600_000..2 * 86_400_000);
            let q = HistoryQuery {
                points: Some(rng.usize(1..=60)),
                ..query("s", from, to, None)
            };
            assert_buckets_match_raw_points(&store, &q).await;
        }
    }

    /// After retention by count cuts inside rollup rows, queries answered from the rollups
    /// count only the points that are left.
    #[tokio::test]
    async fn retention_by_count_corrects_the_rollups_at_the_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A point every 3 s for three hours; the oldest kept is at 4,803 s, inside a 10 s,
        // a 1 min and a 1 h rollup row that also hold pruned points.
        let retention = Retention {
            max_age_ms: None,
            max_points: Some(1999),
        };
        let (_db, store) = open(&dir, retention).await;
        for k in 0..3600_i64 {
            store
                .record_wait("s", k * 3000, HistoryValue::Number((k % 50) as f64))
                .await
                .expect("record");
        }
        store.prune().await.expect("prune");
        let left = store
            .query(&query("s", 0, i64::MAX, None))
            .await
            .expect("query");
        // (The writer's own periodic prune may have run first: the points left say
        // what retention did, not the count `prune` returns.)
        assert_eq!((left.len(), left[0].ts_ms), (1999, 4_803_000));
        // 3 buckets: the hourly rollup; 6: by the minute; 500: by 10 s.
        for points in [3, 6, 500] {
            let q = query("s", 0, 3 * 3_600_000 - 1, Some(points));
            assert_buckets_match_raw_points(&store, &q).await;
        }
    }

    /// After retention by age cuts inside rollup rows, queries answered from the rollups
    /// count only the points that are left.
    #[tokio::test]
    async fn retention_by_age_corrects_the_rollups_at_the_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = chrono::Utc::now().timestamp_millis();
        // Three hours of a point every 3 s, from a whole hour; the cut falls 1.5 s after
        // the point at 5,001 s (inside a 1 h rollup row), plus however long the test
        // takes to get to the prune.
        let base = (now - 3 * 3_600_000).div_euclid(3_600_000) * 3_600_000;
        let retention = Retention {
            max_age_ms: Some(now - (base + 5_002_500)),
            max_points: None,
        };
        let (_db, store) = open(&dir, retention).await;
        for k in 0..3600_i64 {
            store
                .record_wait("s", base + k * 3000, HistoryValue::Number((k % 50) as f64))
                .await
                .expect("record");
        }
        store.prune().await.expect("prune");
        let left = store
            .query(&query("s", base, i64::MAX, None))
            .await
            .expect("query");
        // However long the test took to get here, the cut is inside the 1 h row.
        assert!(
            (base + 5_004_000..base + 7_200_000).contains(&left[0].ts_ms),
            "the oldest point left is at {}",
            left[0].ts_ms - base
        );
        for points in [3, 6, 500] {
            let q = query("s", base, base + 3 * 3_600_000 - 1, Some(points));
            assert_buckets_match_raw_points(&store, &q).await;
        }
    }

    /// Points survive closing and reopening the database file.
    #[tokio::test]
    async fn restart_keeps_points() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (db, store) = open(&dir, Retention::default()).await;
            store.record("s", 1, HistoryValue::Number(4.0));
            store.record("s", 1, HistoryValue::Number(5.0));
            // Closing commits what is queued.
            store.close().await;
            db.close().await;
        }
        let (_db, store) = open(&dir, Retention::default()).await;
        // Same timestamp after the restart: kept apart from the earlier points.
        store.record("s", 1, HistoryValue::Number(6.0));
        store.flush().await.expect("flush");
        let values: Vec<_> = store
            .query(&query("s", 0, 10, None))
            .await
            .expect("query")
            .into_iter()
            .map(|p| p.last)
            .collect();
        assert_eq!(values, vec![number(4.0), number(5.0), number(6.0)]);
    }

    /// After the writer stopped, `record` counts what it could not queue.
    #[tokio::test]
    async fn record_after_close_counts_dropped_points() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, store) = open(&dir, Retention::default()).await;
        store.close().await;
        store.record("s", 1, HistoryValue::Number(1.0));
        assert_eq!(store.dropped(), 1);
        assert!(matches!(
            store.record_wait("s", 1, HistoryValue::Number(1.0)).await,
            Err(HistoryError::Closed)
        ));
    }

    /// Deleting a series removes its points; later points are kept.
    #[tokio::test]
    async fn delete_series_removes_earlier_points() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_db, store) = open(&dir, Retention::default()).await;
        store.record("s", 1, HistoryValue::Number(1.0));
        assert_eq!(store.delete_series("s").await.expect("delete"), 1);
        store.record("s", 2, HistoryValue::Number(2.0));
        store.flush().await.expect("flush");
        let points = store
            .query(&query("s", 0, 10, Some(10)))
            .await
            .expect("query");
        assert_eq!(points, vec![bucket(2, 2.0, 2.0, 2.0, 2.0, 1)]);
    }

    /// CSV has a header line and one row per bucket, text quoted when needed.
    #[test]
    fn csv_has_header_and_rows() {
        let csv = to_csv(&[
            bucket(0, 1.0, 2.0, 1.5, 2.0, 2),
            HistoryPoint {
                ts_ms: 1000,
                min: None,
                max: None,
                avg: None,
                last: Some(HistoryValue::Text("a,\"b\"".into())),
                count: 1,
            },
        ]);
        assert_eq!(
            csv,
            "ts,time,min,max,avg,last,count\n\
             0,1970-01-01T00:00:00.000Z,1,2,1.5,2,2\n\
             1000,1970-01-01T00:00:01.000Z,,,,\"a,\"\"b\"\"\",1\n"
        );
    }
}
