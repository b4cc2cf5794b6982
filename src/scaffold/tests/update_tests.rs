//! `update`: Copier's three-way algorithm over a template kept in Git.

use super::*;

struct TemplateRepo {
    dir: tempfile::TempDir,
    repo: git2::Repository,
}

impl TemplateRepo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        Self { dir, repo }
    }

    fn template_dir(&self) -> PathBuf {
        self.dir.path().join("templates/svc")
    }

    /// Replaces the skeleton with `files` and commits.
    fn commit(&self, files: &[(&str, &str)]) -> String {
        let root = self.template_dir();
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("skeleton")).unwrap();
        let steps = "    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values:\n          name: ${{ parameters.name }}\n";
        std::fs::write(root.join("template.yaml"), template_yaml(steps)).unwrap();
        for (path, contents) in files {
            std::fs::write(root.join("skeleton").join(path), contents).unwrap();
        }
        let mut index = self.repo.index().unwrap();
        index.update_all(["*"], None).unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let signature = git2::Signature::now("t", "t@example.com").unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        self.repo
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                "template",
                &tree,
                &parents,
            )
            .unwrap()
            .to_string()
    }
}

const V1: &[(&str, &str)] = &[
    (
        "a.txt",
        "line1\nk\nk\nline2 ${{ values.name }}\nk\nk\nline3\n",
    ),
    ("b.txt", "b v1\n"),
    ("gone.txt", "removed in v2\n"),
    ("user-deleted.txt", "x\n"),
    ("user-edited-gone.txt", "y\n"),
];

const V2: &[(&str, &str)] = &[
    (
        "a.txt",
        "line1\nk\nk\nline2 ${{ values.name }}\nk\nk\nline3 from v2\n",
    ),
    ("b.txt", "b v1\n"),
    ("new.txt", "new in v2 for ${{ values.name }}\n"),
    ("user-deleted.txt", "x changed in v2\n"),
];

async fn generate(template_repo: &TemplateRepo) -> (tempfile::TempDir, PathBuf) {
    let template = locator()
        .load(template_repo.template_dir().to_str().unwrap())
        .unwrap();
    let values = resolved(&template, &[]);
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("project");
    run(
        &Engine::new(),
        &template,
        &target,
        &values,
        &RunOptions::default(),
    )
    .await
    .unwrap();
    (out, target)
}

#[tokio::test]
async fn update_merges_template_changes_with_project_changes() {
    let template_repo = TemplateRepo::new();
    let v1 = template_repo.commit(V1);
    let (_out, project) = generate(&template_repo).await;
    let answers = Answers::read(&project).unwrap();
    assert_eq!(answers.origin.commit.as_deref(), Some(v1.as_str()));
    assert_eq!(answers.origin.subdir.as_deref(), Some("templates/svc"));

    std::fs::write(
        project.join("a.txt"),
        "line1 edited by user\nk\nk\nline2 demo\nk\nk\nline3\n",
    )
    .unwrap();
    std::fs::remove_file(project.join("user-deleted.txt")).unwrap();
    std::fs::write(project.join("user-edited-gone.txt"), "mine now\n").unwrap();
    let v2 = template_repo.commit(V2);

    let mut options = UpdateOptions::default();
    options.input.add_set("name=renamed").unwrap();
    let result = update(&Engine::new(), &locator(), &project, &options)
        .await
        .unwrap();

    assert_eq!(
        read(project.join("a.txt")),
        "line1 edited by user\nk\nk\nline2 renamed\nk\nk\nline3 from v2\n"
    );
    assert_eq!(read(project.join("new.txt")), "new in v2 for renamed\n");
    assert!(
        !project.join("gone.txt").exists(),
        "removed upstream, untouched locally"
    );
    assert!(!project.join("user-deleted.txt").exists(), "stays deleted");
    assert_eq!(
        read(project.join("user-edited-gone.txt")),
        "mine now\n",
        "local edits kept"
    );
    assert!(result.conflicts.is_empty());
    let kinds: Vec<(String, FileChangeKind)> = result
        .changes
        .iter()
        .map(|c| (c.path.clone(), c.change))
        .collect();
    assert_eq!(
        kinds,
        [
            ("a.txt".to_owned(), FileChangeKind::Merged),
            ("gone.txt".to_owned(), FileChangeKind::Deleted),
            ("new.txt".to_owned(), FileChangeKind::Added),
        ]
    );
    assert_eq!(result.from_commit.as_deref(), Some(v1.as_str()));
    assert_eq!(result.to_commit.as_deref(), Some(v2.as_str()));
    let answers = Answers::read(&project).unwrap();
    assert_eq!(answers.origin.commit.as_deref(), Some(v2.as_str()));
    assert_eq!(answers.values["name"], "renamed");
}

async fn conflicting_project(style: ConflictStyle) -> (tempfile::TempDir, PathBuf, UpdateResult) {
    let template_repo = TemplateRepo::new();
    template_repo.commit(V1);
    let (out, project) = generate(&template_repo).await;
    std::fs::write(
        project.join("a.txt"),
        "line1\nk\nk\nline2 demo\nk\nk\nline3 from user\n",
    )
    .unwrap();
    template_repo.commit(V2);
    let options = UpdateOptions {
        conflict: style,
        ..UpdateOptions::default()
    };
    let result = update(&Engine::new(), &locator(), &project, &options)
        .await
        .unwrap();
    (out, project, result)
}

#[tokio::test]
async fn conflicts_are_left_inline() {
    let (_out, project, result) = conflicting_project(ConflictStyle::Inline).await;
    assert_eq!(result.conflicts, ["a.txt"]);
    let merged = read(project.join("a.txt"));
    assert!(merged.contains("<<<<<<<"), "{merged}");
    assert!(merged.contains("line3 from user"), "{merged}");
    assert!(merged.contains("line3 from v2"), "{merged}");
    assert!(merged.contains(">>>>>>>"), "{merged}");
}

#[tokio::test]
async fn conflicts_can_go_to_rej_files() {
    let (_out, project, result) = conflicting_project(ConflictStyle::Rej).await;
    assert_eq!(result.conflicts, ["a.txt"]);
    assert_eq!(
        read(project.join("a.txt")),
        "line1\nk\nk\nline2 demo\nk\nk\nline3 from user\n"
    );
    let rej = read(project.join("a.txt.rej"));
    assert!(rej.contains("-line3\n"), "{rej}");
    assert!(rej.contains("+line3 from v2\n"), "{rej}");
}

#[tokio::test]
async fn dry_run_update_changes_nothing() {
    let template_repo = TemplateRepo::new();
    template_repo.commit(V1);
    let (_out, project) = generate(&template_repo).await;
    template_repo.commit(V2);
    let before = read(project.join(ANSWERS_FILE));
    let options = UpdateOptions {
        dry_run: true,
        ..UpdateOptions::default()
    };
    let result = update(&Engine::new(), &locator(), &project, &options)
        .await
        .unwrap();
    assert!(result.changes.iter().any(|c| c.path == "new.txt"));
    assert!(!project.join("new.txt").exists());
    assert_eq!(read(project.join(ANSWERS_FILE)), before);
}

#[tokio::test]
async fn builtin_templates_update_from_this_plat_and_unversioned_ones_cannot() {
    let template = locator().load("docs-site").unwrap();
    let values = resolved(&template, &["name=d", "owner=o"]);
    let out = tempfile::tempdir().unwrap();
    run(
        &Engine::new(),
        &template,
        out.path(),
        &values,
        &RunOptions::default(),
    )
    .await
    .unwrap();
    // Rendered by this plat: the old render is rebuilt from the same built-in template.
    let result = update(
        &Engine::new(),
        &locator(),
        out.path(),
        &UpdateOptions::default(),
    )
    .await
    .unwrap();
    assert!(result.conflicts.is_empty());

    // A local template outside Git has no version to rebuild.
    let loose = tempfile::tempdir().unwrap();
    std::fs::write(
        loose.path().join("template.yaml"),
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: loose\nspec:\n  steps: []\n",
    )
    .unwrap();
    let template = locator().load(loose.path().to_str().unwrap()).unwrap();
    let project = tempfile::tempdir().unwrap();
    run(
        &Engine::new(),
        &template,
        project.path(),
        &serde_json::Map::new(),
        &RunOptions::default(),
    )
    .await
    .unwrap();
    let err = update(
        &Engine::new(),
        &locator(),
        project.path(),
        &UpdateOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ScaffoldError::NotUpdatable { .. }), "{err}");
    assert!(err.hint().is_some());

    let empty = tempfile::tempdir().unwrap();
    let err = update(
        &Engine::new(),
        &locator(),
        empty.path(),
        &UpdateOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ScaffoldError::NoAnswers { .. }), "{err}");
}
