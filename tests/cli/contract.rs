//! The command-line contract of ARCHITECTURE.md: help, version, formats, exit codes, prompts,
//! colour, contexts, and the generated completions and man pages.

use std::path::Path;

use crate::support::{BIN, TestEnv, scrub};

/// Every command path of the clap tree, e.g. ["account", "create"].
fn command_paths(command: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut path = prefix.clone();
        path.push(sub.get_name().to_owned());
        command_paths(sub, path, out);
    }
}

#[test]
fn help_of_every_command_is_snapshotted() {
    let env = TestEnv::new();
    let mut paths = Vec::new();
    command_paths(&plat::cli::command(), Vec::new(), &mut paths);
    assert!(paths.len() > 30, "the tree walk found too few commands");
    for path in paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = env.ok(&args);
        assert!(out.stderr.is_empty());
        let name = if path.is_empty() {
            "plat".to_owned()
        } else {
            format!("plat-{}", path.join("-"))
        };
        insta::assert_snapshot!(name, out.stdout);
    }
}

#[test]
fn version_names_the_version_and_the_commit() {
    let out = TestEnv::new().ok(&["--version"]);
    let text = out.stdout.trim();
    assert!(
        text.starts_with(concat!("plat ", env!("CARGO_PKG_VERSION"), " (")),
        "{text}"
    );
    assert!(text.ends_with(')'), "{text}");
}

#[test]
fn generated_completions_and_man_pages_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = plat::assets::generate();
    let update = std::env::var_os("PLAT_UPDATE_ASSETS").is_some();
    let mut stale = Vec::new();
    for (path, content) in &files {
        let target = root.join(path);
        if update {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(&target, content).unwrap();
        } else if std::fs::read(&target).ok().as_ref() != Some(content) {
            stale.push(path.clone());
        }
    }
    for dir in ["completions", "man"] {
        for entry in std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if !files.contains_key(&path) {
                stale.push(format!("{path} (no longer generated)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files, run `PLAT_UPDATE_ASSETS=1 cargo test generated`: {stale:?}"
    );
}

#[test]
fn completion_scripts_for_every_shell() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = env.ok(&["completion", shell]);
        assert!(out.stdout.contains("plat"), "{shell}");
        assert!(out.stdout.contains("account"), "{shell}");
    }
    env.run(&["completion", "tcsh"]).failure(2);
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    let out = env.run(&["account", "frobnicate"]);
    out.failure(2);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    env.run(&["--output", "xml", "account", "list"]).failure(2);
    env.run(&[]).failure(2);
}

#[test]
fn json_yaml_and_table_carry_the_same_data() {
    let env = TestEnv::new();
    env.acme();
    let json = env.ok(&["account", "list", "-o", "json"]).json();
    let yaml: serde_json::Value =
        serde_yaml_ng::from_str(&env.ok(&["account", "list", "-o", "yaml"]).stdout).unwrap();
    assert_eq!(json, yaml);
    let table = env.ok(&["account", "list"]).stdout;
    for account in json.as_array().unwrap() {
        assert!(table.contains(account["slug"].as_str().unwrap()));
        assert!(table.contains(account["owner"].as_str().unwrap()));
    }
    // PLAT_OUTPUT sets the default format.
    let via_env = env.run_with(&["account", "list"], &[("PLAT_OUTPUT", "json")]);
    assert_eq!(via_env.json(), json);
    // An empty list is success.
    env.ok_as(
        crate::support::BOB,
        &["user", "create", "v@shop.test", "--group", "viewers"],
    );
}

#[test]
fn errors_with_json_output_carry_an_error_object() {
    let env = TestEnv::new();
    let out = env.run(&["account", "show", "ghost", "-o", "json"]);
    out.failure(1);
    insta::assert_snapshot!(scrub(&out.transcript()), @r#"
    exit: 1
    ----- stdout -----
    ----- stderr -----
    error: account 'ghost' not found
    hint: run `plat account list` to see the accounts you can reach
    {"error":{"code":"not_found","message":"account 'ghost' not found","hint":"run `plat account list` to see the accounts you can reach"}}
    "#);
}

#[test]
fn no_prompt_without_a_terminal_lists_every_missing_value() {
    let env = TestEnv::new();
    let out = env.run(&["account", "create", "acme"]);
    insta::assert_snapshot!(scrub(&out.transcript()), @r"
    exit: 2
    ----- stdout -----
    ----- stderr -----
    error: missing required value(s): --owner
    hint: pass them as --owner
    ");
}

#[test]
fn colour_follows_no_color_and_clicolor_force() {
    let env = TestEnv::new();
    let plain = env.run(&["account", "show", "ghost"]);
    assert!(!plain.stderr.contains('\u{1b}'));
    let mut forced = env.command(&["account", "show", "ghost"]);
    forced.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
    let forced = forced.output().unwrap();
    assert!(String::from_utf8_lossy(&forced.stderr).contains('\u{1b}'));
    let mut both = env.command(&["account", "show", "ghost"]);
    both.env("CLICOLOR_FORCE", "1");
    assert!(
        !String::from_utf8_lossy(&both.output().unwrap().stderr).contains('\u{1b}'),
        "NO_COLOR wins"
    );
}

#[test]
fn stdout_carries_data_and_stderr_carries_status() {
    let env = TestEnv::new();
    let out = env.ok(&[
        "account",
        "create",
        "acme",
        "--owner",
        "alice@acme.test",
        "-o",
        "json",
    ]);
    assert_eq!(out.json()["slug"], "acme");
    assert_eq!(out.stderr, "Created account acme\n");
    let quiet = env.ok(&[
        "account",
        "create",
        "acme2",
        "--owner",
        "alice@acme.test",
        "-q",
        "-o",
        "json",
    ]);
    assert!(quiet.stderr.is_empty());
}

#[test]
fn config_and_data_live_in_the_plat_dirs() {
    let env = TestEnv::new();
    env.ok(&["account", "list"]);
    assert!(env.data_dir().join("plat.db").exists());
    env.ok(&[
        "context",
        "add",
        "team",
        "--server",
        "https://plat.example.test",
        "--use",
    ]);
    assert!(env.config_dir().join("config.yaml").exists());
    // Without PLAT_* overrides the XDG dirs are used.
    let mut xdg = env.command(&["account", "list"]);
    xdg.env_remove("PLAT_CONFIG_DIR")
        .env_remove("PLAT_DATA_DIR");
    assert!(xdg.status().unwrap().success());
    assert!(
        Path::new(&env.vars["XDG_DATA_HOME"])
            .join("plat/plat.db")
            .exists()
    );
}

#[test]
fn contexts_add_list_show_use_delete() {
    let env = TestEnv::new();
    env.ok(&[
        "context",
        "add",
        "ci",
        "--as",
        "alice@acme.test",
        "--default-account",
        "acme",
    ]);
    let out = env.ok(&["context", "list"]);
    insta::assert_snapshot!(out.transcript(), @r"
    exit: 0
    ----- stdout -----
    CURRENT  NAME     KIND      SERVER  USER             ACCOUNT
    *        default  embedded  -       -                -
             ci       embedded  -       alice@acme.test  acme
    ----- stderr -----
    ");
    env.ok(&["context", "use", "ci"]);
    let shown = env.ok(&["context", "show", "-o", "json"]).json();
    assert_eq!(shown["name"], "ci");
    assert_eq!(shown["current"], true);
    // The context's user is who plat acts as.
    env.run(&["context", "use", "default"]).success();
    env.ok(&[
        "account",
        "create",
        "acme",
        "--owner",
        "alice@acme.test",
        "--role",
        "user-admin",
    ]);
    let me = env.ok(&["whoami", "--context", "ci", "-o", "json"]).json();
    assert_eq!(me["user"], "alice@acme.test");
    assert_eq!(me["account"], "acme");
    env.run(&["context", "use", "nope"]).failure(1);
    env.ok(&["context", "delete", "ci"]);
    env.run(&["whoami", "--context", "ci"]).failure(1);
}

#[test]
fn binary_runs_outside_the_harness_too() {
    // Guards against the harness hiding a dependency on its own environment.
    let out = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
}

/// One table decides exit codes (src/error.rs `Exit`): the same kind of failure exits alike
/// whichever noun it comes from.
#[test]
fn exit_codes_follow_the_one_table_across_nouns() {
    let mut env = TestEnv::new();
    // A missing value is a usage error (2) for every noun: a flag, or a template's parameter.
    env.run(&["account", "create", "acme"]).failure(2);
    let templates = env.root().join("templates");
    std::fs::create_dir_all(templates.join("env")).unwrap();
    let params = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iac/params");
    std::os::unix::fs::symlink(params, templates.join("env/params")).unwrap();
    env.vars
        .insert("PLAT_TEMPLATE_PATH".into(), templates.display().to_string());
    env.ok(&["env", "list"]);
    let before = env.dump();
    let missing = env.run(&["env", "up", "x", "--template", "params", "-o", "json"]);
    missing.failure(2);
    assert!(
        missing.stderr.contains("\"code\":\"missing_parameters\""),
        "{}",
        missing.stderr
    );
    // A lifetime over the maximum is a limit (6), whether the template or the policy sets it.
    env.run(&["env", "up", "x", "--ttl", "99h"]).failure(6);
    // A lifetime that is not a duration is invalid input (1).
    env.run(&["env", "up", "x", "--ttl", "soon"]).failure(1);
    assert_eq!(before, env.dump(), "a refused command changed nothing");
}

/// A run that failed is not a bad argument: `automation run` says `run_failed` (exit 1).
#[test]
fn a_failed_automation_run_reports_run_failed() {
    let env = TestEnv::new();
    let dir = env.root().join("auto");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("fails.yaml"),
        "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: { name: fails }\nspec:\n  steps:\n    - id: boom\n      action: exec\n      input: { command: [\"false\"] }\n",
    )
    .unwrap();
    env.ok(&[
        "automation",
        "apply",
        "-f",
        dir.join("fails.yaml").to_str().unwrap(),
    ]);
    let run = env.run(&["automation", "run", "fails", "-o", "json"]);
    run.failure(1);
    assert!(
        run.stderr.contains("\"code\":\"run_failed\""),
        "{}",
        run.stderr
    );
}
