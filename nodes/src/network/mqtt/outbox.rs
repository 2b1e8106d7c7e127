//! Store-and-forward: the messages a broker connection could not hand to its broker yet,
//! kept in SQLite (`ferrite.db`, table `mqtt_outbox`) until the broker acknowledges them.
//!
//! Rows belong to one `mqtt-broker` config node (by id, which Node-RED keeps stable across
//! deploys), so a restarted Ferrite replays what an earlier run accepted. Without a user
//! directory the same code runs on a private in-memory database: the outbox then bridges
//! outages but not restarts.
//!
//! The table is this module's own (created when missing): the runtime's migrations know no
//! node type.

use std::str::FromStr;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use super::codec::{Properties, Publish, QoS};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS mqtt_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    broker     TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    qos        INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    props      TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mqtt_outbox_by_broker ON mqtt_outbox (broker, id);";

/// Which stored message goes first when the broker is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first: the broker sees readings in the order they were taken.
    #[default]
    Fifo,
    /// Newest first: the current state arrives before the history.
    Lifo,
}

/// How much the outbox keeps and how fast it replays.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub order: Order,
    /// Most messages kept (0: no limit); past it the oldest are dropped.
    pub max_messages: u64,
    /// Most payload and topic bytes kept (0: no limit); past it the oldest are dropped.
    pub max_bytes: u64,
    /// Messages per second replayed after a reconnect (0: as fast as the broker takes them).
    pub replay_rate: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            order: Order::Fifo,
            max_messages: 100_000,
            max_bytes: 0,
            replay_rate: 0.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database: {0}")]
    Sql(#[from] sqlx::Error),
}

/// A message read back from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub id: i64,
    pub publish: Publish,
}

/// What a push did besides storing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Oldest messages dropped to stay within the caps.
    pub dropped: u64,
}

/// One broker's outbox. Counts are kept in memory so the status and the caps cost no query.
#[derive(Debug)]
pub struct Outbox {
    pool: SqlitePool,
    broker: String,
    policy: Policy,
    count: u64,
    bytes: u64,
    last_id: i64,
}

/// The v5 properties a stored message keeps.
#[derive(Serialize, Deserialize, Default)]
struct StoredProps {
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_format_indicator: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_expiry_interval: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_data: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    user_properties: Vec<(String, String)>,
}

fn props_to_text(props: Option<&Properties>) -> Option<String> {
    let p = props?;
    let stored = StoredProps {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        content_type: p.content_type.clone(),
        response_topic: p.response_topic.clone(),
        correlation_data: p.correlation_data.as_ref().map(|b| b.to_vec()),
        user_properties: p.user_properties.clone(),
    };
    serde_json::to_string(&stored).ok()
}

fn props_from_text(text: Option<&str>) -> Option<Box<Properties>> {
    let stored: StoredProps = serde_json::from_str(text?).ok()?;
    Some(Box::new(Properties {
        payload_format_indicator: stored.payload_format_indicator,
        message_expiry_interval: stored.message_expiry_interval,
        content_type: stored.content_type,
        response_topic: stored.response_topic,
        correlation_data: stored.correlation_data.map(Bytes::from),
        user_properties: stored.user_properties,
        ..Properties::default()
    }))
}

/// The bytes a message counts against `max_bytes`.
fn size_of(publish: &Publish) -> u64 {
    (publish.topic.len() + publish.payload.len()) as u64
}

impl Outbox {
    /// Opens the outbox of broker `broker` in `pool`'s database, or in a private in-memory
    /// database when there is none.
    pub async fn open(
        pool: Option<&SqlitePool>,
        broker: &str,
        policy: Policy,
    ) -> Result<Self, OutboxError> {
        let pool = match pool {
            Some(pool) => pool.clone(),
            None => {
                // One connection that never closes: an in-memory database lives as long as it.
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(SqliteConnectOptions::from_str("sqlite::memory:")?)
                    .await?
            }
        };
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(topic) + LENGTH(payload)), 0), \
             COALESCE(MAX(id), 0) FROM mqtt_outbox WHERE broker = ?",
        )
        .bind(broker)
        .fetch_one(&pool)
        .await?;
        let count: i64 = row.try_get(0)?;
        let bytes: i64 = row.try_get(1)?;
        let last_id: i64 = row.try_get(2)?;
        Ok(Self {
            pool,
            broker: broker.to_owned(),
            policy,
            count: u64::try_from(count).unwrap_or(0),
            bytes: u64::try_from(bytes).unwrap_or(0),
            last_id,
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Messages waiting.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The newest row stored (0 when none ever was).
    pub fn last_id(&self) -> i64 {
        self.last_id
    }

    /// Bytes (topic + payload) waiting.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Stores messages in one transaction (durable once this returns) and returns their
    /// row ids; with `capped`, then drops the oldest rows beyond the caps.
    pub async fn push(
        &mut self,
        messages: &[&Publish],
        capped: bool,
    ) -> Result<(Vec<i64>, Pushed), OutboxError> {
        let now = chrono::Utc::now().timestamp_millis();
        let mut ids = Vec::with_capacity(messages.len());
        let mut tx = self.pool.begin().await?;
        for publish in messages {
            let id: i64 = sqlx::query(
                "INSERT INTO mqtt_outbox (broker, topic, payload, qos, retain, props, created_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(&self.broker)
            .bind(&publish.topic)
            .bind(&publish.payload[..])
            .bind(publish.qos as i64)
            .bind(publish.retain)
            .bind(props_to_text(publish.props.as_deref()))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            ids.push(id);
            self.last_id = self.last_id.max(id);
            self.count += 1;
            self.bytes += size_of(publish);
        }
        let dropped = if capped {
            self.enforce_caps(&mut tx).await?
        } else {
            0
        };
        tx.commit().await?;
        Ok((ids, Pushed { dropped }))
    }

    /// Deletes the oldest rows until both caps hold; returns how many went.
    async fn enforce_caps(
        &mut self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    ) -> Result<u64, OutboxError> {
        let over_count = |count: u64, max: u64| max > 0 && count > max;
        let mut dropped = 0;
        while over_count(self.count, self.policy.max_messages)
            || over_count(self.bytes, self.policy.max_bytes)
        {
            // Whole batches when far over, one by one near the cap.
            let excess = if over_count(self.count, self.policy.max_messages) {
                self.count - self.policy.max_messages
            } else {
                1
            };
            let rows = sqlx::query(
                "DELETE FROM mqtt_outbox WHERE id IN (SELECT id FROM mqtt_outbox \
                 WHERE broker = ? ORDER BY id LIMIT ?) RETURNING LENGTH(topic) + LENGTH(payload)",
            )
            .bind(&self.broker)
            .bind(i64::try_from(excess.min(10_000)).unwrap_or(10_000))
            .fetch_all(&mut **tx)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let size: i64 = row.try_get(0)?;
                self.bytes = self.bytes.saturating_sub(u64::try_from(size).unwrap_or(0));
            }
            self.count = self.count.saturating_sub(rows.len() as u64);
            dropped += rows.len() as u64;
        }
        Ok(dropped)
    }

    /// Up to `limit` messages in replay order, starting after `cursor` (see [`Cursor`]).
    pub async fn next(&self, cursor: &Cursor, limit: usize) -> Result<Vec<Stored>, OutboxError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let query = match self.policy.order {
            Order::Fifo => {
                "SELECT id, topic, payload, qos, retain, props FROM mqtt_outbox \
                 WHERE broker = ? AND id > ? ORDER BY id LIMIT ?"
            }
            Order::Lifo => {
                "SELECT id, topic, payload, qos, retain, props FROM mqtt_outbox \
                 WHERE broker = ? AND id < ? ORDER BY id DESC LIMIT ?"
            }
        };
        let rows = sqlx::query(query)
            .bind(&self.broker)
            .bind(cursor.0)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let qos: i64 = row.try_get(3)?;
                let payload: Vec<u8> = row.try_get(2)?;
                let props: Option<String> = row.try_get(5)?;
                Ok(Stored {
                    id: row.try_get(0)?,
                    publish: Publish {
                        dup: false,
                        qos: QoS::from_u8(u8::try_from(qos).unwrap_or(0))
                            .unwrap_or(QoS::AtMostOnce),
                        retain: row.try_get(4)?,
                        topic: row.try_get(1)?,
                        pkid: 0,
                        payload: Bytes::from(payload),
                        props: props_from_text(props.as_deref()),
                    },
                })
            })
            .collect()
    }

    /// Forgets messages the broker has acknowledged (or that were sent at QoS 0).
    pub async fn remove(&mut self, ids: &[i64]) -> Result<(), OutboxError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            // Only `?` placeholders are formatted in; the values are bound.
            let sql = format!(
                "DELETE FROM mqtt_outbox WHERE broker = ? AND id IN ({marks}) \
                 RETURNING LENGTH(topic) + LENGTH(payload)"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&self.broker);
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&mut *tx).await? {
                let size: i64 = row.try_get(0)?;
                self.bytes = self.bytes.saturating_sub(u64::try_from(size).unwrap_or(0));
                self.count = self.count.saturating_sub(1);
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Where replay stands: FIFO moves up from the smallest id, LIFO down from the largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(i64);

impl Cursor {
    /// The start of a replay in `order`.
    pub fn start(order: Order) -> Self {
        match order {
            Order::Fifo => Self(0),
            Order::Lifo => Self(i64::MAX),
        }
    }

    /// The id last taken.
    pub fn position(&self) -> i64 {
        self.0
    }

    /// Past `id` (a message just taken for sending).
    pub fn advance(&mut self, id: i64) {
        self.0 = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(topic: &str, payload: &str, qos: QoS) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: topic.to_owned(),
            pkid: 0,
            payload: Bytes::from(payload.to_owned()),
            props: None,
        }
    }

    /// Messages "1" to "n" on topic `t`.
    fn numbered(n: u32, qos: QoS) -> Vec<Publish> {
        (1..=n).map(|i| publish("t", &i.to_string(), qos)).collect()
    }

    async fn memory(policy: Policy) -> Outbox {
        Outbox::open(None, "b1", policy).await.expect("open")
    }

    async fn drain(outbox: &Outbox) -> Vec<String> {
        let mut cursor = Cursor::start(outbox.policy().order);
        let mut seen = Vec::new();
        loop {
            let batch = outbox.next(&cursor, 2).await.expect("next");
            let Some(last) = batch.last() else { break };
            cursor.advance(last.id);
            seen.extend(
                batch
                    .iter()
                    .map(|s| String::from_utf8_lossy(&s.publish.payload).into_owned()),
            );
        }
        seen
    }

    #[tokio::test]
    async fn fifo_replays_oldest_first_and_lifo_newest_first() {
        for (order, expected) in [
            (Order::Fifo, ["1", "2", "3", "4", "5"]),
            (Order::Lifo, ["5", "4", "3", "2", "1"]),
        ] {
            let mut outbox = memory(Policy {
                order,
                ..Policy::default()
            })
            .await;
            let messages = numbered(5, QoS::AtLeastOnce);
            let refs: Vec<&Publish> = messages.iter().collect();
            outbox.push(&refs, true).await.expect("push");
            assert_eq!(drain(&outbox).await, expected);
        }
    }

    #[tokio::test]
    async fn the_message_cap_drops_the_oldest() {
        let mut outbox = memory(Policy {
            max_messages: 3,
            ..Policy::default()
        })
        .await;
        let messages = numbered(5, QoS::AtMostOnce);
        let refs: Vec<&Publish> = messages.iter().collect();
        let (_, pushed) = outbox.push(&refs, true).await.expect("push");
        assert_eq!(pushed.dropped, 2);
        assert_eq!(outbox.len(), 3);
        assert_eq!(drain(&outbox).await, ["3", "4", "5"]);
    }

    #[tokio::test]
    async fn messages_on_their_way_are_never_dropped_by_the_caps() {
        let mut outbox = memory(Policy {
            max_messages: 3,
            ..Policy::default()
        })
        .await;
        let messages = numbered(5, QoS::AtLeastOnce);
        let refs: Vec<&Publish> = messages.iter().collect();
        let (_, pushed) = outbox.push(&refs, false).await.expect("push");
        assert_eq!(pushed.dropped, 0);
        assert_eq!(drain(&outbox).await, ["1", "2", "3", "4", "5"]);
    }

    #[tokio::test]
    async fn the_byte_cap_drops_the_oldest() {
        let mut outbox = memory(Policy {
            max_messages: 0,
            max_bytes: 10,
            ..Policy::default()
        })
        .await;
        // Each message is 1 topic byte + 4 payload bytes.
        let messages: Vec<Publish> = ["aaaa", "bbbb", "cccc"]
            .iter()
            .map(|p| publish("t", p, QoS::AtMostOnce))
            .collect();
        let refs: Vec<&Publish> = messages.iter().collect();
        outbox.push(&refs, true).await.expect("push");
        assert_eq!(outbox.bytes(), 10);
        assert_eq!(drain(&outbox).await, ["bbbb", "cccc"]);
    }

    #[tokio::test]
    async fn removed_messages_are_gone_and_counts_follow() {
        let mut outbox = memory(Policy::default()).await;
        let messages = [
            publish("t", "x", QoS::AtLeastOnce),
            publish("t", "y", QoS::AtLeastOnce),
        ];
        let (ids, _) = outbox
            .push(&[&messages[0], &messages[1]], true)
            .await
            .expect("push");
        outbox.remove(&ids[..1]).await.expect("remove");
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox.bytes(), 2);
        assert_eq!(drain(&outbox).await, ["y"]);
    }

    #[tokio::test]
    async fn messages_survive_reopening_the_database_with_their_v5_properties() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ferrite.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut message = publish("req", "ping", QoS::ExactlyOnce);
        message.retain = true;
        message.props = Some(Box::new(Properties {
            response_topic: Some("reply/1".into()),
            correlation_data: Some(Bytes::from_static(b"\x00\x01")),
            user_properties: vec![("a".into(), "1".into())],
            ..Properties::default()
        }));
        {
            let pool = SqlitePool::connect_with(options.clone()).await.expect("db");
            let mut outbox = Outbox::open(Some(&pool), "b1", Policy::default())
                .await
                .expect("open");
            outbox.push(&[&message], true).await.expect("push");
            pool.close().await;
        }
        let pool = SqlitePool::connect_with(options).await.expect("db");
        let outbox = Outbox::open(Some(&pool), "b1", Policy::default())
            .await
            .expect("open");
        assert_eq!(outbox.len(), 1);
        let other = Outbox::open(Some(&pool), "b2", Policy::default())
            .await
            .expect("open");
        assert!(other.is_empty(), "another broker's outbox is its own");
        let stored = outbox
            .next(&Cursor::start(Order::Fifo), 10)
            .await
            .expect("next");
        assert_eq!(stored[0].publish, message);
    }
}
