use crate::api::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;
use super::{Conn, json_column, to_json_list};

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "g.id, g.account_id, g.name, g.permissions, g.builtin, g.created_at";

fn group(row: &AnyRow) -> Result<GroupRow, sqlx::Error> {
    Ok(GroupRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        permissions: json_column(row, "groups", "permissions")?,
        builtin: row.try_get::<i64, _>("builtin")? != 0,
        created_at: super::timestamp(row, "created_at", "user_groups")?,
    })
}

pub async fn list_groups(conn: &mut Conn, account_id: &str) -> Result<Vec<GroupRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM user_groups g WHERE g.account_id = $1 ORDER BY g.name"
    ));
    let rows = sqlx::query(sql)
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(group).collect::<Result<_, _>>()?)
}

pub async fn find_group(
    conn: &mut Conn,
    account_id: &str,
    name: &str,
) -> Result<Option<GroupRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM user_groups g WHERE g.account_id = $1 AND g.name = $2"
    ));
    let row = sqlx::query(sql)
        .bind(account_id)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(group).transpose()?)
}

pub async fn insert_group(conn: &mut Conn, row: &GroupRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_groups (id, account_id, name, permissions, builtin, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(&row.name)
    .bind(to_json_list(&row.permissions))
    .bind(i64::from(row.builtin))
    .bind(row.created_at.to_string())
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn update_group_permissions(conn: &mut Conn, row: &GroupRow) -> Result<(), StoreError> {
    sqlx::query("UPDATE user_groups SET permissions = $1 WHERE id = $2")
        .bind(to_json_list(&row.permissions))
        .bind(&row.id)
        .execute(&mut *conn)
        .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn delete_group(conn: &mut Conn, group_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM group_idp_links WHERE group_id = $1")
        .bind(group_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM group_members WHERE group_id = $1")
        .bind(group_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM user_groups WHERE id = $1")
        .bind(group_id)
        .execute(&mut *conn)
        .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn group_member_emails(
    conn: &mut Conn,
    group_id: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT u.email FROM group_members gm JOIN users u ON u.id = gm.user_id \
         WHERE gm.group_id = $1 ORDER BY u.email",
    )
    .bind(group_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("email"))
        .collect::<Result<_, _>>()?)
}

pub async fn add_group_member(
    conn: &mut Conn,
    group_id: &str,
    user_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(group_id)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

pub async fn remove_group_member(
    conn: &mut Conn,
    group_id: &str,
    user_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

/// Drops a user from every group of one account (access revoked, R-USR-2).
pub async fn remove_from_account_groups(
    conn: &mut Conn,
    account_id: &str,
    user_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM group_members WHERE user_id = $1 \
         AND group_id IN (SELECT id FROM user_groups WHERE account_id = $2)",
    )
    .bind(user_id)
    .bind(account_id)
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

/// The union of the permissions a user holds through groups in one account (R-GRP-1).
pub async fn permissions_of(
    conn: &mut Conn,
    account_id: &str,
    user_id: &str,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT g.id, g.permissions FROM group_members gm JOIN user_groups g ON g.id = gm.group_id \
         WHERE g.account_id = $1 AND gm.user_id = $2",
    )
    .bind(account_id)
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut permissions: Vec<String> = Vec::new();
    for row in &rows {
        permissions.extend(json_column::<Vec<String>>(
            row,
            "user_groups",
            "permissions",
        )?);
    }
    permissions.sort();
    permissions.dedup();
    Ok(permissions)
}

/// The IdP groups linked to one platform group (R-GOV-1), sorted.
pub async fn group_idp_links(conn: &mut Conn, group_id: &str) -> Result<Vec<String>, StoreError> {
    let rows =
        sqlx::query("SELECT idp_group FROM group_idp_links WHERE group_id = $1 ORDER BY idp_group")
            .bind(group_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("idp_group"))
        .collect::<Result<_, _>>()?)
}

/// Links an IdP group to a platform group; linking it again changes nothing.
pub async fn link_group_idp(
    conn: &mut Conn,
    group: &GroupRow,
    idp_group: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO group_idp_links (group_id, account_id, idp_group, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&group.id)
    .bind(&group.account_id)
    .bind(idp_group)
    .bind(now.to_string())
    .execute(&mut *conn)
    .await?;
    super::bump_authz_version(conn).await?;
    Ok(())
}

/// Removes a link; whether there was one to remove.
pub async fn unlink_group_idp(
    conn: &mut Conn,
    group_id: &str,
    idp_group: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM group_idp_links WHERE group_id = $1 AND idp_group = $2")
        .bind(group_id)
        .bind(idp_group)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    super::bump_authz_version(conn).await?;
    Ok(true)
}

/// The union of the permissions of one account's groups that are linked to any of `idp_groups`
/// (the groups claim of the caller's token, R-GOV-1). Only that account's links are read: a
/// link made in another account never applies here.
pub async fn idp_permissions_of(
    conn: &mut Conn,
    account_id: &str,
    idp_groups: &[String],
) -> Result<Vec<String>, StoreError> {
    if idp_groups.is_empty() {
        return Ok(Vec::new());
    }
    // An account links a handful of IdP groups; a token may carry hundreds. Reading the
    // account's links and matching here keeps the SQL static.
    let rows = sqlx::query(
        "SELECT l.idp_group, g.permissions FROM group_idp_links l \
         JOIN user_groups g ON g.id = l.group_id WHERE l.account_id = $1",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?;
    let claimed: std::collections::HashSet<&str> = idp_groups.iter().map(String::as_str).collect();
    let mut permissions: Vec<String> = Vec::new();
    for row in &rows {
        let idp_group: String = row.try_get("idp_group")?;
        if claimed.contains(idp_group.as_str()) {
            permissions.extend(json_column::<Vec<String>>(
                row,
                "user_groups",
                "permissions",
            )?);
        }
    }
    permissions.sort();
    permissions.dedup();
    Ok(permissions)
}
