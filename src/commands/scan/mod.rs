//! `plat scan`: gather manifests, Terraform state and live clusters into one report, show it
//! in the chosen format, optionally publish it to the platform (and so to the Backstage catalog), and fail (exit 3) when
//! findings reach `--fail-on`. The checks themselves live in `scan/`.

mod env_state;
mod inventories;
mod publish;
mod rules;
mod show;
mod sources;

use anyhow::Result;

use crate::api::LocalWork;
use crate::cli::{FailOnArg, OutputFormat, ScanArgs, ScanCommand, ScanFormat, ScanRunArgs};
use crate::ctx::Ctx;
use crate::error::CheckFailed;
use crate::scan::{FailOn, ScanConfig, ScanReport};

pub async fn run(ctx: &Ctx, args: ScanArgs) -> Result<()> {
    match args.command {
        Some(ScanCommand::Rules) => rules::run(ctx),
        Some(ScanCommand::List) => inventories::list(ctx).await,
        Some(ScanCommand::Show(args)) => inventories::show(ctx, args).await,
        None => scan(ctx, args.run).await,
    }
}

async fn scan(ctx: &Ctx, args: ScanRunArgs) -> Result<()> {
    ctx.authorize(LocalWork::Scan).await?;
    let root = std::env::current_dir()?;
    let config = load_config(&args, &root)?;
    let publish_as = if args.publish {
        Some(publish::name(&args, &root)?)
    } else {
        None
    };
    let mut report = ScanReport::new();
    sources::gather(ctx, &args, &config, &root, &mut report).await?;
    report.finish();
    show::report(
        ctx,
        &report,
        format_of(ctx, args.format),
        args.env.as_deref(),
    )?;
    if let Some(name) = publish_as {
        publish::inventory(ctx, &name, &args, &report, &root).await?;
    }
    check_threshold(&report, args.fail_on)
}

/// `--config`, else `.plat/scan.yaml` under the current directory, else the reference design.
fn load_config(args: &ScanRunArgs, root: &std::path::Path) -> Result<ScanConfig> {
    match args.config.clone().or_else(|| ScanConfig::discover(root)) {
        Some(path) => Ok(ScanConfig::load(&path)?),
        None => Ok(ScanConfig::default()),
    }
}

/// `--format` wins; otherwise the global `-o` picks among the formats both share.
fn format_of(ctx: &Ctx, format: Option<ScanFormat>) -> ScanFormat {
    format.unwrap_or(match ctx.global.output {
        OutputFormat::Table => ScanFormat::Table,
        OutputFormat::Json => ScanFormat::Json,
        OutputFormat::Yaml => ScanFormat::Yaml,
    })
}

fn check_threshold(report: &ScanReport, fail_on: FailOnArg) -> Result<()> {
    let (fail_on, floor) = match fail_on {
        FailOnArg::Error => (FailOn::Error, "error"),
        FailOnArg::Warning => (FailOn::Warning, "warning"),
        FailOnArg::Never => (FailOn::Never, "never"),
    };
    if !report.fails(fail_on) {
        return Ok(());
    }
    let counts = report.counts();
    let reached = match fail_on {
        FailOn::Warning => counts.error + counts.warning,
        _ => counts.error,
    };
    Err(CheckFailed {
        message: format!(
            "scan found {reached} finding{} at or above --fail-on {floor}",
            if reached == 1 { "" } else { "s" }
        ),
        hint: "fix them (`plat scan rules` says how), silence one with the plat.io/ignore annotation or .plat/scan.yaml, or report without failing with --fail-on never".into(),
    }
    .into())
}
