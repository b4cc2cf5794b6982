//! Backstage's scaffolder filters (`lib/templating/filters.ts`) plus Nunjucks' `dump`.

use minijinja::value::{Kwargs, Value as JinjaValue};

use super::to_jinja;
use minijinja::{Environment, Error, ErrorKind};
use serde_json::Value;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("parseRepoUrl", parse_repo_url_filter);
    env.add_filter("parseEntityRef", parse_entity_ref_filter);
    env.add_filter("pick", pick);
    env.add_filter("projectSlug", project_slug);
    env.add_filter("dump", dump);
}

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

/// A parsed `[kind:][namespace/]name` entity reference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntityRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

pub fn parse_entity_ref(
    reference: &str,
    default_kind: Option<&str>,
    default_namespace: Option<&str>,
) -> Result<EntityRef, String> {
    let (kind, rest) = match reference.split_once(':') {
        Some((kind, rest)) => (Some(kind), rest),
        None => (None, reference),
    };
    let (namespace, name) = match rest.split_once('/') {
        Some((namespace, name)) => (Some(namespace), name),
        None => (None, rest),
    };
    let kind = kind
        .or(default_kind)
        .filter(|kind| !kind.is_empty())
        .ok_or_else(|| {
            format!("entity reference `{reference}` has no kind and no defaultKind was given")
        })?;
    let namespace = namespace
        .or(default_namespace)
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or("default");
    if name.is_empty() || name.contains(':') || name.contains('/') {
        return Err(format!(
            "entity reference `{reference}` is not `[kind:][namespace/]name`"
        ));
    }
    Ok(EntityRef {
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

/// lodash `get`: `a.b[0].c`.
pub fn pick_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut current = value;
    for segment in path
        .split(['.', '[', ']'])
        .filter(|segment| !segment.is_empty())
    {
        let segment = segment.trim_matches(['"', '\'']);
        current = match current {
            Value::Object(entries) => entries.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

fn to_json(value: &JinjaValue) -> Result<Value, Error> {
    if value.is_undefined() {
        return Ok(Value::Null);
    }
    serde_json::to_value(value).map_err(|err| invalid(format!("not representable as JSON: {err}")))
}

fn parse_repo_url_filter(repo_url: &str) -> Result<JinjaValue, Error> {
    parse_repo_url(repo_url)
        .map(|parsed| to_jinja(&parsed))
        .map_err(invalid)
}

fn parse_entity_ref_filter(
    reference: &str,
    context: Option<JinjaValue>,
) -> Result<JinjaValue, Error> {
    let context = match context {
        Some(context) => to_json(&context)?,
        None => Value::Null,
    };
    let option = |key: &str| context.get(key).and_then(Value::as_str);
    parse_entity_ref(reference, option("defaultKind"), option("defaultNamespace"))
        .map(|parsed| to_jinja(&parsed))
        .map_err(invalid)
}

fn pick(value: JinjaValue, path: &str) -> Result<JinjaValue, Error> {
    let json = to_json(&value)?;
    Ok(pick_path(&json, path).map_or(JinjaValue::UNDEFINED, to_jinja))
}

fn project_slug(repo_url: &str) -> Result<String, Error> {
    let parsed = parse_repo_url(repo_url).map_err(invalid)?;
    let owner = parsed
        .owner
        .or(parsed.workspace)
        .or(parsed.project)
        .unwrap_or_default();
    Ok(format!("{owner}/{}", parsed.repo))
}

/// Nunjucks `dump` (JSON.stringify): compact by default, `dump(2)` indents.
pub(super) fn dump(
    value: JinjaValue,
    indent: Option<JinjaValue>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let indent = match indent {
        Some(indent) => Some(indent),
        None => kwargs.get::<Option<JinjaValue>>("indent")?,
    };
    kwargs.assert_all_used()?;
    if value.is_undefined() {
        return Ok(String::new());
    }
    let json = to_json(&value)?;
    let width = indent.and_then(|indent| {
        u32::try_from(indent.clone())
            .ok()
            .map(|n| " ".repeat(n as usize))
            .or_else(|| indent.as_str().map(str::to_owned))
    });
    match width {
        Some(width) if !width.is_empty() => {
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(width.as_bytes());
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(&json, &mut serializer)
                .map_err(|err| invalid(err.to_string()))?;
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        _ => serde_json::to_string(&json).map_err(|err| invalid(err.to_string())),
    }
}
