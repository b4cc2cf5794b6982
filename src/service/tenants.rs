use super::vocabulary::{AuditAction, Permission, Role};
use super::{Actor, Error, Result, Service, vocabulary};
use crate::api::{Branding, CreateTenant, Tenant, UpdateTenant};
use crate::store::{self, TenantRow};

impl Service {
    /// Tenants the actor's subtree owns, plus the tenant the acting account is bound to.
    pub async fn list_tenants(&self, actor: &Actor) -> Result<Vec<Tenant>> {
        actor.require(Permission::TenantsRead)?;
        let mut conn = self.store.acquire().await?;
        let tenants =
            store::list_tenants_for(&mut conn, &actor.account.path, &actor.account.tenant_id)
                .await?;
        Ok(tenants
            .into_iter()
            .map(|owned| {
                // The owner is named only when it sits inside the viewer's subtree: a tenant
                // bound from above never reveals the parent account (R-ACC-6).
                let visible = owned.owner_path.starts_with(&actor.account.path);
                tenant_view(owned.tenant, visible.then_some(owned.owner_slug))
            })
            .collect())
    }

    pub async fn get_tenant(&self, actor: &Actor, name: &str) -> Result<Tenant> {
        actor.require(Permission::TenantsRead)?;
        self.list_tenants(actor)
            .await?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::not_found("tenant", name))
    }

    pub async fn create_tenant(&self, actor: &Actor, req: CreateTenant) -> Result<Tenant> {
        let target = req.name.clone();
        self.audited(
            actor,
            AuditAction::TenantCreate,
            &target,
            async |tx: &mut store::Conn| self.create_tenant_in_tx(tx, actor, req).await,
        )
        .await
    }

    async fn create_tenant_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        req: CreateTenant,
    ) -> Result<Tenant> {
        actor.require_role(Role::TenantAdmin, "create tenants")?;
        actor.require(Permission::TenantsWrite)?;
        vocabulary::check_slug("tenant name", &req.name)?;
        vocabulary::check_domain(&req.domain)?;
        check_branding(&req.branding)?;
        let owner = match &req.owner_account {
            None => actor.account.clone(),
            Some(slug) => self.visible_account(tx, actor, slug).await?,
        };
        if store::find_tenant_by_name(tx, &req.name).await?.is_some() {
            return Err(
                Error::conflict(format!("tenant name '{}' is already taken", req.name))
                    .with_hint("choose another name"),
            );
        }
        if store::find_tenant_by_domain(tx, &req.domain)
            .await?
            .is_some()
        {
            return Err(Error::conflict(format!(
                "domain '{}' already belongs to another tenant",
                req.domain
            ))
            .with_hint("each tenant needs its own domain (R-TEN-1)"));
        }
        let row = TenantRow {
            id: store::new_id(),
            name: req.name,
            domain: req.domain,
            owner_account_id: owner.id.clone(),
            logo_url: req.branding.logo_url,
            primary_color: req.branding.primary_color,
            secondary_color: req.branding.secondary_color,
            description: req.branding.description,
            layout: req.branding.layout,
            created_at: self.now(),
        };
        store::insert_tenant(tx, &row).await?;
        Ok(tenant_view(row, Some(owner.slug)))
    }

    /// The owner may change everything but the owner; an account bound to the tenant may change
    /// only its branding, and only with `tenant.branding:write` (R-TEN-4).
    pub async fn update_tenant(
        &self,
        actor: &Actor,
        name: &str,
        req: UpdateTenant,
    ) -> Result<Tenant> {
        self.audited(
            actor,
            AuditAction::TenantUpdate,
            name,
            async |tx: &mut store::Conn| self.update_tenant_in_tx(tx, actor, name, req).await,
        )
        .await
    }

    async fn update_tenant_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
        req: UpdateTenant,
    ) -> Result<Tenant> {
        let mut row = store::find_tenant_by_name(tx, name)
            .await?
            .ok_or_else(|| Error::not_found("tenant", name))?;
        let owner = store::find_account_by_id(tx, &row.owner_account_id).await?;
        let owner_visible = owner.as_ref().filter(|o| actor.sees(&o.path));
        let bound_here = row.id == actor.account.tenant_id;
        match (owner_visible, bound_here) {
            (Some(_), _) => actor.require(Permission::TenantsWrite)?,
            (None, true) => {
                actor.require(Permission::TenantBrandingWrite)?;
                if req.domain.is_some() {
                    return Err(Error::denied(format!(
                        "account '{}' cannot change the domain of tenant '{name}'",
                        actor.account.slug
                    ))
                    .with_hint("only the tenant's owner account can change its domain (R-TEN-4)"));
                }
            }
            (None, false) => return Err(Error::not_found("tenant", name)),
        }
        if let Some(domain) = req.domain {
            vocabulary::check_domain(&domain)?;
            if domain != row.domain && store::find_tenant_by_domain(tx, &domain).await?.is_some() {
                return Err(Error::conflict(format!(
                    "domain '{domain}' already belongs to another tenant"
                ))
                .with_hint("each tenant needs its own domain (R-TEN-1)"));
            }
            row.domain = domain;
        }
        let branding = Branding {
            logo_url: req.logo_url,
            primary_color: req.primary_color,
            secondary_color: req.secondary_color,
            description: req.description,
            layout: req.layout,
        };
        check_branding(&branding)?;
        row.logo_url = branding.logo_url.or(row.logo_url);
        row.primary_color = branding.primary_color.or(row.primary_color);
        row.secondary_color = branding.secondary_color.or(row.secondary_color);
        row.description = branding.description.or(row.description);
        row.layout.extend(branding.layout);
        store::update_tenant(tx, &row).await?;
        let owner_slug = owner_visible.map(|o| o.slug.clone());
        Ok(tenant_view(row, owner_slug))
    }

    pub async fn delete_tenant(&self, actor: &Actor, name: &str) -> Result<()> {
        self.audited(
            actor,
            AuditAction::TenantDelete,
            name,
            async |tx: &mut store::Conn| self.delete_tenant_in_tx(tx, actor, name).await,
        )
        .await
    }

    async fn delete_tenant_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
    ) -> Result<()> {
        actor.require(Permission::TenantsWrite)?;
        let row = store::find_tenant_by_name(tx, name)
            .await?
            .ok_or_else(|| Error::not_found("tenant", name))?;
        let owner = store::find_account_by_id(tx, &row.owner_account_id).await?;
        if !owner.is_some_and(|o| actor.sees(&o.path)) {
            return Err(Error::not_found("tenant", name));
        }
        let bound = store::count_accounts_bound(tx, &row.id).await?;
        if bound > 0 {
            return Err(Error::conflict(format!(
                "tenant '{name}' still has {bound} account(s) bound to it"
            ))
            .with_hint("move those accounts to another tenant first"));
        }
        store::delete_tenant(tx, &row.id).await?;
        Ok(())
    }
}

fn check_branding(branding: &Branding) -> Result<()> {
    if let Some(logo) = &branding.logo_url {
        vocabulary::check_url("logo URL", logo)?;
    }
    if let Some(color) = &branding.primary_color {
        vocabulary::check_color("primary colour", color)?;
    }
    if let Some(color) = &branding.secondary_color {
        vocabulary::check_color("secondary colour", color)?;
    }
    if let Some(description) = &branding.description {
        vocabulary::check_text("description", description, vocabulary::MAX_DESCRIPTION_LEN)?;
    }
    Ok(())
}

fn tenant_view(row: TenantRow, owner_account: Option<String>) -> Tenant {
    Tenant {
        id: row.id,
        name: row.name,
        domain: row.domain,
        owner_account,
        branding: Branding {
            logo_url: row.logo_url,
            primary_color: row.primary_color,
            secondary_color: row.secondary_color,
            description: row.description,
            layout: row.layout,
        },
        created_at: row.created_at,
    }
}
