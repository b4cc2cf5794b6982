//! `plat scan`: gather manifests, Terraform state and live clusters into one report, show it
//! in the chosen format, optionally publish it to the platform (and so to the Backstage catalog), and fail (exit 3) when
//! findings reach `--fail-on`. The checks themselves live in `scan/`.

mod env_state;
mod inventories;
mod publish;
mod rules;
mod show;
mod sources;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;

use crate::api::LocalWork;
use crate::cli::{FailOnArg, OutputFormat, ScanArgs, ScanCommand, ScanFormat, ScanRunArgs};
use crate::ctx::Ctx;
use crate::error::CheckFailed;
use crate::scan::report::stream::{StreamFormat, StreamingReport, TablePrinter};
use crate::scan::{FailOn, Policies, ScanConfig, ScanReport, SeverityCounts};

pub async fn run(ctx: &Ctx, args: ScanArgs) -> Result<()> {
    match args.command {
        Some(ScanCommand::Rules(args)) => rules::run(ctx, args),
        Some(ScanCommand::List) => inventories::list(ctx).await,
        Some(ScanCommand::Show(args)) => inventories::show(ctx, args).await,
        None => scan(ctx, args.run).await,
    }
}

async fn scan(ctx: &Ctx, args: ScanRunArgs) -> Result<()> {
    ctx.authorize(LocalWork::Scan).await?;
    let root = std::env::current_dir()?;
    let mut config = load_config(ctx, &args, &root)?;
    config.policies = load_policies(&args.policy, &root)?.map(Arc::new);
    let policy_rules = config
        .policies
        .as_ref()
        .map(|p| p.catalogue())
        .unwrap_or_default();
    let format = format_of(ctx, args.format);
    let stream = match format {
        ScanFormat::Sarif => StreamFormat::Sarif,
        ScanFormat::Github => StreamFormat::Github,
        ScanFormat::Json => StreamFormat::Json,
        ScanFormat::Yaml => StreamFormat::Yaml,
        ScanFormat::Table => StreamFormat::Table,
        ScanFormat::Backstage => StreamFormat::Backstage,
    };
    // Reports are written while the scan runs, in flat memory (Backstage entities hold the
    // inventory, not the findings); publishing needs everything, so it takes the collecting path.
    if !args.publish {
        let out = ctx.out.clone();
        let print_table: TablePrinter<'_> =
            Box::new(move |table| out.titled_table(&table.title, &table.headers, &table.rows));
        let mut sink = StreamingReport::start(
            ctx.out.stdout_stream(),
            stream,
            &policy_rules,
            env!("CARGO_PKG_VERSION"),
            Some(print_table),
        )?;
        if stream == StreamFormat::Backstage {
            sink.set_backstage_options(show::backstage_options(
                args.env.as_deref(),
                &ctx.label_domain()?,
            ));
        }
        sources::gather(ctx, &args, &config, &root, &mut sink).await?;
        let outcome = sink.finish()?;
        show::streamed(ctx, &outcome, stream)?;
        return check_threshold(outcome.summary.counts, args.fail_on);
    }
    let publish_as = if args.publish {
        Some(publish::name(&args, &root)?)
    } else {
        None
    };
    let mut report = ScanReport::new();
    sources::gather(ctx, &args, &config, &root, &mut report).await?;
    report.finish();
    show::report(ctx, &report, format, args.env.as_deref(), &policy_rules)?;
    if let Some(name) = publish_as {
        publish::inventory(ctx, &name, &args, &report, &root).await?;
    }
    check_threshold(report.counts(), args.fail_on)
}

/// `--config`, else `.plat/scan.yaml` under the current directory, else the reference design
/// under the platform's label domain.
fn load_config(ctx: &Ctx, args: &ScanRunArgs, root: &std::path::Path) -> Result<ScanConfig> {
    match args.config.clone().or_else(|| ScanConfig::discover(root)) {
        Some(path) => Ok(ScanConfig::load(&path)?),
        None => Ok(ScanConfig::with_prefix(&ctx.label_domain()?)),
    }
}

/// `--policy DIR…`, else `.plat/policies/` under the current directory, else none.
fn load_policies(dirs: &[PathBuf], root: &Path) -> Result<Option<Policies>> {
    let dirs = if dirs.is_empty() {
        match Policies::discover(root) {
            Some(dir) => vec![dir],
            None => return Ok(None),
        }
    } else {
        dirs.to_vec()
    };
    Ok(Some(Policies::load(&dirs)?))
}

/// `--format` wins; otherwise the global `-o` picks among the formats both share.
fn format_of(ctx: &Ctx, format: Option<ScanFormat>) -> ScanFormat {
    format.unwrap_or(match ctx.global.output {
        OutputFormat::Table => ScanFormat::Table,
        OutputFormat::Json => ScanFormat::Json,
        OutputFormat::Yaml => ScanFormat::Yaml,
    })
}

fn check_threshold(counts: SeverityCounts, fail_on: FailOnArg) -> Result<()> {
    let (threshold, floor) = match fail_on {
        FailOnArg::Error => (FailOn::Error, "error"),
        FailOnArg::Warning => (FailOn::Warning, "warning"),
        FailOnArg::Never => (FailOn::Never, "never"),
    };
    let reached = threshold.reached(counts);
    if reached == 0 {
        return Ok(());
    }
    Err(CheckFailed {
        message: format!(
            "scan found {reached} finding{} at or above --fail-on {floor}",
            if reached == 1 { "" } else { "s" }
        ),
        hint: format!("fix them (`plat scan rules` says how), silence one with an `{}/ignore: RULE` annotation (under your label prefix) or .plat/scan.yaml, or report without failing with --fail-on never", crate::labels::DEFAULT_DOMAIN),
    }
    .into())
}
