//! Spend per account (R-ACC-5, R-GOV-4): templates declare what an env costs a day, each env
//! accrues it for the time it lives, budgets are checked before anything is provisioned (like
//! quotas, R-ENV-3), and an account reads its own and its sub-accounts' spend, never its
//! parent's (R-ACC-7).

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::vocabulary::Permission;
use super::{Actor, Error, Result, Service};
use crate::api::{EnvCost, SpendLine, SpendReport, Timestamp};
use crate::store::{self, AccountRow, EnvRow, EnvSpendRow, SpendKey};

pub const DEFAULT_CURRENCY: &str = "USD";

/// The largest monthly budget: a billion, far inside 64-bit millionths.
pub const MAX_BUDGET: f64 = 1_000_000_000.0;

const SECONDS_PER_DAY: i64 = 86_400;
const MICROS: f64 = 1_000_000.0;

/// What one env of a template costs and the labels its resources carry, as the platform's own
/// template catalog says (never the caller).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateCost {
    /// `None` when the template declares no `daily_cost`: nothing is accounted.
    pub daily: Option<f64>,
    pub labels: BTreeMap<String, String>,
}

/// `EUR`, `USD`…: three capital letters (the shape of an ISO 4217 code).
pub fn check_currency(code: &str) -> Result<String> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code.to_owned())
    } else {
        Err(
            Error::invalid(format!("currency '{code}' is not a 3-letter ISO 4217 code"))
                .with_hint("use a code such as USD, EUR or GBP"),
        )
    }
}

/// `account`, `tenant`, `template`, `owner` or `label:KEY`.
pub fn parse_spend_key(text: &str) -> Result<SpendKey> {
    let key = match text {
        "account" => SpendKey::Account,
        "tenant" => SpendKey::Tenant,
        "template" => SpendKey::Template,
        "owner" => SpendKey::Owner,
        other => match other.strip_prefix("label:") {
            Some(label)
                if !label.is_empty()
                    && label.len() <= 317
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"./-_".contains(&b)) =>
            {
                SpendKey::Label(label.to_owned())
            }
            _ => {
                return Err(
                    Error::invalid(format!("cannot sum spend by '{text}'")).with_hint(format!(
                        "use account, tenant, template, owner or label:KEY (e.g. label:{}/suite)",
                        crate::labels::DEFAULT_DOMAIN
                    )),
                );
            }
        },
    };
    Ok(key)
}

/// `2026-12` → the first day of that month.
pub fn parse_month(text: &str) -> Result<Date> {
    let invalid = || {
        Error::invalid(format!("'{text}' is not a month"))
            .with_hint("write the month as YYYY-MM, e.g. 2026-12")
    };
    let (year, month) = text.split_once('-').ok_or_else(invalid)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(invalid());
    }
    let year: i16 = year.parse().map_err(|_| invalid())?;
    let month: i8 = month.parse().map_err(|_| invalid())?;
    Date::new(year, month, 1).map_err(|_| invalid())
}

/// A budget as stored: millionths of the currency, from 0 to [`MAX_BUDGET`].
pub fn check_budget(amount: f64) -> Result<i64> {
    if amount.is_finite() && (0.0..=MAX_BUDGET).contains(&amount) {
        Ok(to_micros(amount))
    } else {
        Err(Error::invalid(format!(
            "a monthly budget must be between 0 and {MAX_BUDGET}, got {amount}"
        ))
        .with_hint("0 allows no environment that costs anything"))
    }
}

fn to_micros(amount: f64) -> i64 {
    // In range by the checks above (budgets, template costs), so the cast cannot saturate.
    (amount * MICROS).round() as i64
}

/// Millionths → the currency, rounded to cents for display.
pub(crate) fn to_amount(micros: i64) -> f64 {
    (micros as f64 / 10_000.0).round() / 100.0
}

/// Cost of `daily_micros` a day over `seconds`.
pub(super) fn accrued(daily_micros: i64, seconds: i64) -> i64 {
    let product = i128::from(daily_micros) * i128::from(seconds.max(0));
    i64::try_from(product / i128::from(SECONDS_PER_DAY)).unwrap_or(i64::MAX)
}

/// The first second of `date`'s month and of the next month, UTC.
fn month_window(date: Date) -> Result<(Timestamp, Timestamp)> {
    let utc = jiff::tz::TimeZone::UTC;
    let start = date.first_of_month();
    let next = start
        .checked_add(jiff::Span::new().months(1))
        .map_err(|_| Error::invalid(format!("no month follows {date}")))?;
    let at = |day: Date| {
        day.to_zoned(utc.clone())
            .map(|zoned| Timestamp::from_jiff(zoned.timestamp()))
            .map_err(|err| Error::invalid(format!("{day}: {err}")))
    };
    Ok((at(start)?, at(next)?))
}

/// Every account on the way from the root down to `account`, as subtree path prefixes with
/// their ids: `/a/`, `/a/b/`, `/a/b/c/`.
fn ancestry(account: &AccountRow) -> Vec<(String, String)> {
    let mut prefix = String::from("/");
    account
        .path
        .split('/')
        .filter(|id| !id.is_empty())
        .map(|id| {
            prefix.push_str(id);
            prefix.push('/');
            (id.to_owned(), prefix.clone())
        })
        .collect()
}

impl Service {
    fn now_seconds(&self) -> i64 {
        (self.clock)().as_second()
    }

    /// What an env of `template` with `params` costs a day, in millionths, and its labels;
    /// `None` when the template declares no cost.
    pub(super) fn plan_env_cost(
        &self,
        actor: &Actor,
        env_name: &str,
        template: &str,
        params: &serde_json::Value,
    ) -> Result<Option<(i64, BTreeMap<String, String>)>> {
        let cost = self.env_templates.cost(template, params)?;
        let Some(daily) = cost.daily else {
            return Ok(None);
        };
        let mut labels = cost.labels;
        // The platform's own labels, set last so that a template cannot mis-attribute spend.
        for (key, value) in [
            ("tenant-id", actor.tenant_name.as_str()),
            ("account-id", actor.account.slug.as_str()),
            ("workspace-id", env_name),
        ] {
            labels.insert(format!("{}/{key}", self.label_domain), value.to_owned());
        }
        Ok(Some((to_micros(daily), labels)))
    }

    /// R-GOV-4: adding `extra_micros` this month must keep every budget from the root down to
    /// `account` (each covering its subtree) within its amount. A budget set above the account
    /// is not described: the account may not learn about its parent (R-ACC-6). Called inside the
    /// transaction that records the cost; each budget found stays locked until it ends.
    pub(super) async fn check_budgets(
        &self,
        conn: &mut store::Conn,
        account: &AccountRow,
        extra_micros: i64,
    ) -> Result<()> {
        if extra_micros <= 0 {
            return Ok(());
        }
        let now = self.now_seconds();
        let today = (self.clock)().to_zoned(jiff::tz::TimeZone::UTC).date();
        let (month_start, _) = month_window(today)?;
        for (account_id, prefix) in ancestry(account) {
            let Some(budget) = store::find_budget_for_update(conn, &account_id).await? else {
                continue;
            };
            let window = store::Window::to_now(month_start.as_second(), now);
            let spent = store::spend_total(conn, &prefix, window).await?;
            if spent.saturating_add(extra_micros) <= budget {
                continue;
            }
            let currency = &self.currency;
            return Err(if account_id == account.id {
                Error::quota(format!(
                    "the monthly budget of account '{}' would be exceeded: {:.2} {currency} spent \
                     this month + {:.2} {currency} for this request > {:.2} {currency}",
                    account.slug,
                    to_amount(spent),
                    to_amount(extra_micros),
                    to_amount(budget)
                ))
                .with_hint("ask for a shorter lifetime or fewer resources, or raise the budget (`plat policy set --budget-monthly`)")
            } else {
                Error::quota(format!(
                    "a monthly budget set above account '{}' would be exceeded by this request ({:.2} {currency})",
                    account.slug,
                    to_amount(extra_micros)
                ))
                .with_hint("ask for a shorter lifetime or fewer resources, or ask the administrators above this account")
            });
        }
        Ok(())
    }

    /// Starts an env's accrual, in the transaction that records the env.
    pub(super) async fn record_env_spend(
        &self,
        conn: &mut store::Conn,
        env: &EnvRow,
        daily_micros: i64,
        labels: &BTreeMap<String, String>,
    ) -> Result<()> {
        let started_at = env.created_at;
        let row = EnvSpendRow {
            env_id: env.id.clone(),
            account_id: env.account_id.clone(),
            template: env.template.clone(),
            owner_email: env.owner_email.clone(),
            tenant: labels
                .get(&format!("{}/tenant-id", self.label_domain))
                .cloned()
                .unwrap_or_default(),
            daily_cost_micros: daily_micros,
            started_at: started_at.as_second(),
            ended_at: None,
        };
        store::insert_env_spend(conn, &row, labels).await
    }

    /// Stops an env's accrual: it is destroyed.
    pub(super) async fn end_env_spend(&self, conn: &mut store::Conn, env_id: &str) -> Result<()> {
        store::end_env_spend(conn, env_id, self.now_seconds()).await
    }

    /// What extending `env` from `current` to `wanted` adds to this month's spend.
    pub(super) async fn extension_cost(
        &self,
        conn: &mut store::Conn,
        env_id: &str,
        current: Timestamp,
        wanted: Timestamp,
    ) -> Result<i64> {
        Ok(match store::find_env_spend(conn, env_id).await? {
            Some(row) => accrued(
                row.daily_cost_micros,
                wanted.as_second() - current.as_second(),
            ),
            None => 0,
        })
    }

    /// The cost of `env` per day, for its lifetime and so far; `None` when it declares none.
    pub(super) async fn env_cost(
        &self,
        conn: &mut store::Conn,
        env: &EnvRow,
    ) -> Result<Option<EnvCost>> {
        let Some(row) = store::find_env_spend(conn, &env.id).await? else {
            return Ok(None);
        };
        let expires = env.expires_at;
        let end = row.ended_at.unwrap_or_else(|| self.now_seconds());
        Ok(Some(EnvCost {
            currency: self.currency.to_string(),
            daily: to_amount(row.daily_cost_micros),
            lifetime: to_amount(accrued(
                row.daily_cost_micros,
                expires.as_second() - row.started_at,
            )),
            accrued: to_amount(accrued(row.daily_cost_micros, end - row.started_at)),
        }))
    }

    /// An env as shown, with its cost when it has one.
    pub(super) async fn env_view_with_cost(
        &self,
        conn: &mut store::Conn,
        row: EnvRow,
    ) -> Result<crate::api::Env> {
        let cost = self.env_cost(conn, &row).await?;
        let mut env = super::envs::env_view(row)?;
        env.cost = cost;
        Ok(env)
    }

    /// The account's own budget (not those above it, R-ACC-6).
    pub(super) async fn own_budget(
        &self,
        conn: &mut store::Conn,
        account: &AccountRow,
    ) -> Result<Option<f64>> {
        Ok(store::find_budget(conn, &account.id).await?.map(to_amount))
    }

    pub(super) async fn set_budget(
        &self,
        conn: &mut store::Conn,
        account: &AccountRow,
        amount: f64,
    ) -> Result<()> {
        let micros = check_budget(amount)?;
        store::put_budget(conn, &account.id, micros, self.now()).await
    }

    /// Spend of the caller's account and sub-accounts in `month` (default: this month, to now),
    /// summed by `by` (default: account).
    pub async fn spend(
        &self,
        actor: &Actor,
        by: Option<&str>,
        month: Option<&str>,
    ) -> Result<SpendReport> {
        actor.require(Permission::PoliciesRead)?;
        let by = by.unwrap_or("account");
        let key = parse_spend_key(by)?;
        let now = self.now();
        let first = match month {
            Some(text) => parse_month(text)?,
            None => now.as_jiff().to_zoned(jiff::tz::TimeZone::UTC).date(),
        };
        let (since, month_end) = month_window(first)?;
        let (until, window) = if month_end > now {
            let until = now.max(since);
            let window = store::Window::to_now(since.as_second(), until.as_second());
            (until, window)
        } else {
            let window = store::Window::closed(since.as_second(), month_end.as_second());
            (month_end, window)
        };
        let sums = if now >= since {
            let mut conn = self.store.acquire().await?;
            store::spend_by(&mut conn, &actor.account.path, &key, window).await?
        } else {
            Vec::new()
        };
        let total = sums.iter().map(|sum| sum.micros).sum();
        Ok(SpendReport {
            month: first.strftime("%Y-%m").to_string(),
            currency: self.currency.to_string(),
            by: by.to_owned(),
            since,
            until,
            total: to_amount(total),
            lines: sums
                .into_iter()
                .map(|sum| SpendLine {
                    key: sum.key,
                    envs: sum.envs,
                    env_days: (sum.seconds as f64 / SECONDS_PER_DAY as f64 * 100.0).round() / 100.0,
                    cost: to_amount(sum.micros),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests;
