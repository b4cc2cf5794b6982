use clap::Args;

#[derive(Debug, Args)]
pub struct SpendArgs {
    /// Sum by account, tenant, template, owner or label:KEY (e.g. label:appgear.io/suite)
    #[arg(long, value_name = "KEY", default_value = "account", value_parser = spend_key)]
    pub by: String,
    /// Month to report, YYYY-MM (UTC; default: this month, up to now)
    #[arg(long, value_name = "YYYY-MM", value_parser = spend_month)]
    pub month: Option<String>,
}

/// Usage errors are caught here (exit 2); the platform checks the same again for API callers.
fn spend_key(text: &str) -> Result<String, String> {
    crate::service::spend::parse_spend_key(text)
        .map(|_| text.to_owned())
        .map_err(|err| with_hint(&err))
}

fn spend_month(text: &str) -> Result<String, String> {
    crate::service::spend::parse_month(text)
        .map(|_| text.to_owned())
        .map_err(|err| with_hint(&err))
}

/// `--budget-monthly`: a non-negative amount in the platform's currency.
pub fn budget_amount(text: &str) -> Result<f64, String> {
    let amount: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not an amount, e.g. 500 or 499.90"))?;
    crate::service::spend::check_budget(amount)
        .map(|_| amount)
        .map_err(|err| with_hint(&err))
}

fn with_hint(err: &crate::service::Error) -> String {
    match &err.hint {
        Some(hint) => format!("{} ({hint})", err.message),
        None => err.message.clone(),
    }
}
