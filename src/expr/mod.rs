//! Backstage-compatible expression engine: the Nunjucks subset Backstage's scaffolder renders
//! with (nunjitsu, configured by `NunjucksWorkflowRunner`), interpreted here with JavaScript value
//! semantics: `${{ }}` variables, `{% %}` blocks, `{# #}` comments.
//!
//! Shared by `scaffold` and `automation`; the public API is stable (extend, never break).
//!
//! Semantics follow Backstage (checked against Backstage itself by `tests/cli/scaffold.rs`):
//! - autoescape is off; `undefined`/`null` print as nothing, `true`/`false` in lower case, arrays
//!   as `a,b`, numbers as JavaScript prints them (`3`, not `3.0`);
//! - operators are JavaScript's (`+` concatenates when either side is a string, `==` is loose,
//!   `===` strict), member lookups on undefined yield undefined;
//! - strings, numbers and arrays have the JavaScript methods nunjitsu allows (`.split`,
//!   `.toUpperCase()`, `.startsWith`, `.replace` with `r/regex/g` literals, `.length` …);
//! - a step value is rendered with nunjitsu's JSON coercion: a value that is a single
//!   `${{ expr }}` (or a single block) keeps its JSON type, and an empty result is dropped;
//! - Nunjucks' filters and tests plus Backstage's `parseRepoUrl`, `parseEntityRef`, `pick` and
//!   `projectSlug`.
//!
//! Why an interpreter of our own rather than minijinja: Jinja's values and operators (`False`,
//! `3.0`, strict `==`, no JavaScript methods) differ from nunjucks' in ways no filter can patch;
//! why not Backstage's engine in an embedded JavaScript runtime: see `README.md` (scaffold).

mod builtins;
mod eval;
mod parse;
mod value;

pub(crate) use value::number_to_string;

use serde_json::{Map, Value};

use self::eval::{Interpreter, Out};
use self::parse::{ParseError, TemplateOptions, parse_expression, parse_template};
use self::value::Value as JsValue;

/// Which delimiters a template uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Syntax {
    /// Backstage: `${{ }}` variables, `{% %}` blocks, `{# #}` comments.
    #[default]
    Backstage,
    /// Jinja/cookiecutter: `{{ }}` variables (used by `cookiecutterCompat`).
    Jinja,
}

/// How one template string is rendered; `Default` is Backstage's behaviour.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions<'a> {
    pub syntax: Syntax,
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    /// Named in errors (a template file path, or `template.yaml: steps[2].input`).
    pub file: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExprError {
    #[error("{}syntax error in `{expression}`: {message}", location(file, line))]
    Syntax {
        expression: String,
        file: Option<String>,
        line: Option<usize>,
        message: String,
    },
    #[error("{}cannot evaluate `{expression}`: {message}", location(file, line))]
    Evaluation {
        expression: String,
        file: Option<String>,
        line: Option<usize>,
        message: String,
    },
}

fn location(file: &Option<String>, line: &Option<usize>) -> String {
    match (file, line) {
        (Some(file), Some(line)) => format!("{file}:{line}: "),
        (Some(file), None) => format!("{file}: "),
        (None, Some(line)) => format!("line {line}: "),
        (None, None) => String::new(),
    }
}

impl ExprError {
    pub fn expression(&self) -> &str {
        match self {
            Self::Syntax { expression, .. } | Self::Evaluation { expression, .. } => expression,
        }
    }

    pub fn file(&self) -> Option<&str> {
        match self {
            Self::Syntax { file, .. } | Self::Evaluation { file, .. } => file.as_deref(),
        }
    }

    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Syntax { line, .. } | Self::Evaluation { line, .. } => *line,
        }
    }

    /// Names the file the expression came from, keeping an already known one.
    pub fn with_file(mut self, name: impl Into<String>) -> Self {
        match &mut self {
            Self::Syntax { file, .. } | Self::Evaluation { file, .. } => {
                if file.is_none() {
                    *file = Some(name.into());
                }
            }
        }
        self
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Syntax { .. } => Some(
                "expressions use Backstage syntax: `${{ parameters.name }}` for values, \
                 `{% if … %}…{% endif %}` for blocks"
                    .to_owned(),
            ),
            Self::Evaluation { .. } => None,
        }
    }
}

/// Renders Backstage-style templates. Cheap to share (`Send + Sync`); build one and reuse it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Engine;

impl Engine {
    pub fn new() -> Engine {
        Engine
    }

    /// Renders a whole template string (file contents, a path, a message) to text.
    pub fn render_str(&self, template: &str, ctx: &Value) -> Result<String, ExprError> {
        self.render_str_with(template, ctx, &RenderOptions::default())
    }

    pub fn render_str_with(
        &self,
        template: &str,
        ctx: &Value,
        options: &RenderOptions<'_>,
    ) -> Result<String, ExprError> {
        if !has_template_syntax(template, options.syntax) {
            return Ok(template.to_owned());
        }
        let nodes = parse_template(template, &template_options(options))
            .map_err(|err| syntax_error(err, template, options.file))?;
        let context = JsValue::from_json(ctx);
        let mut out = Out::plain();
        Interpreter::new(&context, options.syntax)
            .render_nodes(&nodes, &mut out)
            .map_err(|message| evaluation_error(message, template, options.file))?;
        Ok(out.normal)
    }

    /// Walks a YAML/JSON value and renders every string in it as Backstage's workflow runner
    /// does: JSON coercion (a lone `${{ expr }}` keeps its type), a string rendering empty is
    /// dropped from its object (`null` in an array). Errors are returned.
    pub fn render_value(&self, value: &Value, ctx: &Value) -> Result<Value, ExprError> {
        self.render_value_with(value, ctx, &RenderOptions::default())
    }

    pub fn render_value_with(
        &self,
        value: &Value,
        ctx: &Value,
        options: &RenderOptions<'_>,
    ) -> Result<Value, ExprError> {
        let context = JsValue::from_json(ctx);
        Ok(self
            .render_value_inner(value, &context, options, false)?
            .unwrap_or(Value::Null))
    }

    /// Exactly Backstage's `render` for step inputs, `if`, `each` and `output`: like
    /// [`Engine::render_value`], but a string whose rendering fails is kept as written.
    pub fn render_step_value(&self, value: &Value, ctx: &Value) -> Option<Value> {
        let context = JsValue::from_json(ctx);
        self.render_value_inner(value, &context, &RenderOptions::default(), true)
            .ok()
            .flatten()
    }

    fn render_value_inner(
        &self,
        value: &Value,
        ctx: &JsValue,
        options: &RenderOptions<'_>,
        keep_failed: bool,
    ) -> Result<Option<Value>, ExprError> {
        match value {
            Value::String(text) => match self.render_string_value(text, ctx, options) {
                Ok(rendered) => Ok(rendered),
                Err(_) if keep_failed => Ok(Some(value.clone())),
                Err(err) => Err(err),
            },
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    self.render_value_inner(item, ctx, options, keep_failed)
                        .map(|rendered| rendered.unwrap_or(Value::Null))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|items| Some(Value::Array(items))),
            Value::Object(entries) => {
                let mut rendered = Map::with_capacity(entries.len());
                for (key, item) in entries {
                    if let Some(item) = self.render_value_inner(item, ctx, options, keep_failed)? {
                        rendered.insert(key.clone(), item);
                    }
                }
                Ok(Some(Value::Object(rendered)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    /// nunjitsu's `renderValue(…, {coercion: 'json'})`.
    fn render_string_value(
        &self,
        text: &str,
        ctx: &JsValue,
        options: &RenderOptions<'_>,
    ) -> Result<Option<Value>, ExprError> {
        if !has_template_syntax(text, options.syntax) {
            return Ok((!text.is_empty()).then(|| Value::String(text.to_owned())));
        }
        let nodes = parse_template(text, &template_options(options))
            .map_err(|err| syntax_error(err, text, options.file))?;
        let coerce = nodes.len() == 1 && !matches!(nodes[0], parse::Node::Text(_));
        let mut out = Out {
            normal: String::new(),
            encoded: coerce.then(String::new),
        };
        Interpreter::new(ctx, options.syntax)
            .render_nodes(&nodes, &mut out)
            .map_err(|message| evaluation_error(message, text, options.file))?;
        let normal = || (!out.normal.is_empty()).then(|| Value::String(out.normal.clone()));
        match &out.encoded {
            None => Ok(normal()),
            Some(encoded) if encoded.is_empty() => Ok(None),
            Some(encoded) => match serde_json::from_str::<Value>(encoded) {
                Ok(decoded) => Ok(Some(integral_numbers(decoded))),
                Err(_) => Ok(normal()),
            },
        }
    }

    /// Evaluates a bare expression (no delimiters). `None` means undefined.
    pub fn eval(
        &self,
        expression: &str,
        ctx: &Value,
        options: &RenderOptions<'_>,
    ) -> Result<Option<Value>, ExprError> {
        let parsed = parse_expression(expression)
            .map_err(|err| syntax_error(err, expression, options.file))?;
        let context = JsValue::from_json(ctx);
        let value = Interpreter::new(&context, options.syntax)
            .eval(&parsed)
            .map_err(|message| evaluation_error(message, expression, options.file))?;
        Ok(value.to_json())
    }

    /// Evaluates a step's or output's `if`: the value is rendered, then judged like Backstage
    /// (`tasks/helper.ts`): arrays need items, everything else JavaScript truthiness.
    pub fn condition(&self, condition: &Value, ctx: &Value) -> Result<bool, ExprError> {
        let rendered = self.render_value(condition, ctx)?;
        Ok(is_truthy(&rendered))
    }
}

/// `JSON.parse` gives `3` for `3.0`; serde_json keeps the float, so normalise integral floats.
fn integral_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) => JsValue::Number(f).to_json().unwrap_or(Value::Null),
            None => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral_numbers).collect()),
        Value::Object(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k, integral_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

fn template_options(options: &RenderOptions<'_>) -> TemplateOptions {
    TemplateOptions {
        syntax: options.syntax,
        trim_blocks: options.trim_blocks,
        lstrip_blocks: options.lstrip_blocks,
    }
}

fn shown_source(source: &str, line: usize) -> String {
    if source.len() > 200 {
        source
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or(source)
            .trim()
            .to_owned()
    } else {
        source.to_owned()
    }
}

fn syntax_error(err: ParseError, source: &str, file: Option<&str>) -> ExprError {
    ExprError::Syntax {
        expression: shown_source(source, err.line),
        file: file.map(str::to_owned),
        line: source.contains('\n').then_some(err.line),
        message: err.message,
    }
}

fn evaluation_error(message: String, source: &str, file: Option<&str>) -> ExprError {
    ExprError::Evaluation {
        expression: shown_source(source, 1),
        file: file.map(str::to_owned),
        line: None,
        message,
    }
}

/// JavaScript truthiness, except that an empty array is false (Backstage's `isTruthy`).
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0 && !n.is_nan()),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(_) => true,
    }
}

/// True when `text` may contain template syntax; lets plain files skip the template engine.
pub fn has_template_syntax(text: &str, syntax: Syntax) -> bool {
    let variable_start = match syntax {
        Syntax::Backstage => "${{",
        Syntax::Jinja => "{{",
    };
    text.contains(variable_start) || text.contains("{%") || text.contains("{#")
}

pub mod filters;

#[cfg(test)]
mod tests;
