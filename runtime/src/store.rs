//! The SQLite database (`ferrite.db` in the user dir): one file for flow revisions,
//! persistent context and, in later issues, history and the MQTT outbox.
//!
//! WAL mode with `synchronous = NORMAL`: a crash loses at most the last transactions, never
//! corrupts the file, and writers never wait for readers.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

/// Schema steps, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_history.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

/// A handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens (creating when missing) and migrates the database at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        let db = Self { pool };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let done: i64 = sqlx::query("PRAGMA user_version")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        for (index, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(done).unwrap_or(0))
        {
            let mut tx = self.pool.begin().await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            // The version is our own integer, never input.
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "PRAGMA user_version = {}",
                index + 1
            )))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Every `(scope, json)` row of a context store.
    pub async fn load_context(&self, store: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT scope, data FROM context WHERE store = ?")
            .bind(store)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Writes changed scopes in one transaction; `None` data deletes the scope.
    pub async fn save_context(
        &self,
        store: &str,
        scopes: &[(String, Option<String>)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (scope, data) in scopes {
            match data {
                Some(data) => {
                    sqlx::query(
                        "INSERT INTO context (store, scope, data) VALUES (?, ?, ?) \
                         ON CONFLICT (store, scope) DO UPDATE SET data = excluded.data",
                    )
                    .bind(store)
                    .bind(scope)
                    .bind(data)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM context WHERE store = ? AND scope = ?")
                        .bind(store)
                        .bind(scope)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a deployed revision (a repeated deploy of the same flows is kept once).
    pub async fn save_revision(&self, rev: &str, flows: &str) -> Result<(), StoreError> {
        let now = chrono::Utc::now().timestamp_millis();
        sqlx::query(
            "INSERT OR IGNORE INTO flow_revisions (rev, created_ms, flows) VALUES (?, ?, ?)",
        )
        .bind(rev)
        .bind(now)
        .bind(flows)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Revisions, newest first: `(rev, created_ms)`.
    pub async fn revisions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT rev, created_ms FROM flow_revisions ORDER BY created_ms DESC, rowid DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The flows JSON of one revision.
    pub async fn revision(&self, rev: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT flows FROM flow_revisions WHERE rev = ?")
            .bind(rev)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get(0))
            .transpose()
            .map_err(StoreError::from)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
