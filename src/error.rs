//! Errors that are not the platform's: usage mistakes, cancellations and plain user errors,
//! with the exit code each one maps to.

use std::fmt;

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
                return Self::simple(platform.kind.exit_code(), code, err, platform.hint.clone());
            }
            if let Some(auth) = cause.downcast_ref::<crate::auth::AuthError>() {
                return Self::simple(auth.exit_code(), auth.code(), err, auth.hint());
            }
            if let Some(iac) = cause.downcast_ref::<crate::iac::IacError>() {
                let code = u8::try_from(iac.exit_code()).unwrap_or(1);
                return Self::simple(code, iac.code(), err, iac.hint());
            }
            // plat scaffold: the engine's own codes, except that missing parameters are the
            // contract's "missing values" (exit 2), and an update that left conflicts exits 3.
            if let Some(scaffold) = cause.downcast_ref::<crate::scaffold::ScaffoldError>() {
                let exit_code = match scaffold.root() {
                    crate::scaffold::ScaffoldError::MissingParameters { .. } => 2,
                    other => u8::try_from(other.exit_code()).unwrap_or(1),
                };
                return Self::simple(exit_code, scaffold.code(), err, scaffold.hint());
            }
            if let Some(conflicts) = cause.downcast_ref::<UpdateConflicts>() {
                let hint = format!(
                    "resolve the conflicts in {}, then commit",
                    conflicts.0.join(", ")
                );
                return Self::simple(3, "update_conflicts", err, Some(hint));
            }
            if let Some(failed) = cause.downcast_ref::<CheckFailed>() {
                return Self::simple(3, "check_failed", err, Some(failed.hint.clone()));
            }
            if let Some(scan) = cause.downcast_ref::<crate::scan::ScanError>() {
                return Self::simple(1, scan.code(), err, scan.hint());
            }
            if let Some(definition) = cause.downcast_ref::<crate::automation::DefinitionError>() {
                let hint = definition.hint.clone().or_else(|| {
                    Some("`plat automation apply --help` shows the definition format".into())
                });
                return Self::simple(1, "invalid_definition", err, hint);
            }
            if let Some(user) = cause.downcast_ref::<UserError>() {
                return Self::simple(1, "invalid_argument", err, user.hint.clone());
            }
            if cause.downcast_ref::<Cancelled>().is_some() {
                return Self::simple(130, "cancelled", err, None);
            }
            if let Some(missing) = cause.downcast_ref::<MissingValues>() {
                let flags = missing.0.join(" ");
                return Self::simple(
                    2,
                    "missing_values",
                    err,
                    Some(format!("pass them as {flags}")),
                );
            }
        }
        Self::simple(1, "error", err, None)
    }

    fn simple(exit_code: u8, code: &str, err: &anyhow::Error, hint: Option<String>) -> Self {
        Self {
            exit_code,
            code: code.into(),
            message: err.to_string(),
            causes: err.chain().skip(1).map(ToString::to_string).collect(),
            hint,
        }
    }
}
