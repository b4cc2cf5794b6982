use crate::api::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Conn;
use super::StoreError;
use crate::api::MembershipStatus;

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub created_at: Timestamp,
}

/// A user's link to one account, with the account's path for subtree checks.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    pub account_id: String,
    pub account_path: String,
    pub account_tenant_id: String,
    pub status: MembershipStatus,
}

/// A user as listed by one account.
#[derive(Debug, Clone)]
pub struct LinkedUser {
    pub user: UserRow,
    pub status: MembershipStatus,
    pub linked_at: Timestamp,
    pub groups: Vec<String>,
}

const COLUMNS: &str = "u.id, u.email, u.name, u.issuer, u.subject, u.created_at";

fn user(row: &AnyRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        issuer: row.try_get("issuer")?,
        subject: row.try_get("subject")?,
        created_at: super::timestamp(row, "created_at", "users")?,
    })
}

fn status(text: &str) -> MembershipStatus {
    if text == "active" {
        MembershipStatus::Active
    } else {
        MembershipStatus::Revoked
    }
}

/// Holds the user's row until the transaction ends, so that a check that counts the user's own
/// rows (the daily env quota, R-ENV-2) and the insert it allows run one at a time per user, on
/// every replica. A row lock rather than SERIALIZABLE: no retry loop, and other users never wait.
/// SQLite needs nothing here: `Store::begin` already holds the database's one write lock.
pub async fn lock_user(conn: &mut Conn, user_id: &str) -> Result<(), StoreError> {
    if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A blank e-mail names no one.
pub async fn find_user_by_email(
    conn: &mut Conn,
    email: &str,
) -> Result<Option<UserRow>, StoreError> {
    if email.trim().is_empty() {
        return Ok(None);
    }
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users u WHERE u.email = $1"));
    let row = sqlx::query(sql)
        .bind(email)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(user).transpose()?)
}

pub async fn find_user_by_id(conn: &mut Conn, id: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users u WHERE u.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&mut *conn).await?;
    Ok(row.as_ref().map(user).transpose()?)
}

pub async fn find_user_by_subject(
    conn: &mut Conn,
    issuer: &str,
    subject: &str,
) -> Result<Option<UserRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users u WHERE u.issuer = $1 AND u.subject = $2"
    ));
    let row = sqlx::query(sql)
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(user).transpose()?)
}

pub async fn insert_user(conn: &mut Conn, row: &UserRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO users (id, email, name, issuer, subject, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.email)
    .bind(&row.name)
    .bind(&row.issuer)
    .bind(&row.subject)
    .bind(row.created_at.to_string())
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn update_user(conn: &mut Conn, row: &UserRow) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET name = $1, issuer = $2, subject = $3 WHERE id = $4")
        .bind(&row.name)
        .bind(&row.issuer)
        .bind(&row.subject)
        .bind(&row.id)
        .execute(&mut *conn)
        .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn memberships_of(
    conn: &mut Conn,
    user_id: &str,
) -> Result<Vec<MembershipRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT m.account_id, a.path, a.tenant_id, m.status FROM memberships m \
         JOIN accounts a ON a.id = m.account_id WHERE m.user_id = $1 ORDER BY m.created_at, a.path",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(MembershipRow {
                account_id: row.try_get("account_id")?,
                account_path: row.try_get("path")?,
                account_tenant_id: row.try_get("tenant_id")?,
                status: status(&row.try_get::<String, _>("status")?),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Creates the link, or re-activates a revoked one.
pub async fn link_user(
    conn: &mut Conn,
    account_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO memberships (account_id, user_id, status, created_at, updated_at) \
         VALUES ($1, $2, 'active', $3, $3) \
         ON CONFLICT (account_id, user_id) DO UPDATE SET status = 'active', updated_at = excluded.updated_at",
    )
    .bind(account_id)
    .bind(user_id)
    .bind(now.to_string())
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn revoke_link(
    conn: &mut Conn,
    account_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE memberships SET status = 'revoked', updated_at = $1 WHERE account_id = $2 AND user_id = $3",
    )
    .bind(now.to_string())
    .bind(account_id)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

/// Every user linked to the account, active and revoked.
pub async fn linked_users(
    conn: &mut Conn,
    account_id: &str,
) -> Result<Vec<LinkedUser>, StoreError> {
    load_linked_users(conn, account_id, None).await
}

/// The user linked to the account under exactly this e-mail. A blank e-mail names no one: it is
/// never a wildcard.
pub async fn linked_user(
    conn: &mut Conn,
    account_id: &str,
    email: &str,
) -> Result<Option<LinkedUser>, StoreError> {
    if email.trim().is_empty() {
        return Ok(None);
    }
    Ok(load_linked_users(conn, account_id, Some(email))
        .await?
        .pop())
}

async fn load_linked_users(
    conn: &mut Conn,
    account_id: &str,
    email: Option<&str>,
) -> Result<Vec<LinkedUser>, StoreError> {
    let filter = if email.is_some() {
        " AND u.email = $2"
    } else {
        ""
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, m.status, m.created_at AS linked_at FROM memberships m \
         JOIN users u ON u.id = m.user_id \
         WHERE m.account_id = $1{filter} ORDER BY u.email"
    ));
    let mut query = sqlx::query(sql).bind(account_id);
    if let Some(email) = email {
        query = query.bind(email);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let group_rows = sqlx::query(
        "SELECT gm.user_id, g.name FROM group_members gm JOIN user_groups g ON g.id = gm.group_id \
         WHERE g.account_id = $1 ORDER BY g.name",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        let user = user(row)?;
        let groups = group_rows
            .iter()
            .filter(|g| {
                g.try_get::<String, _>("user_id")
                    .is_ok_and(|id| id == user.id)
            })
            .map(|g| g.try_get("name"))
            .collect::<Result<_, _>>()?;
        users.push(LinkedUser {
            user,
            status: status(&row.try_get::<String, _>("status")?),
            linked_at: super::timestamp(row, "linked_at", "memberships")?,
            groups,
        });
    }
    Ok(users)
}
