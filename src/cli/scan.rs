use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// `plat scan PATH…` scans; `plat scan rules` lists the rules. The two never mix, so a path
/// named `rules` must be written `./rules`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_long_help = "Sources (any combination; none means the current directory):\n  \
plat scan k8s/ app.yaml          manifests: files, dirs, multi-document YAML, JSON, kustomize\n  \
helm template x | plat scan -    manifests from stdin\n  \
plat scan --tf-state state.json  `terraform show -json` output or a raw .tfstate ('-' = stdin)\n  \
plat scan --env NAME             an environment's Terraform state\n  \
plat scan --kube                 a live cluster (kubeconfig's current context or --kube-context)\n\n\
Published inventories: plat scan list, plat scan show NAME [--entities].\n\n\
Rules come from `.plat/scan.yaml` in the current directory, or --config.\n\n\
Unreadable or unparsable files are PLAT016 findings (errors by default); --skip-unparsable only \
warns. Devices and sockets are never read, broken symlinks are skipped with a warning.\n\n\
Exit codes: 0 no finding at/above --fail-on, 3 findings at/above --fail-on, 1 the scan itself failed."
)]
pub struct ScanArgs {
    #[command(subcommand)]
    pub command: Option<ScanCommand>,
    #[command(flatten)]
    pub run: ScanRunArgs,
}

#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// List the rule catalogue: id, name, default severity, target and how to fix, then the
    /// rules of the Rego policies (--policy DIR, else .plat/policies/)
    Rules(RulesArgs),
    /// List the inventories this account has published with --publish
    List,
    /// Show a published inventory: summary and findings, or its Backstage entities
    Show(InventoryShowArgs),
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Directory of Rego policies to list too (repeatable; default: .plat/policies/)
    #[arg(long, value_name = "DIR")]
    pub policy: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InventoryShowArgs {
    /// Inventory name (see `plat scan list`)
    pub name: String,
    /// Print the Backstage catalog entities (multi-document YAML) instead
    #[arg(long)]
    pub entities: bool,
}

#[derive(Debug, Args)]
pub struct ScanRunArgs {
    /// Manifest files or directories ('-' reads stdin)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Terraform state: `terraform show -json` output or a raw .tfstate ('-' reads stdin)
    #[arg(long, value_name = "FILE")]
    pub tf_state: Option<PathBuf>,
    /// Scan the Terraform state of this environment (see `plat env list`)
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Scan the live cluster of the kubeconfig's current context
    #[arg(long)]
    pub kube: bool,
    /// Kubeconfig context to scan instead of the current one
    #[arg(long, value_name = "CTX", requires = "kube")]
    pub kube_context: Option<String>,
    /// Scan only this namespace of the cluster (cluster-scoped kinds are then skipped)
    #[arg(long, value_name = "NS", requires = "kube")]
    pub namespace: Option<String>,
    /// Report format (default: the global -o)
    #[arg(long, value_enum)]
    pub format: Option<ScanFormat>,
    /// Lowest severity that makes the command exit 3
    #[arg(long, value_enum, default_value_t = FailOnArg::Error)]
    pub fail_on: FailOnArg,
    /// Only warn about files that cannot be read or parsed, instead of reporting each as a
    /// PLAT016 error finding
    #[arg(long)]
    pub skip_unparsable: bool,
    /// Directory of Rego policies in conftest's layout (`package main`, deny/warn rules);
    /// repeatable (default: .plat/policies/ in the current directory, if present)
    #[arg(long, value_name = "DIR")]
    pub policy: Vec<PathBuf>,
    /// Scan configuration (default: .plat/scan.yaml in the current directory, if present)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Attach the inventory to the account (and to the environment with --env) in the
    /// platform, where `plat scan list` and the Backstage catalog (/api/v1/catalog) find it;
    /// a re-scan of the same source replaces it
    #[arg(long)]
    pub publish: bool,
    /// Name to publish under (default: env-NAME, cluster-CONTEXT or the directory's name)
    #[arg(long, value_name = "NAME", requires = "publish")]
    pub publish_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Findings grouped by file on stdout, summary on stderr
    Table,
    /// Inventory and findings in one document (schema_version 1)
    Json,
    /// The JSON document as YAML
    Yaml,
    /// SARIF 2.1.0 for code scanning (GitHub, GitLab, IDEs)
    Sarif,
    /// Backstage catalog entities: a System per environment, a Resource per resource
    Backstage,
    /// GitHub Actions annotations (`::error file=…,line=…::`)
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Exit 3 when any finding is an error
    Error,
    /// Exit 3 when any finding is a warning or an error
    Warning,
    /// Never exit 3; report only
    Never,
}
