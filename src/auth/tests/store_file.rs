use crate::auth::{AuthError, InsecureFileStore, Secret, StoredTokens, TokenStore};

fn tokens(refresh: &str, access: Option<&str>) -> StoredTokens {
    StoredTokens {
        refresh_token: Some(Secret::new(refresh)),
        access_token: access.map(Secret::new),
    }
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn insecure_file_is_private_and_replaced_atomically() {
    let data_dir = tempfile::tempdir().unwrap();
    let store = TokenStore::insecure_file(data_dir.path());
    let file_store = InsecureFileStore::new(data_dir.path());

    store.save("work", &tokens("r1", Some("a1"))).await.unwrap();
    store.save("work", &tokens("r2", None)).await.unwrap();

    let path = file_store.token_path("work");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(file_store.dir()), 0o700);
    assert_eq!(store.load("work").await.unwrap(), tokens("r2", None));
    let names: Vec<_> = std::fs::read_dir(file_store.dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["work.tokens.json".to_owned()],
        "no temp file left"
    );
}

#[tokio::test]
async fn insecure_file_round_trip_and_delete() {
    let data_dir = tempfile::tempdir().unwrap();
    let store = TokenStore::insecure_file(data_dir.path());
    assert!(store.is_insecure());
    store.probe().await.unwrap();
    assert!(store.load("ci").await.unwrap().is_empty());

    store
        .save("ci", &tokens("refresh", Some("access")))
        .await
        .unwrap();
    store
        .save("other", &tokens("other-refresh", None))
        .await
        .unwrap();

    assert_eq!(
        store.load("ci").await.unwrap(),
        tokens("refresh", Some("access"))
    );
    assert!(store.delete("ci").await.unwrap());
    assert!(!store.delete("ci").await.unwrap());
    assert!(store.load("ci").await.unwrap().is_empty());
    assert_eq!(
        store.load("other").await.unwrap(),
        tokens("other-refresh", None),
        "contexts are independent"
    );
}

#[tokio::test]
async fn context_names_cannot_escape_the_token_directory() {
    let data_dir = tempfile::tempdir().unwrap();
    let file_store = InsecureFileStore::new(data_dir.path());

    for context in ["../../etc/passwd", "..", "a/b", "prod.eu"] {
        let path = file_store.token_path(context);
        assert_eq!(path.parent().unwrap(), file_store.dir(), "{context}");
        file_store.save(context, &tokens("r", None)).unwrap();
        assert_eq!(file_store.load(context).unwrap(), tokens("r", None));
    }
    assert_ne!(
        file_store.token_path("a/b"),
        file_store.token_path("a%2Fb"),
        "encoding is injective"
    );
}

#[tokio::test]
async fn corrupt_token_file_is_reported_without_its_content() {
    let data_dir = tempfile::tempdir().unwrap();
    let file_store = InsecureFileStore::new(data_dir.path());
    file_store.save("work", &tokens("r", None)).unwrap();
    std::fs::write(
        file_store.token_path("work"),
        "{\"refresh_token\": eyJhbGciOi-secret",
    )
    .unwrap();

    let err = file_store.load("work").unwrap_err();

    assert!(matches!(err, AuthError::TokenFileCorrupt { .. }), "{err:?}");
    assert!(!err.to_string().contains("eyJhbGciOi-secret"), "{err}");
    assert!(err.hint().unwrap().contains("plat login"));
}

#[tokio::test]
async fn probe_fails_when_the_data_dir_is_not_writable() {
    let data_dir = tempfile::tempdir().unwrap();
    let blocker = data_dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();

    let err = TokenStore::insecure_file(&blocker)
        .probe()
        .await
        .unwrap_err();

    assert!(matches!(err, AuthError::TokenFile { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}
