//! Byte counts on the command line: `4096`, `4K` or `4KiB`, `1M` or `1MiB`,
//! `2G` or `2GiB` (binary units: `K` and `KiB` are both 1024).

/// Parses a `SIZE` argument that must be more than 0; the error is clap's
/// message for a bad value (exit 2).
pub fn parse_size(text: &str) -> Result<u64, String> {
    match parse_bytes(text)? {
        0 => Err(format!("{text:?}: a size must be more than 0 bytes")),
        n => Ok(n),
    }
}

/// Parses a byte count such as an offset, where 0 is fine.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "{text:?} is not a byte count: expected a number with an optional unit (4096, 64KiB, 1MiB, 2GiB)"
        ));
    }
    let value: u64 = digits.parse().map_err(|_| format!("{text:?} is too large"))?;
    let multiplier: u64 = match unit {
        "" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use KiB, MiB or GiB (or K, M, G, the same units)"
            ));
        }
    };
    value.checked_mul(multiplier).ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_are_bytes() {
        assert_eq!(parse_size("1"), Ok(1));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_size(&u64::MAX.to_string()), Ok(u64::MAX));
    }

    #[test]
    fn units_are_binary_with_or_without_ib() {
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_bytes("0KiB"), Ok(0));
    }

    #[test]
    fn zero_is_no_size() {
        for zero in ["0", "0K", "0MiB", "000"] {
            assert!(parse_size(zero).unwrap_err().contains("more than 0"), "{zero:?}");
        }
    }

    #[test]
    fn malformed_sizes_are_refused() {
        for bad in [
            "", "K", "MiB", "-1", "1.5M", "1 MiB", " 1", "1MiB ", "1k", "1kib", "1KB", "1MB", "1B", "1T", "1TiB",
            "0x10", "1KiB1", "1Ki",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn overflowing_sizes_are_refused() {
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size(&format!("{}GiB", u64::MAX >> 29)).is_err());
        assert_eq!(parse_size(&format!("{}GiB", u64::MAX >> 30)), Ok((u64::MAX >> 30) << 30));
    }
}
