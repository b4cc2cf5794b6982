//! Multi-step operations, each written once (like cargo's `ops`): the commands, the server's
//! background loops and the automation steps call these; nothing else drives Terraform or the automation executor.

pub(crate) mod env;
pub(crate) mod run;

#[cfg(test)]
mod tests;
