//! The README is executable documentation: every `sh` block runs as written, in order, in one
//! shell, from a copy of the repository's `examples/` on a fresh embedded platform, with this
//! build's `plat` first on `PATH`. A block that cannot run here says why, in a comment just
//! above it: `<!-- readme-test: skip -- REASON -->`.

use std::path::Path;
use std::process::Command;

use crate::support::{BIN, TestEnv};

/// One fenced `sh` block of the README: where it starts, and why it is skipped, if it is.
struct Block {
    line: usize,
    code: String,
    skip: Option<String>,
}

fn sh_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines().enumerate().peekable();
    let mut directive: Option<String> = None;
    while let Some((number, line)) = lines.next() {
        if let Some(rest) = line.trim().strip_prefix("<!-- readme-test:") {
            directive = Some(rest.trim_end_matches("-->").trim().to_owned());
            continue;
        }
        if line.trim() == "```sh" {
            let mut code = String::new();
            for (_, line) in lines.by_ref() {
                if line.trim() == "```" {
                    break;
                }
                code.push_str(line);
                code.push('\n');
            }
            let skip = directive.take().map(|d| {
                let reason = d.strip_prefix("skip").unwrap_or(&d).trim();
                reason.trim_start_matches("--").trim().to_owned()
            });
            blocks.push(Block {
                line: number + 1,
                code,
                skip,
            });
        } else if !line.trim().is_empty() {
            directive = None;
        }
    }
    blocks
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn every_sh_block_of_the_readme_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() >= 6, "found only {} sh blocks", blocks.len());
    for block in &blocks {
        if let Some(reason) = &block.skip {
            assert!(
                reason.len() > 10,
                "README.md:{}: a skipped block must say why",
                block.line
            );
        }
    }

    let env = TestEnv::new();
    let work = env.root().join("repo");
    copy_dir(&root.join("examples"), &work.join("examples"));
    // One script, so that `export` and files carry from block to block as in a reader's shell;
    // a marker before each block names the one that failed.
    let mut script = String::from("set -e\n");
    let mut ran = 0;
    for block in blocks.iter().filter(|b| b.skip.is_none()) {
        script.push_str(&format!("echo '>>> README.md:{}' >&2\n", block.line));
        script.push_str(&block.code);
        ran += 1;
    }
    script.push_str("echo '>>> done' >&2\n");
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), env.vars["PATH"]);
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .envs(&env.vars)
        .env("PATH", path)
        .current_dir(&work)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let failed_at = stderr
        .lines()
        .rfind(|l| l.starts_with(">>> "))
        .unwrap_or("(no block started)");
    assert!(
        output.status.success() && failed_at == ">>> done",
        "the README block at {} failed (exit {:?}); {ran} blocks ran\n--- stdout\n{}\n--- stderr\n{stderr}",
        failed_at.trim_start_matches(">>> "),
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
    );
}
