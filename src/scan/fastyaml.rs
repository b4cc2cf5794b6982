//! A fast path for the block-style YAML that Kubernetes manifests are written in.
//!
//! libyaml (behind serde_yaml_ng) tops out near 50k small documents per second on one core,
//! which alone would eat the whole speed budget. This parser handles the common subset
//! (block mappings and sequences, plain/quoted scalars, `|` literals, `{}`/`[]`, comments)
//! straight into `serde_json::Value`, and returns `None` for anything else (anchors, tags,
//! flow collections, folded scalars, multi-line plain scalars, floats …) so that the caller
//! falls back to serde_yaml_ng. It must never return a value serde_yaml_ng would not; the
//! differential tests check that.

use serde_json::{Map, Number, Value};

struct Line<'a> {
    indent: usize,
    /// Content after the indentation, comment and trailing space removed.
    text: &'a str,
    /// The raw line (for block scalars, where `#` is content).
    raw: &'a str,
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    /// A literal on the very last line keeps no line break when the text has none.
    ends_with_newline: bool,
    /// Open blocks; past the limit the document goes to the checked fallback instead.
    depth: usize,
}

/// Strips a trailing comment: `#` starts one only after whitespace and outside quotes.
fn strip_comment(text: &str) -> &str {
    if !text.contains('#') {
        return text.trim_end();
    }
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => {
                if (b == b'"' || b == b'\'')
                    && (i == 0 || matches!(bytes[i - 1], b' ' | b':' | b'-'))
                {
                    quote = Some(b);
                } else if b == b'#' && (i == 0 || bytes[i - 1] == b' ') {
                    return text[..i].trim_end();
                }
            }
        }
    }
    text.trim_end()
}

pub(crate) fn parse(text: &str) -> Option<Value> {
    // Tabs are legal in a few places and fatal in others; libyaml knows which.
    if text.contains('\t') {
        return None;
    }
    let mut lines = Vec::with_capacity(64);
    for raw in text.lines() {
        let content = raw.trim_start_matches(' ');
        let indent = raw.len() - content.len();
        if content.starts_with('\t') {
            return None;
        }
        let stripped = strip_comment(content);
        lines.push(Line {
            indent,
            text: stripped,
            raw,
        });
    }
    let mut parser = Parser {
        lines,
        pos: 0,
        ends_with_newline: text.ends_with('\n'),
        depth: 0,
    };
    parser.skip_blank();
    if parser.pos >= parser.lines.len() {
        return None;
    }
    let first = &parser.lines[parser.pos];
    if first.text.starts_with('%') || first.text.starts_with("---") {
        return None;
    }
    let indent = first.indent;
    let value = parser.block(indent)?;
    parser.skip_blank();
    (parser.pos == parser.lines.len()).then_some(value)
}

fn is_seq_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Splits `key: rest` (rest may be empty); `None` if the line is not a mapping entry.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    if matches!(bytes.first(), Some(b'"' | b'\'')) {
        let quote = bytes[0];
        let end = text[1..].find(quote as char)? + 1;
        let after = &text[end + 1..];
        if after == ":" {
            return Some((&text[..=end], ""));
        }
        return after
            .strip_prefix(": ")
            .map(|rest| (&text[..=end], rest.trim_start()));
    }
    let mut search = 0;
    while let Some(found) = text[search..].find(':') {
        let i = search + found;
        if i + 1 == text.len() {
            return Some((&text[..i], ""));
        }
        if bytes[i + 1] == b' ' {
            return Some((&text[..i], text[i + 1..].trim_start()));
        }
        search = i + 1;
    }
    None
}

fn key_string(key: &str) -> Option<String> {
    let key = key.trim_end();
    match key.as_bytes().first()? {
        b'"' | b'\'' => match quoted(key)? {
            Value::String(s) => Some(s),
            _ => None,
        },
        b'?' | b'&' | b'*' | b'!' | b'{' | b'[' | b'|' | b'>' | b'@' | b'`' | b'%' | b'<' => None,
        _ => match plain(key)? {
            Value::String(s) => Some(s),
            // Non-string keys (`1:`, `true:`) are rare and typed differently by serde_yaml_ng.
            _ => None,
        },
    }
}

fn quoted(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let quote = bytes[0];
    if bytes.len() < 2 || *bytes.last()? != quote {
        return None;
    }
    let inner = &text[1..text.len() - 1];
    if quote == b'\'' {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' && chars.next() != Some('\'') {
                return None;
            }
            out.push(c);
        }
        return Some(Value::String(out));
    }
    if !inner.contains(['\\', '"']) {
        return Some(Value::String(inner.to_string()));
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return None,
            '\\' => out.push(match chars.next()? {
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                _ => return None,
            }),
            c => out.push(c),
        }
    }
    Some(Value::String(out))
}

/// `[a, "b", 'c']` on one line, scalars only (the usual `command:`/`args:` form).
fn flow_sequence(text: &str) -> Option<Value> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?.trim();
    let mut items = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let (item, after) = if rest.starts_with(['"', '\'']) {
            let quote = rest.as_bytes()[0] as char;
            let end = rest[1..].find(quote)? + 1;
            let item = &rest[..=end];
            if item.contains('\\') || rest[end + 1..].starts_with(quote) {
                return None;
            }
            (quoted(item)?, &rest[end + 1..])
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let item = rest[..end].trim_end();
            if item.is_empty() || item.contains(['[', ']', '{', '}', '#', '"', '\'']) {
                return None;
            }
            (plain(item)?, &rest[end..])
        };
        items.push(item);
        let after = after.trim_start();
        if after.is_empty() {
            break;
        }
        rest = after.strip_prefix(',')?.trim_start();
    }
    Some(Value::Array(items))
}

fn plain(text: &str) -> Option<Value> {
    match text {
        "-" | "?" | ":" => return None,
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if matches!(
        first,
        b'&' | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'{'
            | b'['
            | b'@'
            | b'`'
            | b'%'
            | b'"'
            | b'\''
            | b'?'
            | b','
            | b']'
            | b'}'
    ) || text.contains(": ")
        || text.ends_with(':')
        || (first == b'-' && text.len() > 1 && text.as_bytes()[1] == b' ')
    {
        return None;
    }
    if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.') || text.len() <= 9 {
        let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if digits.len() > 1 && digits.starts_with('0') {
                return None;
            }
            if let Ok(n) = text.strip_prefix('+').unwrap_or(text).parse::<u64>() {
                return Some(Value::Number(Number::from(n)));
            }
            if let Ok(n) = text.parse::<i64>() {
                return Some(Value::Number(Number::from(n)));
            }
            return None;
        }
        let unsigned = digits.as_bytes();
        let radix_prefix =
            unsigned.len() > 1 && unsigned[0] == b'0' && matches!(unsigned[1], b'x' | b'o' | b'b');
        if first == b'.' || radix_prefix || text.parse::<f64>().is_ok() {
            return None;
        }
    }
    Some(Value::String(text.to_string()))
}

impl<'a> Parser<'a> {
    fn skip_blank(&mut self) {
        while self.pos < self.lines.len() && self.lines[self.pos].text.is_empty() {
            self.pos += 1;
        }
    }

    fn current(&mut self) -> Option<&Line<'a>> {
        self.skip_blank();
        self.lines.get(self.pos)
    }

    fn block(&mut self, indent: usize) -> Option<Value> {
        let depth = self.depth;
        let line = self.current()?;
        if line.indent != indent || depth >= super::manifest::MAX_DEPTH {
            return None;
        }
        let is_sequence = is_seq_item(line.text);
        self.depth += 1;
        let value = if is_sequence {
            self.sequence(indent)
        } else {
            self.mapping(indent)
        };
        self.depth -= 1;
        value
    }

    /// The value after `key:` with nothing inline: a nested block, a same-indent sequence, or null.
    fn nested(&mut self, parent_indent: usize, in_mapping: bool) -> Option<Value> {
        match self.current() {
            Some(next) if next.indent > parent_indent => {
                let indent = next.indent;
                self.block(indent)
            }
            // `key:` followed by `- item` at the key's own column is a sequence value.
            Some(next) if in_mapping && next.indent == parent_indent && is_seq_item(next.text) => {
                self.sequence(parent_indent)
            }
            _ => Some(Value::Null),
        }
    }

    fn inline_value(&mut self, rest: &str, parent_indent: usize) -> Option<Value> {
        let value = match rest.as_bytes()[0] {
            b'|' => return self.literal(rest, parent_indent),
            b'"' | b'\'' => quoted(rest)?,
            b'{' if rest == "{}" => Value::Object(Map::new()),
            b'[' => flow_sequence(rest)?,
            _ => plain(rest)?,
        };
        // A deeper line after an inline scalar would be a multi-line scalar continuation.
        if let Some(next) = self.current()
            && next.indent > parent_indent
        {
            return None;
        }
        Some(value)
    }

    fn literal(&mut self, header: &str, parent_indent: usize) -> Option<Value> {
        let strip = match header {
            "|" => false,
            "|-" => true,
            _ => return None,
        };
        let mut content_indent = None;
        let mut out = String::new();
        let mut pending_blank = 0;
        while self.pos < self.lines.len() {
            let line = &self.lines[self.pos];
            if line.raw.trim().is_empty() {
                // Whitespace-only lines keep spaces beyond the indentation: leave those to libyaml.
                if line.raw.len() > content_indent.unwrap_or(parent_indent + 1)
                    || line.raw.contains('\t')
                {
                    return None;
                }
                pending_blank += 1;
                self.pos += 1;
                continue;
            }
            if line.indent <= parent_indent {
                break;
            }
            let indent = *content_indent.get_or_insert(line.indent);
            if line.indent < indent || line.raw.as_bytes()[..indent].contains(&b'\t') {
                return None;
            }
            for _ in 0..pending_blank {
                out.push('\n');
            }
            pending_blank = 0;
            out.push_str(&line.raw[indent..]);
            out.push('\n');
            self.pos += 1;
        }
        if self.pos == self.lines.len() && pending_blank == 0 && !self.ends_with_newline {
            out.pop();
        }
        // Trailing blank lines belong to no one; step back so later lines stay visible.
        while pending_blank > 0 {
            self.pos -= 1;
            pending_blank -= 1;
        }
        if strip {
            while out.ends_with('\n') {
                out.pop();
            }
        }
        Some(Value::String(out))
    }

    fn mapping(&mut self, indent: usize) -> Option<Value> {
        let mut map = Map::new();
        while let Some(line) = self.current() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || is_seq_item(line.text) {
                return None;
            }
            let text = line.text;
            let (key, rest) = split_key(text)?;
            let key = key_string(key)?;
            if key == "<<" || map.contains_key(&key) {
                return None;
            }
            self.pos += 1;
            let value = if rest.is_empty() {
                self.nested(indent, true)?
            } else {
                self.inline_value(rest, indent)?
            };
            map.insert(key, value);
        }
        Some(Value::Object(map))
    }

    fn sequence(&mut self, indent: usize) -> Option<Value> {
        let mut items = Vec::new();
        while let Some(line) = self.current() {
            if line.indent < indent || (line.indent == indent && !is_seq_item(line.text)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let text = line.text;
            if text == "-" {
                self.pos += 1;
                items.push(self.nested(indent, false)?);
                continue;
            }
            let after_dash = &text[2..];
            let rest = after_dash.trim_start_matches(' ');
            let item_indent = indent + 2 + (after_dash.len() - rest.len());
            if is_seq_item(rest) || rest.starts_with('?') {
                return None;
            }
            let starts_quoted = matches!(rest.as_bytes()[0], b'"' | b'\'');
            let is_mapping =
                split_key(rest).is_some() && (!starts_quoted || quoted(rest).is_none());
            if is_mapping {
                // `- key: value` opens a mapping whose keys sit at the column after the dash.
                let raw = self.lines[self.pos].raw;
                self.lines[self.pos] = Line {
                    indent: item_indent,
                    text: rest,
                    raw,
                };
                items.push(self.mapping(item_indent)?);
            } else {
                self.pos += 1;
                items.push(self.inline_value(rest, indent)?);
            }
        }
        Some(Value::Array(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path must agree with serde_yaml_ng whenever it answers.
    fn agrees(doc: &str) -> bool {
        let fast = parse(doc);
        let reference = serde_yaml_ng::from_str::<Value>(doc);
        match (&fast, &reference) {
            (Some(fast), Ok(reference)) => {
                assert_eq!(fast, reference, "fast path differs on:\n{doc}");
                true
            }
            (Some(fast), Err(e)) => {
                panic!("fast path accepted what libyaml rejects ({e}): {fast:?}\n{doc}")
            }
            (None, _) => false,
        }
    }

    #[test]
    fn handles_typical_manifests_itself() {
        let doc = "apiVersion: apps/v1 # comment\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    a: \"1\"\n    b: 'it''s'\n    empty:\n    n: 42\n    neg: -7\n    t: true\n    ver: 1.4.2\n    port: \"8080\"\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.2 # pinned\n        args: [] \n        env:\n          - name: A\n            value: \"x # not a comment\"\n          -\n          - plain\n        command:\n        - sh\n        - -c\n      volumes: {}\n";
        assert!(agrees(doc), "typical document must take the fast path");
        let literal = "data:\n  app.yaml: |\n    a: 1\n\n    # kept\n    b: 2\n\n  script: |-\n    echo hi\n  last: x\n";
        assert!(agrees(literal));
        assert!(agrees(
            "command: [\"/bin/grpc_health_probe\", \"-addr=:8080\", -v, 3]\n"
        ));
    }

    #[test]
    fn falls_back_on_everything_outside_the_subset() {
        for doc in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: {b: 1}\n",
            "a: >\n  folded\n  text\n",
            "a: 1.5\n",
            "a: .inf\n",
            "a: 0x1F\n",
            "a: 012\n",
            "a: multi\n  line\n",
            "a: 1\na: 2\n",
            "<<: {a: 1}\n",
            "? complex\n: key\n",
            "a:\n\tb: 1\n",
            "1: one\n",
            "a: \"unterminated\n  more\"\n",
            "a: |2\n   x\n",
            "- - nested\n",
            "a: b: c\n",
            "a: 1e3\n",
            "a: inf\n",
        ] {
            assert!(!agrees(doc), "expected fallback for {doc:?}");
        }
    }

    #[test]
    fn agrees_with_serde_yaml_ng_on_edge_cases() {
        let cases = [
            "a:\n- 1\n- 2\nb: x\n",
            "- a: 1\n  b: 2\n-   c: 3\n    d:\n      - x\n",
            "key: value with spaces\nurl: http://example.com:8080/x\nq: \"esc \\\" \\\\ \\n\"\n",
            "a: ~\nb: null\nc: Null\nd: TRUE\ne: False\nf: yes\ng: on\n",
            "a: -\nb: 18446744073709551615\nc: -9223372036854775808\n",
            "a: '#not comment'\nb: x#y\nc: x # y\n",
            "\"quoted key\": 1\n'single': 2\n",
            "list:\n  - |\n    line1\n    line2\n  - after\n",
            "a: |\n\n  x\n",
            "a: |\nb: 1\n",
            "  indented: 1\n  doc: 2\n",
            "a:\n  b:\n    c:\n  d: 1\n",
            "k: v\r\nk2: v2\r\n",
            "a: 'x'\nb: \"\"\nc: ''\n",
            "a: 100m\nb: 128Mi\nc: 2026-11-20T10:00:00Z\nd: 1.0\n",
            "a: info\nb: nano\nc: NaN\nd: infinity\n",
            "a:\n  b: 1\n c: 2\n",
            "a:\n    b: 1\n  c: 2\n",
            "command: [\"/bin/grpc_health_probe\", \"-addr=:8080\"]\n",
            "a: [1, two, 'three', \"four\", true, ~]\nb: [x,y]\nc: [ ]\nd: [a, ]\ne: [a b, c:d]\n",
            "- [a, b]\n- []\n",
            "a: [a, [b]]\n",
            "a: [\"x, y\", 'z']\n",
            "a: [a: b]\n",
            "a: [, a]\n",
            "a: [a,, b]\n",
            "a: [\"a\" ,\"b #c\"]\n",
        ];
        for doc in cases {
            agrees(doc);
        }
    }

    #[test]
    fn agrees_on_every_fixture_document() {
        let root = super::super::tests::fixtures();
        let mut fast = 0;
        for entry in walkdir::WalkDir::new(root) {
            let entry = entry.expect("walk");
            let path = entry.path();
            if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                continue;
            }
            let text = std::fs::read_to_string(path).expect("fixture");
            for doc in text.split("\n---\n") {
                if agrees(doc) {
                    fast += 1;
                }
            }
        }
        assert!(
            fast >= 10,
            "fixtures should mostly take the fast path, got {fast}"
        );
    }

    /// Deterministic mutations of fixture documents: every variant the fast path accepts must
    /// match libyaml exactly.
    #[test]
    fn agrees_on_mutated_documents() {
        let root = super::super::tests::fixtures().join("manifests");
        let mut docs = Vec::new();
        for entry in walkdir::WalkDir::new(root) {
            let entry = entry.expect("walk");
            if entry.path().extension().and_then(|e| e.to_str()) == Some("yaml") {
                let text = std::fs::read_to_string(entry.path()).expect("fixture");
                docs.extend(text.split("\n---\n").map(str::to_string));
            }
        }
        let inserts = [
            ":", ": ", " #", "#", "\"", "'", "- ", "|", "  ", "-", "x: y", "{", "[]", "~", "0",
            "1.5", "\t", "? ", " ", "&a ", "*a", "!x ", "%", "@", "`", ",", "]", "}", "|-", ">",
            "\\", "'x'", "\"x\"", "- a: b", ": |", "0x1", "- ", "null", "true",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % bound.max(1)
        };
        let mut accepted = 0;
        for round in 0..4000 {
            let doc = &docs[round % docs.len()];
            let mut lines: Vec<String> = doc.lines().map(str::to_string).collect();
            for _ in 0..1 + next(3) {
                let i = next(lines.len());
                match next(4) {
                    0 => {
                        lines.remove(i);
                    }
                    1 => lines[i] = format!(" {}", lines[i]),
                    2 => {
                        let line = &lines[i];
                        let at = next(line.len() + 1);
                        let at = (0..=at)
                            .rev()
                            .find(|p| line.is_char_boundary(*p))
                            .unwrap_or(0);
                        lines[i] = format!(
                            "{}{}{}",
                            &line[..at],
                            inserts[next(inserts.len())],
                            &line[at..]
                        );
                    }
                    _ => lines[i] = lines[i].trim_start().to_string(),
                }
                if lines.is_empty() {
                    break;
                }
            }
            if agrees(&(lines.join("\n") + "\n")) {
                accepted += 1;
            }
        }
        assert!(
            accepted > 500,
            "mutations should still often take the fast path: {accepted}"
        );
    }
}
