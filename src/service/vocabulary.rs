//! The platform's fixed vocabulary (DOMAIN.md section 1): account roles, group permissions,
//! and the shape of names, e-mails, domains and colours.

use super::error::{Error, Result};

/// Declares a closed set of names: an enum whose values are checked by the compiler where
/// the service uses them, and spelled as the strings stored and shown.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// Capabilities an account holds; a parent grants them to a child (R-ROLE-*).
    Role {
        TenantAdmin = "tenant-admin",
        AccountAdmin = "account-admin",
        SubaccountAdmin = "subaccount-admin",
        SubaccountTenant = "subaccount-tenant",
        UserAdmin = "user-admin",
        AutomationManager = "automation-manager",
    }
}

vocabulary! {
    /// Permissions a group can hold. `*` is reserved for the predefined `admins` group.
    Permission {
        AccountsRead = "accounts:read",
        AccountsWrite = "accounts:write",
        TenantsRead = "tenants:read",
        TenantsWrite = "tenants:write",
        TenantBrandingWrite = "tenant.branding:write",
        UsersRead = "users:read",
        UsersWrite = "users:write",
        GroupsRead = "groups:read",
        GroupsWrite = "groups:write",
        EnvsRead = "envs:read",
        EnvsWrite = "envs:write",
        /// Decides on environments of protected templates (R-GOV-2); not a developer's by
        /// default.
        EnvsApprove = "envs:approve",
        AutomationsRead = "automations:read",
        AutomationsWrite = "automations:write",
        AutomationsRun = "automations:run",
        ScanRead = "scan:read",
        ScanRun = "scan:run",
        ScaffoldRun = "scaffold:run",
        PoliciesRead = "policies:read",
        PoliciesWrite = "policies:write",
        /// Lets a service identity (a Backstage backend) act for a user of its own account
        /// (R-GOV-5). Only a group that names it grants it: `*` does not, so no admin holds it
        /// by accident.
        ActForUsers = "users:act-for",
        /// Reads the account's audit trail and its sub-accounts' (R-GOV-3): who did what, who
        /// was refused. For admins (`*`), not for viewers, although it reads.
        AuditRead = "audit:read",
        /// Adds, lists and deletes the account's trust rules: which external tokens (a GitHub
        /// Actions job's) act as a service identity of the account (R-GOV-5). Admins (`*`).
        TrustManage = "trust:manage",
    }
}

vocabulary! {
    /// What the audit trail records of a write, allowed or refused (R-GOV-3): `noun.verb`,
    /// as stored in `audit_log.action` and matched by `plat audit --action`.
    AuditAction {
        AccountCreate = "account.create",
        AccountDelete = "account.delete",
        AccountUpdate = "account.update",
        AutomationApply = "automation.apply",
        AutomationDelete = "automation.delete",
        AutomationRun = "automation.run",
        AutomationRunCancel = "automation.run.cancel",
        EnvApprove = "env.approve",
        EnvDown = "env.down",
        EnvDownReport = "env.down.report",
        EnvExtend = "env.extend",
        EnvReject = "env.reject",
        EnvUp = "env.up",
        EnvUpReport = "env.up.report",
        GroupCreate = "group.create",
        GroupDelete = "group.delete",
        GroupLinkIdp = "group.link_idp",
        GroupMemberAdd = "group.member.add",
        GroupMemberRemove = "group.member.remove",
        GroupUnlinkIdp = "group.unlink_idp",
        GroupUpdate = "group.update",
        InventoryPublish = "inventory.publish",
        PolicySet = "policy.set",
        TenantCreate = "tenant.create",
        TenantDelete = "tenant.delete",
        TenantUpdate = "tenant.update",
        TrustAdd = "trust.add",
        TrustDelete = "trust.delete",
        UserActFor = "user.act_for",
        UserCreate = "user.create",
        UserRename = "user.rename",
        UserRevoke = "user.revoke",
        /// The retention job's pruning of old records, recorded in the master account.
        AuditPrune = "audit.prune",
    }
}

/// Every permission but acting for users (`admins` groups hold it).
pub const ALL_PERMISSIONS: &str = "*";

impl Permission {
    /// What the predefined `viewers` group holds: reading the platform's objects, but not its
    /// audit trail.
    fn is_plain_read(self) -> bool {
        self.as_str().ends_with(":read") && self != Self::AuditRead
    }

    /// The account role without which this permission can never take effect, so granting it
    /// is refused.
    pub fn role_behind(self) -> Option<Role> {
        match self {
            Self::AccountsWrite => Some(Role::AccountAdmin),
            Self::TenantsWrite => Some(Role::TenantAdmin),
            Self::UsersWrite | Self::GroupsWrite | Self::TrustManage => Some(Role::UserAdmin),
            Self::AutomationsWrite => Some(Role::AutomationManager),
            _ => None,
        }
    }
}

impl Role {
    /// R-ROLE-2: who may hand this role down to a child.
    pub fn needed_to_grant(self) -> Role {
        match self {
            Self::AccountAdmin => Self::SubaccountAdmin,
            Self::TenantAdmin => Self::SubaccountTenant,
            other => other,
        }
    }
}

/// The groups every account starts with (R-GRP-2).
pub fn predefined_groups() -> [(&'static str, Vec<&'static str>); 3] {
    let read_only: Vec<&str> = Permission::ALL
        .iter()
        .filter(|p| p.is_plain_read())
        .map(|p| p.as_str())
        .collect();
    let mut developers = read_only.clone();
    developers.extend(
        [
            Permission::EnvsWrite,
            Permission::AutomationsRun,
            Permission::ScanRun,
            Permission::ScaffoldRun,
        ]
        .map(Permission::as_str),
    );
    [
        ("admins", vec![ALL_PERMISSIONS]),
        ("developers", developers),
        ("viewers", read_only),
    ]
}

pub fn check_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or_else(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        Error::invalid(format!("unknown role '{}'", shorten(role)))
            .with_hint(format!("roles are: {}", known.join(", ")))
    })
}

pub fn check_permission(permission: &str) -> Result<Permission> {
    Permission::parse(permission).ok_or_else(|| {
        Error::invalid(format!("unknown permission '{}'", shorten(permission)))
            .with_hint("run `plat group permissions` to list the permissions")
    })
}

/// Slugs are DNS labels so that they can name namespaces, hosts and Terraform workspaces unchanged.
pub fn check_slug(what: &str, slug: &str) -> Result<()> {
    let valid = (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid {what} '{}'", shorten(slug))).with_hint(
            "use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit",
        ))
    }
}

/// The longest e-mail address SMTP can carry (RFC 5321: a 254-octet path).
pub const MAX_EMAIL_LEN: usize = 254;

/// E-mails are handles shown in paths, logs and URLs, so the local part keeps to the characters
/// mail providers actually hand out: letters, digits and `.`, `_`, `%`, `+`, `-`, with no empty
/// dot-separated piece (so never `..` or a leading `.`).
pub fn check_email(email: &str) -> Result<()> {
    let valid = email.len() <= MAX_EMAIL_LEN
        && match email.split_once('@') {
            Some((local, domain)) => {
                (1..=64).contains(&local.len())
                    && local.split('.').all(|piece| {
                        !piece.is_empty()
                            && piece
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"_%+-".contains(&b))
                    })
                    && is_hostname(domain)
            }
            None => false,
        };
    if valid {
        Ok(())
    } else {
        let shown = if email.trim().is_empty() {
            "the e-mail must not be empty".to_owned()
        } else {
            format!("invalid e-mail '{}'", shorten(email))
        };
        Err(Error::invalid(shown).with_hint("write it as name@example.com"))
    }
}

/// At most 80 characters of a rejected value, so that an error about a 100 KB field stays readable.
pub fn shorten(value: &str) -> String {
    const SHOWN: usize = 80;
    match value.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

pub fn check_domain(domain: &str) -> Result<()> {
    if is_hostname(domain) && domain.contains('.') || domain == "localhost" {
        Ok(())
    } else {
        Err(
            Error::invalid(format!("invalid domain '{}'", shorten(domain)))
                .with_hint("use a lowercase host name such as portal.example.com"),
        )
    }
}

fn is_hostname(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

pub fn check_color(field: &str, color: &str) -> Result<()> {
    let hex = color.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(
            Error::invalid(format!("invalid {field} '{}'", shorten(color)))
                .with_hint("use a CSS hex colour such as '#0a7' or '#00aa77'"),
        )
    }
}

/// Documented maximums for free-form fields (README "Limits"): generous for people, small
/// enough that one request cannot bloat every listing that shows the field.
pub const MAX_DISPLAY_NAME_LEN: usize = 100;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_DESCRIPTION_LEN: usize = 1000;
/// The longest lifetime a policy may allow (366 days): any longer is a mistake, not a policy.
pub const MAX_TTL_SECONDS: i64 = 366 * 24 * 3600;
pub const MAX_ENVS_PER_DAY: i64 = 10_000;

/// A person-facing name (account name, user name): not blank, at most 100 characters, one line.
pub fn check_display_name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid(format!("the {field} must not be empty"))
            .with_hint("give a name, or leave the option out"));
    }
    check_text(field, name, MAX_DISPLAY_NAME_LEN)?;
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "the {field} must be one line of printable characters"
        ))
        .with_hint("leave out line breaks, tabs and other control characters"));
    }
    Ok(())
}

/// Free text (descriptions): at most `max` characters.
pub fn check_text(field: &str, text: &str, max: usize) -> Result<()> {
    let length = text.chars().count();
    if length > max {
        return Err(Error::invalid(format!(
            "the {field} is {length} characters long; the maximum is {max}"
        ))
        .with_hint("shorten it"));
    }
    Ok(())
}

/// A lifetime in seconds, at least `min` and at most [`MAX_TTL_SECONDS`].
pub fn check_ttl(field: &str, seconds: i64, min: i64) -> Result<()> {
    if seconds < min || seconds > MAX_TTL_SECONDS {
        return Err(Error::invalid(format!(
            "{field} must be between {min}s and {MAX_TTL_SECONDS}s (366 days), got {seconds}s"
        ))
        .with_hint("write a lifetime such as 30m, 8h or 7d"));
    }
    Ok(())
}

pub fn check_url(field: &str, url: &str) -> Result<()> {
    if url.len() > MAX_URL_LEN {
        return Err(Error::invalid(format!(
            "the {field} is {} bytes long; the maximum is {MAX_URL_LEN}",
            url.len()
        ))
        .with_hint("host the asset elsewhere and give its short URL"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(host) if !host.is_empty() && !url.chars().any(char::is_whitespace) => Ok(()),
        _ => Err(
            Error::invalid(format!("invalid {field} '{}'", shorten(url)))
                .with_hint("use an absolute http(s) URL"),
        ),
    }
}

/// A positive age or period such as `24h`, `7d` or `365d` (a day counts 24 hours).
pub fn parse_age(text: &str) -> Result<jiff::SignedDuration> {
    let text = text.trim();
    let parsed = text.parse::<jiff::SignedDuration>().ok().or_else(|| {
        text.parse::<jiff::Span>().ok().and_then(|span| {
            span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .ok()
        })
    });
    match parsed {
        Some(age) if age.is_positive() => Ok(age),
        _ => Err(Error::invalid(format!(
            "'{text}' is not a period such as 24h or 7d"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_dns_labels() {
        assert!(check_slug("slug", "acme-shop").is_ok());
        for bad in ["", "Acme", "-acme", "acme-", "ac_me", &"a".repeat(64)] {
            assert!(check_slug("slug", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_domains_colours() {
        assert!(check_email("alice@acme.test").is_ok());
        assert!(check_email("alice").is_err());
        assert!(check_email("al ice@acme.test").is_err());
        for bad in [
            "",
            " ",
            "@acme.test",
            "../x@y.test",
            "a..b@y.test",
            ".a@y.test",
            "a/b@y.test",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert!(check_email("first.last+tag@acme.test").is_ok());
        assert!(check_domain("portal.acme.test").is_ok());
        assert!(check_domain("portal").is_err());
        assert!(check_domain("Portal.acme.test").is_err());
        assert!(check_color("colour", "#0a7").is_ok());
        assert!(check_color("colour", "#00AA77").is_ok());
        assert!(check_color("colour", "green").is_err());
    }

    #[test]
    fn free_text_has_documented_maximums() {
        assert!(
            check_url(
                "logo URL",
                &format!("https://a.test/{}", "x".repeat(MAX_URL_LEN))
            )
            .is_err()
        );
        assert!(
            check_text(
                "description",
                &"d".repeat(MAX_DESCRIPTION_LEN),
                MAX_DESCRIPTION_LEN
            )
            .is_ok()
        );
        assert!(
            check_text(
                "description",
                &"d".repeat(MAX_DESCRIPTION_LEN + 1),
                MAX_DESCRIPTION_LEN
            )
            .is_err()
        );
        assert!(check_display_name("name", " ").is_err());
        assert!(check_display_name("name", "a\nb").is_err());
        assert!(check_ttl("ttl", MAX_TTL_SECONDS + 1, 60).is_err());
        assert!(check_ttl("ttl", 3600, 60).is_ok());
    }

    #[test]
    fn permissions_behind_roles() {
        assert_eq!(
            Permission::AccountsWrite.role_behind(),
            Some(Role::AccountAdmin)
        );
        assert_eq!(Role::AccountAdmin.needed_to_grant(), Role::SubaccountAdmin);
        assert_eq!(Role::UserAdmin.needed_to_grant(), Role::UserAdmin);
    }

    #[test]
    fn every_name_parses_back_to_its_value() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.as_str()), Some(*permission));
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
        }
        assert!(check_permission("envs:destroy").is_err());
        assert!(check_role("root").is_err());
    }
}
