//! Backstage-compatible expression engine: Nunjucks-flavoured templates (`${{ }}` variables,
//! `{% %}` blocks, `{# #}` comments) evaluated with minijinja.
//!
//! Shared by `scaffold` and `automation`; the public API is stable (extend, never break).
//!
//! Semantics follow Backstage's scaffolder (`SecureTemplater` + `NunjucksWorkflowRunner`):
//! - autoescape is off; `none`/`undefined` render as an empty string;
//! - a member lookup on an undefined value yields undefined instead of failing (Nunjucks does that);
//! - a value that is a single `${{ expr }}` keeps the expression's type, and a value that renders
//!   empty is dropped from its object;
//! - JavaScript's `===` / `!==` are accepted as `==` / `!=`;
//! - filters `parseRepoUrl`, `parseEntityRef`, `pick`, `projectSlug` and `dump` are registered.

use std::sync::OnceLock;

use minijinja::value::Value as JinjaValue;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

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
pub struct Engine {
    // One environment per (syntax, trim_blocks, lstrip_blocks) combination, built on first use.
    environments: [OnceLock<Environment<'static>>; 8],
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            environments: Default::default(),
        }
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
        let source = rewrite_js(template, options.syntax);
        let env = self.environment(options);
        env.render_str(&source, to_jinja(ctx))
            .map_err(|err| convert_error(&err, template, options.file))
    }

    /// Walks a YAML/JSON value and renders every string in it. A string that is exactly one
    /// `${{ expr }}` keeps the expression's type; a string rendering empty is dropped from its
    /// object (and becomes `null` in an array), as Backstage does.
    pub fn render_value(&self, value: &Value, ctx: &Value) -> Result<Value, ExprError> {
        self.render_value_with(value, ctx, &RenderOptions::default())
    }

    pub fn render_value_with(
        &self,
        value: &Value,
        ctx: &Value,
        options: &RenderOptions<'_>,
    ) -> Result<Value, ExprError> {
        Ok(self
            .render_value_inner(value, ctx, options)?
            .unwrap_or(Value::Null))
    }

    fn render_value_inner(
        &self,
        value: &Value,
        ctx: &Value,
        options: &RenderOptions<'_>,
    ) -> Result<Option<Value>, ExprError> {
        match value {
            Value::String(text) => self.render_string_value(text, ctx, options),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    self.render_value_inner(item, ctx, options)
                        .map(|rendered| rendered.unwrap_or(Value::Null))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|items| Some(Value::Array(items))),
            Value::Object(entries) => {
                let mut rendered = Map::with_capacity(entries.len());
                for (key, item) in entries {
                    if let Some(item) = self.render_value_inner(item, ctx, options)? {
                        rendered.insert(key.clone(), item);
                    }
                }
                Ok(Some(Value::Object(rendered)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn render_string_value(
        &self,
        text: &str,
        ctx: &Value,
        options: &RenderOptions<'_>,
    ) -> Result<Option<Value>, ExprError> {
        if options.syntax == Syntax::Backstage
            && let Some(expression) = single_expression(text)
        {
            let evaluated = self.eval(expression, ctx, options)?;
            return Ok(evaluated);
        }
        let rendered = self.render_str_with(text, ctx, options)?;
        Ok((!rendered.is_empty()).then_some(Value::String(rendered)))
    }

    /// Evaluates a bare expression (no delimiters). `None` means undefined.
    pub fn eval(
        &self,
        expression: &str,
        ctx: &Value,
        options: &RenderOptions<'_>,
    ) -> Result<Option<Value>, ExprError> {
        let source = rewrite_js_expression(expression);
        let env = self.environment(options);
        let compiled = env
            .compile_expression(&source)
            .map_err(|err| convert_error(&err, expression, options.file))?;
        let result = compiled
            .eval(to_jinja(ctx))
            .map_err(|err| convert_error(&err, expression, options.file))?;
        if result.is_undefined() {
            return Ok(None);
        }
        serde_json::to_value(&result)
            .map(Some)
            .map_err(|err| ExprError::Evaluation {
                expression: expression.to_owned(),
                file: options.file.map(str::to_owned),
                line: None,
                message: format!("the result is not representable as JSON: {err}"),
            })
    }

    /// Evaluates a step's or output's `if`: the value is rendered, then judged like Backstage
    /// (`tasks/helper.ts`): arrays need items, everything else JavaScript truthiness.
    pub fn condition(&self, condition: &Value, ctx: &Value) -> Result<bool, ExprError> {
        let rendered = self.render_value(condition, ctx)?;
        Ok(is_truthy(&rendered))
    }

    fn environment(&self, options: &RenderOptions<'_>) -> &Environment<'static> {
        let index = usize::from(options.syntax == Syntax::Jinja) * 4
            + usize::from(options.trim_blocks) * 2
            + usize::from(options.lstrip_blocks);
        self.environments[index].get_or_init(|| {
            build_environment(options.syntax, options.trim_blocks, options.lstrip_blocks)
        })
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

fn build_environment(
    syntax: Syntax,
    trim_blocks: bool,
    lstrip_blocks: bool,
) -> Environment<'static> {
    let mut env = Environment::new();
    let mut config = minijinja::syntax::SyntaxConfig::builder();
    if syntax == Syntax::Backstage {
        config.variable_delimiters("${{", "}}");
    }
    config
        .trim_blocks(trim_blocks)
        .lstrip_blocks(lstrip_blocks)
        .keep_trailing_newline(true);
    env.set_syntax(
        config
            .build()
            .expect("the Backstage delimiters are a valid syntax configuration"),
    );
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_formatter(|out, state, value| {
        // Nunjucks prints null and undefined as nothing.
        let shown = if value.is_none() {
            &JinjaValue::UNDEFINED
        } else {
            value
        };
        minijinja::escape_formatter(out, state, shown)
    });
    env.add_global("null", JinjaValue::from(()));
    filters::register(&mut env);
    if syntax == Syntax::Jinja {
        env.add_filter("jsonify", filters::dump);
    }
    env
}

/// The expression inside a string that is exactly one `${{ expr }}`, like Backstage's
/// `isSingleTemplateString`.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("${{")?.strip_suffix("}}")?;
    if inner.contains("}}") || inner.contains("${{") || inner.contains("{%") {
        return None;
    }
    let inner = inner.trim();
    (!inner.is_empty()).then_some(inner)
}

/// Applies [`rewrite_js_expression`] inside expressions and tags, never to literal text.
fn rewrite_js(template: &str, syntax: Syntax) -> std::borrow::Cow<'_, str> {
    if !template.contains("==") && !template.contains(':') {
        return std::borrow::Cow::Borrowed(template);
    }
    let variable_start = match syntax {
        Syntax::Backstage => "${{",
        Syntax::Jinja => "{{",
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    loop {
        let next_variable = rest.find(variable_start).map(|i| (i, variable_start, "}}"));
        let next_block = rest.find("{%").map(|i| (i, "{%", "%}"));
        let next = match (next_variable, next_block) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some((start, open, close)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..start + open.len()]);
        let body_start = start + open.len();
        let body_len = find_closing(&rest[body_start..], close).unwrap_or(rest.len() - body_start);
        out.push_str(&rewrite_js_expression(
            &rest[body_start..body_start + body_len],
        ));
        rest = &rest[body_start + body_len..];
    }
    std::borrow::Cow::Owned(out)
}

/// Finds `close` outside string literals.
fn find_closing(body: &str, close: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (index, ch) in body.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == q {
                    quote = None;
                }
            }
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if body[index..].starts_with(close) => return Some(index),
            None => {}
        }
    }
    None
}

/// Rewrites JavaScript-isms Nunjucks accepts into minijinja syntax: `===`/`!==` become
/// `==`/`!=`, and bare object-literal keys (`{ defaultKind: 'user' }`) become strings.
fn rewrite_js_expression(expression: &str) -> String {
    let mut out = String::with_capacity(expression.len() + 8);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    // Open brackets; `true` marks an object literal, where a bare key may follow `{` or `,`.
    let mut brackets: Vec<bool> = Vec::new();
    let mut expecting_key = false;
    let bytes = expression.as_bytes();
    let mut index = 0;
    while index < expression.len() {
        let ch = expression[index..].chars().next().unwrap_or_default();
        if let Some(q) = quote {
            out.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == q {
                quote = None;
            }
            index += ch.len_utf8();
            continue;
        }
        if expecting_key && (ch.is_ascii_alphabetic() || ch == '_' || ch == '$') {
            let key_end = expression[index..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .map_or(expression.len(), |offset| index + offset);
            let after = expression[key_end..].trim_start();
            if after.starts_with(':') {
                out.push('"');
                out.push_str(&expression[index..key_end]);
                out.push('"');
                index = key_end;
                expecting_key = false;
                continue;
            }
        }
        if !ch.is_whitespace() {
            expecting_key = false;
        }
        match ch {
            '"' | '\'' => quote = Some(ch),
            '{' => {
                brackets.push(true);
                expecting_key = true;
            }
            '[' | '(' => brackets.push(false),
            '}' | ']' | ')' => {
                brackets.pop();
            }
            ',' if brackets.last() == Some(&true) => expecting_key = true,
            '=' | '!'
                if bytes.get(index + 1) == Some(&b'=') && bytes.get(index + 2) == Some(&b'=') =>
            {
                out.push(ch);
                out.push('=');
                index += 3;
                continue;
            }
            _ => {}
        }
        out.push(ch);
        index += ch.len_utf8();
    }
    out
}

fn convert_error(err: &minijinja::Error, source: &str, file: Option<&str>) -> ExprError {
    let line = err.line();
    let expression = match (err.range(), line) {
        (Some(range), _) if source.get(range.clone()).is_some() && source.len() > 200 => {
            source_line_at(source, range.start)
        }
        (_, Some(line)) if source.len() > 200 => source
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or(source)
            .trim()
            .to_owned(),
        _ => source.to_owned(),
    };
    let message = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.kind()),
        None => err.kind().to_string(),
    };
    let file = file.map(str::to_owned);
    // Line numbers only mean something for multi-line sources such as files.
    let line = line.filter(|_| source.contains('\n'));
    match err.kind() {
        minijinja::ErrorKind::SyntaxError | minijinja::ErrorKind::BadEscape => ExprError::Syntax {
            expression,
            file,
            line,
            message,
        },
        _ => ExprError::Evaluation {
            expression,
            file,
            line,
            message,
        },
    }
}

fn source_line_at(source: &str, offset: usize) -> String {
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    source[start..end].trim().to_owned()
}

pub mod filters;

#[cfg(test)]
mod tests;

fn to_jinja<T: serde::Serialize>(value: &T) -> JinjaValue {
    JinjaValue::from(minijinja::value::Serde(value))
}
