//! Reports written while the scan runs, so that memory stays flat at any input size: SARIF in
//! one pass (driver and rules first, each result as it is found, the invocation last), GitHub
//! annotations spilled by severity to temporary files and replayed most severe first. Only
//! counts, skipped files, input problems and the step summary's first rows are kept.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};

use super::super::{Finding, InputProblem, RuleInfo, ScanSink, Severity, Skipped};
use super::github::{self, SUMMARY_ROWS, SummaryData};
use super::sarif::{self, RuleTable};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    Sarif,
    Github,
}

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
    /// Starts the report (the spill files of annotations).
    pub fn start(
        out: W,
        format: StreamFormat,
        policy_rules: &'r [RuleInfo],
        tool_version: &str,
    ) -> std::io::Result<Self> {
        let mut spills = Vec::new();
        if format == StreamFormat::Github {
            for _ in 0..3 {
                spills.push(BufWriter::new(tempfile::tempfile()?));
            }
        }
        Ok(Self {
            out,
            format,
            rules: RuleTable::new(policy_rules),
            tool_version: tool_version.to_string(),
            header_written: false,
            spills,
            results_written: 0,
            first: Default::default(),
            outcome: StreamOutcome::default(),
            error: None,
        })
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
        }
        self.results_written += 1;
        Ok(())
    }

    /// Ends the report (the SARIF invocation, or the annotations in severity order).
    pub fn finish(mut self) -> std::io::Result<StreamOutcome> {
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
        }
        self.out.flush()?;
        let mut first: Vec<Finding> = self.first.into_iter().flatten().collect();
        first.truncate(SUMMARY_ROWS);
        self.outcome.summary.first = first;
        Ok(self.outcome)
    }
}

impl<W: Write> ScanSink for StreamingReport<'_, W> {
    fn resource(&mut self, _: super::super::Resource) {
        self.outcome.summary.resources += 1;
    }

    fn finding(&mut self, finding: Finding) {
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
