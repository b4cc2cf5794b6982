//! The `kubernetes-job` runner (cargo feature `kube`): runs the automation's container as a
//! batch/v1 Job, follows its pod's log into the run's log, and maps the Job's end to the run's.

use std::time::Duration;

use futures_util::io::AsyncBufReadExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::definition::KubernetesJob;
use super::executor::{Leftover, RunInfo, StepLog};

/// How often the Job's status and its pod are looked at.
const POLL: Duration = Duration::from_millis(500);
/// How long the log is still read once the Job has ended: the last lines may trail the status.
const LOG_GRACE: Duration = Duration::from_secs(5);
/// Status reads that may fail in a row before the Job is given up (and deleted).
const MAX_FAILED_READS: u32 = 5;
/// Kubernetes keeps a finished Job (and its pod's log) this long unless the definition says.
const DEFAULT_TTL: Duration = Duration::from_secs(3600);

pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Labels under the platform's label domain (`crate::labels`).
pub const LABEL_RUN: &str = "run-id";
pub const LABEL_AUTOMATION: &str = "automation";
pub const LABEL_ACCOUNT: &str = "account";
/// An e-mail is not a valid label value, so the owner is an annotation.
pub const ANNOTATION_OWNER: &str = "owner";

/// A Job this run created: deleted when the run stops it early (cancel, timeout).
pub struct CreatedJob {
    jobs: Api<Job>,
    name: String,
}

impl CreatedJob {
    /// Deletes the Job and, through background propagation, its pod.
    pub async fn delete(self, log: &StepLog) {
        match self
            .jobs
            .delete(&self.name, &DeleteParams::background())
            .await
        {
            Ok(_) => log.line(format!("deleted Job {}", self.name)),
            Err(err) => log.line(format!("could not delete Job {}: {err}", self.name)),
        }
    }
}

pub(super) async fn run(
    settings: &KubernetesJob,
    run: &RunInfo,
    domain: &str,
    log: &StepLog,
    leftover: &mut Leftover,
) -> Result<Value, (String, Value)> {
    let fail = |message: String| (message, Value::Null);
    let client = crate::scan::kube::client_for_context(settings.context.as_deref())
        .await
        .map_err(|err| fail(format!("cannot reach the Kubernetes cluster: {err}")))?;
    let namespace = settings
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let job = manifest(settings, run, domain).map_err(fail)?;
    let name = job.metadata.name.clone().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    jobs.create(&PostParams::default(), &job)
        .await
        .map_err(|err| fail(format!("cannot create Job {namespace}/{name}: {err}")))?;
    *leftover = Leftover::Job(Box::new(CreatedJob {
        jobs: jobs.clone(),
        name: name.clone(),
    }));
    log.line(format!(
        "created Job {namespace}/{name} (image {})",
        settings.image
    ));

    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let (ended_tx, ended) = watch::channel(false);
    let follow = follow_log(&pods, &name, log, ended);
    let wait = async {
        let end = wait_for_end(&jobs, &name).await;
        let _ = ended_tx.send(true);
        end
    };
    let (pod, end) = tokio::join!(follow, wait);
    let mut seen = json!({ "job": name, "namespace": namespace, "pod": pod });
    if !matches!(end, Err(JobEnd::Unreadable(_))) {
        // Ended: a failed Job stays until its TTL, so its pod can be inspected.
        *leftover = Leftover::Nothing;
    }
    match end {
        Ok(()) => {
            seen["succeeded"] = Value::Bool(true);
            Ok(seen)
        }
        Err(JobEnd::Failed(why)) => {
            seen["succeeded"] = Value::Bool(false);
            Err((format!("Job {namespace}/{name} failed: {why}"), seen))
        }
        Err(JobEnd::Unreadable(why)) => Err((
            format!("cannot read the status of Job {namespace}/{name}: {why}"),
            seen,
        )),
    }
}

/// The Job as sent: one container, never restarted, never retried (a retry is a new run), its
/// pod labelled like the Job so that both can be traced to the run (DOMAIN.md section 4).
pub fn manifest(settings: &KubernetesJob, run: &RunInfo, domain: &str) -> Result<Job, String> {
    let id = if run.id.is_empty() {
        ulid::Ulid::generate().to_string().to_lowercase()
    } else {
        run.id.to_lowercase()
    };
    let name = format!("plat-run-{id}");
    let mut labels = json!({ LABEL_MANAGED_BY: "plat", format!("{domain}/{LABEL_RUN}"): id });
    for (key, value) in [
        (LABEL_AUTOMATION, &run.automation),
        (LABEL_ACCOUNT, &run.account),
    ] {
        if !value.is_empty() {
            labels[format!("{domain}/{key}")] = json!(value);
        }
    }
    let annotations = json!({ format!("{domain}/{ANNOTATION_OWNER}"): run.owner });
    let ttl = settings
        .ttl_after_finished
        .as_deref()
        .and_then(super::parse_duration)
        .unwrap_or(DEFAULT_TTL);
    let mut container = json!({
        "name": "automation",
        "image": settings.image,
        "env": settings.env.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect::<Vec<_>>(),
    });
    if !settings.command.is_empty() {
        container["command"] = json!(settings.command);
    }
    if !settings.args.is_empty() {
        container["args"] = json!(settings.args);
    }
    if let Some(resources) = &settings.resources {
        container["resources"] = resources.clone();
    }
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": name, "labels": labels, "annotations": annotations },
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": ttl.as_secs(),
            "template": {
                "metadata": { "labels": labels, "annotations": annotations },
                "spec": { "restartPolicy": "Never", "containers": [container] },
            },
        },
    });
    serde_json::from_value(job).map_err(|err| format!("invalid Job settings: {err}"))
}

enum JobEnd {
    Failed(String),
    Unreadable(String),
}

/// Polls the Job until it reports a succeeded or a failed pod (backoffLimit 0: one is the end).
/// A few failed reads in a row are tolerated: an API server restarts, a connection drops.
async fn wait_for_end(jobs: &Api<Job>, name: &str) -> Result<(), JobEnd> {
    let mut failed_reads = 0;
    loop {
        let job = match jobs.get_status(name).await {
            Ok(job) => {
                failed_reads = 0;
                job
            }
            Err(err) => {
                failed_reads += 1;
                if failed_reads >= MAX_FAILED_READS {
                    return Err(JobEnd::Unreadable(err.to_string()));
                }
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        let status = job.status.unwrap_or_default();
        let condition = |kind: &str| {
            status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == kind && c.status == "True")
        };
        if status.succeeded.unwrap_or(0) > 0 || condition("Complete").is_some() {
            return Ok(());
        }
        if let Some(failed) = condition("Failed") {
            let reason = failed.reason.clone().unwrap_or_else(|| "Failed".into());
            return Err(JobEnd::Failed(match &failed.message {
                Some(message) => format!("{reason}: {message}"),
                None => reason,
            }));
        }
        if status.failed.unwrap_or(0) > 0 {
            return Err(JobEnd::Failed("its pod failed".into()));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Finds the Job's pod (Kubernetes labels it `job-name`) and copies its log, line by line, into
/// the step's log until the container ends. Returns the pod's name, if one was seen.
async fn follow_log(
    pods: &Api<Pod>,
    job: &str,
    log: &StepLog,
    mut ended: watch::Receiver<bool>,
) -> Option<String> {
    let selector = ListParams::default().labels(&format!("job-name={job}"));
    let pod = loop {
        let started = pods.list(&selector).await.ok().and_then(|list| {
            list.items.into_iter().find(|pod| {
                let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
                matches!(phase, Some("Running" | "Succeeded" | "Failed"))
            })
        });
        if let Some(pod) = started {
            break pod.metadata.name.unwrap_or_default();
        }
        if *ended.borrow() {
            // Ended without a pod that ran (deleted, or never scheduled): no log to read.
            return None;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = ended.changed() => {}
        }
    };
    log.line(format!("following the log of pod {pod}"));
    let params = LogParams {
        follow: true,
        ..LogParams::default()
    };
    let stream = match pods.log_stream(&pod, &params).await {
        Ok(stream) => stream,
        Err(err) => {
            log.line(format!("cannot read the log of pod {pod}: {err}"));
            return Some(pod);
        }
    };
    let mut lines = stream.lines();
    let grace = async {
        let _ = ended.wait_for(|ended| *ended).await;
        tokio::time::sleep(LOG_GRACE).await;
    };
    tokio::pin!(grace);
    loop {
        tokio::select! {
            line = futures_util::StreamExt::next(&mut lines) => match line {
                Some(Ok(line)) => log.line(format!("pod: {line}")),
                Some(Err(err)) => {
                    log.line(format!("the log of pod {pod} broke off: {err}"));
                    break;
                }
                None => break,
            },
            () = &mut grace => {
                log.line(format!("stopped following the log of pod {pod}: the Job ended"));
                break;
            }
        }
    }
    Some(pod)
}
