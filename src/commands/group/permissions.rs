use anyhow::Result;

use crate::ctx::Ctx;
use crate::output::views::PermissionEntry;
use crate::service::vocabulary::Permission;

pub fn run(ctx: &Ctx) -> Result<()> {
    let entries: Vec<PermissionEntry> = Permission::ALL
        .iter()
        .map(|permission| PermissionEntry {
            permission: permission.to_string(),
            requires_role: permission.role_behind().map(|role| role.to_string()),
        })
        .collect();
    ctx.out.list(&entries)
}
