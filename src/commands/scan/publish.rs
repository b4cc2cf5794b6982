//! `--publish`: the Backstage entities of this scan, where a catalog location can pick them up.

use std::path::Path;

use anyhow::{Context as _, Result};

use crate::cli::ScanRunArgs;
use crate::ctx::Ctx;
use crate::scan::ScanReport;
use crate::scan::report::backstage::slug;

/// Writes `<data dir>/catalog/<account>/<name>.yaml`; a re-scan of the same source replaces it.
pub async fn entities(
    ctx: &Ctx,
    args: &ScanRunArgs,
    report: &ScanReport,
    root: &Path,
) -> Result<()> {
    let account = match ctx.account() {
        Some(account) => account,
        None => ctx.platform().await?.who_am_i().await?.account,
    };
    let name = Some(slug(&source_name(args, root)))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "scan".into());
    let dir = ctx.dirs.data.join("catalog").join(slug(&account));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the catalog directory {}", dir.display()))?;
    let path = dir.join(format!("{name}.yaml"));
    let yaml = super::show::entities_yaml(report, args.env.as_deref());
    std::fs::write(&path, &yaml)
        .with_context(|| format!("cannot write the catalog file {}", path.display()))?;
    ctx.out.status(
        "Published",
        &format!("Backstage entities to {}", path.display()),
    );
    Ok(())
}

/// What was scanned, as a file name: the environment, the cluster, or the current directory.
fn source_name(args: &ScanRunArgs, root: &Path) -> String {
    if let Some(env) = &args.env {
        return format!("env-{env}");
    }
    if args.kube {
        return format!("cluster-{}", super::sources::kube_context_name(args));
    }
    root.file_name()
        .map_or_else(|| "scan".into(), |n| n.to_string_lossy().into_owned())
}
