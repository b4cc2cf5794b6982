//! Everything a command needs from outside, resolved once: output, environment, directories,
//! the chosen context, and (lazily) the platform handle.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use tokio::sync::OnceCell;

use crate::auth;
use crate::cli::GlobalArgs;
use crate::config::{ConfigFile, ContextConfig, Dirs, Env};
use crate::output::Output;
use crate::platform::{LocalPlatform, Platform, RemotePlatform};
use crate::service::{self, Bootstrap, Identity, Service};
use crate::store::Store;

pub struct Ctx {
    pub out: Output,
    pub env: Env,
    pub dirs: Dirs,
    pub config: ConfigFile,
    pub context: ContextConfig,
    pub global: GlobalArgs,
    platform: OnceCell<Arc<dyn Platform>>,
    /// Where templates come from; shared with the embedded platform, which reads env
    /// templates' limits only when an env starts.
    templates: Arc<crate::template_repos::TemplateSources>,
    /// The env templates, discovered once per command for the embedded service and the lifecycle.
    env_catalog: Arc<crate::template_repos::EnvCatalog>,
}

impl Ctx {
    /// `allow_new_context` lets `plat login --context NEW` name a context that does not exist yet.
    pub fn new(global: GlobalArgs, env: Env, out: Output, allow_new_context: bool) -> Result<Self> {
        let dirs = Dirs::resolve(&env)?;
        let config = ConfigFile::load(&dirs.config_file())?;
        let name = global
            .context
            .clone()
            .unwrap_or_else(|| config.current_name().to_owned());
        let context = match config.find(&name) {
            Err(_) if allow_new_context => ContextConfig {
                name,
                ..ContextConfig::default()
            },
            found => found?,
        };
        let templates = Arc::new(crate::template_repos::TemplateSources::new(
            &env, &context, &dirs, &out,
        ));
        Ok(Self {
            out,
            env,
            dirs,
            config,
            context,
            global,
            platform: OnceCell::new(),
            env_catalog: Arc::new(crate::template_repos::EnvCatalog::new(templates.clone())),
            templates,
        })
    }

    /// Prompts only when a person can answer: both ends are terminals, and neither
    /// `--no-input`, `PLAT_NO_INPUT` nor `CI` says otherwise.
    pub fn can_prompt(&self) -> bool {
        !self.global.no_input
            && !self.env.ci()
            && std::io::stdin().is_terminal()
            && self.out.stderr_is_terminal()
    }

    /// The user a service identity acts for on a server (`PLAT_ON_BEHALF_OF`, R-GOV-5).
    fn on_behalf_of(&self) -> Option<&str> {
        self.env.get("PLAT_ON_BEHALF_OF")
    }

    /// The account to act in: `--account`/`PLAT_ACCOUNT`, else the context's default.
    pub fn account(&self) -> Option<String> {
        self.global
            .account
            .clone()
            .or_else(|| self.context.account.clone())
    }

    pub async fn platform(&self) -> Result<&dyn Platform> {
        Ok(self.shared_platform().await?.as_ref())
    }

    /// The same platform handle, for work that outlives a borrow of the context (an executor).
    pub async fn shared_platform(&self) -> Result<&Arc<dyn Platform>> {
        self.platform
            .get_or_try_init(|| async { self.connect().await })
            .await
    }

    async fn connect(&self) -> Result<Arc<dyn Platform>> {
        if let Some(server) = &self.context.server {
            let token = self.access_token().await?;
            let platform = RemotePlatform::new(server, token, self.account())?
                .on_behalf_of(self.on_behalf_of().map(str::to_owned));
            return Ok(Arc::new(platform));
        }
        if self.on_behalf_of().is_some() {
            return Err(crate::service::Error::invalid(
                "PLAT_ON_BEHALF_OF needs a plat server: an embedded platform has no service identities",
            )
            .with_hint("use --user EMAIL to act as a user of an embedded platform")
            .into());
        }
        let user = self
            .global
            .user
            .clone()
            .or_else(|| self.context.user.clone());
        let identity = user.map_or(Identity::Operator, Identity::Email);
        let service = self.embedded_service().await?;
        Ok(Arc::new(LocalPlatform::new(
            service,
            identity,
            self.account(),
        )))
    }

    /// Asks the platform whether the caller may do `work` on this machine (a scan, a scaffold).
    /// An embedded platform that was never created has no rules and no users but the operator
    /// yet, and asking must not create one: a dry run writes nothing.
    pub async fn authorize(&self, work: crate::api::LocalWork) -> Result<()> {
        let default_database = self.context.server.is_none() && self.database_url().is_none();
        if default_database && !self.dirs.embedded_database().exists() {
            return Ok(());
        }
        Ok(self.platform().await?.authorize(work).await?)
    }

    /// The database the in-process platform uses when it is not the default SQLite file in
    /// the data dir. The environment may carry a URL with its password; a config file never does.
    fn database_url(&self) -> Option<&str> {
        self.env
            .get("PLAT_DATABASE_URL")
            .or(self.context.database_url.as_deref())
    }

    /// Opens the embedded platform, creating and bootstrapping it on first use.
    pub async fn embedded_service(&self) -> Result<Service> {
        let url = match self.database_url() {
            Some(url) => url.to_owned(),
            None => {
                crate::private_fs::private_dir(&self.dirs.data).with_context(|| {
                    format!(
                        "cannot create the data directory {}",
                        self.dirs.data.display()
                    )
                })?;
                format!(
                    "sqlite://{}?mode=rwc",
                    self.dirs.embedded_database().display()
                )
            }
        };
        self.out
            .debug(&format!("opening {}", crate::store::redact_url(&url)));
        let store = Store::open(&url, 1).await?;
        let service = Service::new(store, self.clock()?)
            .with_env_templates(self.env_catalog.clone())
            .with_currency(&self.currency()?)
            .with_label_domain(&self.label_domain()?)
            .with_approval_window(self.approval_window()?);
        service
            .bootstrap(&Bootstrap {
                master_account: self
                    .env
                    .get("PLAT_MASTER_ACCOUNT")
                    .unwrap_or("platform")
                    .to_owned(),
                admin_email: self.env.operator_email(),
                default_tenant_domain: "localhost".into(),
            })
            .await?;
        Ok(service)
    }
}

/// Collects required values: each one given, prompted for when a person can answer, or recorded
/// as missing so the command fails once listing all of them.
pub struct Needed<'a> {
    ctx: &'a Ctx,
    missing: Vec<String>,
}

impl Ctx {
    pub fn needed(&self) -> Needed<'_> {
        Needed {
            ctx: self,
            missing: Vec::new(),
        }
    }
}

impl Needed<'_> {
    pub fn value(&mut self, given: Option<String>, flag: &str, prompt: &str) -> Result<String> {
        if let Some(value) = given {
            return Ok(value);
        }
        if self.ctx.can_prompt() {
            let answer: String = dialoguer::Input::new()
                .with_prompt(prompt)
                .interact_text()
                .map_err(|err| anyhow::Error::new(crate::error::Cancelled(err.to_string())))?;
            return Ok(answer);
        }
        self.missing.push(flag.to_owned());
        Ok(String::new())
    }

    pub fn finish(self) -> Result<()> {
        if self.missing.is_empty() {
            Ok(())
        } else {
            Err(crate::error::MissingValues(self.missing).into())
        }
    }
}

impl Ctx {
    /// Asks before a destructive step. `--yes` answers for the user; without a person to ask,
    /// the command refuses rather than guess.
    pub fn confirm(&self, question: &str) -> Result<()> {
        if self.global.yes {
            return Ok(());
        }
        if !self.can_prompt() {
            return Err(crate::error::MissingValues(vec!["--yes".into()]).into());
        }
        let yes = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()
            .map_err(|err| anyhow::Error::new(crate::error::Cancelled(err.to_string())))?;
        if yes {
            Ok(())
        } else {
            Err(crate::error::Cancelled("declined".into()).into())
        }
    }
}

impl Ctx {
    #[cfg(feature = "server")]
    /// Structured JSON logs on stderr for `plat server`; `PLAT_LOG` filters (default `info`).
    pub fn init_server_logs(&self) {
        let filter =
            tracing_subscriber::EnvFilter::try_new(self.env.get("PLAT_LOG").unwrap_or("info"))
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }

    #[cfg(feature = "server")]
    pub fn default_server_database(&self) -> String {
        let _ = crate::private_fs::private_dir(&self.dirs.data);
        format!(
            "sqlite://{}?mode=rwc",
            self.dirs.data.join("server.db").display()
        )
    }
}

impl Ctx {
    /// The bearer token for the current server context: `PLAT_TOKEN` wins over everything.
    pub async fn access_token(&self) -> Result<String> {
        if let Some(token) = self.env.get("PLAT_TOKEN") {
            return Ok(token.trim().to_owned());
        }
        if let Some(audience) = &self.context.github_actions_audience {
            let token = auth::github_actions::id_token(&self.env, audience).await?;
            return Ok(token.expose().to_owned());
        }
        let session = self.session(&self.context)?;
        let token = session.access_token().await?;
        Ok(token.token.expose().to_owned())
    }

    /// Where this context's tokens live: the OS keyring, or the 0600 file of `--insecure-storage`.
    pub fn token_store(&self, insecure: bool) -> auth::TokenStore {
        if insecure {
            auth::TokenStore::insecure_file(&self.dirs.data)
        } else {
            auth::TokenStore::os_keyring()
        }
    }

    /// The login of a server context: its identity provider and its token store.
    pub fn session(&self, context: &ContextConfig) -> Result<auth::Session> {
        let (Some(issuer), Some(client_id)) = (&context.oidc_issuer, &context.oidc_client_id)
        else {
            return Err(crate::service::Error::unauthenticated(format!(
                "not logged in to context '{}'",
                context.name
            ))
            .with_hint("plat login")
            .into());
        };
        let mut oidc = auth::OidcConfig::new(issuer.clone(), client_id.clone());
        if let Some(audience) = &context.oidc_audience {
            oidc = oidc.with_resource(audience.clone());
        }
        let http = auth::http_client(std::time::Duration::from_secs(30))
            .context("cannot build the HTTP client")?;
        Ok(auth::Session::new(
            auth::SessionConfig::new(context.name.clone(), oidc, self.dirs.data.clone()),
            self.token_store(context.insecure_storage),
            http,
        ))
    }

    /// Where templates of `kind` (`env`, `scaffold`) come from, in search order.
    pub fn template_roots(&self, kind: &str) -> Vec<std::path::PathBuf> {
        self.templates.roots(kind)
    }

    /// The env templates, discovered once per command and shared by the embedded service,
    /// the env lifecycle and automation steps.
    pub fn env_templates(&self) -> Result<Arc<crate::iac::TemplateCatalog>> {
        Ok(self.env_catalog.catalog()?)
    }

    /// The env lifecycle as this caller: Terraform is found first, so that a missing binary
    /// provisions nothing and costs no quota.
    pub(crate) async fn env_lifecycle(&self) -> Result<crate::ops::env::EnvLifecycle<'_>> {
        let provisioner = Arc::new(self.provisioner().await?);
        Ok(crate::ops::env::EnvLifecycle {
            platform: self.platform().await?,
            provisioner,
            templates: self.env_templates()?,
            states: None,
        })
    }

    /// The Terraform/OpenTofu runner: `PLAT_IAC_BIN`, the context's `iac_bin`, else PATH.
    pub async fn provisioner(&self) -> Result<crate::provision::Provisioner> {
        let explicit = self
            .env
            .get("PLAT_IAC_BIN")
            .map(std::path::PathBuf::from)
            .or_else(|| self.context.iac_bin.as_ref().map(std::path::PathBuf::from));
        let cache = self.dirs.data.join("cache/iac-binary.json");
        let path = self.env.get("PATH").map(std::ffi::OsString::from);
        let binary =
            crate::iac::IacBinary::locate_cached(explicit, path.as_deref(), &cache).await?;
        let base_env = self
            .env
            .vars
            .iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Ok(
            crate::provision::Provisioner::new(binary, self.dirs.data.clone(), base_env)
                .with_label_domain(&self.label_domain()?),
        )
    }

    /// How long env requests wait for an approver (`PLAT_APPROVAL_WINDOW`, default 24h).
    pub fn approval_window(&self) -> Result<i64> {
        match self.env.get("PLAT_APPROVAL_WINDOW") {
            None => Ok(service::DEFAULT_APPROVAL_WINDOW_SECONDS),
            Some(text) => Ok(service::parse_approval_window(text)?),
        }
    }

    /// The domain of the labels plat writes (`PLAT_LABEL_DOMAIN`, default `appgear.io`).
    pub fn label_domain(&self) -> Result<String> {
        match self.env.get(crate::labels::DOMAIN_VARIABLE) {
            None => Ok(crate::labels::DEFAULT_DOMAIN.to_owned()),
            Some(text) => crate::labels::check_domain(text).map_err(|why| {
                crate::error::UserError::new(
                    format!("{}: {why}", crate::labels::DOMAIN_VARIABLE),
                    "unset it to use appgear.io, or set a lowercase DNS name",
                )
                .into()
            }),
        }
    }
}

/// The furthest `PLAT_CLOCK_OFFSET` may move the clock (100 years).
const MAX_CLOCK_OFFSET: jiff::SignedDuration =
    jiff::SignedDuration::from_secs(100 * 366 * 24 * 3600);

impl Ctx {
    /// The embedded platform's currency (`PLAT_CURRENCY`, as `plat server --currency` reads it).
    pub fn currency(&self) -> Result<String> {
        let code = self
            .env
            .get("PLAT_CURRENCY")
            .unwrap_or(service::spend::DEFAULT_CURRENCY);
        Ok(service::spend::check_currency(code)?)
    }

    /// Where "now" comes from: the system clock, shifted by `PLAT_CLOCK_OFFSET` (e.g. `+2h`) when set.
    pub fn clock(&self) -> Result<service::Clock> {
        match self.env.get("PLAT_CLOCK_OFFSET") {
            None => Ok(service::system_clock()),
            Some(text) => {
                let offset = crate::iac::parse_duration(text.trim_start_matches('+'))?;
                // A shifted clock that cannot tell the time would fall back to the real one
                // without a word: an offset past the calendar's end is refused instead.
                if offset > MAX_CLOCK_OFFSET || jiff::Timestamp::now().checked_add(offset).is_err()
                {
                    return Err(crate::error::UserError::new(
                        format!("PLAT_CLOCK_OFFSET '{text}' is too large"),
                        "use an offset of at most 100 years, such as +2h",
                    )
                    .into());
                }
                Ok(service::shifted_clock(offset))
            }
        }
    }
}
