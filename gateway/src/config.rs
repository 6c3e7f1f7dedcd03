//! Runtime configuration: flags or environment variables, parsed into real
//! types by clap, so a bad value stops the process with one line naming the
//! variable. `Config::validate` adds the checks that span several values.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

/// The Clockify API hosts of PLATFORM.md §5: global and the four regions.
pub const DEFAULT_ALLOWED_API_HOSTS: &str = "api.clockify.me,reports.api.clockify.me,pto.api.clockify.me,\
euc1.clockify.me,use2.clockify.me,euw2.clockify.me,apse2.clockify.me,\
euc1.api.clockify.me,use2.api.clockify.me,euw2.api.clockify.me,apse2.api.clockify.me,\
developer.clockify.me";

/// Default database: an SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://clockify-gateway.db?mode=rwc";

/// Gateway configuration.
#[derive(clap::Parser, Debug, Clone)]
#[command(name = "clockify-gateway", version = concat!(env!("CARGO_PKG_VERSION"), " (contract sha256:", env!("CONTRACT_SHA256"), ")"), about = "HTTP gateway for Clockify add-ons.", long_about = None)]
pub struct Config {
    /// Socket address to listen on; port 0 lets the OS pick one.
    #[arg(long = "addr", env = "GATEWAY_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// `sqlite://<file>?mode=rwc` (default, no setup) or `postgres://...`.
    #[arg(long = "database-url", env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: DatabaseUrl,

    /// The add-on key tokens must carry as `sub` (default: the key in manifest.json).
    #[arg(long = "addon-key", env = "ADDON_KEY")]
    pub addon_key: Option<String>,

    /// The add-on this gateway serves (its generated manifest facts); set by
    /// `Application::builder(..).addon(..)`, the stock gateway otherwise.
    #[arg(skip = crate::addon::STOCK)]
    pub addon: &'static crate::addon::AddonManifest,

    /// The public URL Clockify calls; becomes the manifest's `baseUrl`.
    #[arg(long = "addon-base-url", env = "ADDON_BASE_URL", default_value = "http://127.0.0.1:8080")]
    pub addon_base_url: BaseUrl,

    /// PEM file of the key that verifies Clockify's tokens (default: Clockify's published key).
    #[arg(long = "clockify-public-key-file", env = "CLOCKIFY_PUBLIC_KEY_FILE")]
    pub clockify_public_key_file: Option<PathBuf>,

    /// Directory of extra `<kid>.pem` keys, for key rotation.
    #[arg(long = "clockify-extra-keys-dir", env = "CLOCKIFY_EXTRA_KEYS_DIR")]
    pub clockify_extra_keys_dir: Option<PathBuf>,

    /// Comma list of hosts the gateway may call; URLs from token claims elsewhere are refused.
    /// `host[:port]` allows only https, on exactly that port (443 when none is given);
    /// `http://host[:port]` allows plain http, on exactly that port (80 when none).
    #[arg(long = "allowed-api-hosts", env = "ALLOWED_API_HOSTS", default_value = DEFAULT_ALLOWED_API_HOSTS, value_delimiter = ',')]
    pub allowed_api_hosts: Vec<HostPort>,

    /// 32 bytes, base64, encrypting secrets at rest. Required with PostgreSQL; with
    /// SQLite a key is generated beside the database file on first start.
    #[arg(long = "encryption-key", env = "ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<EncryptionKey>,

    /// Comma list of earlier keys (base64), used only to open secrets they
    /// sealed; the re-encryption job moves those to ENCRYPTION_KEY. Remove a
    /// key once the log says no secret is under it.
    #[arg(long = "encryption-keys", env = "ENCRYPTION_KEYS", hide_env_values = true, value_delimiter = ',')]
    pub encryption_keys: Vec<EncryptionKey>,

    /// Refuse plain HTTP except from loopback (behind a TLS proxy, list it in TRUSTED_PROXIES).
    #[arg(long = "require-https", env = "REQUIRE_HTTPS", default_value_t = true, action = clap::ArgAction::Set)]
    pub require_https: bool,

    /// Comma list of proxy IPs whose `X-Forwarded-Proto`, `X-Forwarded-For` and `Forwarded` are believed.
    #[arg(long = "trusted-proxies", env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,

    /// Clock skew tolerated on token `exp` and `nbf`, in seconds.
    #[arg(long = "jwt-leeway-seconds", env = "JWT_LEEWAY_SECONDS", default_value_t = 60)]
    pub jwt_leeway_seconds: u64,

    /// Requests per second allowed per workspace or client address on the gateway's own routes.
    #[arg(long = "rate-limit-per-second", env = "RATE_LIMIT_PER_SECOND", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_per_second: u32,

    /// Burst above the steady rate before 429.
    #[arg(long = "rate-limit-burst", env = "RATE_LIMIT_BURST", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,

    /// Days the delivery log is kept (0 keeps it forever).
    #[arg(long = "webhook-retention-days", env = "WEBHOOK_RETENTION_DAYS", default_value_t = 90)]
    pub webhook_retention_days: u32,

    /// Days flow executions are kept (0 keeps them forever).
    #[arg(long = "flow-execution-retention-days", env = "FLOW_EXECUTION_RETENTION_DAYS", default_value_t = 30)]
    pub flow_execution_retention_days: u32,

    /// Days a delivery's (event, body) is remembered to recognise redeliveries.
    #[arg(long = "webhook-dedup-days", env = "WEBHOOK_DEDUP_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_dedup_days: u32,

    /// Handler attempts before a delivery is dead-lettered.
    #[arg(long = "webhook-max-attempts", env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_max_attempts: u32,

    /// Inbox workers in this instance (0: this instance only receives).
    #[arg(long = "webhook-workers", env = "WEBHOOK_WORKERS", default_value_t = 2)]
    pub webhook_workers: usize,

    /// Workspaces this instance bootstraps at once (0: this instance runs no bootstraps).
    #[arg(long = "bootstrap-workers", env = "BOOTSTRAP_WORKERS", default_value_t = 2)]
    pub bootstrap_workers: usize,

    /// Page size asked of list operations whose contract gives no maximum.
    #[arg(long = "bootstrap-page-size", env = "BOOTSTRAP_PAGE_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub bootstrap_page_size: u32,

    /// Pages read per operation before it is marked truncated rather than complete.
    #[arg(long = "bootstrap-max-pages", env = "BOOTSTRAP_MAX_PAGES", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub bootstrap_max_pages: u32,

    /// Seconds a bootstrap lease lasts without renewal; another instance takes
    /// over a workspace whose runner stopped renewing.
    #[arg(long = "bootstrap-lease-seconds", env = "BOOTSTRAP_LEASE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub bootstrap_lease_seconds: u64,

    /// Share of a workspace's 50 requests per second a bootstrap may use
    /// (0 < share <= 1); the rest stays for the add-on's hooks, flows and
    /// the explorer.
    #[arg(long = "bootstrap-budget-share", env = "BOOTSTRAP_BUDGET_SHARE", default_value_t = 0.6)]
    pub bootstrap_budget_share: f64,

    /// Comma list of entity types (`project`, `time_entry`, ...) a bootstrap
    /// reads; empty: every type the declared scopes allow.
    #[arg(long = "bootstrap-include", env = "BOOTSTRAP_INCLUDE", value_delimiter = ',')]
    pub bootstrap_include: Vec<String>,

    /// Comma list of entity types a bootstrap does not read.
    #[arg(long = "bootstrap-exclude", env = "BOOTSTRAP_EXCLUDE", value_delimiter = ',')]
    pub bootstrap_exclude: Vec<String>,

    /// How far back a bootstrap reads time entries, in days (`90d`); unset: all.
    #[arg(long = "bootstrap-time-entries-since", env = "BOOTSTRAP_TIME_ENTRIES_SINCE")]
    pub bootstrap_time_entries_since: Option<Days>,

    /// Seconds a client may take to send one whole request (headers and
    /// body); slower connections (slowloris) are closed.
    #[arg(long = "request-read-timeout-seconds", env = "REQUEST_READ_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_read_timeout_seconds: u64,

    /// Log output format: `json` for log shippers, `pretty` for humans.
    #[arg(long = "log-format", env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
}

/// Why no configuration came out of the environment and flags.
#[derive(Debug)]
pub enum ConfigParse {
    /// `--help`, `--version`: clap prints and exits.
    Exit(clap::Error),
    /// One line naming the variable (and its flag) and what is wrong.
    Invalid(String),
}

impl Config {
    /// For a binary's `main`: the configuration from the environment and
    /// the arguments, or the process ends (`--help` and `--version` print
    /// and exit 0; a bad value prints its line and exits 2).
    pub fn from_env_or_exit() -> Self {
        match Self::from_env_and_args(std::env::args_os()) {
            Ok(c) => c,
            Err(ConfigParse::Exit(e)) => e.exit(),
            Err(ConfigParse::Invalid(line)) => {
                eprintln!("error: {line}");
                std::process::exit(2)
            }
        }
    }

    /// Parses flags and environment; a bad value becomes one line naming
    /// the environment variable, which is how deployments set it.
    pub fn from_env_and_args<I, T>(args: I) -> Result<Self, ConfigParse>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches, error::ContextKind, error::ErrorKind};
        let matches = Self::command().try_get_matches_from(args).map_err(|e| match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ConfigParse::Exit(e),
            _ => {
                let arg = e.get(ContextKind::InvalidArg).map(|a| a.to_string()).unwrap_or_default();
                let value = e.get(ContextKind::InvalidValue).map(|v| v.to_string()).unwrap_or_default();
                let command = Self::command();
                let spec = command.get_arguments().find(|a| arg.starts_with(&format!("--{}", a.get_long().unwrap_or("\u{0}"))));
                let mut detail = e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned();
                // A secret's rejected value must not reach a terminal or a log.
                if spec.is_some_and(|a| a.is_hide_env_values_set()) && !value.is_empty() {
                    detail = detail.replace(&value, "***");
                }
                match spec.and_then(|a| a.get_env()) {
                    Some(env) => ConfigParse::Invalid(format!("{}: {detail}", env.to_string_lossy())),
                    None => ConfigParse::Invalid(detail),
                }
            }
        })?;
        let config = Self::from_arg_matches(&matches).map_err(|e| ConfigParse::Invalid(e.to_string()))?;
        config.validate().map_err(ConfigParse::Invalid)?;
        Ok(config)
    }

    /// Configuration for tests: an ephemeral loopback port and an SQLite file
    /// in a fresh temporary directory, so parallel tests share nothing.
    pub fn for_tests() -> Self {
        let dir = std::env::temp_dir().join(format!("clockify-gateway-test-{}", uuid::Uuid::new_v4()));
        let db = dir.join("gateway.db");
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            database_url: DatabaseUrl::from_str(&format!("sqlite://{}?mode=rwc", db.display()))
                .unwrap_or_else(|_| unreachable!("a temp path makes a valid sqlite URL")),
            addon_key: None,
            addon: crate::addon::STOCK,
            addon_base_url: BaseUrl::from_str("http://127.0.0.1:8080").unwrap_or_else(|_| unreachable!()),
            clockify_public_key_file: None,
            clockify_extra_keys_dir: None,
            allowed_api_hosts: DEFAULT_ALLOWED_API_HOSTS.split(',').filter_map(|h| h.parse().ok()).collect(),
            encryption_key: None,
            encryption_keys: Vec::new(),
            require_https: true,
            trusted_proxies: Vec::new(),
            jwt_leeway_seconds: 60,
            rate_limit_per_second: 1000,
            rate_limit_burst: 1000,
            webhook_retention_days: 90,
            flow_execution_retention_days: 30,
            webhook_dedup_days: 7,
            webhook_max_attempts: 5,
            webhook_workers: 2,
            // Tests that bootstrap turn it on; the others keep their stores still.
            bootstrap_workers: 0,
            bootstrap_page_size: 1000,
            bootstrap_max_pages: 1000,
            bootstrap_lease_seconds: 30,
            bootstrap_budget_share: 0.6,
            bootstrap_include: Vec::new(),
            bootstrap_exclude: Vec::new(),
            bootstrap_time_entries_since: None,
            request_read_timeout_seconds: 30,
            log_format: LogFormat::Pretty,
        }
    }

    pub fn addon_key(&self) -> &str {
        self.addon_key.as_deref().unwrap_or(self.addon.key)
    }

    /// Checks spanning several values; the message names the variable.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.bootstrap_budget_share > 0.0 && self.bootstrap_budget_share <= 1.0) {
            return Err(format!("BOOTSTRAP_BUDGET_SHARE: {} is not in (0, 1]", self.bootstrap_budget_share));
        }
        if let Some(k) = &self.addon_key
            && !(2..=50).contains(&k.chars().count())
        {
            return Err("ADDON_KEY: must be 2 to 50 characters".into());
        }
        if self.database_url.is_postgres() && self.encryption_key.is_none() {
            return Err("ENCRYPTION_KEY: required with PostgreSQL (32 random bytes, base64)".into());
        }
        Ok(())
    }
}

/// A database URL whose scheme selects the backend.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
    /// The SQLite file, when the URL names one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.0.strip_prefix("sqlite://").or_else(|| self.0.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }
}

/// Never prints credentials a URL may carry.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                write!(f, "{u}")
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| s.starts_with(p));
        if !ok {
            return Err("expected sqlite://<file> or postgres://...".into());
        }
        let url = Self(s.to_owned());
        if s.starts_with("sqlite:") && url.sqlite_path().is_none() {
            // Accepted webhooks must outlive the process.
            return Err("expected a SQLite file, not an in-memory database".into());
        }
        Ok(url)
    }
}

/// An absolute `http(s)` URL without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let u = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
            return Err("expected an http:// or https:// URL with a host".into());
        }
        if u.query().is_some() || u.fragment().is_some() {
            return Err("must not have a query or fragment".into());
        }
        Ok(Self(s.trim_end_matches('/').to_owned()))
    }
}

/// An `ALLOWED_API_HOSTS` entry. A bare `host[:port]` allows `https` only,
/// on exactly that port (443 when none is given); `http://host[:port]` allows
/// plain `http` for that host, on exactly that port (80 when none). A token
/// naming another scheme or port of an allowed host is still refused, so a
/// host allowed for HTTPS cannot be reached in clear text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// `https` or `http`.
    pub scheme: &'static str,
    /// Lower-cased.
    pub host: String,
    /// The only port allowed.
    pub port: u16,
}

impl HostPort {
    /// Whether `url` has this entry's scheme, host and exact port.
    pub fn matches(&self, url: &url::Url) -> bool {
        url.scheme() == self.scheme
            && url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&self.host))
            && url.port_or_known_default() == Some(self.port)
    }
}

/// Appended to a refusal: why a host that looks allowed may not be.
pub const HTTP_HINT: &str =
    " (a host[:port] entry allows https on that port only, 443 by default; plain http needs an http://host[:port] entry)";

/// `scheme://host:port` of `url`, as a refusal names it (no path: it may carry ids).
pub fn origin_of(url: &url::Url) -> String {
    let port = url.port_or_known_default().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{}{port}", url.scheme(), url.host_str().unwrap_or(""))
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl FromStr for HostPort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (scheme, rest) = match s.split_once("://") {
            None => ("https", s),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => ("http", rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => ("https", rest),
            Some((scheme, _)) => {
                return Err(format!(
                    "`{s}`: scheme `{scheme}` is not allowed (write host[:port] for https, http://host[:port] for plain http)"
                ));
            }
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!("`{s}`: only host[:port] may follow the scheme (no path, query or user)"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(p) if p != 0 => (h, p),
                _ => return Err(format!("`{s}`: bad port `{p}`")),
            },
            None => (rest, if scheme == "https" { 443 } else { 80 }),
        };
        let valid = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !valid {
            return Err(format!("`{s}` is not host[:port] or http://host[:port]"));
        }
        Ok(Self { scheme, host: host.to_ascii_lowercase(), port })
    }
}

/// A number of days, written `90d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(pub u32);

impl FromStr for Days {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let n = s.trim().strip_suffix('d').ok_or_else(|| format!("`{s}`: write a number of days such as `90d`"))?;
        n.parse::<u32>().map(Days).map_err(|_| format!("`{s}`: write a number of days such as `90d`"))
    }
}

/// 32 key bytes. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey(pub [u8; 32]);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(***)")
    }
}

impl FromStr for EncryptionKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|_| "not valid base64".to_owned())?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| format!("decodes to {} bytes, need 32", b.len()))?;
        Ok(Self(key))
    }
}

/// How log lines are rendered.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable, multi-field lines.
    Pretty,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_parse_without_any_environment() {
        let c = Config::try_parse_from(["clockify-gateway"]).unwrap();
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert!(!c.database_url.is_postgres());
        assert_eq!(c.database_url.sqlite_path().unwrap(), PathBuf::from("clockify-gateway.db"));
        assert!(c.allowed_api_hosts.iter().any(|h| h.host == "api.clockify.me"));
        assert!(c.require_https);
        assert_eq!(c.addon_key(), crate::addon::STOCK.key);
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases = [
            ("--addr", "nope", "--addr"),
            ("--database-url", "sqlite::memory:", "--database-url"),
            ("--database-url", "mysql://x", "--database-url"),
            ("--addon-base-url", "ftp://x", "--addon-base-url"),
            ("--encryption-key", "c2hvcnQ=", "--encryption-key"),
            ("--allowed-api-hosts", "bad host", "--allowed-api-hosts"),
            ("--jwt-leeway-seconds", "soon", "--jwt-leeway-seconds"),
        ];
        for (flag, value, named) in cases {
            let err = Config::try_parse_from(["clockify-gateway", flag, value]).unwrap_err().to_string();
            assert!(err.contains(named), "{flag}={value}: {err}");
        }
        let c = Config::try_parse_from(["clockify-gateway", "--database-url", "postgres://localhost/x"]).unwrap();
        assert!(c.validate().unwrap_err().starts_with("ENCRYPTION_KEY"));
        // One line, naming the environment variable deployments use.
        let Err(ConfigParse::Invalid(line)) = Config::from_env_and_args(["clockify-gateway", "--addr", "nope"]) else {
            panic!("accepted a bad address");
        };
        assert!(line.starts_with("GATEWAY_ADDR: invalid value 'nope' for '--addr <ADDR>'"), "{line}");
        assert!(!line.contains('\n'));
        let Err(ConfigParse::Invalid(line)) =
            Config::from_env_and_args(["clockify-gateway", "--encryption-key", "c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0"])
        else {
            panic!("accepted a short key");
        };
        assert!(line.starts_with("ENCRYPTION_KEY: ") && !line.contains("c2VjcmV0"), "{line}");
    }

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn a_bare_entry_allows_https_on_443_only() {
        let h: HostPort = "API.clockify.me".parse().unwrap();
        assert_eq!((h.scheme, h.host.as_str(), h.port), ("https", "api.clockify.me", 443));
        assert!(h.matches(&url("https://api.clockify.me/api")));
        assert!(h.matches(&url("https://api.clockify.me:443/api")));
        assert!(!h.matches(&url("http://api.clockify.me/api")), "plain http on a bare entry");
        assert!(!h.matches(&url("http://api.clockify.me:443/api")), "plain http on the https port");
        assert!(!h.matches(&url("https://api.clockify.me:8443/api")), "another port");
        assert!(!h.matches(&url("https://evil.example/api")));
        assert!(!h.matches(&url("ftp://api.clockify.me/api")));
    }

    #[test]
    fn a_bare_entry_with_a_port_allows_https_on_that_port_only() {
        let h: HostPort = "dev.example:8443".parse().unwrap();
        assert_eq!((h.scheme, h.port), ("https", 8443));
        assert!(h.matches(&url("https://dev.example:8443/api")));
        assert!(!h.matches(&url("https://dev.example/api")), "443 is not 8443");
        assert!(!h.matches(&url("http://dev.example:8443/api")));
    }

    #[test]
    fn an_explicit_http_entry_allows_plain_http_on_its_port_only() {
        let h: HostPort = "http://127.0.0.1:9".parse().unwrap();
        assert_eq!((h.scheme, h.host.as_str(), h.port), ("http", "127.0.0.1", 9));
        assert!(h.matches(&url("http://127.0.0.1:9/api")));
        assert!(!h.matches(&url("http://127.0.0.1:10/api")));
        assert!(!h.matches(&url("http://127.0.0.1/api")));
        assert!(!h.matches(&url("https://127.0.0.1:9/api")), "an http entry is not an https one");
        let h: HostPort = "HTTP://Fake.Local".parse().unwrap();
        assert_eq!((h.scheme, h.host.as_str(), h.port), ("http", "fake.local", 80));
        assert!(h.matches(&url("http://fake.local/api")));
        assert!(!h.matches(&url("http://fake.local:8080/api")));
        let h: HostPort = "https://api.clockify.me".parse().unwrap();
        assert_eq!(h, "api.clockify.me".parse().unwrap(), "https:// is the bare form spelled out");
    }

    #[test]
    fn other_schemes_paths_and_bad_ports_are_refused_naming_the_entry() {
        for (bad, says) in [
            ("ftp://api.clockify.me", "scheme `ftp`"),
            ("ws://api.clockify.me", "scheme `ws`"),
            ("http://api.clockify.me/api", "no path"),
            ("http://api.clockify.me/", "no path"),
            ("api.clockify.me/api", "no path"),
            ("http://user@api.clockify.me", "no path, query or user"),
            ("api.clockify.me:0", "bad port"),
            ("api.clockify.me:99999", "bad port"),
            ("http://api.clockify.me:", "bad port"),
            ("", "is not host[:port]"),
            ("http://", "is not host[:port]"),
            ("bad host", "is not host[:port]"),
        ] {
            let err = bad.parse::<HostPort>().unwrap_err();
            assert!(err.contains(says) && err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
        let err = Config::try_parse_from(["clockify-gateway", "--allowed-api-hosts", "api.clockify.me,ftp://x"]).unwrap_err();
        assert!(err.to_string().contains("ftp"), "{err}");
    }

    #[test]
    fn the_default_hosts_are_https_on_443() {
        let c = Config::try_parse_from(["clockify-gateway"]).unwrap();
        assert!(!c.allowed_api_hosts.is_empty());
        assert!(c.allowed_api_hosts.iter().all(|h| h.scheme == "https" && h.port == 443), "{:?}", c.allowed_api_hosts);
        assert_eq!(origin_of(&url("http://api.clockify.me/api/v1/workspaces/ws1")), "http://api.clockify.me:80");
    }

    #[test]
    fn a_database_password_never_shows_in_debug_output() {
        let u: DatabaseUrl = "postgres://app:hunter2@db/x".parse().unwrap();
        assert!(!format!("{u:?}").contains("hunter2"));
        let k: EncryptionKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".parse().unwrap();
        assert_eq!(format!("{k:?}"), "EncryptionKey(***)");
    }
}
