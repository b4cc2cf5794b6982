//! SARIF 2.1.0 in the subset GitHub code scanning accepts: rule metadata, repository-relative
//! URIs, real 1-based lines, `results: []` when clean, stable `partialFingerprints`.
//!
//! The run is written in one pass (see [`super::stream`]): the driver with its rules first, then
//! each result as it is found, then the invocation with what could not be checked.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::super::{Finding, InputProblem, RuleInfo, ScanReport, Skipped, catalogue, rules};

pub const SCHEMA: &str = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";

fn uri(file: &str) -> String {
    let file = file.replace('\\', "/");
    file.trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

/// The built-in rules, then the user's Rego rules, with each id's index in that list.
pub(crate) struct RuleTable<'r> {
    pub rules: Vec<&'r RuleInfo>,
    index: HashMap<&'r str, usize>,
}

impl<'r> RuleTable<'r> {
    pub(crate) fn new(policy_rules: &'r [RuleInfo]) -> Self {
        let rules: Vec<&RuleInfo> = catalogue().iter().chain(policy_rules).collect();
        let index = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_ref(), i))
            .collect();
        Self { rules, index }
    }
}

/// `runs[0].tool`.
pub(crate) fn tool(table: &RuleTable<'_>, tool_version: &str) -> Value {
    let rules: Vec<Value> = table
        .rules
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
    json!({"driver": {
        "name": "plat",
        "semanticVersion": tool_version,
        "informationUri": "https://github.com/appgear/plat",
        "rules": rules,
    }})
}

/// One entry of `runs[0].results`.
pub(crate) fn result(table: &RuleTable<'_>, f: &Finding) -> Value {
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
    if let Some(index) = table.index.get(f.rule_id.as_str()) {
        result["ruleIndex"] = json!(index);
    }
    result
}

/// `policy_rules`: the user's Rego rules, listed after the built-in ones.
pub fn to_sarif(report: &ScanReport, tool_version: &str, policy_rules: &[RuleInfo]) -> Value {
    let table = RuleTable::new(policy_rules);
    let results: Vec<Value> = report.findings.iter().map(|f| result(&table, f)).collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": tool(&table, tool_version),
            "results": results,
            "invocations": [invocation(&report.problems, &report.skipped)],
            "columnKind": "utf16CodeUnits",
        }],
    })
}

/// Inputs the tool could not check: unreadable or unparsable files (errors; each is also a
/// PLAT016 result unless `--skip-unparsable`) and files skipped with a warning.
pub(crate) fn invocation(problems: &[InputProblem], skipped: &[Skipped]) -> Value {
    let location = |file: &str, line: u32| {
        json!([{"physicalLocation": {
            "artifactLocation": {"uri": uri(file)},
            "region": {"startLine": line.max(1)},
        }}])
    };
    let mut notifications: Vec<Value> = problems
        .iter()
        .map(|p| {
            json!({
                "level": "error",
                "message": {"text": p.message},
                "locations": location(&p.location.file, p.location.line),
                "descriptor": {"id": rules::UNPARSABLE},
            })
        })
        .collect();
    notifications.extend(skipped.iter().filter(|s| s.warning).map(|s| {
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
