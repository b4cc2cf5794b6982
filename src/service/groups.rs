use super::{Actor, Error, Result, Service, vocabulary};
use crate::api::{CreateGroup, Group, MembershipStatus, UpdateGroup};
use crate::store::{self, GroupRow};

impl Service {
    pub async fn list_groups(&self, actor: &Actor) -> Result<Vec<Group>> {
        actor.require("groups:read")?;
        let mut conn = self.store.acquire().await?;
        let rows = store::list_groups(&mut conn, &actor.account.id).await?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in rows {
            let members = store::group_member_emails(&mut conn, &row.id).await?;
            groups.push(group_view(row, members));
        }
        Ok(groups)
    }

    pub async fn get_group(&self, actor: &Actor, name: &str) -> Result<Group> {
        actor.require("groups:read")?;
        let mut conn = self.store.acquire().await?;
        let row = find(&mut conn, actor, name).await?;
        let members = store::group_member_emails(&mut conn, &row.id).await?;
        Ok(group_view(row, members))
    }

    pub async fn create_group(&self, actor: &Actor, req: CreateGroup) -> Result<Group> {
        let target = req.name.clone();
        self.audited(
            actor,
            "group.create",
            &target,
            async |tx: &mut store::Conn| self.create_group_in_tx(tx, actor, req).await,
        )
        .await
    }

    async fn create_group_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        req: CreateGroup,
    ) -> Result<Group> {
        require_group_admin(actor)?;
        vocabulary::check_slug("group name", &req.name)?;
        let permissions = grantable(actor, &req.permissions)?;
        if store::find_group(tx, &actor.account.id, &req.name)
            .await?
            .is_some()
        {
            return Err(Error::conflict(format!(
                "group '{}' already exists in account '{}'",
                req.name, actor.account.slug
            ))
            .with_hint("use `plat group update` to change its permissions"));
        }
        let row = GroupRow {
            id: store::new_id(),
            account_id: actor.account.id.clone(),
            name: req.name,
            permissions,
            builtin: false,
            created_at: self.now(),
        };
        store::insert_group(tx, &row).await?;
        Ok(group_view(row, Vec::new()))
    }

    pub async fn update_group(&self, actor: &Actor, name: &str, req: UpdateGroup) -> Result<Group> {
        self.audited(actor, "group.update", name, async |tx: &mut store::Conn| {
            self.update_group_in_tx(tx, actor, name, req).await
        })
        .await
    }

    async fn update_group_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
        req: UpdateGroup,
    ) -> Result<Group> {
        require_group_admin(actor)?;
        let added = grantable(actor, &req.add_permissions)?;
        for permission in &req.remove_permissions {
            vocabulary::check_permission(permission)?;
        }
        let mut row = find(tx, actor, name).await?;
        if row.builtin {
            return Err(predefined(name));
        }
        row.permissions.extend(added);
        row.permissions
            .retain(|p| !req.remove_permissions.contains(p));
        row.permissions.sort();
        row.permissions.dedup();
        store::update_group_permissions(tx, &row).await?;
        let members = store::group_member_emails(tx, &row.id).await?;
        Ok(group_view(row, members))
    }

    pub async fn delete_group(&self, actor: &Actor, name: &str) -> Result<()> {
        self.audited(actor, "group.delete", name, async |tx: &mut store::Conn| {
            self.delete_group_in_tx(tx, actor, name).await
        })
        .await
    }

    async fn delete_group_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
    ) -> Result<()> {
        require_group_admin(actor)?;
        let row = find(tx, actor, name).await?;
        if row.builtin {
            return Err(predefined(name));
        }
        store::delete_group(tx, &row.id).await?;
        Ok(())
    }

    /// Only users linked to the account can join its groups (R-GRP-1: permissions flow through groups).
    pub async fn add_group_member(&self, actor: &Actor, name: &str, email: &str) -> Result<Group> {
        self.audited(
            actor,
            "group.member.add",
            &format!("{name} {email}"),
            async |tx: &mut store::Conn| self.add_group_member_in_tx(tx, actor, name, email).await,
        )
        .await
    }

    async fn add_group_member_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
        email: &str,
    ) -> Result<Group> {
        require_group_admin(actor)?;
        super::vocabulary::check_email(email)?;
        let row = find(tx, actor, name).await?;
        let linked = store::linked_user(tx, &actor.account.id, email).await?;
        let Some(user) = linked.filter(|u| u.status == MembershipStatus::Active) else {
            return Err(Error::invalid(format!(
                "{email} is not a member of account '{}'",
                actor.account.slug
            ))
            .with_hint(format!("link the user first: plat user create {email}")));
        };
        store::add_group_member(tx, &row.id, &user.user.id).await?;
        let members = store::group_member_emails(tx, &row.id).await?;
        Ok(group_view(row, members))
    }

    pub async fn remove_group_member(
        &self,
        actor: &Actor,
        name: &str,
        email: &str,
    ) -> Result<Group> {
        self.audited(
            actor,
            "group.member.remove",
            &format!("{name} {email}"),
            async |tx: &mut store::Conn| {
                self.remove_group_member_in_tx(tx, actor, name, email).await
            },
        )
        .await
    }

    async fn remove_group_member_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
        email: &str,
    ) -> Result<Group> {
        require_group_admin(actor)?;
        super::vocabulary::check_email(email)?;
        let row = find(tx, actor, name).await?;
        let user = store::find_user_by_email(tx, email).await?;
        let members = store::group_member_emails(tx, &row.id).await?;
        let Some(user) = user.filter(|_| members.iter().any(|m| m == email)) else {
            return Err(Error::not_found("group member", email));
        };
        if name == "admins" && user.id == actor.account.owner_user_id {
            return Err(
                Error::denied(format!("{email} owns the account and stays in 'admins'"))
                    .with_hint("the parent account can give the account another owner first"),
            );
        }
        store::remove_group_member(tx, &row.id, &user.id).await?;
        let members = store::group_member_emails(tx, &row.id).await?;
        Ok(group_view(row, members))
    }
}

fn require_group_admin(actor: &Actor) -> Result<()> {
    actor.require_role("user-admin", "manage groups")?;
    actor.require("groups:write")
}

async fn find(conn: &mut store::Conn, actor: &Actor, name: &str) -> Result<GroupRow> {
    store::find_group(conn, &actor.account.id, name)
        .await?
        .ok_or_else(|| Error::not_found("group", name))
}

fn predefined(name: &str) -> Error {
    Error::denied(format!(
        "group '{name}' is predefined and cannot be changed"
    ))
    .with_hint("create a group of your own with `plat group create`")
}

/// Known permissions whose backing role the account holds; anything else would be a dead grant.
fn grantable(actor: &Actor, permissions: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(permissions.len());
    for permission in permissions {
        vocabulary::check_permission(permission)?;
        if let Some(role) = vocabulary::role_behind(permission)
            && !actor.holds_role(role)
        {
            return Err(Error::denied(format!(
                "account '{}' cannot grant '{permission}': it does not hold the role '{role}'",
                actor.account.slug
            ))
            .with_hint("ask the parent account to grant the role first"));
        }
        out.push(permission.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn group_view(row: GroupRow, members: Vec<String>) -> Group {
    Group {
        id: row.id,
        name: row.name,
        permissions: row.permissions,
        builtin: row.builtin,
        members,
        created_at: row.created_at,
    }
}
