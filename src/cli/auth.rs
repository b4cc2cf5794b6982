use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// URL of the plat server (default: the current context's server)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Keep the refresh token in a file readable only by you instead of the OS keyring
    #[arg(long)]
    pub insecure_storage: bool,
    /// Read an access token from standard input instead of running the device flow
    #[arg(long)]
    pub with_token: bool,
    /// Log in as this GitHub Actions job with its OIDC ID token (the job needs `permissions:
    /// id-token: write`, the server a `plat trust` rule). No token is stored: every later plat
    /// command of the job asks the runner for a fresh one. The default in a job that may
    /// request ID tokens, unless --with-token is given.
    #[arg(long, conflicts_with_all = ["with_token", "insecure_storage"])]
    pub github_actions: bool,
    /// The audience of the job's ID token, the trust rule's --audience (default: plat; only
    /// for a GitHub Actions login)
    #[arg(long, value_name = "AUDIENCE", conflicts_with = "with_token")]
    pub audience: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Only forget the stored tokens; do not ask the identity provider to revoke them
    #[arg(long)]
    pub no_revoke: bool,
}

#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub command: AuthCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Show whether you are logged in to the current context, as whom, until when
    Status,
    /// Print a valid access token (refreshed if needed) for use in scripts
    Token,
}
