//! Table rows for the terminal: findings grouped by file, inventory, rule catalogue.

use std::collections::BTreeMap;

use super::super::{ScanReport, SeverityCounts, catalogue};

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
    let mut rule_rows: Vec<(usize, Vec<String>)> = by_rule
        .into_iter()
        .map(|(rule, (count, severity))| {
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
    let summary = summary_line(
        report.resources.len(),
        report.counts(),
        report.skipped.len(),
        report.problems.len(),
        report.partial,
    );
    FindingsView {
        groups,
        by_rule: Table {
            title: "Findings by rule".into(),
            headers: headers(&["RULE", "NAME", "SEVERITY", "COUNT"]),
            rows: rule_rows.into_iter().map(|(_, row)| row).collect(),
        },
        summary,
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

pub fn inventory(report: &ScanReport) -> Table {
    Table {
        title: format!("Inventory ({} resources)", report.resources.len()),
        headers: headers(&[
            "KIND",
            "NAME",
            "NAMESPACE",
            "TENANT",
            "WORKSPACE",
            "LOCATION",
        ]),
        rows: report
            .resources
            .iter()
            .map(|r| {
                vec![
                    r.kind.clone(),
                    r.address.clone().unwrap_or_else(|| r.name.clone()),
                    r.namespace.clone().unwrap_or_default(),
                    r.attribution.tenant.clone().unwrap_or_default(),
                    r.attribution.workspace.clone().unwrap_or_default(),
                    format!("{}:{}", r.location.file, r.location.line),
                ]
            })
            .collect(),
    }
}

/// Problems and skipped files, for stderr.
pub fn notices(report: &ScanReport) -> Vec<String> {
    let mut lines: Vec<String> = report
        .problems
        .iter()
        .map(|p| format!("{}:{}: {}", p.location.file, p.location.line, p.message))
        .collect();
    lines.extend(
        report
            .skipped
            .iter()
            .map(|s| format!("skipped {}: {}", s.file, s.reason)),
    );
    lines.extend(report.notes.iter().cloned());
    lines
}

/// `plat scan rules`.
pub fn rules() -> Table {
    Table {
        title: "Rules".into(),
        headers: headers(&[
            "ID",
            "NAME",
            "SEVERITY",
            "TARGET",
            "DESCRIPTION",
            "HOW TO FIX",
        ]),
        rows: catalogue()
            .iter()
            .map(|r| {
                vec![
                    r.id.to_string(),
                    r.name.to_string(),
                    r.default_severity.as_str().to_string(),
                    format!("{:?}", r.target).to_lowercase(),
                    r.description.to_string(),
                    r.fix.to_string(),
                ]
            })
            .collect(),
    }
}
