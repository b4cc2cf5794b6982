//! Kubernetes manifests: files, directories, multi-document YAML, JSON and kustomize dirs.
//!
//! Files are read line by line and parsed one document at a time, so memory stays bounded by
//! the largest document, not the largest file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use walkdir::WalkDir;

use super::rules::{self, DocSource};
use super::{InputProblem, Location, Origin, ScanConfig, ScanError, ScanSink, Skipped};

const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// How kustomize directories are rendered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KustomizeRenderer {
    /// `kustomize build DIR`, else `kubectl kustomize DIR`.
    #[default]
    Auto,
    /// A specific program; the directory is appended to `args`.
    Command { program: String, args: Vec<String> },
    /// Scan kustomize directories file by file (the result is marked partial).
    Disabled,
}

#[derive(Debug, Clone)]
pub struct ManifestOptions<'a> {
    pub config: &'a ScanConfig,
    /// Paths are reported relative to this directory (the repository root) when under it.
    pub root: Option<PathBuf>,
    pub kustomize: KustomizeRenderer,
    /// `--skip-unparsable`: a file that cannot be read or parsed is only warned about, not
    /// reported as a PLAT016 finding.
    pub skip_unparsable: bool,
}

impl<'a> ManifestOptions<'a> {
    pub fn new(config: &'a ScanConfig) -> Self {
        Self {
            config,
            root: None,
            kustomize: KustomizeRenderer::Auto,
            skip_unparsable: false,
        }
    }
}

/// The largest single YAML document or JSON value read: bounds memory on hostile or endless
/// input (`/dev/zero` on stdin) while leaving room for `kubectl get -A -o yaml` dumps.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// The deepest nesting accepted; real manifests stay under 20 levels. Checked before the
/// general parser sees a document, whose cost grows faster than linearly with depth.
pub const MAX_DEPTH: usize = 256;

/// Scans files and directories. A path that does not exist is an error; problems inside
/// files (malformed documents) are reported to the sink and the scan goes on.
pub fn scan_paths(
    paths: &[PathBuf],
    options: &ManifestOptions<'_>,
    sink: &mut dyn ScanSink,
) -> Result<(), ScanError> {
    let mut kinds = Vec::with_capacity(paths.len());
    for path in paths {
        kinds.push(named_path_kind(path)?);
    }
    for (path, kind) in paths.iter().zip(kinds) {
        match kind {
            NamedPath::Dir => scan_dir(path, options, sink)?,
            NamedPath::File => scan_file(path, options, sink),
            NamedPath::Unresolvable(reason) => {
                skip_with_warning(&display_path(path, options.root.as_deref()), reason, sink)
            }
        }
    }
    Ok(())
}

enum NamedPath {
    Dir,
    /// A regular file, or a named pipe the user handed over (`plat scan <(helm template …)`).
    File,
    /// A symlink whose target cannot be reached: dangling, or a loop.
    Unresolvable(String),
}

/// What a path named on the command line is. Devices and sockets are refused: reading
/// `/dev/zero` would never end.
fn named_path_kind(path: &Path) -> Result<NamedPath, ScanError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => {
            return match std::fs::symlink_metadata(path) {
                Ok(link) if link.file_type().is_symlink() => {
                    Ok(NamedPath::Unresolvable(broken_link_reason(&error)))
                }
                _ if error.kind() == std::io::ErrorKind::NotFound => {
                    Err(ScanError::NotFound(path.to_path_buf()))
                }
                _ => Err(ScanError::Io {
                    path: path.to_path_buf(),
                    source: error,
                }),
            };
        }
    };
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        Ok(NamedPath::Dir)
    } else if file_type.is_file() || is_fifo(&file_type) {
        Ok(NamedPath::File)
    } else {
        Err(ScanError::NotRegular(path.to_path_buf()))
    }
}

#[cfg(unix)]
pub(crate) fn is_fifo(file_type: &std::fs::FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(file_type)
}

#[cfg(not(unix))]
pub(crate) fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

fn broken_link_reason(error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound {
        "dangling symlink".into()
    } else {
        format!("symlink that cannot be followed ({error})")
    }
}

/// Something that was not read and the user should know about (special files, broken links).
fn skip_with_warning(name: &str, reason: String, sink: &mut dyn ScanSink) {
    sink.skipped(Skipped {
        file: name.to_string(),
        reason,
        warning: true,
    });
}

/// Scans a stream (e.g. stdin, `helm template` output) reported under `name`.
pub fn scan_manifest_reader(
    name: &str,
    reader: impl BufRead,
    options: &ManifestOptions<'_>,
    sink: &mut dyn ScanSink,
) -> Result<(), ScanError> {
    let outcome = scan_yaml_stream(name, reader, options, sink, &HashMap::new());
    finish_file(name, outcome, options, sink);
    Ok(())
}

/// Removes `.` and `..` without touching the file system (kustomize paths like `../../base`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn display_path(path: &Path, root: Option<&Path>) -> String {
    let path = &normalize(path);
    let relative = root
        .and_then(|r| path.strip_prefix(r).ok())
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(path);
    let text = relative.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_string).unwrap_or(text)
}

fn kustomization_in(dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn scan_dir(
    dir: &Path,
    options: &ManifestOptions<'_>,
    sink: &mut dyn ScanSink,
) -> Result<(), ScanError> {
    let mut walker = WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    while let Some(entry) = walker.next() {
        let entry = match entry {
            Ok(entry) => entry,
            // An unreadable subdirectory is one gap in the scan, not the end of it.
            Err(error) => {
                let path = error
                    .path()
                    .map_or_else(|| dir.to_path_buf(), Path::to_path_buf);
                let reason = match error.io_error() {
                    Some(io) => format!("cannot be read ({io})"),
                    None => error.to_string(),
                };
                skip_with_warning(&display_path(&path, options.root.as_deref()), reason, sink);
                continue;
            }
        };
        let path = entry.path();
        let file_type = entry.file_type();
        if file_type.is_dir() {
            if let Some(kustomization) = kustomization_in(path)
                && render_kustomization(path, &kustomization, options, sink)?
            {
                walker.skip_current_dir();
            } else if is_helm_chart(path) {
                skip_helm_chart(path, options, sink);
                walker.skip_current_dir();
            }
            continue;
        }
        if !is_manifest_name(path) || KUSTOMIZATION_FILES.iter().any(|k| entry.file_name() == *k) {
            continue;
        }
        let name = || display_path(path, options.root.as_deref());
        if file_type.is_symlink() {
            match std::fs::metadata(path) {
                Ok(target) if target.is_file() => {}
                Ok(_) => {
                    skip_with_warning(
                        &name(),
                        "symlink to something other than a regular file".into(),
                        sink,
                    );
                    continue;
                }
                Err(error) => {
                    skip_with_warning(&name(), broken_link_reason(&error), sink);
                    continue;
                }
            }
        } else if !file_type.is_file() {
            // A named pipe would block forever, a device could never end.
            skip_with_warning(
                &name(),
                "not a regular file (pipe, socket or device)".into(),
                sink,
            );
            continue;
        }
        scan_file(path, options, sink);
    }
    Ok(())
}

/// A directory holding `Chart.yaml`: its templates are Go templates, not manifests.
fn is_helm_chart(dir: &Path) -> bool {
    dir.join("Chart.yaml").is_file() && dir.join("templates").is_dir()
}

fn skip_helm_chart(dir: &Path, options: &ManifestOptions<'_>, sink: &mut dyn ScanSink) {
    let name = display_path(dir, options.root.as_deref());
    sink.skipped(Skipped {
        file: name.clone(),
        reason: "Helm chart".into(),
        warning: false,
    });
    sink.partial(helm_hint(&name));
}

fn helm_hint(chart: &str) -> String {
    format!(
        "{chart} is a Helm chart, whose templates are not manifests until rendered: scan them with `helm template {chart} | plat scan -`"
    )
}

/// Scans one file; a file that cannot be opened or read is a finding of its own (PLAT016).
fn scan_file(path: &Path, options: &ManifestOptions<'_>, sink: &mut dyn ScanSink) {
    let name = display_path(path, options.root.as_deref());
    let outcome = File::open(path).and_then(|file| {
        let reader = BufReader::with_capacity(256 * 1024, file);
        let is_json = path.extension().and_then(|e| e.to_str()) == Some("json");
        if is_json {
            scan_json_stream(&name, reader, options, sink)
        } else {
            scan_yaml_stream(&name, reader, options, sink, &HashMap::new())
        }
    });
    finish_file(&name, outcome, options, sink);
}

/// What one file held, to decide whether it is listed as skipped.
#[derive(Debug, Default)]
struct FileOutcome {
    objects: usize,
    other_documents: usize,
    skip_reason: Option<String>,
}

fn finish_file(
    name: &str,
    outcome: Result<FileOutcome, std::io::Error>,
    options: &ManifestOptions<'_>,
    sink: &mut dyn ScanSink,
) {
    match outcome {
        Ok(outcome) => {
            if outcome.objects == 0 {
                let reason = outcome.skip_reason.unwrap_or_else(|| {
                    if outcome.other_documents == 0 {
                        "empty".to_string()
                    } else {
                        "not a Kubernetes object".to_string()
                    }
                });
                sink.skipped(Skipped {
                    file: name.to_string(),
                    reason,
                    warning: false,
                });
            }
        }
        Err(error) => {
            // Unreadable content (binary, bad UTF-8, too large) fails this file only.
            let line = error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ReadFailure>())
                .map_or(1, |failure| failure.line);
            unparsable(name, line, format!("cannot read: {error}"), options, sink);
            sink.skipped(Skipped {
                file: name.to_string(),
                reason: "unreadable".into(),
                warning: false,
            });
        }
    }
}

/// A read error that knows the line it happened on.
#[derive(Debug)]
struct ReadFailure {
    line: u32,
    message: String,
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReadFailure {}

fn read_failure(line: u32, message: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        ReadFailure { line, message },
    )
}

/// A file or document that could not be read or parsed: a warning always, and a PLAT016
/// finding unless `--skip-unparsable`, so that a repository of broken manifests cannot pass.
fn unparsable(
    name: &str,
    line: u32,
    message: String,
    options: &ManifestOptions<'_>,
    sink: &mut dyn ScanSink,
) {
    let line = line.max(1);
    sink.problem(InputProblem {
        location: Location {
            file: name.to_string(),
            line,
        },
        message: message.clone(),
    });
    if options.skip_unparsable {
        return;
    }
    let doc = DocSource {
        file: name,
        line,
        text: None,
        origin: Origin::Manifest,
    };
    let resource_id = format!("file/{name}");
    let emitter = rules::Emitter {
        config: options.config,
        doc: &doc,
        resource_id: &resource_id,
        kind: "file",
        name,
        ignored: Vec::new(),
    };
    // The message, without its line, identifies the failure across line moves.
    emitter.emit(sink, rules::UNPARSABLE, &message, message.clone(), &[]);
}

fn is_separator(line: &str) -> bool {
    line.starts_with("---") && line[3..].chars().next().is_none_or(char::is_whitespace)
}

fn is_document_end(line: &str) -> bool {
    line.starts_with("...") && line[3..].trim().is_empty()
}

/// First line holding content (not blank, not a comment, not a directive), as a byte offset
/// and line offset into `text`.
fn content_start(text: &str) -> Option<(usize, u32)> {
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('%') {
            return Some((offset, index as u32));
        }
        offset += line.len();
    }
    None
}

/// Source locations of objects in a kustomize tree, keyed by (kind, name).
type SourceIndex = HashMap<(String, String), Location>;

fn scan_yaml_stream(
    name: &str,
    mut reader: impl BufRead,
    options: &ManifestOptions<'_>,
    sink: &mut dyn ScanSink,
    sources: &SourceIndex,
) -> Result<FileOutcome, std::io::Error> {
    let mut outcome = FileOutcome::default();
    let app_config = Path::new(name)
        .file_name()
        .and_then(|f| f.to_str())
        .is_some_and(|f| f.starts_with("app-config"));
    let mut doc = String::new();
    let mut bytes = Vec::new();
    let mut line_no: u32 = 0;
    let mut doc_start: u32 = 1;
    loop {
        bytes.clear();
        // Never read past the document limit, even when the input has no line breaks.
        let budget = (MAX_DOCUMENT_BYTES - doc.len()) as u64 + 1;
        let read = (&mut reader).take(budget).read_until(b'\n', &mut bytes)?;
        if read == 0 {
            break;
        }
        line_no += 1;
        if doc.len() + bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(read_failure(
                doc_start,
                format!(
                    "a document is larger than {} MiB; the rest of the input was not read",
                    MAX_DOCUMENT_BYTES / (1024 * 1024)
                ),
            ));
        }
        let line = std::str::from_utf8(&bytes)
            .map_err(|_| read_failure(line_no, format!("line {line_no} is not valid UTF-8")))?;
        if is_separator(line) || is_document_end(line) {
            scan_yaml_doc(
                name,
                &doc,
                doc_start,
                options,
                sink,
                sources,
                app_config,
                &mut outcome,
            );
            doc.clear();
            let rest = if is_separator(line) {
                line[3..].trim()
            } else {
                ""
            };
            if rest.is_empty() || rest.starts_with('#') {
                doc_start = line_no + 1;
            } else {
                // `--- {inline: document}` or `--- |` starts content on the separator line.
                doc.push_str(&line[3..]);
                doc_start = line_no;
            }
        } else {
            doc.push_str(line);
        }
    }
    scan_yaml_doc(
        name,
        &doc,
        doc_start,
        options,
        sink,
        sources,
        app_config,
        &mut outcome,
    );
    Ok(outcome)
}

/// The 0-based line where nesting first passes `limit`, counting block indentation levels,
/// `- ` entries opened on one line and open flow brackets. Linear, so that a hostile
/// `[[[[…` is refused before the general parser, whose cost grows faster than its depth.
pub(crate) fn too_deep(text: &str, limit: usize) -> Option<u32> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut block_scalar: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        if let Some(parent) = block_scalar {
            if content.is_empty() || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if flow == 0 {
            while indents.last().is_some_and(|&i| i >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        let mut rest = content;
        let mut dashes = 0;
        while let Some(after) = rest.strip_prefix("- ") {
            dashes += 1;
            rest = after.trim_start_matches(' ');
        }
        let mut quote: Option<u8> = None;
        let mut previous = b' ';
        for b in rest.bytes() {
            match quote {
                Some(q) => {
                    if b == q {
                        quote = None;
                    }
                }
                None => match b {
                    b'"' | b'\'' if matches!(previous, b' ' | b'[' | b'{' | b',' | b':') => {
                        quote = Some(b)
                    }
                    b'[' | b'{' => flow += 1,
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            if indents.len() + dashes + flow > limit {
                return Some(index as u32);
            }
            previous = b;
        }
        if indents.len() + dashes > limit {
            return Some(index as u32);
        }
        let trimmed = rest.trim_end();
        if flow == 0
            && ["|", "|-", "|+", ">", ">-", ">+"]
                .iter()
                .any(|header| trimmed.ends_with(header))
        {
            block_scalar = Some(indent + 2 * dashes);
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn scan_yaml_doc(
    name: &str,
    text: &str,
    start_line: u32,
    options: &ManifestOptions<'_>,
    sink: &mut dyn ScanSink,
    sources: &SourceIndex,
    app_config: bool,
    outcome: &mut FileOutcome,
) {
    let Some((offset, line_offset)) = content_start(text) else {
        return;
    };
    let text = &text[offset..];
    let first_line = start_line + line_offset;
    let parsed = match super::fastyaml::parse(text) {
        Some(value) => Ok(value),
        None => {
            if let Some(deep_line) = too_deep(text, MAX_DEPTH) {
                unparsable(
                    name,
                    first_line + deep_line,
                    format!("malformed YAML document: nested deeper than {MAX_DEPTH} levels"),
                    options,
                    sink,
                );
                outcome
                    .skip_reason
                    .get_or_insert_with(|| "malformed".into());
                return;
            }
            serde_yaml_ng::from_str::<Value>(text)
        }
    };
    let value: Value = match parsed {
        Ok(value) => value,
        Err(e) => {
            let line = e.location().map_or(first_line, |l| {
                first_line + l.line().saturating_sub(1) as u32
            });
            // serde_yaml_ng appends a location relative to the document; the file line replaces it.
            let error = e.to_string();
            let mut message = match (error.rfind(" at line "), e.location()) {
                (Some(cut), Some(location)) => {
                    format!("{} (column {})", &error[..cut], location.column())
                }
                _ => error,
            };
            if text.contains("{{") {
                message.push_str(
                    "; it looks like a Helm template: render it first (`helm template CHART | plat scan -`)",
                );
            }
            unparsable(
                name,
                line,
                format!("malformed YAML document: {message}"),
                options,
                sink,
            );
            outcome
                .skip_reason
                .get_or_insert_with(|| "malformed".into());
            return;
        }
    };
    let doc = DocSource {
        file: name,
        line: first_line,
        text: Some(text),
        origin: Origin::Manifest,
    };
    handle_value(
        value,
        &doc,
        options.config,
        sink,
        sources,
        app_config,
        outcome,
    );
}

fn handle_value(
    value: Value,
    doc: &DocSource<'_>,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
    sources: &SourceIndex,
    app_config: bool,
    outcome: &mut FileOutcome,
) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                handle_value(item, doc, config, sink, sources, app_config, outcome);
            }
        }
        Value::Object(mut map) => {
            let kind = map
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let is_object = map.get("apiVersion").is_some_and(Value::is_string) && !kind.is_empty();
            if !is_object {
                outcome.other_documents += 1;
                if app_config {
                    rules::check_app_config(&Value::Object(map), doc, config, sink);
                    outcome.objects += 1;
                }
                return;
            }
            if kind.ends_with("List")
                && let Some(Value::Array(items)) = map.remove("items")
            {
                for item in items {
                    handle_value(item, doc, config, sink, sources, app_config, outcome);
                }
                return;
            }
            if kind == "Kustomization" {
                outcome.other_documents += 1;
                outcome.skip_reason = Some("kustomization (render the directory)".into());
                return;
            }
            let object = Value::Object(map);
            let relocated;
            let doc = match source_location(&object, sources) {
                Some(location) => {
                    relocated = location;
                    &DocSource {
                        file: &relocated.file,
                        line: relocated.line,
                        text: None,
                        origin: doc.origin,
                    }
                }
                None => doc,
            };
            if let Some(resource) = rules::check_object(&object, doc, config, sink) {
                outcome.objects += 1;
                sink.resource(resource);
            }
        }
        _ => outcome.other_documents += 1,
    }
}

fn source_location(object: &Value, sources: &SourceIndex) -> Option<Location> {
    if sources.is_empty() {
        return None;
    }
    let kind = object.get("kind")?.as_str()?;
    let name = object.pointer("/metadata/name")?.as_str()?;
    if let Some(location) = sources.get(&(kind.to_string(), name.to_string())) {
        return Some(location.clone());
    }
    // namePrefix / nameSuffix: the longest source name contained in the rendered name.
    sources
        .iter()
        .filter(|((k, n), _)| k == kind && name.contains(n.as_str()))
        .max_by_key(|((_, n), _)| n.len())
        .map(|(_, location)| location.clone())
        .or_else(|| {
            sources
                .get(&("__kustomization__".to_string(), String::new()))
                .cloned()
        })
}

/// Counts newlines as serde_json pulls bytes, to place JSON values on their lines, and stops
/// a value that grows past [`MAX_DOCUMENT_BYTES`].
struct LineCounter<R> {
    inner: R,
    newlines: u32,
    bytes: usize,
    start_line: u32,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.newlines += buf[..n].iter().filter(|b| **b == b'\n').count() as u32;
        self.bytes += n;
        if self.bytes > MAX_DOCUMENT_BYTES {
            return Err(read_failure(
                self.start_line,
                format!(
                    "a JSON value is larger than {} MiB; the rest of the input was not read",
                    MAX_DOCUMENT_BYTES / (1024 * 1024)
                ),
            ));
        }
        Ok(n)
    }
}

/// Consumes whitespace before the next JSON value; false at end of input.
fn skip_json_whitespace(reader: &mut impl BufRead, line: &mut u32) -> std::io::Result<bool> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        let blank = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        *line += buf[..blank].iter().filter(|b| **b == b'\n').count() as u32;
        let more = blank == buf.len();
        reader.consume(blank);
        if !more {
            return Ok(true);
        }
    }
}

/// A JSON file holding one value or several concatenated ones (`kubectl get -o json` output,
/// JSON lines), parsed one top-level value at a time.
fn scan_json_stream(
    name: &str,
    mut reader: impl BufRead,
    options: &ManifestOptions<'_>,
    sink: &mut dyn ScanSink,
) -> Result<FileOutcome, std::io::Error> {
    let config = options.config;
    use serde::Deserialize;
    let mut outcome = FileOutcome::default();
    let mut line = 1;
    while skip_json_whitespace(&mut reader, &mut line)? {
        let mut counter = LineCounter {
            inner: &mut reader,
            newlines: 0,
            bytes: 0,
            start_line: line,
        };
        // Objects and arrays end at their closing bracket, so no byte past the value is read.
        let parsed = Value::deserialize(&mut serde_json::Deserializer::from_reader(&mut counter));
        match parsed {
            Ok(value) => {
                let doc = DocSource {
                    file: name,
                    line,
                    text: None,
                    origin: Origin::Manifest,
                };
                let is_container = value.is_object() || value.is_array();
                handle_value(
                    value,
                    &doc,
                    config,
                    sink,
                    &HashMap::new(),
                    false,
                    &mut outcome,
                );
                line += counter.newlines;
                if !is_container {
                    break;
                }
            }
            Err(e) if e.is_io() => return Err(e.into()),
            Err(e) => {
                unparsable(
                    name,
                    line + (e.line().max(1) as u32) - 1,
                    format!("malformed JSON: {e}"),
                    options,
                    sink,
                );
                outcome
                    .skip_reason
                    .get_or_insert_with(|| "malformed".into());
                // A JSON syntax error leaves the stream position undefined: stop this file.
                break;
            }
        }
    }
    Ok(outcome)
}

/// Renders a kustomize directory and scans the output. Returns false when it could not be
/// rendered, so that the caller scans the directory's files one by one.
fn render_kustomization(
    dir: &Path,
    kustomization: &Path,
    options: &ManifestOptions<'_>,
    sink: &mut dyn ScanSink,
) -> Result<bool, ScanError> {
    let root = options.root.as_deref();
    let kustomization_name = display_path(kustomization, root);
    let attempts: Vec<(String, Vec<String>)> = match &options.kustomize {
        KustomizeRenderer::Disabled => Vec::new(),
        KustomizeRenderer::Command { program, args } => vec![(program.clone(), args.clone())],
        KustomizeRenderer::Auto => vec![
            ("kustomize".into(), vec!["build".into()]),
            ("kubectl".into(), vec!["kustomize".into()]),
        ],
    };
    let mut rendered = None;
    for (program, args) in &attempts {
        match Command::new(program).args(args).arg(dir).output() {
            Ok(output) if output.status.success() => {
                rendered = Some(output.stdout);
                break;
            }
            Ok(output) => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                sink.problem(InputProblem {
                    location: Location {
                        file: kustomization_name.clone(),
                        line: 1,
                    },
                    message: format!("`{program}` failed: {}", stderr.trim()),
                });
                sink.partial(format!(
                    "{kustomization_name} could not be rendered; its files were scanned one by one"
                ));
                return Ok(false);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(ScanError::Io {
                    path: PathBuf::from(program),
                    source,
                });
            }
        }
    }
    let Some(rendered) = rendered else {
        sink.partial(
            "neither kustomize nor kubectl is installed (or rendering is off): kustomize directories were scanned file by file"
                .into(),
        );
        return Ok(false);
    };
    let mut sources = SourceIndex::new();
    index_sources(dir, root, &mut sources, 0);
    sources.insert(
        ("__kustomization__".into(), String::new()),
        Location {
            file: kustomization_name.clone(),
            line: 1,
        },
    );
    let outcome = scan_yaml_stream(&kustomization_name, &rendered[..], options, sink, &sources);
    finish_file(&kustomization_name, outcome, options, sink);
    Ok(true)
}

/// Maps (kind, name) of every object in a kustomize tree to its file and line, following
/// local `resources:`/`bases:` entries so that overlays map back to their bases.
fn index_sources(dir: &Path, root: Option<&Path>, index: &mut SourceIndex, depth: usize) {
    if depth > 8 {
        return;
    }
    let Some(kustomization) = kustomization_in(dir) else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(&kustomization) else {
        return;
    };
    let Ok(value) = serde_yaml_ng::from_str::<Value>(&text) else {
        return;
    };
    for key in ["resources", "bases", "components"] {
        let Some(entries) = value.get(key).and_then(Value::as_array) else {
            continue;
        };
        for entry in entries.iter().filter_map(Value::as_str) {
            if entry.contains("://") || entry.starts_with("github.com/") {
                continue;
            }
            let path = dir.join(entry);
            if path.is_dir() {
                index_sources(&path, root, index, depth + 1);
            } else if path.is_file() {
                index_file(&path, root, index);
            }
        }
    }
}

fn index_file(path: &Path, root: Option<&Path>, index: &mut SourceIndex) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let name = display_path(path, root);
    let mut line_no = 0u32;
    let mut pending_kind: Option<(String, u32)> = None;
    let mut in_metadata = false;
    for line in text.lines() {
        line_no += 1;
        if is_separator(line) {
            pending_kind = None;
            in_metadata = false;
            continue;
        }
        if let Some(kind) = line.strip_prefix("kind:") {
            let doc_line = pending_kind.as_ref().map_or(line_no, |(_, l)| *l);
            pending_kind = Some((
                kind.trim().trim_matches('"').to_string(),
                doc_line.min(line_no),
            ));
        } else if line.starts_with("apiVersion:") && pending_kind.is_none() {
            pending_kind = Some((String::new(), line_no));
        }
        if line.starts_with("metadata:") {
            in_metadata = true;
        } else if in_metadata
            && let Some(value) = line.strip_prefix("  name:")
            && let Some((kind, doc_line)) = &pending_kind
        {
            index
                .entry((kind.clone(), value.trim().trim_matches('"').to_string()))
                .or_insert(Location {
                    file: name.clone(),
                    line: *doc_line,
                });
            in_metadata = false;
        } else if !line.starts_with(' ') && !line.starts_with("metadata:") {
            in_metadata = false;
        }
    }
}
