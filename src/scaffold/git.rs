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

fn callbacks(token: Option<&str>) -> RemoteCallbacks<'_> {
    let mut callbacks = RemoteCallbacks::new();
    if let Some(token) = token {
        callbacks.credentials(move |_url, _user, _allowed| {
            Cred::userpass_plaintext("x-access-token", token)
        });
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

/// What `publish:git` / `publish:github` push.
#[derive(Debug, Clone)]
pub struct PushRequest<'a> {
    pub remote_url: &'a str,
    pub branch: &'a str,
    pub message: &'a str,
    pub author: &'a GitAuthor,
    pub token: Option<&'a str>,
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
    let mut push = PushOptions::new();
    push.remote_callbacks(callbacks(request.token));
    let refspec = format!("refs/heads/{0}:refs/heads/{0}", request.branch);
    remote
        .push(&[refspec.as_str()], Some(&mut push))
        .map_err(git_error(format!("push to {}", request.remote_url)))?;
    Ok(commit.to_string())
}
