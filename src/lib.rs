//! `plat`: the command-line client of an internal developer platform, and the platform itself.
//!
//! Flow of a command: [`cli`] parses, [`ctx::Ctx`] resolves the surroundings, [`commands`]
//! arranges calls on a [`platform::Platform`], whose rules live in [`service`] over [`store`].

pub(crate) mod api;
pub mod assets;
pub(crate) mod auth;
pub(crate) mod automation;
pub(crate) mod backoff;
pub mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod ctx;
mod document_limits;
pub(crate) mod error;
pub(crate) mod expr;
pub(crate) mod iac;
pub(crate) mod labels;
pub(crate) mod ops;
pub(crate) mod output;
pub(crate) mod platform;
mod private_fs;
mod process;
pub(crate) mod provision;
pub(crate) mod scaffold;
pub(crate) mod scan;
#[cfg(feature = "server")]
pub(crate) mod server;
pub(crate) mod service;
pub(crate) mod store;
pub(crate) mod template_repos;

use std::ffi::OsString;

use clap::Parser;

use crate::cli::Cli;
pub use crate::config::Env;
use crate::ctx::Ctx;
use crate::error::{Cancelled, Report};
use crate::output::Output;
pub use crate::output::{Sink, Sinks};

/// What the benchmark drivers in `examples/` and the integration tests reach into; not an
/// API. Everything else is crate-private, so that the compiler reports what nothing uses.
#[doc(hidden)]
pub mod internals {
    pub use crate::api::CreateAccount;
    pub use crate::expr::Engine;
    pub use crate::scaffold::{Locator, ParameterInput, RunOptions, resolve_parameters, run};
    pub use crate::scan::{
        CountingSink, KustomizeRenderer, ManifestOptions, ScanConfig, scan_paths,
    };
    pub use crate::service::{Bootstrap, Identity, Origin, Service, system_clock};
    pub use crate::store::Store;
}

/// Chooses rustls' crypto provider (ring, shared with sqlx); must run before any HTTP client exists.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs plat with these arguments and environment; returns the process exit code.
pub fn run(args: Vec<OsString>, env: Env) -> u8 {
    run_with(args, env, Sinks::process())
}

/// [`run`], writing to `sinks`: in-process callers read what a command printed from buffers.
pub fn run_with(args: Vec<OsString>, env: Env, sinks: Sinks) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return code;
        }
    };
    install_crypto();
    // A CLI command needs one thread; the server wants every core.
    let builder = match cli.command {
        #[cfg(feature = "server")]
        cli::Command::Server(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match { builder }.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            let out = Output::new(cli.global.output, false, 0, &env, sinks);
            out.error(&Report::from_error(&anyhow::Error::new(err)));
            return 1;
        }
    };
    runtime.block_on(run_command(cli, env, sinks))
}

async fn run_command(cli: Cli, env: Env, sinks: Sinks) -> u8 {
    let out = Output::new(
        cli.global.output,
        cli.global.quiet,
        cli.global.verbose,
        &env,
        sinks,
    );
    let allow_new_context = matches!(cli.command, cli::Command::Login(_));
    let ctx = match Ctx::new(cli.global.clone(), env, out.clone(), allow_new_context) {
        Ok(ctx) => ctx,
        Err(err) => {
            out.error(&Report::from_error(&err));
            return Report::from_error(&err).exit_code;
        }
    };
    // Commands that run Terraform forward Ctrl-C to it themselves, so that it can stop cleanly
    // and write its state; dropping them mid-apply would orphan resources.
    let result = if cli.command.handles_interrupts() {
        commands::dispatch(&ctx, cli.command).await
    } else {
        tokio::select! {
            result = commands::dispatch(&ctx, cli.command) => result,
            _ = tokio::signal::ctrl_c() => Err(Cancelled("interrupted".into()).into()),
        }
    };
    match result {
        Ok(()) => 0,
        Err(err) => {
            let report = Report::from_error(&err);
            ctx.out.error(&report);
            report.exit_code
        }
    }
}
