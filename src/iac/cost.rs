//! What an env of a template costs a day (R-GOV-4), as its manifest declares it:
//!
//! ```yaml
//! daily_cost: 4.5                       # one amount
//! daily_cost: "node_count * 12.5"       # or one expression of the parameters
//! daily_cost:                           # or one amount or expression per resource, summed
//!   kubernetes_cluster: "node_count * 12.5"
//!   load_balancer: 18
//! ```
//!
//! Expressions are evaluated by the project's expression engine (`crate::expr`, nunjucks
//! semantics): parameters are in scope by name and under `parameters`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;

/// The largest daily cost one env may declare: a million a day keeps a month of 100k envs'
/// accrual inside 64-bit millionths.
pub const MAX_DAILY_COST: f64 = 1_000_000.0;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum CostTerm {
    Amount(f64),
    Expression(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum DailyCost {
    One(CostTerm),
    PerResource(BTreeMap<String, CostTerm>),
}

impl DailyCost {
    fn terms(&self) -> Vec<(Option<&str>, &CostTerm)> {
        match self {
            Self::One(term) => vec![(None, term)],
            Self::PerResource(terms) => terms
                .iter()
                .map(|(name, term)| (Some(name.as_str()), term))
                .collect(),
        }
    }

    /// Refuses what can never evaluate: a negative amount, or an expression that does not parse.
    pub(crate) fn check(&self) -> Result<(), String> {
        let engine = crate::expr::Engine::new();
        for (resource, term) in self.terms() {
            let what = place(resource);
            match term {
                CostTerm::Amount(amount) => check_amount(&what, *amount)?,
                CostTerm::Expression(text) => {
                    let parsed = engine.eval(
                        text,
                        &JsonValue::Object(Default::default()),
                        &Default::default(),
                    );
                    if let Err(err @ crate::expr::ExprError::Syntax { .. }) = parsed {
                        return Err(format!("{what}: {err}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The daily cost of an env with these (resolved) parameters.
    pub fn evaluate(&self, params: &JsonValue) -> Result<f64, String> {
        let engine = crate::expr::Engine::new();
        let mut scope = match params {
            JsonValue::Object(map) => map.clone(),
            _ => Default::default(),
        };
        scope.insert("parameters".into(), params.clone());
        let scope = JsonValue::Object(scope);
        let mut total = 0.0;
        for (resource, term) in self.terms() {
            let what = place(resource);
            let amount = match term {
                CostTerm::Amount(amount) => *amount,
                CostTerm::Expression(text) => {
                    let value = engine
                        .eval(text, &scope, &Default::default())
                        .map_err(|err| format!("{what}: {err}"))?;
                    value.as_ref().and_then(JsonValue::as_f64).ok_or_else(|| {
                        format!(
                            "{what}: `{text}` gives {}, not a number",
                            value.map_or("undefined".into(), |v| v.to_string())
                        )
                    })?
                }
            };
            check_amount(&what, amount)?;
            total += amount;
        }
        check_amount("daily_cost", total)?;
        Ok(total)
    }
}

fn place(resource: Option<&str>) -> String {
    match resource {
        Some(name) => format!("daily_cost.{name}"),
        None => "daily_cost".into(),
    }
}

fn check_amount(what: &str, amount: f64) -> Result<(), String> {
    if amount.is_finite() && (0.0..=MAX_DAILY_COST).contains(&amount) {
        Ok(())
    } else {
        Err(format!(
            "{what} must be between 0 and {MAX_DAILY_COST} a day, got {amount}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(yaml: &str) -> DailyCost {
        serde_yaml_ng::from_str(yaml).expect("parses")
    }

    #[test]
    fn one_amount_one_expression_or_one_per_resource() {
        let params = serde_json::json!({"node_count": 3, "argocd_ha": true});
        assert_eq!(cost("4.5").evaluate(&params), Ok(4.5));
        assert_eq!(cost("'node_count * 12.5'").evaluate(&params), Ok(37.5));
        let per_resource =
            cost("cluster: node_count * 12.5\nlb: 18\nargocd: '3 if parameters.argocd_ha else 1'");
        assert_eq!(per_resource.evaluate(&params), Ok(58.5));
    }

    #[test]
    fn what_cannot_be_a_cost_is_refused() {
        assert!(cost("-1").check().is_err());
        assert!(cost("'node_count *'").check().is_err());
        let err = cost("'region'")
            .evaluate(&serde_json::json!({"region": "eu"}))
            .unwrap_err();
        assert!(err.contains("not a number"), "{err}");
        assert!(
            cost("'node_count * -1'")
                .evaluate(&serde_json::json!({"node_count": 2}))
                .is_err()
        );
    }
}
