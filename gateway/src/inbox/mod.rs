//! The webhook inbox: `routes` receives and verifies deliveries, `ingest`
//! writes them durably (group commit) before the 2xx, `handoff` passes new
//! ones to this instance's `workers` in memory (their typed payloads are
//! `crate::events`), `retention` sweeps the old ones.

pub mod handoff;
pub(crate) mod ingest;
pub(crate) mod retention;
pub(crate) mod routes;
pub(crate) mod workers;

pub use handoff::HandOff;
pub use workers::mirror_change;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::background::WakeSignal;
use ingest::IngestItem;

/// This instance's inbox, as the route, the workers, the admins' replay and
/// the shutdown reach it: the ingest queue, the hand-off and the workers'
/// wake-up. Cheap to clone; built once per application.
#[derive(Clone, Debug)]
pub struct Inbox {
    ingest: mpsc::Sender<IngestItem>,
    /// The ingest writer's end, taken once by the writer task.
    receiver: Arc<parking_lot::Mutex<Option<mpsc::Receiver<IngestItem>>>>,
    handoff: Arc<HandOff>,
    wake: Arc<WakeSignal>,
}

impl Default for Inbox {
    fn default() -> Self {
        let (ingest, receiver) = mpsc::channel(4096);
        Self { ingest, receiver: Arc::new(parking_lot::Mutex::new(Some(receiver))), handoff: Arc::default(), wake: Arc::default() }
    }
}

impl Inbox {
    /// Wakes this instance's workers for deliveries stored for them to claim
    /// (replayed, or stored unleased).
    pub fn wake(&self) {
        self.wake.wake();
    }

    /// Whether the instance is stopping: its workers take no new delivery.
    pub fn is_stopping(&self) -> bool {
        self.handoff.is_closed()
    }

    pub(crate) fn take_receiver(&self) -> Option<mpsc::Receiver<IngestItem>> {
        self.receiver.lock().take()
    }

    pub(crate) fn handoff(&self) -> &HandOff {
        &self.handoff
    }
}
