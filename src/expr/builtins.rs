//! Nunjucks' built-in filters, tests and globals, the JavaScript methods nunjitsu allows on
//! strings, numbers and arrays, and Backstage's own filters (`lib/templating/filters`).

use std::cell::RefCell;
use std::rc::Rc;

use indexmap::IndexMap;

use super::eval::{EvalResult, call_state, compare, member};
use super::filters::{parse_ref_string, parse_repo_url};
use super::value::{Stateful, Value, number_to_string, parse_float_prefix, parse_int_prefix};

const STRING_METHODS: &[&str] = &[
    "charAt",
    "charCodeAt",
    "concat",
    "endsWith",
    "includes",
    "indexOf",
    "lastIndexOf",
    "replace",
    "slice",
    "split",
    "startsWith",
    "substring",
    "toLowerCase",
    "toUpperCase",
    "trim",
    "trimEnd",
    "trimStart",
];
const NUMBER_METHODS: &[&str] = &["toFixed", "toString"];
const ARRAY_METHODS: &[&str] = &[
    "at",
    "concat",
    "includes",
    "indexOf",
    "lastIndexOf",
    "join",
    "slice",
    "push",
    "pop",
    "shift",
    "unshift",
    "reverse",
    "sort",
    "append",
    "count",
    "index",
    "find",
];
const RECORD_METHODS: &[&str] = &["get", "has_key", "items", "keys", "values"];

pub(crate) fn is_string_method(name: &str) -> bool {
    STRING_METHODS.contains(&name)
}
pub(crate) fn is_number_method(name: &str) -> bool {
    NUMBER_METHODS.contains(&name)
}
pub(crate) fn is_array_method(name: &str) -> bool {
    ARRAY_METHODS.contains(&name)
}
pub(crate) fn is_record_method(name: &str) -> bool {
    RECORD_METHODS.contains(&name)
}

fn arg(args: &[Value], index: usize) -> Value {
    args.get(index).cloned().unwrap_or(Value::Undefined)
}

fn opt_int(value: &Value) -> Option<f64> {
    if value.is_undefined() {
        None
    } else {
        let n = value.to_number();
        Some(if n.is_nan() { 0.0 } else { n.trunc() })
    }
}

fn utf16(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

fn from_utf16(units: &[u16]) -> Value {
    Value::string(String::from_utf16_lossy(units))
}

/// Clamps a JavaScript relative index (negative counts from the end) to `0..=len`.
fn relative(index: f64, len: usize) -> usize {
    let len_f = len as f64;
    let resolved = if index < 0.0 {
        (len_f + index).max(0.0)
    } else {
        index.min(len_f)
    };
    resolved as usize
}

fn find_units(haystack: &[u16], needle: &[u16], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(from.min(haystack.len()));
    }
    (from..=haystack.len().saturating_sub(needle.len()))
        .find(|&i| i + needle.len() <= haystack.len() && &haystack[i..i + needle.len()] == needle)
}

pub(crate) fn call_method(receiver: &Value, name: &str, args: &[Value]) -> EvalResult<Value> {
    match receiver {
        Value::String(text) => string_method(text, name, args),
        Value::Number(n) => number_method(*n, name, args),
        Value::Array(items) => array_method(receiver, items, name, args),
        Value::Record(entries) => record_method(entries, name, args),
        Value::Regex(regex) => {
            let text = arg(args, 0).to_js_string();
            match name {
                "test" => Ok(Value::Bool(regex.compiled.is_match(&text).unwrap_or(false))),
                _ => Err(format!("Unsupported regex intrinsic {name}")),
            }
        }
        Value::State(state) => call_state(state, Some(name), args),
        _ => Err(format!("Unsupported intrinsic {name}")),
    }
}

fn string_method(text: &str, name: &str, args: &[Value]) -> EvalResult<Value> {
    let first = arg(args, 0);
    let second = arg(args, 1);
    let units = utf16(text);
    Ok(match name {
        "replace" => {
            let replacement = second.to_js_string();
            match &first {
                Value::Regex(regex) => Value::string(regex_replace(text, regex, &replacement)),
                _ => Value::string(text.replacen(
                    &*first.to_js_string(),
                    &expand_plain(&replacement, &first.to_js_string()),
                    1,
                )),
            }
        }
        "split" => {
            let limit = if second.is_undefined() {
                usize::MAX
            } else {
                second.to_number() as u32 as usize
            };
            let parts: Vec<Value> = match &first {
                Value::Undefined => vec![Value::string(text)],
                Value::Regex(regex) => regex_split(text, regex),
                _ => {
                    let separator = first.to_js_string();
                    if separator.is_empty() {
                        units.iter().map(|u| from_utf16(&[*u])).collect()
                    } else {
                        text.split(&*separator).map(Value::string).collect()
                    }
                }
            };
            Value::array(parts.into_iter().take(limit).collect())
        }
        "includes" => {
            let from = opt_int(&second).map_or(0, |n| relative(n.max(0.0), units.len()));
            Value::Bool(find_units(&units, &utf16(&first.to_js_string()), from).is_some())
        }
        "startsWith" => {
            let from = opt_int(&second).map_or(0, |n| relative(n.max(0.0), units.len()));
            Value::Bool(units[from..].starts_with(&utf16(&first.to_js_string())))
        }
        "endsWith" => {
            let end = opt_int(&second).map_or(units.len(), |n| relative(n.max(0.0), units.len()));
            Value::Bool(units[..end].ends_with(&utf16(&first.to_js_string())))
        }
        "indexOf" => {
            let from = opt_int(&second).map_or(0, |n| relative(n.max(0.0), units.len()));
            Value::Number(
                find_units(&units, &utf16(&first.to_js_string()), from).map_or(-1.0, |i| i as f64),
            )
        }
        "lastIndexOf" => {
            let needle = utf16(&first.to_js_string());
            let found = (0..=units.len().saturating_sub(needle.len()))
                .rev()
                .find(|&i| {
                    i + needle.len() <= units.len() && units[i..i + needle.len()] == needle[..]
                });
            Value::Number(found.map_or(-1.0, |i| i as f64))
        }
        "slice" => {
            let start = opt_int(&first).map_or(0, |n| relative(n, units.len()));
            let end = opt_int(&second).map_or(units.len(), |n| relative(n, units.len()));
            from_utf16(if start < end { &units[start..end] } else { &[] })
        }
        "substring" => {
            let clamp = |n: f64| n.max(0.0).min(units.len() as f64) as usize;
            let start = opt_int(&first).map_or(0, clamp);
            let end = opt_int(&second).map_or(units.len(), clamp);
            let (a, b) = if start <= end {
                (start, end)
            } else {
                (end, start)
            };
            from_utf16(&units[a..b])
        }
        "trim" => Value::string(text.trim()),
        "trimStart" => Value::string(text.trim_start()),
        "trimEnd" => Value::string(text.trim_end()),
        "toLowerCase" => Value::string(text.to_lowercase()),
        "toUpperCase" => Value::string(text.to_uppercase()),
        "charAt" => {
            let index = opt_int(&first).unwrap_or(0.0);
            if index < 0.0 || index as usize >= units.len() {
                Value::string("")
            } else {
                from_utf16(&units[index as usize..=index as usize])
            }
        }
        "charCodeAt" => {
            let index = opt_int(&first).unwrap_or(0.0);
            if index < 0.0 || index as usize >= units.len() {
                Value::Number(f64::NAN)
            } else {
                Value::Number(f64::from(units[index as usize]))
            }
        }
        "concat" => {
            let mut out = text.to_owned();
            for value in args {
                out.push_str(&value.to_js_string());
            }
            Value::string(out)
        }
        _ => return Err(format!("Unsupported string intrinsic {name}")),
    })
}

/// `$&`, `$$` in a string replacement (the patterns that make sense without groups).
fn expand_plain(replacement: &str, matched: &str) -> String {
    if !replacement.contains('$') {
        return replacement.to_owned();
    }
    replacement
        .replace("$$", "\u{0}")
        .replace("$&", matched)
        .replace('\u{0}', "$")
}

fn expand_js_replacement(replacement: &str, captures: &fancy_regex::Captures<'_, str>) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('$') => {
                chars.next();
                out.push('$');
            }
            Some('&') => {
                chars.next();
                out.push_str(captures.get(0).map_or("", |m| m.as_str()));
            }
            Some(d) if d.is_ascii_digit() => {
                chars.next();
                let mut index = d.to_digit(10).unwrap_or(0) as usize;
                if let Some(d2) = chars.peek().copied().and_then(|c| c.to_digit(10)) {
                    let two = index * 10 + d2 as usize;
                    if two < captures.len() {
                        chars.next();
                        index = two;
                    }
                }
                if index > 0 && index < captures.len() {
                    out.push_str(captures.get(index).map_or("", |m| m.as_str()));
                } else {
                    out.push('$');
                    out.push(d);
                }
            }
            _ => out.push('$'),
        }
    }
    out
}

fn regex_replace(text: &str, regex: &super::value::JsRegex, replacement: &str) -> String {
    let global = regex.flags.contains('g');
    let mut out = String::new();
    let mut last = 0;
    for captures in regex.compiled.captures_iter(text) {
        let Ok(captures) = captures else { break };
        let Some(whole) = captures.get(0) else { break };
        out.push_str(&text[last..whole.start()]);
        out.push_str(&expand_js_replacement(replacement, &captures));
        last = whole.end();
        if !global {
            break;
        }
    }
    out.push_str(&text[last..]);
    out
}

fn regex_split(text: &str, regex: &super::value::JsRegex) -> Vec<Value> {
    let mut parts = Vec::new();
    let mut last = 0;
    for captures in regex.compiled.captures_iter(text) {
        let Ok(captures) = captures else { break };
        let Some(whole) = captures.get(0) else { break };
        if whole.end() == whole.start() && (whole.start() == 0 || whole.start() == text.len()) {
            continue;
        }
        parts.push(Value::string(&text[last..whole.start()]));
        for group in 1..captures.len() {
            parts.push(
                captures
                    .get(group)
                    .map_or(Value::Undefined, |m| Value::string(m.as_str())),
            );
        }
        last = whole.end();
    }
    parts.push(Value::string(&text[last..]));
    parts
}

fn number_method(n: f64, name: &str, args: &[Value]) -> EvalResult<Value> {
    let first = arg(args, 0);
    Ok(match name {
        "toFixed" => {
            let digits = opt_int(&first).unwrap_or(0.0).clamp(0.0, 100.0) as usize;
            if n.abs() >= 1e21 {
                Value::string(number_to_string(n))
            } else {
                Value::string(format!("{n:.digits$}"))
            }
        }
        "toString" => match opt_int(&first) {
            None | Some(10.0) => Value::string(number_to_string(n)),
            Some(radix) if (2.0..=36.0).contains(&radix) && n.fract() == 0.0 => {
                let radix = radix as u32;
                let mut value = n.abs() as u64;
                let mut digits = Vec::new();
                loop {
                    digits.push(
                        std::char::from_digit((value % u64::from(radix)) as u32, radix)
                            .unwrap_or('0'),
                    );
                    value /= u64::from(radix);
                    if value == 0 {
                        break;
                    }
                }
                if n < 0.0 {
                    digits.push('-');
                }
                Value::string(digits.into_iter().rev().collect::<String>())
            }
            Some(_) => return Err("toString() radix must be between 2 and 36".into()),
        },
        _ => return Err(format!("Unsupported number intrinsic {name}")),
    })
}

fn array_method(
    receiver: &Value,
    items: &Rc<RefCell<Vec<Value>>>,
    name: &str,
    args: &[Value],
) -> EvalResult<Value> {
    let first = arg(args, 0);
    let second = arg(args, 1);
    let len = items.borrow().len();
    Ok(match name {
        "at" => {
            let index = opt_int(&first).unwrap_or(0.0);
            let resolved = if index < 0.0 { len as f64 + index } else { index };
            if resolved < 0.0 {
                Value::Undefined
            } else {
                items.borrow().get(resolved as usize).cloned().unwrap_or(Value::Undefined)
            }
        }
        "concat" => {
            let mut out = items.borrow().clone();
            for value in args {
                match value {
                    Value::Array(more) => out.extend(more.borrow().iter().cloned()),
                    other => out.push(other.clone()),
                }
            }
            Value::array(out)
        }
        "includes" => Value::Bool(items.borrow().iter().any(|item| {
            item.strict_eq(&first) || (matches!((item, &first), (Value::Number(a), Value::Number(b)) if a.is_nan() && b.is_nan()))
        })),
        "indexOf" | "index" | "find" => Value::Number(
            items.borrow().iter().position(|item| item.strict_eq(&first)).map_or(-1.0, |i| i as f64),
        ),
        "lastIndexOf" => Value::Number(
            items.borrow().iter().rposition(|item| item.strict_eq(&first)).map_or(-1.0, |i| i as f64),
        ),
        "count" => Value::Number(items.borrow().iter().filter(|item| item.strict_eq(&first)).count() as f64),
        "join" => {
            let separator = if first.is_undefined() { ",".to_owned() } else { first.to_js_string() };
            Value::string(
                items
                    .borrow()
                    .iter()
                    .map(|item| if item.is_nullish() { String::new() } else { item.to_js_string() })
                    .collect::<Vec<_>>()
                    .join(&separator),
            )
        }
        "slice" => {
            let start = opt_int(&first).map_or(0, |n| relative(n, len));
            let end = opt_int(&second).map_or(len, |n| relative(n, len));
            Value::array(if start < end { items.borrow()[start..end].to_vec() } else { Vec::new() })
        }
        "push" | "append" => {
            items.borrow_mut().extend(args.iter().cloned());
            Value::Number(items.borrow().len() as f64)
        }
        "unshift" => {
            let mut current = items.borrow_mut();
            for (offset, value) in args.iter().enumerate() {
                current.insert(offset, value.clone());
            }
            Value::Number(current.len() as f64)
        }
        "pop" => items.borrow_mut().pop().unwrap_or(Value::Undefined),
        "shift" => {
            let mut current = items.borrow_mut();
            if current.is_empty() { Value::Undefined } else { current.remove(0) }
        }
        "reverse" => {
            items.borrow_mut().reverse();
            receiver.clone()
        }
        "sort" => {
            items.borrow_mut().sort_by(|a, b| match (a.is_undefined(), b.is_undefined()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => a.to_js_string().encode_utf16().cmp(b.to_js_string().encode_utf16()),
            });
            receiver.clone()
        }
        _ => return Err(format!("Unsupported array intrinsic {name}")),
    })
}

fn record_method(
    entries: &IndexMap<String, Value>,
    name: &str,
    args: &[Value],
) -> EvalResult<Value> {
    Ok(match name {
        "get" => entries
            .get(&arg(args, 0).to_js_string())
            .cloned()
            .unwrap_or_else(|| arg(args, 1)),
        "has_key" => Value::Bool(entries.contains_key(&arg(args, 0).to_js_string())),
        "items" => Value::array(
            entries
                .iter()
                .map(|(k, v)| Value::array(vec![Value::string(k.as_str()), v.clone()]))
                .collect(),
        ),
        "keys" => Value::array(entries.keys().map(|k| Value::string(k.as_str())).collect()),
        "values" => Value::array(entries.values().cloned().collect()),
        _ => return Err(format!("Unsupported record intrinsic {name}")),
    })
}

pub(crate) fn call_global(name: &str, args: &[Value]) -> EvalResult<Value> {
    match name {
        "range" => {
            let (start, stop, step) = match args.len() {
                0 => return Err("range requires arguments".into()),
                1 => (0.0, args[0].to_number(), 1.0),
                2 => (args[0].to_number(), args[1].to_number(), 1.0),
                _ => (
                    args[0].to_number(),
                    args[1].to_number(),
                    args[2].to_number(),
                ),
            };
            let mut items = Vec::new();
            let mut current = start;
            if step > 0.0 {
                while current < stop && items.len() < 1_000_000 {
                    items.push(Value::Number(current));
                    current += step;
                }
            } else if step < 0.0 {
                while current > stop && items.len() < 1_000_000 {
                    items.push(Value::Number(current));
                    current += step;
                }
            }
            Ok(Value::array(items))
        }
        "cycler" => Ok(Value::State(Rc::new(RefCell::new(Stateful::Cycler {
            items: args.to_vec(),
            position: 0,
        })))),
        "joiner" => Ok(Value::State(Rc::new(RefCell::new(Stateful::Joiner {
            separator: args
                .first()
                .map_or_else(|| ",".to_owned(), Value::to_js_string),
            used: false,
        })))),
        other => Err(format!(
            "Unable to call `{other}`, which is undefined or falsey"
        )),
    }
}

/// `target[start:stop:step]` (Nunjucks slices, Python-style).
pub(crate) fn slice_value(target: &Value, parts: &[Value; 3]) -> EvalResult<Value> {
    let items: Vec<Value> = match target {
        Value::Array(items) => items.borrow().clone(),
        Value::String(text) => text.chars().map(|c| Value::string(c.to_string())).collect(),
        _ => return Ok(Value::Undefined),
    };
    let len = items.len() as f64;
    let step = if parts[2].is_nullish() {
        1.0
    } else {
        parts[2].to_number()
    };
    let norm = |v: &Value, default: f64| {
        if v.is_nullish() {
            default
        } else {
            let n = v.to_number();
            if n < 0.0 {
                (len + n).max(0.0)
            } else {
                n.min(len)
            }
        }
    };
    let mut out = Vec::new();
    if step > 0.0 {
        let mut i = norm(&parts[0], 0.0);
        let stop = norm(&parts[1], len);
        while i < stop {
            out.push(items[i as usize].clone());
            i += step;
        }
    } else if step < 0.0 {
        let mut i = if parts[0].is_nullish() {
            len - 1.0
        } else {
            norm(&parts[0], len - 1.0).min(len - 1.0)
        };
        let stop = if parts[1].is_nullish() {
            -1.0
        } else {
            norm(&parts[1], -1.0)
        };
        while i > stop {
            out.push(items[i as usize].clone());
            i += step;
        }
    }
    // A sliced string is an array of its characters, as nunjitsu gives it.
    Ok(Value::array(out))
}

fn keyword<'v>(keyword: &'v [(String, Value)], name: &str) -> Option<&'v Value> {
    keyword
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn text_of(input: &Value) -> String {
    if input.is_nullish() {
        String::new()
    } else {
        input.to_js_string()
    }
}

fn spaces(n: f64) -> String {
    // nunjitsu's `repeatSpaces`: a fractional count rounds up.
    if n.is_finite() && n > 0.0 {
        " ".repeat(n.ceil() as usize)
    } else {
        String::new()
    }
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' => out.push_str("&#92;"),
            other => out.push(other),
        }
    }
    out
}

fn encode_uri_component(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn strip_tags(text: &str) -> String {
    static TAGS: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let Some(tags) =
        TAGS.get_or_init(|| regex::Regex::new(r"(?is)</?([a-z][a-z0-9]*)\b[^>]*>|<!--.*?-->").ok())
    else {
        return text.to_owned();
    };
    let mut current = text.to_owned();
    for _ in 0..8 {
        let next = tags.replace_all(&current, "").into_owned();
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn as_items(input: &Value) -> Vec<Value> {
    match input {
        Value::Array(items) => items.borrow().clone(),
        Value::String(text) => text.chars().map(|c| Value::string(c.to_string())).collect(),
        Value::Record(entries) => entries.values().cloned().collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn apply_filter(
    name: &str,
    input: Value,
    args: &[Value],
    keywords: &[(String, Value)],
) -> EvalResult<Value> {
    let first = arg(args, 0);
    let second = arg(args, 1);
    Ok(match name {
        "abs" => Value::Number(input.to_number().abs()),
        "capitalize" => {
            let text = text_of(&input).to_lowercase();
            let mut chars = text.chars();
            Value::string(match chars.next() {
                Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
                None => String::new(),
            })
        }
        "center" => {
            let text = text_of(&input);
            let width = if first.truthy() {
                first.to_number()
            } else {
                80.0
            };
            let length = text.encode_utf16().count() as f64;
            if length >= width {
                Value::string(text)
            } else {
                let pad = width - length;
                Value::string(format!(
                    "{}{text}{}",
                    spaces(pad / 2.0 - pad % 2.0),
                    spaces(pad / 2.0)
                ))
            }
        }
        "default" | "d" => {
            let boolean = keyword(keywords, "boolean").cloned().unwrap_or(second);
            if boolean.truthy() {
                if input.truthy() { input } else { first }
            } else if input.is_undefined() {
                first
            } else {
                input
            }
        }
        "dump" => {
            let indent = match &first {
                Value::Number(n) => " ".repeat(n.clamp(0.0, 10.0) as usize),
                Value::String(text) => text.chars().take(10).collect(),
                _ => String::new(),
            };
            input
                .json_stringify(&indent)
                .map_or(Value::Undefined, Value::string)
        }
        "escape" | "e" | "forceescape" => Value::string(html_escape(&input.render())),
        "safe" => Value::string(input.render()),
        "first" => match &input {
            Value::Array(items) => items.borrow().first().cloned().unwrap_or(Value::Undefined),
            Value::String(text) => text
                .chars()
                .next()
                .map_or(Value::Undefined, |c| Value::string(c.to_string())),
            _ => Value::Undefined,
        },
        "last" => match &input {
            Value::Array(items) => items.borrow().last().cloned().unwrap_or(Value::Undefined),
            Value::String(text) => text
                .chars()
                .last()
                .map_or(Value::Undefined, |c| Value::string(c.to_string())),
            _ => Value::Undefined,
        },
        "float" => {
            let parsed = parse_float_prefix(&input.to_js_string());
            if parsed.is_nan() {
                first
            } else {
                Value::Number(parsed)
            }
        }
        "int" => {
            let fallback = keyword(keywords, "default").cloned().unwrap_or(first);
            let base = keyword(keywords, "base").cloned().unwrap_or(second);
            let radix = if base.is_undefined() {
                10
            } else {
                base.to_number().trunc() as u32
            };
            let parsed = parse_int_prefix(&input.to_js_string(), radix);
            if parsed.is_nan() {
                fallback
            } else {
                Value::Number(parsed)
            }
        }
        "join" => {
            let separator = if first.truthy() {
                first.to_js_string()
            } else {
                String::new()
            };
            let items = as_items(&input);
            let items: Vec<Value> = if second.is_undefined() {
                items
            } else {
                items
                    .iter()
                    .map(|item| member(item, &second))
                    .collect::<EvalResult<_>>()?
            };
            Value::string(
                items
                    .iter()
                    .map(|item| {
                        if item.is_nullish() {
                            String::new()
                        } else {
                            item.to_js_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(&separator),
            )
        }
        "length" => match &input {
            Value::Array(items) => Value::Number(items.borrow().len() as f64),
            Value::String(text) => Value::Number(text.encode_utf16().count() as f64),
            Value::Record(entries) => Value::Number(entries.len() as f64),
            _ => Value::Number(0.0),
        },
        "list" => match &input {
            Value::String(text) => {
                Value::array(text.chars().map(|c| Value::string(c.to_string())).collect())
            }
            Value::Array(items) => Value::array(items.borrow().clone()),
            Value::Record(entries) => Value::array(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let mut pair = IndexMap::new();
                        pair.insert("key".to_owned(), Value::string(k.as_str()));
                        pair.insert("value".to_owned(), v.clone());
                        Value::record(pair)
                    })
                    .collect(),
            ),
            _ => return Err("list filter: type not iterable".into()),
        },
        "lower" => Value::string(text_of(&input).to_lowercase()),
        "upper" => Value::string(text_of(&input).to_uppercase()),
        "nl2br" => Value::string(
            text_of(&input)
                .replace("\r\n", "<br />\n")
                .replace('\n', "<br />\n"),
        ),
        "replace" => {
            let text = input.to_js_string();
            match &first {
                Value::Regex(regex) => {
                    Value::string(regex_replace(&text, regex, &second.to_js_string()))
                }
                _ => {
                    let from = first.to_js_string();
                    let to = second.to_js_string();
                    let max = arg(args, 2);
                    if max.is_undefined() {
                        if from.is_empty() {
                            let mut out = to.clone();
                            for c in text.chars() {
                                out.push(c);
                                out.push_str(&to);
                            }
                            Value::string(out)
                        } else {
                            Value::string(text.replace(&from, &to))
                        }
                    } else {
                        Value::string(text.replacen(&from, &to, max.to_number().max(0.0) as usize))
                    }
                }
            }
        }
        "reverse" => match &input {
            Value::String(text) => Value::string(text.chars().rev().collect::<String>()),
            Value::Array(items) => Value::array(items.borrow().iter().rev().cloned().collect()),
            Value::Record(entries) => Value::array(entries.values().rev().cloned().collect()),
            _ => Value::array(Vec::new()),
        },
        "round" => {
            let precision = if first.truthy() {
                first.to_number()
            } else {
                0.0
            };
            let factor = 10f64.powf(precision);
            let x = input.to_number() * factor;
            let rounded = match second.to_js_string().as_str() {
                "ceil" => x.ceil(),
                "floor" => x.floor(),
                _ => (x + 0.5).floor(),
            };
            Value::Number(rounded / factor)
        }
        "string" => {
            if input.is_nullish() {
                return Err("string requires a value".into());
            }
            Value::string(input.render())
        }
        "striptags" => {
            let stripped = strip_tags(&text_of(&input));
            let stripped = stripped.trim();
            if first.truthy() {
                let lines: Vec<String> = stripped
                    .lines()
                    .map(|l| {
                        let t = l.trim_matches(' ');
                        let mut out = String::new();
                        let mut last_space = false;
                        for c in t.chars() {
                            if c == ' ' {
                                if !last_space {
                                    out.push(' ');
                                }
                                last_space = true;
                            } else {
                                out.push(c);
                                last_space = false;
                            }
                        }
                        out
                    })
                    .collect();
                let mut joined = lines.join("\n");
                while joined.contains("\n\n\n") {
                    joined = joined.replace("\n\n\n", "\n\n");
                }
                Value::string(joined)
            } else {
                Value::string(stripped.split_whitespace().collect::<Vec<_>>().join(" "))
            }
        }
        "sum" => {
            let items = as_items(&input);
            let mut total = if second.is_undefined() {
                Value::Number(0.0)
            } else {
                second
            };
            for item in items {
                let item = if first.is_undefined() {
                    item
                } else {
                    member(&item, &first)?
                };
                total = super::eval::binary("+", &total, &item);
            }
            total
        }
        "sort" => {
            let reverse = keyword(keywords, "reverse")
                .cloned()
                .unwrap_or(first)
                .truthy();
            let case_sensitive = keyword(keywords, "case_sensitive")
                .cloned()
                .unwrap_or(second)
                .truthy();
            let attribute = keyword(keywords, "attribute")
                .cloned()
                .unwrap_or_else(|| arg(args, 2));
            let mut items = as_items(&input);
            let key = |item: &Value| -> Value {
                let value = if attribute.is_undefined() {
                    item.clone()
                } else {
                    member(item, &attribute).unwrap_or(Value::Undefined)
                };
                match value {
                    Value::String(text) if !case_sensitive => Value::string(text.to_lowercase()),
                    other => other,
                }
            };
            items.sort_by(|a, b| {
                let (ka, kb) = (key(a), key(b));
                let ordering = if compare(&ka, ">", &kb) {
                    std::cmp::Ordering::Greater
                } else if compare(&ka, "<", &kb) {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Equal
                };
                if reverse {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
            Value::array(items)
        }
        "title" => Value::string(
            text_of(&input)
                .split(' ')
                .map(|word| {
                    let lower = word.to_lowercase();
                    let mut chars = lower.chars();
                    match chars.next() {
                        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
                        None => String::new(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "trim" => Value::string(input.to_js_string().trim()),
        "truncate" => {
            let text = text_of(&input);
            let length = if first.truthy() {
                first.to_number()
            } else {
                255.0
            };
            let units = utf16(&text);
            if units.len() as f64 <= length {
                Value::string(text)
            } else {
                let cut = length.max(0.0) as usize;
                let truncated = if second.truthy() {
                    String::from_utf16_lossy(&units[..cut.min(units.len())])
                } else {
                    let limit = cut.min(units.len() - 1);
                    let index = (0..=limit).rev().find(|&i| units[i] == u16::from(b' '));
                    String::from_utf16_lossy(&units[..index.unwrap_or(cut).min(units.len())])
                };
                let end = arg(args, 2);
                let end = if end.is_nullish() {
                    "...".to_owned()
                } else {
                    end.to_js_string()
                };
                Value::string(truncated + &end)
            }
        }
        "urlencode" => match &input {
            Value::String(text) => Value::string(encode_uri_component(text)),
            Value::Record(entries) => Value::string(
                entries
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            encode_uri_component(k),
                            encode_uri_component(&v.to_js_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            Value::Array(items) => Value::string(
                items
                    .borrow()
                    .iter()
                    .map(|pair| {
                        let key = member(pair, &Value::Number(0.0)).unwrap_or(Value::Undefined);
                        let value = member(pair, &Value::Number(1.0)).unwrap_or(Value::Undefined);
                        format!(
                            "{}={}",
                            encode_uri_component(&key.to_js_string()),
                            encode_uri_component(&value.to_js_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            _ => Value::string(""),
        },
        "wordcount" => {
            if !input.truthy() {
                Value::Null
            } else {
                let count = text_of(&input)
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .count();
                if count == 0 {
                    Value::Null
                } else {
                    Value::Number(count as f64)
                }
            }
        }
        "indent" => {
            let text = text_of(&input);
            if text.is_empty() {
                return Ok(Value::string(""));
            }
            let width = if first.truthy() {
                first.to_number()
            } else {
                4.0
            };
            let indentation = spaces(width);
            let lines: Vec<String> = text
                .split('\n')
                .enumerate()
                .map(|(i, line)| {
                    if i == 0 && !second.truthy() {
                        line.to_owned()
                    } else {
                        format!("{indentation}{line}")
                    }
                })
                .collect();
            Value::string(lines.join("\n"))
        }
        "batch" => {
            let size = first.to_number().max(1.0) as usize;
            let items = as_items(&input);
            let mut out = Vec::new();
            for chunk in items.chunks(size) {
                let mut chunk = chunk.to_vec();
                if chunk.len() < size && !second.is_undefined() {
                    chunk.resize(size, second.clone());
                }
                out.push(Value::array(chunk));
            }
            Value::array(out)
        }
        "select" | "reject" => {
            let keep = name == "select";
            let mut out = Vec::new();
            for item in as_items(&input) {
                let passed = if first.is_undefined() {
                    item.truthy()
                } else {
                    apply_test(&first.to_js_string(), &item, &args[1..])?
                };
                if passed == keep {
                    out.push(item);
                }
            }
            Value::array(out)
        }
        "selectattr" | "rejectattr" => {
            // nunjucks 3.2.4 takes only the attribute: a test given after it is ignored.
            let keep = name == "selectattr";
            let mut out = Vec::new();
            for item in as_items(&input) {
                let passed = member(&item, &first)?.truthy();
                if passed == keep {
                    out.push(item);
                }
            }
            Value::array(out)
        }
        "dictsort" => {
            let Value::Record(entries) = &input else {
                return Err("dictsort filter: val must be an object".into());
            };
            let by_value = second.to_js_string() == "value";
            let case_sensitive = first.truthy();
            let mut pairs: Vec<(String, Value)> = entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            pairs.sort_by(|(ka, va), (kb, vb)| {
                let (a, b) = if by_value {
                    (va.clone(), vb.clone())
                } else {
                    (Value::string(ka.as_str()), Value::string(kb.as_str()))
                };
                let norm = |v: Value| match v {
                    Value::String(t) if !case_sensitive => Value::string(t.to_lowercase()),
                    other => other,
                };
                let (a, b) = (norm(a), norm(b));
                if compare(&a, ">", &b) {
                    std::cmp::Ordering::Greater
                } else if compare(&a, "==", &b) {
                    std::cmp::Ordering::Equal
                } else {
                    std::cmp::Ordering::Less
                }
            });
            Value::array(
                pairs
                    .into_iter()
                    .map(|(k, v)| Value::array(vec![Value::string(k), v]))
                    .collect(),
            )
        }
        "groupby" => {
            let mut groups: IndexMap<String, Vec<Value>> = IndexMap::new();
            for item in as_items(&input) {
                let key = member(&item, &first)?.to_js_string();
                groups.entry(key).or_default().push(item);
            }
            Value::record(
                groups
                    .into_iter()
                    .map(|(k, v)| (k, Value::array(v)))
                    .collect(),
            )
        }
        // Backstage's filters.
        "parseRepoUrl" => {
            let parsed = parse_repo_url(&input.to_js_string())?;
            let mut record = IndexMap::new();
            record.insert("host".to_owned(), Value::string(parsed.host));
            let optional = |v: Option<String>| v.map_or(Value::Undefined, Value::string);
            record.insert("owner".to_owned(), optional(parsed.owner));
            record.insert("repo".to_owned(), Value::string(parsed.repo));
            record.insert("organization".to_owned(), optional(parsed.organization));
            record.insert("workspace".to_owned(), optional(parsed.workspace));
            record.insert("project".to_owned(), optional(parsed.project));
            Value::record(record)
        }
        "parseEntityRef" => {
            let option = |key: &str| {
                member(&first, &Value::string(key))
                    .ok()
                    .filter(|v| !v.is_nullish())
                    .map(|v| v.to_js_string())
            };
            let (kind, namespace, name) = match &input {
                Value::Record(entries) => (
                    entries
                        .get("kind")
                        .filter(|v| !v.is_nullish())
                        .map(Value::to_js_string),
                    entries
                        .get("namespace")
                        .filter(|v| !v.is_nullish())
                        .map(Value::to_js_string),
                    entries
                        .get("name")
                        .map(Value::to_js_string)
                        .unwrap_or_default(),
                ),
                other => {
                    let parsed = parse_ref_string(&other.to_js_string())?;
                    (parsed.kind, parsed.namespace, parsed.name)
                }
            };
            let kind = kind.or_else(|| option("defaultKind"));
            let namespace = namespace
                .or_else(|| option("defaultNamespace").filter(|n| !n.is_empty()))
                .unwrap_or_else(|| "default".to_owned());
            let textual = input.json_stringify("").unwrap_or_default();
            let kind = kind.filter(|k| !k.is_empty()).ok_or_else(|| {
                format!("Entity reference {textual} had missing or empty kind (e.g. did not start with \"component:\" or similar)")
            })?;
            if name.is_empty() {
                return Err(format!(
                    "Entity reference {textual} had missing or empty name"
                ));
            }
            let mut record = IndexMap::new();
            record.insert("kind".to_owned(), Value::string(kind));
            record.insert("namespace".to_owned(), Value::string(namespace));
            record.insert("name".to_owned(), Value::string(name));
            Value::record(record)
        }
        "pick" => {
            let mut current = input;
            for segment in first
                .to_js_string()
                .split(['.', '[', ']'])
                .filter(|s| !s.is_empty())
            {
                let segment = segment.trim_matches(['"', '\'']);
                current = member(&current, &Value::string(segment))?;
                if current.is_undefined() {
                    break;
                }
            }
            current
        }
        "projectSlug" => {
            let parsed = parse_repo_url(&input.to_js_string())?;
            Value::string(format!(
                "{}/{}",
                parsed.owner.unwrap_or_default(),
                parsed.repo
            ))
        }
        other => return Err(format!("filter not found: {other}")),
    })
}

pub(crate) fn apply_test(name: &str, value: &Value, args: &[Value]) -> EvalResult<bool> {
    let first = arg(args, 0);
    Ok(match name {
        "defined" => !value.is_undefined(),
        "undefined" => value.is_undefined(),
        "null" | "none" => matches!(value, Value::Null),
        "number" => matches!(value, Value::Number(_)),
        "string" => matches!(value, Value::String(_)),
        "callable" => value.is_callable(),
        "mapping" => matches!(value, Value::Record(_)),
        "iterable" => matches!(value, Value::Array(_) | Value::String(_)),
        "odd" => value.to_number() % 2.0 == 1.0,
        "even" => value.to_number() % 2.0 == 0.0,
        "divisibleby" => value.to_number() % first.to_number() == 0.0,
        "escaped" => false,
        "equalto" | "eq" | "sameas" => value.strict_eq(&first),
        "ne" => !value.strict_eq(&first),
        "truthy" => value.truthy(),
        "falsy" => !value.truthy(),
        "gt" | "greaterthan" => compare(value, ">", &first),
        "ge" => compare(value, ">=", &first),
        "lt" | "lessthan" => compare(value, "<", &first),
        "le" => compare(value, "<=", &first),
        "lower" => matches!(value, Value::String(t) if t.to_lowercase() == **t),
        "upper" => matches!(value, Value::String(t) if t.to_uppercase() == **t),
        other => return Err(format!("test not found: {other}")),
    })
}
