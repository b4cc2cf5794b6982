mod add;
mod delete;
mod list;
mod show;
mod switch;

use anyhow::Result;

use crate::cli::ContextCommand;
use crate::ctx::Ctx;

pub fn run(ctx: &Ctx, command: ContextCommand) -> Result<()> {
    match command {
        ContextCommand::List => list::run(ctx),
        ContextCommand::Show(args) => show::run(ctx, args),
        ContextCommand::Use(args) => switch::run(ctx, args),
        ContextCommand::Add(args) => add::run(ctx, args),
        ContextCommand::Delete(args) => delete::run(ctx, args),
    }
}
