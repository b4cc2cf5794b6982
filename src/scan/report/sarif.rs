//! SARIF 2.1.0 in the subset GitHub code scanning accepts: rule metadata, repository-relative
//! URIs, real 1-based lines, `results: []` when clean, stable `partialFingerprints`.
//!
//! The run is written in one pass (see [`super::stream`]): the driver with its rules first, then
//! each result as it is found, then the invocation with what could not be checked.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;

use serde_json::{Value, json};

use super::super::{Finding, InputProblem, RuleInfo, ScanReport, Skipped, catalogue, rules};

pub const SCHEMA: &str = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";

/// Repository-relative, with forward slashes; borrowed when the file name already is.
fn uri(file: &str) -> Cow<'_, str> {
    if file.contains('\\') {
        let file = file.replace('\\', "/");
        return Cow::Owned(trim_root(&file).to_string());
    }
    Cow::Borrowed(trim_root(file))
}

fn trim_root(file: &str) -> &str {
    file.trim_start_matches("./").trim_start_matches('/')
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

/// One entry of `runs[0].results`, borrowed from the finding: the streamed report writes one
/// per finding, and building a `serde_json::Value` tree for each cost a third of the scan.
/// Fields are in alphabetical order, the order `Value` objects serialize in, so both paths
/// write the same bytes.
#[derive(Serialize)]
pub(crate) struct SarifResult<'f> {
    level: &'static str,
    locations: [ResultLocation<'f>; 1],
    message: Text<'f>,
    #[serde(rename = "partialFingerprints")]
    partial_fingerprints: Fingerprints<'f>,
    #[serde(rename = "ruleId")]
    rule_id: &'f str,
    #[serde(rename = "ruleIndex", skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
}

#[derive(Serialize)]
struct Text<'f> {
    text: &'f str,
}

#[derive(Serialize)]
struct ResultLocation<'f> {
    #[serde(rename = "logicalLocations")]
    logical_locations: [LogicalLocation<'f>; 1],
    #[serde(rename = "physicalLocation")]
    physical_location: PhysicalLocation<'f>,
}

#[derive(Serialize)]
struct LogicalLocation<'f> {
    #[serde(rename = "fullyQualifiedName")]
    fully_qualified_name: &'f str,
    kind: &'static str,
}

#[derive(Serialize)]
struct PhysicalLocation<'f> {
    #[serde(rename = "artifactLocation")]
    artifact_location: ArtifactLocation<'f>,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation<'f> {
    uri: Cow<'f, str>,
}

#[derive(Serialize)]
struct Region {
    #[serde(rename = "startLine")]
    start_line: u32,
}

/// Rule, file and object identity, never the line: stable across line moves.
#[derive(Serialize)]
struct Fingerprints<'f> {
    #[serde(rename = "platFindingIdentity/v1")]
    identity: &'f str,
    #[serde(rename = "primaryLocationLineHash")]
    line_hash: &'f str,
}

pub(crate) fn result<'f>(table: &RuleTable<'_>, f: &'f Finding) -> SarifResult<'f> {
    SarifResult {
        level: f.severity.as_str(),
        locations: [ResultLocation {
            logical_locations: [LogicalLocation {
                fully_qualified_name: &f.resource,
                kind: "resource",
            }],
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri: uri(&f.location.file),
                },
                region: Region {
                    start_line: f.location.line.max(1),
                },
            },
        }],
        message: Text { text: &f.message },
        partial_fingerprints: Fingerprints {
            identity: &f.fingerprint,
            line_hash: &f.fingerprint,
        },
        rule_id: &f.rule_id,
        rule_index: table.index.get(f.rule_id.as_str()).copied(),
    }
}

/// `policy_rules`: the user's Rego rules, listed after the built-in ones.
pub fn to_sarif(report: &ScanReport, tool_version: &str, policy_rules: &[RuleInfo]) -> Value {
    let table = RuleTable::new(policy_rules);
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| serde_json::to_value(result(&table, f)).expect("a result serializes"))
        .collect();
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
