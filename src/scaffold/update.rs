//! `plat scaffold update`: Copier's algorithm. Re-render the recorded template version with the
//! recorded answers (old), render the newest version with the (possibly changed) answers (new),
//! then merge old → project and old → new three ways.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::params::{self, ParameterInput};
use super::{ANSWERS_FILE, Answers, Locator, RunOptions, ScaffoldError, execute, io_error, render};
use crate::expr::Engine;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictStyle {
    /// Conflict markers (`<<<<<<<`, `=======`, `>>>>>>>`) in the file.
    #[default]
    Inline,
    /// Keep the project's file and write the template's change beside it as `FILE.rej`.
    Rej,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// `--set k=v`: answers to change; the rest come from `.plat-answers.yml`.
    pub input: ParameterInput,
    /// Ref to update to; defaults to the recorded ref (or the default branch).
    pub git_ref: Option<String>,
    pub conflict: ConflictStyle,
    pub dry_run: bool,
    /// Run template hooks while re-rendering.
    pub trust: bool,
    pub secrets: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChangeKind {
    Added,
    Updated,
    Merged,
    Deleted,
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    pub path: String,
    pub change: FileChangeKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateResult {
    pub target: std::path::PathBuf,
    pub dry_run: bool,
    pub from_commit: Option<String>,
    pub to_commit: Option<String>,
    pub changes: Vec<FileChange>,
    /// Paths left with conflicts (markers inline, or a `.rej` beside them).
    pub conflicts: Vec<String>,
    pub answers: Answers,
}

enum Write {
    Put(Vec<u8>),
    Delete,
}

/// Updates the project at `target` to the newest version of the template it was generated from.
pub async fn update(
    engine: &Engine,
    locator: &Locator,
    target: &Path,
    options: &UpdateOptions,
) -> Result<UpdateResult, ScaffoldError> {
    let mut recorded = Answers::read(target)?;
    recorded.origin = recorded.origin.resolved_from(target);
    let old_template = locator.load_recorded(&recorded.origin)?;
    let new_template = locator.load_latest(&recorded.origin, options.git_ref.as_deref())?;
    // Hooks are not run while re-rendering, so only the actions need checking here.
    super::preflight(&new_template.template, true)?;

    let mut new_input = options.input.clone();
    let mut merged_values = recorded.values.clone();
    merged_values.extend(std::mem::take(&mut new_input.values));
    new_input.values = merged_values;
    let new_values = params::resolve(&new_template.template.spec.parameters, &new_input, None)?;

    let render_options = RunOptions {
        dry_run: true,
        skip_publish: true,
        trust: options.trust,
        secrets: options.secrets.clone(),
        ..RunOptions::default()
    };
    let old_render =
        render_to_temp(engine, &old_template, &recorded.values, &render_options).await?;
    let new_render = render_to_temp(engine, &new_template, &new_values, &render_options).await?;

    let secret_names = params::secret_parameters(&new_template.template.spec.parameters);
    let answers = Answers {
        template: new_template.name().to_owned(),
        origin: new_template.origin.recorded_for(target),
        values: new_values
            .into_iter()
            .filter(|(name, _)| !secret_names.contains(name))
            .collect(),
    };

    let mut paths: BTreeSet<String> = render::list_files(old_render.path()).into_iter().collect();
    paths.extend(render::list_files(new_render.path()));
    paths.remove(ANSWERS_FILE);

    let mut writes: Vec<(String, Write)> = Vec::new();
    let mut changes = Vec::new();
    let mut conflicts = Vec::new();
    for path in paths {
        let old = read_optional(&old_render.path().join(&path))?;
        let new = read_optional(&new_render.path().join(&path))?;
        let project_path = render::safe_join(target, &path)?;
        let ours = read_optional(&project_path)?;
        let decision = decide(&path, old, new, ours, options.conflict);
        if let Some((change, writes_for_path)) = decision {
            if change == FileChangeKind::Conflict {
                conflicts.push(path.clone());
            }
            changes.push(FileChange {
                path: path.clone(),
                change,
            });
            writes.extend(writes_for_path);
        }
    }
    writes.push((ANSWERS_FILE.to_owned(), Write::Put(answers_yaml(&answers))));

    if !options.dry_run {
        // Every path was checked above; apply only once all merges are computed.
        for (path, write) in writes {
            let destination = render::safe_join(target, &path)?;
            match write {
                Write::Put(bytes) => {
                    if let Some(parent) = destination.parent() {
                        std::fs::create_dir_all(parent)
                            .map_err(io_error(format!("create {}", parent.display())))?;
                    }
                    std::fs::write(&destination, bytes)
                        .map_err(io_error(format!("write {path}")))?;
                }
                Write::Delete => {
                    std::fs::remove_file(&destination)
                        .map_err(io_error(format!("delete {path}")))?;
                }
            }
        }
    }
    Ok(UpdateResult {
        target: target.to_path_buf(),
        dry_run: options.dry_run,
        from_commit: recorded.origin.commit.clone(),
        to_commit: answers.origin.commit.clone(),
        changes,
        conflicts,
        answers,
    })
}

fn answers_yaml(answers: &Answers) -> Vec<u8> {
    answers.to_yaml().into_bytes()
}

async fn render_to_temp(
    engine: &Engine,
    template: &super::LoadedTemplate,
    values: &Map<String, Value>,
    options: &RunOptions,
) -> Result<tempfile::TempDir, ScaffoldError> {
    let dir = tempfile::Builder::new()
        .prefix("plat-scaffold-update-")
        .tempdir()
        .map_err(io_error("create a directory to re-render the template"))?;
    execute(engine, template, dir.path(), values, options).await?;
    Ok(dir)
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, ScaffoldError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(ScaffoldError::Io {
            action: format!("read {}", path.display()),
            source,
        }),
    }
}

type Decision = Option<(FileChangeKind, Vec<(String, Write)>)>;

/// The three-way decision for one path. `old`: template as first rendered, `new`: template
/// now, `ours`: the project.
fn decide(
    path: &str,
    old: Option<Vec<u8>>,
    new: Option<Vec<u8>>,
    ours: Option<Vec<u8>>,
    style: ConflictStyle,
) -> Decision {
    let put = |bytes: Vec<u8>| vec![(path.to_owned(), Write::Put(bytes))];
    match (old, new, ours) {
        // The template did not change this file: whatever the project did stands.
        (Some(old), Some(new), _) if old == new => None,
        // The user deleted it: it stays deleted (Copier).
        (Some(_), _, None) => None,
        (None, None, _) => None,
        (Some(old), None, Some(ours)) => (old == ours).then(|| {
            (
                FileChangeKind::Deleted,
                vec![(path.to_owned(), Write::Delete)],
            )
        }),
        (None, Some(new), None) => Some((FileChangeKind::Added, put(new))),
        (None, Some(new), Some(ours)) if new == ours => None,
        (None, Some(new), Some(ours)) => Some(merge(path, &[], &ours, &new, style)),
        (Some(old), Some(new), Some(ours)) if ours == old => {
            Some((FileChangeKind::Updated, put(new)))
        }
        (Some(_), Some(new), Some(ours)) if ours == new => None,
        (Some(old), Some(new), Some(ours)) => Some(merge(path, &old, &ours, &new, style)),
    }
}

fn merge(
    path: &str,
    old: &[u8],
    ours: &[u8],
    new: &[u8],
    style: ConflictStyle,
) -> (FileChangeKind, Vec<(String, Write)>) {
    let texts = (
        std::str::from_utf8(old),
        std::str::from_utf8(ours),
        std::str::from_utf8(new),
    );
    let (Ok(old), Ok(ours), Ok(new)) = texts else {
        // Binary files cannot be merged: keep the project's, offer the template's beside it.
        return (
            FileChangeKind::Conflict,
            vec![(format!("{path}.rej"), Write::Put(new.to_vec()))],
        );
    };
    match diffy::merge(old, ours, new) {
        Ok(merged) => (
            FileChangeKind::Merged,
            vec![(path.to_owned(), Write::Put(merged.into_bytes()))],
        ),
        Err(conflicted) => match style {
            ConflictStyle::Inline => (
                FileChangeKind::Conflict,
                vec![(path.to_owned(), Write::Put(conflicted.into_bytes()))],
            ),
            ConflictStyle::Rej => {
                let patch = diffy::create_patch(old, new).to_string();
                (
                    FileChangeKind::Conflict,
                    vec![(format!("{path}.rej"), Write::Put(patch.into_bytes()))],
                )
            }
        },
    }
}
