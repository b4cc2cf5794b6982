//! What a run's record should say while it executes: the executor's last report, plus the log
//! lines of the running step since. The CLI and the server's workers both record it every
//! `LOG_FLUSH`, so `plat automation logs -f` elsewhere shows a step's lines as they come.

use std::time::Duration;

use crate::api::RunStatus;
use crate::api::{RunReport, RunStep};

/// How often log lines of a running step are recorded.
pub const LOG_FLUSH: Duration = Duration::from_secs(1);
/// Logs sent with a report are cut to their tail beyond this (the server caps bodies).
const MAX_REPORTED_LOG: usize = 1024 * 1024;

#[derive(Default)]
pub struct RunProgress {
    steps: Vec<RunStep>,
    logs: String,
    unrecorded: bool,
    process_group: Option<i32>,
}

impl RunProgress {
    /// The executor's report at a step's start or end (it carries every line so far).
    pub fn replace(&mut self, steps: Vec<RunStep>, logs: String) {
        self.steps = steps;
        self.logs = logs;
        // A step starts before its command does, and its command has ended when it finishes.
        self.process_group = None;
        self.unrecorded = true;
    }

    /// The exec step's command started in this process group, or ended (`None`).
    pub fn set_process_group(&mut self, group: Option<i32>) {
        self.process_group = group;
        self.unrecorded = true;
    }

    pub fn add_line(&mut self, line: &str) {
        // Lines before the first step (none today) would have no record to go in.
        if self.steps.is_empty() {
            return;
        }
        self.logs.push_str(line);
        self.logs.push('\n');
        self.unrecorded = true;
    }

    /// Whether something happened since the last `report`.
    pub fn unrecorded(&self) -> bool {
        self.unrecorded
    }

    /// The run's record as of now, still running.
    pub fn report(&mut self) -> RunReport {
        self.unrecorded = false;
        RunReport {
            status: RunStatus::Running,
            steps: self.steps.clone(),
            logs: tail(self.logs.clone()),
            error: None,
            process_group: self.process_group,
        }
    }
}

/// The end of `logs` when they outgrow what one report may carry.
pub fn tail(mut logs: String) -> String {
    if logs.len() > MAX_REPORTED_LOG {
        let mut cut = logs.len() - MAX_REPORTED_LOG;
        while !logs.is_char_boundary(cut) {
            cut += 1;
        }
        logs.replace_range(..cut, "[…earlier lines cut…]\n");
    }
    logs
}
