use super::vocabulary::{AuditAction, Permission, Role};
use super::{Actor, Error, Result, Service, vocabulary};
use crate::api::{CreateUser, MembershipStatus, User};
use crate::store::{self, LinkedUser};

impl Service {
    /// Users linked to the acting account, active and revoked.
    pub async fn list_users(&self, actor: &Actor) -> Result<Vec<User>> {
        actor.require(Permission::UsersRead)?;
        let mut conn = self.store.acquire().await?;
        let users = store::linked_users(&mut conn, &actor.account.id).await?;
        Ok(users.into_iter().map(user_view).collect())
    }

    pub async fn get_user(&self, actor: &Actor, email: &str) -> Result<User> {
        actor.require(Permission::UsersRead)?;
        vocabulary::check_email(email)?;
        let mut conn = self.store.acquire().await?;
        store::linked_user(&mut conn, &actor.account.id, email)
            .await?
            .map(user_view)
            .ok_or_else(|| Error::not_found("user", email))
    }

    /// Links a user to the acting account, creating the global user on first sight (R-USR-1).
    pub async fn create_user(&self, actor: &Actor, req: CreateUser) -> Result<User> {
        let target = req.email.clone();
        self.audited(
            actor,
            AuditAction::UserCreate,
            &target,
            async |tx: &mut store::Conn| self.create_user_in_tx(tx, actor, req).await,
        )
        .await
    }

    async fn create_user_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        req: CreateUser,
    ) -> Result<User> {
        actor.require_role(Role::UserAdmin, "link users")?;
        actor.require(Permission::UsersWrite)?;
        vocabulary::check_email(&req.email)?;
        if let Some(name) = &req.name {
            vocabulary::check_display_name("user name", name)?;
        }
        let mut groups = Vec::with_capacity(req.groups.len());
        for name in &req.groups {
            let group = store::find_group(tx, &actor.account.id, name)
                .await?
                .ok_or_else(|| Error::not_found("group", name))?;
            groups.push(group);
        }
        let existing = store::linked_user(tx, &actor.account.id, &req.email).await?;
        if existing.is_some_and(|u| u.status == MembershipStatus::Active) {
            return Err(Error::conflict(format!(
                "{} is already linked to account '{}'",
                req.email, actor.account.slug
            ))
            .with_hint("use `plat group add-member` to change what the user may do"));
        }
        let now = self.now();
        let user = self
            .find_or_create_user(tx, &req.email, req.name.as_deref(), now)
            .await?;
        store::link_user(tx, &actor.account.id, &user.id, now).await?;
        for group in &groups {
            store::add_group_member(tx, &group.id, &user.id).await?;
        }
        let linked = store::linked_user(tx, &actor.account.id, &req.email).await?;
        linked
            .map(user_view)
            .ok_or_else(|| Error::internal("the new link vanished"))
    }

    /// Removes the user's access to the acting account; the user itself is kept (R-USR-2).
    pub async fn revoke_user(&self, actor: &Actor, email: &str) -> Result<User> {
        self.audited(
            actor,
            AuditAction::UserRevoke,
            email,
            async |tx: &mut store::Conn| self.revoke_user_in_tx(tx, actor, email).await,
        )
        .await
    }

    async fn revoke_user_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        email: &str,
    ) -> Result<User> {
        actor.require_role(Role::UserAdmin, "revoke users")?;
        actor.require(Permission::UsersWrite)?;
        vocabulary::check_email(email)?;
        let linked = store::linked_user(tx, &actor.account.id, email)
            .await?
            .ok_or_else(|| Error::not_found("user", email))?;
        if linked.user.id == actor.account.owner_user_id {
            return Err(Error::denied(format!(
                "{email} owns account '{}' and cannot lose access to it",
                actor.account.slug
            ))
            .with_hint("the parent account can give the account another owner first"));
        }
        let now = self.now();
        store::revoke_link(tx, &actor.account.id, &linked.user.id, now).await?;
        store::remove_from_account_groups(tx, &actor.account.id, &linked.user.id).await?;
        let after = store::linked_user(tx, &actor.account.id, email).await?;
        after
            .map(user_view)
            .ok_or_else(|| Error::internal("the revoked link vanished"))
    }

    /// Users own themselves (R-USR-1): only the user may rename itself.
    pub async fn rename_user(&self, actor: &Actor, email: &str, name: &str) -> Result<User> {
        self.audited(
            actor,
            AuditAction::UserRename,
            email,
            async |tx: &mut store::Conn| self.rename_user_in_tx(tx, actor, email, name).await,
        )
        .await
    }

    async fn rename_user_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        email: &str,
        name: &str,
    ) -> Result<User> {
        vocabulary::check_email(email)?;
        vocabulary::check_display_name("user name", name)?;
        if actor.user.email != email {
            return Err(
                Error::denied(format!("only {email} can change {email}'s profile"))
                    .with_hint("users own themselves; an account can only link or revoke them"),
            );
        }
        let mut user = actor.user.clone();
        user.name = Some(name.to_owned());
        store::update_user(tx, &user).await?;
        store::linked_user(tx, &actor.account.id, email)
            .await?
            .map(user_view)
            .ok_or_else(|| Error::not_found("user", email))
    }
}

fn user_view(linked: LinkedUser) -> User {
    User {
        id: linked.user.id,
        email: linked.user.email,
        name: linked.user.name,
        status: linked.status,
        groups: linked.groups,
        linked_at: linked.linked_at,
    }
}
