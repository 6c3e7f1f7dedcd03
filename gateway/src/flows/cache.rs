//! The enabled flows of each workspace, as the inbox reads them for every
//! delivery: kept in memory for [`TTL`], so a delivery costs no query when
//! the workspace's flows were read a moment ago. This instance's routes
//! drop a workspace's entry when they change its flows (at once here);
//! another instance sees a change within [`TTL`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::model::Flow;

/// How long a workspace's flows are used without reading them again.
pub const TTL: Duration = Duration::from_secs(1);

/// Most workspaces kept; past it the cache starts over.
const MAX_WORKSPACES: usize = 10_000;

/// When a workspace's flows were read, and what they were.
type Entry = (Instant, Arc<Vec<Flow>>);

#[derive(Debug, Default)]
pub struct FlowCache {
    entries: parking_lot::Mutex<HashMap<String, Entry>>,
}

impl FlowCache {
    /// The workspace's enabled flows, if read within [`TTL`].
    pub fn get(&self, workspace_id: &str) -> Option<Arc<Vec<Flow>>> {
        let entries = self.entries.lock();
        entries.get(workspace_id).filter(|(at, _)| at.elapsed() < TTL).map(|(_, flows)| flows.clone())
    }

    pub fn put(&self, workspace_id: &str, flows: Arc<Vec<Flow>>) {
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_WORKSPACES {
            entries.clear();
        }
        entries.insert(workspace_id.to_owned(), (Instant::now(), flows));
    }

    /// Forgets a workspace's flows (they changed).
    pub fn invalidate(&self, workspace_id: &str) {
        self.entries.lock().remove(workspace_id);
    }
}
