use anyhow::Result;

use crate::cli::EnvTemplateCommand;
use crate::ctx::Ctx;
use crate::iac::Template;
use crate::output::views::TemplateView;
use crate::service::envs::human;

pub fn run(ctx: &Ctx, command: EnvTemplateCommand) -> Result<()> {
    let catalog = ctx.env_templates()?;
    match command {
        EnvTemplateCommand::List => {
            let views: Vec<_> = catalog.templates().iter().map(view).collect();
            ctx.out.list(&views)
        }
        EnvTemplateCommand::Show(args) => ctx.out.object(&view(catalog.find(&args.name)?)),
    }
}

fn view(template: &Template) -> TemplateView {
    TemplateView {
        name: template.name().to_owned(),
        description: template.manifest.description.trim().to_owned(),
        path: template.dir.display().to_string(),
        ttl_default: human(template.manifest.ttl.default.as_secs()),
        ttl_max: human(template.manifest.ttl.max.as_secs()),
        parameters: template.manifest.parameters.clone(),
        approval: template.manifest.approval,
    }
}
