use anyhow::Result;

use crate::cli::RulesArgs;
use crate::ctx::Ctx;
use crate::scan::catalogue;

/// `plat scan rules`: the built-in catalogue, then the policy rules, as a table or a JSON/YAML list.
pub fn run(ctx: &Ctx, args: RulesArgs) -> Result<()> {
    let root = std::env::current_dir()?;
    let mut rules = catalogue().to_vec();
    if let Some(policies) = super::load_policies(&args.policy, &root)? {
        rules.extend(policies.catalogue());
    }
    ctx.out.list(&rules)
}
