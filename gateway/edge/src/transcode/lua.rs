//! Lua's number formatting. Kong's cjson writes every number with `%.14g` (LuaJIT numbers
//! are doubles), and lua-protobuf turns a number given for a string field into a string
//! the same way; the edge copies both so clients see byte-identical values.

/// `printf("%.14g", x)`.
pub fn fmt_g14(x: f64) -> String {
    const P: i32 = 14;
    if x.is_nan() {
        return if x.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Round to P significant digits first; the exponent after rounding picks the style.
    let sci = format!("{:.*e}", (P - 1) as usize, x);
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if !(-4..P).contains(&exp) {
        let m = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (P - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{:.*}", decimals, x)).to_owned()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_g14;

    #[test]
    fn formats_like_printf_g14() {
        assert_eq!(fmt_g14(0.0), "0");
        assert_eq!(fmt_g14(250.0), "250");
        assert_eq!(fmt_g14(12.5), "12.5");
        assert_eq!(fmt_g14(-3.0), "-3");
        assert_eq!(fmt_g14(0.9f32 as f64), "0.89999997615814");
        assert_eq!(fmt_g14(0.1), "0.1");
        assert_eq!(fmt_g14(1e15), "1e+15");
        assert_eq!(fmt_g14(123456789012346.0), "1.2345678901235e+14");
        assert_eq!(fmt_g14(99999999999999.0), "99999999999999");
        assert_eq!(fmt_g14(0.0001), "0.0001");
        assert_eq!(fmt_g14(0.00001), "1e-05");
        assert_eq!(fmt_g14(9007199254740993.0), "9.007199254741e+15");
        assert_eq!(fmt_g14(2147483647.0), "2147483647");
    }
}
