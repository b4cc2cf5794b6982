use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct AutomationArgs {
    #[command(subcommand)]
    pub command: AutomationCommand,
}

#[derive(Debug, Subcommand)]
pub enum AutomationCommand {
    /// Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)
    #[command(after_long_help = DEFINITION_HELP)]
    Apply(AutomationApplyArgs),
    /// List this account's automations
    #[command(visible_alias = "ls")]
    List,
    /// Show an automation: trigger, parameters, steps
    Show(AutomationNameArgs),
    /// Delete an automation (its runs stay on record)
    #[command(visible_alias = "rm")]
    Delete(AutomationNameArgs),
    /// Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails
    Run(AutomationRunArgs),
    /// List runs, newest first
    Runs(AutomationRunsArgs),
    /// Print the log of a run
    Logs(AutomationLogsArgs),
    /// Stop a run: its running step is killed
    Cancel(AutomationRunIdArgs),
}

const DEFINITION_HELP: &str = "\
Definition:
  apiVersion: plat.dev/v1
  kind: Automation
  metadata: { name: NAME, description: TEXT }
  spec:
    parameters: [{ name, type: string|number|integer|boolean, default }]
    trigger: manual | constant | webhook | { schedule: { cron, timezone } } | { queue: { name } }
    timeout: 10m                          # the whole run
    steps:
      - id: fetch
        action: http                      # method, url, headers, body, retries, backoff, timeout
        input: { url: \"${{ parameters.source }}\", retries: 2 }
      - id: store
        action: exec                      # command, env, cwd
        input: { command: [sh, -c, \"echo ${{ steps.fetch.output.status }}\"] }
        if: \"${{ steps.fetch.output.status == 200 }}\"
        continue_on_error: false
        timeout: 30s
    # Actions on the platform, as the run's owner:
    #   env.up { template, name, ttl, vars }   -> name, template, expires_at, outputs
    #   env.down { name }                      -> name, destroyed
    #   scaffold { template, target, values }  -> path, files
    #   scan { path | env, fail_on }           -> resources, counts, findings
    # Instead of steps, a runner:
    #   runner: { kubernetes-job: { image, command, args, env, resources, namespace, context,
    #                               ttl_after_finished } }
    #   runner: { webhook: { url, secret_env, retries, backoff, timeout } }";

#[derive(Debug, Args)]
pub struct AutomationApplyArgs {
    /// Definition file (YAML), or - for stdin
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct AutomationNameArgs {
    /// Automation name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct AutomationRunArgs {
    /// Automation name
    pub name: String,
    /// Parameter value (repeatable)
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE", value_parser = super::parse_key_value)]
    pub params: Vec<(String, String)>,
    /// Wait for the run to end and exit with its result (the default)
    #[arg(long, conflicts_with = "detach")]
    pub wait: bool,
    /// Queue the run for the server's workers and return at once (needs `plat server`)
    #[arg(long)]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct AutomationRunsArgs {
    /// Only the runs of this automation
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct AutomationLogsArgs {
    /// Run id
    pub run_id: String,
    /// Keep printing as the log grows, until the run ends
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct AutomationRunIdArgs {
    /// Run id
    pub run_id: String,
}
