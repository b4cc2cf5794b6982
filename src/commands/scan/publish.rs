//! `--publish`: the scan's inventory, attached to the account (and to the environment with
//! `--env`) in the platform, where `plat scan list` and the Backstage catalog find it.

use std::path::Path;

use anyhow::Result;

use crate::api::PublishInventory;
use crate::cli::ScanRunArgs;
use crate::ctx::Ctx;
use crate::scan::ScanReport;
use crate::scan::report::json;

/// The name to publish under, checked before scanning: a long scan must not end in a refusal
/// the name alone could have predicted. (The platform checks it again.)
pub fn name(args: &ScanRunArgs, root: &Path) -> Result<String> {
    let name = args
        .publish_name
        .clone()
        .unwrap_or_else(|| default_name(args, root));
    crate::service::vocabulary::check_slug("inventory name", &name)?;
    Ok(name)
}

pub async fn inventory(
    ctx: &Ctx,
    name: &str,
    args: &ScanRunArgs,
    report: &ScanReport,
    root: &Path,
) -> Result<()> {
    let request = PublishInventory {
        env: args.env.clone(),
        source: source(args, root),
        report: serde_json::to_value(json::document(report))?,
        entities: super::show::entities_yaml(report, args.env.as_deref(), &ctx.label_domain()?)?,
    };
    let published = ctx
        .platform()
        .await?
        .publish_inventory(name, request)
        .await?;
    ctx.out.status(
        "Published",
        &format!(
            "inventory '{}' to account '{}' ({} resources; `plat scan show {}`)",
            published.name, published.account, published.resources, published.name
        ),
    );
    Ok(())
}

/// What was scanned, in words, as listings show it.
fn source(args: &ScanRunArgs, root: &Path) -> String {
    if let Some(env) = &args.env {
        return format!("env:{env}");
    }
    if args.kube {
        return format!("cluster:{}", super::sources::kube_context_name(args));
    }
    let mut parts: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
    if let Some(state) = &args.tf_state {
        parts.push(format!("tf-state:{}", state.display()));
    }
    if parts.is_empty() {
        parts.push(root.display().to_string());
    }
    parts.join(" ")
}

/// A platform name (lowercase letters, digits, '-', at most 63) for what was scanned: the
/// environment, the cluster, or the current directory.
fn default_name(args: &ScanRunArgs, root: &Path) -> String {
    let raw = if let Some(env) = &args.env {
        format!("env-{env}")
    } else if args.kube {
        format!("cluster-{}", super::sources::kube_context_name(args))
    } else {
        root.file_name()
            .map_or_else(|| "scan".into(), |n| n.to_string_lossy().into_owned())
    };
    let mut name = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name: String = name.trim_matches('-').chars().take(63).collect();
    match name.trim_end_matches('-') {
        "" => "scan".into(),
        trimmed => trimmed.to_owned(),
    }
}
