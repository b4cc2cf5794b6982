//! Files generated from the clap definition and committed: shell completions in `completions/`
//! and one man page per command in `man/`. A test regenerates them and fails when they are stale.

use std::collections::BTreeMap;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Every generated file, by path relative to the repository root.
pub fn generate() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::PowerShell,
        Shell::Elvish,
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "plat", &mut script);
        let name = match shell {
            Shell::Bash => "plat.bash",
            Shell::Zsh => "_plat",
            Shell::Fish => "plat.fish",
            Shell::PowerShell => "_plat.ps1",
            _ => "plat.elv",
        };
        files.insert(format!("completions/{name}"), script);
    }
    // Pages name the release, not the commit: a page stamped with the commit would be stale again
    // the moment it is committed.
    let mut root = Cli::command().version(env!("CARGO_PKG_VERSION"));
    root.build();
    add_man_pages(&root, "plat", &mut files);
    files
}

fn add_man_pages(command: &clap::Command, name: &str, files: &mut BTreeMap<String, Vec<u8>>) {
    let mut page = Vec::new();
    let titled = command.clone().name(name.to_owned());
    // Rendering into a Vec cannot fail.
    let _ = clap_mangen::Man::new(titled).render(&mut page);
    files.insert(format!("man/{name}.1"), page);
    let documented = |s: &&clap::Command| s.get_name() != "help" && !s.is_hide_set();
    for sub in command.get_subcommands().filter(documented) {
        add_man_pages(sub, &format!("{name}-{}", sub.get_name()), files);
    }
}
