//! The embedded database: created on first use, safe against corruption, newer schemas and kill -9.

use std::process::Stdio;
use std::time::Duration;

use crate::support::TestEnv;

#[test]
fn first_use_creates_migrates_and_bootstraps() {
    let env = TestEnv::new();
    assert!(!env.data_dir().join("plat.db").exists());
    let me = env.ok(&["whoami", "-o", "json"]).json();
    assert_eq!(me["user"], "operator@localhost");
    assert_eq!(me["account"], "platform");
    assert_eq!(me["tenant"], "default");
}

#[test]
fn a_corrupt_database_gives_a_clear_error() {
    let env = TestEnv::new();
    std::fs::write(env.data_dir().join("plat.db"), vec![0x42; 8192]).unwrap();
    let out = env.run(&["account", "list"]);
    out.failure(1);
    assert!(
        out.stderr
            .starts_with("error: the database file is corrupt"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn a_newer_schema_gives_a_clear_error() {
    let env = TestEnv::new();
    env.ok(&["account", "list"]);
    let url = format!("sqlite://{}", env.data_dir().join("plat.db").display());
    crate::services::runtime().block_on(async {
        let store = plat::internals::Store::connect(&url, 1).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, X'00', 0)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        store.pool.close().await;
    });
    let out = env.run(&["account", "list"]);
    out.failure(1);
    assert!(
        out.stderr.contains("is newer than this plat understands"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint: upgrade plat"), "{}", out.stderr);
}

#[test]
fn kill_9_during_creations_leaves_no_half_created_account() {
    let env = TestEnv::new();
    env.ok(&["account", "list"]);
    for round in 0..6 {
        let mut children = Vec::new();
        for i in 0..4 {
            let slug = format!("k{round}-{i}");
            let mut cmd = env.command(&[
                "account",
                "create",
                &slug,
                "--owner",
                &format!("{slug}@kill.test"),
            ]);
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            children.push(cmd.spawn().unwrap());
        }
        std::thread::sleep(Duration::from_millis(5 + round * 7));
        for child in &mut children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    // The database opens, and every account that exists is whole: owner linked, three groups.
    let accounts = env.ok(&["account", "list", "-o", "json"]).json();
    for account in accounts.as_array().unwrap().iter().skip(1) {
        let slug = account["slug"].as_str().unwrap();
        let groups = env
            .ok(&["group", "list", "--account", slug, "-o", "json"])
            .json();
        assert_eq!(
            groups.as_array().unwrap().len(),
            3,
            "{slug} is half-created"
        );
        let users = env
            .ok(&["user", "list", "--account", slug, "-o", "json"])
            .json();
        assert_eq!(
            users.as_array().unwrap().len(),
            1,
            "{slug} lost its owner link"
        );
    }
}

/// `sqlite://PATH`, the form `plat server --help` documents, names a database to create.
#[test]
fn a_sqlite_url_to_a_new_file_creates_the_database() {
    let env = crate::support::TestEnv::new();
    let path = env.root().join("fresh.db");
    let url = format!("sqlite://{}", path.display());
    env.ok(&["server", "migrate", "--database-url", &url]);
    assert!(path.is_file(), "the database file was not created");
    // An explicit mode is the user's: read-only on a missing file still fails.
    let missing = env.root().join("absent.db");
    let read_only = format!("sqlite://{}?mode=ro", missing.display());
    env.run(&["server", "migrate", "--database-url", &read_only])
        .failure(1);
    assert!(!missing.exists());
}

/// Writes behind plat's back: one SQL statement on the embedded database.
fn corrupt(env: &TestEnv, statement: &str) {
    let url = format!("sqlite://{}", env.data_dir().join("plat.db").display());
    crate::services::runtime().block_on(async {
        let store = plat::internals::Store::connect(&url, 1).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&store.pool)
            .await
            .unwrap();
        store.pool.close().await;
    });
}

/// A corrupt JSON column is an error that names its row, never an empty value that the next
/// write would save over the real data.
#[test]
fn a_corrupt_json_column_is_an_error_naming_its_row() {
    let env = TestEnv::new();
    env.acme();
    corrupt(
        &env,
        "UPDATE accounts SET roles = '[\"user-admin\"' WHERE slug = 'acme'",
    );
    let out = env.run(&["account", "show", "acme"]);
    out.failure(1);
    assert!(
        out.stderr.contains("accounts.roles of row "),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"));
}

/// A status plat never wrote is an error naming its row, never read as some other status.
#[test]
fn an_unknown_stored_status_is_an_error_naming_its_row() {
    let env = TestEnv::new();
    env.acme();
    env.ok_as("alice@acme.test", &["env", "up", "ok1", "--ttl", "30m"]);
    corrupt(
        &env,
        "UPDATE envs SET status = 'readyish' WHERE name = 'ok1'",
    );
    let out = env.run_as("alice@acme.test", &["env", "show", "ok1"]);
    out.failure(1);
    assert!(
        out.stderr.contains("envs.status of row ") && out.stderr.contains("readyish"),
        "{}",
        out.stderr
    );
}

/// Issue 14: a time plat never wrote (here `yesterday`) is an error naming its table, column
/// and row, never read as some other time or compared as text.
#[test]
fn issue_14_a_corrupt_stored_timestamp_is_an_error_naming_its_row() {
    let env = TestEnv::new();
    env.acme();
    env.ok_as("alice@acme.test", &["env", "up", "ok1", "--ttl", "30m"]);
    let id = env
        .ok_as("alice@acme.test", &["env", "show", "ok1", "-o", "json"])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    corrupt(
        &env,
        "UPDATE envs SET expires_at = 'yesterday' WHERE name = 'ok1'",
    );
    for args in [&["env", "show", "ok1"][..], &["env", "list"][..]] {
        let out = env.run_as("alice@acme.test", args);
        out.failure(1);
        assert!(
            out.stderr.contains(&format!("envs.expires_at of row {id}"))
                && out.stderr.contains("'yesterday'"),
            "{args:?}: {}",
            out.stderr
        );
    }
}
