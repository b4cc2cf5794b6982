use anyhow::Result;

use crate::api::ApplyAutomation;
use crate::automation::Definition;
use crate::cli::AutomationApplyArgs;
use crate::ctx::Ctx;
use crate::error::UserError;

pub async fn run(ctx: &Ctx, args: AutomationApplyArgs) -> Result<()> {
    let file = args.file.display().to_string();
    let source = crate::document_limits::read_document(&args.file, true)
        .map_err(|err| UserError::new(err.to_string(), err.hint()))?;
    // Refused here, with the file's line, before anything reaches the platform.
    let definition = Definition::from_yaml(&file, &source)?;
    let applied = ctx
        .platform()
        .await?
        .apply_automation(ApplyAutomation {
            definition: serde_json::to_value(&definition)?,
        })
        .await?;
    let verb = if applied.created {
        "Created"
    } else {
        "Updated"
    };
    ctx.out
        .status(verb, &format!("automation {}", applied.automation.name));
    ctx.out.object(&applied.automation)
}
