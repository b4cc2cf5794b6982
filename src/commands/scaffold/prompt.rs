//! The engine's [`Prompter`] on a terminal (dialoguer on stderr), used only when
//! `ctx.can_prompt()`: titles, descriptions, defaults and choices come from the template's schema.

use dialoguer::console::Term;
use dialoguer::{Confirm, Input, Select};
use serde_json::Value;

use crate::scaffold::{PromptError, Prompter, Question};

pub struct TerminalPrompter {
    term: Term,
}

impl TerminalPrompter {
    pub fn new() -> Self {
        Self {
            term: Term::stderr(),
        }
    }
}

fn label(question: &Question) -> String {
    match &question.description {
        Some(description) => format!("{} ({description})", question.title),
        None => question.title.clone(),
    }
}

/// A default as the user would type it: lists comma-separated, which is how answers are read.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn failed(err: dialoguer::Error) -> PromptError {
    let dialoguer::Error::IO(io) = err;
    if io.kind() == std::io::ErrorKind::Interrupted {
        PromptError::Cancelled
    } else {
        PromptError::Failed(io.to_string())
    }
}

impl Prompter for TerminalPrompter {
    fn input(&mut self, question: &Question) -> Result<String, PromptError> {
        // The default is shown but not pre-filled: an empty answer lets the engine use the
        // schema's default with its own type (a list stays a list).
        let prompt = match &question.default {
            Some(default) => format!("{} [{}]", label(question), shown(default)),
            None => label(question),
        };
        if question.secret {
            self.term
                .write_str(&format!("{prompt}: "))
                .map_err(|e| PromptError::Failed(e.to_string()))?;
            return self.term.read_secure_line().map_err(|e| match e.kind() {
                std::io::ErrorKind::Interrupted => PromptError::Cancelled,
                _ => PromptError::Failed(e.to_string()),
            });
        }
        Input::<String>::new()
            .with_prompt(prompt)
            .allow_empty(true)
            .interact_text_on(&self.term)
            .map_err(failed)
    }

    fn select(&mut self, question: &Question, choices: &[String]) -> Result<usize, PromptError> {
        let default = question
            .default
            .as_ref()
            .and_then(|d| choices.iter().position(|c| *c == shown(d)))
            .unwrap_or(0);
        Select::new()
            .with_prompt(label(question))
            .items(choices)
            .default(default)
            .interact_on_opt(&self.term)
            .map_err(failed)?
            .ok_or(PromptError::Cancelled)
    }

    fn confirm(&mut self, question: &Question) -> Result<bool, PromptError> {
        let default = question
            .default
            .as_ref()
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Confirm::new()
            .with_prompt(label(question))
            .default(default)
            .interact_on_opt(&self.term)
            .map_err(failed)?
            .ok_or(PromptError::Cancelled)
    }
}
