//! The report in the chosen format on stdout; notices and the summary on stderr in every format,
//! so that machine output stays pure data.

use anyhow::Result;

use crate::cli::ScanFormat;
use crate::ctx::Ctx;
use crate::output::github::GithubActions;
use crate::scan::report::stream::{StreamFormat, StreamOutcome};
use crate::scan::report::{backstage, github, json, sarif, table};
use crate::scan::{InputProblem, RuleInfo, ScanReport, Skipped};

pub fn report(
    ctx: &Ctx,
    report: &ScanReport,
    format: ScanFormat,
    env: Option<&str>,
    policy_rules: &[RuleInfo],
) -> Result<()> {
    match format {
        ScanFormat::Table => findings_tables(ctx, report),
        ScanFormat::Json => ctx.out.raw(&format!("{}\n", json::to_json(report))),
        ScanFormat::Yaml => ctx.out.raw(&json::to_yaml(report)),
        ScanFormat::Sarif => {
            let sarif = sarif::to_sarif(report, env!("CARGO_PKG_VERSION"), policy_rules);
            ctx.out
                .raw(&format!("{}\n", serde_json::to_string_pretty(&sarif)?));
        }
        ScanFormat::Backstage => ctx
            .out
            .raw(&entities_yaml(report, env, &ctx.label_domain()?)?),
        ScanFormat::Github => {
            for line in github::annotations(report) {
                ctx.out.raw(&format!("{line}\n"));
            }
        }
    }
    notices(ctx, report);
    if let Some(actions) = GithubActions::detect(&ctx.env) {
        actions.append_summary(&github::step_summary(report))?;
    }
    Ok(())
}

/// Multi-document `catalog-info.yaml` of the report (also what `--publish` writes).
pub fn entities_yaml(
    report: &ScanReport,
    env: Option<&str>,
    domain: &str,
) -> std::io::Result<String> {
    let entities = backstage::entities(report, &backstage_options(env, domain))?;
    Ok(backstage::to_yaml(&entities))
}

pub fn backstage_options(env: Option<&str>, domain: &str) -> backstage::BackstageOptions {
    backstage::BackstageOptions {
        environment: env.map(str::to_owned),
        domain: domain.to_owned(),
        ..Default::default()
    }
}

fn findings_tables(ctx: &Ctx, report: &ScanReport) {
    let view = table::findings(report);
    for group in &view.groups {
        ctx.out
            .titled_table(&group.title, &group.headers, &group.rows);
    }
    if !view.by_rule.rows.is_empty() {
        ctx.out.titled_table(
            &view.by_rule.title,
            &view.by_rule.headers,
            &view.by_rule.rows,
        );
    } else {
        ctx.out.info("No findings.");
    }
}

/// Malformed documents and partial scans are warnings (something went unchecked); skipped files
/// are expected (READMEs, Helm values) and only informative, unless flagged as a warning.
fn notices(ctx: &Ctx, report: &ScanReport) {
    let summary = table::findings(report).summary;
    print_notices(
        ctx,
        &report.problems,
        &report.notes,
        &report.skipped,
        &summary,
    );
}

fn print_notices(
    ctx: &Ctx,
    problems: &[InputProblem],
    notes: &[String],
    skipped: &[Skipped],
    summary: &str,
) {
    for problem in problems {
        ctx.out.warn(&format!(
            "{}:{}: {}",
            problem.location.file, problem.location.line, problem.message
        ));
    }
    for note in notes {
        ctx.out.warn(note);
    }
    for skipped in skipped {
        let line = format!("skipped {}: {}", skipped.file, skipped.reason);
        if skipped.warning {
            ctx.out.warn(&line);
        } else {
            ctx.out.info(&line);
        }
    }
    ctx.out.status("Scanned", summary);
}

/// After a streamed report: the same notices and step summary as [`report`] gives.
pub fn streamed(ctx: &Ctx, outcome: &StreamOutcome, format: StreamFormat) -> Result<()> {
    let data = &outcome.summary;
    let counts = data.counts;
    if format == StreamFormat::Table && counts.error + counts.warning + counts.note == 0 {
        ctx.out.info("No findings.");
    }
    let summary = table::summary_line(
        data.resources,
        data.counts,
        data.skipped.len(),
        outcome.problems.len(),
        data.partial,
    );
    print_notices(ctx, &outcome.problems, &data.notes, &data.skipped, &summary);
    if let Some(actions) = GithubActions::detect(&ctx.env) {
        actions.append_summary(&github::summary_markdown(data))?;
    }
    Ok(())
}
