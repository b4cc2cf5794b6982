//! `--format json|yaml` written while the scan runs: the same document as [`super::json`],
//! key for key, in memory that does not grow with the report.
//!
//! The document opens with `partial` and `summary`, which are known only at the end, and
//! Services relate to workloads that may come later. So each resource and finding is rendered
//! as it comes into a spill file (a temporary file, unlinked at once), Services wait there in a
//! form that can be read back, and [`DocumentSpill::finish`] writes the head, replays the spills
//! and writes the tail. Memory holds only the distinct Service selectors and their targets, the
//! skipped files, input problems and notes.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};

use serde::{Deserialize, Serialize};

use super::super::{InputProblem, Relation, RelationKind, Resource, Skipped};
use super::json::{SCHEMA_VERSION, Summary};
use crate::scan::Finding;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentFormat {
    Json,
    Yaml,
}

/// A resource in the spill: rendered, or a Service waiting for its `selects` relations.
const RENDERED: u8 = 0;
const SERVICE: u8 = 1;

/// A Service as spilled: the resource and its selector (not part of the published inventory,
/// so not serialized with the resource).
#[derive(Serialize, Deserialize)]
struct SpilledService {
    resource: Resource,
    selector: BTreeMap<String, String>,
}

/// A workload's pod-template labels, spilled to be matched once every selector is known.
#[derive(Serialize, Deserialize)]
struct SpilledWorkload {
    namespace: Option<String>,
    id: String,
    labels: BTreeMap<String, String>,
}

type SelectorKey = (Option<String>, BTreeMap<String, String>);

/// Array items of one document section, rendered as they come.
struct Section {
    file: BufWriter<File>,
    items: usize,
}

impl Section {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            file: BufWriter::new(tempfile::tempfile()?),
            items: 0,
        })
    }

    fn reader(self) -> std::io::Result<BufReader<File>> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok(BufReader::new(file))
    }
}

pub(crate) struct DocumentSpill {
    format: DocumentFormat,
    resources: Section,
    findings: Section,
    workloads: BufWriter<File>,
    /// Distinct (namespace, selector) of the Services seen, with the workloads they select.
    selectors: HashMap<SelectorKey, Vec<String>>,
    /// Selectors by (namespace, first label, value): a workload looks up each of its labels.
    by_first_label: HashMap<(Option<String>, String, String), Vec<SelectorKey>>,
    /// Reused rendering buffers.
    scratch: Vec<u8>,
    rendered: Vec<u8>,
}

/// What only the end of the scan knows.
pub(crate) struct DocumentEnd<'a> {
    pub(crate) partial: bool,
    pub(crate) summary: Summary,
    pub(crate) skipped: &'a [Skipped],
    pub(crate) problems: &'a [InputProblem],
    pub(crate) notes: &'a [String],
}

#[derive(Serialize)]
struct Head<'a> {
    schema_version: u32,
    partial: bool,
    summary: &'a Summary,
}

#[derive(Serialize)]
struct Tail<'a> {
    skipped: &'a [Skipped],
    problems: &'a [InputProblem],
    notes: &'a [String],
}

fn to_io(error: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(error)
}

/// Renders one array item as it appears inside the document, into `out`: JSON pretty-printed at
/// the depth of a top-level array's items, or a one-item YAML sequence (a top-level sequence is
/// not indented under its key). `scratch` is a reused buffer.
fn render(
    format: DocumentFormat,
    item: &impl Serialize,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    out.clear();
    match format {
        DocumentFormat::Json => {
            scratch.clear();
            serde_json::to_writer_pretty(&mut *scratch, item)?;
            // A JSON string never holds a raw line break, so every one is the printer's.
            out.extend_from_slice(b"    ");
            for (i, line) in scratch.split(|&b| b == b'\n').enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"\n    ");
                }
                out.extend_from_slice(line);
            }
        }
        DocumentFormat::Yaml => serde_yaml_ng::to_writer(&mut *out, &[item]).map_err(to_io)?,
    }
    Ok(())
}

impl DocumentSpill {
    pub(crate) fn new(format: DocumentFormat) -> std::io::Result<Self> {
        Ok(Self {
            format,
            resources: Section::new()?,
            findings: Section::new()?,
            workloads: BufWriter::new(tempfile::tempfile()?),
            selectors: HashMap::new(),
            by_first_label: HashMap::new(),
            scratch: Vec::new(),
            rendered: Vec::new(),
        })
    }

    pub(crate) fn finding(&mut self, finding: &Finding) -> std::io::Result<()> {
        render(self.format, finding, &mut self.scratch, &mut self.rendered)?;
        let section = &mut self.findings;
        if section.items > 0 && self.format == DocumentFormat::Json {
            section.file.write_all(b",\n")?;
        }
        section.file.write_all(&self.rendered)?;
        section.items += 1;
        Ok(())
    }

    pub(crate) fn resource(&mut self, mut resource: Resource) -> std::io::Result<()> {
        // Bare Pods owned by a workload are matched through their owner instead.
        let owned_pod = resource.kind == "Pod" && !resource.relations.is_empty();
        if let Some(labels) = resource.pod_labels.take()
            && !owned_pod
            && !labels.is_empty()
        {
            let workload = SpilledWorkload {
                namespace: resource.namespace.clone(),
                id: resource.id.clone(),
                labels,
            };
            serde_json::to_writer(&mut self.workloads, &workload)?;
            self.workloads.write_all(b"\n")?;
        }
        let tag = match resource.selector.take() {
            None => {
                render(
                    self.format,
                    &resource,
                    &mut self.scratch,
                    &mut self.rendered,
                )?;
                RENDERED
            }
            Some(selector) => {
                if let Some((k, v)) = selector.iter().next() {
                    let key = (resource.namespace.clone(), selector.clone());
                    if !self.selectors.contains_key(&key) {
                        self.by_first_label
                            .entry((resource.namespace.clone(), k.clone(), v.clone()))
                            .or_default()
                            .push(key.clone());
                        self.selectors.insert(key, Vec::new());
                    }
                }
                self.rendered.clear();
                serde_json::to_writer(&mut self.rendered, &SpilledService { resource, selector })?;
                SERVICE
            }
        };
        let file = &mut self.resources.file;
        file.write_all(&[tag])?;
        file.write_all(&(self.rendered.len() as u64).to_le_bytes())?;
        file.write_all(&self.rendered)?;
        self.resources.items += 1;
        Ok(())
    }

    /// Matches every spilled workload against the selectors: linear in the workloads' labels.
    fn link(&mut self) -> std::io::Result<()> {
        let workloads =
            std::mem::replace(&mut self.workloads, BufWriter::new(tempfile::tempfile()?));
        let mut file = workloads.into_inner().map_err(|e| e.into_error())?;
        if self.selectors.is_empty() {
            return Ok(());
        }
        file.rewind()?;
        for line in BufReader::new(file).lines() {
            let workload: SpilledWorkload = serde_json::from_str(&line?)?;
            for (k, v) in &workload.labels {
                let Some(keys) =
                    self.by_first_label
                        .get(&(workload.namespace.clone(), k.clone(), v.clone()))
                else {
                    continue;
                };
                for key in keys {
                    if key
                        .1
                        .iter()
                        .all(|(sk, sv)| workload.labels.get(sk) == Some(sv))
                        && let Some(targets) = self.selectors.get_mut(key)
                    {
                        targets.push(workload.id.clone());
                    }
                }
            }
        }
        for targets in self.selectors.values_mut() {
            targets.sort();
            targets.dedup();
        }
        Ok(())
    }

    /// Writes the whole document to `out`.
    pub(crate) fn finish(
        mut self,
        out: &mut impl Write,
        end: &DocumentEnd<'_>,
    ) -> std::io::Result<()> {
        self.link()?;
        let head = Head {
            schema_version: SCHEMA_VERSION,
            partial: end.partial,
            summary: &end.summary,
        };
        let tail = Tail {
            skipped: end.skipped,
            problems: end.problems,
            notes: end.notes,
        };
        match self.format {
            DocumentFormat::Json => {
                let head = serde_json::to_vec_pretty(&head)?;
                out.write_all(head.strip_suffix(b"\n}").unwrap_or(&head))?;
                out.write_all(b",\n  \"resources\": ")?;
            }
            DocumentFormat::Yaml => {
                serde_yaml_ng::to_writer(&mut *out, &head).map_err(to_io)?;
                out.write_all(b"resources:")?;
            }
        }
        self.replay_resources(out)?;
        match self.format {
            DocumentFormat::Json => out.write_all(b",\n  \"findings\": ")?,
            DocumentFormat::Yaml => out.write_all(b"findings:")?,
        }
        let findings = std::mem::replace(&mut self.findings, Section::new()?);
        let items = findings.items;
        self.open_array(out, items)?;
        std::io::copy(&mut findings.reader()?, out)?;
        self.close_array(out, items)?;
        match self.format {
            DocumentFormat::Json => {
                let tail = serde_json::to_vec_pretty(&tail)?;
                out.write_all(b",")?;
                out.write_all(tail.strip_prefix(b"{").unwrap_or(&tail))?;
                out.write_all(b"\n")?;
            }
            DocumentFormat::Yaml => serde_yaml_ng::to_writer(&mut *out, &tail).map_err(to_io)?,
        }
        out.flush()
    }

    fn open_array(&self, out: &mut impl Write, items: usize) -> std::io::Result<()> {
        match (self.format, items) {
            (DocumentFormat::Json, 0) => out.write_all(b"[]"),
            (DocumentFormat::Json, _) => out.write_all(b"[\n"),
            (DocumentFormat::Yaml, 0) => out.write_all(b" []\n"),
            (DocumentFormat::Yaml, _) => out.write_all(b"\n"),
        }
    }

    fn close_array(&self, out: &mut impl Write, items: usize) -> std::io::Result<()> {
        match (self.format, items) {
            (DocumentFormat::Json, 1..) => out.write_all(b"\n  ]"),
            _ => Ok(()),
        }
    }

    fn replay_resources(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let resources = std::mem::replace(&mut self.resources, Section::new()?);
        let items = resources.items;
        self.open_array(out, items)?;
        let mut reader = resources.reader()?;
        let mut record = Vec::new();
        for i in 0..items {
            let mut head = [0u8; 9];
            reader.read_exact(&mut head)?;
            let mut len = [0u8; 8];
            len.copy_from_slice(&head[1..]);
            record.resize(u64::from_le_bytes(len) as usize, 0);
            reader.read_exact(&mut record)?;
            if i > 0 && self.format == DocumentFormat::Json {
                out.write_all(b",\n")?;
            }
            if head[0] == RENDERED {
                out.write_all(&record)?;
                continue;
            }
            let SpilledService {
                mut resource,
                selector,
            } = serde_json::from_slice(&record)?;
            let key = (resource.namespace.clone(), selector);
            for target in self.selectors.get(&key).into_iter().flatten() {
                let relation = Relation {
                    kind: RelationKind::Selects,
                    target: target.clone(),
                };
                if !resource.relations.contains(&relation) {
                    resource.relations.push(relation);
                }
            }
            render(
                self.format,
                &resource,
                &mut self.scratch,
                &mut self.rendered,
            )?;
            out.write_all(&self.rendered)?;
        }
        self.close_array(out, items)
    }
}
