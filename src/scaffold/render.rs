//! Copying and rendering skeleton directories (`fetch:template` and friends) with path safety.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde_json::{Value, json};

use super::ScaffoldError;
use crate::expr::{Engine, RenderOptions, Syntax};

/// Joins a relative path under `base`, refusing absolute paths, `..` that leaves `base`, and
/// existing symlinks that lead outside it.
pub fn safe_join(base: &Path, relative: &str) -> Result<PathBuf, ScaffoldError> {
    let escape = || ScaffoldError::PathEscape {
        path: relative.to_owned(),
    };
    let relative_path = Path::new(relative);
    let mut normalized = PathBuf::new();
    for component in relative_path.components() {
        match component {
            Component::Normal(part) => normalized.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !normalized.pop() {
                    return Err(escape());
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(escape()),
        }
    }
    let joined = base.join(&normalized);
    ensure_inside(base, &joined).map_err(|_| escape())?;
    Ok(joined)
}

/// Checks that the deepest existing ancestor of `path` resolves inside `base`.
fn ensure_inside(base: &Path, path: &Path) -> Result<(), ()> {
    let Ok(base) = base.canonicalize() else {
        return Ok(());
    };
    let mut probe = path.to_path_buf();
    loop {
        if probe.symlink_metadata().is_ok() {
            // A dangling symlink cannot be canonicalised; judge it by where it points.
            let resolved = match probe.canonicalize() {
                Ok(resolved) => resolved,
                Err(_) => {
                    let target = std::fs::read_link(&probe).map_err(|_| ())?;
                    let parent = probe.parent().ok_or(())?;
                    return ensure_inside(&base, &lexical_join(parent, &target));
                }
            };
            return if resolved.starts_with(&base) {
                Ok(())
            } else {
                Err(())
            };
        }
        if !probe.pop() {
            return Ok(());
        }
    }
}

fn lexical_join(base: &Path, relative: &Path) -> PathBuf {
    let mut out = if relative.is_absolute() {
        PathBuf::new()
    } else {
        base.to_path_buf()
    };
    for component in relative.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Paths matched by globby-style patterns, as Backstage's `copyWithoutTemplating` reads them:
/// a pattern naming a directory (`.github/workflows/`) covers everything under it, `**`
/// crosses directories, and `!pattern` takes paths back out.
#[derive(Debug)]
pub struct PathMatcher {
    include: GlobSet,
    exclude: GlobSet,
}

impl PathMatcher {
    pub fn is_match(&self, path: impl AsRef<Path>) -> bool {
        let path = path.as_ref();
        self.include.is_match(path) && !self.exclude.is_match(path)
    }
}

pub fn glob_set(patterns: &[String]) -> Result<PathMatcher, ScaffoldError> {
    let mut include = GlobSetBuilder::new();
    let mut exclude = GlobSetBuilder::new();
    let add = |builder: &mut GlobSetBuilder, pattern: &str| -> Result<(), ScaffoldError> {
        // minimatch semantics, as Backstage uses: `*` stays within one path segment.
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|err| ScaffoldError::InvalidInput {
                step: String::new(),
                message: format!("invalid glob `{pattern}`: {err}"),
            })?;
        builder.add(glob);
        Ok(())
    };
    for pattern in patterns {
        let (builder, pattern) = match pattern.strip_prefix('!') {
            Some(negated) => (&mut exclude, negated),
            None => (&mut include, pattern.as_str()),
        };
        let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
        if pattern.is_empty() {
            continue;
        }
        add(builder, pattern)?;
        // globby's expandDirectories: a directory stands for everything below it.
        add(builder, &format!("{pattern}/**"))?;
    }
    let build = |builder: GlobSetBuilder| {
        builder.build().map_err(|err| ScaffoldError::InvalidInput {
            step: String::new(),
            message: err.to_string(),
        })
    };
    Ok(PathMatcher {
        include: build(include)?,
        exclude: build(exclude)?,
    })
}

/// Options of `fetch:template` (and `fetch:plain`, which renders nothing).
#[derive(Debug, Default)]
pub struct SkeletonOptions {
    pub values: Value,
    pub copy_without_templating: Option<PathMatcher>,
    pub cookiecutter_compat: bool,
    pub template_extension: Option<String>,
    pub replace: bool,
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    /// `fetch:plain`: copy names and contents as they are.
    pub plain: bool,
}

impl SkeletonOptions {
    fn context(&self) -> Value {
        if self.cookiecutter_compat {
            json!({ "cookiecutter": self.values })
        } else {
            json!({ "values": self.values })
        }
    }

    fn render_options<'a>(&self, file: &'a str) -> RenderOptions<'a> {
        RenderOptions {
            syntax: if self.cookiecutter_compat {
                Syntax::Jinja
            } else {
                Syntax::Backstage
            },
            trim_blocks: self.trim_blocks,
            lstrip_blocks: self.lstrip_blocks,
            file: Some(file),
        }
    }
}

/// Renders (or copies) every entry of `source` into `workspace/target`. Returns the paths written,
/// relative to `workspace`.
pub fn copy_skeleton(
    engine: &Engine,
    source: &Path,
    workspace: &Path,
    target: &Path,
    options: &SkeletonOptions,
) -> Result<Vec<String>, ScaffoldError> {
    let context = options.context();
    let mut written = Vec::new();
    let walker = walkdir::WalkDir::new(source)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        let entry = entry.map_err(|err| ScaffoldError::Io {
            action: format!("read {}", source.display()),
            source: err.into(),
        })?;
        let Some(location) = entry
            .path()
            .strip_prefix(source)
            .ok()
            .and_then(Path::to_str)
            .map(|s| s.replace('\\', "/"))
        else {
            continue;
        };
        let file_type = entry.file_type();
        let (render_name, mut render_contents) = if options.plain {
            (false, false)
        } else if let Some(extension) = &options.template_extension {
            (true, location.ends_with(extension.as_str()))
        } else {
            (true, true)
        };
        if options
            .copy_without_templating
            .as_ref()
            .is_some_and(|set| set.is_match(&location))
        {
            render_contents = false;
        }
        let mut output = if render_name {
            engine
                .render_str_with(&location, &context, &options.render_options(&location))
                .map_err(ScaffoldError::Expression)?
        } else {
            location.clone()
        };
        if render_contents
            && let Some(extension) = &options.template_extension
            && let Some(stripped) = output.strip_suffix(extension.as_str())
        {
            output = stripped.to_owned();
        }
        // A segment that renders empty drops the entry: Backstage's conditional files.
        if output.is_empty() || output.split('/').any(str::is_empty) {
            continue;
        }
        let relative_output = join_relative(target, &output);
        let destination = safe_join(workspace, &relative_output)?;
        if file_type.is_dir() {
            create_dir(&destination)?;
            continue;
        }
        if destination.symlink_metadata().is_ok() && !options.replace {
            continue;
        }
        if let Some(parent) = destination.parent() {
            create_dir(parent)?;
        }
        if file_type.is_symlink() {
            copy_symlink(entry.path(), &destination, &relative_output)?;
        } else {
            write_file(
                engine,
                entry.path(),
                &destination,
                render_contents.then_some((&context, options.render_options(&location))),
            )?;
        }
        written.push(relative_output);
    }
    Ok(written)
}

fn join_relative(target: &Path, path: &str) -> String {
    let target = target.to_string_lossy().replace('\\', "/");
    let target = target.trim_start_matches("./").trim_end_matches('/');
    if target.is_empty() || target == "." {
        path.to_owned()
    } else {
        format!("{target}/{path}")
    }
}

fn create_dir(path: &Path) -> Result<(), ScaffoldError> {
    std::fs::create_dir_all(path).map_err(|source| ScaffoldError::Io {
        action: format!("create {}", path.display()),
        source,
    })
}

/// Text that is not valid UTF-8 or holds a NUL byte early on is treated as binary.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0) || std::str::from_utf8(bytes).is_err()
}

/// Copies or renders one file, keeping its permission bits.
pub fn write_file(
    engine: &Engine,
    source: &Path,
    destination: &Path,
    render: Option<(&Value, RenderOptions<'_>)>,
) -> Result<(), ScaffoldError> {
    let bytes = std::fs::read(source).map_err(|err| ScaffoldError::Io {
        action: format!("read {}", source.display()),
        source: err,
    })?;
    let content = match render {
        Some((context, render_options)) if !is_binary(&bytes) => {
            let text = std::str::from_utf8(&bytes).unwrap_or_default();
            engine
                .render_str_with(text, context, &render_options)
                .map_err(ScaffoldError::Expression)?
                .into_bytes()
        }
        _ => bytes,
    };
    // Replace rather than write through: the destination may be a symlink.
    if destination.symlink_metadata().is_ok() {
        std::fs::remove_file(destination).map_err(|err| ScaffoldError::Io {
            action: format!("replace {}", destination.display()),
            source: err,
        })?;
    }
    std::fs::write(destination, content).map_err(|err| ScaffoldError::Io {
        action: format!("write {}", destination.display()),
        source: err,
    })?;
    let permissions = std::fs::metadata(source)
        .map(|metadata| metadata.permissions())
        .map_err(|err| ScaffoldError::Io {
            action: format!("read {}", source.display()),
            source: err,
        })?;
    std::fs::set_permissions(destination, permissions).map_err(|err| ScaffoldError::Io {
        action: format!("set permissions of {}", destination.display()),
        source: err,
    })
}

fn copy_symlink(
    source: &Path,
    destination: &Path,
    relative_output: &str,
) -> Result<(), ScaffoldError> {
    let link = std::fs::read_link(source).map_err(|err| ScaffoldError::Io {
        action: format!("read link {}", source.display()),
        source: err,
    })?;
    let escape = || ScaffoldError::PathEscape {
        path: format!("{relative_output} -> {}", link.display()),
    };
    if link.is_absolute() {
        return Err(escape());
    }
    // Where the link points, relative to the workspace, must stay inside it.
    let mut depth: i64 = Path::new(relative_output).components().count() as i64 - 1;
    for component in link.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return Err(escape());
        }
    }
    if destination.symlink_metadata().is_ok() {
        let _ = std::fs::remove_file(destination);
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&link, destination).map_err(|err| ScaffoldError::Io {
            action: format!("create link {}", destination.display()),
            source: err,
        })
    }
    #[cfg(not(unix))]
    {
        std::fs::copy(source, destination)
            .map(|_| ())
            .map_err(|err| ScaffoldError::Io {
                action: format!("copy {}", destination.display()),
                source: err,
            })
    }
}

/// Lists every file under `root` (relative, `/`-separated, sorted), skipping `.git`.
pub fn list_files(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| entry.file_name() != ".git")
        .flatten()
        .filter(|entry| !entry.file_type().is_dir())
        .filter_map(|entry| {
            entry
                .path()
                .strip_prefix(root)
                .ok()
                .and_then(Path::to_str)
                .map(|s| s.replace('\\', "/"))
        })
        .collect();
    files.sort();
    files
}
