//! YAML laid out as Backstage's `catalog:write` writes it: `yaml` 2.x `stringify` with its
//! defaults (keys in insertion order, sequences indented under their key, plain scalars where
//! the core schema would not read them as another type, multi-line strings as literal blocks,
//! long plain lines folded at 80 columns). serde_yaml_ng lays YAML out differently (sequences
//! flush with their key, other quoting), and `catalog:write` output is meant to be identical
//! to Backstage's, so this small writer covers the JSON shapes an entity can take.

use serde_json::Value;

const LINE_WIDTH: usize = 80;
const MIN_CONTENT_WIDTH: usize = 20;

/// The document `yaml.stringify(value)` returns.
pub(crate) fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(map, "", &mut out),
        Value::Array(items) if !items.is_empty() => write_seq(items, "", &mut out),
        scalar => {
            out.push_str(&scalar_text(scalar, "", None));
            out.push('\n');
        }
    }
    out
}

/// Keys at `indent`; the caller has already written any `- ` that precedes the first key.
fn write_map(map: &serde_json::Map<String, Value>, indent: &str, out: &mut String) {
    let child = format!("{indent}  ");
    for (position, (key, value)) in map.iter().enumerate() {
        if position > 0 {
            out.push_str(indent);
        }
        let key_text = string_text(key, indent, true, None);
        out.push_str(&key_text);
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                out.push_str(&child);
                write_map(inner, &child, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                out.push_str(&child);
                write_seq(items, &child, out);
            }
            scalar => {
                out.push(' ');
                out.push_str(&scalar_text(scalar, &child, Some(key_text.len() + 2)));
                out.push('\n');
            }
        }
    }
}

/// Items at `indent`; the caller has already written the indentation of the first `- `.
fn write_seq(items: &[Value], indent: &str, out: &mut String) {
    let child = format!("{indent}  ");
    for (position, item) in items.iter().enumerate() {
        if position > 0 {
            out.push_str(indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(inner) if !inner.is_empty() => write_map(inner, &child, out),
            Value::Array(inner) if !inner.is_empty() => write_seq(inner, &child, out),
            scalar => {
                out.push_str(&scalar_text(scalar, &child, None));
                out.push('\n');
            }
        }
    }
}

fn scalar_text(value: &Value, indent: &str, indent_at_start: Option<usize>) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(int), _, _) => int.to_string(),
            (_, Some(int), _) => int.to_string(),
            (_, _, Some(float)) => crate::expr::number_to_string(float),
            _ => number.to_string(),
        },
        Value::String(text) => string_text(text, indent, false, indent_at_start),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
    }
}

/// `plainString` of yaml's stringifyString, with its fallbacks to quotes and blocks.
fn string_text(
    text: &str,
    indent: &str,
    implicit_key: bool,
    indent_at_start: Option<usize>,
) -> String {
    if text.chars().any(is_control) {
        return double_quoted(text);
    }
    if implicit_key && text.contains('\n') {
        return quoted(text);
    }
    if text.is_empty() || not_plain(text) {
        return if implicit_key || !text.contains('\n') {
            quoted(text)
        } else {
            block(text, indent)
        };
    }
    if !implicit_key && text.contains('\n') {
        return block(text, indent);
    }
    if reads_as_other_type(text) {
        return quoted(text);
    }
    if implicit_key {
        text.to_owned()
    } else {
        fold_flow(text, indent, indent_at_start)
    }
}

fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// `/^[\n\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]$/`
fn not_plain(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let first = chars[0];
    if "\n\t ,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if matches!(first, '?' | '-') && chars.get(1).is_none_or(|c| matches!(c, ' ' | '\t')) {
        return true;
    }
    let pairs = chars.windows(2);
    for pair in pairs {
        match (pair[0], pair[1]) {
            ('\n' | ':', ' ' | '\t') | (' ' | '\t', '\n') | ('\n' | '\t' | ' ', '#') => {
                return true;
            }
            _ => {}
        }
    }
    chars
        .last()
        .is_some_and(|c| matches!(c, '\n' | '\t' | ' ' | ':'))
}

/// Whether the YAML 1.2 core schema would read the plain scalar as null, a boolean or a number.
fn reads_as_other_type(text: &str) -> bool {
    if matches!(text, "~" | "null" | "Null" | "NULL") {
        return true;
    }
    if matches!(text, "true" | "True" | "TRUE" | "false" | "False" | "FALSE") {
        return true;
    }
    if matches!(
        text,
        ".nan"
            | ".NaN"
            | ".NAN"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
    ) {
        return true;
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return !octal.is_empty() && octal.chars().all(|c| ('0'..='7').contains(&c));
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        None => digits(mantissa),
        Some((whole, fraction)) => {
            (whole.is_empty() && digits(fraction))
                || (digits(whole) && (fraction.is_empty() || digits(fraction)))
        }
    };
    let exponent_ok =
        exponent.is_none_or(|exp| digits(exp.strip_prefix(['-', '+']).unwrap_or(exp)));
    mantissa_ok && exponent_ok
}

/// `quotedString`: single quotes when the text has double quotes and no single ones.
fn quoted(text: &str) -> String {
    if text.contains('"') && !text.contains('\'') {
        format!("'{}'", text.replace('\'', "''"))
    } else {
        double_quoted(text)
    }
}

fn double_quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

/// A literal block (`|`, `|-` or `|+` after how the text ends), lines at `indent`.
fn block(text: &str, indent: &str) -> String {
    // `/\n[\t ]+$/`: a block cannot end in whitespace after its last line break.
    let without_blanks = text.trim_end_matches(['\t', ' ']);
    if without_blanks.len() < text.len() && without_blanks.ends_with('\n') {
        return quoted(text);
    }
    let trimmed_len = text.trim_end_matches(['\n', '\t', ' ']).len();
    let tail = &text[trimmed_len..];
    let chomp = match tail.find('\n') {
        None => "-",
        Some(at) if trimmed_len == 0 || at != tail.len() - 1 => "+",
        Some(_) => "",
    };
    let body = &text[..trimmed_len];
    let indicator = if body.starts_with(' ') {
        if indent.is_empty() { "1" } else { "2" }
    } else {
        ""
    };
    let mut out = format!("|{indicator}{chomp}\n{indent}");
    for (position, line) in body.split('\n').enumerate() {
        if position > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(indent);
            }
        }
        out.push_str(line);
    }
    // Kept trailing newlines beyond the first one show as empty lines.
    let extra_newlines = tail.matches('\n').count().saturating_sub(1);
    for _ in 0..extra_newlines {
        out.push('\n');
    }
    out
}

/// `foldFlowLines` in flow mode: a long plain scalar breaks at single spaces so that lines
/// keep to 80 columns, continuation lines at `indent`.
fn fold_flow(text: &str, indent: &str, indent_at_start: Option<usize>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let end_step = (1 + MIN_CONTENT_WIDTH).max((1 + LINE_WIDTH).saturating_sub(indent.len()));
    if chars.len() <= end_step {
        return text.to_owned();
    }
    let mut folds: Vec<usize> = Vec::new();
    let mut end = LINE_WIDTH.saturating_sub(indent.len());
    if let Some(at_start) = indent_at_start {
        if at_start > LINE_WIDTH - 2usize.max(MIN_CONTENT_WIDTH) {
            folds.push(0);
        } else {
            end = LINE_WIDTH - at_start;
        }
    }
    let mut split: Option<usize> = None;
    let mut prev: Option<char> = None;
    for (i, &ch) in chars.iter().enumerate() {
        if ch == '\n' {
            end = i + indent.len() + end_step;
            split = None;
        } else {
            if ch == ' ' && prev.is_some_and(|p| !matches!(p, ' ' | '\n' | '\t')) {
                let next = chars.get(i + 1);
                if next.is_some_and(|n| !matches!(n, ' ' | '\n' | '\t')) {
                    split = Some(i);
                }
            }
            if i >= end
                && let Some(at) = split.take()
            {
                folds.push(at);
                end = at + end_step;
            }
        }
        prev = Some(ch);
    }
    if folds.is_empty() {
        return text.to_owned();
    }
    let slice = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    let mut out = slice(0, folds[0]);
    for (position, &fold) in folds.iter().enumerate() {
        let stop = folds.get(position + 1).copied().unwrap_or(chars.len());
        if fold == 0 {
            out = format!("\n{indent}{}", slice(0, stop));
        } else {
            out.push('\n');
            out.push_str(indent);
            out.push_str(&slice(fold + 1, stop));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::to_string;

    #[test]
    fn lays_out_an_entity_as_the_yaml_package_does() {
        let entity = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "metadata": {"name": "a", "tags": ["x", "y"], "annotations": {"n": "25", "b": "true"}},
            "spec": {"dependsOn": [], "notes": "one\ntwo\n", "empty": "", "list": [{"a": 1, "b": null}]}
        });
        assert_eq!(
            to_string(&entity),
            "apiVersion: backstage.io/v1alpha1\nmetadata:\n  name: a\n  tags:\n    - x\n    - y\n  \
             annotations:\n    n: \"25\"\n    b: \"true\"\nspec:\n  dependsOn: []\n  notes: |\n    \
             one\n    two\n  empty: \"\"\n  list:\n    - a: 1\n      b: null\n"
        );
    }

    #[test]
    fn folds_long_plain_lines_at_eighty_columns() {
        let text = "word ".repeat(30);
        let folded = to_string(&json!({"description": text.trim_end()}));
        assert!(folded.lines().all(|line| line.len() <= 80), "{folded}");
        assert!(
            folded
                .lines()
                .nth(1)
                .is_some_and(|line| line.starts_with("  word"))
        );
    }
}
