//! Template parameters: merging given values, coercing `--set` strings, defaults, Backstage's
//! `dependencies`/`oneOf` branches, prompting, and JSON-Schema validation.

use serde_json::{Map, Value};

use super::ScaffoldError;

/// One question asked interactively, described from the parameter's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub name: String,
    /// The schema's `title`, else the property name.
    pub title: String,
    pub description: Option<String>,
    pub default: Option<Value>,
    /// `ui:widget: password` or `ui:field: Secret`: do not echo.
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptError {
    /// The user declined (Ctrl-C, Escape): exit 130.
    Cancelled,
    Failed(String),
}

/// Implemented by the caller (e.g. with dialoguer). Only used when the caller allows prompting.
pub trait Prompter {
    /// Free text; the answer is coerced by the schema type.
    fn input(&mut self, question: &Question) -> Result<String, PromptError>;
    /// One of `choices` (the schema's `enum`, shown with `enumNames` when present); returns the index.
    fn select(&mut self, question: &Question, choices: &[String]) -> Result<usize, PromptError>;
    fn confirm(&mut self, question: &Question) -> Result<bool, PromptError>;
}

/// Values supplied for a run, lowest precedence first: `--values` files, then `--set k=v`.
#[derive(Debug, Clone, Default)]
pub struct ParameterInput {
    pub values: Map<String, Value>,
    /// `--set` pairs, kept as strings until the schema says their type.
    pub sets: Vec<(String, String)>,
}

impl ParameterInput {
    /// Adds a `--values` YAML document (a mapping).
    pub fn add_values_yaml(&mut self, text: &str, file: &str) -> Result<(), ScaffoldError> {
        let value: Value =
            serde_yaml_ng::from_str(text).map_err(|err| ScaffoldError::ValuesFile {
                file: file.to_owned(),
                message: err.to_string(),
            })?;
        match value {
            Value::Object(entries) => {
                self.values.extend(entries);
                Ok(())
            }
            Value::Null => Ok(()),
            _ => Err(ScaffoldError::ValuesFile {
                file: file.to_owned(),
                message: "expected a mapping of parameter names to values".to_owned(),
            }),
        }
    }

    /// Parses a `k=v` argument.
    pub fn add_set(&mut self, assignment: &str) -> Result<(), ScaffoldError> {
        let (key, value) = assignment
            .split_once('=')
            .filter(|(key, _)| !key.trim().is_empty())
            .ok_or_else(|| ScaffoldError::InvalidSet {
                assignment: assignment.to_owned(),
            })?;
        self.sets.push((key.trim().to_owned(), value.to_owned()));
        Ok(())
    }
}

/// The properties of every page, including those inside `dependencies` branches.
fn property_schema<'a>(pages: &'a [Value], name: &str) -> Option<&'a Value> {
    fn search<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
        if let Some(found) = schema.get("properties").and_then(|p| p.get(name)) {
            return Some(found);
        }
        let nested = schema
            .get("dependencies")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|deps| deps.values())
            .chain(["oneOf", "anyOf", "allOf"].iter().flat_map(|key| {
                schema
                    .get(*key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            }))
            .chain(["then", "else"].iter().filter_map(|key| schema.get(*key)));
        for branch in nested {
            if let Some(found) = search(branch, name) {
                return Some(found);
            }
        }
        None
    }
    pages.iter().find_map(|page| search(page, name))
}

fn schema_type(schema: Option<&Value>) -> Option<&str> {
    match schema?.get("type")? {
        Value::String(kind) => Some(kind),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null"),
        _ => None,
    }
}

/// Converts a command-line string into the type the schema asks for.
pub fn coerce(raw: &str, schema: Option<&Value>) -> Result<Value, String> {
    match schema_type(schema) {
        Some("string") | None => Ok(Value::String(raw.to_owned())),
        Some("boolean") => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!("`{raw}` is not a boolean (true/false)")),
        },
        Some("integer") => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("`{raw}` is not an integer")),
        Some("number") => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("`{raw}` is not a number")),
        Some("array") => {
            let trimmed = raw.trim();
            if trimmed.starts_with('[') {
                serde_yaml_ng::from_str(trimmed).map_err(|err| format!("`{raw}`: {err}"))
            } else {
                let item_schema = schema.and_then(|s| s.get("items"));
                trimmed
                    .split(',')
                    .filter(|item| !item.trim().is_empty())
                    .map(|item| coerce(item.trim(), item_schema))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
        }
        Some(_) => serde_yaml_ng::from_str(raw).map_err(|err| format!("`{raw}`: {err}")),
    }
}

/// Which `dependencies` → `oneOf` branches apply to the current values (Backstage's way of
/// showing extra fields depending on an answer).
fn active_branches<'a>(page: &'a Value, values: &Map<String, Value>) -> Vec<&'a Value> {
    let mut active = Vec::new();
    // `if`/`then`/`else` on the schema itself and inside `allOf`: the form shows the fields of
    // whichever side the current answers select, and only those are required.
    let conditionals = std::iter::once(page).chain(
        page.get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for conditional in conditionals {
        let Some(condition) = conditional.get("if") else {
            continue;
        };
        let matches = jsonschema::validator_for(condition)
            .map(|validator| validator.is_valid(&Value::Object(values.clone())))
            .unwrap_or(false);
        let side = if matches { "then" } else { "else" };
        if let Some(branch) = conditional.get(side).filter(|b| b.is_object()) {
            active.push(branch);
        }
    }
    let Some(dependencies) = page.get("dependencies").and_then(Value::as_object) else {
        return active;
    };
    for (trigger, dependency) in dependencies {
        if !values.contains_key(trigger) {
            continue;
        }
        match dependency.get("oneOf").and_then(Value::as_array) {
            Some(branches) => {
                if let Some(branch) = branches
                    .iter()
                    .find(|branch| branch_matches(branch, values))
                {
                    active.push(branch);
                }
            }
            None if dependency.is_object() => active.push(dependency),
            None => {}
        }
    }
    active
}

fn branch_matches(branch: &Value, values: &Map<String, Value>) -> bool {
    let Some(properties) = branch.get("properties").and_then(Value::as_object) else {
        return true;
    };
    properties.iter().all(|(name, schema)| {
        let constraint = schema
            .get("enum")
            .and_then(Value::as_array)
            .cloned()
            .or_else(|| schema.get("const").map(|c| vec![c.clone()]));
        match (constraint, values.get(name)) {
            (Some(allowed), Some(value)) => allowed.contains(value),
            (Some(_), None) => false,
            (None, _) => true,
        }
    })
}

fn required_of(schema: &Value) -> impl Iterator<Item = &str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn question(name: &str, schema: Option<&Value>) -> Question {
    let text = |key: &str| schema.and_then(|s| s.get(key)).and_then(Value::as_str);
    Question {
        name: name.to_owned(),
        title: text("title").unwrap_or(name).to_owned(),
        description: text("description").map(str::to_owned),
        default: schema.and_then(|s| s.get("default")).cloned(),
        secret: text("ui:widget") == Some("password") || text("ui:field") == Some("Secret"),
    }
}

/// Parameters whose values must not be recorded in `.plat-answers.yml`.
pub fn secret_parameters(pages: &[Value]) -> Vec<String> {
    let mut names = Vec::new();
    for page in pages {
        if let Some(properties) = page.get("properties").and_then(Value::as_object) {
            for (name, schema) in properties {
                if question(name, Some(schema)).secret {
                    names.push(name.clone());
                }
            }
        }
    }
    names
}

fn ask(
    prompter: &mut dyn Prompter,
    name: &str,
    schema: Option<&Value>,
) -> Result<Value, ScaffoldError> {
    let question = question(name, schema);
    let prompt_error = |err: PromptError| match err {
        PromptError::Cancelled => ScaffoldError::Cancelled,
        PromptError::Failed(message) => ScaffoldError::Prompt { message },
    };
    if let Some(choices) = schema.and_then(|s| s.get("enum")).and_then(Value::as_array) {
        let labels: Vec<String> = match schema
            .and_then(|s| s.get("enumNames"))
            .and_then(Value::as_array)
        {
            Some(names) if names.len() == choices.len() => names
                .iter()
                .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_owned))
                .collect(),
            _ => choices
                .iter()
                .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
                .collect(),
        };
        let index = prompter.select(&question, &labels).map_err(prompt_error)?;
        return choices
            .get(index)
            .cloned()
            .ok_or_else(|| ScaffoldError::Prompt {
                message: format!("choice {index} is out of range for {name}"),
            });
    }
    if schema_type(schema) == Some("boolean") {
        return prompter
            .confirm(&question)
            .map(Value::Bool)
            .map_err(prompt_error);
    }
    loop {
        let answer = prompter.input(&question).map_err(prompt_error)?;
        if answer.is_empty()
            && let Some(default) = &question.default
        {
            return Ok(default.clone());
        }
        match coerce(&answer, schema) {
            Ok(value) => return Ok(value),
            Err(message) => {
                tracing::warn!(parameter = name, %message, "invalid answer, asking again");
            }
        }
    }
}

/// Merges given values, applies defaults, prompts (when a prompter is given) or reports every
/// missing required parameter at once, then validates each page with its JSON Schema.
pub fn resolve(
    pages: &[Value],
    input: &ParameterInput,
    mut prompter: Option<&mut dyn Prompter>,
) -> Result<Map<String, Value>, ScaffoldError> {
    let mut values = input.values.clone();
    // A values file is YAML typed by its author; `port: "8081"` for a number parameter is
    // coerced as `--set port=8081` would be (and left for validation to report if it cannot).
    for (key, value) in values.iter_mut() {
        if let Value::String(raw) = value
            && !matches!(
                schema_type(property_schema(pages, key)),
                Some("string") | None
            )
            && let Ok(coerced) = coerce(raw, property_schema(pages, key))
        {
            *value = coerced;
        }
    }
    let mut invalid = Vec::new();
    for (key, raw) in &input.sets {
        match coerce(raw, property_schema(pages, key)) {
            Ok(value) => {
                values.insert(key.clone(), value);
            }
            Err(message) => invalid.push(format!("{key}: {message}")),
        }
    }
    if !invalid.is_empty() {
        return Err(ScaffoldError::InvalidParameters { problems: invalid });
    }

    let mut missing = Vec::new();
    for page in pages {
        // Branches can depend on answers given on this page, so settle the page's own fields
        // first and look at its dependencies afterwards.
        let mut schemas = vec![page];
        let mut index = 0;
        while index < schemas.len() {
            let schema = schemas[index];
            fill_page(schema, pages, &mut values, &mut prompter, &mut missing)?;
            for branch in active_branches(schema, &values) {
                if !schemas.iter().any(|seen| std::ptr::eq(*seen, branch)) {
                    schemas.push(branch);
                }
            }
            index += 1;
        }
    }
    if !missing.is_empty() {
        return Err(ScaffoldError::MissingParameters { names: missing });
    }
    validate(pages, &values)?;
    Ok(values)
}

fn fill_page(
    schema: &Value,
    pages: &[Value],
    values: &mut Map<String, Value>,
    prompter: &mut Option<&mut dyn Prompter>,
    missing: &mut Vec<String>,
) -> Result<(), ScaffoldError> {
    let required: Vec<&str> = required_of(schema).collect();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            if values.contains_key(name) {
                continue;
            }
            let is_required = required.contains(&name.as_str());
            match prompter.as_deref_mut() {
                // Interactive: ask for required fields and for optional ones that have choices,
                // offering the default.
                Some(prompter) if is_required || property.get("default").is_some() => {
                    let value = ask(prompter, name, Some(property))?;
                    values.insert(name.clone(), value);
                }
                _ => {
                    if let Some(default) = property.get("default") {
                        values.insert(name.clone(), default.clone());
                    }
                }
            }
        }
    }
    for name in required {
        if !values.contains_key(name) {
            if let Some(prompter) = prompter.as_deref_mut() {
                let value = ask(prompter, name, property_schema(pages, name))?;
                values.insert(name.to_owned(), value);
            } else if !missing.iter().any(|m| m == name) {
                missing.push(name.to_owned());
            }
        }
    }
    Ok(())
}

/// Validates the values against every page; all problems are reported together.
pub fn validate(pages: &[Value], values: &Map<String, Value>) -> Result<(), ScaffoldError> {
    let instance = Value::Object(values.clone());
    let mut problems = Vec::new();
    for page in pages {
        let validator = jsonschema::validator_for(page).map_err(|err| ScaffoldError::Schema {
            message: err.to_string(),
        })?;
        for error in validator.iter_errors(&instance) {
            let path = error.instance_path().to_string();
            let name = path.trim_start_matches('/').replace('/', ".");
            let problem = if name.is_empty() {
                error.to_string()
            } else {
                format!("{name}: {error}")
            };
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ScaffoldError::InvalidParameters { problems })
    }
}
