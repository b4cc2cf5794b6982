use anyhow::Result;

use crate::cli::ScaffoldShowArgs;
use crate::ctx::Ctx;
use crate::output::views::ScaffoldTemplateView;

pub fn run(ctx: &Ctx, args: ScaffoldShowArgs) -> Result<()> {
    let template = super::Templates::discover(ctx).load(&args.template)?;
    ctx.out.object(&ScaffoldTemplateView::of(&template))
}
