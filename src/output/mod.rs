//! The only writer to stdout and stderr. Data goes to stdout in the chosen format; status lines,
//! warnings, errors and progress go to stderr. A TTY may change decoration, never content.

pub mod github;
pub mod progress;
pub mod views;

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};

use anstyle::{AnsiColor, Style};
use comfy_table::{ContentArrangement, Table, presets};

/// Table width when neither `COLUMNS` nor the terminal gives a usable one.
const FALLBACK_WIDTH: u16 = 80;
use serde::Serialize;

pub use views::{Details, Row};

use crate::cli::OutputFormat;
use crate::config::Env;
use crate::error::Report;

/// Where [`Output`] writes: the process's own stream, or a buffer that an in-process caller
/// (a test, an embedding program) reads back.
#[derive(Debug, Clone)]
pub enum Sink {
    Stdout,
    Stderr,
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl Sink {
    pub fn buffer() -> Self {
        Self::Buffer(Arc::default())
    }

    /// What a buffer holds so far (empty for the process's streams).
    pub fn contents(&self) -> String {
        match self {
            Self::Buffer(buffer) => {
                String::from_utf8_lossy(&buffer.lock().unwrap_or_else(PoisonError::into_inner))
                    .into_owned()
            }
            Self::Stdout | Self::Stderr => String::new(),
        }
    }

    fn is_terminal(&self) -> bool {
        match self {
            Self::Stdout => std::io::stdout().is_terminal(),
            Self::Stderr => std::io::stderr().is_terminal(),
            Self::Buffer(_) => false,
        }
    }

    /// Writes `text` in one call, so that lines from two threads never interleave.
    fn write_text(&self, text: &str) {
        let mut sink = self.clone();
        // A closed pipe (`plat … | head`) is not an error worth reporting.
        let _ = sink.write_all(text.as_bytes()).and_then(|()| sink.flush());
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Stdout => std::io::stdout().lock().write(buf),
            Self::Stderr => std::io::stderr().lock().write(buf),
            Self::Buffer(buffer) => {
                buffer
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Stdout => std::io::stdout().lock().write_all(buf),
            Self::Stderr => std::io::stderr().lock().write_all(buf),
            Self::Buffer(_) => {
                self.write(buf)?;
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Stdout => std::io::stdout().flush(),
            Self::Stderr => std::io::stderr().flush(),
            Self::Buffer(_) => Ok(()),
        }
    }
}

/// The two streams of a command: data, and everything said to the person.
#[derive(Debug, Clone)]
pub struct Sinks {
    pub stdout: Sink,
    pub stderr: Sink,
}

impl Sinks {
    /// The process's stdout and stderr.
    pub fn process() -> Self {
        Self {
            stdout: Sink::Stdout,
            stderr: Sink::Stderr,
        }
    }

    /// Two buffers, read back with [`Sink::contents`].
    pub fn captured() -> Self {
        Self {
            stdout: Sink::buffer(),
            stderr: Sink::buffer(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    sinks: Sinks,
    pub format: OutputFormat,
    pub quiet: bool,
    pub verbose: u8,
    pub color: bool,
    pub stdout_tty: bool,
    pub progress: bool,
    pub width: Option<u16>,
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const STATUS: Style = AnsiColor::Green.on_default().bold();
pub(crate) const STATUS_STYLE: Style = STATUS;

impl Output {
    pub fn new(format: OutputFormat, quiet: bool, verbose: u8, env: &Env, sinks: Sinks) -> Self {
        let stdout_tty = sinks.stdout.is_terminal();
        let stderr_tty = sinks.stderr.is_terminal();
        let color = if env.get("NO_COLOR").is_some() {
            false
        } else {
            env.is_set("CLICOLOR_FORCE") || stderr_tty
        };
        Self {
            sinks,
            format,
            quiet,
            verbose,
            color,
            stdout_tty,
            progress: stderr_tty && !quiet && !env.is_set("PLAT_NO_PROGRESS"),
            width: env.get("COLUMNS").and_then(|c| c.parse().ok()),
        }
    }

    pub(crate) fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// Whether a person may be reading stderr (prompts and progress go there).
    pub fn stderr_is_terminal(&self) -> bool {
        self.sinks.stderr.is_terminal()
    }

    pub(crate) fn stdout_line(&self, text: &str) {
        self.sinks.stdout.write_text(&format!("{text}\n"));
    }

    pub(crate) fn stderr_line(&self, text: &str) {
        self.sinks.stderr.write_text(&format!("{text}\n"));
    }

    /// A status line on stderr ("Created account acme"), silenced by `--quiet`.
    pub fn status(&self, verb: &str, what: &str) {
        if !self.quiet {
            self.stderr_line(&format!("{} {what}", self.paint(STATUS, verb)));
        }
    }

    pub fn warn(&self, message: &str) {
        self.stderr_line(&format!("{} {message}", self.paint(WARNING, "warning:")));
    }

    pub fn info(&self, message: &str) {
        if !self.quiet {
            self.stderr_line(message);
        }
    }

    pub fn debug(&self, message: &str) {
        if self.verbose > 0 {
            self.stderr_line(&format!("debug: {message}"));
        }
    }

    /// Raw data for stdout (a token, a completion script).
    /// Buffered stdout for a report written while it is produced (`plat scan --format sarif`).
    pub fn stdout_stream(&self) -> std::io::BufWriter<Sink> {
        std::io::BufWriter::with_capacity(64 * 1024, self.sinks.stdout.clone())
    }

    pub fn raw(&self, text: &str) {
        self.sinks.stdout.write_text(text);
    }

    pub fn document<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        // Streamed into a buffered stdout: a 10,000-item list never exists as one big string.
        let mut stdout = self.stdout_stream();
        let written = match self.format {
            OutputFormat::Yaml => {
                serde_yaml_ng::to_writer(&mut stdout, value).map_err(anyhow::Error::from)
            }
            _ => serde_json::to_writer_pretty(&mut stdout, value)
                .map_err(anyhow::Error::from)
                .and_then(|()| Ok(stdout.write_all(b"\n")?)),
        };
        match written.and_then(|()| Ok(stdout.flush()?)) {
            Err(err) if is_broken_pipe(&err) => Ok(()),
            other => other,
        }
    }

    /// A list: one table row per item, or one JSON/YAML array.
    pub fn list<T: Serialize + Row>(&self, items: &[T]) -> anyhow::Result<()> {
        if self.format != OutputFormat::Table {
            return self.document(items);
        }
        if items.is_empty() {
            self.info("No results.");
            return Ok(());
        }
        let mut table = self.table();
        table.set_header(T::HEADERS.iter().copied());
        for item in items {
            table.add_row(item.cells());
        }
        self.stdout_line(&trim_lines(&table.to_string()));
        Ok(())
    }

    /// A report holding a list: its rows as a table for people, the whole report as one
    /// JSON/YAML document for programs.
    pub fn report<D: Serialize, T: Row>(&self, report: &D, rows: &[T]) -> anyhow::Result<()> {
        if self.format != OutputFormat::Table {
            return self.document(report);
        }
        let mut table = self.table();
        table.set_header(T::HEADERS.iter().copied());
        for row in rows {
            table.add_row(row.cells());
        }
        self.stdout_line(&trim_lines(&table.to_string()));
        Ok(())
    }

    /// One object: field/value lines, or one JSON/YAML document.
    pub fn object<T: Serialize + Details>(&self, item: &T) -> anyhow::Result<()> {
        if self.format != OutputFormat::Table {
            return self.document(item);
        }
        let mut table = self.table();
        for (field, value) in item.details() {
            table.add_row(vec![format!("{field}:"), value]);
        }
        self.stdout_line(&trim_lines(&table.to_string()));
        Ok(())
    }

    pub(crate) fn table(&self) -> Table {
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        match self.width.filter(|width| *width > 0) {
            Some(width) => {
                table.set_width(width);
                table.set_content_arrangement(ContentArrangement::Dynamic);
            }
            None if self.stdout_tty => {
                table.set_content_arrangement(ContentArrangement::Dynamic);
                // A terminal that reports no width (`script`, some CI consoles) would get one
                // character per column; gh and kubectl assume 80 there, and so does plat.
                let detected = table.width().filter(|width| *width > 0);
                table.set_width(detected.unwrap_or(FALLBACK_WIDTH));
            }
            None if self.width == Some(0) => {
                table.set_width(FALLBACK_WIDTH);
                table.set_content_arrangement(ContentArrangement::Dynamic);
            }
            None => {
                table.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        table
    }

    /// `error:` / `caused by:` / `hint:` lines, plus the JSON error object with `-o json`.
    pub fn error(&self, report: &Report) {
        let mut lines = vec![format!(
            "{} {}",
            self.paint(ERROR, "error:"),
            report.message
        )];
        for cause in &report.causes {
            lines.push(format!("  caused by: {cause}"));
        }
        if let Some(hint) = &report.hint {
            lines.push(format!("{} {hint}", self.paint(HINT, "hint:")));
        }
        self.stderr_line(&lines.join("\n"));
        if self.format == OutputFormat::Json {
            let body = crate::api::ErrorBody {
                error: crate::api::ErrorDetail {
                    code: report.code.clone(),
                    message: report.message.clone(),
                    hint: report.hint.clone(),
                },
            };
            if let Ok(json) = serde_json::to_string(&body) {
                self.stderr_line(&json);
            }
        }
    }
}

/// comfy-table pads every cell, including the last; trailing blanks only make snapshots brittle.
fn trim_lines(text: &str) -> String {
    text.lines()
        .map(|line| line.trim_end().strip_prefix(' ').unwrap_or(line.trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `plat … | head` closes the pipe early; that is not the user's error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|json| json.io_error_kind())
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod width_tests {
    use super::*;

    fn output(columns: Option<&str>, stdout_tty: bool) -> Output {
        let mut vars = std::collections::BTreeMap::new();
        if let Some(columns) = columns {
            vars.insert("COLUMNS".to_owned(), columns.to_owned());
        }
        let env = crate::config::Env { vars };
        let mut out = Output::new(OutputFormat::Table, false, 0, &env, Sinks::captured());
        out.stdout_tty = stdout_tty;
        out
    }

    #[test]
    fn a_terminal_of_zero_width_gets_80_columns() {
        assert_eq!(output(Some("0"), false).table().width(), Some(80));
        assert_eq!(
            output(Some("0"), true).table().width().map(|w| w > 0),
            Some(true)
        );
        assert_eq!(output(Some("120"), false).table().width(), Some(120));
        // Piped output is not wrapped at all.
        assert_eq!(output(None, false).table().width(), None);
    }
}
