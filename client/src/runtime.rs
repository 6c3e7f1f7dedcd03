//! The state every generated call carries (progenitor's "inner" value) and
//! the builder that assembles a `Client` from it.

use std::time::Duration;

use crate::auth::Auth;
use crate::error::ConfigError;
use crate::hosts::Hosts;
use crate::rate_limit::RateBudget;
use crate::retry::RetryPolicy;
use crate::{Client, Scope};

#[derive(Debug, Clone)]
pub struct Runtime {
    /// The credential header, parsed and marked sensitive once at build time.
    pub(crate) credential: Option<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    pub(crate) hosts: Hosts,
    pub(crate) budget: RateBudget,
    pub(crate) retry: RetryPolicy,
    /// When set, operations needing any other scope are refused before sending.
    pub(crate) scopes: Option<std::sync::Arc<[Scope]>>,
    /// When set, requests are checked, recorded and maybe held back (`crate::exchange`).
    pub(crate) exchange: Option<std::sync::Arc<crate::exchange::Exchange>>,
    pub(crate) observer: Option<std::sync::Arc<dyn CallObserver>>,
}

/// Told of every finished call (after its retries): for latency metrics.
pub trait CallObserver: Send + Sync + 'static {
    /// `operation` is the contract's operationId (`getTags`); `status` is `None` when no answer came
    /// (transport error, timeout); `elapsed` includes waits for the budget
    /// and retries.
    fn finished(&self, operation: &'static str, status: Option<u16>, elapsed: Duration);
}

impl std::fmt::Debug for dyn CallObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallObserver")
    }
}

impl Runtime {
    pub fn hosts(&self) -> &Hosts {
        &self.hosts
    }
    pub fn budget(&self) -> &RateBudget {
        &self.budget
    }
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }
}

/// Builds a [`Client`]: credentials, hosts, budget, retries, timeouts.
///
/// ```no_run
/// use clockify_client::{Auth, ClientBuilder, Hosts};
/// let client = ClientBuilder::new(Auth::ApiKey("key".into()))
///     .hosts(Hosts::global())
///     .build()
///     .expect("valid configuration");
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    auth: Option<Auth>,
    hosts: Hosts,
    budget: RateBudget,
    retry: RetryPolicy,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    scopes: Option<std::sync::Arc<[Scope]>>,
    http: Option<reqwest::Client>,
    exchange: Option<std::sync::Arc<crate::exchange::Exchange>>,
    observer: Option<std::sync::Arc<dyn CallObserver>>,
}

impl ClientBuilder {
    pub fn new(auth: Auth) -> Self {
        Self { auth: Some(auth), ..Self::anonymous() }
    }

    /// A client that sends no credential (useful against a local fake).
    pub fn anonymous() -> Self {
        Self {
            auth: None,
            hosts: Hosts::global(),
            budget: RateBudget::global(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("clockify-client-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            scopes: None,
            http: None,
            exchange: None,
            observer: None,
        }
    }

    pub fn hosts(mut self, hosts: Hosts) -> Self {
        self.hosts = hosts;
        self
    }

    /// Share a budget other than the process-wide one (tests, or a limit other than 50/s).
    pub fn budget(mut self, budget: RateBudget) -> Self {
        self.budget = budget;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Refuse, before anything is sent, every operation that needs a scope
    /// outside `scopes` (an add-on passes the scopes its manifest declares, so
    /// a call Clockify would answer with 403 fails here, naming the scope).
    pub fn declared_scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.scopes = Some(scopes.into_iter().collect());
        self
    }

    /// Reuse an HTTP client (its connection pool) instead of building one;
    /// `timeout`, `connect_timeout` and `user_agent` are then the given client's,
    /// and so is its redirect policy: build it with `redirect(Policy::none())`,
    /// as `build` does, or a redirect carries the credential to another host.
    /// Building a client per call (one per caller's token) stays cheap this way.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Check, record and (in a dry run) hold back every request (`crate::exchange`).
    /// Tells `observer` of every finished call (operation, status, time).
    pub fn observer(mut self, observer: std::sync::Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn exchange(mut self, exchange: std::sync::Arc<crate::exchange::Exchange>) -> Self {
        self.exchange = Some(exchange);
        self
    }

    pub fn build(self) -> Result<Client, ConfigError> {
        let credential = match &self.auth {
            Some(auth) => {
                let mut value = reqwest::header::HeaderValue::from_str(auth.secret()).map_err(|_| ConfigError::BadCredential)?;
                value.set_sensitive(true);
                Some((reqwest::header::HeaderName::from_static(auth.header_name()), value))
            }
            None => None,
        };
        // reqwest is built without a bundled crypto provider; ring is ours.
        // Installing twice is harmless (the second call reports "already set").
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = match self.http {
            Some(http) => http,
            // No redirect is followed: reqwest keeps custom headers across
            // hosts, so one would carry X-Addon-Token / X-Api-Key to whatever
            // host its Location names. A 3xx comes back as the answer.
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                .user_agent(self.user_agent)
                .build()
                .map_err(|e| ConfigError::Http(e.to_string()))?,
        };
        let runtime = Runtime {
            credential,
            hosts: self.hosts.clone(),
            budget: self.budget,
            retry: self.retry,
            scopes: self.scopes,
            exchange: self.exchange,
            observer: self.observer,
        };
        Ok(Client::new_with_client(&self.hosts.core, http, runtime))
    }
}
