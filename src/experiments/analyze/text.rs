//! Fixed number formats, so that every rendering of a report is the same byte for byte.

/// A relative lift as a signed percentage with two decimals: `+1.23%`, `-0.50%`, `0.00%`.
pub fn percent(x: f64) -> String {
    signed(x * 100.0, 2) + "%"
}

/// A signed number with `decimals` decimals, without a negative zero.
pub fn signed(x: f64, decimals: usize) -> String {
    let text = format!("{x:+.decimals$}");
    if text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_owned()
    } else {
        text
    }
}

/// An interval of relative lifts: `[-1.00%, +3.20%]`.
pub fn percent_interval(ci: [f64; 2]) -> String {
    format!("[{}, {}]", percent(ci[0]), percent(ci[1]))
}

/// A p-value with four decimals, or `<0.0001`.
pub fn p_value(p: f64) -> String {
    if p < 0.0001 {
        "<0.0001".to_owned()
    } else {
        format!("{p:.4}")
    }
}

/// `p = 0.0123`, or `p < 0.0001`; `label` names the p-value.
pub fn p_is(label: &str, p: f64) -> String {
    if p < 0.0001 {
        format!("{label} < 0.0001")
    } else {
        format!("{label} = {p:.4}")
    }
}

/// A probability as a percentage with one decimal: `97.3%`.
pub fn probability(p: f64) -> String {
    format!("{:.1}%", p * 100.0)
}

/// A mean with four significant digits (at most ten decimals), without exponent.
pub fn number(x: f64) -> String {
    fixed(x, decimals(x))
}

/// The decimals that give `x` four significant digits, from 0 to 10.
pub fn decimals(x: f64) -> usize {
    if x == 0.0 || !x.is_finite() {
        return 4;
    }
    (3 - x.abs().log10().floor() as i64).clamp(0, 10) as usize
}

/// `x` with `decimals` decimals, without a negative zero.
pub fn fixed(x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_owned()
    } else {
        text
    }
}

/// A count with thousands separators: `12,345`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` rounded up to two significant digits, for estimates: 12,345 → 13,000.
pub fn about(n: u64) -> u64 {
    let mut unit = 1u64;
    while n / unit >= 100 {
        unit *= 10;
    }
    n.div_ceil(unit).saturating_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_fixed() {
        assert_eq!(percent(0.012345), "+1.23%");
        assert_eq!(percent(-0.00001), "0.00%");
        assert_eq!(percent(-0.5), "-50.00%");
        assert_eq!(p_value(0.00001), "<0.0001");
        assert_eq!(p_value(0.04567), "0.0457");
        assert_eq!(probability(0.9734), "97.3%");
        assert_eq!(number(0.10344), "0.1034");
        assert_eq!(number(54.236), "54.24");
        assert_eq!(number(-12345.6), "-12346");
        assert_eq!(number(0.0), "0.0000");
        assert_eq!(number(1e-13), "0.0000000000");
        assert_eq!(fixed(-0.00001, 2), "0.00");
        assert_eq!(fixed(0.099, decimals(0.1)), "0.0990");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(about(12345), 13000);
        assert_eq!(about(99), 99);
        assert_eq!(about(100), 100);
        assert_eq!(about(101), 110);
        assert_eq!(about(u64::MAX), u64::MAX);
    }
}
