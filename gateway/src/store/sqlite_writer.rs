//! On SQLite the webhook inbox's writes go through one connection owned by
//! one thread. SQLite takes one writer at a time anyway; owning it outright
//! turns a batch into one hand-off (not one per statement, as through a
//! pool) and lets single-row statements be prepared once and reused, which
//! is what SQLite is fast at. Other writers (installations, bootstrap pages,
//! retention) keep using the pool and meet this one through `busy_timeout`.
//!
//! Checkpoints (copying the WAL into the database file, with an fsync) run
//! on a thread of their own, every connection having automatic checkpoints
//! off: left automatic, the commit that crosses the WAL's size limit pays
//! for the fsync, and every request waiting on that commit with it.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// How often the checkpointer copies the WAL into the database file. Its
/// fsync still slows the writer's appends to the WAL (the file system's
/// journal), so it runs often, each time with little to flush: at 1,000
/// deliveries a second, p99 went from 9-16 ms at 500 ms to 2-3 ms at 100 ms
/// (`cargo xtask bench webhooks`).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Settings of every connection to the file, the pool's included.
pub const CONNECTION_PRAGMAS: [&str; 6] = [
    // One writer at a time is SQLite's model; WAL lets readers go on meanwhile.
    "PRAGMA journal_mode = WAL",
    // Queues writers that collide (the pool's and this one) instead of failing them.
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
    // Durable to a process kill: a committed transaction is in the WAL file.
    "PRAGMA synchronous = NORMAL",
    // The checkpointer thread does it (see above).
    "PRAGMA wal_autocheckpoint = 0",
    // Once checkpointed and restarted, the WAL file is cut back to this.
    "PRAGMA journal_size_limit = 67108864",
];

/// Past this many WAL pages (about 64 MB) a checkpoint waits for the
/// writer to pause, so that the WAL restarts: under a load without pauses
/// the passive ones would never let it.
const RESTART_PAGES: i64 = 16_384;

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    for pragma in CONNECTION_PRAGMAS {
        // `journal_mode` answers with a row; the others with none.
        conn.query_row(pragma, [], |_| Ok(())).or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(()),
            e => Err(e),
        })?;
    }
    Ok(conn)
}

/// Checkpoints the WAL until the writer is dropped. PASSIVE: it copies what
/// no reader still needs and never blocks a writer.
fn run_checkpoints(conn: Connection, stop: std::sync::mpsc::Receiver<()>) {
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        // (busy, pages in the WAL, pages checkpointed)
        let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
        let outcome = match passive {
            Ok(pages) if pages > RESTART_PAGES => conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())),
            other => other.map(drop),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
        }
    }
}

#[derive(Debug)]
pub struct SqliteWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl SqliteWriter {
    /// Opens the database file (the pool has created it and run the
    /// migrations) and starts the thread; it ends when the writer is dropped.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_connection(path)?;
        conn.set_prepared_statement_cache_capacity(32);
        let checkpoints = open_connection(path)?;
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let (stop_checkpoints, stop) = std::sync::mpsc::channel::<()>();
        let cannot_start = |e: std::io::Error| StoreError::Corrupt(format!("cannot start a SQLite thread: {e}"));
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run_checkpoints(checkpoints, stop))
            .map_err(cannot_start)?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut conn = conn;
                while let Some(job) = rx.blocking_recv() {
                    job(&mut conn);
                }
                // Dropping the sender stops the checkpointer with the writer.
                drop(stop_checkpoints);
            })
            .map_err(cannot_start)?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the writer's connection, after the jobs queued before it.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        self.jobs.send(job).map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}
