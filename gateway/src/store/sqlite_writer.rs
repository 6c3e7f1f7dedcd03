//! On SQLite the webhook inbox's writes go through one connection owned by
//! one thread. SQLite takes one writer at a time anyway; owning it outright
//! turns a batch into one hand-off (not one per statement, as through a
//! pool) and lets single-row statements be prepared once and reused, which
//! is what SQLite is fast at. Other writers (installations, bootstrap pages,
//! retention) keep using the pool and meet this one through `busy_timeout`.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

#[derive(Debug)]
pub struct SqliteWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl SqliteWriter {
    /// Opens the database file (the pool has created it and run the
    /// migrations) and starts the thread; it ends when the writer is dropped.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        // The same settings as the pool's connections: WAL, durable to a
        // process kill (a committed transaction is in the WAL file).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(32);
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut conn = conn;
                while let Some(job) = rx.blocking_recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Corrupt(format!("cannot start the SQLite writer thread: {e}")))?;
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
