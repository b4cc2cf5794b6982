//! SARIF 2.1.0 in the subset GitHub code scanning accepts: rule metadata, repository-relative
//! URIs, real 1-based lines, `results: []` when clean, stable `partialFingerprints`.

use serde_json::{Value, json};

use super::super::{RuleInfo, ScanReport, catalogue};

pub const SCHEMA: &str = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";

fn uri(file: &str) -> String {
    let file = file.replace('\\', "/");
    file.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

/// `policy_rules`: the user's Rego rules, listed after the built-in ones.
pub fn to_sarif(report: &ScanReport, tool_version: &str, policy_rules: &[RuleInfo]) -> Value {
    let all_rules: Vec<&RuleInfo> = catalogue().iter().chain(policy_rules).collect();
    let rules: Vec<Value> = all_rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.description},
                "fullDescription": {"text": format!("{} {}", r.description, r.fix)},
                "help": {"text": r.fix},
                "defaultConfiguration": {"level": r.default_severity.as_str()},
                "properties": {"tags": ["plat", format!("{:?}", r.target).to_lowercase()]},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let rule_index = all_rules.iter().position(|r| r.id == f.rule_id);
            let mut result = json!({
                "ruleId": f.rule_id,
                "level": f.severity.as_str(),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&f.location.file)},
                        "region": {"startLine": f.location.line.max(1)},
                    },
                    "logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}],
                }],
                // Rule, file and object identity, never the line: stable across line moves.
                "partialFingerprints": {
                    "primaryLocationLineHash": f.fingerprint,
                    "platFindingIdentity/v1": f.fingerprint,
                },
            });
            if let Some(index) = rule_index {
                result["ruleIndex"] = json!(index);
            }
            result
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "plat",
                "semanticVersion": tool_version,
                "informationUri": "https://github.com/appgear/plat",
                "rules": rules,
            }},
            "results": results,
            "invocations": [invocation(report)],
            "columnKind": "utf16CodeUnits",
        }],
    })
}

/// Inputs the tool could not check: unreadable or unparsable files (errors; each is also a
/// PLAT016 result unless `--skip-unparsable`) and files skipped with a warning.
fn invocation(report: &ScanReport) -> Value {
    let location = |file: &str, line: u32| {
        json!([{"physicalLocation": {
            "artifactLocation": {"uri": uri(file)},
            "region": {"startLine": line.max(1)},
        }}])
    };
    let mut notifications: Vec<Value> = report
        .problems
        .iter()
        .map(|p| {
            json!({
                "level": "error",
                "message": {"text": p.message},
                "locations": location(&p.location.file, p.location.line),
                "descriptor": {"id": super::super::rules::UNPARSABLE},
            })
        })
        .collect();
    notifications.extend(report.skipped.iter().filter(|s| s.warning).map(|s| {
        json!({
            "level": "warning",
            "message": {"text": format!("skipped: {}", s.reason)},
            "locations": location(&s.file, 1),
        })
    }));
    json!({
        "executionSuccessful": true,
        "toolExecutionNotifications": notifications,
    })
}
