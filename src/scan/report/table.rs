//! Table rows for the terminal: findings grouped by file, inventory, rule catalogue.

use std::collections::BTreeMap;

use super::super::{Finding, ScanReport, Severity, SeverityCounts, catalogue};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingsView {
    /// One table per file, titled `file (N findings)`.
    pub groups: Vec<Table>,
    /// Per-rule counts, most frequent first.
    pub by_rule: Table,
    /// e.g. `42 resources, 3 errors, 5 warnings, 0 notes, 2 files skipped (partial)`.
    pub summary: String,
}

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|h| h.to_string()).collect()
}

pub fn findings(report: &ScanReport) -> FindingsView {
    let mut by_file: BTreeMap<&str, Vec<Vec<String>>> = BTreeMap::new();
    let mut by_rule: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for f in &report.findings {
        by_file.entry(&f.location.file).or_default().push(vec![
            f.location.line.to_string(),
            f.severity.as_str().to_string(),
            f.rule_id.clone(),
            format!("{}/{}", f.kind, f.name),
            f.message.clone(),
        ]);
        by_rule
            .entry(&f.rule_id)
            .or_insert((0, f.severity.as_str()))
            .0 += 1;
    }
    let groups = by_file
        .into_iter()
        .map(|(file, rows)| Table {
            title: format!(
                "{file} ({} finding{})",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            ),
            headers: headers(&["LINE", "SEVERITY", "RULE", "RESOURCE", "MESSAGE"]),
            rows,
        })
        .collect();
    let summary = summary_line(
        report.resources.len(),
        report.counts(),
        report.skipped.len(),
        report.problems.len(),
        report.partial,
    );
    FindingsView {
        groups,
        by_rule: rule_table(by_rule.into_iter().map(|(rule, (n, s))| (rule, n, s))),
        summary,
    }
}

/// `Findings by rule`: (rule, count, severity), most frequent first.
fn rule_table<'a>(counts: impl Iterator<Item = (&'a str, usize, &'a str)>) -> Table {
    let mut rule_rows: Vec<(usize, Vec<String>)> = counts
        .map(|(rule, count, severity)| {
            let name = catalogue()
                .iter()
                .find(|r| r.id == rule)
                .map_or("", |r| r.name.as_ref());
            (
                count,
                vec![
                    rule.to_string(),
                    name.to_string(),
                    severity.to_string(),
                    count.to_string(),
                ],
            )
        })
        .collect();
    rule_rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1[0].cmp(&b.1[0])));
    Table {
        title: "Findings by rule".into(),
        headers: headers(&["RULE", "NAME", "SEVERITY", "COUNT"]),
        rows: rule_rows.into_iter().map(|(_, row)| row).collect(),
    }
}

/// Rows per table when one file has more findings. comfy-table sizes columns from all the rows
/// it holds; like kubectl, which prints a listing in chunks of 500 (`--chunk-size`) each sized
/// on its own, a big file becomes several tables, so output starts at once and memory stays
/// bounded by one chunk.
pub(crate) const CHUNK_ROWS: usize = 500;

fn finding_headers() -> Vec<String> {
    headers(&["LINE", "SEVERITY", "RULE", "RESOURCE", "MESSAGE"])
}

fn finding_row(f: &Finding) -> Vec<String> {
    vec![
        f.location.line.to_string(),
        f.severity.as_str().to_string(),
        f.rule_id.clone(),
        format!("{}/{}", f.kind, f.name),
        f.message.clone(),
    ]
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// The findings tables built while the scan runs: one per file in scan order (in chunks of
/// [`CHUNK_ROWS`]), then the per-rule counts.
#[derive(Debug, Default)]
pub(crate) struct TableStream {
    file: Option<String>,
    rows: Vec<Vec<String>>,
    /// Rows of the current file already given out in earlier chunks.
    given: usize,
    /// Count and first severity by rule.
    by_rule: BTreeMap<String, (usize, Severity)>,
}

impl TableStream {
    /// Takes one finding; gives back a table when one is complete.
    pub(crate) fn finding(&mut self, f: &Finding) -> Option<Table> {
        match self.by_rule.get_mut(&f.rule_id) {
            Some((count, _)) => *count += 1,
            None => {
                self.by_rule.insert(f.rule_id.clone(), (1, f.severity));
            }
        }
        let same_file = self.file.as_deref() == Some(f.location.file.as_str());
        let table = if !same_file {
            let table = self.end_file();
            self.file = Some(f.location.file.clone());
            table
        } else if self.rows.len() == CHUNK_ROWS {
            Some(self.chunk(false))
        } else {
            None
        };
        self.rows.push(finding_row(f));
        table
    }

    fn chunk(&mut self, last: bool) -> Table {
        let file = self.file.as_deref().unwrap_or_default();
        let rows = std::mem::take(&mut self.rows);
        let (first, end) = (self.given + 1, self.given + rows.len());
        let title = match (self.given, last) {
            (0, true) => format!("{file} ({} finding{})", rows.len(), plural(rows.len())),
            (_, true) => format!("{file} (findings {first}-{end} of {end})"),
            (_, false) => format!("{file} (findings {first}-{end}, continued below)"),
        };
        self.given = if last { 0 } else { end };
        Table {
            title,
            headers: finding_headers(),
            rows,
        }
    }

    fn end_file(&mut self) -> Option<Table> {
        (!self.rows.is_empty()).then(|| self.chunk(true))
    }

    /// The last file's table and the per-rule counts (no rows when nothing was found).
    pub(crate) fn finish(mut self) -> (Option<Table>, Table) {
        let last = self.end_file();
        let by_rule = rule_table(
            self.by_rule
                .iter()
                .map(|(rule, (count, severity))| (rule.as_str(), *count, severity.as_str())),
        );
        (last, by_rule)
    }
}

/// e.g. `42 resources, 3 errors, 5 warnings, 0 notes, 2 files skipped (partial)`.
pub fn summary_line(
    resources: usize,
    counts: SeverityCounts,
    skipped: usize,
    problems: usize,
    partial: bool,
) -> String {
    let mut summary = format!(
        "{resources} resources, {} errors, {} warnings, {} notes",
        counts.error, counts.warning, counts.note
    );
    if skipped > 0 {
        summary.push_str(&format!(", {skipped} files skipped"));
    }
    if problems > 0 {
        summary.push_str(&format!(", {problems} input problems"));
    }
    if partial {
        summary.push_str(" (partial)");
    }
    summary
}
