use crate::api::{ErrorBody, ErrorDetail};
use crate::store::StoreError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way a platform operation can be refused. Each kind has a stable code (the JSON
/// `error.code`), an exit code and an HTTP status, so the embedded and remote platforms fail alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Missing, or belonging to an account the caller cannot see (R-SEC-3: one answer for both).
    NotFound,
    Invalid,
    Conflict,
    PermissionDenied,
    Unauthenticated,
    QuotaExceeded,
    /// An env that needed an approval (R-GOV-2) did not get one: rejected, expired, or not yet
    /// decided where the caller cannot wait.
    NotApproved,
    /// The database (or another backing service) cannot be reached now; retrying later may work.
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 9] = [
        Self::NotFound,
        Self::Invalid,
        Self::Conflict,
        Self::PermissionDenied,
        Self::Unauthenticated,
        Self::QuotaExceeded,
        Self::NotApproved,
        Self::Unavailable,
        Self::Internal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Invalid => "invalid_argument",
            Self::Conflict => "conflict",
            Self::PermissionDenied => "permission_denied",
            Self::Unauthenticated => "unauthenticated",
            Self::QuotaExceeded => "quota_exceeded",
            Self::NotApproved => "not_approved",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub fn exit(self) -> crate::error::Exit {
        use crate::error::Exit;
        match self {
            Self::Unauthenticated => Exit::Unauthenticated,
            Self::PermissionDenied => Exit::PermissionDenied,
            Self::QuotaExceeded | Self::NotApproved => Exit::LimitReached,
            Self::NotFound
            | Self::Invalid
            | Self::Conflict
            | Self::Unavailable
            | Self::Internal => Exit::Failure,
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Invalid => 400,
            Self::Conflict => 409,
            Self::PermissionDenied => 403,
            Self::Unauthenticated => 401,
            Self::QuotaExceeded => 429,
            // The request was understood and is refused by policy, not by the caller's rights.
            Self::NotApproved => 403,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A blank key is a mistake in the request, never a name that happens to be missing.
    pub fn not_found(what: &str, key: &str) -> Self {
        if key.trim().is_empty() {
            return Self::invalid(format!("the {what} must not be empty"))
                .with_hint("give the name (or e-mail) of an existing one");
        }
        let hint = match what {
            "account" => "run `plat account list` to see the accounts you can reach",
            "tenant" => "run `plat tenant list` to see the tenants you can reach",
            "user" => "run `plat user list` to see the users linked to this account",
            "group" => "run `plat group list` to see this account's groups",
            _ => "check the name and the account you are acting in",
        };
        Self::new(ErrorKind::NotFound, format!("{what} '{key}' not found")).with_hint(hint)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }
    pub fn quota(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::QuotaExceeded, message)
    }
    pub fn not_approved(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotApproved, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.kind.code().to_owned(),
                message: self.message.clone(),
                hint: self.hint.clone(),
            },
        }
    }

    /// Rebuilds the error a server sent, so that a remote call exits exactly as a local one.
    pub fn from_body(body: ErrorBody) -> Self {
        let ErrorDetail {
            code,
            message,
            hint,
        } = body.error;
        let kind = ErrorKind::ALL
            .into_iter()
            .find(|kind| kind.code() == code)
            .unwrap_or(ErrorKind::Internal);
        Self {
            kind,
            message,
            hint,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        StoreError::from(err).into()
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Self::from(&err)
    }
}

impl From<&StoreError> for Error {
    fn from(err: &StoreError) -> Self {
        const RETRY: &str = "retry shortly; if it persists, check the database server or disk";
        if err.is_unavailable() {
            let message = match err {
                StoreError::Unavailable(message) => message.clone(),
                other => format!("the database is unavailable: {other}"),
            };
            return Self::unavailable(message).with_hint(RETRY);
        }
        match err {
            StoreError::BadUrl(message) => Self::invalid(message.clone())
                .with_hint("use sqlite://PATH or postgres://USER@HOST:PORT/DB"),
            StoreError::Duplicate { message, hint } => {
                Self::conflict(message.clone()).with_hint(*hint)
            }
            StoreError::Broken { message, hint } => {
                let error = Self::internal(message.clone());
                match hint {
                    Some(hint) => error.with_hint(*hint),
                    None => error,
                }
            }
            // Unique violations reach here only through races the service's own checks lost.
            StoreError::Sql(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Self::conflict("a concurrent change created the same name first")
                    .with_hint("retry the command")
            }
            StoreError::Sql(err) => Self::internal(format!("storage failure: {err}")),
            StoreError::Unavailable(message) => Self::unavailable(message.clone()).with_hint(RETRY),
        }
    }
}
