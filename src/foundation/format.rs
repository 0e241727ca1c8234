//! Number formats: one function per way a number is written, so that every output and every
//! library message writes the same number the same way, byte for byte. The formats differ on
//! purpose (a rollout is exact to 0.001%, a lift has two decimals, an eval statistic four
//! significant digits), so each has its own name rather than a shared `percent`.

/// A fraction as a percentage without float noise, at most 6 decimals and no trailing zeros:
/// 0.3255 → `32.55%`, 0.05 → `5%`.
pub fn percent(fraction: f64) -> String {
    format!("{}%", decimal(fraction * 100.0))
}

/// A number without float noise: at most 6 decimals, trailing zeros dropped (`0.05`, `2`).
pub fn decimal(x: f64) -> String {
    let rounded = (x * 1e6).round() / 1e6;
    format!("{rounded}")
}

/// A share in thousandths of a percent (how rollouts and weights are stored) as a percentage:
/// 12_500 → `12.5%`.
pub fn percent_of_thousandths(thousandths: u32) -> String {
    format!("{}%", f64::from(thousandths) / 1000.0)
}

/// A relative lift as a signed percentage with two decimals: `+1.23%`, `-0.50%`, `0.00%`.
pub fn signed_percent(x: f64) -> String {
    signed(x * 100.0, 2) + "%"
}

/// An interval of relative lifts: `[-1.00%, +3.20%]`.
pub fn signed_percent_interval(ci: [f64; 2]) -> String {
    format!("[{}, {}]", signed_percent(ci[0]), signed_percent(ci[1]))
}

/// The confidence level of (1 − alpha) intervals, with at most two decimals: `95%`, `99.5%`.
pub fn confidence_level(alpha: f64) -> String {
    let text = format!("{:.2}", 100.0 * (1.0 - alpha));
    text.trim_end_matches('0').trim_end_matches('.').to_owned() + "%"
}

/// A probability as a percentage with one decimal: `97.3%`.
pub fn probability(p: f64) -> String {
    format!("{:.1}%", p * 100.0)
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

/// The decimals that give `x` four significant digits, from 0 to 10, for a column of
/// numbers written with [`fixed`].
pub fn decimals(x: f64) -> usize {
    if x == 0.0 || !x.is_finite() {
        return 4;
    }
    (3 - x.abs().log10().floor() as i64).clamp(0, 10) as usize
}

/// A number to four significant digits, trailing zeros dropped; scientific notation outside
/// [1e-4, 1e6): `0.1235`, `12`, `1.235e6`.
pub fn significant(x: f64) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    let exponent = x.abs().log10().floor();
    if (-4.0..6.0).contains(&exponent) {
        let decimals = (3.0 - exponent).max(0.0) as usize;
        let text = format!("{x:.decimals$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        }
    } else {
        let text = format!("{x:.3e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    }
}

/// A difference to four significant digits, with its sign when positive: `+0.25`, `-3`.
pub fn signed_significant(x: f64) -> String {
    if x > 0.0 {
        format!("+{}", significant(x))
    } else {
        significant(x)
    }
}

/// An interval to four significant digits: `[-0.01, 0.2]`.
pub fn significant_interval([low, high]: [f64; 2]) -> String {
    format!("[{}, {}]", significant(low), significant(high))
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

/// `n` and a noun, plural unless `n` is 1: `1 flag`, `3 flags`, `-1 days`.
pub fn plural<N: std::fmt::Display + PartialEq + From<u8>>(n: N, noun: &str) -> String {
    let s = if n == N::from(1) { "" } else { "s" };
    format!("{n} {noun}{s}")
}

/// A number for a data file a program reads back (a summary CSV's cell): integers as
/// integers, other numbers as the shortest decimal that reads back as the same float.
pub fn exact(x: f64) -> String {
    // Below 2⁵³ an integral float is an exact integer.
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_fixed() {
        assert_eq!(signed_percent(0.012345), "+1.23%");
        assert_eq!(signed_percent(-0.00001), "0.00%");
        assert_eq!(signed_percent(-0.5), "-50.00%");
        assert_eq!(p_value(0.00001), "<0.0001");
        assert_eq!(p_value(0.04567), "0.0457");
        assert_eq!(probability(0.9734), "97.3%");
        assert_eq!(fixed(0.10344, decimals(0.10344)), "0.1034");
        assert_eq!(fixed(-12345.6, decimals(-12345.6)), "-12346");
        assert_eq!(fixed(1e-13, decimals(1e-13)), "0.0000000000");
        assert_eq!(fixed(-0.00001, 2), "0.00");
        assert_eq!(fixed(0.099, decimals(0.1)), "0.0990");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(about(12345), 13000);
        assert_eq!(about(99), 99);
        assert_eq!(about(100), 100);
        assert_eq!(about(101), 110);
        assert_eq!(about(u64::MAX), u64::MAX);
        assert_eq!(confidence_level(0.05), "95%");
        assert_eq!(confidence_level(0.005), "99.5%");
        assert_eq!(confidence_level(0.0), "100%");
        assert_eq!(percent(0.3255), "32.55%");
        assert_eq!(percent(0.05), "5%");
        assert_eq!(percent(1.0 / 3.0), "33.333333%");
        assert_eq!(percent_of_thousandths(12_500), "12.5%");
        assert_eq!(percent_of_thousandths(100_000), "100%");
        assert_eq!(significant(0.0), "0");
        assert_eq!(significant(0.123456), "0.1235");
        assert_eq!(significant(12.0), "12");
        assert_eq!(significant(1234567.0), "1.235e6");
        assert_eq!(significant(0.00001234), "1.234e-5");
        assert_eq!(signed_significant(0.25), "+0.25");
        assert_eq!(signed_significant(-3.0), "-3");
        assert_eq!(plural(1, "flag"), "1 flag");
        assert_eq!(plural(0usize, "flag"), "0 flags");
        assert_eq!(plural(-1i64, "day"), "-1 days");
        assert_eq!(plural(1u64, "case"), "1 case");
    }
}
