use super::vocabulary::{AuditAction, Permission, Role};
use super::{Actor, Error, Result, Service, vocabulary};
use crate::api::{CreateGroup, Group, MembershipStatus, UpdateGroup};
use crate::store::{self, GroupRow};

impl Service {
    pub async fn list_groups(&self, actor: &Actor) -> Result<Vec<Group>> {
        actor.require(Permission::GroupsRead)?;
        let mut conn = self.store.acquire().await?;
        let rows = store::list_groups(&mut conn, &actor.account.id).await?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in rows {
            let members = store::group_member_emails(&mut conn, &row.id).await?;
            let idp_groups = store::group_idp_links(&mut conn, &row.id).await?;
            groups.push(group_view(row, members, idp_groups));
        }
        Ok(groups)
    }

    pub async fn get_group(&self, actor: &Actor, name: &str) -> Result<Group> {
        actor.require(Permission::GroupsRead)?;
        let mut conn = self.store.acquire().await?;
        let row = find(&mut conn, actor, name).await?;
        let members = store::group_member_emails(&mut conn, &row.id).await?;
        let idp_groups = store::group_idp_links(&mut conn, &row.id).await?;
        Ok(group_view(row, members, idp_groups))
    }

    pub async fn create_group(&self, actor: &Actor, req: CreateGroup) -> Result<Group> {
        let target = req.name.clone();
        self.audited(
            actor,
            AuditAction::GroupCreate,
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
        Ok(group_view(row, Vec::new(), Vec::new()))
    }

    pub async fn update_group(&self, actor: &Actor, name: &str, req: UpdateGroup) -> Result<Group> {
        self.audited(
            actor,
            AuditAction::GroupUpdate,
            name,
            async |tx: &mut store::Conn| self.update_group_in_tx(tx, actor, name, req).await,
        )
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
        group_details(tx, row).await
    }

    pub async fn delete_group(&self, actor: &Actor, name: &str) -> Result<()> {
        self.audited(
            actor,
            AuditAction::GroupDelete,
            name,
            async |tx: &mut store::Conn| self.delete_group_in_tx(tx, actor, name).await,
        )
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
        // The group is what these rules' tokens act with (R-GOV-5): not deleted under them.
        let rules = store::trust_rules_of_group(tx, &row.id).await?;
        if !rules.is_empty() {
            return Err(Error::conflict(format!(
                "group '{name}' is what the trust rule(s) {} act with",
                rules.join(", ")
            ))
            .with_hint("delete those rules first (`plat trust delete NAME`)"));
        }
        store::delete_group(tx, &row.id).await?;
        Ok(())
    }

    /// Only users linked to the account can join its groups (R-GRP-1: permissions flow through groups).
    pub async fn add_group_member(&self, actor: &Actor, name: &str, email: &str) -> Result<Group> {
        self.audited(
            actor,
            AuditAction::GroupMemberAdd,
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
        group_details(tx, row).await
    }

    pub async fn remove_group_member(
        &self,
        actor: &Actor,
        name: &str,
        email: &str,
    ) -> Result<Group> {
        self.audited(
            actor,
            AuditAction::GroupMemberRemove,
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
        group_details(tx, row).await
    }
}

impl Service {
    /// R-GOV-1: members of `idp_group` (per the groups claim of their tokens) get the group's
    /// permissions in this account, provided they are linked to it. Nothing is written into the
    /// group's members: the IdP stays the source of that membership.
    pub async fn link_group_idp(
        &self,
        actor: &Actor,
        name: &str,
        idp_group: &str,
    ) -> Result<Group> {
        self.audited(
            actor,
            AuditAction::GroupLinkIdp,
            name,
            async |tx: &mut store::Conn| {
                require_group_admin(actor)?;
                check_idp_group(idp_group)?;
                let row = find(tx, actor, name).await?;
                store::link_group_idp(tx, &row, idp_group, self.now()).await?;
                group_details(tx, row).await
            },
        )
        .await
    }

    pub async fn unlink_group_idp(
        &self,
        actor: &Actor,
        name: &str,
        idp_group: &str,
    ) -> Result<Group> {
        self.audited(
            actor,
            AuditAction::GroupUnlinkIdp,
            name,
            async |tx: &mut store::Conn| {
                require_group_admin(actor)?;
                check_idp_group(idp_group)?;
                let row = find(tx, actor, name).await?;
                if !store::unlink_group_idp(tx, &row.id, idp_group).await? {
                    return Err(
                        Error::not_found("IdP group link", idp_group).with_hint(format!(
                            "`plat group show {name}` lists the IdP groups linked to it"
                        )),
                    );
                }
                group_details(tx, row).await
            },
        )
        .await
    }
}

fn require_group_admin(actor: &Actor) -> Result<()> {
    actor.require_role(Role::UserAdmin, "manage groups")?;
    actor.require(Permission::GroupsWrite)
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
        if let Some(role) = vocabulary::check_permission(permission)?.role_behind()
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

/// A group as a caller sees it after a change: with its members and linked IdP groups.
async fn group_details(tx: &mut store::Conn, row: GroupRow) -> Result<Group> {
    let members = store::group_member_emails(tx, &row.id).await?;
    let idp_groups = store::group_idp_links(tx, &row.id).await?;
    Ok(group_view(row, members, idp_groups))
}

fn group_view(row: GroupRow, members: Vec<String>, idp_groups: Vec<String>) -> Group {
    Group {
        id: row.id,
        name: row.name,
        permissions: row.permissions,
        builtin: row.builtin,
        members,
        idp_groups,
        created_at: row.created_at,
    }
}

/// Longest IdP group name a link may hold; Keycloak paths and Entra ids stay far below it.
const MAX_IDP_GROUP_LEN: usize = 256;

/// An IdP group is matched byte for byte against the token's claim, so what could never match
/// (blank, padded, control characters) is refused rather than stored.
fn check_idp_group(idp_group: &str) -> Result<()> {
    let hint = "give the group as the IdP's groups claim names it, e.g. /acme/release";
    if idp_group.trim().is_empty() {
        return Err(Error::invalid("the IdP group must not be empty").with_hint(hint));
    }
    if idp_group.trim() != idp_group
        || idp_group.chars().any(char::is_control)
        || idp_group.len() > MAX_IDP_GROUP_LEN
    {
        return Err(Error::invalid(format!(
            "invalid IdP group '{}': no surrounding spaces, no control characters, at most \
             {MAX_IDP_GROUP_LEN} bytes",
            idp_group.escape_debug()
        ))
        .with_hint(hint));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::test_support::{ALICE, CAROL, GINA, acme_and_globex, as_user};
    use crate::service::{ErrorKind, Identity};
    const RELEASE: &str = "/acme/release";

    fn token(email: &str, groups: &[&str]) -> Identity {
        Identity::Oidc {
            issuer: "https://idp.test".into(),
            subject: email.split('@').next().unwrap_or(email).into(),
            email: Some(email.into()),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// acme and globex (see `acme_and_globex`); acme's `release-managers` may write envs.
    async fn platform(dir: &std::path::Path) -> Service {
        let service = acme_and_globex(dir).await;
        let alice = as_user(&service, ALICE).await;
        let group = CreateGroup {
            name: "release-managers".into(),
            permissions: vec!["envs:write".into()],
        };
        service.create_group(&alice, group).await.unwrap();
        service
    }

    async fn can_write_envs(service: &Service, identity: &Identity) -> bool {
        let actor = service.resolve_actor(identity, None, None).await.unwrap();
        actor.can(Permission::EnvsWrite)
    }

    #[tokio::test]
    async fn r_gov_1_idp_groups_grant_the_linked_groups_permissions_token_by_token() {
        let dir = tempfile::tempdir().unwrap();
        let service = platform(dir.path()).await;
        let alice = as_user(&service, ALICE).await;
        let group = service
            .link_group_idp(&alice, "release-managers", RELEASE)
            .await
            .unwrap();
        assert_eq!(group.idp_groups, [RELEASE]);

        let in_release = token(CAROL, &["/acme/dev", RELEASE]);
        let out_of_it = token(CAROL, &["/acme/dev"]);
        assert!(can_write_envs(&service, &in_release).await);
        // The same user with the next token, no longer in the IdP group (the cache included).
        assert!(!can_write_envs(&service, &out_of_it).await);
        assert!(can_write_envs(&service, &in_release).await);
        // Never copied into the group's members.
        let group = service.get_group(&alice, "release-managers").await.unwrap();
        assert!(group.members.is_empty(), "{group:?}");

        // Unlinked: the same token grants nothing from the next request on.
        service
            .unlink_group_idp(&alice, "release-managers", RELEASE)
            .await
            .unwrap();
        assert!(!can_write_envs(&service, &in_release).await);

        // R-USR-2: access revoked, the IdP group opens nothing.
        service
            .link_group_idp(&alice, "release-managers", RELEASE)
            .await
            .unwrap();
        service.revoke_user(&alice, CAROL).await.unwrap();
        let refused = service.resolve_actor(&in_release, None, None).await;
        assert_eq!(
            refused.err().map(|e| e.kind),
            Some(ErrorKind::Unauthenticated)
        );
    }

    #[tokio::test]
    async fn r_gov_1_a_link_of_another_account_never_applies() {
        let dir = tempfile::tempdir().unwrap();
        let service = platform(dir.path()).await;
        // globex maps acme's IdP group to its own admins.
        let gina = as_user(&service, GINA).await;
        service
            .link_group_idp(&gina, "admins", RELEASE)
            .await
            .unwrap();
        let carol = token(CAROL, &[RELEASE]);
        let actor = service.resolve_actor(&carol, None, None).await.unwrap();
        assert_eq!(actor.account.slug, "acme");
        assert!(actor.permissions.is_empty(), "{:?}", actor.permissions);
        let elsewhere = service.resolve_actor(&carol, Some("globex"), None).await;
        assert_eq!(elsewhere.err().map(|e| e.kind), Some(ErrorKind::NotFound));
        // An IdP group gives no access to a user no account has linked.
        let stranger = token("dave@elsewhere.test", &[RELEASE]);
        let refused = service.resolve_actor(&stranger, None, None).await;
        assert_eq!(
            refused.err().map(|e| e.kind),
            Some(ErrorKind::Unauthenticated)
        );
    }

    #[tokio::test]
    async fn r_gov_1_bad_links_are_refused_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let service = platform(dir.path()).await;
        let alice = as_user(&service, ALICE).await;
        let carol = as_user(&service, CAROL).await;
        let cases = [
            (&alice, "ghosts", RELEASE, ErrorKind::NotFound),
            (&alice, "release-managers", "", ErrorKind::Invalid),
            (&alice, "release-managers", "  ", ErrorKind::Invalid),
            (
                &alice,
                "release-managers",
                " /acme/release",
                ErrorKind::Invalid,
            ),
            (
                &carol,
                "release-managers",
                RELEASE,
                ErrorKind::PermissionDenied,
            ),
        ];
        for (actor, group, idp_group, kind) in cases {
            let err = service.link_group_idp(actor, group, idp_group).await.err();
            assert_eq!(err.map(|e| e.kind), Some(kind), "{group} {idp_group:?}");
        }
        let err = service
            .unlink_group_idp(&alice, "release-managers", RELEASE)
            .await
            .err();
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::NotFound));
        let group = service.get_group(&alice, "release-managers").await.unwrap();
        assert!(group.idp_groups.is_empty(), "{group:?}");
    }
}
