//! Backstage catalog entities: a System per environment and a Resource per scanned resource.
//!
//! Entity names are a slug plus a short hash of the resource id, so they stay within 63
//! characters and unique even when two resources share a type or a name.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::super::{Origin, Resource, ScanReport};

/// The only label an entity reads; `--format backstage` keeps no other while it holds the
/// whole inventory.
pub(crate) const KUBERNETES_ID_LABEL: &str = "backstage.io/kubernetes-id";

/// Drops what no entity reads (other labels, annotations), so that holding the inventory
/// costs less per resource.
pub(crate) fn keep_only_what_entities_read(resource: &mut Resource) {
    resource.labels.retain(|key, _| key == KUBERNETES_ID_LABEL);
    resource.annotations.clear();
}

#[derive(Debug, Clone)]
pub struct BackstageOptions {
    /// Entity ref of the owner, e.g. `group:default/platform-team`.
    pub owner: String,
    /// Catalog namespace of the generated entities.
    pub namespace: String,
    /// The environment being scanned (`plat scan --env NAME`); without it, resources are grouped
    /// by their workspace label, and unlabelled ones go to `unassigned`.
    pub environment: Option<String>,
    /// The domain of plat's own annotations (`crate::labels`).
    pub domain: String,
}

impl Default for BackstageOptions {
    fn default() -> Self {
        Self {
            owner: "group:default/platform".into(),
            namespace: "default".into(),
            environment: None,
            domain: crate::labels::DEFAULT_DOMAIN.into(),
        }
    }
}

const MAX_NAME: usize = 63;

/// `[a-z0-9]` runs separated by single `-`, `_` or `.`, as Backstage requires.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_separator = None;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if let Some(sep) = pending_separator.take()
                && !out.is_empty()
            {
                out.push(sep);
            }
            out.push(c.to_ascii_lowercase());
        } else if pending_separator.is_none() {
            pending_separator = Some(if matches!(c, '_' | '.') { c } else { '-' });
        }
    }
    out
}

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// A valid entity name: a slug of what the resource is, then a short hash of its identity and
/// the file it came from, so that the same object in two files gives two names, and a rescan
/// gives the same ones. `occurrence` (0 for the first) tells apart repeats within one file.
pub fn entity_name(resource: &Resource, occurrence: usize) -> String {
    let base = match resource.origin {
        Origin::Terraform => slug(resource.address.as_deref().unwrap_or(&resource.name)),
        _ => slug(&format!(
            "{}-{}-{}",
            resource.kind,
            resource.namespace.as_deref().unwrap_or(""),
            resource.name
        )),
    };
    let mut identity = format!("{}\0{}", resource.id, resource.location.file);
    if occurrence > 0 {
        identity.push_str(&format!("\0{occurrence}"));
    }
    let hash = short_hash(&identity);
    let room = MAX_NAME - hash.len() - 1;
    let mut base: String = base.chars().take(room).collect();
    while base.ends_with(['-', '_', '.']) {
        base.pop();
    }
    if base.is_empty() {
        hash
    } else {
        format!("{base}-{hash}")
    }
}

/// Entity names by resource id (and Terraform address without its index), each with the
/// file it came from, so that a relation prefers the entity from the same source.
#[derive(Default)]
struct Names<'r> {
    by_id: HashMap<&'r str, Vec<(&'r str, String)>>,
}

impl<'r> Names<'r> {
    fn add(&mut self, key: &'r str, file: &'r str, name: &str) {
        self.by_id
            .entry(key)
            .or_default()
            .push((file, name.to_string()));
    }

    fn get(&self, key: &str, file: &str) -> Option<&String> {
        let candidates = self.by_id.get(key)?;
        candidates
            .iter()
            .find(|(f, _)| *f == file)
            .or_else(|| candidates.first())
            .map(|(_, name)| name)
    }
}

fn system_name(environment: &str) -> String {
    let mut name: String = slug(&format!("env-{environment}"))
        .chars()
        .take(MAX_NAME)
        .collect();
    while name.ends_with(['-', '_', '.']) {
        name.pop();
    }
    name
}

/// Terraform `depends_on` names resources without an instance key; map both forms.
fn strip_index(address: &str) -> &str {
    match address.rfind('[') {
        Some(i) if address.ends_with(']') => &address[..i],
        _ => address,
    }
}

pub fn entities(report: &ScanReport, options: &BackstageOptions) -> Vec<Value> {
    let mut out = Vec::new();
    for_each_entity(&report.resources, options, |entity| out.push(entity));
    out
}

/// Writes the multi-document `catalog-info.yaml` entity by entity, as [`to_yaml`] of
/// [`entities`] would, without holding them all.
pub(crate) fn write_yaml(
    resources: &[Resource],
    options: &BackstageOptions,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let mut written = Ok(());
    for_each_entity(resources, options, |entity| {
        if written.is_ok() {
            written = out.write_all(b"---\n").and_then(|()| {
                serde_yaml_ng::to_writer(&mut *out, &entity).map_err(std::io::Error::other)
            });
        }
    });
    written
}

/// Names need the whole inventory (unique per source, relations resolved by id), so this
/// holds the resources and a name per resource; each entity is built and handed over alone.
fn for_each_entity(
    resources: &[Resource],
    options: &BackstageOptions,
    mut emit: impl FnMut(Value),
) {
    let mut names = Names::default();
    let mut own_names: Vec<String> = Vec::with_capacity(resources.len());
    let mut used: HashSet<String> = HashSet::new();
    let mut occurrences: HashMap<(&str, &str), usize> = HashMap::new();
    for resource in resources {
        let file = resource.location.file.as_str();
        let occurrence = occurrences.entry((&resource.id, file)).or_default();
        let mut name = entity_name(resource, *occurrence);
        // A hash collision is astronomically rare; the next occurrence number settles it.
        while !used.insert(name.clone()) {
            *occurrence += 1;
            name = entity_name(resource, *occurrence);
        }
        *occurrence += 1;
        names.add(&resource.id, file, &name);
        if let Some(address) = &resource.address
            && strip_index(address) != address
        {
            names.add(strip_index(address), file, &name);
        }
        own_names.push(name);
    }
    let environment_of = |r: &Resource| -> String {
        options
            .environment
            .clone()
            .or_else(|| r.attribution.workspace.clone())
            .unwrap_or_else(|| "unassigned".into())
    };
    let mut systems: BTreeMap<String, String> = BTreeMap::new();
    for resource in resources {
        let env = environment_of(resource);
        systems.entry(system_name(&env)).or_insert(env);
    }
    let ns = &options.namespace;
    for (name, env) in &systems {
        emit(json!({
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "System",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "title": format!("Environment {env}"),
                    "annotations": {format!("{}/environment", options.domain): env},
                },
                "spec": {"owner": options.owner},
        }));
    }
    for (resource, name) in resources.iter().zip(&own_names) {
        let file = resource.location.file.as_str();
        let mut annotations = Map::new();
        // plat's own annotations are under the platform's label domain.
        let own = |name: &str| format!("{}/{name}", options.domain);
        let mut put = |key: &str, value: &str| {
            annotations.insert(key.to_string(), Value::String(value.to_string()));
        };
        put(&own("resource-id"), &resource.id);
        put(
            &own("source-location"),
            &format!("{}:{}", resource.location.file, resource.location.line),
        );
        let resource_type = match resource.origin {
            Origin::Terraform => {
                put(
                    &own("terraform-address"),
                    resource.address.as_deref().unwrap_or(""),
                );
                put(&own("terraform-type"), &resource.kind);
                resource.kind.clone()
            }
            Origin::Manifest | Origin::Cluster => {
                put(
                    &own("kubernetes-api-version"),
                    resource.api_version.as_deref().unwrap_or(""),
                );
                put(&own("kubernetes-kind"), &resource.kind);
                put(&own("kubernetes-name"), &resource.name);
                let kube_id = resource
                    .labels
                    .get(KUBERNETES_ID_LABEL)
                    .cloned()
                    .unwrap_or_else(|| resource.name.clone());
                put(KUBERNETES_ID_LABEL, &kube_id);
                if let Some(namespace) = &resource.namespace {
                    put(&own("kubernetes-namespace"), namespace);
                    put("backstage.io/kubernetes-namespace", namespace);
                }
                format!("kubernetes-{}", slug(&resource.kind))
            }
        };
        let attribution = &resource.attribution;
        for (key, value) in [
            (own("account-id"), &attribution.account),
            (own("tenant-id"), &attribution.tenant),
            (own("workspace-id"), &attribution.workspace),
        ] {
            if let Some(value) = value {
                put(&key, value);
            }
        }
        let mut depends_on: Vec<String> = resource
            .relations
            .iter()
            .filter_map(|rel| {
                names
                    .get(&rel.target, file)
                    .or_else(|| names.get(strip_index(&rel.target), file))
            })
            .filter(|target| *target != name)
            .map(|target| format!("resource:{ns}/{target}"))
            .collect();
        depends_on.sort();
        depends_on.dedup();
        let title = resource
            .address
            .clone()
            .unwrap_or_else(|| match &resource.namespace {
                Some(namespace) => format!("{} {namespace}/{}", resource.kind, resource.name),
                None => format!("{} {}", resource.kind, resource.name),
            });
        let mut spec = json!({
            "type": resource_type,
            "owner": options.owner,
            "system": system_name(&environment_of(resource)),
        });
        if !depends_on.is_empty() {
            spec["dependsOn"] = json!(depends_on);
        }
        emit(json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Resource",
            "metadata": {
                "name": name,
                "namespace": ns,
                "title": title,
                "annotations": annotations,
            },
            "spec": spec,
        }));
    }
}

/// Multi-document `catalog-info.yaml`.
pub fn to_yaml(entities: &[Value]) -> String {
    let mut out = String::new();
    for entity in entities {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(entity).expect("entity serializes"));
    }
    out
}
