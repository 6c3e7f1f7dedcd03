//! PostgreSQL connections kept between the statements of the hot paths:
//! the webhook ingest's batches and the inbox's bookkeeping.
//!
//! The pool pings a connection when it hands it out and again when it gets
//! it back: for an ingest batch, two round trips beside the batch's own two
//! (read the installations, write the deliveries), each also a wake-up of
//! the gateway and a message for the server. At a steady rate the
//! connections are kept instead. One left unused past `KEPT_IDLE` goes
//! back to the pool, so after a quiet spell the next statement gets a
//! pinged one, and a connection the server dropped meanwhile is not used
//! unchecked. A connection whose statement failed is not kept.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};

/// Past this unused, a kept connection goes back to the pool.
const KEPT_IDLE: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct KeptConnections {
    /// Where connections come from and go back to.
    pool: AnyPool,
    kept: Mutex<Kept>,
    most: usize,
}

#[derive(Debug, Default)]
struct Kept {
    connections: Vec<(PoolConnection<Any>, Instant)>,
    /// Set by `close`: a statement still running then must not keep its
    /// connection afterwards, or the pool's close would wait for it forever.
    closed: bool,
}

impl KeptConnections {
    /// Keeps at most `most` of `pool`'s connections (as many as run at once).
    pub fn new(pool: AnyPool, most: usize) -> Self {
        Self { pool, kept: Mutex::new(Kept::default()), most }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A kept connection used within `KEPT_IDLE`, else one from the pool.
    pub async fn take(&self) -> Result<PoolConnection<Any>, sqlx::Error> {
        let recent = {
            let mut kept = self.lock();
            // Dropping a pool connection gives it back to the pool.
            kept.connections.retain(|(_, since)| since.elapsed() < KEPT_IDLE);
            kept.connections.pop().map(|(conn, _)| conn)
        };
        match recent {
            Some(conn) => Ok(conn),
            None => self.pool.acquire().await,
        }
    }

    /// Keeps a connection whose statements went through.
    pub fn keep(&self, conn: PoolConnection<Any>) {
        let mut kept = self.lock();
        if !kept.closed && kept.connections.len() < self.most {
            kept.connections.push((conn, Instant::now()));
        }
    }

    /// Gives every kept connection back to the pool and keeps none from
    /// now on (before the pool closes; closing it is the owner's call).
    pub fn close(&self) {
        let mut kept = self.lock();
        kept.closed = true;
        kept.connections.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        // Nothing held here can be left half-changed by a panic.
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres_url() -> String {
        match std::env::var("DATABASE_URL") {
            Ok(u) if u.starts_with("postgres") => u,
            _ => "postgres://postgres@127.0.0.1:5432/test".to_owned(),
        }
    }

    async fn pool(size: u32) -> AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new().max_connections(size).connect(&postgres_url()).await.expect("PostgreSQL is needed for these tests")
    }

    async fn backend_pid(conn: &mut PoolConnection<Any>) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut **conn).await.expect("pid")
    }

    /// Waits until the pool holds `idle` idle connections (a connection
    /// given back is pinged first, on a task of its own).
    async fn until_idle(pool: &AnyPool, idle: usize) {
        for _ in 0..200 {
            if pool.num_idle() == idle {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the pool has {} idle connections, not {idle}", pool.num_idle());
    }

    #[tokio::test]
    async fn a_kept_connection_is_taken_again_before_an_idle_one_of_the_pool() {
        let pool = pool(2).await;
        let mut a = pool.acquire().await.expect("a");
        let b = pool.acquire().await.expect("b");
        let kept_pid = backend_pid(&mut a).await;
        let kept = KeptConnections::new(pool.clone(), 2);
        kept.keep(a);
        drop(b);
        until_idle(&pool, 1).await;
        let mut again = kept.take().await.expect("take");
        assert_eq!(backend_pid(&mut again).await, kept_pid, "the kept connection, not the pool's idle one");
        assert_eq!(pool.num_idle(), 1, "the pool's idle connection stays there");
    }

    #[tokio::test]
    async fn one_unused_past_the_idle_limit_goes_back_to_the_pool() {
        let pool = pool(2).await;
        let a = pool.acquire().await.expect("a");
        let mut b = pool.acquire().await.expect("b");
        let idle_pid = backend_pid(&mut b).await;
        let kept = KeptConnections::new(pool.clone(), 2);
        kept.keep(a);
        drop(b);
        until_idle(&pool, 1).await;
        tokio::time::sleep(KEPT_IDLE + Duration::from_millis(100)).await;
        let mut taken = kept.take().await.expect("take");
        assert_eq!(backend_pid(&mut taken).await, idle_pid, "the pool's connection, not the stale kept one");
        // The stale one is back in the pool (pinged on the way), not held.
        until_idle(&pool, 1).await;
    }

    #[tokio::test]
    async fn it_keeps_no_more_than_asked_and_closing_it_lets_the_pool_close() {
        let pool = pool(3).await;
        let kept = KeptConnections::new(pool.clone(), 2);
        for _ in 0..3 {
            kept.keep(pool.acquire().await.expect("connection"));
        }
        until_idle(&pool, 1).await;
        kept.close();
        // `close` waits for every connection handed out to come back.
        tokio::time::timeout(Duration::from_secs(5), pool.close()).await.expect("the pool closes once the kept connections are given back");
    }

    /// A statement that was running when the store closed finishes after:
    /// its connection goes back to the pool instead of being kept.
    #[tokio::test]
    async fn a_connection_offered_after_close_is_not_kept() {
        let pool = pool(1).await;
        let kept = KeptConnections::new(pool.clone(), 2);
        let running = pool.acquire().await.expect("connection");
        kept.close();
        kept.keep(running);
        tokio::time::timeout(Duration::from_secs(5), pool.close()).await.expect("the pool closes: the late connection was given back");
    }
}
