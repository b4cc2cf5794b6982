use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct TrustArgs {
    #[command(subcommand)]
    pub command: TrustCommand,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// List the account's trust rules
    #[command(visible_alias = "ls")]
    List,
    /// Let tokens of an external issuer (a GitHub Actions job) act with a group's permissions
    ///
    /// A token of ISSUER for AUDIENCE whose claims all match acts as the service identity
    /// NAME@ACCOUNT.trust.invalid, in this account only, with exactly the permissions of GROUP.
    /// A value ending in * matches by prefix (--claim ref=refs/heads/release/*). A rule for
    /// GitHub's issuer must pin repository or repository_owner.
    #[command(after_help = "Example:\n  plat trust add ci-shop \
        --issuer https://token.actions.githubusercontent.com --audience plat \\\n    \
        --claim repository=acme/shop --claim ref=refs/heads/main --group deployers")]
    Add(TrustAddArgs),
    /// Delete a trust rule: its tokens are refused from the next request
    #[command(visible_alias = "rm")]
    Delete(TrustNameArgs),
}

#[derive(Debug, Args)]
pub struct TrustAddArgs {
    /// Rule name, also the service identity's: lowercase letters, digits and '-'
    pub name: String,
    /// The issuer URL, as the tokens' `iss` claim has it
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// The audience the tokens must be for (`plat login --github-actions --audience`)
    #[arg(long, value_name = "AUDIENCE", default_value = "plat")]
    pub audience: String,
    /// A claim the token must have (repeatable; all must match), e.g. repository=acme/shop
    #[arg(long = "claim", value_name = "NAME=VALUE", value_parser = parse_claim)]
    pub claims: Vec<(String, String)>,
    /// The account's group whose permissions the tokens act with
    #[arg(long, value_name = "GROUP")]
    pub group: String,
}

#[derive(Debug, Args)]
pub struct TrustNameArgs {
    /// Rule name
    pub name: String,
}

fn parse_claim(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err(format!(
            "expected NAME=VALUE, such as repository=acme/shop, got '{text}'"
        )),
    }
}
