//! Live display of a Terraform run: one spinner line per resource on a terminal, plain status
//! lines otherwise, or ndjson events on stdout for machines.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use super::Output;
use crate::iac::{IacCommand, IacEvent, Severity};

pub enum EventDisplay {
    Ndjson,
    Live,
    Lines,
    Silent,
}

impl Output {
    pub fn event_display(&self, ndjson: bool) -> EventDisplay {
        if ndjson {
            EventDisplay::Ndjson
        } else if self.progress {
            EventDisplay::Live
        } else if self.quiet {
            EventDisplay::Silent
        } else {
            EventDisplay::Lines
        }
    }

    /// Consumes events until the sender is dropped.
    pub fn spawn_event_display(
        &self,
        display: EventDisplay,
    ) -> (mpsc::UnboundedSender<IacEvent>, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<IacEvent>();
        let out = self.clone();
        let task = tokio::spawn(async move {
            let mut live = LiveView::new(matches!(display, EventDisplay::Live));
            while let Some(event) = rx.recv().await {
                match display {
                    EventDisplay::Ndjson => {
                        if let Ok(line) = serde_json::to_string(&event) {
                            out.stdout_line(&line);
                        }
                    }
                    EventDisplay::Live => live.show(&event),
                    EventDisplay::Lines => out.event_line(&event),
                    EventDisplay::Silent => {}
                }
                if let IacEvent::Diagnostic(diagnostic) = &event
                    && !matches!(display, EventDisplay::Ndjson)
                    && diagnostic.severity == Severity::Warning
                {
                    live.suspend(|| out.warn(&diagnostic.summary));
                }
            }
            live.finish();
        });
        (tx, task)
    }

    fn event_line(&self, event: &IacEvent) {
        match event {
            IacEvent::CommandStarted { command } if is_main(*command) => {
                self.stderr_line(&format!(
                    "{} terraform {command}",
                    self.paint(super::STATUS_STYLE, "Running")
                ));
            }
            IacEvent::ApplyComplete {
                address,
                action,
                elapsed_seconds,
                ..
            } => {
                self.stderr_line(&format!(
                    "  {} {address} ({elapsed_seconds}s)",
                    done_verb(action)
                ));
            }
            IacEvent::ApplyErrored { address, .. } => {
                self.stderr_line(&format!("  failed {address}"));
            }
            _ => {}
        }
    }
}

fn is_main(command: IacCommand) -> bool {
    matches!(
        command,
        IacCommand::Apply | IacCommand::Destroy | IacCommand::Init
    )
}

fn done_verb(action: &str) -> &'static str {
    match action {
        "create" => "created",
        "delete" => "destroyed",
        "update" => "updated",
        "replace" => "replaced",
        _ => "done",
    }
}

/// A spinner per resource; the line turns into a check mark with its time when done.
struct LiveView {
    bars: Option<MultiProgress>,
    by_address: HashMap<String, ProgressBar>,
}

impl LiveView {
    fn new(enabled: bool) -> Self {
        Self {
            bars: enabled.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            by_address: HashMap::new(),
        }
    }

    fn show(&mut self, event: &IacEvent) {
        let Some(bars) = &self.bars else { return };
        match event {
            IacEvent::CommandStarted { command } if is_main(*command) => {
                let _ = bars.println(format!("terraform {command}"));
            }
            IacEvent::ApplyStart { address, action } => {
                let bar = bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(format!("{action} {address}"));
                bar.enable_steady_tick(Duration::from_millis(120));
                self.by_address.insert(address.clone(), bar);
            }
            IacEvent::ApplyComplete {
                address,
                action,
                elapsed_seconds,
                ..
            } => {
                if let Some(bar) = self.by_address.remove(address) {
                    bar.set_style(
                        ProgressStyle::with_template("  ✓ {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.finish_with_message(format!(
                        "{} {address} ({elapsed_seconds}s)",
                        done_verb(action)
                    ));
                }
            }
            IacEvent::ApplyErrored { address, .. } => {
                if let Some(bar) = self.by_address.remove(address) {
                    bar.set_style(
                        ProgressStyle::with_template("  ✗ {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.finish_with_message(format!("failed {address}"));
                }
            }
            _ => {}
        }
    }

    fn suspend(&self, f: impl FnOnce()) {
        match &self.bars {
            Some(bars) => bars.suspend(f),
            None => f(),
        }
    }

    fn finish(&mut self) {
        for (_, bar) in self.by_address.drain() {
            bar.abandon();
        }
    }
}
