//! Limits on the YAML/JSON documents plat reads from users (`automation apply -f`,
//! `scaffold --values`): only regular files (or stdin, as `-`, where a command allows it), at
//! most [`MAX_DOCUMENT_BYTES`], nested at most [`MAX_NESTING_DEPTH`] deep. Both are checked
//! while reading, before a parser sees the text: the YAML parser takes time that grows faster
//! than the nesting (a 200 KB file of 100k `[` took 45 s to refuse), and `/dev/zero` never ends.

use std::io::Read;
use std::path::Path;

pub(crate) const MAX_DOCUMENT_BYTES: u64 = 4 * 1024 * 1024;
pub(crate) const MAX_NESTING_DEPTH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub(crate) enum DocumentError {
    #[error("{file}: not a regular file")]
    NotARegularFile { file: String },
    #[error("{file}: larger than the limit of {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { file: String },
    #[error("{file}:{line}: nested deeper than the limit of {MAX_NESTING_DEPTH} levels")]
    TooDeep { file: String, line: usize },
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
}

impl DocumentError {
    pub(crate) fn hint(&self) -> &'static str {
        match self {
            Self::NotARegularFile { .. } => {
                "pass a file (pipes, devices and sockets are not read; use - for stdin where allowed)"
            }
            Self::TooLarge { .. } => "split the document, or keep large data out of it",
            Self::TooDeep { .. } => "flatten the document",
            Self::Read { .. } => "check the path and its permissions",
        }
    }
}

/// Reads a document from a regular file, or from stdin when `path` is `-` and `stdin_allowed`.
pub(crate) fn read_document(path: &Path, stdin_allowed: bool) -> Result<String, DocumentError> {
    let file = path.display().to_string();
    let read_error = |source| DocumentError::Read {
        file: file.clone(),
        source,
    };
    let text = if stdin_allowed && path == Path::new("-") {
        read_bounded(std::io::stdin().lock(), &file)?
    } else {
        let metadata = std::fs::metadata(path).map_err(read_error)?;
        if !metadata.is_file() {
            return Err(DocumentError::NotARegularFile { file });
        }
        let handle = std::fs::File::open(path).map_err(read_error)?;
        read_bounded(handle, &file)?
    };
    check_nesting(&text, &file)?;
    Ok(text)
}

fn read_bounded(source: impl Read, file: &str) -> Result<String, DocumentError> {
    let mut bytes = Vec::new();
    source
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| DocumentError::Read {
            file: file.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge {
            file: file.to_owned(),
        });
    }
    String::from_utf8(bytes).map_err(|err| DocumentError::Read {
        file: file.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, err),
    })
}

/// A one-pass, over-counting estimate of a YAML (or JSON) document's nesting: flow brackets
/// outside quoted scalars, plus block levels (each deeper indentation, each `- ` entry opened
/// on the same line). It never under-counts a real document's depth, so a document it passes
/// is within what the parser handles quickly; it stops at the first line past the limit.
pub(crate) fn check_nesting(text: &str, file: &str) -> Result<(), DocumentError> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    for (index, line) in text.lines().enumerate() {
        let too_deep = || DocumentError::TooDeep {
            file: file.to_owned(),
            line: index + 1,
        };
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        let mut block_entries = 0;
        if flow == 0 && quote.is_none() && !content.is_empty() && !content.starts_with('#') {
            while indents.last().is_some_and(|top| *top >= indent) {
                indents.pop();
            }
            indents.push(indent);
            let mut rest = content;
            while let Some(after) = rest.strip_prefix("- ").or_else(|| rest.strip_prefix("-\t")) {
                block_entries += 1;
                rest = after.trim_start();
            }
        }
        if indents.len() + block_entries > MAX_NESTING_DEPTH {
            return Err(too_deep());
        }
        let mut previous = ' ';
        for c in content.chars() {
            match quote {
                Some(open) if c == open => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if previous.is_whitespace() => break,
                    '\'' | '"' if matches!(previous, ' ' | '\t' | '[' | '{' | ',' | ':') => {
                        quote = Some(c);
                    }
                    '[' | '{' => {
                        flow += 1;
                        if indents.len() + block_entries + flow > MAX_NESTING_DEPTH {
                            return Err(too_deep());
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            previous = c;
        }
        // A single-quoted or plain scalar may span lines; a double-quoted one too. Either way
        // the count resumes once it closes.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_refused_at_once() {
        let deep = "[".repeat(100_000);
        let started = std::time::Instant::now();
        let err = check_nesting(&deep, "deep.yaml").unwrap_err();
        assert!(
            matches!(err, DocumentError::TooDeep { line: 1, .. }),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn deep_block_nesting_is_refused() {
        let mut doc = String::new();
        for level in 0..300 {
            doc.push_str(&format!("{}k{level}:\n", " ".repeat(level)));
        }
        assert!(check_nesting(&doc, "deep.yaml").is_err());
        assert!(check_nesting(&format!("{}x\n", "- ".repeat(300)), "seq.yaml").is_err());
    }

    #[test]
    fn ordinary_documents_pass() {
        let doc = "a:\n  b: [1, 2, {c: 'd [ not a bracket'}]\n  e: \"x { y\"\n  # [ comment\n  f:\n    - - 1\n      - 2\n";
        assert!(check_nesting(doc, "ok.yaml").is_ok());
        let json = "{\"a\": [[[{\"b\": 1}]]]}";
        assert!(check_nesting(json, "ok.json").is_ok());
    }
}
