//! Reports written while the scan runs, so that memory stays flat at any input size: SARIF in
//! one pass (driver and rules first, each result as it is found, the invocation last), GitHub
//! annotations spilled by severity to temporary files and replayed most severe first, the
//! JSON/YAML document through [`super::document`], tables file by file in bounded chunks. Only
//! counts, skipped files, input problems and the step summary's first rows are kept.
//!
//! Findings of one object (one resource in one file) are held until the next object starts, then
//! sorted and deduplicated as [`ScanReport::finish`](super::super::ScanReport::finish) does, so
//! streamed and collected reports agree object by object; objects come in scan order (files in
//! walk order), where a collected report sorts files by name.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};

use super::super::{Finding, InputProblem, Resource, RuleInfo, ScanSink, Severity, Skipped};
use super::backstage::{self, BackstageOptions};
use super::document::{DocumentEnd, DocumentFormat, DocumentSpill};
use super::github::{self, SUMMARY_ROWS, SummaryData};
use super::json::Summary;
use super::sarif::{self, RuleTable};
use super::table::{Table, TableStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    Sarif,
    Github,
    Json,
    Yaml,
    Table,
    /// Entity names and relations need the whole inventory: resources are spilled to a
    /// temporary file with a compact index ([`backstage::CatalogSpill`]), and the entities
    /// written one by one at the end.
    Backstage,
}

/// Prints one findings table (the caller owns the terminal's width and style).
pub type TablePrinter<'r> = Box<dyn FnMut(&Table) + Send + 'r>;

/// What is left once the report is written: for notices, the step summary and the exit code.
#[derive(Debug, Default)]
pub struct StreamOutcome {
    pub summary: SummaryData,
    pub problems: Vec<InputProblem>,
}

pub struct StreamingReport<'r, W: Write> {
    out: W,
    format: StreamFormat,
    rules: RuleTable<'r>,
    tool_version: String,
    /// The SARIF header goes out with the first result (or at the end), so that a scan that
    /// fails before finding anything (a missing path) leaves stdout empty.
    header_written: bool,
    /// GitHub annotations of each severity (error, warning, note), replayed in that order.
    spills: Vec<BufWriter<File>>,
    document: Option<DocumentSpill>,
    tables: TableStream,
    print_table: Option<TablePrinter<'r>>,
    /// `--format backstage`: the inventory's spill.
    catalog: Option<backstage::CatalogSpill>,
    /// Findings and resources of the object being scanned (see the module comment).
    object_findings: Vec<Finding>,
    object_resources: Vec<Resource>,
    results_written: usize,
    /// The first findings of each severity, for the step summary.
    first: [Vec<Finding>; 3],
    outcome: StreamOutcome,
    /// The first write error; later writes are skipped and `finish` returns it.
    error: Option<std::io::Error>,
}

fn slot(severity: Severity) -> usize {
    match severity {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Note => 2,
    }
}

impl<'r, W: Write> StreamingReport<'r, W> {
    /// Starts the report (the spill files of annotations and documents). `print_table` is
    /// required by [`StreamFormat::Table`] and unused otherwise.
    pub fn start(
        out: W,
        format: StreamFormat,
        policy_rules: &'r [RuleInfo],
        tool_version: &str,
        print_table: Option<TablePrinter<'r>>,
    ) -> std::io::Result<Self> {
        let mut spills = Vec::new();
        if format == StreamFormat::Github {
            for _ in 0..3 {
                spills.push(BufWriter::new(tempfile::tempfile()?));
            }
        }
        let document = match format {
            StreamFormat::Json => Some(DocumentSpill::new(DocumentFormat::Json)?),
            StreamFormat::Yaml => Some(DocumentSpill::new(DocumentFormat::Yaml)?),
            _ => None,
        };
        Ok(Self {
            out,
            format,
            rules: RuleTable::new(policy_rules),
            tool_version: tool_version.to_string(),
            header_written: false,
            spills,
            document,
            tables: TableStream::default(),
            print_table,
            catalog: if format == StreamFormat::Backstage {
                Some(backstage::CatalogSpill::new(BackstageOptions::default())?)
            } else {
                None
            },
            object_findings: Vec::new(),
            object_resources: Vec::new(),
            results_written: 0,
            first: Default::default(),
            outcome: StreamOutcome::default(),
            error: None,
        })
    }

    /// How `--format backstage` names its entities (the default otherwise).
    pub fn set_backstage_options(&mut self, options: BackstageOptions) {
        if let Some(catalog) = &mut self.catalog {
            catalog.set_options(options);
        }
    }

    fn sarif_header(&mut self) -> std::io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            write!(
                self.out,
                "{{\"$schema\":{},\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{},\"results\":[",
                serde_json::Value::from(sarif::SCHEMA),
                sarif::tool(&self.rules, &self.tool_version)
            )?;
        }
        Ok(())
    }

    fn write_finding(&mut self, f: &Finding) -> std::io::Result<()> {
        match self.format {
            StreamFormat::Sarif => {
                self.sarif_header()?;
                if self.results_written > 0 {
                    self.out.write_all(b",\n")?;
                } else {
                    self.out.write_all(b"\n")?;
                }
                serde_json::to_writer(&mut self.out, &sarif::result(&self.rules, f))?;
            }
            StreamFormat::Github => {
                writeln!(self.spills[slot(f.severity)], "{}", github::annotation(f))?;
            }
            StreamFormat::Json | StreamFormat::Yaml => {
                if let Some(document) = &mut self.document {
                    document.finding(f)?;
                }
            }
            StreamFormat::Table => {
                if let Some(table) = self.tables.finding(f) {
                    self.print(&table);
                }
            }
            StreamFormat::Backstage => {}
        }
        self.results_written += 1;
        Ok(())
    }

    fn print(&mut self, table: &Table) {
        if let Some(print) = &mut self.print_table {
            print(table);
        }
    }

    /// Reports the held object's findings: sorted and deduplicated as a collected report's.
    fn flush_findings(&mut self) {
        let mut findings = std::mem::take(&mut self.object_findings);
        findings.sort_by(|a, b| {
            (a.location.line, &a.rule_id, &a.fingerprint).cmp(&(
                b.location.line,
                &b.rule_id,
                &b.fingerprint,
            ))
        });
        findings.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        for finding in findings.drain(..) {
            self.report_finding(finding);
        }
        // Keep the allocation for the next object.
        self.object_findings = findings;
    }

    fn report_finding(&mut self, finding: Finding) {
        let summary = &mut self.outcome.summary;
        match finding.severity {
            Severity::Error => summary.counts.error += 1,
            Severity::Warning => summary.counts.warning += 1,
            Severity::Note => summary.counts.note += 1,
        }
        summary.count(&finding);
        if self.error.is_none()
            && let Err(error) = self.write_finding(&finding)
        {
            self.error = Some(error);
        }
        let bucket = &mut self.first[slot(finding.severity)];
        if bucket.len() < SUMMARY_ROWS {
            bucket.push(finding);
        }
    }

    fn flush_resources(&mut self) {
        let mut resources = std::mem::take(&mut self.object_resources);
        resources.sort_by(|a, b| a.id.cmp(&b.id));
        for resource in resources {
            if self.error.is_some() {
                return;
            }
            let written = match (&mut self.document, &mut self.catalog) {
                (Some(document), _) => document.resource(resource),
                (None, Some(catalog)) => catalog.add(resource),
                (None, None) => Ok(()),
            };
            if let Err(error) = written {
                self.error = Some(error);
            }
        }
    }

    /// Ends the report (the SARIF invocation, or the annotations in severity order).
    pub fn finish(mut self) -> std::io::Result<StreamOutcome> {
        self.flush_findings();
        self.flush_resources();
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        match self.format {
            StreamFormat::Sarif => {
                self.sarif_header()?;
                write!(
                    self.out,
                    "\n],\"invocations\":[{}],\"columnKind\":\"utf16CodeUnits\"}}]}}\n",
                    sarif::invocation(&self.outcome.problems, &self.outcome.summary.skipped)
                )?;
            }
            StreamFormat::Github => {
                for spill in std::mem::take(&mut self.spills) {
                    let mut file = spill.into_inner().map_err(|e| e.into_error())?;
                    file.rewind()?;
                    std::io::copy(&mut file, &mut self.out)?;
                }
            }
            StreamFormat::Json | StreamFormat::Yaml => {
                let summary = &self.outcome.summary;
                let end = DocumentEnd {
                    partial: summary.partial,
                    summary: Summary {
                        resources: summary.resources,
                        findings: summary.counts,
                        skipped: summary.skipped.len(),
                        problems: self.outcome.problems.len(),
                    },
                    skipped: &summary.skipped,
                    problems: &self.outcome.problems,
                    notes: &summary.notes,
                };
                if let Some(document) = self.document.take() {
                    document.finish(&mut self.out, &end)?;
                }
            }
            StreamFormat::Table => {
                let (last, by_rule) = std::mem::take(&mut self.tables).finish();
                if let Some(last) = last {
                    self.print(&last);
                }
                if !by_rule.rows.is_empty() {
                    self.print(&by_rule);
                }
            }
            StreamFormat::Backstage => {
                if let Some(catalog) = self.catalog.take() {
                    let out = &mut self.out;
                    catalog.finish(|entity| {
                        out.write_all(b"---\n")?;
                        serde_yaml_ng::to_writer(&mut *out, &entity).map_err(std::io::Error::other)
                    })?;
                }
            }
        }
        self.out.flush()?;
        let mut first: Vec<Finding> = self.first.into_iter().flatten().collect();
        first.truncate(SUMMARY_ROWS);
        self.outcome.summary.first = first;
        Ok(self.outcome)
    }
}

impl<W: Write> ScanSink for StreamingReport<'_, W> {
    fn resource(&mut self, resource: Resource) {
        self.outcome.summary.resources += 1;
        if self.document.is_none() && self.catalog.is_none() {
            return;
        }
        if let Some(held) = self.object_resources.first()
            && (held.location.line != resource.location.line
                || held.location.file != resource.location.file)
        {
            self.flush_resources();
        }
        self.object_resources.push(resource);
    }

    fn finding(&mut self, finding: Finding) {
        if let Some(held) = self.object_findings.first()
            && (held.resource != finding.resource || held.location.file != finding.location.file)
        {
            self.flush_findings();
        }
        self.object_findings.push(finding);
    }

    fn wants_inventory(&self) -> bool {
        self.document.is_some() || self.catalog.is_some()
    }

    fn skipped(&mut self, skipped: Skipped) {
        self.outcome.summary.skipped.push(skipped);
    }

    fn problem(&mut self, problem: InputProblem) {
        self.outcome.problems.push(problem);
    }

    fn partial(&mut self, reason: String) {
        let summary = &mut self.outcome.summary;
        summary.partial = true;
        if !summary.notes.contains(&reason) {
            summary.notes.push(reason);
        }
    }
}
