//! Signed amounts for display. `domain::Money` is a positive amount (an expense, a
//! budget); spending can be zero and `remaining` negative, so those are formatted here.

/// `minor` units with `exponent` decimals, exactly: (-1250, 2) is `"-12.50"`, (0, 2)
/// `"0.00"`, (1200, 0) `"1200"`.
pub fn format_minor(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    // unsigned_abs: i64::MIN has no positive i64.
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let factor = 10u64.pow(exponent);
    format!(
        "{sign}{}.{:0width$}",
        abs / factor,
        abs % factor,
        width = exponent as usize
    )
}

#[cfg(test)]
mod tests {
    use super::format_minor;

    #[test]
    fn amounts_are_exact_with_the_currency_exponent() {
        assert_eq!(format_minor(1250, 2), "12.50");
        assert_eq!(format_minor(-1250, 2), "-12.50");
        assert_eq!(format_minor(-5, 2), "-0.05");
        assert_eq!(format_minor(0, 2), "0.00");
        assert_eq!(format_minor(0, 0), "0");
        assert_eq!(format_minor(1200, 0), "1200");
        assert_eq!(format_minor(1250, 3), "1.250");
        assert_eq!(format_minor(i64::MIN, 2), "-92233720368547758.08");
    }
}
