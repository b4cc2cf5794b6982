//! GitHub Actions workflow commands (`::error file=…,line=…::`) and a step-summary in Markdown.

use super::super::{ScanReport, Severity};

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// One workflow command per finding, for stdout.
pub fn annotations(report: &ScanReport) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Note => "notice",
            };
            let name = super::super::rules::info(&f.rule_id).map_or("", |r| r.name);
            format!(
                "::{command} file={},line={},title={}::{}",
                escape_property(&f.location.file),
                f.location.line.max(1),
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
        out.push_str(
            "| Severity | Rule | Location | Resource | Message |\n|---|---|---|---|---|\n",
        );
        for f in &report.findings {
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
