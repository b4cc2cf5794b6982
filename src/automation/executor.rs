//! Runs a definition in this process: its `steps`, or its runner as a single step. Renders each
//! step's input with the Backstage expression engine, executes it under its timeout, the run's
//! timeout and cancellation, and reports every change as an event so the caller can show
//! progress and record the run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};

use super::actions::{self, StepActions};
use super::definition::{Definition, KUBERNETES_JOB, Step, WEBHOOK};
use super::parse_duration;
use crate::api::RunStatus;
use crate::api::RunStep;
use crate::expr::Engine;

/// A request to stop: a run's (`plat automation cancel`, seen by polling, or Ctrl-C), or one
/// step's (its timeout, for the actions that stop gracefully).
#[derive(Clone)]
pub struct CancelSignal(watch::Receiver<bool>);

impl CancelSignal {
    pub fn new() -> (watch::Sender<bool>, CancelSignal) {
        let (tx, rx) = watch::channel(false);
        (tx, CancelSignal(rx))
    }

    pub async fn cancelled(&mut self) {
        if self.0.wait_for(|c| *c).await.is_err() {
            // The sender is gone: nobody can cancel any more.
            std::future::pending::<()>().await;
        }
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }
}

/// Progress of a run. Each carries the whole state so far, so a consumer can resend it as is.
#[derive(Debug, Clone)]
pub enum RunEvent {
    StepStarted {
        index: usize,
        steps: Vec<RunStep>,
        logs: String,
    },
    StepFinished {
        steps: Vec<RunStep>,
        logs: String,
    },
    Log(String),
    /// An exec step's command started in its own process group (`Some`), or ended (`None`):
    /// recorded with the run, so that `plat automation cancel` can stop it should this process die.
    StepProcess(Option<i32>),
}

/// Whose run this is: named in what a runner sends out (the Job's labels, the webhook's body).
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub id: String,
    pub automation: String,
    pub account: String,
    pub owner: String,
}

impl RunInfo {
    pub fn of(run: &crate::api::AutomationRun) -> Self {
        Self {
            id: run.id.clone(),
            automation: run.automation.clone(),
            account: run.account.clone(),
            owner: run.owner.clone(),
        }
    }
}

/// A step's log lines: sent at once to whoever follows the run (a Job's pod log can run for
/// an hour), and kept for the run's record.
pub struct StepLog {
    step: String,
    events: mpsc::UnboundedSender<RunEvent>,
    lines: Mutex<Vec<String>>,
}

impl StepLog {
    fn new(step: &str, events: mpsc::UnboundedSender<RunEvent>) -> Self {
        Self {
            step: step.to_owned(),
            events,
            lines: Mutex::new(Vec::new()),
        }
    }

    pub fn line(&self, text: impl Into<String>) {
        let line = format!("[{}] {}", self.step, text.into());
        let _ = self.events.send(RunEvent::Log(line.clone()));
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
    }

    fn process(&self, group: Option<i32>) {
        let _ = self.events.send(RunEvent::StepProcess(group));
    }

    fn take(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|mut lines| std::mem::take(&mut *lines))
            .unwrap_or_default()
    }
}

/// What a step leaves behind when it is stopped early, to be undone before the run ends.
#[derive(Default)]
pub(super) enum Leftover {
    #[default]
    Nothing,
    #[cfg(feature = "kube")]
    Job(Box<super::kube_job::CreatedJob>),
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub status: RunStatus,
    pub steps: Vec<RunStep>,
    pub logs: String,
    pub error: Option<String>,
}

/// Why a step stopped early.
enum Stop {
    /// The message, and what the step saw before failing (an HTTP answer, an exit code).
    Failed(String, Value),
    StepTimeout(Duration),
    RunTimeout(Duration),
    Cancelled,
}

/// Actions told to stop and waited for (up to `STOP_GRACE`) rather than dropped on the spot:
/// Terraform must record that it stopped, and a killed command must be gone (reaped) before its
/// step is recorded as stopped.
const STOPPED_GRACEFULLY: [&str; 3] = ["env.up", "env.down", "exec"];
const STOP_GRACE: Duration = Duration::from_secs(60);

/// Default first pause between HTTP retries; doubled after each one.
const DEFAULT_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Cheap to clone: a server worker makes one per run, each acting as that run's owner.
#[derive(Clone)]
pub struct Executor {
    engine: Arc<Engine>,
    /// Built on first use: loading the system's root certificates costs more than a no-op run.
    http: Arc<std::sync::OnceLock<Result<reqwest::Client, String>>>,
    clock: crate::service::Clock,
    /// Where a webhook runner's `secret_env` is looked up: the executing process's environment.
    environment: BTreeMap<String, String>,
    /// env.up, env.down, scaffold and scan, done through the platform as the run's owner.
    actions: Option<Arc<dyn StepActions>>,
}

impl Executor {
    pub fn new(clock: crate::service::Clock) -> Result<Self, String> {
        Ok(Self {
            engine: Arc::new(Engine::new()),
            http: Arc::default(),
            clock,
            environment: BTreeMap::new(),
            actions: None,
        })
    }

    /// The variables a webhook runner's `secret_env` may name.
    pub fn with_environment(mut self, environment: BTreeMap<String, String>) -> Self {
        self.environment = environment;
        self
    }

    /// Lets steps act on the platform (env.up, env.down, scaffold, scan) as the run's owner.
    pub fn with_actions(mut self, actions: Arc<dyn StepActions>) -> Self {
        self.actions = Some(actions);
        self
    }

    /// The injected clock's time, in the stored and shown precision (whole seconds).
    fn now(&self) -> crate::api::Timestamp {
        crate::api::Timestamp::from_jiff((self.clock)())
    }

    /// Runs a definition for a caller that has no run record: its runner, if any, is told only
    /// the automation's name.
    #[cfg(test)]
    pub async fn run(
        &self,
        definition: &Definition,
        params: &Value,
        cancel: CancelSignal,
        events: mpsc::UnboundedSender<RunEvent>,
    ) -> RunResult {
        let run = RunInfo {
            automation: definition.metadata.name.clone(),
            ..RunInfo::default()
        };
        self.run_for(&run, definition, params, cancel, events).await
    }

    /// Runs every step in order. A failed step fails the run and skips the rest, unless it
    /// says `continue_on_error`.
    pub async fn run_for(
        &self,
        run: &RunInfo,
        definition: &Definition,
        params: &Value,
        mut cancel: CancelSignal,
        events: mpsc::UnboundedSender<RunEvent>,
    ) -> RunResult {
        let plan = definition.plan();
        let mut steps: Vec<RunStep> = plan
            .iter()
            .map(|s| RunStep {
                id: s.id.clone(),
                action: s.action.clone(),
                status: RunStatus::Pending,
                output: Value::Null,
                ..RunStep::default()
            })
            .collect();
        let mut logs = String::new();
        let log = |logs: &mut String, line: String| {
            let _ = events.send(RunEvent::Log(line.clone()));
            logs.push_str(&line);
            logs.push('\n');
        };
        let run_limit = definition.spec.timeout.as_deref().and_then(parse_duration);
        let deadline = run_limit.map(|limit| tokio::time::Instant::now() + limit);
        let mut outputs = Map::new();
        let mut error = None;
        let mut final_status = RunStatus::Succeeded;

        for (index, step) in plan.iter().enumerate() {
            if final_status != RunStatus::Succeeded && error.is_some() {
                steps[index].status = RunStatus::Skipped;
                continue;
            }
            let ctx = json!({ "parameters": params, "steps": outputs });
            if let Some(condition) = &step.condition {
                match self.engine.condition(condition, &ctx) {
                    Ok(true) => {}
                    Ok(false) => {
                        steps[index].status = RunStatus::Skipped;
                        log(
                            &mut logs,
                            format!("[{}] skipped: its `if` is false", step.id),
                        );
                        continue;
                    }
                    Err(err) => {
                        steps[index].status = RunStatus::Failed;
                        steps[index].error = Some(err.to_string());
                        error = Some(format!("step '{}' failed: {err}", step.id));
                        final_status = RunStatus::Failed;
                        continue;
                    }
                }
            }
            steps[index].status = RunStatus::Running;
            steps[index].started_at = Some(self.now());
            let _ = events.send(RunEvent::StepStarted {
                index,
                steps: steps.clone(),
                logs: logs.clone(),
            });
            let started = Instant::now();
            let mut attempts = 0;
            let step_log = StepLog::new(&step.id, events.clone());
            let mut leftover = Leftover::Nothing;
            let outcome = match self.engine.render_value(&step.input, &ctx) {
                Err(err) => Err(Stop::Failed(
                    format!("cannot render its input: {err}"),
                    Value::Null,
                )),
                Ok(input) => {
                    let limit = step.timeout.as_deref().and_then(parse_duration);
                    let (stop_step, stop) = CancelSignal::new();
                    let work = self.execute(
                        Work {
                            run,
                            step,
                            input: &input,
                            params,
                            stop,
                        },
                        &mut attempts,
                        &step_log,
                        &mut leftover,
                    );
                    tokio::pin!(work);
                    let outcome = tokio::select! {
                        result = &mut work => result.map_err(|(message, seen)| Stop::Failed(message, seen)),
                        () = sleep_opt(limit) => Err(Stop::StepTimeout(limit.unwrap_or_default())),
                        () = sleep_until_opt(deadline) => Err(Stop::RunTimeout(run_limit.unwrap_or_default())),
                        () = cancel.cancelled() => Err(Stop::Cancelled),
                    };
                    let stopped_early = matches!(
                        outcome,
                        Err(Stop::StepTimeout(_) | Stop::RunTimeout(_) | Stop::Cancelled)
                    );
                    if stopped_early && STOPPED_GRACEFULLY.contains(&step.action.as_str()) {
                        // Killing Terraform mid-apply would leave its state lock held and the
                        // env `provisioning`: it is asked to stop and given time to record that.
                        let _ = stop_step.send(true);
                        if tokio::time::timeout(STOP_GRACE, &mut work).await.is_err() {
                            step_log.line(format!(
                                "did not stop within {}; abandoned",
                                human(STOP_GRACE)
                            ));
                        }
                    }
                    outcome
                }
            };
            if outcome.is_err() {
                clean_up(leftover, &step_log).await;
            }
            for line in step_log.take() {
                logs.push_str(&line);
                logs.push('\n');
            }
            let record = &mut steps[index];
            record.attempts = attempts;
            record.finished_at = Some(self.now());
            let elapsed = started.elapsed().as_millis();
            match outcome {
                Ok(output) => {
                    record.status = RunStatus::Succeeded;
                    outputs.insert(step.id.clone(), json!({ "output": output }));
                    record.output = output;
                    log(
                        &mut logs,
                        format!("[{}] succeeded in {elapsed} ms", step.id),
                    );
                }
                Err(stop) => {
                    let (state, message, fatal) = match stop {
                        Stop::Failed(message, seen) => {
                            // Later steps may still read what a tolerated failure saw.
                            if !seen.is_null() {
                                outputs.insert(step.id.clone(), json!({ "output": seen }));
                                record.output = seen;
                            }
                            (RunStatus::Failed, message, !step.continue_on_error)
                        }
                        Stop::StepTimeout(limit) => (
                            RunStatus::Failed,
                            format!("timed out after {}", human(limit)),
                            !step.continue_on_error,
                        ),
                        Stop::RunTimeout(limit) => (
                            RunStatus::Failed,
                            format!("the run timed out after {}", human(limit)),
                            true,
                        ),
                        Stop::Cancelled => (RunStatus::Cancelled, "cancelled".to_owned(), true),
                    };
                    record.status = state;
                    record.error = Some(message.clone());
                    log(&mut logs, format!("[{}] {state}: {message}", step.id));
                    if state == RunStatus::Cancelled {
                        final_status = RunStatus::Cancelled;
                        error = Some(format!("cancelled during step '{}'", step.id));
                    } else if fatal {
                        final_status = RunStatus::Failed;
                        error = Some(format!("step '{}' failed: {message}", step.id));
                    } else {
                        log(
                            &mut logs,
                            format!("[{}] continue_on_error: the run goes on", step.id),
                        );
                    }
                }
            }
            let _ = events.send(RunEvent::StepFinished {
                steps: steps.clone(),
                logs: logs.clone(),
            });
            if final_status == RunStatus::Cancelled {
                for later in steps.iter_mut().skip(index + 1) {
                    later.status = RunStatus::Skipped;
                }
                break;
            }
        }
        if cancel.is_cancelled() && final_status == RunStatus::Succeeded {
            final_status = RunStatus::Cancelled;
            error = Some("cancelled".into());
        }
        RunResult {
            status: final_status,
            steps,
            logs,
            error,
        }
    }

    async fn execute(
        &self,
        work: Work<'_>,
        attempts: &mut u32,
        log: &StepLog,
        leftover: &mut Leftover,
    ) -> Result<Value, (String, Value)> {
        let input = work.input;
        let action = work.step.action.as_str();
        if action != "http" && action != WEBHOOK {
            *attempts = 1;
        }
        match action {
            "http" => self.http(input, attempts, log).await,
            "exec" => exec(input, log, work.stop).await,
            WEBHOOK => {
                let hook = settings(input)?;
                super::webhook::call(self, &hook, work.run, work.params, attempts, log).await
            }
            KUBERNETES_JOB => self.kubernetes_job(input, work.run, log, leftover).await,
            "env.up" | "env.down" | "scaffold" | "scan" => {
                let Some(platform) = &self.actions else {
                    return Err((
                        format!(
                            "the {action} action needs the platform, which this executor was not given"
                        ),
                        Value::Null,
                    ));
                };
                actions::execute(platform.as_ref(), action, input, log, work.stop).await
            }
            other => Err((format!("unknown action '{other}'"), Value::Null)),
        }
    }

    #[cfg(feature = "kube")]
    async fn kubernetes_job(
        &self,
        input: &Value,
        run: &RunInfo,
        log: &StepLog,
        leftover: &mut Leftover,
    ) -> Result<Value, (String, Value)> {
        let job = settings(input)?;
        let domain = crate::labels::domain_in(&self.environment);
        super::kube_job::run(&job, run, &domain, log, leftover).await
    }

    #[cfg(not(feature = "kube"))]
    async fn kubernetes_job(
        &self,
        _: &Value,
        _: &RunInfo,
        _: &StepLog,
        _: &mut Leftover,
    ) -> Result<Value, (String, Value)> {
        Err((
            "the kubernetes-job runner needs a plat built with the `kube` feature".into(),
            Value::Null,
        ))
    }

    pub(super) fn http_client(&self) -> Result<&reqwest::Client, String> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .user_agent(concat!("plat-automation/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|err| format!("cannot build the HTTP client: {err}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    pub(super) fn environment(&self, name: &str) -> Option<&str> {
        self.environment
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An HTTP request; 5xx answers and connection errors are retried with exponential backoff.
    async fn http(
        &self,
        input: &Value,
        attempts: &mut u32,
        log: &StepLog,
    ) -> Result<Value, (String, Value)> {
        let fail = |message: String| (message, Value::Null);
        let url = input["url"]
            .as_str()
            .ok_or_else(|| fail("the http action needs a `url`".into()))?
            .to_owned();
        let method = input["method"]
            .as_str()
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| fail(format!("invalid HTTP method '{method}'")))?;
        let retry = Retry::from_input(input["retries"].as_u64(), input["backoff"].as_str());
        let timeout = input["timeout"].as_str().and_then(parse_duration);
        let client = self.http_client().map_err(fail)?;
        let build = || {
            let mut request = client.request(method.clone(), &url);
            if let Some(headers) = input["headers"].as_object() {
                for (name, value) in headers {
                    request = request.header(name, plain(value));
                }
            }
            match &input["body"] {
                Value::Null => {}
                Value::String(text) => request = request.body(text.clone()),
                other => request = request.json(other),
            }
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            request
        };
        let label = format!("{method} {url}");
        let response = send_with_retries(build, &label, retry, attempts, log)
            .await
            .map_err(fail)?;
        let code = response.status().as_u16();
        let headers: Map<String, Value> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    Value::String(v.to_str().unwrap_or_default().to_owned()),
                )
            })
            .collect();
        let body = read_body(response, &label).await.map_err(fail)?;
        log.line(format!("{label} -> {code}"));
        let output = json!({ "status": code, "headers": headers, "body": body });
        if code >= 400 {
            return Err((format!("{label} answered {code}"), output));
        }
        Ok(output)
    }
}

/// One step's work: what it is, with what input, for whose run.
struct Work<'a> {
    run: &'a RunInfo,
    step: &'a Step,
    input: &'a Value,
    params: &'a Value,
    /// Set when the step must stop early, for actions that stop gracefully.
    stop: CancelSignal,
}

/// A rendered runner's settings, read back into their type.
fn settings<T: serde::de::DeserializeOwned>(input: &Value) -> Result<T, (String, Value)> {
    serde_json::from_value(input.clone()).map_err(|err| {
        (
            format!("the runner's settings do not read after rendering: {err}"),
            Value::Null,
        )
    })
}

#[cfg_attr(not(feature = "kube"), allow(unused_variables))]
async fn clean_up(leftover: Leftover, log: &StepLog) {
    match leftover {
        Leftover::Nothing => {}
        #[cfg(feature = "kube")]
        Leftover::Job(job) => job.delete(log).await,
    }
}

/// How often, and how patiently, a request is sent again after a 5xx answer or a connection error.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retry {
    pub retries: u32,
    pub backoff: Duration,
}

impl Retry {
    pub fn from_input(retries: Option<u64>, backoff: Option<&str>) -> Self {
        Self {
            retries: retries.unwrap_or(0).min(10) as u32,
            backoff: backoff.and_then(parse_duration).unwrap_or(DEFAULT_BACKOFF),
        }
    }
}

/// Sends what `build` makes until it gets an answer that is not a 5xx, or runs out of retries;
/// the pause doubles after each try, with jitter (`crate::backoff`). `attempts` counts every send.
pub(super) async fn send_with_retries(
    build: impl Fn() -> reqwest::RequestBuilder,
    label: &str,
    retry: Retry,
    attempts: &mut u32,
    log: &StepLog,
) -> Result<reqwest::Response, String> {
    let mut backoff = crate::backoff::Backoff::new(retry.backoff, MAX_BACKOFF);
    loop {
        *attempts += 1;
        let result = build().send().await;
        let retryable = match &result {
            Ok(response) => response.status().is_server_error(),
            Err(err) => err.is_connect() || err.is_timeout() || err.is_request(),
        };
        if retryable && *attempts <= retry.retries {
            let why = match &result {
                Ok(response) => format!("answered {}", response.status().as_u16()),
                Err(err) => format!("failed ({})", connection_error(err)),
            };
            let wait = backoff.next_wait();
            log.line(format!(
                "{label} {why}; retry {}/{} in {}",
                *attempts,
                retry.retries,
                human(wait)
            ));
            tokio::time::sleep(wait).await;
            continue;
        }
        return result.map_err(|err| format!("{label} failed: {}", connection_error(&err)));
    }
}

/// The answer's body: JSON when it parses, else its text.
pub(super) async fn read_body(response: reqwest::Response, label: &str) -> Result<Value, String> {
    let text = response
        .text()
        .await
        .map_err(|err| format!("{label}: cannot read the answer: {err}"))?;
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The root cause ("Connection refused (os error 111)"): reqwest's own layers repeat the URL.
fn connection_error(err: &reqwest::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        message = inner.to_string();
        source = inner.source();
    }
    message
}

/// Kills the command's whole process group when the step ends early (timeout, cancel), so that
/// `sh -c "sleep 60"` does not leave its `sleep` behind.
struct ProcessGroup(Option<i32>);

impl ProcessGroup {
    fn kill(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.0.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn exec(
    input: &Value,
    log: &StepLog,
    mut stop: CancelSignal,
) -> Result<Value, (String, Value)> {
    let fail = |message: String| (message, Value::Null);
    let command: Vec<String> = input["command"]
        .as_array()
        .map(|items| items.iter().map(plain).collect())
        .unwrap_or_default();
    let Some((program, args)) = command.split_first() else {
        return Err(fail("the exec action needs a non-empty `command`".into()));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    if let Some(env) = input["env"].as_object() {
        for (name, value) in env {
            cmd.env(name, plain(value));
        }
    }
    if let Some(cwd) = input["cwd"].as_str() {
        cmd.current_dir(cwd);
    }
    let mut child = cmd
        .spawn()
        .map_err(|err| fail(format!("cannot start `{program}`: {err}")))?;
    let mut group = ProcessGroup(child.id().and_then(|id| i32::try_from(id).ok()));
    log.process(group.0);
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let ended = async {
        tokio::select! {
            status = child.wait() => return status.map(Some),
            () = stop.cancelled() => {}
        }
        // Stopped early (cancel, timeout): the step is recorded as stopped only once its
        // command is gone, so a caller that reads "cancelled" never finds it still running.
        group.kill();
        child.wait().await.map(|_| None)
    };
    // Lines are logged as the command writes them, so `run` and `logs -f` show them live.
    let (stdout, stderr, status) = tokio::join!(
        relay_lines(stdout, "stdout", log),
        relay_lines(stderr, "stderr", log),
        ended,
    );
    let status = status.map_err(|err| fail(format!("`{program}` failed: {err}")))?;
    // It ended (by itself, or killed above): nothing left to kill, and its pid may be reused.
    group.0 = None;
    log.process(None);
    let Some(status) = status else {
        return Err(fail(format!("`{program}` was stopped")));
    };
    let code = status.code().unwrap_or(-1);
    let tail = stderr.lines().last().unwrap_or("").trim().to_owned();
    let seen = json!({ "exit_code": code, "stdout": stdout, "stderr": stderr });
    if !status.success() {
        let message = if tail.is_empty() {
            format!("`{program}` exited with status {code}")
        } else {
            format!("`{program}` exited with status {code}: {tail}")
        };
        return Err((message, seen));
    }
    Ok(seen)
}

/// Logs each line of a command's `stream` as it comes, and returns the whole text.
async fn relay_lines(
    pipe: Option<impl tokio::io::AsyncRead + Unpin>,
    stream: &str,
    log: &StepLog,
) -> String {
    use tokio::io::AsyncBufReadExt;
    let Some(pipe) = pipe else {
        return String::new();
    };
    let mut reader = tokio::io::BufReader::new(pipe);
    let (mut text, mut line) = (String::new(), Vec::new());
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return text,
            Ok(_) => {
                let piece = String::from_utf8_lossy(&line);
                log.line(format!(
                    "{stream}: {}",
                    piece.trim_end_matches(['\n', '\r'])
                ));
                text.push_str(&piece);
            }
        }
    }
}

fn plain(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

async fn sleep_opt(limit: Option<Duration>) {
    match limit {
        Some(limit) => tokio::time::sleep(limit).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

pub(super) fn human(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_alone(yaml: &str) -> RunResult {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let definition = Definition::from_yaml("t.yaml", yaml).expect("valid definition");
        let executor = Executor::new(crate::service::system_clock()).expect("executor");
        let (_cancel, signal) = CancelSignal::new();
        let (events, _seen) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(executor.run(&definition, &json!({}), signal, events))
    }

    #[cfg(not(feature = "kube"))]
    #[test]
    fn a_plat_without_the_kube_feature_says_so_when_a_job_is_run() {
        let result = run_alone(
            "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: { name: job }\nspec:\n  runner: { kubernetes-job: { image: busybox:1.37 } }\n",
        );
        assert_eq!(result.status, RunStatus::Failed);
        assert_eq!(
            result.steps[0].error.as_deref(),
            Some("the kubernetes-job runner needs a plat built with the `kube` feature")
        );
    }

    #[test]
    fn platform_steps_fail_clearly_where_the_executor_has_no_platform() {
        let result = run_alone(
            "apiVersion: plat.dev/v1\nkind: Automation\nmetadata: { name: lint }\nspec:\n  steps:\n    - { id: lint, action: scan, input: { path: . } }\n",
        );
        assert_eq!(result.status, RunStatus::Failed);
        let error = result.steps[0].error.as_deref().unwrap_or_default();
        assert!(error.contains("needs the platform"), "{error}");
    }
}
