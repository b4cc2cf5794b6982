//! `publish:github:pull-request`, `publish:gitlab` and `publish:gitlab:merge-request` against a
//! loopback server answering the documented REST calls, pushing to local bare repositories.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use super::http::serve;
use super::*;

/// A bare repository whose `main` holds `README.md` and `docs/keep.txt`.
fn bare_repo_with_main() -> (tempfile::TempDir, String, git2::Oid) {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_bare(dir.path()).unwrap();
    let readme = repo.blob(b"old readme\n").unwrap();
    let keep = repo.blob(b"keep\n").unwrap();
    let mut docs = repo.treebuilder(None).unwrap();
    docs.insert("keep.txt", keep, 0o100644).unwrap();
    let docs = docs.write().unwrap();
    let mut root = repo.treebuilder(None).unwrap();
    root.insert("README.md", readme, 0o100644).unwrap();
    root.insert("docs", docs, 0o040000).unwrap();
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    let signature = git2::Signature::now("Owner", "owner@example.com").unwrap();
    let main = repo
        .commit(
            Some("refs/heads/main"),
            &signature,
            &signature,
            "start",
            &tree,
            &[],
        )
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let url = format!("file://{}", dir.path().display());
    (dir, url, main)
}

fn branch_file(bare: &Path, branch: &str, path: &str) -> Option<String> {
    let repo = git2::Repository::open_bare(bare).unwrap();
    let commit = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .ok()?
        .peel_to_commit()
        .unwrap();
    let entry = commit.tree().unwrap().get_path(Path::new(path)).ok()?;
    let blob = entry.to_object(&repo).unwrap().peel_to_blob().unwrap();
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}

fn change_template(steps: &str, output: &str) -> (tempfile::TempDir, LoadedTemplate) {
    let fetch = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        targetPath: ./generated\n        values:\n          name: ${{ parameters.name }}\n";
    let yaml = format!(
        "{}  output:\n{output}",
        template_yaml(&format!("{fetch}{steps}"))
    );
    template_from(&[
        ("template.yaml", &yaml),
        ("skeleton/config.yaml", "name: ${{ values.name }}\n"),
    ])
}

async fn run_with(
    template: &LoadedTemplate,
    target: &Path,
    integrations: Integrations,
) -> Result<RunResult, ScaffoldError> {
    let options = RunOptions {
        integrations,
        ..RunOptions::default()
    };
    run(
        &Engine::new(),
        template,
        target,
        &resolved(template, &[]),
        &options,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_pull_request_pushes_a_branch_over_the_default_branch_and_opens_the_pull_request() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (bare, bare_url, main) = bare_repo_with_main();
    let clone_url = bare_url.clone();
    let server = serve(Arc::new(
        move |method: &str, path: &str, _body: &Value| match (method, path) {
            ("GET", "/repos/acme/shop") => (
                200,
                json!({"clone_url": clone_url, "default_branch": "main", "html_url": "https://github.com/acme/shop"}),
            ),
            ("POST", "/repos/acme/shop/pulls") => (
                201,
                json!({"number": 7, "html_url": "https://github.com/acme/shop/pull/7", "state": "open"}),
            ),
            ("POST", "/repos/acme/shop/pulls/7/requested_reviewers") => (201, json!({"number": 7})),
            ("POST", "/repos/acme/shop/issues/7/assignees") => (
                422,
                json!({"message": "Validation Failed", "errors": [{"message": "Could not add assignees: ghost"}]}),
            ),
            _ => (404, json!({"message": "Not Found"})),
        },
    ))
    .await;
    let steps = "    - id: pr\n      action: publish:github:pull-request\n      input:\n        repoUrl: github.com?owner=acme&repo=shop\n        branchName: add-${{ parameters.name }}\n        title: Add ${{ parameters.name }}\n        description: Adds the ${{ parameters.name }} service\n        sourcePath: ./generated\n        targetPath: services/${{ parameters.name }}\n        draft: true\n        reviewers: [ana]\n        teamReviewers: [platform]\n        assignees: [ghost]\n        commitMessage: scaffold ${{ parameters.name }}\n        gitAuthorName: Scaffolder\n        gitAuthorEmail: scaffolder@example.com\n";
    let output = "    links:\n      - title: Pull request\n        url: ${{ steps.pr.output.remoteUrl }}\n    text:\n      - title: Summary\n        content: 'PR #${{ steps.pr.output.pullRequestNumber }} into ${{ steps.pr.output.targetBranchName }}'\n";
    let (_dir, template) = change_template(steps, output);
    let out = tempfile::tempdir().unwrap();
    let result = run_with(
        &template,
        out.path(),
        Integrations {
            github_token: Some("gh-token".into()),
            github_api_url: server.url.clone(),
            ..Integrations::default()
        },
    )
    .await
    .unwrap();

    assert_eq!(
        server.calls(),
        [
            "GET /repos/acme/shop",
            "POST /repos/acme/shop/pulls",
            "POST /repos/acme/shop/pulls/7/requested_reviewers",
            "POST /repos/acme/shop/issues/7/assignees"
        ]
    );
    let requests = server.requests.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer gh-token"))
    );
    assert_eq!(
        requests[1].body,
        json!({"title": "Add demo", "body": "Adds the demo service", "head": "add-demo", "base": "main", "draft": true})
    );
    assert_eq!(
        requests[2].body,
        json!({"reviewers": ["ana"], "team_reviewers": ["platform"]})
    );
    assert_eq!(requests[3].body, json!({"assignees": ["ghost"]}));
    assert!(
        result.steps[1]
            .log
            .iter()
            .any(|line| line.contains("warning") && line.contains("Could not add assignees")),
        "a refused assignee is a warning, as in Backstage: {:?}",
        result.steps[1].log
    );

    // The branch is the default branch plus the rendered files at targetPath.
    assert_eq!(
        branch_file(bare.path(), "add-demo", "services/demo/config.yaml").as_deref(),
        Some("name: demo\n")
    );
    assert_eq!(
        branch_file(bare.path(), "add-demo", "README.md").as_deref(),
        Some("old readme\n")
    );
    assert_eq!(
        branch_file(bare.path(), "main", "services/demo/config.yaml"),
        None,
        "the target branch is untouched"
    );
    let repo = git2::Repository::open_bare(bare.path()).unwrap();
    let head = repo
        .find_reference("refs/heads/add-demo")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(head.parent_id(0).unwrap(), main);
    assert_eq!(head.message().ok(), Some("scaffold demo"));
    assert_eq!(head.author().email().ok(), Some("scaffolder@example.com"));

    assert_eq!(
        result.steps[1].output,
        json!({"targetBranchName": "main", "remoteUrl": "https://github.com/acme/shop/pull/7", "pullRequestNumber": 7})
    );
    assert_eq!(
        result.output.links()[0]["url"],
        "https://github.com/acme/shop/pull/7"
    );
    assert_eq!(result.output.text()[0]["content"], "PR #7 into main");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_creates_the_project_in_its_namespace_and_pushes_the_project() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let remotes = tempfile::tempdir().unwrap();
    let bare_path = remotes.path().join("demo.git");
    git2::Repository::init_bare(&bare_path).unwrap();
    let http_url = format!("file://{}", bare_path.display());
    let answer_url = http_url.clone();
    let server = serve(Arc::new(
        move |method: &str, path: &str, _body: &Value| match (method, path) {
            ("GET", "/api/v4/namespaces/acme%2Fplatform") => (
                200,
                json!({"id": 42, "kind": "group", "full_path": "acme/platform"}),
            ),
            ("POST", "/api/v4/projects") => (
                201,
                json!({"id": 99, "http_url_to_repo": answer_url, "web_url": "https://gitlab.example.com/acme/platform/demo"}),
            ),
            _ => (404, json!({"message": "404 Not Found"})),
        },
    ))
    .await;
    let steps = "    - id: publish\n      action: publish:gitlab\n      input:\n        repoUrl: gitlab.example.com?owner=acme/platform&repo=${{ parameters.name }}\n        sourcePath: ./generated\n        defaultBranch: main\n        repoVisibility: internal\n        topics: [rust]\n        settings:\n          ciConfigPath: .gitlab/ci.yml\n";
    let output = "    links:\n      - title: Repository\n        url: ${{ steps.publish.output.remoteUrl }}\n      - title: Contents\n        url: ${{ steps.publish.output.repoContentsUrl }}\n";
    let (_dir, template) = change_template(steps, output);
    let out = tempfile::tempdir().unwrap();
    let result = run_with(
        &template,
        out.path(),
        Integrations {
            gitlab_token: Some("gl-env-token".into()),
            gitlab_api_url: Some(format!("{}/api/v4", server.url)),
            ..Integrations::default()
        },
    )
    .await
    .unwrap();

    assert_eq!(
        server.calls(),
        [
            "GET /api/v4/namespaces/acme%2Fplatform",
            "POST /api/v4/projects"
        ]
    );
    let requests = server.requests.lock().unwrap().clone();
    for request in &requests {
        assert_eq!(request.private_token.as_deref(), Some("gl-env-token"));
        assert_eq!(request.authorization, None);
    }
    assert_eq!(
        requests[1].body,
        json!({"namespace_id": 42, "name": "demo", "visibility": "internal", "topics": ["rust"], "ci_config_path": ".gitlab/ci.yml"})
    );
    assert_eq!(
        branch_file(&bare_path, "main", "config.yaml").as_deref(),
        Some("name: demo\n")
    );
    let head = git2::Repository::open_bare(&bare_path)
        .unwrap()
        .find_reference("refs/heads/main")
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string();
    let remote = http_url.trim_end_matches(".git").to_owned();
    assert_eq!(
        result.steps[1].output,
        json!({
            "remoteUrl": remote,
            "repoContentsUrl": format!("{remote}/-/blob/main"),
            "commitHash": head,
            "projectId": 99,
            "created": true
        })
    );
    assert_eq!(result.output.links()[0]["url"], remote.as_str());
    assert_eq!(
        result.output.links()[1]["url"],
        format!("{remote}/-/blob/main").as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_merge_request_uses_the_steps_token_pushes_a_branch_and_opens_the_request() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (bare, bare_url, main) = bare_repo_with_main();
    let clone_url = bare_url.clone();
    let server = serve(Arc::new(
        move |method: &str, path: &str, _body: &Value| match (method, path) {
            ("GET", "/api/v4/projects/acme%2Fshop") => (
                200,
                json!({"id": 5, "path_with_namespace": "acme/shop", "http_url_to_repo": clone_url, "default_branch": "main"}),
            ),
            ("GET", "/api/v4/users?username=ana") => (200, json!([{"id": 11, "username": "ana"}])),
            ("GET", "/api/v4/users?username=bo") => (200, json!([{"id": 12, "username": "bo"}])),
            ("POST", "/api/v4/projects/5/merge_requests") => (
                201,
                json!({"iid": 3, "web_url": "https://gitlab.example.com/acme/shop/-/merge_requests/3"}),
            ),
            _ => (404, json!({"message": "404 Not Found"})),
        },
    ))
    .await;
    let steps = "    - id: mr\n      action: publish:gitlab:merge-request\n      input:\n        repoUrl: gitlab.example.com?owner=acme&repo=shop\n        branchName: add-${{ parameters.name }}\n        title: Add ${{ parameters.name }}\n        description: New service\n        sourcePath: ./generated\n        targetPath: services/${{ parameters.name }}\n        token: user-token\n        assignee: ana\n        reviewers: [bo]\n        removeSourceBranch: true\n        labels: [new, service]\n";
    let output = "    links:\n      - title: Merge request\n        url: ${{ steps.mr.output.mergeRequestUrl }}\n";
    let (_dir, template) = change_template(steps, output);
    let out = tempfile::tempdir().unwrap();
    let result = run_with(
        &template,
        out.path(),
        Integrations {
            gitlab_token: Some("env-token".into()),
            gitlab_api_url: Some(format!("{}/api/v4", server.url)),
            ..Integrations::default()
        },
    )
    .await
    .unwrap();

    assert_eq!(
        server.calls(),
        [
            "GET /api/v4/projects/acme%2Fshop",
            "GET /api/v4/users?username=ana",
            "GET /api/v4/users?username=bo",
            "POST /api/v4/projects/5/merge_requests"
        ]
    );
    let requests = server.requests.lock().unwrap().clone();
    for request in &requests {
        // A user's token from the step goes as OAuth; the environment's is not used.
        assert_eq!(request.authorization.as_deref(), Some("Bearer user-token"));
        assert_eq!(request.private_token, None);
    }
    assert_eq!(
        requests[3].body,
        json!({
            "source_branch": "add-demo", "target_branch": "main", "title": "Add demo",
            "description": "New service", "remove_source_branch": true,
            "assignee_id": 11, "reviewer_ids": [12], "labels": "new,service"
        })
    );
    assert_eq!(
        branch_file(bare.path(), "add-demo", "services/demo/config.yaml").as_deref(),
        Some("name: demo\n")
    );
    let repo = git2::Repository::open_bare(bare.path()).unwrap();
    let head = repo
        .find_reference("refs/heads/add-demo")
        .unwrap()
        .peel_to_commit()
        .unwrap();
    assert_eq!(head.parent_id(0).unwrap(), main);
    assert_eq!(head.message().ok(), Some("Add demo"));
    assert_eq!(
        result.steps[1].output,
        json!({
            "projectid": "acme/shop", "targetBranchName": "main", "projectPath": "acme/shop",
            "mergeRequestUrl": "https://gitlab.example.com/acme/shop/-/merge_requests/3"
        })
    );
    assert_eq!(
        result.output.links()[0]["url"],
        "https://gitlab.example.com/acme/shop/-/merge_requests/3"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_error_names_the_action_the_step_and_the_message_and_nothing_is_pushed() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (bare, bare_url) = super::bare_repo();
    let server = serve(Arc::new(move |method: &str, path: &str, _body: &Value| {
        match (method, path) {
            ("GET", "/api/v4/namespaces/acme") => (200, json!({"id": 1, "kind": "group"})),
            ("POST", "/api/v4/projects") => (
                400,
                json!({"message": {"name": ["has already been taken"], "path": ["has already been taken"]}}),
            ),
            _ => (200, json!({"id": 2, "http_url_to_repo": bare_url})),
        }
    }))
    .await;
    let steps = "    - id: publish\n      name: Publish to GitLab\n      action: publish:gitlab\n      input:\n        repoUrl: gitlab.example.com?owner=acme&repo=demo\n";
    let (_dir, template) = change_template(steps, "    links: []\n");
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("p");
    let err = run_with(
        &template,
        &target,
        Integrations {
            gitlab_token: Some("t".into()),
            gitlab_api_url: Some(format!("{}/api/v4", server.url)),
            ..Integrations::default()
        },
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    for part in [
        "step `publish`",
        "publish:gitlab",
        "create the GitLab project acme/demo",
        "400 Bad Request",
        "has already been taken",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert_eq!(err.code(), "remote_failed");
    assert_eq!(err.exit(), crate::error::Exit::Failure);
    assert!(!target.exists());
    let repo = git2::Repository::open_bare(bare.path()).unwrap();
    assert!(
        repo.references().unwrap().next().is_none(),
        "nothing pushed"
    );
}

const PICKER_PARAMETERS: &str = "    properties:\n      name:\n        type: string\n        default: demo\n      repoUrl:\n        type: string\n        ui:field: RepoUrlPicker\n        ui:options:\n          allowedHosts: [gitlab.example.com]\n      mirrorUrl:\n        type: string\n        ui:field: RepoUrlPicker\n        ui:options:\n          allowedHosts: [github.com]\n";

fn picker_template(action: &str, repo_url_expression: &str) -> (tempfile::TempDir, LoadedTemplate) {
    let yaml = format!(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: t\nspec:\n  parameters:\n{PICKER_PARAMETERS}  steps:\n    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n    - id: publish\n      action: {action}\n      input:\n        repoUrl: {repo_url_expression}\n        branchName: b\n        title: t\n"
    );
    template_from(&[("template.yaml", &yaml), ("skeleton/a.txt", "a\n")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_outside_the_pickers_allowed_hosts_is_refused_before_anything_is_written() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = serve(Arc::new(|_: &str, _: &str, _: &Value| (500, json!({})))).await;
    for action in [
        "publish:gitlab",
        "publish:gitlab:merge-request",
        "publish:github",
        "publish:github:pull-request",
    ] {
        let (_dir, template) = picker_template(action, "${{ parameters.repoUrl }}");
        let values = resolved(&template, &["repoUrl=evil.example.com?owner=a&repo=b"]);
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("p");
        let options = RunOptions {
            integrations: Integrations {
                github_token: Some("t".into()),
                github_api_url: server.url.clone(),
                gitlab_token: Some("t".into()),
                gitlab_api_url: Some(server.url.clone()),
                ..Integrations::default()
            },
            ..RunOptions::default()
        };
        let err = run(&Engine::new(), &template, &target, &values, &options)
            .await
            .unwrap_err();
        assert!(
            matches!(err.root(), ScaffoldError::HostNotAllowed { host, allowed, .. }
                if host == "evil.example.com" && allowed == &["gitlab.example.com"]),
            "{action}: {err}"
        );
        assert!(err.to_string().contains("step `publish`"), "{err}");
        assert!(err.hint().unwrap().contains("allowedHosts"));
        assert_eq!(err.exit(), crate::error::Exit::Failure);
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }
    assert!(server.calls().is_empty(), "no forge was called");

    // The step's own picker decides: `mirrorUrl` allows github.com only.
    let (_dir, template) = picker_template("publish:github", "${{ parameters.mirrorUrl }}");
    let values = resolved(&template, &["mirrorUrl=gitlab.example.com?owner=a&repo=b"]);
    let parent = tempfile::tempdir().unwrap();
    let options = RunOptions {
        integrations: Integrations {
            github_token: Some("t".into()),
            ..Integrations::default()
        },
        ..RunOptions::default()
    };
    let err = run(
        &Engine::new(),
        &template,
        &parent.path().join("p"),
        &values,
        &options,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.root(), ScaffoldError::HostNotAllowed { allowed, .. } if allowed == &["github.com"]),
        "{err}"
    );

    // --no-git never reaches a forge, so the host does not matter there.
    let (_dir, template) = picker_template("publish:gitlab", "${{ parameters.repoUrl }}");
    let values = resolved(&template, &["repoUrl=evil.example.com?owner=a&repo=b"]);
    let out = tempfile::tempdir().unwrap();
    let options = RunOptions {
        skip_publish: true,
        ..RunOptions::default()
    };
    run(&Engine::new(), &template, out.path(), &values, &options)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_missing_token_is_refused_before_anything_is_written_for_every_forge_action() {
    for (action, variable) in [
        ("publish:github:pull-request", "GITHUB_TOKEN"),
        ("publish:gitlab", "GITLAB_TOKEN"),
        ("publish:gitlab:merge-request", "GITLAB_TOKEN"),
    ] {
        let host = if variable == "GITHUB_TOKEN" {
            "github.com"
        } else {
            "gitlab.example.com"
        };
        let (_dir, template) = picker_template(action, &format!("{host}?owner=a&repo=b"));
        let parent = tempfile::tempdir().unwrap();
        let err = run(
            &Engine::new(),
            &template,
            &parent.path().join("p"),
            &resolved(&template, &[]),
            &RunOptions::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.root().to_string(),
            format!("{action} needs a token: {variable} is not set")
        );
        assert!(err.hint().unwrap().contains("--no-git"));
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
    }
}

#[tokio::test]
async fn dry_run_describes_pull_and_merge_requests_without_calling_a_forge() {
    let steps = "    - id: pr\n      action: publish:github:pull-request\n      input:\n        repoUrl: github.com?owner=acme&repo=shop\n        branchName: add\n        title: Add\n        targetBranchName: trunk\n    - id: mr\n      action: publish:gitlab:merge-request\n      input:\n        repoUrl: gitlab.example.com?owner=acme&repo=shop\n        branchName: add\n        title: Add\n    - id: gl\n      action: publish:gitlab\n      input:\n        repoUrl: gitlab.example.com?owner=acme&repo=shop\n        defaultBranch: main\n";
    let (_dir, template) = change_template(steps, "    links: []\n");
    let parent = tempfile::tempdir().unwrap();
    let options = RunOptions {
        dry_run: true,
        integrations: Integrations {
            github_api_url: "http://127.0.0.1:9".into(),
            gitlab_api_url: Some("http://127.0.0.1:9".into()),
            ..Integrations::default()
        },
        ..RunOptions::default()
    };
    let result = run(
        &Engine::new(),
        &template,
        &parent.path().join("p"),
        &resolved(&template, &[]),
        &options,
    )
    .await
    .unwrap();
    let pr = &result.steps[1];
    assert_eq!(pr.status, StepStatus::Simulated);
    assert_eq!(pr.output["pullRequestNumber"], 43);
    // Backstage's dry run answers with the pull request's own branch here.
    assert_eq!(pr.output["targetBranchName"], "add");
    assert_eq!(pr.output["remoteUrl"], "github.com?owner=acme&repo=shop");
    assert!(pr.log[0].contains("would push branch add to acme/shop"));
    let mr = &result.steps[2];
    assert_eq!(mr.output["projectPath"], "acme/shop");
    assert_eq!(mr.output["mergeRequestUrl"], "<example>");
    let gitlab = &result.steps[3];
    assert_eq!(
        gitlab.output["repoContentsUrl"],
        "https://gitlab.example.com/acme/shop/-/blob/main"
    );
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
}
