//! `plat scaffold …`: Backstage Software Templates rendered offline by `scaffold/`, published
//! with git2, and kept up to date Copier-style. These files only gather inputs and show results.

mod list;
mod prompt;
mod run;
mod show;
mod update;

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::{ScaffoldArgs, ScaffoldCommand};
use crate::ctx::Ctx;
use crate::scaffold::{LoadedTemplate, Locator, ScaffoldError};

pub async fn run(ctx: &Ctx, args: ScaffoldArgs) -> Result<()> {
    match args.command {
        ScaffoldCommand::List => list::run(ctx),
        ScaffoldCommand::Show(args) => show::run(ctx, args),
        ScaffoldCommand::Run(args) => run::run(ctx, args).await,
        ScaffoldCommand::Update(args) => update::run(ctx, args).await,
    }
}

/// Every scaffold template root that exists, in search order: the `PLAT_TEMPLATE_PATH` dirs
/// first (so a team can shadow a built-in), the templates shipped with plat last.
pub(super) struct Templates {
    locators: Vec<Locator>,
}

impl Templates {
    pub fn discover(ctx: &Ctx) -> Self {
        let mut locators: Vec<Locator> = ctx
            .template_roots("scaffold")
            .into_iter()
            .filter(|root| root.is_dir())
            .map(|root| Locator {
                builtin_dir: Some(root),
            })
            .collect();
        if locators.is_empty() {
            // Paths and Git URLs still work without any built-in templates.
            locators.push(Locator::default());
        }
        Self { locators }
    }

    /// The locator of the templates shipped with plat (the last root), which `update` uses:
    /// recorded templates are paths or Git URLs, so any root would do.
    pub fn builtin(&self) -> &Locator {
        self.locators.last().unwrap_or(&self.locators[0])
    }

    /// Resolves a directory, a template file, a Git URL, or a name searched root by root.
    pub fn load(&self, spec: &str) -> Result<LoadedTemplate, ScaffoldError> {
        for locator in &self.locators {
            match locator.load(spec) {
                Err(ScaffoldError::TemplateNotFound { .. }) => continue,
                found => return found,
            }
        }
        Err(ScaffoldError::TemplateNotFound {
            spec: spec.to_owned(),
            builtins: self.names(),
        })
    }

    /// Every template name, the first root holding a name winning.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for locator in &self.locators {
            for name in locator.builtin_names() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names.sort();
        names
    }

    /// Every template, loaded from the first root holding its name; broken ones are reported
    /// with the error, not hidden.
    pub fn all(&self) -> Vec<(String, Result<LoadedTemplate, ScaffoldError>)> {
        self.names()
            .into_iter()
            .map(|name| {
                let loaded = self.load(&format!("builtin:{name}"));
                (name, loaded)
            })
            .collect()
    }
}

/// `--set` pairs as the engine's input (it coerces them by the template's schema).
pub(super) fn sets_input(input: &mut crate::scaffold::ParameterInput, sets: &[(String, String)]) {
    input.sets.extend(sets.iter().cloned());
}

/// An absolute path, so JSON output names the same directory whatever reads it later.
pub(super) fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}
