use anyhow::Result;

use crate::cli::{ConflictMode, ScaffoldUpdateArgs};
use crate::ctx::Ctx;
use crate::error::UpdateConflicts;
use crate::expr::Engine;
use crate::scaffold::{self, ConflictStyle, ParameterInput, UpdateOptions};

pub async fn run(ctx: &Ctx, args: ScaffoldUpdateArgs) -> Result<()> {
    ctx.authorize(crate::api::LocalWork::Scaffold).await?;
    let templates = super::Templates::discover(ctx);
    let target = super::absolute(args.target.clone());
    let mut input = ParameterInput::default();
    super::sets_input(&mut input, &args.sets);
    let options = UpdateOptions {
        input,
        git_ref: None,
        conflict: match args.conflict {
            ConflictMode::Inline => ConflictStyle::Inline,
            ConflictMode::Rej => ConflictStyle::Rej,
        },
        dry_run: args.dry_run,
        trust: args.trust,
        secrets: Default::default(),
    };
    ctx.out.status(
        if args.dry_run { "Checking" } else { "Updating" },
        &format!("{} from its template", target.display()),
    );
    let result = scaffold::update(&Engine::new(), templates.builtin(), &target, &options).await?;
    ctx.out.object(&result)?;
    if !result.conflicts.is_empty() {
        return Err(UpdateConflicts(result.conflicts).into());
    }
    let verb = if args.dry_run {
        "Would change"
    } else {
        "Updated"
    };
    ctx.out
        .status(verb, &format!("{} file(s)", result.changes.len()));
    Ok(())
}
