use clap::Args;

/// Placeholder until the scaffold command lands; the fields come with it.
#[derive(Debug, Args)]
pub struct ScaffoldArgs {}
