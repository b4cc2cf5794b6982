//! One file per verb. Each reads like a short story: gather the inputs, call the platform,
//! show the result. Rules live in `service/`, formatting in `output/`.

mod account;
mod audit;
mod auth;
mod automation;
mod completion;
mod context;
mod env;
mod group;
mod policy;
mod scaffold;
mod scan;
#[cfg(feature = "server")]
mod server;
mod spend;
mod tenant;
mod trust;
mod user;
mod whoami;

use anyhow::Result;

use crate::cli::Command;
use crate::ctx::Ctx;

pub async fn dispatch(ctx: &Ctx, command: Command) -> Result<()> {
    match command {
        Command::Account(args) => account::run(ctx, args.command).await,
        Command::Tenant(args) => tenant::run(ctx, args.command).await,
        Command::User(args) => user::run(ctx, args.command).await,
        Command::Group(args) => group::run(ctx, args.command).await,
        Command::Trust(args) => trust::run(ctx, args.command).await,
        Command::Context(args) => context::run(ctx, args.command),
        Command::Whoami => whoami::run(ctx).await,
        Command::Env(args) => env::run(ctx, args.command).await,
        Command::Policy(args) => policy::run(ctx, args.command).await,
        Command::Audit(args) => audit::run(ctx, args.command).await,
        Command::Spend(args) => spend::run(ctx, args).await,
        Command::Automation(args) => automation::run(ctx, args.command).await,
        Command::Scan(args) => scan::run(ctx, args).await,
        Command::Scaffold(args) => scaffold::run(ctx, args).await,
        Command::Login(args) => auth::login(ctx, args).await,
        Command::Logout(args) => auth::logout(ctx, args).await,
        Command::Auth(args) => auth::run(ctx, args.command).await,
        #[cfg(feature = "server")]
        Command::Server(args) => server::run(ctx, args).await,
        Command::Completion(args) => completion::run(ctx, args),
    }
}
