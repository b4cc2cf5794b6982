use clap::Args;

/// Placeholder until the scan command lands; the fields come with it.
#[derive(Debug, Args)]
pub struct ScanArgs {}
