//! Host groups: which Clockify service an operation is sent to. The contract
//! names one server per path item; the client maps each group to the base URL
//! of the installation's region (PLATFORM.md §5).

use crate::patches::PTO_HOST;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostGroup {
    /// `backendUrl`, e.g. `https://api.clockify.me/api`.
    Core,
    /// `reportsUrl`, e.g. `https://reports.api.clockify.me`.
    Reports,
    /// `ptoUrl`, e.g. `https://pto.api.clockify.me` (deprecated PTO group).
    Pto,
}

pub const CORE_SERVER: &str = "https://api.clockify.me/api";
pub const REPORTS_SERVER: &str = "https://reports.api.clockify.me";

impl HostGroup {
    pub fn from_server(server: Option<&str>) -> Result<Self, String> {
        match server {
            Some(CORE_SERVER) | None => Ok(Self::Core),
            Some(REPORTS_SERVER) => Ok(Self::Reports),
            Some(PTO_HOST) => Ok(Self::Pto),
            Some(other) => {
                Err(format!("server `{other}` is not a known Clockify host (core, reports, pto); add it to codegen/src/hosts.rs"))
            }
        }
    }

    pub fn variant(self) -> &'static str {
        match self {
            Self::Core => "Core",
            Self::Reports => "Reports",
            Self::Pto => "Pto",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Core => "core API",
            Self::Reports => "reports API",
            Self::Pto => "PTO API",
        }
    }
}
