//! Git through libgit2: cloning templates, rebuilding an old template commit, publishing a project.

use std::path::Path;

use git2::{
    Cred, FetchOptions, IndexAddOption, PushOptions, RemoteCallbacks, Repository,
    RepositoryInitOptions, Signature, build::RepoBuilder,
};

use super::ScaffoldError;

/// Who commits the generated project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitAuthor {
    pub name: String,
    pub email: String,
}

impl Default for GitAuthor {
    fn default() -> Self {
        Self {
            name: "plat".to_owned(),
            email: "plat@localhost".to_owned(),
        }
    }
}

fn git_error(action: impl Into<String>) -> impl FnOnce(git2::Error) -> ScaffoldError {
    let action = action.into();
    move |source| ScaffoldError::Git { action, source }
}

/// How a forge takes a token over HTTPS: GitHub as `x-access-token`, GitLab as `oauth2`.
#[derive(Debug, Clone, Copy)]
pub struct GitCredentials<'a> {
    pub username: &'a str,
    pub token: &'a str,
}

fn callbacks(credentials: Option<GitCredentials<'_>>) -> RemoteCallbacks<'_> {
    let mut callbacks = RemoteCallbacks::new();
    if let Some(GitCredentials { username, token }) = credentials {
        callbacks
            .credentials(move |_url, _user, _allowed| Cred::userpass_plaintext(username, token));
    }
    callbacks
}

/// Clones `url` into `dest` and checks out `commit`, else `git_ref`, else the default branch.
/// Returns the commit id checked out.
pub fn clone_at(
    url: &str,
    git_ref: Option<&str>,
    commit: Option<&str>,
    dest: &Path,
) -> Result<String, ScaffoldError> {
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks(None));
    let repo = RepoBuilder::new()
        .fetch_options(fetch)
        .clone(url, dest)
        .map_err(git_error(format!("clone {url}")))?;
    let wanted = commit.or(git_ref);
    let object = match wanted {
        None => repo
            .head()
            .and_then(|head| head.peel(git2::ObjectType::Commit))
            .map_err(git_error(format!("read the default branch of {url}")))?,
        Some(wanted) => repo
            .revparse_single(&format!("origin/{wanted}"))
            .or_else(|_| repo.revparse_single(wanted))
            .and_then(|object| object.peel(git2::ObjectType::Commit))
            .map_err(git_error(format!("find `{wanted}` in {url}")))?,
    };
    repo.checkout_tree(&object, Some(git2::build::CheckoutBuilder::new().force()))
        .map_err(git_error(format!("check out {} of {url}", object.id())))?;
    repo.set_head_detached(object.id())
        .map_err(git_error("detach HEAD"))?;
    Ok(object.id().to_string())
}

/// For a template in a Git work tree: its HEAD commit and its directory relative to the root.
pub fn local_template_commit(path: &Path) -> (Option<String>, Option<String>) {
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(path)
    };
    let Ok(repo) = Repository::discover(dir) else {
        return (None, None);
    };
    let commit = repo
        .head()
        .ok()
        .and_then(|head| head.peel_to_commit().ok())
        .map(|commit| commit.id().to_string());
    let subdir = repo.workdir().and_then(|root| {
        let root = root.canonicalize().ok()?;
        let dir = dir.canonicalize().ok()?;
        let relative = dir.strip_prefix(root).ok()?.to_str()?.to_owned();
        (!relative.is_empty()).then_some(relative)
    });
    (commit, subdir)
}

/// Writes the tree of `commit` (of the repository containing `path`) into `dest`.
pub fn export_commit(path: &Path, commit: &str, dest: &Path) -> Result<(), ScaffoldError> {
    let repo = Repository::discover(path).map_err(git_error(format!(
        "open the Git repository of {}",
        path.display()
    )))?;
    let tree = repo
        .revparse_single(commit)
        .and_then(|object| object.peel_to_tree())
        .map_err(git_error(format!("find commit {commit}")))?;
    let mut failure = None;
    let walked = tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let Ok(name) = entry.name() else {
            return git2::TreeWalkResult::Skip;
        };
        let relative = Path::new(parent).join(name);
        let target = dest.join(&relative);
        let outcome = match entry.kind() {
            Some(git2::ObjectType::Tree) => std::fs::create_dir_all(&target),
            Some(git2::ObjectType::Blob) => {
                match entry.to_object(&repo).and_then(|o| o.peel_to_blob()) {
                    Ok(blob) => write_blob(&target, blob.content(), entry.filemode()),
                    Err(source) => {
                        failure = Some(ScaffoldError::Git {
                            action: format!("read {}", relative.display()),
                            source,
                        });
                        return git2::TreeWalkResult::Abort;
                    }
                }
            }
            _ => Ok(()),
        };
        match outcome {
            Ok(()) => git2::TreeWalkResult::Ok,
            Err(source) => {
                failure = Some(ScaffoldError::Io {
                    action: format!("write {}", target.display()),
                    source,
                });
                git2::TreeWalkResult::Abort
            }
        }
    });
    if let Some(err) = failure {
        return Err(err);
    }
    walked.map_err(git_error("walk the template tree"))
}

fn write_blob(target: &Path, content: &[u8], mode: i32) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if mode == 0o120000 {
            let link = String::from_utf8_lossy(content).into_owned();
            return std::os::unix::fs::symlink(link, target);
        }
        std::fs::write(target, content)?;
        if mode == 0o100755 {
            std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        std::fs::write(target, content)
    }
}

/// What `publish:git`, `publish:github` and `publish:gitlab` push.
#[derive(Debug, Clone)]
pub struct PushRequest<'a> {
    pub remote_url: &'a str,
    pub branch: &'a str,
    pub message: &'a str,
    pub author: &'a GitAuthor,
    pub credentials: Option<GitCredentials<'a>>,
}

/// `git init` + add everything + commit + push to `remote_url`. Returns the commit id.
pub fn init_commit_push(dir: &Path, request: &PushRequest<'_>) -> Result<String, ScaffoldError> {
    let mut init = RepositoryInitOptions::new();
    init.initial_head(request.branch);
    let repo = Repository::init_opts(dir, &init).map_err(git_error(format!(
        "initialise a repository in {}",
        dir.display()
    )))?;
    let mut index = repo.index().map_err(git_error("open the index"))?;
    index
        .add_all(["*"], IndexAddOption::DEFAULT, None)
        .map_err(git_error("stage the generated files"))?;
    index.write().map_err(git_error("write the index"))?;
    let tree_id = index.write_tree().map_err(git_error("write the tree"))?;
    let tree = repo
        .find_tree(tree_id)
        .map_err(git_error("read the tree"))?;
    let signature = Signature::now(&request.author.name, &request.author.email)
        .map_err(git_error("build the commit author"))?;
    let parent = repo.head().ok().and_then(|head| head.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let commit = repo
        .commit(
            Some("HEAD"),
            &signature,
            &signature,
            request.message,
            &tree,
            &parents,
        )
        .map_err(git_error("commit the generated files"))?;
    let mut remote = match repo.find_remote("origin") {
        Ok(remote) => remote,
        Err(_) => repo
            .remote("origin", request.remote_url)
            .map_err(git_error(format!("add remote {}", request.remote_url)))?,
    };
    push_branch(&mut remote, request)?;
    Ok(commit.to_string())
}

fn push_branch(
    remote: &mut git2::Remote<'_>,
    request: &PushRequest<'_>,
) -> Result<(), ScaffoldError> {
    let mut push = PushOptions::new();
    push.remote_callbacks(callbacks(request.credentials));
    let refspec = format!("refs/heads/{0}:refs/heads/{0}", request.branch);
    remote
        .push(&[refspec.as_str()], Some(&mut push))
        .map_err(git_error(format!(
            "push branch {} to {}",
            request.branch, request.remote_url
        )))
}

/// For a pull or merge request: clones `base_branch` of the existing repository, lays the files
/// of `source` over it at `target_path`, commits them on the new branch `request.branch` and
/// pushes that branch. Returns the commit id.
pub fn branch_commit_push(
    source: &Path,
    target_path: &str,
    base_branch: &str,
    request: &PushRequest<'_>,
) -> Result<String, ScaffoldError> {
    let checkout = tempfile::Builder::new()
        .prefix("plat-scaffold-change-")
        .tempdir()
        .map_err(|source| ScaffoldError::Io {
            action: "create a checkout directory".into(),
            source,
        })?;
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks(request.credentials));
    let repo = RepoBuilder::new()
        .branch(base_branch)
        .fetch_options(fetch)
        .clone(request.remote_url, checkout.path())
        .map_err(git_error(format!(
            "clone branch {base_branch} of {}",
            request.remote_url
        )))?;
    let base = repo
        .head()
        .and_then(|head| head.peel_to_commit())
        .map_err(git_error(format!("read branch {base_branch}")))?;
    let destination = super::render::safe_join(checkout.path(), target_path)?;
    copy_files(source, &destination)?;
    let mut index = repo.index().map_err(git_error("open the index"))?;
    index
        .add_all(["*"], IndexAddOption::DEFAULT, None)
        .map_err(git_error("stage the generated files"))?;
    index.write().map_err(git_error("write the index"))?;
    let tree_id = index.write_tree().map_err(git_error("write the tree"))?;
    let tree = repo
        .find_tree(tree_id)
        .map_err(git_error("read the tree"))?;
    let signature = Signature::now(&request.author.name, &request.author.email)
        .map_err(git_error("build the commit author"))?;
    let commit = repo
        .commit(
            Some(&format!("refs/heads/{}", request.branch)),
            &signature,
            &signature,
            request.message,
            &tree,
            &[&base],
        )
        .map_err(git_error(format!("commit on branch {}", request.branch)))?;
    let mut remote = repo
        .find_remote("origin")
        .map_err(git_error("find the cloned remote"))?;
    push_branch(&mut remote, request)?;
    Ok(commit.to_string())
}

/// Copies every file under `from` (`.git` left out) into `to`, replacing files of the same name.
fn copy_files(from: &Path, to: &Path) -> Result<(), ScaffoldError> {
    let io = |action: String| move |source| ScaffoldError::Io { action, source };
    for entry in walkdir::WalkDir::new(from)
        .min_depth(1)
        .into_iter()
        .filter_entry(|entry| entry.file_name() != ".git")
    {
        let entry = entry.map_err(|err| ScaffoldError::Io {
            action: format!("read {}", from.display()),
            source: err.into(),
        })?;
        let relative = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let target = to.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).map_err(io(format!("create {}", target.display())))?;
        } else if entry.file_type().is_symlink() {
            let link = std::fs::read_link(entry.path())
                .map_err(io(format!("read {}", entry.path().display())))?;
            let _ = std::fs::remove_file(&target);
            #[cfg(unix)]
            std::os::unix::fs::symlink(&link, &target)
                .map_err(io(format!("write {}", target.display())))?;
            #[cfg(not(unix))]
            let _ = link;
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(io(format!("create {}", parent.display())))?;
            }
            std::fs::copy(entry.path(), &target)
                .map_err(io(format!("write {}", target.display())))?;
        }
    }
    Ok(())
}
