//! What can go wrong in storage, said in storage's terms. The service decides what a caller is
//! told (`impl From<StoreError> for service::Error`): a race it lost is a conflict, an outage a
//! retryable 503, anything else an internal failure that names what broke.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no backend plat has, or does not parse.
    #[error("{0}")]
    BadUrl(String),
    /// A unique key refused a write: a concurrent change got there first.
    #[error("{message}")]
    Duplicate { message: String, hint: &'static str },
    /// The database cannot serve now (gone, restarting, full, out of time); retrying may work.
    #[error("{0}")]
    Unavailable(String),
    /// The database, a file or a stored value is not what plat wrote, or cannot be reached in a
    /// way retrying will not fix.
    #[error("{message}")]
    Broken {
        message: String,
        hint: Option<&'static str>,
    },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn broken(message: impl Into<String>) -> Self {
        Self::Broken {
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn broken_with_hint(message: impl Into<String>, hint: &'static str) -> Self {
        Self::Broken {
            message: message.into(),
            hint: Some(hint),
        }
    }

    /// `err` as `Duplicate` when a unique key refused the write, else as it is.
    pub(crate) fn unique_as(err: sqlx::Error, message: String, hint: &'static str) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            return Self::Duplicate { message, hint };
        }
        Self::Sql(err)
    }

    /// Failures that say the database cannot serve now (gone, restarting, out of space or
    /// time), as opposed to a request it refused: worth a 503 and a retry, not a 500.
    pub(crate) fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Sql(err) => sql_unavailable(err),
            _ => false,
        }
    }
}

fn sql_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: connection exceptions (08), insufficient resources (53), operator
            // intervention such as shutdown or a cancelled statement (57). SQLite: BUSY (5),
            // IOERR (10), FULL (13), and their extended codes.
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 10 | 13))
        }
        _ => false,
    }
}
