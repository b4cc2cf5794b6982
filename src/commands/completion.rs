use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionArgs};
use crate::ctx::Ctx;

pub fn run(ctx: &Ctx, args: CompletionArgs) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "plat", &mut script);
    ctx.out.raw(&String::from_utf8_lossy(&script));
    Ok(())
}
