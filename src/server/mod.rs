//! `plat server`: the platform served over HTTP. Handlers are thin; the service decides.
//! Never imports `cli/`, `commands/` or `output/`.

mod amqp;
mod automation_routes;
mod automation_triggers;
mod automation_worker;
pub use automation_worker::StepTools;
mod env_routes;
mod env_states;
mod extract;
mod inventory_routes;
mod jwt;
mod metrics;
pub mod reaper;
mod routes;
mod run_queue;
mod trust_routes;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::get;
use utoipa::OpenApi;

use crate::api::AuthConfig;
use crate::service::{self, Bootstrap, Error, Service};
use crate::store::{PoolSettings, Store};

pub use jwt::{ClaimNames, TokenVerifier};

#[derive(Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    pub oidc_issuer: String,
    pub oidc_client_id: String,
    pub oidc_audience: Option<String>,
    /// The claims that name the user and list the user's IdP groups (R-GOV-1).
    pub oidc_claims: ClaimNames,
    pub bootstrap_admin: String,
    pub master_account: String,
    pub default_tenant_domain: String,
    pub clock: service::Clock,
    /// Currency of template costs, budgets and spend (R-GOV-4).
    pub currency: String,
    /// The domain of the platform's labels (`PLAT_LABEL_DOMAIN`).
    pub label_domain: String,
    /// How long env requests wait for an approver (`PLAT_APPROVAL_WINDOW`).
    pub approval_window_seconds: i64,
    /// How long a request waits for a database connection, and one statement may run.
    pub db_acquire_timeout: Duration,
    pub db_statement_timeout: Duration,
    /// RabbitMQ for queue-triggered automations and for handing runs to workers; `None` leaves
    /// queue-triggered automations idle and workers polling the database.
    pub amqp_url: Option<String>,
    /// The RabbitMQ queue runs are handed to workers through.
    pub amqp_runs_queue: String,
    /// How long audit records are kept; `None` keeps them for ever.
    pub audit_retention: Option<jiff::SignedDuration>,
    pub automations: AutomationSettings,
}

/// How the server executes and triggers automations.
#[derive(Clone)]
pub struct AutomationSettings {
    /// Workers per replica taking queued runs.
    pub workers: usize,
    /// How long a worker holds a run without renewing; a run whose lease lapses is reclaimed.
    pub run_lease: Duration,
    /// Workers that may take one run before a lapse fails it for good.
    pub run_max_attempts: i64,
    /// The server's environment, where webhook triggers' and runners' `secret_env` secrets
    /// are looked up.
    pub webhook_secrets: Arc<BTreeMap<String, String>>,
    /// Terraform and templates for runs' env/scaffold/scan steps.
    pub step_tools: StepTools,
}

#[derive(Clone)]
pub struct AppState {
    service: Service,
    verifier: Arc<jwt::Verifiers>,
    metrics: Arc<metrics::Metrics>,
    auth_config: AuthConfig,
    webhook_secrets: Arc<BTreeMap<String, String>>,
}

/// Requests larger than this are refused with 413 before they reach a handler.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Run reports hold step outputs and logs; the executor keeps logs below this.
const MAX_REPORT_BYTES: usize = 4 * 1024 * 1024;
/// A scan inventory holds every resource scanned; a bigger scan is better split by source.
const MAX_INVENTORY_BYTES: usize = 32 * 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "plat", description = "The platform API served by `plat server`."),
    paths(
        routes::healthz, routes::readyz, routes::auth_config, routes::whoami, routes::authorize,
        routes::list_audit,
        routes::list_accounts, routes::create_account, routes::get_account, routes::update_account, routes::delete_account,
        routes::list_tenants, routes::create_tenant, routes::get_tenant, routes::update_tenant, routes::delete_tenant,
        routes::list_users, routes::create_user, routes::get_user, routes::rename_user, routes::revoke_user,
        routes::list_groups, routes::create_group, routes::get_group, routes::update_group, routes::delete_group,
        routes::add_group_member, routes::remove_group_member, routes::link_group_idp, routes::unlink_group_idp,
        trust_routes::list_trust_rules, trust_routes::add_trust_rule, trust_routes::delete_trust_rule,
        env_routes::list_envs, env_routes::start_env, env_routes::get_env, env_routes::env_logs, env_routes::finish_env_up,
        env_routes::start_env_down, env_routes::finish_env_down, env_routes::extend_env, env_routes::decide_env,
        env_routes::env_quota, env_routes::env_policy, env_routes::set_env_policy, env_routes::spend, env_routes::claim_expired_envs,
        env_routes::get_state, env_routes::put_state, env_routes::delete_state, env_routes::lock_state, env_routes::unlock_state,
        automation_routes::list_automations, automation_routes::apply_automation, automation_routes::get_automation,
        automation_routes::delete_automation, automation_routes::start_run, automation_routes::list_runs,
        automation_routes::get_run, automation_routes::run_logs, automation_routes::report_run, automation_routes::cancel_run,
        inventory_routes::list_inventories, inventory_routes::publish_inventory, inventory_routes::get_inventory,
        inventory_routes::inventory_entities, inventory_routes::catalog,
        automation_routes::webhook,
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

pub fn router(state: AppState) -> Router {
    use axum::routing::{delete, post};
    let api = Router::new()
        .route("/auth/config", get(routes::auth_config))
        .route(
            "/openapi.json",
            get(|| async { ([("content-type", "application/json")], openapi_json()) }),
        )
        .route("/whoami", get(routes::whoami))
        .route("/authorize", post(routes::authorize))
        .route(
            "/accounts",
            get(routes::list_accounts).post(routes::create_account),
        )
        .route(
            "/accounts/{slug}",
            get(routes::get_account)
                .patch(routes::update_account)
                .delete(routes::delete_account),
        )
        .route(
            "/tenants",
            get(routes::list_tenants).post(routes::create_tenant),
        )
        .route(
            "/tenants/{name}",
            get(routes::get_tenant)
                .patch(routes::update_tenant)
                .delete(routes::delete_tenant),
        )
        .route("/users", get(routes::list_users).post(routes::create_user))
        .route(
            "/users/{email}",
            get(routes::get_user).patch(routes::rename_user),
        )
        .route("/users/{email}/revoke", post(routes::revoke_user))
        .route(
            "/groups",
            get(routes::list_groups).post(routes::create_group),
        )
        .route(
            "/groups/{name}",
            get(routes::get_group)
                .patch(routes::update_group)
                .delete(routes::delete_group),
        )
        .route("/groups/{name}/members", post(routes::add_group_member))
        .route(
            "/groups/{name}/members/{email}",
            delete(routes::remove_group_member),
        )
        .route(
            "/groups/{name}/idp-links",
            post(routes::link_group_idp).delete(routes::unlink_group_idp),
        )
        .route(
            "/trust-rules",
            get(trust_routes::list_trust_rules).post(trust_routes::add_trust_rule),
        )
        .route(
            "/trust-rules/{name}",
            delete(trust_routes::delete_trust_rule),
        )
        .route(
            "/envs",
            get(env_routes::list_envs).post(env_routes::start_env),
        )
        .route("/envs/{name}", get(env_routes::get_env))
        .route("/envs/{name}/logs", get(env_routes::env_logs))
        // Outcomes carry the run's Terraform log (at most 1 MiB of it).
        .route(
            "/envs/{name}/up-finished",
            post(env_routes::finish_env_up).layer(DefaultBodyLimit::max(MAX_REPORT_BYTES)),
        )
        .route("/envs/{name}/down", post(env_routes::start_env_down))
        .route(
            "/envs/{name}/down-finished",
            post(env_routes::finish_env_down).layer(DefaultBodyLimit::max(MAX_REPORT_BYTES)),
        )
        .route("/envs/{name}/extend", post(env_routes::extend_env))
        .route("/envs/{name}/decision", post(env_routes::decide_env))
        .route("/env-quota", get(env_routes::env_quota))
        .route(
            "/env-policy",
            get(env_routes::env_policy).put(env_routes::set_env_policy),
        )
        .route("/env-reaper/claim", post(env_routes::claim_expired_envs))
        .route("/spend", get(env_routes::spend))
        .route(
            "/env-states/{id}",
            get(env_routes::get_state)
                .post(env_routes::put_state)
                .delete(env_routes::delete_state),
        )
        .route("/env-states/{id}/lock", post(env_routes::lock_state))
        .route("/env-states/{id}/unlock", post(env_routes::unlock_state))
        .route(
            "/automations",
            get(automation_routes::list_automations).put(automation_routes::apply_automation),
        )
        .route(
            "/automations/{name}",
            get(automation_routes::get_automation).delete(automation_routes::delete_automation),
        )
        .route(
            "/automations/{name}/runs",
            post(automation_routes::start_run),
        )
        // Signed by the caller instead of a bearer token (see `service::automation_triggers`).
        .route(
            "/automations/{name}/webhook",
            post(automation_routes::webhook),
        )
        .route("/automation-runs", get(automation_routes::list_runs))
        .route("/automation-runs/{id}", get(automation_routes::get_run))
        .route(
            "/automation-runs/{id}/logs",
            get(automation_routes::run_logs),
        )
        // Reports carry the run's whole log so far: allowed more than other bodies.
        .route(
            "/automation-runs/{id}/report",
            post(automation_routes::report_run).layer(DefaultBodyLimit::max(MAX_REPORT_BYTES)),
        )
        .route(
            "/automation-runs/{id}/cancel",
            post(automation_routes::cancel_run),
        )
        .route("/inventories", get(inventory_routes::list_inventories))
        .route(
            "/inventories/{name}",
            get(inventory_routes::get_inventory)
                .put(inventory_routes::publish_inventory)
                .layer(DefaultBodyLimit::max(MAX_INVENTORY_BYTES)),
        )
        .route(
            "/inventories/{name}/entities",
            get(inventory_routes::inventory_entities),
        )
        .route("/catalog", get(inventory_routes::catalog))
        .route("/audit", get(routes::list_audit));
    let metrics = state.metrics.clone();
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route(
            "/metrics",
            get(|State(s): State<AppState>| async move { s.metrics.render() }),
        )
        .nest("/api/v1", api)
        .fallback(|| async { extract::ApiError(Error::not_found("route", "this path")) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        // Outermost: every log line of a request, and its audit records, carry its id.
        .layer(axum::middleware::from_fn(extract::request_id))
        .with_state(state)
}

/// Opens the database, migrates it, bootstraps the platform and builds the shared state.
pub async fn prepare(config: &ServerConfig) -> Result<AppState, Error> {
    let connections = if config.database_url.starts_with("sqlite:") {
        8
    } else {
        16
    };
    let store = Store::open_with(
        &config.database_url,
        PoolSettings {
            max_connections: connections,
            acquire_timeout: config.db_acquire_timeout,
            statement_timeout: config.db_statement_timeout,
        },
    )
    .await?;
    let templates = config.automations.step_tools.env_templates.clone();
    let service = Service::new(store, config.clock.clone())
        .with_env_templates(templates)
        .with_currency(&config.currency)
        .with_label_domain(&config.label_domain)
        .with_approval_window(config.approval_window_seconds);
    service
        .bootstrap(&Bootstrap {
            master_account: config.master_account.clone(),
            admin_email: config.bootstrap_admin.clone(),
            default_tenant_domain: config.default_tenant_domain.clone(),
        })
        .await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| Error::internal(format!("cannot build the HTTP client: {err}")))?;
    let audience = config
        .oidc_audience
        .clone()
        .unwrap_or_else(|| config.oidc_client_id.clone());
    Ok(AppState {
        service,
        verifier: Arc::new(jwt::Verifiers::new(
            TokenVerifier::new(
                config.oidc_issuer.clone(),
                audience,
                config.oidc_claims.clone(),
                http.clone(),
            ),
            http,
        )),
        metrics: Arc::new(metrics::Metrics::new()),
        auth_config: AuthConfig {
            issuer: config.oidc_issuer.clone(),
            client_id: config.oidc_client_id.clone(),
            audience: config.oidc_audience.clone(),
        },
        webhook_secrets: config.automations.webhook_secrets.clone(),
    })
}

/// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish. With a `reaper`, expired
/// environments are destroyed in the background meanwhile.
pub async fn serve(
    config: ServerConfig,
    reaper: Option<reaper::ReaperConfig>,
) -> Result<(), Error> {
    let state = prepare(&config).await?;
    let settings = &config.automations;
    // Workers take queued automation runs (`run --detach` and every trigger); several replicas
    // share the queue, in the database or, when configured, through RabbitMQ.
    let run_queue = config.amqp_url.clone().map(|url| run_queue::RunQueue {
        url,
        queue: config.amqp_runs_queue.clone(),
    });
    if let Some(queue) = run_queue.clone() {
        tokio::spawn(run_queue::announce_forever(state.service.clone(), queue));
    }
    let worker_settings = automation_worker::WorkerSettings {
        lease: settings.run_lease,
        tools: settings.step_tools.clone(),
        environment: settings.webhook_secrets.clone(),
        metrics: state.metrics.clone(),
    };
    for worker in 0..settings.workers {
        tokio::spawn(automation_worker::run_forever(
            state.service.clone(),
            worker,
            worker_settings.clone(),
            run_queue.clone(),
        ));
    }
    tokio::spawn(automation_triggers::run_forever(
        state.service.clone(),
        settings.run_max_attempts,
    ));
    if let Some(reaper) = reaper {
        tokio::spawn(reaper::Reaper::new(state.service.clone(), reaper).run_forever());
    }
    if let Some(url) = config.amqp_url.clone() {
        tokio::spawn(amqp::consume_forever(state.service.clone(), url));
    }
    if let Some(retention) = config.audit_retention {
        tokio::spawn(prune_audit_forever(state.service.clone(), retention));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|err| Error::internal(format!("cannot listen on {}: {err}", config.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|err| Error::internal(err.to_string()))?;
    tracing::info!(listen = %local, database = %crate::store::redact_url(&config.database_url), "plat server ready");
    // With each client's address, which the audit trail records as the request's source.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|err| Error::internal(format!("server failed: {err}")))?;
    tracing::info!("plat server stopped");
    Ok(())
}

/// How often the audit trail is pruned past its retention; the first prune runs at start.
const AUDIT_PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Keeps the audit trail within its retention (R-GOV-3), each pruning itself on record. Several
/// replicas may prune at once: each deletes what is still there.
async fn prune_audit_forever(service: Service, retention: jiff::SignedDuration) {
    let mut tick = tokio::time::interval(AUDIT_PRUNE_EVERY);
    loop {
        tick.tick().await;
        match service.prune_audit(retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned the audit trail past its retention"),
            Err(err) => tracing::warn!(error = %err, "could not prune the audit trail; will retry"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
