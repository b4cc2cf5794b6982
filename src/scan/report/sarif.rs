//! SARIF 2.1.0 in the subset GitHub code scanning accepts: rule metadata, repository-relative
//! URIs, real 1-based lines, `results: []` when clean, stable `partialFingerprints`.

use serde_json::{Value, json};

use super::super::{ScanReport, catalogue};

pub const SCHEMA: &str = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";

fn uri(file: &str) -> String {
    let file = file.replace('\\', "/");
    file.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

pub fn to_sarif(report: &ScanReport, tool_version: &str) -> Value {
    let rules: Vec<Value> = catalogue()
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
            let rule_index = catalogue().iter().position(|r| r.id == f.rule_id);
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
                "partialFingerprints": {"primaryLocationLineHash": f.fingerprint},
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
            "columnKind": "utf16CodeUnits",
        }],
    })
}
