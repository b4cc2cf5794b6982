//! GitHub Actions workflow commands (`::error file=…,line=…::`) and a step-summary in Markdown.
//!
//! GitHub shows only 10 annotations of each level per step, so annotations come most severe
//! first, and the step summary counts every finding by rule.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::super::{Finding, ScanReport, Severity, SeverityCounts, Skipped};

/// Rows of the step summary's findings table; the per-rule table above it counts them all.
/// GitHub refuses step summaries over 1 MiB.
pub(crate) const SUMMARY_ROWS: usize = 1000;

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The workflow command for one finding.
pub(crate) fn annotation(f: &Finding) -> String {
    let command = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let name = super::super::rules::info(&f.rule_id).map_or("", |r| r.name.as_ref());
    let line = f.location.line.max(1);
    format!(
        "::{command} file={},line={line},endLine={line},title={}::{}",
        escape_property(&f.location.file),
        escape_property(&format!("{} {name}", f.rule_id)),
        escape_data(&f.message)
    )
}

/// Findings, most severe first, in file and line order within a severity.
fn by_severity(report: &ScanReport) -> Vec<&Finding> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by_key(|f| Reverse(f.severity));
    findings
}

/// One workflow command per finding, for stdout, most severe first.
pub fn annotations(report: &ScanReport) -> Vec<String> {
    by_severity(report).into_iter().map(annotation).collect()
}

/// What the step summary needs: counts of everything, and the first findings by severity.
#[derive(Debug, Default)]
pub struct SummaryData {
    pub resources: usize,
    pub counts: SeverityCounts,
    pub partial: bool,
    pub by_rule: BTreeMap<(Reverse<Severity>, String), usize>,
    /// Up to [`SUMMARY_ROWS`] findings, most severe first.
    pub first: Vec<Finding>,
    pub notes: Vec<String>,
    pub skipped: Vec<Skipped>,
}

impl SummaryData {
    pub fn of(report: &ScanReport) -> Self {
        let mut data = Self {
            resources: report.resources.len(),
            counts: report.counts(),
            partial: report.partial,
            notes: report.notes.clone(),
            skipped: report.skipped.clone(),
            ..Self::default()
        };
        for f in &report.findings {
            data.count(f);
        }
        data.first = by_severity(report)
            .into_iter()
            .take(SUMMARY_ROWS)
            .cloned()
            .collect();
        data
    }

    pub(crate) fn count(&mut self, f: &Finding) {
        // A scan has a few rules and millions of findings: look up before cloning the key.
        let found = self
            .by_rule
            .iter_mut()
            .find(|((severity, rule), _)| severity.0 == f.severity && *rule == f.rule_id);
        match found {
            Some((_, count)) => *count += 1,
            None => {
                self.by_rule
                    .insert((Reverse(f.severity), f.rule_id.clone()), 1);
            }
        }
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Markdown for `$GITHUB_STEP_SUMMARY`.
pub fn step_summary(report: &ScanReport) -> String {
    summary_markdown(&SummaryData::of(report))
}

pub fn summary_markdown(data: &SummaryData) -> String {
    let counts = data.counts;
    let mut out = String::from("## plat scan\n\n");
    out.push_str(&format!(
        "**{}** resources · **{}** errors · **{}** warnings · **{}** notes",
        data.resources, counts.error, counts.warning, counts.note
    ));
    if data.partial {
        out.push_str(" · ⚠️ partial");
    }
    out.push_str("\n\n");
    let total = counts.error + counts.warning + counts.note;
    if total == 0 {
        out.push_str("No findings.\n");
    } else {
        out.push_str("| Severity | Rule | Name | Findings |\n|---|---|---|---:|\n");
        for ((severity, rule), count) in &data.by_rule {
            let name = super::super::rules::info(rule).map_or("", |r| r.name.as_ref());
            out.push_str(&format!(
                "| {} | {rule} | {name} | {count} |\n",
                severity.0.as_str()
            ));
        }
        out.push('\n');
        out.push_str(
            "| Severity | Rule | Location | Resource | Message |\n|---|---|---|---|---|\n",
        );
        for f in &data.first {
            out.push_str(&format!(
                "| {} | {} | `{}:{}` | {} | {} |\n",
                f.severity.as_str(),
                f.rule_id,
                cell(&f.location.file),
                f.location.line,
                cell(&format!("{}/{}", f.kind, f.name)),
                cell(&f.message)
            ));
        }
        if total > data.first.len() {
            out.push_str(&format!(
                "\n… and {} more: see the job log or the SARIF report.\n",
                total - data.first.len()
            ));
        }
    }
    for note in &data.notes {
        out.push_str(&format!("\n> {}\n", cell(note)));
    }
    if !data.skipped.is_empty() {
        out.push_str(&format!(
            "\n<details><summary>{} skipped files</summary>\n\n",
            data.skipped.len()
        ));
        for s in &data.skipped {
            out.push_str(&format!("- `{}`: {}\n", cell(&s.file), cell(&s.reason)));
        }
        out.push_str("\n</details>\n");
    }
    out
}
