//! Published scan inventories (issue 6). A scan report is a resource of one account (R-SEC-1):
//! publishing needs `scan:run`, reading `scan:read`, and nothing crosses accounts (R-SEC-3).

use super::vocabulary::{AuditAction, Permission};
use super::{Actor, Error, Result, Service, vocabulary};
use crate::api::{Inventory, PublishInventory};
use crate::store::{self, InventoryRow};

fn inventory_view(row: InventoryRow, with_documents: bool) -> Result<Inventory> {
    let report = match with_documents {
        true => Some(store::stored_json(
            "inventories",
            &row.name,
            "report",
            &row.report,
        )?),
        false => None,
    };
    Ok(Inventory {
        name: row.name,
        account: row.account_slug,
        env: row.env_name,
        source: row.source,
        published_by: row.publisher_email,
        published_at: row.published_at,
        resources: row.resources,
        errors: row.errors,
        warnings: row.warnings,
        report,
        entities: with_documents.then_some(row.entities),
    })
}

/// The counts every listing shows, read from the scan document's summary.
fn summary_counts(report: &serde_json::Value) -> Result<(i64, i64, i64)> {
    let summary = report
        .get("summary")
        .filter(|_| report.get("schema_version").and_then(|v| v.as_u64()) == Some(1))
        .ok_or_else(|| {
            Error::invalid("the report is not a plat scan document (schema_version 1)")
                .with_hint("publish what `plat scan --format json` prints")
        })?;
    let count = |value: Option<&serde_json::Value>| value.and_then(|v| v.as_i64()).unwrap_or(0);
    Ok((
        count(summary.get("resources")),
        count(summary.pointer("/findings/error")),
        count(summary.pointer("/findings/warning")),
    ))
}

impl Service {
    /// Attaches a scan's inventory to the actor's account (and to `req.env`), replacing the
    /// previous inventory of the same name.
    pub async fn publish_inventory(
        &self,
        actor: &Actor,
        name: &str,
        req: PublishInventory,
    ) -> Result<Inventory> {
        self.audited(
            actor,
            AuditAction::InventoryPublish,
            name,
            async |tx: &mut store::Conn| self.publish_inventory_in_tx(tx, actor, name, req).await,
        )
        .await
    }

    async fn publish_inventory_in_tx(
        &self,
        tx: &mut store::Conn,
        actor: &Actor,
        name: &str,
        req: PublishInventory,
    ) -> Result<Inventory> {
        actor.require(Permission::ScanRun)?;
        vocabulary::check_slug("inventory name", name)?;
        let (resources, errors, warnings) = summary_counts(&req.report)?;
        let env_id = match &req.env {
            Some(env) => Some(self.live_env(tx, actor, env).await?.id),
            None => None,
        };
        let row = InventoryRow {
            id: store::new_id(),
            account_id: actor.account.id.clone(),
            name: name.to_owned(),
            env_id,
            source: req.source,
            published_by: actor.user.id.clone(),
            published_at: self.now(),
            resources,
            errors,
            warnings,
            report: req.report.to_string(),
            entities: req.entities,
            ..Default::default()
        };
        store::upsert_inventory(tx, &row).await?;
        inventory_view(self.inventory_row(tx, actor, name).await?, false)
    }

    pub async fn list_inventories(&self, actor: &Actor) -> Result<Vec<Inventory>> {
        actor.require(Permission::ScanRead)?;
        let mut conn = self.store.acquire().await?;
        store::list_inventories(&mut conn, &actor.account.id)
            .await?
            .into_iter()
            .map(|row| inventory_view(row, false))
            .collect()
    }

    pub async fn get_inventory(&self, actor: &Actor, name: &str) -> Result<Inventory> {
        actor.require(Permission::ScanRead)?;
        let mut conn = self.store.acquire().await?;
        let row = self.inventory_row(&mut conn, actor, name).await?;
        inventory_view(row, true)
    }

    /// All Backstage entities the account has published, as one multi-document YAML: a single
    /// catalog location for Backstage to read.
    pub async fn catalog_entities(&self, actor: &Actor) -> Result<String> {
        actor.require(Permission::ScanRead)?;
        let mut conn = self.store.acquire().await?;
        let documents = store::inventory_entities(&mut conn, &actor.account.id).await?;
        Ok(documents
            .iter()
            .map(|doc| doc.trim_start_matches("---\n").trim_end())
            .filter(|doc| !doc.is_empty())
            .map(|doc| format!("---\n{doc}\n"))
            .collect())
    }

    async fn inventory_row(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        name: &str,
    ) -> Result<InventoryRow> {
        store::find_inventory(conn, &actor.account.id, name)
            .await?
            .ok_or_else(|| {
                Error::not_found("inventory", name)
                    .with_hint("run `plat scan list` to see this account's published inventories")
            })
    }
}
