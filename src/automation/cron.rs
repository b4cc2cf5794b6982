//! Five-field cron expressions (minute hour day-of-month month day-of-week), validated at apply.
//! Written here rather than taken from a crate: validation is all the definition needs, and the
//! crate's clock is jiff, which the common cron crates do not speak.

const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// `Ok` when `expression` is a valid cron expression; otherwise why not.
pub fn validate(expression: &str) -> Result<(), String> {
    let expression = expression.trim();
    if expression.starts_with('@') {
        return match expression {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight"
            | "@hourly" => Ok(()),
            other => Err(format!("unknown cron macro '{other}'")),
        };
    }
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "'{expression}' has {} fields; cron needs 5 (minute hour day-of-month month day-of-week)",
            fields.len()
        ));
    }
    for (field, (what, min, max)) in fields.iter().zip(FIELDS) {
        for part in field.split(',') {
            check_part(part, what, min, max)
                .map_err(|why| format!("invalid {what} '{field}' in '{expression}': {why}"))?;
        }
    }
    Ok(())
}

fn check_part(part: &str, what: &str, min: u32, max: u32) -> Result<(), String> {
    let (range, step) = match part.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (part, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(n) if n >= 1 && n <= max.max(1) => {}
            _ => return Err(format!("step '{step}' must be a number from 1 to {max}")),
        }
    }
    if range == "*" {
        return Ok(());
    }
    let (low, high) = match range.split_once('-') {
        Some((low, high)) => (value(low, what, min, max)?, value(high, what, min, max)?),
        None => {
            let single = value(range, what, min, max)?;
            (single, single)
        }
    };
    if low > high {
        return Err(format!("range {low}-{high} runs backwards"));
    }
    Ok(())
}

fn value(text: &str, what: &str, min: u32, max: u32) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let named = match what {
        "month" => MONTHS
            .iter()
            .position(|m| *m == lower)
            .map(|i| i as u32 + 1),
        "day of week" => DAYS.iter().position(|d| *d == lower).map(|i| i as u32),
        _ => None,
    };
    let number = named.or_else(|| text.parse().ok());
    match number {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) => Err(format!("{n} is outside {min}-{max}")),
        None => Err(format!("'{text}' is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_common_expressions() {
        for ok in [
            "*/5 * * * *",
            "0 9 * * mon-fri",
            "15,45 0-6/2 1 jan *",
            "@daily",
            "0 0 * * 7",
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_bad_expressions() {
        for bad in [
            "* * * *",
            "61 * * * *",
            "*/0 * * * *",
            "a * * * *",
            "5-1 * * * *",
            "@sometimes",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
