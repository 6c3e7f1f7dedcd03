//! What startup builds once (configuration, keys, database, stores,
//! limiters, metrics) and cuts each part's handles from: every route,
//! middleware and background loop gets only what it reads, never this.

use std::sync::Arc;

use crate::auth::token::{TokenVerifier, VerifierConfig};
use crate::config::Config;
use crate::crypto::{SecretBox, key_file_for, load_or_create_key_file};
use crate::hooks::AddonHooks;
use crate::inbox::Inbox;
use crate::installations::client::InstallationClients;
use crate::installations::registration::WebhookRegistrar;
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::store::{Database, DeliveryStore, InstallationStore, JobQueue};
use crate::{admin, api, bootstrap, explorer, flows, http, inbox, installations, ops};

/// Everything the gateway is built from; startup wires the parts from it,
/// and the gateway's own tests (`internals`) read its stores.
#[derive(Clone, Debug)]
pub struct Parts {
    pub config: Arc<Config>,
    pub verifier: Arc<TokenVerifier>,
    pub db: Database,
    pub installations: InstallationStore,
    pub jobs: JobQueue,
    pub bootstrap: crate::store::BootstrapStore,
    pub delivery_log: crate::store::DeliveryLog,
    pub explorer_history: crate::store::ExplorerHistory,
    pub flows: crate::store::FlowStore,
    /// Each workspace's enabled flows, as the inbox last read them.
    pub flow_cache: Arc<crate::flows::cache::FlowCache>,
    pub cleanup: crate::store::WorkspaceCleanup,
    pub deliveries: DeliveryStore,
    pub metrics: Arc<Metrics>,
    /// The workspace members' routes (admin, bootstrap, explorer) and the
    /// per-address limit.
    pub limiter: Arc<RateLimiter>,
    /// Clockify's calls (webhooks, lifecycle), per workspace.
    pub webhook_limiter: Arc<RateLimiter>,
    /// Failed checks of webhook and lifecycle calls, per client address.
    pub failed_checks: Arc<RateLimiter>,
    pub hooks: Arc<dyn AddonHooks>,
    /// Wakes this instance's job runner when work is queued.
    pub jobs_signal: Arc<crate::background::WakeSignal>,
    pub verified_tokens: Arc<crate::auth::verified::VerifiedTokens>,
    /// What hooks and add-on routes read a workspace through.
    pub(crate) contexts: crate::context::ContextSource,
    /// Lifecycle calls waiting for the add-on's hook.
    pub lifecycle_events: crate::store::LifecycleEvents,
    /// Requests to Clockify per workspace, from every part of this instance
    /// (shared with the other instances on PostgreSQL).
    pub budget: clockify_client::RateBudget,
    /// The bootstrap's share of it (BOOTSTRAP_BUDGET_SHARE), drawn from it.
    pub bootstrap_budget: clockify_client::RateBudget,
}

/// Why the gateway cannot start with this configuration; each names the variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{0}")]
    Config(String),
    #[error("CLOCKIFY_PUBLIC_KEY_FILE / CLOCKIFY_EXTRA_KEYS_DIR: {0}")]
    Keys(String),
    #[error("ENCRYPTION_KEY: {0}")]
    Encryption(#[from] crate::crypto::CryptoError),
    #[error("DATABASE_URL: {0}")]
    Database(#[from] crate::store::StoreError),
}

impl Parts {
    /// The context hooks of `workspace_id` get.
    pub fn context(&self, workspace_id: &str) -> crate::context::AddonContext {
        self.contexts.context(workspace_id)
    }

    pub async fn build(config: Config, hooks: Arc<dyn AddonHooks>) -> Result<Self, StateError> {
        config.validate().map_err(StateError::Config)?;
        let primary = match &config.clockify_public_key_file {
            Some(p) => std::fs::read(p).map_err(|e| StateError::Keys(format!("{}: {e}", p.display())))?,
            None => crate::auth::token::clockify_public_key_pem().into_bytes(),
        };
        let extra = match &config.clockify_extra_keys_dir {
            Some(dir) => crate::auth::token::load_extra_keys_dir(dir).map_err(|e| StateError::Keys(e.to_string()))?,
            None => Vec::new(),
        };
        let verifier = TokenVerifier::from_pem(
            &primary,
            &extra,
            VerifierConfig { leeway_seconds: config.jwt_leeway_seconds, ..VerifierConfig::new(config.addon_key()) },
        )
        .map_err(|e| StateError::Keys(e.to_string()))?;
        let key = match (&config.encryption_key, config.database_url.sqlite_path()) {
            (Some(k), _) => k.clone(),
            (None, Some(db)) => load_or_create_key_file(&key_file_for(&db))?,
            (None, None) => return Err(StateError::Config("ENCRYPTION_KEY: required unless DATABASE_URL is an SQLite file".into())),
        };
        let db = Database::connect(&config.database_url).await?;
        let installations = InstallationStore::new(db.clone(), SecretBox::with_old_keys(&key, &config.encryption_keys));
        let metrics = Arc::new(Metrics::default());
        // One PostgreSQL, maybe several instances: the budget is shared
        // through the database. One SQLite file, one instance: in-process.
        let budget = match db.backend() {
            crate::store::Backend::Postgres => {
                clockify_client::RateBudget::shared(clockify_client::RateLimit::CLOCKIFY, Arc::new(crate::store::RateSlots::new(db.clone())))
            }
            crate::store::Backend::Sqlite => clockify_client::RateBudget::global(),
        };
        let contexts = crate::context::ContextSource {
            installations: installations.clone(),
            clients: crate::installations::client::InstallationClients::new(
                installations.clone(),
                config.addon.declared_scopes,
                budget.clone(),
                Arc::new(crate::metrics::CallMetrics(metrics.clone())),
            ),
            snapshots: crate::store::BootstrapStore::new(db.clone()),
            deliveries: DeliveryStore::new(db.clone()),
        };
        Ok(Self {
            verifier: Arc::new(verifier),
            installations,
            contexts,
            lifecycle_events: crate::store::LifecycleEvents::new(db.clone()),
            bootstrap_budget: share_of(&budget, config.bootstrap_budget_share),
            budget,
            jobs: JobQueue::new(db.clone()),
            bootstrap: crate::store::BootstrapStore::new(db.clone()),
            delivery_log: crate::store::DeliveryLog::new(db.clone()),
            explorer_history: crate::store::ExplorerHistory::new(db.clone()),
            flows: crate::store::FlowStore::new(db.clone()),
            flow_cache: Arc::default(),
            cleanup: crate::store::WorkspaceCleanup::new(db.clone()),
            deliveries: DeliveryStore::new(db.clone()),
            db,
            metrics,
            limiter: Arc::new(RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst)),
            webhook_limiter: Arc::new(RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst)),
            failed_checks: Arc::new(RateLimiter::new(crate::limiter::FAILED_CHECKS_PER_SECOND, crate::limiter::FAILED_CHECKS_BURST)),
            config: Arc::new(config),
            hooks,
            jobs_signal: Arc::default(),
            verified_tokens: Arc::default(),
        })
    }
}

/// Each part's handles: what it reads of the parts, and nothing else.
impl Parts {
    /// Makes clients acting for installations (the tests call Clockify through it).
    pub fn clients(&self) -> &InstallationClients {
        &self.contexts.clients
    }

    /// Registers and deletes REST webhooks.
    pub fn registrar(&self) -> WebhookRegistrar {
        WebhookRegistrar {
            installations: self.installations.clone(),
            clients: self.contexts.clients.clone(),
            metrics: self.metrics.clone(),
            base_url: self.config.addon_base_url.as_str().to_owned(),
            jobs_signal: self.jobs_signal.clone(),
            verified_tokens: self.verified_tokens.clone(),
        }
    }

    /// The check in front of the workspace admins' routes.
    pub(crate) fn admin_gate(&self) -> crate::auth::gate::AdminGate {
        crate::auth::gate::AdminGate {
            verifier: self.verifier.clone(),
            limiter: self.limiter.clone(),
            metrics: self.metrics.clone(),
            installations: self.installations.clone(),
        }
    }

    pub(crate) fn flow_runner(&self) -> flows::run::FlowRunner {
        flows::run::FlowRunner {
            flows: self.flows.clone(),
            cache: self.flow_cache.clone(),
            installations: self.installations.clone(),
            clients: self.contexts.clients.clone(),
            metrics: self.metrics.clone(),
            allowed_api_hosts: self.config.allowed_api_hosts.clone().into(),
        }
    }

    pub(crate) fn bootstrap_runner(&self) -> bootstrap::BootstrapRunner {
        bootstrap::BootstrapRunner {
            bootstrap: self.bootstrap.clone(),
            clients: self.contexts.clients.with_budget(self.bootstrap_budget.clone()),
            metrics: self.metrics.clone(),
            settings: Arc::new(bootstrap::BootstrapSettings::of(&self.config)),
        }
    }

    /// What the HTTPS check and the per-address limit read.
    pub(crate) fn http_policy(&self) -> http::HttpPolicy {
        http::HttpPolicy {
            require_https: self.config.require_https,
            trusted_proxies: self.config.trusted_proxies.clone().into(),
            limiter: self.limiter.clone(),
        }
    }

    /// Every route of the gateway, each with its own handles.
    pub(crate) fn api(&self, inbox: &Inbox) -> api::Api {
        let config = &self.config;
        (
            ops::health::HealthApi { db: self.db.clone(), delivery_log: self.delivery_log.clone(), metrics: self.metrics.clone() },
            ops::manifest::ManifestApi {
                manifest_json: config.addon.manifest_json,
                base_url: config.addon_base_url.as_str().to_owned(),
                addon_key: config.addon_key().to_owned(),
            },
            installations::routes::LifecycleApi {
                verifier: self.verifier.clone(),
                installations: self.installations.clone(),
                lifecycle_events: self.lifecycle_events.clone(),
                registrar: self.registrar(),
                metrics: self.metrics.clone(),
                failed_checks: self.failed_checks.clone(),
                webhook_limiter: self.webhook_limiter.clone(),
                jobs_signal: self.jobs_signal.clone(),
                verified_tokens: self.verified_tokens.clone(),
                allowed_api_hosts: config.allowed_api_hosts.clone().into(),
                rest_webhooks: config.addon.rest_webhooks,
            },
            inbox::routes::WebhookApi {
                verifier: self.verifier.clone(),
                verified_tokens: self.verified_tokens.clone(),
                manifest_webhooks: config.addon.manifest_webhooks,
                failed_checks: self.failed_checks.clone(),
                webhook_limiter: self.webhook_limiter.clone(),
                metrics: self.metrics.clone(),
                inbox: inbox.clone(),
            },
            admin::routes::AdminApi {
                gate: self.admin_gate(),
                installations: self.installations.clone(),
                deliveries: self.deliveries.clone(),
                lifecycle_events: self.lifecycle_events.clone(),
            },
            admin::routes::AdminOperationsApi {
                gate: self.admin_gate(),
                registrar: self.registrar(),
                delivery_log: self.delivery_log.clone(),
                metrics: self.metrics.clone(),
                inbox: inbox.clone(),
            },
            admin::page::AdminPageApi,
            bootstrap::routes::BootstrapApi {
                gate: self.admin_gate(),
                bootstrap: self.bootstrap.clone(),
                jobs_signal: self.jobs_signal.clone(),
                settings: Arc::new(bootstrap::BootstrapSettings::of(config)),
            },
            explorer::routes::ExplorerApi {
                verifier: self.verifier.clone(),
                limiter: self.limiter.clone(),
                metrics: self.metrics.clone(),
                installations: self.installations.clone(),
                history: self.explorer_history.clone(),
                declared_scopes: config.addon.declared_scopes,
                explorer: explorer::Explorer {
                    observer: Some(Arc::new(crate::metrics::CallMetrics(self.metrics.clone()))),
                    budget: self.budget.clone(),
                    ..explorer::Explorer::new(&config.allowed_api_hosts)
                },
            },
            flows::routes::FlowsApi { gate: self.admin_gate(), runner: self.flow_runner(), addon: config.addon },
        )
    }

    /// What each inbox worker reads.
    pub(crate) fn inbox_worker(&self) -> inbox::workers::InboxWorker {
        inbox::workers::InboxWorker {
            deliveries: self.deliveries.clone(),
            flows: self.flow_runner(),
            hooks: self.hooks.clone(),
            contexts: self.contexts.clone(),
            metrics: self.metrics.clone(),
            max_attempts: self.config.webhook_max_attempts,
        }
    }

    pub(crate) fn ingest(&self) -> inbox::ingest::Ingest {
        inbox::ingest::Ingest { deliveries: self.deliveries.clone(), backend: self.db.backend(), hands_off: self.config.webhook_workers > 0 }
    }

    pub fn retention(&self) -> inbox::retention::Retention {
        inbox::retention::Retention {
            deliveries: self.deliveries.clone(),
            flows: self.flows.clone(),
            log_days: self.config.webhook_retention_days,
            dedup_days: self.config.webhook_dedup_days,
            flow_execution_days: self.config.flow_execution_retention_days,
        }
    }

    pub(crate) fn registration_jobs(&self) -> installations::jobs::RegistrationJobs {
        installations::jobs::RegistrationJobs {
            jobs: self.jobs.clone(),
            registrar: self.registrar(),
            metrics: self.metrics.clone(),
            wake: self.jobs_signal.clone(),
        }
    }

    pub(crate) fn cleanup_jobs(&self) -> installations::jobs::CleanupJobs {
        installations::jobs::CleanupJobs { jobs: self.jobs.clone(), cleanup: self.cleanup.clone(), wake: self.jobs_signal.clone() }
    }

    pub(crate) fn lifecycle_runner(&self) -> installations::lifecycle_hooks::LifecycleRunner {
        installations::lifecycle_hooks::LifecycleRunner {
            events: self.lifecycle_events.clone(),
            hooks: self.hooks.clone(),
            contexts: self.contexts.clone(),
            metrics: self.metrics.clone(),
            wake: self.jobs_signal.clone(),
            max_attempts: self.config.webhook_max_attempts,
        }
    }
}

/// `share` of `budget`'s requests per window: a budget of its own whose
/// every request also draws from `budget`.
fn share_of(budget: &clockify_client::RateBudget, share: f64) -> clockify_client::RateBudget {
    let limit = budget.limit();
    let max = ((limit.max_requests as f64) * share).floor().max(1.0) as usize;
    clockify_client::RateBudget::shared(clockify_client::RateLimit { max_requests: max, window: limit.window }, Arc::new(Within(budget.clone())))
}

/// Acquiring from another budget, as a [`clockify_client::SharedBudget`].
struct Within(clockify_client::RateBudget);

impl clockify_client::SharedBudget for Within {
    fn acquire<'a>(
        &'a self,
        workspace: &'a str,
        _limit: clockify_client::RateLimit,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move { self.0.for_workspace(workspace).acquire().await })
    }
}


#[cfg(test)]
mod tests {
    use super::share_of;
    use clockify_client::{RateBudget, RateLimit};

    #[test]
    fn a_share_is_a_whole_number_of_requests_and_never_none() {
        let budget = RateBudget::new(RateLimit::per_second(50));
        assert_eq!(share_of(&budget, 0.4).limit().max_requests, 20);
        assert_eq!(share_of(&budget, 0.6).limit().max_requests, 30);
        assert_eq!(share_of(&budget, 1.0).limit().max_requests, 50);
        assert_eq!(share_of(&budget, 0.001).limit().max_requests, 1);
        assert_eq!(share_of(&budget, 0.4).limit().window, budget.limit().window);
    }
}
