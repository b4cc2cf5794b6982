//! Runtime values with JavaScript semantics, as Nunjucks (and Backstage's nunjitsu) see them:
//! `undefined` beside `null`, one number type, insertion-ordered records, `String(v)` rendering.

use std::cell::RefCell;
use std::rc::Rc;

use indexmap::IndexMap;
use serde_json::{Map, Number, Value as Json};

/// A compiled regular-expression literal (`r/…/flags`).
#[derive(Debug)]
pub(crate) struct JsRegex {
    pub source: String,
    pub flags: String,
    pub compiled: fancy_regex::Regex,
}

/// Mutable state of a `cycler(…)` or `joiner(…)` object.
#[derive(Debug)]
pub(crate) enum Stateful {
    Cycler { items: Vec<Value>, position: usize },
    Joiner { separator: String, used: bool },
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(Rc<str>),
    Array(Rc<RefCell<Vec<Value>>>),
    Record(Rc<IndexMap<String, Value>>),
    Regex(Rc<JsRegex>),
    /// A method looked up on a value, called later (`s.split`).
    Method(Rc<(Value, String)>),
    /// A global function (`range`, `cycler`, `joiner`).
    Global(&'static str),
    State(Rc<RefCell<Stateful>>),
}

impl Value {
    pub fn string(text: impl Into<Rc<str>>) -> Value {
        Value::String(text.into())
    }

    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Rc::new(RefCell::new(items)))
    }

    /// An object, its keys in JavaScript's property order: array-index keys (`"0"`, `"12"`)
    /// first in ascending order, then the others as inserted.
    pub fn record(mut entries: IndexMap<String, Value>) -> Value {
        if entries.keys().any(|key| array_index(key).is_some()) {
            entries.sort_by_cached_key(|key, _| array_index(key).map_or((1, 0), |i| (0, i)));
        }
        Value::Record(Rc::new(entries))
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    pub fn is_nullish(&self) -> bool {
        matches!(self, Value::Undefined | Value::Null)
    }

    /// JavaScript truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Undefined | Value::Null => false,
            Value::Bool(flag) => *flag,
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::String(text) => !text.is_empty(),
            _ => true,
        }
    }

    pub fn is_callable(&self) -> bool {
        matches!(self, Value::Method(_) | Value::Global(_) | Value::State(_))
            && !matches!(self, Value::State(s) if matches!(&*s.borrow(), Stateful::Cycler { .. }))
    }

    /// ToPrimitive: arrays join with `,`, records are `[object Object]`.
    pub fn to_primitive(&self) -> Value {
        match self {
            Value::Undefined
            | Value::Null
            | Value::Bool(_)
            | Value::Number(_)
            | Value::String(_) => self.clone(),
            other => Value::string(other.render()),
        }
    }

    /// `String(v)`: `undefined`, `null`, `true`, `1.5`, `a,b`.
    pub fn to_js_string(&self) -> String {
        match self {
            Value::Undefined => "undefined".to_owned(),
            Value::Null => "null".to_owned(),
            other => other.render(),
        }
    }

    /// What `${{ v }}` prints: nothing for undefined/null, else `String(v)`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    pub fn render_into(&self, out: &mut String) {
        match self {
            Value::Undefined | Value::Null => {}
            Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&number_to_string(*n)),
            Value::String(text) => out.push_str(text),
            Value::Array(items) => {
                for (index, item) in items.borrow().iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    item.render_into(out);
                }
            }
            Value::Record(_) => out.push_str("[object Object]"),
            Value::Regex(regex) => {
                out.push('/');
                out.push_str(if regex.source.is_empty() {
                    "(?:)"
                } else {
                    &regex.source
                });
                out.push('/');
                for flag in ['g', 'i', 'm', 'y'] {
                    if regex.flags.contains(flag) {
                        out.push(flag);
                    }
                }
            }
            Value::Method(_) | Value::Global(_) => out.push_str("function"),
            Value::State(_) => out.push_str("[object Object]"),
        }
    }

    /// ToNumber.
    pub fn to_number(&self) -> f64 {
        match self.to_primitive() {
            Value::Undefined => f64::NAN,
            Value::Null => 0.0,
            Value::Bool(flag) => f64::from(u8::from(flag)),
            Value::Number(n) => n,
            Value::String(text) => string_to_number(&text),
            _ => f64::NAN,
        }
    }

    /// JavaScript `==`.
    pub fn loose_eq(&self, other: &Value) -> bool {
        if self.strict_eq(other) {
            return true;
        }
        let left_primitive = self.is_primitive();
        let right_primitive = other.is_primitive();
        if !left_primitive && !right_primitive {
            return false;
        }
        primitive_loose_eq(&self.to_primitive(), &other.to_primitive())
    }

    fn is_primitive(&self) -> bool {
        matches!(
            self,
            Value::Undefined | Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)
        )
    }

    /// JavaScript `===` (objects by identity).
    pub fn strict_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => Rc::ptr_eq(a, b),
            (Value::Record(a), Value::Record(b)) => Rc::ptr_eq(a, b),
            (Value::Regex(a), Value::Regex(b)) => Rc::ptr_eq(a, b),
            (Value::State(a), Value::State(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The relational comparison `<` as -1/0/1, `None` when incomparable (NaN).
    pub fn order(&self, other: &Value) -> Option<std::cmp::Ordering> {
        let left = self.to_primitive();
        let right = other.to_primitive();
        if let (Value::String(a), Value::String(b)) = (&left, &right) {
            return Some(compare_utf16(a, b));
        }
        left.to_number().partial_cmp(&right.to_number())
    }

    pub fn from_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(flag) => Value::Bool(*flag),
            Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(text) => Value::string(text.as_str()),
            Json::Array(items) => Value::array(items.iter().map(Value::from_json).collect()),
            Json::Object(entries) => Value::record(
                entries
                    .iter()
                    .map(|(key, item)| (key.clone(), Value::from_json(item)))
                    .collect(),
            ),
        }
    }

    /// `JSON.parse(JSON.stringify(v))`: `None` for undefined (and functions).
    pub fn to_json(&self) -> Option<Json> {
        Some(match self {
            Value::Undefined | Value::Method(_) | Value::Global(_) => return None,
            Value::Null => Json::Null,
            Value::Bool(flag) => Json::Bool(*flag),
            Value::Number(n) => number_to_json(*n),
            Value::String(text) => Json::String(text.to_string()),
            Value::Array(items) => Json::Array(
                items
                    .borrow()
                    .iter()
                    .map(|item| item.to_json().unwrap_or(Json::Null))
                    .collect(),
            ),
            Value::Record(entries) => Json::Object(
                entries
                    .iter()
                    .filter_map(|(key, item)| item.to_json().map(|json| (key.clone(), json)))
                    .collect::<Map<_, _>>(),
            ),
            Value::Regex(_) | Value::State(_) => Json::Object(Map::new()),
        })
    }

    /// `JSON.stringify(v, null, indent)`; `None` for undefined.
    pub fn json_stringify(&self, indent: &str) -> Option<String> {
        let mut out = String::new();
        if !stringify_into(self, indent, 0, &mut out) {
            return None;
        }
        Some(out)
    }
}

fn stringify_into(value: &Value, indent: &str, depth: usize, out: &mut String) -> bool {
    let newline = |out: &mut String, depth: usize| {
        if !indent.is_empty() {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(indent);
            }
        }
    };
    match value {
        Value::Undefined | Value::Method(_) | Value::Global(_) => return false,
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(n) if n.is_finite() => out.push_str(&number_to_string(*n)),
        Value::Number(_) => out.push_str("null"),
        Value::String(text) => push_json_string(text, out),
        Value::Array(items) => {
            let items = items.borrow();
            if items.is_empty() {
                out.push_str("[]");
                return true;
            }
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                if !stringify_into(item, indent, depth + 1, out) {
                    out.push_str("null");
                }
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Record(entries) => {
            let mut first = true;
            out.push('{');
            for (key, item) in entries.iter() {
                if matches!(item, Value::Undefined | Value::Method(_) | Value::Global(_)) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                newline(out, depth + 1);
                push_json_string(key, out);
                out.push(':');
                if !indent.is_empty() {
                    out.push(' ');
                }
                stringify_into(item, indent, depth + 1, out);
            }
            if !first {
                newline(out, depth);
            }
            out.push('}');
        }
        Value::Regex(_) | Value::State(_) => out.push_str("{}"),
    }
    true
}

fn push_json_string(text: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}

fn primitive_loose_eq(left: &Value, right: &Value) -> bool {
    if left.strict_eq(right) {
        return true;
    }
    match (left, right) {
        (Value::Undefined | Value::Null, other) | (other, Value::Undefined | Value::Null) => {
            other.is_nullish()
        }
        (Value::Bool(flag), other) => {
            primitive_loose_eq(&Value::Number(f64::from(u8::from(*flag))), other)
        }
        (other, Value::Bool(flag)) => {
            primitive_loose_eq(other, &Value::Number(f64::from(u8::from(*flag))))
        }
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            *n == string_to_number(s)
        }
        _ => false,
    }
}

fn compare_utf16(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `Number(text)`.
pub(crate) fn string_to_number(text: &str) -> f64 {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return 0.0;
    }
    let radix = |prefix: &[&str], radix: u32| {
        prefix
            .iter()
            .find_map(|p| trimmed.strip_prefix(p))
            .map(|digits| {
                u64::from_str_radix(digits, radix)
                    .map(|n| n as f64)
                    .unwrap_or(f64::NAN)
            })
    };
    if let Some(n) = radix(&["0x", "0X"], 16)
        .or_else(|| radix(&["0o", "0O"], 8))
        .or_else(|| radix(&["0b", "0B"], 2))
    {
        return n;
    }
    match trimmed {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    if trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        trimmed.parse::<f64>().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

/// `parseFloat(text)`: the longest numeric prefix.
pub(crate) fn parse_float_prefix(text: &str) -> f64 {
    let trimmed = text.trim_start();
    if trimmed.starts_with("Infinity") || trimmed.starts_with("+Infinity") {
        return f64::INFINITY;
    }
    if trimmed.starts_with("-Infinity") {
        return f64::NEG_INFINITY;
    }
    let mut best = f64::NAN;
    let chars: Vec<(usize, char)> = trimmed.char_indices().collect();
    for (index, _) in chars.iter().rev() {
        let candidate = &trimmed[..=*index];
        if candidate.ends_with(['e', 'E', '+', '-', '.']) && candidate.len() > 1 {
            continue;
        }
        if let Ok(n) = candidate.parse::<f64>()
            && candidate
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        {
            best = n;
            break;
        }
    }
    best
}

/// `parseInt(text, radix)`.
pub(crate) fn parse_int_prefix(text: &str, radix: u32) -> f64 {
    let trimmed = text.trim_start();
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let (radix, digits) = if radix == 16 || radix == 0 {
        match digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            Some(rest) => (16, rest),
            None => (if radix == 0 { 10 } else { radix }, digits),
        }
    } else {
        (radix, digits)
    };
    if !(2..=36).contains(&radix) {
        return f64::NAN;
    }
    let mut value = 0f64;
    let mut any = false;
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => {
                value = value * f64::from(radix) + f64::from(d);
                any = true;
            }
            None => break,
        }
    }
    if !any {
        return f64::NAN;
    }
    if negative { -value } else { value }
}

fn number_to_json(n: f64) -> Json {
    if !n.is_finite() {
        return Json::Null;
    }
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        // Integers stay integers, so `3` is not written `3.0` downstream.
        #[allow(clippy::cast_possible_truncation)]
        return Json::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Json::Null, Json::Number)
}

/// The index a property key denotes when it is a canonical array index (`0`..`2^32 - 2`).
fn array_index(key: &str) -> Option<u32> {
    let index: u32 = key.parse().ok()?;
    (index != u32::MAX && index.to_string() == key).then_some(index)
}

/// `Number.prototype.toString()`: shortest round-trip digits, laid out as ECMAScript does.
pub(crate) fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if n == 0.0 {
        return "0".to_owned();
    }
    let sign = if n < 0.0 { "-" } else { "" };
    // `{:e}` gives the shortest digits that round-trip, as `d.ddde±x`.
    let scientific = format!("{:e}", n.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let k = i32::try_from(digits.len()).unwrap_or(1);
    let point = exponent + 1; // position of the decimal point relative to the digits
    let body = if k <= point && point <= 21 {
        format!(
            "{digits}{}",
            "0".repeat(usize::try_from(point - k).unwrap_or(0))
        )
    } else if 0 < point && point <= 21 {
        let split = usize::try_from(point).unwrap_or(0);
        format!("{}.{}", &digits[..split], &digits[split..])
    } else if -6 < point && point <= 0 {
        format!(
            "0.{}{digits}",
            "0".repeat(usize::try_from(-point).unwrap_or(0))
        )
    } else {
        let e = point - 1;
        let sign_e = if e < 0 { '-' } else { '+' };
        if k == 1 {
            format!("{digits}e{sign_e}{}", e.abs())
        } else {
            format!("{}.{}e{sign_e}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::number_to_string;

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        for (n, text) in [
            (3.0, "3"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (-2.5, "-2.5"),
            (123456.789, "123456.789"),
        ] {
            assert_eq!(number_to_string(n), text);
        }
    }
}
