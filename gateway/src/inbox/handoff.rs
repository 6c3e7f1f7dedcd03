//! `HandOff`: deliveries this instance stored already leased to itself,
//! waiting for its inbox workers (`worker::run_inbox`).
//!
//! The ingest stores a new delivery as claimed by this instance when the
//! queue has room, and passes it here; the inbox handles it without a claim
//! statement. The database stays the truth: if the process stops with
//! deliveries in this queue, their leases run out and any instance claims
//! them, so the queue is a shortcut, never the only copy. A process that
//! stops on a signal `close`s the queue and gives the leases of what is
//! left back at once (`startup::Background::stop`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::store::ClaimedDelivery;

/// At most this many deliveries wait here; past it, the ingest stores
/// deliveries unleased and the inbox claims them from the database.
pub const MAX_DELIVERIES: usize = 1024;
/// At most this many body bytes wait here (bodies are up to 5 MB each).
pub const MAX_BYTES: usize = 8 << 20;

#[derive(Debug, Default)]
pub struct HandOff {
    queue: Mutex<Queue>,
    arrived: Notify,
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct Queue {
    deliveries: VecDeque<ClaimedDelivery>,
    bytes: usize,
}

impl HandOff {
    /// Whether a batch of `count` deliveries and `bytes` of bodies fits. Two
    /// batches in flight may both be told yes: the limits are kept to
    /// within one batch.
    pub fn has_room(&self, count: usize, bytes: usize) -> bool {
        if self.is_closed() {
            return false;
        }
        let q = self.queue.lock();
        q.deliveries.len() + count <= MAX_DELIVERIES && q.bytes + bytes <= MAX_BYTES
    }

    /// Queues deliveries just stored leased to this instance, and wakes the inbox.
    pub fn push(&self, deliveries: Vec<ClaimedDelivery>) {
        if deliveries.is_empty() {
            return;
        }
        {
            let mut q = self.queue.lock();
            q.bytes += deliveries.iter().map(|d| d.body.len()).sum::<usize>();
            q.deliveries.extend(deliveries);
        }
        self.arrived.notify_waiters();
    }

    /// Up to `limit` deliveries whose lease still has `margin_ms` left at
    /// `now`, oldest first. Deliveries with less are dropped from the
    /// queue: a handler started on them could outlive the lease, so they
    /// wait for it to run out and are claimed like any other.
    pub fn take(&self, limit: usize, now: i64, margin_ms: i64) -> Vec<ClaimedDelivery> {
        let mut q = self.queue.lock();
        let mut out = Vec::with_capacity(limit.min(q.deliveries.len()));
        while out.len() < limit {
            let Some(d) = q.deliveries.pop_front() else { break };
            q.bytes -= d.body.len();
            if d.leased_until - now >= margin_ms {
                out.push(d);
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.queue.lock().deliveries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The instance is stopping: no room from now on, and the inbox
    /// workers, woken, start nothing more.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.arrived.notify_waiters();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Everything still queued, whatever its lease.
    pub fn drain(&self) -> Vec<ClaimedDelivery> {
        let mut q = self.queue.lock();
        q.bytes = 0;
        q.deliveries.drain(..).collect()
    }

    /// Completes at the next `push` or `close` after this call (so call it
    /// before looking at the queue).
    pub fn arrived(&self) -> tokio::sync::futures::Notified<'_> {
        self.arrived.notified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(n: i64, body_len: usize, leased_until: i64) -> ClaimedDelivery {
        ClaimedDelivery {
            id: format!("d{n}"),
            workspace_id: "ws".into(),
            event: "NEW_TAG".into(),
            body: "x".repeat(body_len),
            attempt: 1,
            received_at: n,
            leased_until,
        }
    }

    #[test]
    fn room_is_counted_in_deliveries_and_in_body_bytes() {
        let h = HandOff::default();
        assert!(h.has_room(MAX_DELIVERIES, MAX_BYTES));
        assert!(!h.has_room(MAX_DELIVERIES + 1, 0));
        assert!(!h.has_room(1, MAX_BYTES + 1));
        h.push(vec![delivery(1, 1000, 100)]);
        assert!(h.has_room(MAX_DELIVERIES - 1, MAX_BYTES - 1000));
        assert!(!h.has_room(MAX_DELIVERIES, 0));
        assert!(!h.has_room(1, MAX_BYTES - 999));
        // Taking frees the room again.
        assert_eq!(h.take(10, 0, 0).len(), 1);
        assert!(h.has_room(MAX_DELIVERIES, MAX_BYTES));
    }

    #[test]
    fn take_is_oldest_first_limited_and_drops_what_could_outlive_its_lease() {
        let h = HandOff::default();
        h.push((1..=5).map(|n| delivery(n, 10, if n == 2 { 1_050 } else { 5_000 })).collect());
        // At 1,000 with a 100 ms margin, d2 (lease ends at 1,050) is dropped.
        let taken: Vec<String> = h.take(3, 1_000, 100).into_iter().map(|d| d.id).collect();
        assert_eq!(taken, ["d1", "d3", "d4"]);
        assert_eq!(h.len(), 1);
        assert_eq!(h.take(3, 1_000, 100).len(), 1);
        assert!(h.is_empty());
        assert!(h.has_room(MAX_DELIVERIES, MAX_BYTES), "the dropped delivery's bytes are released too");
    }

    #[test]
    fn a_closed_queue_has_no_room_and_drains_whatever_it_holds() {
        let h = HandOff::default();
        h.push((1..=3).map(|n| delivery(n, 10, 0)).collect());
        h.close();
        assert!(h.is_closed());
        assert!(!h.has_room(1, 0));
        let drained: Vec<String> = h.drain().into_iter().map(|d| d.id).collect();
        assert_eq!(drained, ["d1", "d2", "d3"], "leases that ran out are drained too");
        assert!(h.is_empty());
    }
}
