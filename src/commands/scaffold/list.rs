use anyhow::Result;

use crate::ctx::Ctx;
use crate::output::views::ScaffoldTemplateEntry;

pub fn run(ctx: &Ctx) -> Result<()> {
    let templates = super::Templates::discover(ctx);
    let mut entries = Vec::new();
    for (name, loaded) in templates.all() {
        match loaded {
            Ok(template) => entries.push(ScaffoldTemplateEntry::of(&name, &template)),
            Err(err) => ctx
                .out
                .warn(&format!("template {name} cannot be loaded: {err}")),
        }
    }
    ctx.out.list(&entries)
}
