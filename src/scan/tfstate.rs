//! Terraform/OpenTofu state: `terraform show -json` output (format 0.x/1.x, state or plan)
//! and raw `.tfstate` files (version 4).
//!
//! Attribute values are never kept: only addresses, types, tags and dependencies reach the
//! inventory, so sensitive values in state cannot leak into a report.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

use super::rules::{self, DocSource, Emitter, TF_OUTPUT_SENSITIVE, TF_TAGS};
use super::{
    Location, Origin, REDACTED, Relation, RelationKind, Resource, ScanConfig, ScanError, ScanSink,
    redact_map,
};

/// The largest state or plan read: bounds memory when `--tf-state -` is fed endless input.
pub const MAX_STATE_BYTES: usize = 256 * 1024 * 1024;

/// Reads state from a reader (a file or stdin for `--tf-state -`).
pub fn scan_tf_state(
    source_name: &str,
    reader: impl Read,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
) -> Result<(), ScanError> {
    let mut text = String::new();
    reader
        .take(MAX_STATE_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|source| ScanError::Io {
            path: source_name.into(),
            source,
        })?;
    if text.len() > MAX_STATE_BYTES {
        return Err(ScanError::TfStateJson {
            source_name: source_name.to_string(),
            message: format!(
                "larger than {} MiB; the rest was not read",
                MAX_STATE_BYTES / (1024 * 1024)
            ),
        });
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| ScanError::TfStateJson {
        source_name: source_name.to_string(),
        message: e.to_string(),
    })?;
    scan_state(source_name, &value, Some(&text), config, sink)
}

/// Scans state already parsed (e.g. an environment's state JSON held by the platform).
pub fn scan_tf_state_value(
    source_name: &str,
    state: &Value,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
) -> Result<(), ScanError> {
    scan_state(source_name, state, None, config, sink)
}

fn scan_state(
    source_name: &str,
    state: &Value,
    text: Option<&str>,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
) -> Result<(), ScanError> {
    let doc = DocSource {
        file: source_name,
        line: 1,
        text,
        origin: Origin::Terraform,
    };
    if let Some(format) = state.get("format_version") {
        let version = format.as_str().unwrap_or_default();
        let major = version.split('.').next().unwrap_or_default();
        if !matches!(major, "0" | "1") {
            return Err(ScanError::TfStateVersion {
                source_name: source_name.to_string(),
                version: format.to_string(),
            });
        }
        let values = state
            .get("values")
            .or_else(|| state.get("planned_values"))
            .or_else(|| state.pointer("/prior_state/values"));
        let Some(values) = values else {
            // An empty state (`terraform show -json` with nothing applied) has only the version.
            return Ok(());
        };
        if let Some(root) = values.get("root_module") {
            show_json_module(root, &doc, config, sink);
        }
        if let Some(Value::Object(outputs)) = values.get("outputs") {
            for (name, output) in outputs {
                check_output(name, output, &doc, config, sink);
            }
        }
        return Ok(());
    }
    if let Some(version) = state.get("version") {
        if version.as_u64() != Some(4) {
            return Err(ScanError::TfStateVersion {
                source_name: source_name.to_string(),
                version: version.to_string(),
            });
        }
        if let Some(resources) = state.get("resources").and_then(Value::as_array) {
            for resource in resources {
                raw_resource(resource, &doc, config, sink);
            }
        }
        if let Some(Value::Object(outputs)) = state.get("outputs") {
            for (name, output) in outputs {
                check_output(name, output, &doc, config, sink);
            }
        }
        return Ok(());
    }
    Err(ScanError::TfStateShape {
        source_name: source_name.to_string(),
    })
}

fn show_json_module(
    module: &Value,
    doc: &DocSource<'_>,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
) {
    if let Some(resources) = module.get("resources").and_then(Value::as_array) {
        for resource in resources {
            if resource.get("mode").and_then(Value::as_str) != Some("managed") {
                continue;
            }
            let Some(address) = resource.get("address").and_then(Value::as_str) else {
                continue;
            };
            let depends_on = string_list(resource.get("depends_on"));
            let sensitive_tags = resource.get("sensitive_values").is_some_and(|s| {
                s.get("tags")
                    .is_some_and(|t| t != &Value::Bool(false) && !is_empty_marker(t))
                    || s.get("labels")
                        .is_some_and(|t| t != &Value::Bool(false) && !is_empty_marker(t))
            });
            emit_resource(
                TfResource {
                    address,
                    resource_type: resource.get("type").and_then(Value::as_str).unwrap_or(""),
                    name: resource.get("name").and_then(Value::as_str).unwrap_or(""),
                    values: resource.get("values"),
                    depends_on,
                    sensitive_tags,
                    needles: &[&format!("\"{address}\"")],
                },
                doc,
                config,
                sink,
            );
        }
    }
    if let Some(children) = module.get("child_modules").and_then(Value::as_array) {
        for child in children {
            show_json_module(child, doc, config, sink);
        }
    }
}

fn is_empty_marker(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .values()
            .all(|v| v == &Value::Bool(false) || is_empty_marker(v)),
        Value::Array(items) => items
            .iter()
            .all(|v| v == &Value::Bool(false) || is_empty_marker(v)),
        _ => false,
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn raw_resource(
    resource: &Value,
    doc: &DocSource<'_>,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
) {
    let mode = resource
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("managed");
    if mode != "managed" {
        return;
    }
    let resource_type = resource.get("type").and_then(Value::as_str).unwrap_or("");
    let name = resource.get("name").and_then(Value::as_str).unwrap_or("");
    let module = resource.get("module").and_then(Value::as_str);
    let base = match module {
        Some(module) => format!("{module}.{resource_type}.{name}"),
        None => format!("{resource_type}.{name}"),
    };
    let Some(instances) = resource.get("instances").and_then(Value::as_array) else {
        return;
    };
    let type_needle = format!("\"{resource_type}\"");
    let name_needle = format!("\"{name}\"");
    for instance in instances {
        let address = match instance.get("index_key") {
            Some(Value::Number(n)) => format!("{base}[{n}]"),
            Some(Value::String(s)) => format!("{base}[\"{s}\"]"),
            _ => base.clone(),
        };
        let sensitive_tags = instance.get("sensitive_attributes").is_some_and(|s| {
            let text = s.to_string();
            text.contains("\"tags\"") || text.contains("\"labels\"")
        });
        emit_resource(
            TfResource {
                address: &address,
                resource_type,
                name,
                values: instance.get("attributes"),
                depends_on: string_list(instance.get("dependencies")),
                sensitive_tags,
                needles: &[&type_needle, &name_needle],
            },
            doc,
            config,
            sink,
        );
    }
}

struct TfResource<'a> {
    address: &'a str,
    resource_type: &'a str,
    name: &'a str,
    values: Option<&'a Value>,
    depends_on: Vec<String>,
    sensitive_tags: bool,
    needles: &'a [&'a str],
}

/// `terraform_data` (how environment templates model cloud resources offline) keeps its tags
/// inside `input`, which raw state wraps as `{"value": …, "type": …}`.
fn terraform_data_tags<'a>(resource: &TfResource<'a>) -> Option<&'a Value> {
    if resource.resource_type != "terraform_data" {
        return None;
    }
    let input = resource.values?.get("input")?;
    let input = input.get("value").unwrap_or(input);
    input
        .get("tags")
        .or_else(|| input.get("labels"))
        .filter(|tags| tags.is_object())
}

fn emit_resource(
    resource: TfResource<'_>,
    doc: &DocSource<'_>,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
) {
    let tag_attribute = resource
        .values
        .and_then(|v| v.get("tags").or_else(|| v.get("labels")))
        .or_else(|| terraform_data_tags(&resource));
    let taggable = tag_attribute.is_some();
    // Provider default tags only show up in tags_all; they count as the resource's tags.
    let mut tags = rules::string_map_of(resource.values.and_then(|v| v.get("tags_all")));
    tags.extend(rules::string_map_of(tag_attribute));
    let line = doc.line_of(resource.needles);
    let located = DocSource {
        file: doc.file,
        line,
        text: None,
        origin: Origin::Terraform,
    };
    let emitter = Emitter {
        config,
        doc: &located,
        resource_id: resource.address,
        kind: resource.resource_type,
        name: resource.address,
        ignored: config.ignored_rules(&tags),
    };
    if taggable {
        let missing: Vec<&str> = config
            .required_labels
            .iter()
            .filter(|label| {
                rules::tag_value(&tags, label, &config.label_prefix).is_none_or(|v| v.is_empty())
            })
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            emitter.emit(
                sink,
                TF_TAGS,
                "tags",
                format!(
                    "{} lacks platform tags: {}",
                    resource.address,
                    missing.join(", ")
                ),
                &[],
            );
        }
    }
    if let Some(values) = resource.values {
        super::cloud::check(resource.resource_type, values, &emitter, sink);
    }
    if let Some(policies) = &config.policies {
        let input = serde_json::json!({
            "kind": "terraform",
            "address": resource.address,
            "type": resource.resource_type,
            "name": resource.name,
            "values": resource.values.cloned().unwrap_or(Value::Null),
        });
        policies.check(&input, &emitter, sink);
    }
    if resource.sensitive_tags {
        for value in tags.values_mut() {
            *value = REDACTED.to_string();
        }
    }
    redact_map(&mut tags);
    sink.resource(Resource {
        attribution: rules::attribution(config, &tags, true),
        id: resource.address.to_string(),
        origin: Origin::Terraform,
        kind: resource.resource_type.to_string(),
        api_version: None,
        name: resource.name.to_string(),
        namespace: None,
        address: Some(resource.address.to_string()),
        location: Location {
            file: doc.file.to_string(),
            line: line.max(1),
        },
        labels: tags,
        annotations: BTreeMap::new(),
        relations: resource
            .depends_on
            .into_iter()
            .map(|target| Relation {
                kind: RelationKind::DependsOn,
                target,
            })
            .collect(),
        pod_labels: None,
        selector: None,
    });
}

fn value_holds_secret(value: &Value) -> bool {
    match value {
        Value::String(text) => rules::looks_like_secret_value(text),
        Value::Object(map) => map.iter().any(|(k, v)| {
            (rules::is_secret_key(k) && v.as_str().is_some_and(|s| !s.is_empty()))
                || value_holds_secret(v)
        }),
        Value::Array(items) => items.iter().any(value_holds_secret),
        _ => false,
    }
}

fn check_output(
    name: &str,
    output: &Value,
    doc: &DocSource<'_>,
    config: &ScanConfig,
    sink: &mut dyn ScanSink,
) {
    if output.get("sensitive").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let value = output.get("value").unwrap_or(&Value::Null);
    let named_secret =
        rules::is_secret_key(name) || name.contains("kubeconfig") || name.contains("kube_config");
    if !(named_secret || value_holds_secret(value)) {
        return;
    }
    let id = format!("output.{name}");
    let needle = format!("\"{name}\"");
    let located = DocSource {
        file: doc.file,
        line: doc.line_of(&[&needle]),
        text: None,
        origin: Origin::Terraform,
    };
    let emitter = Emitter {
        config,
        doc: &located,
        resource_id: &id,
        kind: "output",
        name,
        ignored: Vec::new(),
    };
    emitter.emit(
        sink,
        TF_OUTPUT_SENSITIVE,
        name,
        format!("output {name} holds a secret but is not marked sensitive (value redacted)"),
        &[],
    );
}
