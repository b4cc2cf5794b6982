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
/// about 40 bytes per resource (hashes and indexes) instead of the resources.
///
/// Names and relations need the whole inventory: a name must be unique, a relation names its
/// target's entity (the one from the same file when there are several), and a Service's
/// selector relates it to workloads anywhere in its namespace. So the first pass ([`add`])
/// names each resource as it comes, writes it to a spill file and its name to a fixed slot of
/// a names file, and keeps hashes of its id and pod-template labels; the second ([`finish`])
/// sorts those, reads the spill back and resolves relations through them and the names file.
/// Hashes are 64-bit: a collision between two of a scan's ids is not a practical concern.
///
/// [`add`]: CatalogSpill::add
/// [`finish`]: CatalogSpill::finish
pub(crate) struct CatalogSpill {
    options: BackstageOptions,
    records: BufWriter<File>,
    names: BufWriter<File>,
    /// Hashes of the names given so far: a name that is taken (the same object again in the
    /// same file, or a hash collision) takes the next occurrence number.
    used: HashSet<u64>,
    /// Where the next occurrence number of a repeated id (in one file) starts, so that many
    /// copies of one object cost one try each; only ids seen twice are here.
    repeats: HashMap<u64, usize>,
    /// By resource index: the hash of its id, and the number of its file.
    ids: Vec<u64>,
    files: Vec<u32>,
    file_numbers: HashMap<String, u32>,
    /// (hash of a Terraform address without its instance key, index): `depends_on` names those.
    aliases: Vec<(u64, u32)>,
    /// (hash of namespace, pod-template label and value, index) of workloads.
    pod_labels: Vec<(u64, u32)>,
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

fn label_key(namespace: Option<&str>, key: &str, value: &str) -> u64 {
    hash_of((namespace, key, value))
}

/// The entries of a sorted `(key, index)` list recorded under `key`, lowest index first.
fn entries_of(list: &[(u64, u32)], key: u64) -> impl Iterator<Item = u32> + '_ {
    let from = list.partition_point(|(k, _)| *k < key);
    list[from..]
        .iter()
        .take_while(move |(k, _)| *k == key)
        .map(|(_, index)| *index)
}

impl CatalogSpill {
    pub(crate) fn new(options: BackstageOptions) -> std::io::Result<Self> {
        Ok(Self {
            options,
            records: BufWriter::new(tempfile::tempfile()?),
            names: BufWriter::new(tempfile::tempfile()?),
            used: HashSet::new(),
            repeats: HashMap::new(),
            ids: Vec::new(),
            files: Vec::new(),
            file_numbers: HashMap::new(),
            aliases: Vec::new(),
            pod_labels: Vec::new(),
            systems: BTreeMap::new(),
        })
    }

    pub(crate) fn set_options(&mut self, options: BackstageOptions) {
        self.options = options;
    }

    /// Names `resource` and spills it. Its entity is written in the order resources are added.
    pub(crate) fn add(&mut self, mut resource: Resource) -> std::io::Result<()> {
        let index = u32::try_from(self.ids.len())
            .map_err(|_| std::io::Error::other("more than 4 billion resources"))?;
        let file = resource.location.file.as_str();
        let next_file = u32::try_from(self.file_numbers.len()).unwrap_or(u32::MAX);
        let file_number = *self
            .file_numbers
            .entry(file.to_owned())
            .or_insert(next_file);
        let id = hash_of(&resource.id);
        let repeat_key = hash_of((id, file_number));
        let mut occurrence = self.repeats.get(&repeat_key).copied().unwrap_or(0);
        let mut name = entity_name(&resource, occurrence);
        while !self.used.insert(hash_of(&name)) {
            occurrence += 1;
            name = entity_name(&resource, occurrence);
        }
        if occurrence > 0 {
            self.repeats.insert(repeat_key, occurrence + 1);
        }
        self.ids.push(id);
        self.files.push(file_number);
        if let Some(address) = &resource.address
            && strip_index(address) != address
        {
            self.aliases.push((hash_of(strip_index(address)), index));
        }
        // Bare Pods owned by a workload are related through their owner instead.
        if (resource.kind != "Pod" || resource.relations.is_empty())
            && let Some(labels) = &resource.pod_labels
        {
            let namespace = resource.namespace.as_deref();
            for (key, value) in labels {
                self.pod_labels
                    .push((label_key(namespace, key, value), index));
            }
        }
        let environment = environment_of(&self.options, &resource);
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
        self.records.write_all(b"\n")
    }

    /// Hands over the entities one by one: a System per environment, then a Resource per
    /// resource in the order they were added.
    pub(crate) fn finish(
        mut self,
        mut emit: impl FnMut(Value) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        // The naming state is done with: free it before the index is sorted.
        drop(std::mem::take(&mut self.used));
        drop(std::mem::take(&mut self.repeats));
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
        self.aliases.sort_unstable();
        self.pod_labels.sort_unstable();
        let mut by_id: Vec<u32> = (0..self.ids.len() as u32).collect();
        by_id.sort_unstable_by_key(|&index| (self.ids[index as usize], index));
        let lookup = Lookup {
            ids: &self.ids,
            files: &self.files,
            by_id: &by_id,
            aliases: &self.aliases,
            pod_labels: &self.pod_labels,
        };
        let mut names = self.names.into_inner().map_err(|e| e.into_error())?;
        let mut records = self.records.into_inner().map_err(|e| e.into_error())?;
        records.rewind()?;
        let mut reader = BufReader::new(records);
        let mut line = String::new();
        while {
            line.clear();
            reader.read_line(&mut line)? > 0
        } {
            let spilled: Spilled = serde_json::from_str(&line).map_err(std::io::Error::other)?;
            let file = self
                .file_numbers
                .get(&spilled.resource.location.file)
                .copied()
                .unwrap_or(u32::MAX);
            let mut depends_on = Vec::new();
            for target in lookup.targets(&spilled, file) {
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
    ids: &'a [u64],
    files: &'a [u32],
    /// Resource indexes sorted by id hash, then index.
    by_id: &'a [u32],
    aliases: &'a [(u64, u32)],
    pod_labels: &'a [(u64, u32)],
}

impl Lookup<'_> {
    /// The entity of `id` from `file`, else the first of `id` anywhere; then the same among
    /// Terraform addresses without their instance key.
    fn entity(&self, id: u64, file: u32) -> Option<u32> {
        let from = self.by_id.partition_point(|&i| self.ids[i as usize] < id);
        let of_id = self.by_id[from..]
            .iter()
            .copied()
            .take_while(|&i| self.ids[i as usize] == id);
        self.prefer_file(of_id, file)
            .or_else(|| self.prefer_file(entries_of(self.aliases, id), file))
    }

    fn prefer_file(&self, candidates: impl Iterator<Item = u32>, file: u32) -> Option<u32> {
        let mut first = None;
        for candidate in candidates {
            if self.files[candidate as usize] == file {
                return Some(candidate);
            }
            first.get_or_insert(candidate);
        }
        first
    }

    /// The indexes of the entities `spilled` depends on: its relations' targets, and the
    /// workloads its selector matches.
    fn targets(&self, spilled: &Spilled, file: u32) -> Vec<u32> {
        let resource = &spilled.resource;
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
                let mut matched: Vec<u64> = entries_of(self.pod_labels, first)
                    .filter(|&candidate| {
                        rest.iter()
                            .all(|key| self.pod_labels.binary_search(&(*key, candidate)).is_ok())
                    })
                    .map(|candidate| self.ids[candidate as usize])
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
