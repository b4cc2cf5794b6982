use anyhow::Result;

use crate::ctx::Ctx;
use crate::output::views::PermissionEntry;
use crate::service::vocabulary;

pub fn run(ctx: &Ctx) -> Result<()> {
    let entries: Vec<PermissionEntry> = vocabulary::PERMISSIONS
        .iter()
        .map(|permission| PermissionEntry {
            permission: (*permission).to_owned(),
            requires_role: vocabulary::role_behind(permission).map(str::to_owned),
        })
        .collect();
    ctx.out.list(&entries)
}
