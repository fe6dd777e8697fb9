//! Durations on the command line: `500ms`, `5s`, `2m`, `1h`, or a bare
//! integer meaning milliseconds.

use std::time::Duration;

/// Parses a `DUR` argument; the error is clap's message for a bad value.
pub fn parse(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!("{text:?} is not a duration: expected a number with an optional unit (500ms, 5s, 2m, 1h)"));
    }
    let value: u64 = digits.parse().map_err(|_| format!("{text:?} is too large"))?;
    let millis_per_unit: u64 = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        other => {
            return Err(format!("unknown unit {other:?} in {text:?}: use ms, s, m or h"));
        }
    };
    value.checked_mul(millis_per_unit).map(Duration::from_millis).ok_or_else(|| format!("{text:?} is too large"))
}

/// Writes a duration the way [`parse`] reads it, in the largest exact unit.
#[allow(clippy::manual_is_multiple_of, reason = "u128::is_multiple_of needs Rust 1.87; the workspace's MSRV is 1.85")]
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0ms".to_owned();
    }
    for (unit_ms, unit) in [(3_600_000, "h"), (60_000, "m"), (1_000, "s")] {
        if ms % unit_ms == 0 {
            return format!("{}{unit}", ms / unit_ms);
        }
    }
    format!("{ms}ms")
}

/// An uptime for people: `3d 4h 5m 6s`, leaving out leading zero units.
pub fn format_uptime(d: Duration) -> String {
    let total = d.as_secs();
    let parts = [(total / 86_400, "d"), (total / 3_600 % 24, "h"), (total / 60 % 60, "m"), (total % 60, "s")];
    let shown: Vec<String> = parts.iter().skip_while(|(n, _)| *n == 0).map(|(n, unit)| format!("{n}{unit}")).collect();
    if shown.is_empty() { "0s".to_owned() } else { shown.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_to_milliseconds() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bare_integer_is_milliseconds() {
        assert_eq!(parse("250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn malformed_durations_are_refused() {
        for bad in ["", "s", "ms", "-5s", "5 s", "1.5s", "5sec", "5S", "5d", "s5", "5s5", " 5s", "0x10"] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn overflowing_durations_are_refused() {
        assert!(parse("99999999999999999999").is_err());
        assert!(parse(&format!("{}h", u64::MAX / 1000)).is_err());
        assert_eq!(parse(&u64::MAX.to_string()), Ok(Duration::from_millis(u64::MAX)));
    }

    #[test]
    fn format_uses_the_largest_exact_unit_and_round_trips() {
        for (text, shown) in [
            ("500ms", "500ms"),
            ("5000", "5s"),
            ("90s", "90s"),
            ("120s", "2m"),
            ("60m", "1h"),
            ("0", "0ms"),
            ("1500", "1500ms"),
        ] {
            let d = parse(text).unwrap();
            assert_eq!(format(d), shown);
            assert_eq!(parse(shown), Ok(d));
        }
    }

    #[test]
    fn uptime_leaves_out_leading_zero_units() {
        assert_eq!(format_uptime(Duration::from_millis(999)), "0s");
        assert_eq!(format_uptime(Duration::from_secs(61)), "1m 1s");
        assert_eq!(format_uptime(Duration::from_secs(3600)), "1h 0m 0s");
        assert_eq!(format_uptime(Duration::from_secs(90_061)), "1d 1h 1m 1s");
    }
}
