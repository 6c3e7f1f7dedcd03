//! Building and running the HTTP server.

use std::{convert::Infallible, future::Future, io, net::SocketAddr, time::Duration};

use std::sync::Arc;

use poem::{EndpointExt, IntoResponse, Route, Server, endpoint::BoxEndpoint, listener::TcpAcceptor};

use poem_openapi::OpenApi;

use crate::addon::AddonManifest;
use crate::context::Contexts;
use crate::error::problem_response;
use crate::hooks::{AddonHooks, NoHooks};
use crate::inbox::Inbox;
use crate::state::{Parts, StateError};
use crate::{api, config::Config, http};

/// How long in-flight requests get to finish after a shutdown signal before
/// their connections are dropped.
const GRACEFUL_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address is taken, not local, or needs privileges.
    #[error("cannot bind GATEWAY_ADDR {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The socket was bound but could not be handed to the server.
    #[error("cannot use listener on GATEWAY_ADDR {addr}: {source}")]
    Listener {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// Configuration, keys or database; the message names the variable.
    #[error(transparent)]
    State(#[from] StateError),
    /// The add-on's routes do not fit: a page of its manifest no route
    /// serves, or a path the gateway already has.
    #[error("add-on routes: {0}")]
    Routes(String),
}

/// A bound, ready-to-run gateway.
///
/// Binding happens in [`Application::build`] rather than when serving, so the
/// real address is known before any request is accepted: tests can ask for
/// port 0 and read the chosen port, and bind errors surface as a
/// [`StartupError`] instead of from inside the server loop.
pub struct Application {
    addr: SocketAddr,
    server: Server<Infallible, http::slow_clients::SlowClientCutoff<TcpAcceptor>>,
    app: BoxEndpoint<'static>,
    parts: Parts,
    inbox: Inbox,
}

/// Assembles an add-on on the gateway: its manifest, hooks and routes.
///
/// ```no_run
/// # async fn run(config: clockify_gateway::Config) -> Result<(), clockify_gateway::StartupError> {
/// let app = clockify_gateway::Application::builder(config)
///     .hooks(clockify_gateway::NoHooks)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
pub struct ApplicationBuilder<R = ()> {
    config: Config,
    hooks: Arc<dyn AddonHooks>,
    routes: Box<dyn FnOnce(Contexts) -> R + Send>,
}

impl ApplicationBuilder<()> {
    fn new(config: Config) -> Self {
        Self { config, hooks: Arc::new(NoHooks), routes: Box::new(|_| ()) }
    }
}

impl<R: OpenApi + Send + Sync + 'static> ApplicationBuilder<R> {
    /// The add-on this gateway serves: the `ADDON` that `cargo xtask regen`
    /// generates from your `addon.toml` (the stock gateway's otherwise).
    pub fn addon(mut self, manifest: &'static AddonManifest) -> Self {
        self.config.addon = manifest;
        self
    }

    /// Your reactions to webhooks and lifecycle calls.
    pub fn hooks(mut self, hooks: impl AddonHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// Your own poem-openapi routes (pages, their back ends), served beside
    /// the gateway's and listed in its `/openapi.json`. `make` gets the
    /// handle your routes build an [`AddonContext`](crate::AddonContext)
    /// from; take [`VerifiedUser`](crate::VerifiedUser) in a route to have
    /// the caller's user token verified.
    pub fn routes<R2: OpenApi + Send + Sync + 'static>(self, make: impl FnOnce(Contexts) -> R2 + Send + 'static) -> ApplicationBuilder<R2> {
        ApplicationBuilder { config: self.config, hooks: self.hooks, routes: Box::new(make) }
    }

    /// Binds, connects the database, assembles the routes.
    pub async fn build(self) -> Result<Application, StartupError> {
        check_addon_routes::<R>(self.config.addon)?;
        let parts = Parts::build(self.config, self.hooks).await?;
        let addon_routes = (self.routes)(Contexts::new(parts.contexts.clone()));
        Application::bind(parts, addon_routes).await
    }
}

/// Every page of the manifest is served (GET) by one of the add-on's
/// routes, and none of those routes takes a path of the gateway's.
fn check_addon_routes<R: OpenApi>(manifest: &AddonManifest) -> Result<(), StartupError> {
    let ours: std::collections::BTreeSet<String> = api::Api::meta().into_iter().flat_map(|a| a.paths).map(|p| p.path).collect();
    let theirs: Vec<poem_openapi::registry::MetaPath> = R::meta().into_iter().flat_map(|a| a.paths).collect();
    if let Some(taken) = theirs.iter().find(|p| ours.contains(&p.path)) {
        return Err(StartupError::Routes(format!("{} is a path of the gateway; choose another", taken.path)));
    }
    for page in manifest.pages {
        let served = theirs.iter().any(|p| p.path == *page && p.operations.iter().any(|o| o.method == poem::http::Method::GET));
        if !served {
            return Err(StartupError::Routes(format!(
                "{page} is a page of addon.toml (a component or the settings page) but no route serves GET {page}"
            )));
        }
    }
    Ok(())
}

impl Application {
    /// The stock gateway: binds, connects the database, assembles the routes.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::builder(config).build().await
    }

    /// An add-on on the gateway: `.addon(..)`, `.hooks(..)`, `.routes(..)`, then `.build()`.
    pub fn builder(config: Config) -> ApplicationBuilder {
        ApplicationBuilder::new(config)
    }

    /// The gateway with your add-on's hooks (see [`AddonHooks`]).
    pub async fn build_with_hooks(config: Config, hooks: Arc<dyn AddonHooks>) -> Result<Self, StartupError> {
        let builder = ApplicationBuilder { hooks, ..Self::builder(config) };
        builder.build().await
    }

    async fn bind<R: OpenApi + Send + Sync + 'static>(parts: Parts, addon_routes: R) -> Result<Self, StartupError> {
        let inbox = Inbox::default();
        let config = parts.config.clone();
        let listener =
            tokio::net::TcpListener::bind(config.addr).await.map_err(|source| StartupError::Bind { addr: config.addr, source })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Listener { addr: config.addr, source })?;
        let acceptor = TcpAcceptor::from_tokio(listener).map_err(|source| StartupError::Listener { addr, source })?;

        Ok(Self {
            addr,
            server: Server::new_with_acceptor(http::slow_clients::SlowClientCutoff::new(
                acceptor,
                std::time::Duration::from_secs(config.request_read_timeout_seconds.max(1)),
            )),
            app: routes(&parts, &inbox, addon_routes),
            parts,
            inbox,
        })
    }

    /// What the gateway was built from (database, stores, metrics), for its own tests.
    #[cfg(feature = "internals")]
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// This instance's inbox (for tests: whether it is stopping).
    #[cfg(feature = "internals")]
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// The port actually bound (differs from the configured one when that was 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the server fails or the future is dropped.
    ///
    /// Installs no signal handlers, so it is safe to spawn in tests; binaries
    /// should prefer [`Application::run_until`] with [`shutdown_signal`].
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let _background = Background::start(&self.parts, &self.inbox);
        self.server.run(self.app).await
    }

    /// Serves until `signal` resolves, then stops accepting and lets in-flight
    /// requests finish (bounded by a timeout so a stuck client cannot block
    /// shutdown forever).
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> io::Result<()> {
        let background = Background::start(&self.parts, &self.inbox);
        let served = self.server.run_with_graceful_shutdown(self.app, signal, Some(GRACEFUL_SHUTDOWN_TIMEOUT)).await;
        background.stop(&self.parts.deliveries, &self.inbox).await;
        served
    }
}

/// How long the inbox workers get, once the server has stopped, to finish
/// the handler each is running.
const INBOX_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The instance's background tasks; aborted when dropped (as in a crash),
/// or stopped in order with `stop`.
struct Background {
    inboxes: Vec<tokio::task::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    fn start(parts: &Parts, inbox: &Inbox) -> Self {
        let inboxes = (0..parts.config.webhook_workers)
            .map(|_| tokio::spawn(crate::inbox::workers::run_inbox(parts.inbox_worker(), inbox.clone())))
            .collect();
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(crate::inbox::retention::run_retention(parts.retention())));
        if let Some(rx) = inbox.take_receiver() {
            tasks.push(tokio::spawn(crate::inbox::ingest::run_ingest(parts.ingest(), inbox.clone(), rx)));
        }
        tasks.push(tokio::spawn(crate::installations::jobs::run_registrations(parts.registration_jobs())));
        tasks.push(tokio::spawn(crate::installations::jobs::run_cleanups(parts.cleanup_jobs())));
        tasks.push(tokio::spawn(parts.lifecycle_runner().run()));
        tasks.push(tokio::spawn(crate::installations::rekey::run_rekey(parts.installations.clone(), parts.metrics.clone())));
        if parts.config.bootstrap_workers > 0 {
            tasks.push(tokio::spawn(crate::bootstrap::run_bootstraps(parts.bootstrap_runner(), parts.jobs_signal.clone())));
        }
        Self { inboxes, tasks }
    }

    /// A stop without losing time: the inbox workers finish the handler
    /// they are running and write what they handled; the deliveries this
    /// instance leased but did not start are given back at once, not
    /// after their lease (the next instance, or this one restarted, takes
    /// them without waiting a minute).
    async fn stop(mut self, deliveries: &crate::store::DeliveryStore, inbox: &Inbox) {
        for t in &self.tasks {
            t.abort();
        }
        inbox.handoff().close();
        let inboxes = std::mem::take(&mut self.inboxes);
        let aborts: Vec<_> = inboxes.iter().map(|t| t.abort_handle()).collect();
        let all_ended = async {
            for t in inboxes {
                let _ = t.await;
            }
        };
        if tokio::time::timeout(INBOX_STOP_TIMEOUT, all_ended).await.is_err() {
            tracing::warn!("a webhook handler outlived the shutdown; its delivery is handled again after its lease");
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
        let leased = inbox.handoff().drain();
        match deliveries.release(&leased).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "gave back the leases of deliveries not handled before the shutdown"),
            Err(e) => tracing::warn!(error = %e, waiting = leased.len(), "cannot give back leases; they run out by themselves"),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for t in self.inboxes.iter().chain(&self.tasks) {
            t.abort();
        }
    }
}

/// All routes of the gateway.
///
/// The API is nested at `/` so its paths in the spec are exactly the paths
/// served; the spec and docs live beside it rather than inside it so they do
/// not appear as operations in the spec.
pub(crate) fn routes<R: OpenApi + Send + Sync + 'static>(parts: &Parts, inbox: &Inbox, addon_routes: R) -> BoxEndpoint<'static> {
    let templates = http::route_template::RouteTemplates::from_meta(<(api::Api, R) as OpenApi>::meta());
    let service = api::service(parts.api(inbox), addon_routes);
    let spec = service.spec_endpoint();
    // Swagger UI from poem-openapi inlines its JS/CSS and the spec itself, so
    // /docs needs neither a CDN nor a second request.
    let docs = service.swagger_ui();
    Route::new()
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", service)
        .around(errors_as_problems)
        .around(http::body_limit::middleware)
        .around(http::rate_limit::middleware)
        .around(http::https::middleware)
        .around(http::security_headers::middleware)
        .around(http::access_log::middleware)
        .around(http::request_id::middleware)
        .data(parts.metrics.clone())
        .data(parts.http_policy())
        .data(templates)
        .data(crate::auth::user::UserCheck {
            verifier: parts.verifier.clone(),
            installations: parts.installations.clone(),
            metrics: parts.metrics.clone(),
        })
        .boxed()
}

/// Errors raised outside typed handlers (unknown route, wrong method, a body
/// that does not parse, a missing token header) become problem JSON too.
async fn errors_as_problems<E: poem::Endpoint>(next: Arc<E>, req: poem::Request) -> poem::Result<poem::Response> {
    let metrics = req.data::<Arc<crate::metrics::Metrics>>().cloned();
    match next.call(req).await {
        Ok(r) => Ok(r.into_response()),
        // A typed handler's problem answer is already what we want.
        Err(e) if e.is_from_response() => Ok(e.into_response()),
        Err(e) => {
            if e.is::<poem_openapi::error::AuthorizationError>() {
                if let Some(metrics) = &metrics {
                    metrics.auth_failure("missing");
                }
                tracing::warn!(target: "audit", event = "auth_failure", reason = "missing", "no token header");
            }
            Ok(problem_response(e.status(), Some(redact_quoted(&e.to_string()))))
        }
    }
}

/// Parser messages can quote the input (a token, say); drop quoted text.
/// A schema validator's failure (`failed to parse "ReplayRequest": field
/// `ids` verification failed. maxItems(1000)`) quotes only the schema's own
/// type and field names, so plain names stay: the caller learns which field.
fn redact_quoted(message: &str) -> String {
    let names_only = message.contains("` verification failed. ");
    let mut out = String::with_capacity(message.len());
    let mut quoted: Option<String> = None;
    for c in message.chars() {
        match (&mut quoted, c) {
            (None, '"' | '`') => quoted = Some(String::new()),
            (Some(q), '"' | '`') => {
                let name = names_only && !q.is_empty() && q.len() <= 64 && q.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if name {
                    out.push_str(&format!("`{q}`"))
                } else {
                    out.push_str("\"…\"")
                }
                quoted = None;
            }
            (Some(q), c) => q.push(c),
            (None, c) => out.push(c),
        }
    }
    if quoted.is_some() {
        out.push_str("\"…\"");
    }
    out
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what container runtimes send).
///
/// If a handler cannot be installed that source is ignored rather than
/// triggering an immediate shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::redact_quoted;

    #[test]
    fn quoted_input_is_dropped_but_a_validators_field_name_stays() {
        assert_eq!(redact_quoted("invalid type: string \"eyJ.secret\", expected u32"), "invalid type: string \"…\", expected u32");
        assert_eq!(redact_quoted("unknown field `abc123`, expected one of"), "unknown field \"…\", expected one of");
        assert_eq!(redact_quoted("unterminated \"eyJ.sec"), "unterminated \"…\"");
        assert_eq!(
            redact_quoted(
                "parse request payload error: failed to parse \"ReplayRequest\": field `ids` verification failed. maxItems(1000)"
            ),
            "parse request payload error: failed to parse `ReplayRequest`: field `ids` verification failed. maxItems(1000)"
        );
    }
}
