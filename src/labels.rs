//! The one domain of the labels and annotations plat puts on what it creates: the platform
//! labels the seeds require (`appgear.io/tenant-id`, …), the labels of an automation's
//! Kubernetes Job, and the annotations of the Backstage entities `plat scan` publishes.
//! `PLAT_LABEL_DOMAIN` sets it for a platform (embedded or `plat server`).
//!
//! Earlier versions also wrote `plat.io/*` (scan) and `plat.dev/*` (Jobs): deprecated aliases,
//! which `plat scan` still reads (`plat.io/ignore`) but plat no longer writes.

/// The domain the seeds name, used unless a platform sets its own.
pub const DEFAULT_DOMAIN: &str = "appgear.io";
/// Domains earlier versions wrote, still read where plat reads labels.
pub const DEPRECATED_DOMAINS: [&str; 2] = ["plat.io", "plat.dev"];
/// The variable that sets the domain.
pub const DOMAIN_VARIABLE: &str = "PLAT_LABEL_DOMAIN";

/// A label domain is a DNS subdomain (Kubernetes' label-prefix rule): lowercase labels of
/// letters, digits and `-`, separated by dots, at most 253 characters.
pub fn check_domain(text: &str) -> Result<String, String> {
    let domain = text.trim().trim_end_matches('/');
    let valid = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if valid {
        Ok(domain.to_owned())
    } else {
        Err(format!(
            "invalid label domain '{}': use a lowercase DNS name such as {DEFAULT_DOMAIN}",
            text.chars().take(80).collect::<String>()
        ))
    }
}

#[cfg(any(feature = "kube", test))]
/// The domain a process's environment sets, or the default. An invalid value was refused
/// where the platform started (`Ctx::label_domain`); here it falls back to the default.
pub fn domain_in(vars: &std::collections::BTreeMap<String, String>) -> String {
    vars.get(DOMAIN_VARIABLE)
        .and_then(|text| check_domain(text).ok())
        .unwrap_or_else(|| DEFAULT_DOMAIN.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_is_a_lowercase_dns_name() {
        assert_eq!(check_domain("example.org/").unwrap(), "example.org");
        assert!(check_domain("Example.org").is_err());
        assert!(check_domain("a..b").is_err());
        assert!(check_domain("").is_err());
        assert!(check_domain("-a.b").is_err());
        let vars =
            std::collections::BTreeMap::from([(DOMAIN_VARIABLE.to_owned(), "x.io".to_owned())]);
        assert_eq!(domain_in(&vars), "x.io");
        assert_eq!(
            domain_in(&std::collections::BTreeMap::new()),
            DEFAULT_DOMAIN
        );
    }
}
