//! Backstage catalog entities: a System per environment and a Resource per scanned resource.
//!
//! Entity names are a slug plus a short hash of the resource id, so they stay within 63
//! characters and unique even when two resources share a type or a name.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::super::{Origin, Resource, ScanReport};

/// The only label an entity reads; the catalog's spill keeps no other.
pub(crate) const KUBERNETES_ID_LABEL: &str = "backstage.io/kubernetes-id";

/// Drops what no entity reads (other labels, annotations), so that the spill stays small.
fn keep_only_what_entities_read(resource: &mut Resource) {
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

/// The catalog of a collected report (what `scan show` and `--publish` write).
pub fn entities(report: &ScanReport, options: &BackstageOptions) -> std::io::Result<Vec<Value>> {
    let mut catalog = CatalogSpill::new(options.clone())?;
    for resource in &report.resources {
        catalog.add(resource.clone())?;
    }
    let mut out = Vec::new();
    catalog.finish(|entity| {
        out.push(entity);
        Ok(())
    })?;
    Ok(out)
}

/// The longest entity name plus one: each name has a fixed slot in the names file.
const NAME_SLOT: usize = MAX_NAME + 1;

/// A catalog built in two passes over temporary files, so that `--format backstage` holds
/// about 60 bytes per resource (hashes and indexes) instead of the resources.
///
/// Names and relations need the whole inventory: a name must be unique, a relation names its
/// target's entity (the one from the same file when there are several), and a Service's
/// selector relates it to workloads anywhere in its namespace. So the first pass ([`add`])
/// names each resource as it comes, writes it to a spill file and its name to a slot of a
/// names file, and indexes hashes of ids and pod-template labels; the second ([`finish`])
/// reads the spill back and resolves relations through the index and the names file.
/// Hashes are 64-bit: a collision between two of a scan's ids is not a practical concern.
///
/// [`add`]: CatalogSpill::add
/// [`finish`]: CatalogSpill::finish
pub(crate) struct CatalogSpill {
    options: BackstageOptions,
    records: BufWriter<File>,
    names: BufWriter<File>,
    count: u32,
    /// Hashes of the names given so far, to settle a (rare) collision of two names.
    used: HashSet<u64>,
    /// Repeats of one id in the file being read: files come one after another.
    file: String,
    occurrences: HashMap<String, usize>,
    /// (id hash, index) and (id-in-file hash, index), sorted by `finish`: the first entity of
    /// an id, and the first in a given file.
    by_id: Vec<(u64, u32)>,
    by_id_in_file: Vec<(u64, u32)>,
    /// (hash of namespace, pod-template label and value, index) of workloads.
    pod_labels: Vec<(u64, u32)>,
    /// The id hash of each resource, by index: what a selector's match resolves through.
    ids: Vec<u64>,
    /// System name to environment.
    systems: BTreeMap<String, String>,
}

/// A resource as the spill file holds it: what its entity reads.
#[derive(Serialize, Deserialize)]
struct Spilled {
    resource: Resource,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    selector: Option<BTreeMap<String, String>>,
}

fn hash_of(value: impl Hash) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

fn in_file(id: u64, file: &str) -> u64 {
    hash_of((id, file))
}

fn label_key(namespace: Option<&str>, key: &str, value: &str) -> u64 {
    hash_of((namespace, key, value))
}

/// The first index recorded under `key` in a sorted index.
fn first_of(index: &[(u64, u32)], key: u64) -> Option<u32> {
    let at = index.partition_point(|(k, _)| *k < key);
    index.get(at).filter(|(k, _)| *k == key).map(|(_, i)| *i)
}

impl CatalogSpill {
    pub(crate) fn new(options: BackstageOptions) -> std::io::Result<Self> {
        Ok(Self {
            options,
            records: BufWriter::new(tempfile::tempfile()?),
            names: BufWriter::new(tempfile::tempfile()?),
            count: 0,
            used: HashSet::new(),
            file: String::new(),
            occurrences: HashMap::new(),
            by_id: Vec::new(),
            by_id_in_file: Vec::new(),
            pod_labels: Vec::new(),
            ids: Vec::new(),
            systems: BTreeMap::new(),
        })
    }

    pub(crate) fn set_options(&mut self, options: BackstageOptions) {
        self.options = options;
    }

    /// Names `resource` and spills it. Resources come file by file, in the order their
    /// entities are written.
    pub(crate) fn add(&mut self, mut resource: Resource) -> std::io::Result<()> {
        let index = self.count;
        let file = resource.location.file.as_str();
        if file != self.file {
            self.file = file.to_owned();
            self.occurrences.clear();
        }
        let occurrence = self.occurrences.entry(resource.id.clone()).or_default();
        let mut name = entity_name(&resource, *occurrence);
        // A hash collision is astronomically rare; the next occurrence number settles it.
        while !self.used.insert(hash_of(&name)) {
            *occurrence += 1;
            name = entity_name(&resource, *occurrence);
        }
        *occurrence += 1;
        let id = hash_of(&resource.id);
        self.ids.push(id);
        self.by_id.push((id, index));
        self.by_id_in_file.push((in_file(id, file), index));
        if let Some(address) = &resource.address
            && strip_index(address) != address
        {
            let stripped = hash_of(strip_index(address));
            self.by_id.push((stripped, index));
            self.by_id_in_file.push((in_file(stripped, file), index));
        }
        // Bare Pods owned by a workload are related through their owner instead.
        if !(resource.kind == "Pod" && !resource.relations.is_empty())
            && let Some(labels) = &resource.pod_labels
        {
            let namespace = resource.namespace.as_deref();
            for (key, value) in labels {
                self.pod_labels
                    .push((label_key(namespace, key, value), index));
            }
        }
        let environment = self.environment_of(&resource);
        self.systems
            .entry(system_name(&environment))
            .or_insert(environment);
        let mut slot = [0u8; NAME_SLOT];
        slot[..name.len()].copy_from_slice(name.as_bytes());
        self.names.write_all(&slot)?;
        let selector = resource.selector.take();
        keep_only_what_entities_read(&mut resource);
        serde_json::to_writer(
            &mut self.records,
            &Spilled {
                resource,
                name,
                selector,
            },
        )?;
        self.records.write_all(b"\n")?;
        self.count += 1;
        Ok(())
    }

    fn environment_of(&self, resource: &Resource) -> String {
        environment_of(&self.options, resource)
    }

    /// Hands over the entities one by one: a System per environment, then a Resource per
    /// resource in the order they were added.
    pub(crate) fn finish(
        mut self,
        mut emit: impl FnMut(Value) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.by_id.sort_unstable();
        self.by_id_in_file.sort_unstable();
        self.pod_labels.sort_unstable();
        let ns = self.options.namespace.clone();
        for (name, env) in &self.systems {
            emit(json!({
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "System",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "title": format!("Environment {env}"),
                    "annotations": {format!("{}/environment", self.options.domain): env},
                },
                "spec": {"owner": self.options.owner},
            }))?;
        }
        let mut names = self.names.into_inner().map_err(|e| e.into_error())?;
        let mut records = self.records.into_inner().map_err(|e| e.into_error())?;
        records.rewind()?;
        let lookup = Lookup {
            by_id: &self.by_id,
            by_id_in_file: &self.by_id_in_file,
            pod_labels: &self.pod_labels,
            ids: &self.ids,
        };
        let mut line = String::new();
        let mut reader = BufReader::new(records);
        while {
            line.clear();
            reader.read_line(&mut line)? > 0
        } {
            let spilled: Spilled = serde_json::from_str(&line).map_err(std::io::Error::other)?;
            let targets = lookup.targets(&spilled);
            let mut depends_on = Vec::with_capacity(targets.len());
            for target in targets {
                let target = read_name(&mut names, target)?;
                if target != spilled.name {
                    depends_on.push(format!("resource:{ns}/{target}"));
                }
            }
            depends_on.sort();
            depends_on.dedup();
            let system = system_name(&environment_of(&self.options, &spilled.resource));
            emit(resource_entity(&spilled, &self.options, system, depends_on))?;
        }
        Ok(())
    }
}

/// The environment a resource's System stands for: `--env`, else its workspace label.
fn environment_of(options: &BackstageOptions, resource: &Resource) -> String {
    options
        .environment
        .clone()
        .or_else(|| resource.attribution.workspace.clone())
        .unwrap_or_else(|| "unassigned".into())
}

/// The index `finish` resolves relations through.
struct Lookup<'a> {
    by_id: &'a [(u64, u32)],
    by_id_in_file: &'a [(u64, u32)],
    pod_labels: &'a [(u64, u32)],
    ids: &'a [u64],
}

impl Lookup<'_> {
    /// The entity of `id` from `file`, else the first of `id` anywhere.
    fn entity(&self, id: u64, file: &str) -> Option<u32> {
        first_of(self.by_id_in_file, in_file(id, file)).or_else(|| first_of(self.by_id, id))
    }

    /// The indexes of the entities `spilled` depends on: its relations' targets, and the
    /// workloads its selector matches.
    fn targets(&self, spilled: &Spilled) -> Vec<u32> {
        let resource = &spilled.resource;
        let file = resource.location.file.as_str();
        let mut targets: Vec<u32> = resource
            .relations
            .iter()
            .filter_map(|relation| {
                self.entity(hash_of(&relation.target), file)
                    .or_else(|| self.entity(hash_of(strip_index(&relation.target)), file))
            })
            .collect();
        if let Some(selector) = &spilled.selector {
            let namespace = resource.namespace.as_deref();
            let keys: Vec<u64> = selector
                .iter()
                .map(|(key, value)| label_key(namespace, key, value))
                .collect();
            if let Some((&first, rest)) = keys.split_first() {
                let from = self.pod_labels.partition_point(|(k, _)| *k < first);
                let mut matched: Vec<u64> = self.pod_labels[from..]
                    .iter()
                    .take_while(|(k, _)| *k == first)
                    .filter(|(_, candidate)| {
                        rest.iter()
                            .all(|key| self.pod_labels.binary_search(&(*key, *candidate)).is_ok())
                    })
                    .map(|(_, candidate)| self.ids[*candidate as usize])
                    .collect();
                matched.sort_unstable();
                matched.dedup();
                targets.extend(matched.into_iter().filter_map(|id| self.entity(id, file)));
            }
        }
        targets
    }
}

fn read_name(names: &mut File, index: u32) -> std::io::Result<String> {
    let mut slot = [0u8; NAME_SLOT];
    names.seek(SeekFrom::Start(u64::from(index) * NAME_SLOT as u64))?;
    names.read_exact(&mut slot)?;
    let end = slot.iter().position(|b| *b == 0).unwrap_or(NAME_SLOT);
    Ok(String::from_utf8_lossy(&slot[..end]).into_owned())
}

fn resource_entity(
    spilled: &Spilled,
    options: &BackstageOptions,
    system: String,
    depends_on: Vec<String>,
) -> Value {
    let resource = &spilled.resource;
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
        "system": system,
    });
    if !depends_on.is_empty() {
        spec["dependsOn"] = json!(depends_on);
    }
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Resource",
        "metadata": {
            "name": spilled.name,
            "namespace": options.namespace,
            "title": title,
            "annotations": annotations,
        },
        "spec": spec,
    })
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
