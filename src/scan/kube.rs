//! Live cluster scans: discover every listable resource type and run the manifest rules over
//! what the API server returns (cargo feature `kube`).

use ::kube::api::{Api, DynamicObject, ListParams};
use ::kube::config::KubeConfigOptions;
use ::kube::discovery::{Discovery, Scope, verbs};
use serde_json::Value;

use super::rules::{self, DocSource};
use super::{Origin, ScanConfig, ScanError, ScanSink};

/// Progress of a cluster scan, for the caller's progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeProgress {
    Discovered {
        resource_types: usize,
    },
    Listing {
        api_version: String,
        kind: String,
        index: usize,
        total: usize,
    },
    Listed {
        api_version: String,
        kind: String,
        count: usize,
    },
    Skipped {
        api_version: String,
        kind: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct KubeScanOptions<'a> {
    pub config: &'a ScanConfig,
    /// Only this namespace (cluster-scoped types are then skipped).
    pub namespace: Option<String>,
    /// Shown as the location of findings: `cluster:<label>/<namespace>`.
    pub cluster_label: String,
    pub page_size: u32,
    /// Plural resource names never listed; events are noise and change every second.
    pub skip_resources: Vec<String>,
}

impl<'a> KubeScanOptions<'a> {
    pub fn new(config: &'a ScanConfig, cluster_label: impl Into<String>) -> Self {
        Self {
            config,
            namespace: None,
            cluster_label: cluster_label.into(),
            page_size: 500,
            skip_resources: vec!["events".into()],
        }
    }
}

fn kube_error(e: impl std::fmt::Display) -> ScanError {
    ScanError::Kube(e.to_string())
}

/// A client for a kubeconfig context (`--kube-context`), or the current context.
pub async fn client_for_context(context: Option<&str>) -> Result<::kube::Client, ScanError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = ::kube::Config::from_kubeconfig(&options)
        .await
        .map_err(kube_error)?;
    ::kube::Client::try_from(config).map_err(kube_error)
}

/// Lists every listable resource type (paged) and checks each object.
pub async fn scan_cluster(
    client: ::kube::Client,
    options: &KubeScanOptions<'_>,
    sink: &mut (dyn ScanSink + Send),
    progress: &mut (dyn FnMut(KubeProgress) + Send),
) -> Result<(), ScanError> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(kube_error)?;
    let mut types = Vec::new();
    for group in discovery.groups_alphabetical() {
        for (resource, caps) in group.recommended_resources() {
            types.push((resource, caps));
        }
    }
    progress(KubeProgress::Discovered {
        resource_types: types.len(),
    });
    let total = types.len();
    for (index, (resource, caps)) in types.into_iter().enumerate() {
        let skip = |reason: &str| KubeProgress::Skipped {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
            reason: reason.to_string(),
        };
        if !caps.supports_operation(verbs::LIST) {
            progress(skip("not listable"));
            continue;
        }
        if options.skip_resources.contains(&resource.plural) {
            progress(skip("excluded"));
            continue;
        }
        let api: Api<DynamicObject> = match (&options.namespace, &caps.scope) {
            (Some(ns), Scope::Namespaced) => Api::namespaced_with(client.clone(), ns, &resource),
            (Some(_), Scope::Cluster) => {
                progress(skip("cluster-scoped (namespace filter)"));
                continue;
            }
            (None, _) => Api::all_with(client.clone(), &resource),
        };
        progress(KubeProgress::Listing {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
            index,
            total,
        });
        let mut params = ListParams::default().limit(options.page_size);
        let mut count = 0;
        loop {
            let page = match api.list(&params).await {
                Ok(page) => page,
                Err(::kube::Error::Api(status)) if status.code == 403 || status.code == 404 => {
                    // RBAC may hide some types; the rest of the cluster is still worth scanning.
                    sink.partial(format!(
                        "{} {} could not be listed: {}",
                        resource.api_version, resource.plural, status.message
                    ));
                    break;
                }
                Err(e) => return Err(kube_error(e)),
            };
            for object in page.items {
                let mut value = serde_json::to_value(&object).map_err(kube_error)?;
                // List items usually omit their own type; the discovered one is authoritative.
                if let Value::Object(map) = &mut value {
                    map.insert(
                        "apiVersion".into(),
                        Value::String(resource.api_version.clone()),
                    );
                    map.insert("kind".into(), Value::String(resource.kind.clone()));
                }
                let namespace = object
                    .metadata
                    .namespace
                    .as_deref()
                    .unwrap_or("cluster-scoped");
                let file = format!("cluster:{}/{namespace}", options.cluster_label);
                let doc = DocSource {
                    file: &file,
                    line: 1,
                    text: None,
                    origin: Origin::Cluster,
                };
                if let Some(found) = rules::check_object(&value, &doc, options.config, sink) {
                    sink.resource(found);
                    count += 1;
                }
            }
            match page.metadata.continue_.filter(|token| !token.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
        progress(KubeProgress::Listed {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
            count,
        });
    }
    Ok(())
}
