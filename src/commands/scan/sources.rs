//! Every input named on the command line, scanned into one report.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cli::ScanRunArgs;
use crate::ctx::Ctx;
use crate::error::UserError;
use crate::scan::{self, ManifestOptions, ScanConfig, ScanError, ScanSink};

const STDIN: &str = "<stdin>";

pub async fn gather(
    ctx: &Ctx,
    args: &ScanRunArgs,
    config: &ScanConfig,
    root: &Path,
    report: &mut (dyn ScanSink + Send),
) -> Result<()> {
    let is_stdin = |p: &Path| p.as_os_str() == "-";
    let stdin_readers = args.paths.iter().filter(|p| is_stdin(p)).count()
        + usize::from(args.tf_state.as_deref().is_some_and(is_stdin));
    if stdin_readers > 1 {
        return Err(UserError::new(
            "standard input ('-') can feed only one input",
            "save one of them to a file",
        )
        .into());
    }
    let nothing_named =
        args.paths.is_empty() && args.tf_state.is_none() && args.env.is_none() && !args.kube;
    let paths = if nothing_named {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut options = ManifestOptions::new(config);
    options.root = Some(root.to_path_buf());
    options.skip_unparsable = args.skip_unparsable;
    let (stdin, files): (Vec<PathBuf>, Vec<PathBuf>) = paths.into_iter().partition(|p| is_stdin(p));
    if !files.is_empty() {
        scan::scan_paths(&files, &options, report)?;
    }
    if !stdin.is_empty() {
        scan::scan_manifest_reader(STDIN, std::io::stdin().lock(), &options, report)?;
    }
    if let Some(path) = &args.tf_state {
        tf_state(path, root, config, report)?;
    }
    if let Some(name) = &args.env {
        super::env_state::scan(ctx, name, config, report).await?;
    }
    if args.kube {
        kube(ctx, args, config, report).await?;
    }
    Ok(())
}

fn tf_state(
    path: &Path,
    root: &Path,
    config: &ScanConfig,
    report: &mut dyn ScanSink,
) -> Result<()> {
    if path.as_os_str() == "-" {
        scan::scan_tf_state(STDIN, std::io::stdin().lock(), config, report)?;
        return Ok(());
    }
    // A device would never end; a named pipe (`--tf-state <(terraform show -json)`) does.
    if let Ok(metadata) = std::fs::metadata(path)
        && !metadata.is_file()
        && !scan::manifest::is_fifo(&metadata.file_type())
    {
        return Err(ScanError::NotRegular(path.to_path_buf()).into());
    }
    let file = std::fs::File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ScanError::NotFound(path.to_path_buf()),
        _ => ScanError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let name = display(path, root);
    scan::scan_tf_state(&name, std::io::BufReader::new(file), config, report)?;
    Ok(())
}

/// Relative to the current directory when under it, as manifest locations are.
fn display(path: &Path, root: &Path) -> String {
    let shown = path.strip_prefix(root).unwrap_or(path);
    shown.to_string_lossy().replace('\\', "/")
}

/// The kubeconfig context a live scan talks to: `--kube-context`, else the current one.
pub fn kube_context_name(args: &ScanRunArgs) -> String {
    if let Some(context) = &args.kube_context {
        return context.clone();
    }
    #[cfg(feature = "kube")]
    if let Some(current) = ::kube::config::Kubeconfig::read()
        .ok()
        .and_then(|k| k.current_context)
    {
        return current;
    }
    "current-context".into()
}

#[cfg(feature = "kube")]
async fn kube(
    ctx: &Ctx,
    args: &ScanRunArgs,
    config: &ScanConfig,
    report: &mut (dyn ScanSink + Send),
) -> Result<()> {
    let client = scan::kube::client_for_context(args.kube_context.as_deref()).await?;
    let mut options = scan::kube::KubeScanOptions::new(config, kube_context_name(args));
    options.namespace = args.namespace.clone();
    let mut progress = ctx.out.kube_scan_progress();
    scan::kube::scan_cluster(client, &options, report, &mut *progress).await?;
    Ok(())
}

#[cfg(not(feature = "kube"))]
async fn kube(
    _ctx: &Ctx,
    _args: &ScanRunArgs,
    _config: &ScanConfig,
    _report: &mut (dyn ScanSink + Send),
) -> Result<()> {
    Err(UserError::new(
        "this plat was built without Kubernetes support",
        "rebuild with the default cargo feature `kube`, or scan manifests instead",
    )
    .into())
}
