//! How a command ends: the one table from outcome to exit code ([`Exit`]), the errors that are
//! not the platform's (usage mistakes, cancellations, plain user errors), and [`Report`], which
//! turns any error into what the user sees. Every error type names its [`Exit`]; only
//! [`Exit::code`] turns that into a number, and the README's table and `plat --help` are
//! generated from [`Exit::ALL`].

use std::fmt;

/// Every way a command can end, each with one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// Runtime, validation, not found, remote failure.
    Failure,
    /// The command line itself is wrong, or required values are missing with no terminal to ask.
    Usage,
    /// The command ran but its check failed: scan findings, update conflicts.
    CheckFailed,
    Unauthenticated,
    PermissionDenied,
    /// Quota, lifetime or another policy limit.
    LimitReached,
    Cancelled,
}

impl Exit {
    pub const ALL: [Exit; 8] = [
        Self::Success,
        Self::Failure,
        Self::Usage,
        Self::CheckFailed,
        Self::Unauthenticated,
        Self::PermissionDenied,
        Self::LimitReached,
        Self::Cancelled,
    ];

    /// The one place exit codes are decided.
    pub const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Usage => 2,
            Self::CheckFailed => 3,
            Self::Unauthenticated => 4,
            Self::PermissionDenied => 5,
            Self::LimitReached => 6,
            Self::Cancelled => 130,
        }
    }

    pub const fn meaning(self) -> &'static str {
        match self {
            Self::Success => "success (an empty list is success)",
            Self::Failure => "error (runtime, validation, not found, remote failure)",
            Self::Usage => "usage error, or required values missing without a terminal to ask",
            Self::CheckFailed => {
                "the command ran but its check failed (`scan` findings at/above `--fail-on`, `scaffold update` conflicts)"
            }
            Self::Unauthenticated => "authentication required or rejected (`hint: plat login`)",
            Self::PermissionDenied => "permission denied by the platform's rules",
            Self::LimitReached => "quota or policy limit reached",
            Self::Cancelled => "cancelled (Ctrl-C, declined confirmation)",
        }
    }

    /// The table as `plat --help` prints it.
    pub fn help_text() -> String {
        let mut text = String::from("Exit codes:");
        for exit in Self::ALL {
            text.push_str(&format!("\n  {:<4} {}", exit.code(), exit.meaning()));
        }
        text
    }

    /// The table as the README shows it (a test checks that they match).
    pub fn markdown_table() -> String {
        let mut table = String::from("| code | meaning |\n|---|---|\n");
        for exit in Self::ALL {
            table.push_str(&format!("| {} | {} |\n", exit.code(), exit.meaning()));
        }
        table
    }
}

/// A mistake in what the user asked, with a hint; exits 1.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// The user stopped the command (Ctrl-C, declined confirmation); exits 130.
#[derive(Debug)]
pub struct Cancelled(pub String);

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cancelled {}

/// Values the command needs that were neither given nor promptable; exits 2 like clap's own.
#[derive(Debug)]
pub struct MissingValues(pub Vec<String>);

impl fmt::Display for MissingValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "missing required value(s): {}", self.0.join(", "))
    }
}

impl std::error::Error for MissingValues {}

/// `plat scaffold update` ran but left files with conflicts; exits 3 (its check failed).
#[derive(Debug)]
pub struct UpdateConflicts(pub Vec<String>);

impl fmt::Display for UpdateConflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "conflicting changes in {} file(s): {}",
            self.0.len(),
            self.0.join(", ")
        )
    }
}

impl std::error::Error for UpdateConflicts {}

/// The command ran but its check failed (`plat scan` findings at/above `--fail-on`); exits 3.
#[derive(Debug)]
pub struct CheckFailed {
    pub message: String,
    pub hint: String,
}

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CheckFailed {}

/// A run that ended failed, timed out or cancelled elsewhere: the command worked, the run did not.
#[derive(Debug)]
pub struct RunFailed {
    pub message: String,
    pub hint: String,
}

impl fmt::Display for RunFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RunFailed {}

/// What an error looks like at the edge: exit code, JSON code, message, causes and hint.
pub struct Report {
    pub exit_code: u8,
    pub code: String,
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

impl Report {
    pub fn from_error(err: &anyhow::Error) -> Self {
        for cause in err.chain() {
            if let Some(platform) = cause.downcast_ref::<crate::service::Error>() {
                let code = platform.kind.code();
                return Self::simple(platform.kind.exit(), code, err, platform.hint.clone());
            }
            if let Some(store) = cause.downcast_ref::<crate::store::StoreError>() {
                let platform = crate::service::Error::from(store);
                let code = platform.kind.code();
                return Self::simple(platform.kind.exit(), code, err, platform.hint);
            }
            if let Some(auth) = cause.downcast_ref::<crate::auth::AuthError>() {
                return Self::simple(auth.exit(), auth.code(), err, auth.hint());
            }
            if let Some(iac) = cause.downcast_ref::<crate::iac::IacError>() {
                return Self::simple(iac.exit(), iac.code(), err, iac.hint());
            }
            if let Some(scaffold) = cause.downcast_ref::<crate::scaffold::ScaffoldError>() {
                return Self::simple(scaffold.exit(), scaffold.code(), err, scaffold.hint());
            }
            if let Some(conflicts) = cause.downcast_ref::<UpdateConflicts>() {
                let hint = format!(
                    "resolve the conflicts in {}, then commit",
                    conflicts.0.join(", ")
                );
                return Self::simple(Exit::CheckFailed, "update_conflicts", err, Some(hint));
            }
            if let Some(failed) = cause.downcast_ref::<CheckFailed>() {
                let hint = Some(failed.hint.clone());
                return Self::simple(Exit::CheckFailed, "check_failed", err, hint);
            }
            if let Some(scan) = cause.downcast_ref::<crate::scan::ScanError>() {
                return Self::simple(Exit::Failure, scan.code(), err, scan.hint());
            }
            if let Some(definition) = cause.downcast_ref::<crate::automation::DefinitionError>() {
                let hint = definition.hint.clone().or_else(|| {
                    Some("`plat automation apply --help` shows the definition format".into())
                });
                return Self::simple(Exit::Failure, "invalid_definition", err, hint);
            }
            if let Some(failed) = cause.downcast_ref::<RunFailed>() {
                let hint = Some(failed.hint.clone());
                return Self::simple(Exit::Failure, "run_failed", err, hint);
            }
            if let Some(user) = cause.downcast_ref::<UserError>() {
                return Self::simple(Exit::Failure, "invalid_argument", err, user.hint.clone());
            }
            if cause.downcast_ref::<Cancelled>().is_some() {
                return Self::simple(Exit::Cancelled, "cancelled", err, None);
            }
            if let Some(missing) = cause.downcast_ref::<MissingValues>() {
                let flags = missing.0.join(" ");
                let hint = Some(format!("pass them as {flags}"));
                return Self::simple(Exit::Usage, "missing_values", err, hint);
            }
        }
        Self::simple(Exit::Failure, "error", err, None)
    }

    fn simple(exit: Exit, code: &str, err: &anyhow::Error, hint: Option<String>) -> Self {
        Self {
            exit_code: exit.code(),
            code: code.into(),
            message: err.to_string(),
            causes: err.chain().skip(1).map(ToString::to_string).collect(),
            hint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    /// The README's table is this table: one source for the docs, `--help` and the code.
    #[test]
    fn the_readme_exit_code_table_is_generated_from_the_one_table() {
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(&Exit::markdown_table()),
            "README.md's exit-code table differs from Exit::ALL; paste this:\n{}",
            Exit::markdown_table()
        );
    }

    #[test]
    fn every_exit_code_is_distinct() {
        let mut codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Exit::ALL.len());
    }
}
