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
