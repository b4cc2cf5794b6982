//! The parsing behind Backstage's scaffolder filters (`lib/templating/filters`): repository
//! URLs from RepoUrlPicker, entity references, lodash-style paths.

/// The parts of a RepoUrlPicker value such as `github.com?owner=o&repo=r`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RepoUrl {
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub repo: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// Parses `host?owner=o&repo=r[&organization=…&workspace=…&project=…]`.
pub fn parse_repo_url(repo_url: &str) -> Result<RepoUrl, String> {
    let (host, query) = repo_url.split_once('?').unwrap_or((repo_url, ""));
    let host = host.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(format!(
            "invalid repo URL `{repo_url}`: expected `host?owner=…&repo=…`"
        ));
    }
    let mut owner = None;
    let mut repo = None;
    let mut organization = None;
    let mut workspace = None;
    let mut project = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = Some(percent_decode(value));
        match key {
            "owner" => owner = value,
            "repo" => repo = value,
            "organization" => organization = value,
            "workspace" => workspace = value,
            "project" => project = value,
            _ => {}
        }
    }
    let repo = repo
        .filter(|repo| !repo.is_empty())
        .ok_or_else(|| format!("invalid repo URL `{repo_url}`: missing repo"))?;
    let is_bitbucket = host.contains("bitbucket");
    if is_bitbucket {
        if workspace.is_none() && project.is_none() {
            return Err(format!(
                "invalid repo URL `{repo_url}`: missing workspace or project"
            ));
        }
    } else if owner.as_deref().is_none_or(str::is_empty) {
        return Err(format!("invalid repo URL `{repo_url}`: missing owner"));
    }
    Ok(RepoUrl {
        host: host.to_owned(),
        owner,
        repo,
        organization,
        workspace,
        project,
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[index + 1..index + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        index += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parts of `[kind:][namespace/]name` as catalog-model's `parseRefString` splits them.
pub(crate) struct RefParts {
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: String,
}

pub(crate) fn parse_ref_string(reference: &str) -> Result<RefParts, String> {
    let slash = reference.find('/');
    let mut colon = reference.find(':');
    if let (Some(s), Some(c)) = (slash, colon)
        && s < c
    {
        colon = None;
    }
    let kind = colon.map(|c| reference[..c].to_owned());
    let namespace = slash.map(|s| reference[colon.map_or(0, |c| c + 1)..s].to_owned());
    let name_start = colon.map_or(0, |c| c + 1).max(slash.map_or(0, |s| s + 1));
    let name = reference[name_start..].to_owned();
    if kind.as_deref() == Some("") || namespace.as_deref() == Some("") || name.is_empty() {
        return Err(format!(
            "Entity reference \"{reference}\" was not on the form [<kind>:][<namespace>/]<name>"
        ));
    }
    Ok(RefParts {
        kind,
        namespace,
        name,
    })
}
