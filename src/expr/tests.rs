use serde_json::json;

use super::filters::parse_repo_url;
use super::*;

fn ctx() -> Value {
    json!({
        "parameters": {
            "name": "orders",
            "replicas": 3,
            "enabled": true,
            "tags": ["a", "b"],
            "repoUrl": "github.com?owner=acme&repo=orders",
            "owner": "group:default/team-a",
            "nested": {"deep": {"value": 42}},
            "empty": ""
        },
        "steps": {"fetch": {"output": {"targetPath": "./out"}}},
        "user": {"ref": "user:default/ana"}
    })
}

#[test]
fn renders_backstage_variables_and_blocks() {
    let engine = Engine::new();
    let out = engine
        .render_str(
            "name=${{ parameters.name }}\n{% if parameters.enabled %}on{% endif %}\n",
            &ctx(),
        )
        .unwrap();
    assert_eq!(out, "name=orders\non\n");
}

#[test]
fn plain_jinja_braces_are_left_alone_in_backstage_syntax() {
    let engine = Engine::new();
    let out = engine
        .render_str("{{ not.ours }} ${{ parameters.name }}", &ctx())
        .unwrap();
    assert_eq!(out, "{{ not.ours }} orders");
}

#[test]
fn keeps_trailing_newline_like_nunjucks() {
    let engine = Engine::new();
    assert_eq!(
        engine
            .render_str("${{ parameters.name }}\n", &ctx())
            .unwrap(),
        "orders\n"
    );
}

#[test]
fn single_expression_keeps_its_type() {
    let engine = Engine::new();
    let input = json!({
        "count": "${{ parameters.replicas }}",
        "flag": "${{ parameters.enabled }}",
        "list": "${{ parameters.tags }}",
        "object": "${{ parameters.nested }}",
        "text": "n-${{ parameters.replicas }}",
        "literal": 7
    });
    let out = engine.render_value(&input, &ctx()).unwrap();
    assert_eq!(
        out,
        json!({
            "count": 3,
            "flag": true,
            "list": ["a", "b"],
            "object": {"deep": {"value": 42}},
            "text": "n-3",
            "literal": 7
        })
    );
}

#[test]
fn empty_results_drop_the_key() {
    let engine = Engine::new();
    let input = json!({"missing": "${{ parameters.nope }}", "blank": "${{ parameters.empty }}x", "keep": "a"});
    let out = engine.render_value(&input, &ctx()).unwrap();
    assert_eq!(out, json!({"blank": "x", "keep": "a"}));
}

#[test]
fn undefined_member_chains_like_nunjucks() {
    let engine = Engine::new();
    let out = engine
        .render_str("[${{ parameters.nope.deeper.still }}]", &ctx())
        .unwrap();
    assert_eq!(out, "[]");
}

#[test]
fn javascript_strict_equality_is_accepted() {
    let engine = Engine::new();
    let out = engine
        .render_value(
            &json!({
                "a": "${{ parameters.name === 'orders' }}",
                "b": "${{ parameters.replicas !== 3 }}",
                "c": "{% if parameters.name === \"orders\" %}yes{% endif %}",
                "quoted": "${{ 'a===b' }}"
            }),
            &ctx(),
        )
        .unwrap();
    assert_eq!(
        out,
        json!({"a": true, "b": false, "c": "yes", "quoted": "a===b"})
    );
}

#[test]
fn parse_repo_url_filter_returns_parts() {
    let engine = Engine::new();
    let out = engine
        .render_value(&json!("${{ parameters.repoUrl | parseRepoUrl }}"), &ctx())
        .unwrap();
    assert_eq!(
        out,
        json!({"host": "github.com", "owner": "acme", "repo": "orders"})
    );
    let owner = engine
        .render_str("${{ (parameters.repoUrl | parseRepoUrl).owner }}", &ctx())
        .unwrap();
    assert_eq!(owner, "acme");
}

#[test]
fn parse_repo_url_rejects_missing_parts() {
    assert!(
        parse_repo_url("github.com?owner=acme")
            .unwrap_err()
            .contains("missing repo")
    );
    assert!(
        parse_repo_url("github.com?repo=x")
            .unwrap_err()
            .contains("missing owner")
    );
    let bitbucket = parse_repo_url("bitbucket.org?workspace=w&project=p&repo=r").unwrap();
    assert_eq!(bitbucket.workspace.as_deref(), Some("w"));
    assert_eq!(
        parse_repo_url("gitlab.example.com?owner=my%20group&repo=r")
            .unwrap()
            .owner
            .as_deref(),
        Some("my group")
    );
}

#[test]
fn parse_entity_ref_filter_applies_defaults() {
    let engine = Engine::new();
    let out = engine
        .render_value(&json!("${{ parameters.owner | parseEntityRef }}"), &ctx())
        .unwrap();
    assert_eq!(
        out,
        json!({"kind": "group", "namespace": "default", "name": "team-a"})
    );
    let out = engine
        .render_str(
            "${{ ('ana' | parseEntityRef({ defaultKind: 'user', defaultNamespace: 'people' })).namespace }}",
            &ctx(),
        )
        .unwrap();
    assert_eq!(out, "people");
    // No kind and no defaultKind: an error, as Backstage's parseEntityRef throws.
    assert!(
        engine
            .render_str("${{ 'ana' | parseEntityRef }}", &ctx())
            .is_err()
    );
}

#[test]
fn pick_and_project_slug_filters() {
    let engine = Engine::new();
    assert_eq!(
        engine
            .render_str("${{ parameters | pick('nested.deep.value') }}", &ctx())
            .unwrap(),
        "42"
    );
    assert_eq!(
        engine
            .render_str("${{ parameters.repoUrl | projectSlug }}", &ctx())
            .unwrap(),
        "acme/orders"
    );
    assert_eq!(
        engine
            .render_str("${{ parameters | pick('tags[1]') }}", &ctx())
            .unwrap(),
        "b"
    );
}

#[test]
fn dump_is_json_stringify() {
    let engine = Engine::new();
    assert_eq!(
        engine
            .render_str("${{ parameters.tags | dump }}", &ctx())
            .unwrap(),
        r#"["a","b"]"#
    );
    assert_eq!(
        engine
            .render_str("${{ parameters.name | dump }}", &ctx())
            .unwrap(),
        r#""orders""#
    );
    assert_eq!(
        engine
            .render_str("${{ {'a': 1} | dump(2) }}", &ctx())
            .unwrap(),
        "{\n  \"a\": 1\n}"
    );
}

#[test]
fn none_renders_empty() {
    let engine = Engine::new();
    assert_eq!(
        engine
            .render_str("[${{ null }}][${{ none }}]", &ctx())
            .unwrap(),
        "[][]"
    );
}

#[test]
fn syntax_error_names_expression_and_file() {
    let engine = Engine::new();
    let err = engine
        .render_str_with(
            "ok\n${{ parameters.name | }}\n",
            &ctx(),
            &RenderOptions {
                file: Some("skeleton/README.md"),
                ..RenderOptions::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, ExprError::Syntax { .. }));
    assert_eq!(err.file(), Some("skeleton/README.md"));
    assert_eq!(err.line(), Some(2));
    let message = err.to_string();
    assert!(message.contains("skeleton/README.md:2"), "{message}");
    assert!(message.contains("parameters.name |"), "{message}");
    assert!(err.hint().is_some());
}

#[test]
fn evaluation_error_names_expression() {
    let engine = Engine::new();
    let err = engine
        .render_value(&json!("${{ parameters.name | parseRepoUrl }}"), &ctx())
        .unwrap_err()
        .with_file("template.yaml");
    assert!(matches!(err, ExprError::Evaluation { .. }));
    assert!(
        err.expression().contains("parameters.name | parseRepoUrl"),
        "{}",
        err.expression()
    );
    assert!(err.to_string().starts_with("template.yaml: "), "{err}");
    assert!(err.to_string().contains("missing repo"), "{err}");
}

#[test]
fn cookiecutter_syntax_uses_double_braces_and_jsonify() {
    let engine = Engine::new();
    let ctx = json!({"cookiecutter": {"name": "svc", "list": [1]}});
    let out = engine
        .render_str_with(
            "{{ cookiecutter.name }} {{ cookiecutter.list | jsonify }} ${x}",
            &ctx,
            &RenderOptions {
                syntax: Syntax::Jinja,
                ..RenderOptions::default()
            },
        )
        .unwrap();
    assert_eq!(out, "svc [1] ${x}");
}

#[test]
fn trim_and_lstrip_blocks_are_honoured() {
    let engine = Engine::new();
    let template = "a\n  {% if true %}\nb\n  {% endif %}\nc\n";
    let trimmed = engine
        .render_str_with(
            template,
            &ctx(),
            &RenderOptions {
                trim_blocks: true,
                lstrip_blocks: true,
                ..RenderOptions::default()
            },
        )
        .unwrap();
    assert_eq!(trimmed, "a\nb\nc\n");
    assert_eq!(
        engine.render_str(template, &ctx()).unwrap(),
        "a\n  \nb\n  \nc\n"
    );
}

#[test]
fn conditions_follow_backstage_truthiness() {
    let engine = Engine::new();
    assert!(
        engine
            .condition(&json!("${{ parameters.enabled }}"), &ctx())
            .unwrap()
    );
    assert!(
        !engine
            .condition(&json!("${{ parameters.nope }}"), &ctx())
            .unwrap()
    );
    assert!(!engine.condition(&json!([]), &ctx()).unwrap());
    assert!(
        engine
            .condition(&json!("${{ parameters.tags }}"), &ctx())
            .unwrap()
    );
    assert!(
        !engine
            .condition(&json!("${{ parameters.replicas === 4 }}"), &ctx())
            .unwrap()
    );
    assert!(!engine.condition(&json!(0), &ctx()).unwrap());
    assert!(engine.condition(&json!(true), &ctx()).unwrap());
}

#[test]
fn text_without_template_syntax_is_returned_verbatim() {
    let engine = Engine::new();
    let text = "plain { text } with $dollar and }} braces";
    assert_eq!(engine.render_str(text, &ctx()).unwrap(), text);
}

#[test]
fn engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<ExprError>();
}
