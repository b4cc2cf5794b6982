//! Run supervision, written once: execute a run while recording its progress, keep holding it
//! (a lease), turn cancel requests into the executor's cancel signal, and record how it ended.
//! `plat automation run` and the server's workers differ only in who holds the run
//! ([`RunHolder`]) and in who watches it ([`RunWatch`]).

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::api::RunStatus;
use crate::api::{AutomationRun, LocalRunner, RunReport, RunStep};
use crate::automation::progress::{LOG_FLUSH, RunProgress, tail};
use crate::automation::{CancelSignal, Definition, Executor, RunEvent, RunInfo};
use crate::platform::Platform;
use crate::service::{ErrorKind, LOCAL_RUN_LEASE_SECONDS};

/// How often the holder asks whether someone ran `plat automation cancel`.
const CANCEL_POLL: Duration = Duration::from_millis(300);

/// Whether a renewal kept the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renewal {
    Held,
    /// The run was taken away (reclaimed after a lapse, or ended): stop it and report nothing.
    Lost,
    /// The platform could not be asked (database or server away): try again next time.
    Unknown,
}

/// Who holds a run while it executes, and where its record is written.
#[async_trait]
pub(crate) trait RunHolder: Send + Sync {
    /// How often the hold is renewed: a third of the lease, so one slow round does not lose it.
    fn renew_every(&self) -> Duration;
    /// Records the run's progress, or its end.
    async fn report(&self, report: RunReport) -> Result<AutomationRun, String>;
    async fn cancel_requested(&self) -> bool;
    /// Keeps holding the run; `progress` is for holders whose heartbeat is a progress report.
    async fn renew(&self, progress: RunReport) -> Renewal;
}

/// Who watches a run as it executes (a terminal; nobody on a server).
pub(crate) trait RunWatch: Send {
    fn event(&mut self, _event: &RunEvent) {}
    /// Ctrl-C was pressed: the running step is being stopped.
    fn interrupted(&mut self) {}
    fn report_failed(&mut self, _why: &str) {}
    /// Whether Ctrl-C cancels the run (a terminal's `plat automation run`).
    fn stops_on_ctrl_c(&self) -> bool {
        false
    }
}

/// How a supervised run ended.
pub(crate) struct Supervised {
    /// The run's final record; `Err` when it could not be written.
    pub run: Result<AutomationRun, String>,
    /// Ctrl-C stopped it.
    pub interrupted: bool,
}

/// Executes `run` under `holder` until it ends, is cancelled, or is taken away (`None`: the
/// holder lost it, and its next holder records it).
pub(crate) async fn supervise(
    holder: &dyn RunHolder,
    watch: &mut dyn RunWatch,
    executor: &Executor,
    run: &RunInfo,
    definition: &Definition,
    params: &serde_json::Value,
) -> Option<Supervised> {
    let (cancel_tx, cancel) = CancelSignal::new();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let execution = executor.run_for(run, definition, params, cancel, events_tx);
    let mut lost = false;
    let mut interrupted = false;
    let follow = async {
        let start = tokio::time::Instant::now();
        let renew_every = holder.renew_every();
        let mut poll = tokio::time::interval_at(start + CANCEL_POLL, CANCEL_POLL);
        let mut renew = tokio::time::interval_at(start + renew_every, renew_every);
        let mut flush = tokio::time::interval_at(start + LOG_FLUSH, LOG_FLUSH);
        let mut progress = RunProgress::default();
        let listen_for_ctrl_c = watch.stops_on_ctrl_c();
        loop {
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { break };
                    watch.event(&event);
                    match event {
                        RunEvent::Log(line) => progress.add_line(&line),
                        RunEvent::StepStarted { steps, logs, .. }
                        | RunEvent::StepFinished { steps, logs, .. } => {
                            progress.replace(steps, logs);
                            if !lost {
                                record(holder, watch, &mut progress).await;
                            }
                        }
                        // Recorded at once: it is what a cancel needs should this process die.
                        RunEvent::StepProcess(group) => {
                            progress.set_process_group(group);
                            if !lost {
                                record(holder, watch, &mut progress).await;
                            }
                        }
                    }
                }
                _ = flush.tick(), if !lost && progress.unrecorded() => {
                    record(holder, watch, &mut progress).await;
                }
                _ = poll.tick() => {
                    if holder.cancel_requested().await {
                        let _ = cancel_tx.send(true);
                    }
                }
                _ = renew.tick(), if !lost => {
                    if holder.renew(progress.report()).await == Renewal::Lost {
                        lost = true;
                        let _ = cancel_tx.send(true);
                    }
                }
                signal = tokio::signal::ctrl_c(), if listen_for_ctrl_c && !interrupted => {
                    if signal.is_ok() {
                        interrupted = true;
                        watch.interrupted();
                        let _ = cancel_tx.send(true);
                    }
                }
            }
        }
    };
    let (result, ()) = tokio::join!(execution, follow);
    if lost {
        return None;
    }
    let run = holder
        .report(RunReport {
            status: result.status,
            steps: result.steps,
            logs: tail(result.logs),
            error: result.error,
            process_group: None,
        })
        .await;
    Some(Supervised { run, interrupted })
}

async fn record(holder: &dyn RunHolder, watch: &mut dyn RunWatch, progress: &mut RunProgress) {
    if let Err(why) = holder.report(progress.report()).await {
        watch.report_failed(&why);
    }
}

/// A run that `plat automation run` executes itself, held through the caller's platform: each
/// progress report renews its lease.
pub(crate) struct CallerHeldRun<'a> {
    pub platform: &'a dyn Platform,
    pub id: &'a str,
}

#[async_trait]
impl RunHolder for CallerHeldRun<'_> {
    fn renew_every(&self) -> Duration {
        Duration::from_secs(LOCAL_RUN_LEASE_SECONDS.unsigned_abs()) / 3
    }

    async fn report(&self, report: RunReport) -> Result<AutomationRun, String> {
        self.platform
            .report_automation_run(self.id, report)
            .await
            .map_err(|err| err.message)
    }

    async fn cancel_requested(&self) -> bool {
        self.platform
            .get_automation_run(self.id)
            .await
            .is_ok_and(|run| run.cancel_requested)
    }

    async fn renew(&self, progress: RunReport) -> Renewal {
        match self.platform.report_automation_run(self.id, progress).await {
            Ok(_) => Renewal::Held,
            // The run ended without us: failed after a lapse (this process was stopped), or
            // cancelled by someone who saw it orphaned.
            Err(err) if err.kind == ErrorKind::Conflict => Renewal::Lost,
            Err(_) => Renewal::Unknown,
        }
    }
}

/// This process, as the runner of the runs it executes.
pub(crate) fn this_runner() -> LocalRunner {
    LocalRunner {
        host: this_host(),
        pid: std::process::id(),
        process_group: None,
    }
}

fn this_host() -> String {
    #[cfg(unix)]
    if let Ok(name) = nix::unistd::gethostname() {
        return name.to_string_lossy().into_owned();
    }
    // Where it cannot be asked, every runner is on "localhost": a cancel then stops nothing
    // itself, since `process::alive` cannot tell a dead runner either.
    "localhost".into()
}

/// What `plat automation cancel` did beyond asking.
#[derive(Debug, Clone)]
pub(crate) enum Cancelled {
    /// The run had ended, or was queued and is now cancelled; or its executor was asked and
    /// will stop it (a server worker, or a `plat automation run` still alive).
    Asked(AutomationRun),
    /// Its `plat automation run` on this machine had died: the step it left running was
    /// stopped here and the run recorded as cancelled.
    StoppedOrphan(AutomationRun),
}

/// Cancels a run. A run whose `plat automation run` died on this machine (killed, so nobody
/// will ever read the request) has its step's process group stopped here, and is recorded as
/// cancelled at once instead of waiting for its lease to lapse.
pub(crate) async fn cancel(platform: &dyn Platform, id: &str) -> crate::service::Result<Cancelled> {
    let run = platform.cancel_automation_run(id).await?;
    let Some(runner) = run.runner.clone() else {
        return Ok(Cancelled::Asked(run));
    };
    if run.status.is_final()
        || runner.host != this_host()
        || i32::try_from(runner.pid).is_ok_and(crate::process::alive)
    {
        return Ok(Cancelled::Asked(run));
    }
    if let Some(group) = runner.process_group {
        stop_process_group(group).await;
    }
    let logs = platform.automation_run_logs(id).await?.logs;
    let orphan = format!(
        "[plat] cancelled: the plat process running it (pid {}) had stopped; its step's processes were stopped\n",
        runner.pid
    );
    let report = RunReport {
        status: RunStatus::Cancelled,
        steps: run.steps.iter().cloned().map(cancel_step).collect(),
        logs: logs + &orphan,
        error: Some(format!(
            "cancelled; the plat process running it (pid {} on {}) had stopped",
            runner.pid, runner.host
        )),
        process_group: None,
    };
    match platform.report_automation_run(id, report).await {
        Ok(run) => Ok(Cancelled::StoppedOrphan(run)),
        // Its lease lapsed meanwhile and the run was failed: that record stands.
        Err(err) if err.kind == ErrorKind::Conflict => {
            Ok(Cancelled::Asked(platform.get_automation_run(id).await?))
        }
        Err(err) => Err(err),
    }
}

fn cancel_step(mut step: RunStep) -> RunStep {
    if matches!(step.status, RunStatus::Running | RunStatus::Pending) {
        step.status = RunStatus::Cancelled;
    }
    step
}

/// TERM, then KILL after a grace period, to every process of the group.
#[cfg(unix)]
async fn stop_process_group(group: i32) {
    use nix::sys::signal::{Signal, killpg};
    const GRACE: Duration = Duration::from_secs(3);
    let pgid = nix::unistd::Pid::from_raw(group);
    if killpg(pgid, Signal::SIGTERM).is_err() {
        return;
    }
    let deadline = tokio::time::Instant::now() + GRACE;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if killpg(pgid, None).is_err() {
            return;
        }
    }
    let _ = killpg(pgid, Signal::SIGKILL);
}

#[cfg(not(unix))]
async fn stop_process_group(_group: i32) {}
