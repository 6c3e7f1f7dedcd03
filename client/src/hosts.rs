//! Base URLs per host group and region (PLATFORM.md §5). Never hard-coded per
//! call: a client is built for one installation's hosts, and every operation
//! is sent to the host of its group.

use url::Url;

use crate::catalog::HostGroup;
use crate::error::ConfigError;

/// Clockify's data regions with their own API hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// EU (Germany), `euc1`.
    Euc1,
    /// USA, `use2`.
    Use2,
    /// UK, `euw2`.
    Euw2,
    /// Australia, `apse2`.
    Apse2,
}

impl Region {
    pub fn prefix(self) -> &'static str {
        match self {
            Region::Euc1 => "euc1",
            Region::Use2 => "use2",
            Region::Euw2 => "euw2",
            Region::Apse2 => "apse2",
        }
    }
}

/// The base URL of each host group, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    pub core: String,
    pub reports: String,
    /// `None` when the installation has no PTO host (the deprecated PTO group then fails with a clear error).
    pub pto: Option<String>,
}

impl Hosts {
    /// The global (non-regional) hosts.
    pub fn global() -> Self {
        Self {
            core: "https://api.clockify.me/api".into(),
            reports: "https://reports.api.clockify.me".into(),
            pto: Some("https://pto.api.clockify.me".into()),
        }
    }

    /// The hosts of a regional workspace without a subdomain.
    pub fn region(region: Region) -> Self {
        let p = region.prefix();
        Self {
            core: format!("https://{p}.clockify.me/api"),
            reports: format!("https://{p}.clockify.me/report"),
            pto: Some(format!("https://{p}.api.clockify.me/pto")),
        }
    }

    /// Explicit base URLs, e.g. a developer environment or a local fake.
    pub fn explicit(core: &str, reports: &str, pto: Option<&str>) -> Result<Self, ConfigError> {
        Ok(Self {
            core: base_url("core", core)?,
            reports: base_url("reports", reports)?,
            pto: pto.map(|p| base_url("pto", p)).transpose()?,
        })
    }

    /// From the `backendUrl`, `reportsUrl` and optional `ptoUrl` claims of a
    /// token the caller has already verified. Without `ptoUrl`, the PTO host
    /// is derived for the known global and regional patterns.
    pub fn from_claims(backend_url: &str, reports_url: &str, pto_url: Option<&str>) -> Result<Self, ConfigError> {
        let core = base_url("backendUrl", backend_url)?;
        let reports = base_url("reportsUrl", reports_url)?;
        let pto = match pto_url {
            Some(p) => Some(base_url("ptoUrl", p)?),
            None => derive_pto(&core),
        };
        Ok(Self { core, reports, pto })
    }

    pub fn base(&self, group: HostGroup) -> Option<&str> {
        match group {
            HostGroup::Core => Some(&self.core),
            HostGroup::Reports => Some(&self.reports),
            HostGroup::Pto => self.pto.as_deref(),
        }
    }
}

fn derive_pto(core: &str) -> Option<String> {
    if core == "https://api.clockify.me/api" {
        return Some("https://pto.api.clockify.me".into());
    }
    // Only the documented regions: a developer environment's PTO host is unknown.
    let prefix = core.strip_prefix("https://")?.strip_suffix(".clockify.me/api")?;
    [Region::Euc1, Region::Use2, Region::Euw2, Region::Apse2]
        .iter()
        .find(|r| r.prefix() == prefix)
        .map(|r| format!("https://{}.api.clockify.me/pto", r.prefix()))
}

fn base_url(what: &'static str, raw: &str) -> Result<String, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::BadUrl { what, reason: e.to_string() })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::BadUrl { what, reason: "must be an http(s) URL with a host".into() });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::BadUrl { what, reason: "must not have a query or fragment".into() });
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_pto_is_derived_from_backend() {
        let h = Hosts::from_claims("https://euc1.clockify.me/api", "https://euc1.clockify.me/report", None).unwrap();
        assert_eq!(h.pto.as_deref(), Some("https://euc1.api.clockify.me/pto"));
        let g = Hosts::from_claims("https://api.clockify.me/api/", "https://reports.api.clockify.me", None).unwrap();
        assert_eq!(g, Hosts::global());
        let dev = Hosts::from_claims("https://developer.clockify.me/api", "https://developer.clockify.me/report", None).unwrap();
        assert_eq!(dev.pto, None, "no PTO host is documented for developer environments");
    }

    #[test]
    fn bad_urls_name_the_claim() {
        let err = Hosts::from_claims("ftp://x", "https://r", None).unwrap_err();
        assert!(err.to_string().contains("backendUrl"), "{err}");
        let err = Hosts::from_claims("https://x/api?q=1", "https://r", None).unwrap_err();
        assert!(err.to_string().contains("query"), "{err}");
    }
}
