//! On SQLite the webhook inbox's writes go through one connection owned by
//! one thread. SQLite takes one writer at a time anyway; owning it outright
//! turns a batch into one hand-off (not one per statement, as through a
//! pool) and lets single-row statements be prepared once and reused, which
//! is what SQLite is fast at. Every other write (installations, jobs,
//! bootstrap pages, explorer history, replays from the delivery log,
//! retention and clean-up) goes through the sqlx pool and meets this one
//! through `busy_timeout`.
//!
//! Checkpoints (copying the WAL into the database file, with an fsync) run
//! on a thread of their own, every connection having automatic checkpoints
//! off: left automatic, the commit that crosses the WAL's size limit pays
//! for the fsync, and every request waiting on that commit with it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// The WAL's size in bytes at which the writer checkpoints itself, and to
/// which a restarted WAL is cut back: one number, spelled once, since both
/// the pragma below and `WRITER_CHECKPOINT_PAGES` are built from it.
macro_rules! wal_limit_bytes {
    () => {
        268435456
    };
}

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
    // Once checkpointed and restarted, the WAL file is cut back to this:
    // the writer's restart size (see below), so the file is reused, not
    // cut and grown again (cutting it cost the next job 3.5-6.5 ms).
    concat!("PRAGMA journal_size_limit = ", wal_limit_bytes!()),
];

/// Past this many WAL pages (256 MB) the writer finishes the
/// checkpoint itself, between two jobs. Under a load without pauses the
/// background checkpoint never catches up with the last frames, and only a
/// checkpoint that does lets the next transaction start the WAL over (a
/// RESTART checkpoint from the background thread, tried first, blocked the
/// writer for the whole copy: 700 ms). Little is left to copy by then, yet
/// the pause is 10-15 ms on the bench machine (the database file's scattered
/// pages and two fsyncs, 10-25 ms on a disk with a slow flush tail), so it
/// should be rare: about 30 kB of WAL per delivery at 1,000 deliveries a
/// second is a pause every 0.55 s with 16 MB (p99 11 ms), every 1.9 s with
/// 64 MB (p99 2.9-3.3 ms on a large database) and every 7.5 s with 256 MB
/// (p99 1.9-2.5 ms). What p99 sees is the share of time paused; the price is
/// a WAL file of up to 256 MB beside the database under sustained load.
const WRITER_CHECKPOINT_PAGES: i64 = wal_limit_bytes!() / SQLITE_PAGE_BYTES;

/// SQLite's default page size, which the migrations keep.
const SQLITE_PAGE_BYTES: i64 = 4096;

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    for pragma in CONNECTION_PRAGMAS {
        // Some answer with a row (`journal_mode`, `busy_timeout`), some with none.
        conn.query_row(pragma, [], |_| Ok(())).or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(()),
            e => Err(e),
        })?;
    }
    Ok(conn)
}

/// Checkpoints the WAL until the writer is dropped. PASSIVE: it copies what
/// no reader still needs and never blocks a writer.
fn run_checkpoints(conn: Connection, stop: std::sync::mpsc::Receiver<()>, writer_should: Arc<AtomicBool>) {
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        // (busy, pages in the WAL, pages checkpointed)
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
            Ok(pages) => writer_should.store(pages > WRITER_CHECKPOINT_PAGES, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; retrying"),
        }
    }
}

#[derive(Debug)]
pub struct SqliteWriter {
    jobs: mpsc::UnboundedSender<Job>,
    /// Set by `close`: the thread ends after its current job and nothing
    /// more is taken (the pool is closed with it, see `Database::close`).
    closed: Arc<AtomicBool>,
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
        let writer_should = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicBool::new(false));
        let closed_seen = closed.clone();
        let cannot_start = |e: std::io::Error| StoreError::Corrupt(format!("cannot start a SQLite thread: {e}"));
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn({
                let writer_should = writer_should.clone();
                move || run_checkpoints(checkpoints, stop, writer_should)
            })
            .map_err(cannot_start)?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut conn = conn;
                while let Some(job) = rx.blocking_recv() {
                    if closed_seen.load(Ordering::Acquire) {
                        break;
                    }
                    // A job that panics loses its own answer (its caller gets
                    // `WriterStopped`, a 503), not the writer: an open
                    // transaction rolls back as it unwinds.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn))).is_err() {
                        tracing::error!("a SQLite writer job panicked; its write was rolled back");
                    }
                    if writer_should.swap(false, Ordering::Relaxed)
                        && let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
                    }
                }
                // Dropping the sender stops the checkpointer with the writer.
                drop(stop_checkpoints);
            })
            .map_err(cannot_start)?;
        Ok(Self { jobs, closed })
    }

    /// Stops taking jobs; those queued get `WriterStopped`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Wakes the thread so that it sees the flag and ends.
        let _ = self.jobs.send(Box::new(|_| {}));
    }

    /// Runs `f` on the writer's connection, after the jobs queued before it.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::WriterStopped);
        }
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        self.jobs.send(job).map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use crate::config::DatabaseUrl;
    use crate::store::{Database, StoreError};

    async fn database() -> (Database, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("gw-writer-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("gw.db");
        let url = DatabaseUrl::from_str(&format!("sqlite://{}?mode=rwc", file.display())).unwrap();
        (Database::connect(&url).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_closing_stops_the_writer() {
        let (db, dir) = database().await;
        let writer = db.sqlite_writer().expect("SQLite has a writer");
        let panicked = writer.run(|_| -> Result<(), StoreError> { panic!("a bug in a job") }).await;
        assert!(matches!(panicked, Err(StoreError::WriterStopped)), "{panicked:?}");
        let one: i64 = writer.run(|c| Ok(c.query_row("SELECT 1", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(one, 1, "the writer goes on after a job panicked");
        db.close().await;
        let after = writer.run(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)).await;
        assert!(matches!(after, Err(StoreError::WriterStopped)), "{after:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Automatic checkpoints are off on every connection, so only the
    /// checkpointer thread can move committed pages into the database file.
    #[tokio::test]
    async fn committed_pages_reach_the_database_file_without_automatic_checkpoints() {
        let (db, dir) = database().await;
        let file = dir.join("gw.db");
        let writer = db.sqlite_writer().expect("SQLite has a writer");
        let auto: i64 = writer.run(|c| Ok(c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(auto, 0, "the writer must not checkpoint on commit");
        // A checkpoint right after the migrations, so the file's size is settled.
        writer.run(|c| Ok(c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?)).await.unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        writer
            .run(|c| {
                let tx = c.transaction()?;
                for n in 0..2000 {
                    tx.execute(
                        "INSERT INTO delivery_keys (workspace_id, event, body_sha256, received_at) VALUES ('ws', 'NEW_TAG', ?1, 0)",
                        [format!("{n:064}")],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&file).unwrap().len() <= before {
            assert!(std::time::Instant::now() < deadline, "no checkpoint copied the WAL into {} in 10 s", file.display());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
