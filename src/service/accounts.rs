use std::sync::Arc;

use super::vocabulary::{AuditAction, Permission, Role};
use super::{Actor, Error, Result, Service, vocabulary};
use crate::api::{Account, CreateAccount, Timestamp, UpdateAccount};
use crate::store::{self, AccountListing, AccountRow, UserRow};

impl Service {
    /// R-ACC-7: the acting account and its descendants, never anything above or beside it.
    pub async fn list_accounts(&self, actor: &Actor, limit: Option<u32>) -> Result<Vec<Account>> {
        actor.require(Permission::AccountsRead)?;
        // What an account sees of the tree depends only on the account (R-ACC-7), and every
        // write to accounts, tenants or users moves the authorization version.
        let key = (actor.account.id.clone(), limit);
        if let Some(listing) = self.account_listings.get(&key, &actor.authz_version) {
            return Ok(listing.as_ref().clone());
        }
        let mut conn = self.store.acquire().await?;
        let listings = store::list_subtree(&mut conn, &actor.account.path, limit).await?;
        let accounts: Vec<Account> = listings
            .into_iter()
            .map(|l| account_view(actor, l))
            .collect();
        if accounts.len() <= super::LISTING_CACHE_MAX_ITEMS {
            let listing = Arc::new(accounts.clone());
            self.account_listings
                .put(key, actor.authz_version.clone(), listing);
        }
        Ok(accounts)
    }

    pub async fn get_account(&self, actor: &Actor, slug: &str) -> Result<Account> {
        actor.require(Permission::AccountsRead)?;
        let mut conn = self.store.acquire().await?;
        let account = self.visible_account(&mut conn, actor, slug).await?;
        let listing = store::get_listing(&mut conn, &account.id).await?;
        Ok(account_view(actor, listing))
    }

    pub async fn create_account(&self, actor: &Actor, req: CreateAccount) -> Result<Account> {
        let target = req.slug.clone();
        self.audited(
            actor,
            AuditAction::AccountCreate,
            &target,
            async |tx: &mut store::Conn| self.create_account_in_tx(tx, actor, req).await,
        )
        .await
    }

    async fn create_account_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        req: CreateAccount,
    ) -> Result<Account> {
        actor.require_role(Role::AccountAdmin, "create sub-accounts")?; // R-ROLE-1
        actor.require(Permission::AccountsWrite)?;
        vocabulary::check_slug("account slug", &req.slug)?;
        vocabulary::check_email(&req.owner)?;
        if let Some(name) = &req.name {
            vocabulary::check_display_name("account name", name)?;
        }
        if let Some(name) = &req.owner_name {
            vocabulary::check_display_name("owner name", name)?;
        }
        let mut roles = req.roles.clone();
        roles.sort();
        roles.dedup();
        for role in &roles {
            check_can_grant(actor, vocabulary::check_role(role)?)?;
        }

        if store::find_account_by_slug(tx, &req.slug).await?.is_some() {
            return Err(
                Error::conflict(format!("account slug '{}' is already taken", req.slug))
                    .with_hint("choose another slug"),
            );
        }
        let tenant_id = match &req.tenant {
            None => actor.account.tenant_id.clone(),
            Some(name) => self.usable_tenant(tx, actor, name).await?,
        };
        let now = self.now();
        let owner = self
            .find_or_create_user(tx, &req.owner, req.owner_name.as_deref(), now)
            .await?;
        let id = store::new_id();
        let row = AccountRow {
            path: format!("{}{id}/", actor.account.path),
            id,
            slug: req.slug.clone(),
            name: req.name.clone().unwrap_or_else(|| req.slug.clone()),
            parent_id: Some(actor.account.id.clone()),
            tenant_id,
            owner_user_id: owner.id.clone(),
            roles,
            created_at: now,
        };
        store::insert_account(tx, &row).await?;
        self.seed_account(tx, &row, &owner.id, now).await?;
        let listing = store::get_listing(tx, &row.id).await?;
        Ok(account_view(actor, listing))
    }

    pub async fn update_account(
        &self,
        actor: &Actor,
        slug: &str,
        req: UpdateAccount,
    ) -> Result<Account> {
        self.audited(
            actor,
            AuditAction::AccountUpdate,
            slug,
            async |tx: &mut store::Conn| self.update_account_in_tx(tx, actor, slug, req).await,
        )
        .await
    }

    async fn update_account_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        slug: &str,
        req: UpdateAccount,
    ) -> Result<Account> {
        actor.require(Permission::AccountsWrite)?;
        let mut account = self.visible_account(tx, actor, slug).await?;
        let own = actor.is_self(&account);
        if own && (req.tenant.is_some() || req.owner.is_some()) {
            // R-ACC-4: only the parent (or further up) may move an account or change its owner.
            return Err(Error::denied(format!(
                "account '{slug}' cannot change its own tenant or owner"
            ))
            .with_hint("its parent account can make this change"));
        }
        if own && !(req.add_roles.is_empty() && req.remove_roles.is_empty()) {
            return Err(
                Error::denied(format!("account '{slug}' cannot change its own roles"))
                    .with_hint("roles are granted by the parent account (R-ROLE-2)"),
            );
        }
        if !own {
            actor.require_role(Role::AccountAdmin, "manage sub-accounts")?;
        }
        if let Some(name) = &req.name {
            vocabulary::check_display_name("account name", name)?;
            account.name = name.clone();
        }
        if let Some(tenant) = &req.tenant {
            let owned_by_account = store::find_tenant_by_name(tx, tenant)
                .await?
                .is_some_and(|t| t.owner_account_id == account.id);
            if owned_by_account {
                // R-TEN-3: an account's own tenants are for its sub-accounts, never for itself.
                return Err(Error::denied(format!(
                    "account '{slug}' cannot be bound to tenant '{tenant}', which it created"
                ))
                .with_hint("tenants an account creates are for its sub-accounts"));
            }
            account.tenant_id = self.usable_tenant(tx, actor, tenant).await?;
        }
        let now = self.now();
        if let Some(owner) = &req.owner {
            vocabulary::check_email(owner)?;
            let user = self.find_or_create_user(tx, owner, None, now).await?;
            store::link_user(tx, &account.id, &user.id, now).await?;
            if let Some(admins) = store::find_group(tx, &account.id, "admins").await? {
                store::add_group_member(tx, &admins.id, &user.id).await?;
            }
            account.owner_user_id = user.id;
        }
        for role in &req.add_roles {
            check_can_grant(actor, vocabulary::check_role(role)?)?;
            if !account.roles.contains(role) {
                account.roles.push(role.clone());
            }
        }
        for role in &req.remove_roles {
            vocabulary::check_role(role)?;
            account.roles.retain(|r| r != role);
        }
        account.roles.sort();
        store::update_account(tx, &account).await?;
        let listing = store::get_listing(tx, &account.id).await?;
        Ok(account_view(actor, listing))
    }

    /// Deletes a leaf sub-account with its links and groups; users are kept (R-USR-1).
    pub async fn delete_account(&self, actor: &Actor, slug: &str) -> Result<()> {
        self.audited(
            actor,
            AuditAction::AccountDelete,
            slug,
            async |tx: &mut store::Conn| self.delete_account_in_tx(tx, actor, slug).await,
        )
        .await
    }

    async fn delete_account_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        slug: &str,
    ) -> Result<()> {
        actor.require_role(Role::AccountAdmin, "delete sub-accounts")?;
        actor.require(Permission::AccountsWrite)?;
        let account = self.visible_account(tx, actor, slug).await?;
        if actor.is_self(&account) {
            return Err(
                Error::denied(format!("account '{slug}' cannot delete itself"))
                    .with_hint("its parent account can delete it"),
            );
        }
        if store::count_children(tx, &account.id).await? > 0 {
            return Err(
                Error::conflict(format!("account '{slug}' still has sub-accounts"))
                    .with_hint("delete its sub-accounts first"),
            );
        }
        if store::count_tenants_owned(tx, &account.id).await? > 0 {
            return Err(
                Error::conflict(format!("account '{slug}' still owns tenants"))
                    .with_hint("delete its tenants first"),
            );
        }
        store::delete_account(tx, &account.id).await?;
        Ok(())
    }

    /// An account the actor may see, or the same "not found" a missing one gives (R-SEC-3).
    pub(super) async fn visible_account(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        slug: &str,
    ) -> Result<AccountRow> {
        match store::find_account_by_slug(conn, slug).await? {
            Some(account) if actor.sees(&account.path) => Ok(account),
            _ => Err(Error::not_found("account", slug)),
        }
    }

    /// A tenant the actor may bind a sub-account to: its own, or one it owns (R-ROLE, R-TEN-3).
    async fn usable_tenant(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        name: &str,
    ) -> Result<String> {
        let tenant = store::find_tenant_by_name(conn, name).await?;
        let Some(tenant) = tenant else {
            return Err(Error::not_found("tenant", name));
        };
        if tenant.id == actor.account.tenant_id || tenant.owner_account_id == actor.account.id {
            return Ok(tenant.id);
        }
        let owner = store::find_account_by_id(conn, &tenant.owner_account_id).await?;
        match owner {
            // A tenant of a sub-account can only be used by accounts below that sub-account.
            Some(owner) if actor.sees(&owner.path) => Err(Error::denied(format!(
                "tenant '{name}' belongs to account '{}', not to '{}'",
                owner.slug, actor.account.slug
            ))
            .with_hint("bind the account to your own tenant or to a tenant your account created")),
            _ => Err(Error::not_found("tenant", name)),
        }
    }

    pub(super) async fn find_or_create_user(
        &self,
        conn: &mut store::Conn,
        email: &str,
        name: Option<&str>,
        now: Timestamp,
    ) -> Result<UserRow> {
        if let Some(user) = store::find_user_by_email(conn, email).await? {
            return Ok(user);
        }
        let user = UserRow {
            id: store::new_id(),
            email: email.to_owned(),
            name: name.map(str::to_owned),
            issuer: None,
            subject: None,
            created_at: now,
        };
        store::insert_user(conn, &user).await?;
        Ok(user)
    }
}

/// R-ROLE-2: `account-admin` needs `subaccount-admin`, `tenant-admin` needs `subaccount-tenant`,
/// any other role needs the role itself.
fn check_can_grant(actor: &Actor, role: Role) -> Result<()> {
    let needed = role.needed_to_grant();
    if actor.holds_role(needed) {
        return Ok(());
    }
    Err(Error::denied(format!(
        "account '{}' cannot grant the role '{role}': granting it requires the role '{needed}'",
        actor.account.slug
    ))
    .with_hint("ask your parent account for the granting role, or leave this role out"))
}

/// The account as this actor may see it: the parent only when it is inside the actor's view (R-ACC-6).
fn account_view(actor: &Actor, listing: AccountListing) -> Account {
    let parent_visible = listing.id != actor.account.id && actor.sees(&listing.path);
    Account {
        parent: listing.parent_slug.filter(|_| parent_visible),
        id: listing.id,
        slug: listing.slug,
        name: listing.name,
        tenant: listing.tenant_name,
        owner: listing.owner_email,
        roles: listing.roles,
        created_at: listing.created_at,
    }
}
