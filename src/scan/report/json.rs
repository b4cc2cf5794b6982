//! `--format json|yaml`: inventory plus findings in one documented document.

use serde::Serialize;

use super::super::{Finding, InputProblem, Resource, ScanReport, SeverityCounts, Skipped};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub resources: usize,
    pub findings: SeverityCounts,
    pub skipped: usize,
    pub problems: usize,
}

#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub schema_version: u32,
    pub partial: bool,
    pub summary: Summary,
    pub resources: &'a [Resource],
    pub findings: &'a [Finding],
    pub skipped: &'a [Skipped],
    pub problems: &'a [InputProblem],
    pub notes: &'a [String],
}

pub fn document(report: &ScanReport) -> Document<'_> {
    Document {
        schema_version: SCHEMA_VERSION,
        partial: report.partial,
        summary: Summary {
            resources: report.resources.len(),
            findings: report.counts(),
            skipped: report.skipped.len(),
            problems: report.problems.len(),
        },
        resources: &report.resources,
        findings: &report.findings,
        skipped: &report.skipped,
        problems: &report.problems,
        notes: &report.notes,
    }
}

pub fn to_json(report: &ScanReport) -> String {
    serde_json::to_string_pretty(&document(report)).expect("report serializes")
}

pub fn to_yaml(report: &ScanReport) -> String {
    serde_yaml_ng::to_string(&document(report)).expect("report serializes")
}
