//! Storage on SQLite or PostgreSQL, by three paths:
//!
//! - The sqlx pool (`Any` driver) runs every statement not named below:
//!   installations and tokens, jobs, bootstrap runs and pages, the delivery
//!   log and its replays, explorer history, flows and their executions,
//!   retention and clean-up. Mostly
//!   one SQL text for both backends (both take `$1` placeholders and `ON
//!   CONFLICT`), chosen by [`Backend`] where they differ; the migrations
//!   have a directory per backend for the few type names that differ.
//! - On PostgreSQL, the webhook ingest (read the installations, write the
//!   batch as one statement) and the inbox's bookkeeping (claim, complete,
//!   release, fail) use connections kept between statements
//!   (`kept_connections`): the pool pings a connection on every acquire and
//!   release, and there round trips are what costs. The bookkeeping ones
//!   come from a pool of their own whose commits do not wait for the WAL
//!   flush (`BOOKKEEPING_SETTINGS`).
//! - On SQLite, those same inbox statements go through rusqlite on one
//!   thread owning one connection (`sqlite_writer`, `deliveries_sqlite`):
//!   SQLite takes one writer at a time anyway, so a batch is one hand-off
//!   and its single-row statements stay prepared. The pool's writers meet
//!   it through `busy_timeout`.
//!
//! Nothing correctness depends on lives in memory, so several instances can
//! share one PostgreSQL.

mod bootstrap;
mod cleanup;
mod deliveries;
mod deliveries_sqlite;
mod delivery_log;
mod explorer_history;
mod flows;
mod installations;
mod jobs;
mod kept_connections;
mod lifecycle_events;
mod rate_slots;
mod sqlite_writer;

pub use bootstrap::{BootstrapStore, Entity, Item as BootstrapItem, Lease, NewItem, PageWrite, Run as BootstrapRun, RunMode};
pub use cleanup::WorkspaceCleanup;
pub use deliveries::{ClaimedDelivery, DeliveryStore, MirrorChange, NewDelivery, POSTGRES_INGEST_BATCHES, Recorded, StateCounts};
pub use delivery_log::{DeliveryLog, LogEntry, LogFilter, REPLAY_LIMIT, ReplayCounts, handler_state};
pub use explorer_history::{ExplorerHistory, HistoryEntry};
pub use flows::{ExecutionRow, FlowRow, FlowStore, StoredDelivery};
pub use installations::sha256_hex;
pub use installations::{DeliveryContext, Reencrypted, Installation, InstallationStatus, InstallationStore, NewInstallation, Standing, WebhookTokenRow};
pub use jobs::{Job, JobQueue};
pub use rate_slots::RateSlots;
pub use lifecycle_events::{ClaimedLifecycle, LifecycleEvents, LifecycleRecord};

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

use crate::config::DatabaseUrl;
use kept_connections::KeptConnections;
use sqlite_writer::SqliteWriter;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// From the SQLite inbox writer's own connection.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the SQLite writer thread is not running")]
    WriterStopped,
}

impl StoreError {
    /// Worth a 503 and a retry: the database is busy, gone or full, not wrong.
    pub fn is_unavailable(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            StoreError::Unavailable(_) | StoreError::WriterStopped => true,
            StoreError::Query(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed) => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, C::DatabaseBusy | C::DatabaseLocked | C::SystemIoFailure | C::CannotOpen | C::DiskFull | C::ReadOnly)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    /// On SQLite, the inbox's writes go through this one connection
    /// (see `sqlite_writer`); `None` on PostgreSQL.
    sqlite_writer: Option<std::sync::Arc<SqliteWriter>>,
    /// On PostgreSQL, the connections the ingest keeps between batches,
    /// from the main pool.
    ingest_connections: std::sync::Arc<KeptConnections>,
    /// On PostgreSQL, the inbox's bookkeeping connections, kept between
    /// statements, from a pool of their own (see `BOOKKEEPING_SETTINGS`);
    /// the main pool on SQLite.
    bookkeeping_connections: std::sync::Arc<KeptConnections>,
}

/// Session settings of the inbox's bookkeeping connections on PostgreSQL
/// (claims, completions, failures, releases; one statement each). Their
/// commits do not wait for the WAL flush, so they do not queue behind the
/// ingest commits that do: what such a commit can lose in a server crash
/// is a state change of a leased delivery, which is then handled again
/// when its lease runs out (at least once), never lost. The ingest's
/// commits, the promise behind the 200, stay synchronous. Plans are made
/// for each statement's values: a prepared plan kept from when the table
/// was nearly empty scanned all of it per claim and completion. As session
/// settings rather than `SET LOCAL` in a transaction, a statement is one
/// round trip instead of five.
const BOOKKEEPING_SETTINGS: [&str; 2] = ["SET synchronous_commit = off", "SET plan_cache_mode = force_custom_plan"];

/// Bookkeeping connections per instance on PostgreSQL, beside the main
/// pool's 16, opened as needed. A statement holds one only while it runs,
/// never while a handler does, so a few serve many inbox workers.
const BOOKKEEPING_CONNECTIONS: u32 = 4;

/// Of those, kept between statements: one per inbox worker by default.
const KEPT_BOOKKEEPING_CONNECTIONS: usize = 2;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Database {
    /// Connects and runs the migrations. Later outages are survived: the pool
    /// reconnects by itself, and `/ready` reports 503 meanwhile.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = if url.is_postgres() { Backend::Postgres } else { Backend::Sqlite };
        if let Some(path) = url.sqlite_path()
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(3));
        opts = match backend {
            Backend::Sqlite => opts.max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in sqlite_writer::CONNECTION_PRAGMAS {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            }),
            Backend::Postgres => opts.max_connections(16),
        };
        let pool = opts.connect(url.as_str()).await.map_err(StoreError::Unavailable)?;
        let bookkeeping_pool = match backend {
            Backend::Sqlite => pool.clone(),
            Backend::Postgres => AnyPoolOptions::new()
                .acquire_timeout(Duration::from_secs(3))
                .max_connections(BOOKKEEPING_CONNECTIONS)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        for setting in BOOKKEEPING_SETTINGS {
                            conn.execute(setting).await?;
                        }
                        Ok(())
                    })
                })
                .connect_lazy(url.as_str())
                .map_err(StoreError::Unavailable)?,
        };
        let ingest_connections = std::sync::Arc::new(KeptConnections::new(pool.clone(), deliveries::POSTGRES_INGEST_BATCHES));
        let bookkeeping_connections = std::sync::Arc::new(KeptConnections::new(bookkeeping_pool, KEPT_BOOKKEEPING_CONNECTIONS));
        let mut db = Self { pool, backend, sqlite_writer: None, ingest_connections, bookkeeping_connections };
        db.migrate().await?;
        if backend == Backend::Sqlite {
            // After the migrations: the writer's statements need the tables.
            let path = url.sqlite_path().ok_or_else(|| {
                StoreError::Corrupt("SQLite needs a database file (an in-memory database would lose accepted webhooks)".into())
            })?;
            db.sqlite_writer = Some(std::sync::Arc::new(SqliteWriter::open(&path)?));
        }
        Ok(db)
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// One round trip, for `/ready`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(StoreError::Unavailable)?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite inbox writer; `None` on PostgreSQL.
    pub fn sqlite_writer(&self) -> Option<&SqliteWriter> {
        self.sqlite_writer.as_deref()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn ingest_connections(&self) -> &KeptConnections {
        &self.ingest_connections
    }

    pub fn bookkeeping_pool(&self) -> &AnyPool {
        self.bookkeeping_connections.pool()
    }

    pub fn bookkeeping_connections(&self) -> &KeptConnections {
        &self.bookkeeping_connections
    }

    pub async fn close(&self) {
        self.ingest_connections.close();
        self.bookkeeping_connections.close();
        self.bookkeeping_connections.pool().close().await;
        if let Some(writer) = &self.sqlite_writer {
            writer.close();
        }
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}
