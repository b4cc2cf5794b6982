//! `plat scaffold …`: Backstage Software Templates rendered offline by `scaffold/`, published
//! with git2, and kept up to date Copier-style. These files only gather inputs and show results.

mod list;
mod prompt;
mod run;
mod show;
mod update;

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::{ScaffoldArgs, ScaffoldCommand};
use crate::ctx::Ctx;
use crate::scaffold::TemplateSearch;

pub async fn run(ctx: &Ctx, args: ScaffoldArgs) -> Result<()> {
    match args.command {
        ScaffoldCommand::List => list::run(ctx),
        ScaffoldCommand::Show(args) => show::run(ctx, args),
        ScaffoldCommand::Run(args) => run::run(ctx, args).await,
        ScaffoldCommand::Update(args) => update::run(ctx, args).await,
    }
}

/// Every scaffold template root, `PLAT_TEMPLATE_PATH` first.
pub(super) struct Templates;

impl Templates {
    pub fn discover(ctx: &Ctx) -> TemplateSearch {
        TemplateSearch::new(ctx.template_roots("scaffold"))
    }
}

/// `--set` pairs as the engine's input (it coerces them by the template's schema).
pub(super) fn sets_input(input: &mut crate::scaffold::ParameterInput, sets: &[(String, String)]) {
    input.sets.extend(sets.iter().cloned());
}

/// An absolute path, so JSON output names the same directory whatever reads it later.
pub(super) fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}
