//! Fixtures the service's in-process tests share: one bootstrap, one way to act as a user, and
//! the two-account platform the rule tests start from.

use super::{Actor, Bootstrap, Identity, Service, system_clock};
use crate::api::{CreateAccount, CreateUser};
use crate::store::Store;

pub(crate) const ALICE: &str = "alice@acme.test";
pub(crate) const GINA: &str = "gina@globex.test";
pub(crate) const CAROL: &str = "carol@acme.test";

/// The master account `platform`, owned by the local operator, on the `localhost` tenant.
pub(crate) fn bootstrap() -> Bootstrap {
    Bootstrap {
        master_account: "platform".into(),
        admin_email: "operator@localhost".into(),
        default_tenant_domain: "localhost".into(),
    }
}

pub(crate) async fn as_user(service: &Service, email: &str) -> Actor {
    let identity = Identity::Email(email.into());
    (*service.resolve_actor(&identity, None, None).await.unwrap()).clone()
}

/// acme (alice) and globex (gina) under the master account, both with `user-admin`, and carol
/// linked to acme in no group; on a SQLite database in `dir`.
pub(crate) async fn acme_and_globex(dir: &std::path::Path) -> Service {
    let url = format!("sqlite://{}?mode=rwc", dir.join("p.db").display());
    let service = Service::new(Store::open(&url, 4).await.unwrap(), system_clock());
    service.bootstrap(&bootstrap()).await.unwrap();
    let operator = service
        .resolve_actor(&Identity::Operator, None, None)
        .await
        .unwrap();
    for (slug, owner) in [("acme", ALICE), ("globex", GINA)] {
        let request = CreateAccount {
            slug: slug.into(),
            name: None,
            owner: owner.into(),
            owner_name: None,
            tenant: None,
            roles: vec!["user-admin".into()],
        };
        service.create_account(&operator, request).await.unwrap();
    }
    let alice = as_user(&service, ALICE).await;
    let carol = CreateUser {
        email: CAROL.into(),
        ..CreateUser::default()
    };
    service.create_user(&alice, carol).await.unwrap();
    service
}
