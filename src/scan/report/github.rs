//! GitHub Actions workflow commands (`::error file=…,line=…::`) and a step-summary in Markdown.

use std::collections::BTreeMap;

use super::super::{Finding, ScanReport, Severity};

/// Rows of the step summary's findings table; the per-rule table above it counts them all.
/// GitHub refuses step summaries over 1 MiB.
const SUMMARY_ROWS: usize = 1000;

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Findings, most severe first (GitHub shows only 10 annotations of each level per step),
/// in file and line order within a severity.
fn by_severity(report: &ScanReport) -> Vec<&Finding> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity));
    findings
}

/// One workflow command per finding, for stdout, most severe first.
pub fn annotations(report: &ScanReport) -> Vec<String> {
    by_severity(report)
        .into_iter()
        .map(|f| {
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
        })
        .collect()
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Markdown for `$GITHUB_STEP_SUMMARY`.
pub fn step_summary(report: &ScanReport) -> String {
    let counts = report.counts();
    let mut out = String::from("## plat scan\n\n");
    out.push_str(&format!(
        "**{}** resources · **{}** errors · **{}** warnings · **{}** notes",
        report.resources.len(),
        counts.error,
        counts.warning,
        counts.note
    ));
    if report.partial {
        out.push_str(" · ⚠️ partial");
    }
    out.push_str("\n\n");
    if report.findings.is_empty() {
        out.push_str("No findings.\n");
    } else {
        let mut by_rule: BTreeMap<(std::cmp::Reverse<Severity>, &str), usize> = BTreeMap::new();
        for f in &report.findings {
            *by_rule
                .entry((std::cmp::Reverse(f.severity), f.rule_id.as_str()))
                .or_default() += 1;
        }
        out.push_str("| Severity | Rule | Name | Findings |\n|---|---|---|---:|\n");
        for ((severity, rule), count) in &by_rule {
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
        let findings = by_severity(report);
        for f in findings.iter().take(SUMMARY_ROWS) {
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
        if findings.len() > SUMMARY_ROWS {
            out.push_str(&format!(
                "\n… and {} more: see the job log or the SARIF report.\n",
                findings.len() - SUMMARY_ROWS
            ));
        }
    }
    for note in &report.notes {
        out.push_str(&format!("\n> {}\n", cell(note)));
    }
    if !report.skipped.is_empty() {
        out.push_str(&format!(
            "\n<details><summary>{} skipped files</summary>\n\n",
            report.skipped.len()
        ));
        for s in &report.skipped {
            out.push_str(&format!("- `{}`: {}\n", cell(&s.file), cell(&s.reason)));
        }
        out.push_str("\n</details>\n");
    }
    out
}
