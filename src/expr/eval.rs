//! Tree-walking interpreter for parsed templates, with JavaScript value semantics.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use indexmap::IndexMap;

use super::builtins;
use super::parse::{Args, Expr, Literal, Node};
use super::value::{JsRegex, Stateful, Value};

pub(crate) type EvalResult<T> = Result<T, String>;

/// Evaluated call arguments: positional, then `name=value` ones.
type EvaluatedArgs = (Vec<Value>, Vec<(String, Value)>);

/// Where rendered text goes. At the root of a value being coerced to JSON, expression output is
/// also written JSON-encoded (`encoded`), as nunjitsu's `coercion: 'json'` does.
pub(crate) struct Out {
    pub normal: String,
    pub encoded: Option<String>,
}

impl Out {
    pub fn plain() -> Out {
        Out {
            normal: String::new(),
            encoded: None,
        }
    }

    fn text(&mut self, text: &str) {
        self.normal.push_str(text);
        if let Some(encoded) = &mut self.encoded {
            encoded.push_str(text);
        }
    }
}

pub(crate) struct Interpreter<'c> {
    context: &'c Value,
    syntax: super::Syntax,
    frames: Vec<HashMap<String, Value>>,
    depth: usize,
}

const MAX_DEPTH: usize = 200;

impl<'c> Interpreter<'c> {
    pub fn new(context: &'c Value, syntax: super::Syntax) -> Interpreter<'c> {
        Interpreter {
            context,
            syntax,
            frames: vec![HashMap::new()],
            depth: 0,
        }
    }

    pub fn render_nodes(&mut self, nodes: &[Node], out: &mut Out) -> EvalResult<()> {
        for node in nodes {
            self.render_node(node, out)?;
        }
        Ok(())
    }

    fn render_node(&mut self, node: &Node, out: &mut Out) -> EvalResult<()> {
        match node {
            Node::Text(text) => out.text(text),
            Node::Output(expr) => {
                let value = self.eval(expr)?;
                if value.is_callable() {
                    return Err("Callable values cannot be rendered".into());
                }
                value.render_into(&mut out.normal);
                if let Some(encoded) = &mut out.encoded {
                    encoded.push_str(&value.json_stringify("").unwrap_or_default());
                }
            }
            Node::If(branches, otherwise) => {
                for (condition, body) in branches {
                    if self.eval(condition)?.truthy() {
                        return self.render_nodes(body, out);
                    }
                }
                if let Some(body) = otherwise {
                    self.render_nodes(body, out)?;
                }
            }
            Node::For {
                targets,
                iterable,
                body,
                otherwise,
            } => self.render_for(targets, iterable, body, otherwise.as_deref(), out)?,
            Node::Set(targets, expr) => {
                let value = self.eval(expr)?;
                for target in targets {
                    self.assign(target, value.clone());
                }
            }
            Node::SetBlock(target, body) => {
                let mut captured = Out::plain();
                self.render_nodes(body, &mut captured)?;
                self.assign(target, Value::string(captured.normal));
            }
            Node::FilterBlock(name, args, body) => {
                let mut captured = Out::plain();
                self.render_nodes(body, &mut captured)?;
                let (positional, keyword) = self.eval_args(args)?;
                let value = builtins::apply_filter(
                    name,
                    Value::string(captured.normal),
                    &positional,
                    &keyword,
                )?;
                out.text(&value.render());
            }
        }
        Ok(())
    }

    fn assign(&mut self, name: &str, value: Value) {
        if let Some(frame) = self.frames.last_mut() {
            frame.insert(name.to_owned(), value);
        }
    }

    fn render_for(
        &mut self,
        targets: &[String],
        iterable: &Expr,
        body: &[Node],
        otherwise: Option<&[Node]>,
        out: &mut Out,
    ) -> EvalResult<()> {
        let value = self.eval(iterable)?;
        let items: Vec<Value> = match (&value, targets.len()) {
            (Value::Array(items), _) => items.borrow().clone(),
            (Value::Record(entries), 1) => match entries.get("length") {
                Some(length) => {
                    let n = length.to_number();
                    let mut items = Vec::new();
                    let mut index = 0f64;
                    while index < n {
                        items.push(
                            entries
                                .get(&super::value::number_to_string(index))
                                .cloned()
                                .unwrap_or(Value::Undefined),
                        );
                        index += 1.0;
                    }
                    items
                }
                None => Vec::new(),
            },
            (Value::Record(entries), _) => entries
                .iter()
                .map(|(key, item)| Value::array(vec![Value::string(key.as_str()), item.clone()]))
                .collect(),
            (Value::String(text), 1) => {
                text.chars().map(|c| Value::string(c.to_string())).collect()
            }
            (Value::String(text), _) => text
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    Value::array(vec![
                        Value::string(i.to_string()),
                        Value::string(c.to_string()),
                    ])
                })
                .collect(),
            _ => Vec::new(),
        };
        if items.is_empty() {
            if let Some(body) = otherwise {
                self.render_nodes(body, out)?;
            }
            return Ok(());
        }
        let length = items.len();
        self.frames.push(HashMap::new());
        let result = (|| {
            for (index, item) in items.into_iter().enumerate() {
                if targets.len() == 1 {
                    self.assign(&targets[0], item);
                } else {
                    if item.is_nullish() {
                        return Err("Cannot destructure a nullish loop value".to_owned());
                    }
                    for (position, target) in targets.iter().enumerate() {
                        let part = match &item {
                            Value::Array(parts) => parts
                                .borrow()
                                .get(position)
                                .cloned()
                                .unwrap_or(Value::Undefined),
                            Value::Record(entries) => entries
                                .get(&position.to_string())
                                .cloned()
                                .unwrap_or(Value::Undefined),
                            Value::String(text) => text
                                .chars()
                                .nth(position)
                                .map_or(Value::Undefined, |c| Value::string(c.to_string())),
                            _ => Value::Undefined,
                        };
                        self.assign(target, part);
                    }
                }
                self.assign("loop", loop_record(index, length));
                self.render_nodes(body, out)?;
            }
            Ok(())
        })();
        self.frames.pop();
        result
    }

    fn lookup(&self, name: &str) -> Value {
        for frame in self.frames.iter().rev() {
            if let Some(value) = frame.get(name) {
                return value.clone();
            }
        }
        if let Value::Record(entries) = self.context
            && let Some(value) = entries.get(name)
        {
            return value.clone();
        }
        match name {
            "range" | "cycler" | "joiner" => Value::Global(match name {
                "range" => "range",
                "cycler" => "cycler",
                _ => "joiner",
            }),
            _ => Value::Undefined,
        }
    }

    pub fn eval(&mut self, expr: &Expr) -> EvalResult<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Err("expression nested too deeply".into());
        }
        let result = self.eval_inner(expr);
        self.depth -= 1;
        result
    }

    fn eval_inner(&mut self, expr: &Expr) -> EvalResult<Value> {
        Ok(match expr {
            Expr::Literal(literal) => match literal {
                Literal::Null => Value::Null,
                Literal::Bool(flag) => Value::Bool(*flag),
                Literal::Number(n) => Value::Number(*n),
                Literal::String(text) => Value::string(text.as_str()),
            },
            Expr::Regex(pattern, flags) => Value::Regex(Rc::new(compile_regex(pattern, flags)?)),
            Expr::Name(name) => self.lookup(name),
            Expr::Array(items) => Value::array(
                items
                    .iter()
                    .map(|item| self.eval(item))
                    .collect::<EvalResult<Vec<_>>>()?,
            ),
            Expr::Dict(entries) => {
                let mut record = IndexMap::new();
                for (key, value) in entries {
                    let key = self.eval(key)?.to_js_string();
                    let value = self.eval(value)?;
                    record.insert(key, value);
                }
                Value::record(record)
            }
            Expr::Member(target, key) => {
                let target = self.eval(target)?;
                let key = self.eval(key)?;
                member(&target, &key)?
            }
            Expr::Slice(target, parts) => {
                let target = self.eval(target)?;
                let mut values = [Value::Undefined, Value::Undefined, Value::Undefined];
                for (slot, part) in values.iter_mut().zip(parts.iter()) {
                    if let Some(part) = part {
                        *slot = self.eval(part)?;
                    }
                }
                builtins::slice_value(&target, &values)?
            }
            Expr::Call(callee, args) => {
                let function = self.eval(callee)?;
                let (positional, keyword) = self.eval_args(args)?;
                match function {
                    Value::Method(method) => {
                        builtins::call_method(&method.0, &method.1, &positional)?
                    }
                    Value::Global(name) => builtins::call_global(name, &positional)?,
                    Value::State(state) => call_state(&state, None, &positional)?,
                    _ => {
                        return Err(format!(
                            "Unable to call `{}`, which is undefined or falsey",
                            callable_name(callee)
                        ));
                    }
                }
                .with_keyword(keyword)
            }
            Expr::Filter(target, name, args) => {
                let input = self.eval(target)?;
                let (positional, keyword) = self.eval_args(args)?;
                let name = if name == "jsonify" && self.syntax == super::Syntax::Jinja {
                    "dump"
                } else {
                    name.as_str()
                };
                builtins::apply_filter(name, input, &positional, &keyword)?
            }
            Expr::Test(target, name, args, negated) => {
                let value = self.eval(target)?;
                let args = args
                    .iter()
                    .map(|arg| self.eval(arg))
                    .collect::<EvalResult<Vec<_>>>()?;
                let result = builtins::apply_test(name, &value, &args)?;
                Value::Bool(result != *negated)
            }
            Expr::Unary(op, operand) => {
                let value = self.eval(operand)?.to_number();
                Value::Number(if *op == '-' { -value } else { value })
            }
            Expr::Not(operand) => Value::Bool(!self.eval(operand)?.truthy()),
            Expr::And(left, right) => {
                let left = self.eval(left)?;
                if left.truthy() {
                    self.eval(right)?
                } else {
                    left
                }
            }
            Expr::Or(left, right) => {
                let left = self.eval(left)?;
                if left.truthy() {
                    left
                } else {
                    self.eval(right)?
                }
            }
            Expr::In(needle, container, negated) => {
                let needle = self.eval(needle)?;
                let container = self.eval(container)?;
                Value::Bool(contains(&container, &needle)? != *negated)
            }
            Expr::Compare(first, rest) => {
                let mut left = self.eval(first)?;
                for (op, right) in rest {
                    let right = self.eval(right)?;
                    left = Value::Bool(compare(&left, op, &right));
                }
                left
            }
            Expr::Binary(op, left, right) => {
                let left = self.eval(left)?;
                let right = self.eval(right)?;
                binary(op, &left, &right)
            }
            Expr::InlineIf(condition, body, otherwise) => {
                if self.eval(condition)?.truthy() {
                    self.eval(body)?
                } else if let Some(otherwise) = otherwise {
                    self.eval(otherwise)?
                } else {
                    // Backstage ≥ 4.2.0: a false inline `if` without `else` is "".
                    Value::string("")
                }
            }
        })
    }

    fn eval_args(&mut self, args: &Args) -> EvalResult<EvaluatedArgs> {
        let positional = args
            .positional
            .iter()
            .map(|arg| self.eval(arg))
            .collect::<EvalResult<Vec<_>>>()?;
        let keyword = args
            .keyword
            .iter()
            .map(|(name, arg)| Ok((name.clone(), self.eval(arg)?)))
            .collect::<EvalResult<Vec<_>>>()?;
        Ok((positional, keyword))
    }
}

trait WithKeyword {
    fn with_keyword(self, keyword: Vec<(String, Value)>) -> Value;
}

impl WithKeyword for Value {
    fn with_keyword(self, _keyword: Vec<(String, Value)>) -> Value {
        self
    }
}

fn callable_name(expr: &Expr) -> String {
    match expr {
        Expr::Name(name) => name.clone(),
        Expr::Member(target, key) => match &**key {
            Expr::Literal(Literal::String(key)) => format!("{}[\"{key}\"]", callable_name(target)),
            _ => format!("{}[…]", callable_name(target)),
        },
        _ => "expression".to_owned(),
    }
}

fn loop_record(index: usize, length: usize) -> Value {
    let number = |n: usize| Value::Number(n as f64);
    let mut record = IndexMap::new();
    record.insert("index".to_owned(), number(index + 1));
    record.insert("index0".to_owned(), number(index));
    record.insert("revindex".to_owned(), number(length - index));
    record.insert("revindex0".to_owned(), number(length - index - 1));
    record.insert("first".to_owned(), Value::Bool(index == 0));
    record.insert("last".to_owned(), Value::Bool(index + 1 == length));
    record.insert("length".to_owned(), number(length));
    Value::record(record)
}

pub(crate) fn compile_regex(pattern: &str, flags: &str) -> EvalResult<JsRegex> {
    let mut prefix = String::new();
    if flags.contains('i') {
        prefix.push('i');
    }
    if flags.contains('m') {
        prefix.push('m');
    }
    let source = if prefix.is_empty() {
        pattern.to_owned()
    } else {
        format!("(?{prefix}){pattern}")
    };
    let compiled = fancy_regex::Regex::new(&source)
        .map_err(|err| format!("Invalid regular expression: /{pattern}/: {err}"))?;
    Ok(JsRegex {
        source: pattern.to_owned(),
        flags: flags.to_owned(),
        compiled,
    })
}

/// `target[key]` as Nunjucks' `memberLookup`: undefined on a nullish target, methods bound.
pub(crate) fn member(target: &Value, key: &Value) -> EvalResult<Value> {
    let key_text = key.to_js_string();
    Ok(match target {
        Value::Undefined | Value::Null => Value::Undefined,
        Value::String(text) => {
            if key_text == "length" {
                Value::Number(text.encode_utf16().count() as f64)
            } else if let Some(index) = array_index(&key_text) {
                let units: Vec<u16> = text.encode_utf16().collect();
                units.get(index).map_or(Value::Undefined, |unit| {
                    Value::string(String::from_utf16_lossy(&[*unit]))
                })
            } else if builtins::is_string_method(&key_text) {
                Value::Method(Rc::new((target.clone(), key_text)))
            } else {
                Value::Undefined
            }
        }
        Value::Array(items) => {
            if key_text == "length" {
                Value::Number(items.borrow().len() as f64)
            } else if let Some(index) = array_index(&key_text) {
                items
                    .borrow()
                    .get(index)
                    .cloned()
                    .unwrap_or(Value::Undefined)
            } else if builtins::is_array_method(&key_text) {
                Value::Method(Rc::new((target.clone(), key_text)))
            } else {
                Value::Undefined
            }
        }
        Value::Record(entries) => match entries.get(&key_text) {
            Some(value) => value.clone(),
            None if builtins::is_record_method(&key_text) => {
                Value::Method(Rc::new((target.clone(), key_text)))
            }
            None => Value::Undefined,
        },
        Value::Number(_) if builtins::is_number_method(&key_text) => {
            Value::Method(Rc::new((target.clone(), key_text)))
        }
        Value::Regex(regex) => match key_text.as_str() {
            "source" => Value::string(regex.source.as_str()),
            "flags" => Value::string(regex.flags.as_str()),
            "global" => Value::Bool(regex.flags.contains('g')),
            "test" | "exec" => Value::Method(Rc::new((target.clone(), key_text))),
            _ => Value::Undefined,
        },
        Value::State(state) => {
            let is_cycler = matches!(&*state.borrow(), Stateful::Cycler { .. });
            match key_text.as_str() {
                "current" if is_cycler => match &*state.borrow() {
                    Stateful::Cycler { items, position } => {
                        if *position == 0 {
                            Value::Null
                        } else {
                            items.get(position - 1).cloned().unwrap_or(Value::Null)
                        }
                    }
                    Stateful::Joiner { .. } => Value::Undefined,
                },
                "next" | "reset" if is_cycler => Value::Method(Rc::new((target.clone(), key_text))),
                _ => Value::Undefined,
            }
        }
        _ => Value::Undefined,
    })
}

fn array_index(key: &str) -> Option<usize> {
    let index = key.parse::<usize>().ok()?;
    (index.to_string() == key).then_some(index)
}

pub(crate) fn call_state(
    state: &Rc<RefCell<Stateful>>,
    method: Option<&str>,
    _args: &[Value],
) -> EvalResult<Value> {
    let mut state = state.borrow_mut();
    match (&mut *state, method) {
        (Stateful::Joiner { separator, used }, None) => {
            if *used {
                Ok(Value::string(separator.as_str()))
            } else {
                *used = true;
                Ok(Value::string(""))
            }
        }
        (Stateful::Cycler { items, position }, Some("next")) => {
            if items.is_empty() {
                return Ok(Value::Undefined);
            }
            let index = *position % items.len();
            *position = index + 1;
            Ok(items[index].clone())
        }
        (Stateful::Cycler { position, .. }, Some("reset")) => {
            *position = 0;
            Ok(Value::Null)
        }
        _ => Err("this object is not callable".into()),
    }
}

pub(crate) fn contains(container: &Value, needle: &Value) -> EvalResult<bool> {
    match container {
        Value::String(text) => Ok(text.contains(&*needle.to_js_string())),
        Value::Array(items) => Ok(items.borrow().iter().any(|item| item.strict_eq(needle))),
        Value::Record(entries) => Ok(entries.contains_key(&needle.to_js_string())),
        _ => Err("Membership requires an array, record, or string".into()),
    }
}

pub(crate) fn compare(left: &Value, op: &str, right: &Value) -> bool {
    use std::cmp::Ordering;
    match op {
        "==" => left.loose_eq(right),
        "===" => left.strict_eq(right),
        "!=" => !left.loose_eq(right),
        "!==" => !left.strict_eq(right),
        "<" => left.order(right) == Some(Ordering::Less),
        ">" => left.order(right) == Some(Ordering::Greater),
        "<=" => matches!(left.order(right), Some(Ordering::Less | Ordering::Equal)),
        ">=" => matches!(left.order(right), Some(Ordering::Greater | Ordering::Equal)),
        _ => false,
    }
}

pub(crate) fn binary(op: &str, left: &Value, right: &Value) -> Value {
    match op {
        "+" => {
            let left = left.to_primitive();
            let right = right.to_primitive();
            if matches!(left, Value::String(_)) || matches!(right, Value::String(_)) {
                Value::string(format!("{}{}", left.to_js_string(), right.to_js_string()))
            } else {
                Value::Number(left.to_number() + right.to_number())
            }
        }
        "~" => Value::string(format!("{}{}", left.to_js_string(), right.to_js_string())),
        "-" => Value::Number(left.to_number() - right.to_number()),
        "*" => Value::Number(left.to_number() * right.to_number()),
        "/" => Value::Number(left.to_number() / right.to_number()),
        "//" => Value::Number((left.to_number() / right.to_number()).floor()),
        "%" => Value::Number(left.to_number() % right.to_number()),
        "**" => Value::Number(left.to_number().powf(right.to_number())),
        _ => Value::Undefined,
    }
}
