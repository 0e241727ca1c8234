//! The statistics against GrowthBook's gbstats 0.8.0 and scipy: tests/stats/gbstats.json
//! (made by tests/stats/generate.py from the real packages) holds the inputs and gbstats's
//! outputs; every number flagstone computes must agree within the rule of
//! docs/statistics.md ("Agreement with gbstats"). Then properties: no input, however
//! hostile, gives a NaN or an infinity, or panics.

use std::path::PathBuf;

use flagstone::stats::{
    Arm, Bayesian, Correction, Frequentist, Moments, Settings, Summary, Unavailable,
    adjust_p_values, compare, dist, srm_p_value,
};
use proptest::prelude::*;
use serde_json::Value;

/// The agreement rule: relative 1e-6, plus an absolute allowance that depends on the field
/// (0 where none is needed).
const RELATIVE: f64 = 1e-6;
/// Results below the smallest normal double carry no relative precision anywhere.
const SUBNORMAL: f64 = 1e-300;
/// The absolute precision of gbstats's p-values and chances to win, which come from
/// 1 − cdf: below it, flagstone is compared with the exact value instead.
const ONE_MINUS: f64 = 1e-14;

fn golden() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stats/gbstats.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/stats/generate.py)", path.display()));
    serde_json::from_str(&text).expect("gbstats.json is JSON")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn moments(v: &Value) -> Moments {
    match v.get("sum_squares") {
        Some(squares) => Moments::Mean {
            sum: num(&v["sum"]),
            sum_squares: num(squares),
        },
        None => Moments::Binomial {
            sum: num(&v["sum"]),
        },
    }
}

fn arm(v: &Value) -> Arm {
    let summary = match v["kind"].as_str().unwrap() {
        "plain" => Summary::Plain(moments(&v["moments"])),
        "ratio" => Summary::Ratio {
            numerator: moments(&v["numerator"]),
            denominator: moments(&v["denominator"]),
            sum_product: num(&v["sum_product"]),
        },
        "adjusted" => Summary::Adjusted {
            post: moments(&v["post"]),
            pre: moments(&v["pre"]),
            sum_product: num(&v["sum_product"]),
        },
        other => panic!("unknown arm kind {other}"),
    };
    Arm {
        users: v["users"].as_u64().unwrap(),
        summary,
    }
}

fn settings(v: &Value) -> Settings {
    Settings {
        alpha: num(&v["alpha"]),
        inverse: v["inverse"].as_bool().unwrap(),
        prior_stddev: v["prior_stddev"].as_f64(),
        sequential_tuning: num(&v["sequential_tuning"]),
    }
}

fn reason_name(reason: Unavailable) -> &'static str {
    match reason {
        Unavailable::NoUnits { control: true } => "no_units_control",
        Unavailable::NoUnits { control: false } => "no_units_variant",
        Unavailable::ZeroVariance { control: true } => "zero_variance_control",
        Unavailable::ZeroVariance { control: false } => "zero_variance_variant",
        Unavailable::ZeroControlMean => "zero_control_mean",
    }
}

/// Collects every disagreement, so one run reports them all.
struct Checker {
    failures: Vec<String>,
    checked: usize,
}

impl Checker {
    fn close(&mut self, what: &str, actual: f64, expected: f64, absolute: f64) {
        self.checked += 1;
        let allowed = RELATIVE * expected.abs() + absolute;
        if !actual.is_finite() || (actual - expected).abs() > allowed {
            self.failures.push(format!(
                "{what}: flagstone {actual:e}, reference {expected:e} (allowed ±{allowed:e})"
            ));
        }
    }

    /// Point estimates and interval ends agree relative to themselves or to the interval's
    /// width, whichever is larger (an end near 0 is the difference of two larger numbers).
    fn interval(&mut self, what: &str, expected: f64, ci: [f64; 2], reference: &Value) {
        let lo = num(&reference["ci"][0]);
        let hi = num(&reference["ci"][1]);
        let width = RELATIVE * (hi - lo).abs();
        self.close(
            &format!("{what}.expected"),
            expected,
            num(&reference["expected"]),
            width,
        );
        self.close(&format!("{what}.ci[0]"), ci[0], lo, width);
        self.close(&format!("{what}.ci[1]"), ci[1], hi, width);
    }

    fn unavailable<T>(&mut self, what: &str, actual: &Result<T, Unavailable>, reference: &Value) {
        self.checked += 1;
        let expected = reference["unavailable"].as_str().unwrap();
        match actual {
            Err(reason) if reason_name(*reason) == expected => {}
            Err(reason) => self.failures.push(format!(
                "{what}: flagstone says {}, expected {expected}",
                reason_name(*reason)
            )),
            Ok(_) => self.failures.push(format!(
                "{what}: flagstone computed a result, expected unavailable {expected}"
            )),
        }
    }

    fn bayesian(&mut self, what: &str, actual: &Result<Bayesian, Unavailable>, reference: &Value) {
        if reference.get("unavailable").is_some() {
            return self.unavailable(what, actual, reference);
        }
        let Ok(b) = actual else {
            self.failures
                .push(format!("{what}: flagstone says unavailable: {actual:?}"));
            return;
        };
        self.interval(what, b.expected, b.ci, reference);
        self.close(
            &format!("{what}.chance_to_win"),
            b.chance_to_win,
            num(&reference["chance_to_win_exact"]),
            SUBNORMAL,
        );
        self.close(
            &format!("{what}.chance_to_win (gbstats)"),
            b.chance_to_win,
            num(&reference["chance_to_win"]),
            ONE_MINUS,
        );
        // The risks: relative agreement with the exact expected losses, and gbstats's own
        // truncated-normal values (which reach 0 too early) within 1e-12 posterior sd.
        let sd = num(&reference["posterior_stddev"]);
        for (field, actual) in [("risk_keep", b.risk_keep), ("risk_ship", b.risk_ship)] {
            self.close(
                &format!("{what}.{field}"),
                actual,
                num(&reference[format!("{field}_exact")]),
                SUBNORMAL,
            );
            self.close(
                &format!("{what}.{field} (gbstats)"),
                actual,
                num(&reference[field]),
                1e-12 * sd,
            );
        }
    }

    fn frequentist(
        &mut self,
        what: &str,
        actual: &Result<Frequentist, Unavailable>,
        reference: &Value,
    ) {
        if reference.get("unavailable").is_some() {
            return self.unavailable(what, actual, reference);
        }
        let Ok(f) = actual else {
            self.failures
                .push(format!("{what}: flagstone says unavailable: {actual:?}"));
            return;
        };
        self.interval(what, f.expected, f.ci, reference);
        let gbstats_p = num(&reference["p_value"]);
        match reference.get("p_value_exact") {
            // The fixed-horizon test: exact relative agreement with scipy's sf at gbstats's
            // t and degrees of freedom, and gbstats's own value within its precision.
            Some(exact) => {
                self.close(&format!("{what}.p_value"), f.p_value, num(exact), SUBNORMAL);
                self.close(
                    &format!("{what}.p_value (gbstats)"),
                    f.p_value,
                    gbstats_p,
                    ONE_MINUS,
                );
            }
            None => self.close(&format!("{what}.p_value"), f.p_value, gbstats_p, SUBNORMAL),
        }
    }
}

#[test]
fn comparisons_agree_with_gbstats() {
    let golden = golden();
    let cases = golden["comparisons"].as_array().unwrap();
    assert!(cases.len() >= 200, "only {} comparisons", cases.len());
    let mut check = Checker {
        failures: Vec::new(),
        checked: 0,
    };
    let mut unavailable = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];
        let result = compare(
            &arm(&case["control"]),
            &arm(&case["variant"]),
            &settings(&case["settings"]),
        );
        match (result.theta, expected["theta"].as_f64()) {
            (Some(actual), Some(theta)) => {
                check.close(&format!("{name}: theta"), actual, theta, 0.0)
            }
            (None, None) => {}
            (actual, theta) => check.failures.push(format!(
                "{name}: theta is {actual:?}, gbstats's is {theta:?}"
            )),
        }
        for (who, describe) in [("control", result.control), ("variant", result.variant)] {
            let reference = &expected["describe"][who];
            check.close(
                &format!("{name}: {who}.mean"),
                describe.mean,
                num(&reference["mean"]),
                SUBNORMAL,
            );
            check.close(
                &format!("{name}: {who}.stddev"),
                describe.stddev,
                num(&reference["stddev"]),
                SUBNORMAL,
            );
        }
        for (key, bayes, freq, seq) in [
            (
                "relative",
                &result.bayesian.relative,
                &result.frequentist.relative,
                &result.sequential.relative,
            ),
            (
                "absolute",
                &result.bayesian.absolute,
                &result.frequentist.absolute,
                &result.sequential.absolute,
            ),
        ] {
            unavailable += [bayes.is_err(), freq.is_err(), seq.is_err()]
                .iter()
                .filter(|e| **e)
                .count();
            check.bayesian(
                &format!("{name}: bayesian.{key}"),
                bayes,
                &expected["bayesian"][key],
            );
            check.frequentist(
                &format!("{name}: frequentist.{key}"),
                freq,
                &expected["frequentist"][key],
            );
            check.frequentist(
                &format!("{name}: sequential.{key}"),
                seq,
                &expected["sequential"][key],
            );
        }
    }
    assert!(
        check.failures.is_empty(),
        "{} of {} checks disagree with gbstats:\n{}",
        check.failures.len(),
        check.checked,
        check.failures.join("\n")
    );
    // The default-output paths are exercised, not just the happy ones.
    assert!(unavailable >= 50, "only {unavailable} unavailable results");
}

#[test]
fn distributions_agree_with_scipy() {
    let golden = golden();
    let mut failures = Vec::new();
    for point in golden["distributions"].as_array().unwrap() {
        let name = point["fn"].as_str().unwrap();
        let args: Vec<f64> = point["args"].as_array().unwrap().iter().map(num).collect();
        let expected = num(&point["value"]);
        let actual = match name {
            "normal_pdf" => dist::normal_pdf(args[0]),
            "normal_cdf" => dist::normal_cdf(args[0]),
            "normal_sf" => dist::normal_sf(args[0]),
            "normal_quantile" => dist::normal_quantile(args[0]),
            "student_t_sf" => dist::student_t_sf(args[0], args[1]),
            "student_t_cdf" => dist::student_t_cdf(args[0], args[1]),
            "student_t_quantile" => dist::student_t_quantile(args[0], args[1]),
            "chi_squared_sf" => dist::chi_squared_sf(args[0], args[1]),
            "binomial_cdf" => dist::binomial_cdf(args[0] as u64, args[1] as u64, args[2]),
            "ln_gamma" => dist::ln_gamma(args[0]),
            other => panic!("unknown function {other}"),
        };
        // ln Γ crosses zero near 1 and 2, where only absolute precision means anything.
        let absolute = if name == "ln_gamma" { 1e-14 } else { 0.0 };
        if (actual - expected).abs() > 1e-12 * expected.abs() + absolute {
            failures.push(format!(
                "{name}{args:?}: flagstone {actual:e}, scipy {expected:e}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sample_ratio_checks_agree_with_gbstats() {
    let golden = golden();
    for case in golden["srm"].as_array().unwrap() {
        let users: Vec<u64> = case["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_u64().unwrap())
            .collect();
        let weights: Vec<f64> = case["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(num)
            .collect();
        let expected = num(&case["p_value"]);
        let actual = srm_p_value(&users, &weights);
        assert!(
            (actual - expected).abs() <= 1e-12 * expected + SUBNORMAL,
            "srm {users:?} {weights:?}: flagstone {actual:e}, gbstats {expected:e}"
        );
    }
}

#[test]
fn corrections_agree_with_the_references() {
    let golden = golden();
    for case in golden["corrections"].as_array().unwrap() {
        let p: Vec<f64> = case["p_values"]
            .as_array()
            .unwrap()
            .iter()
            .map(num)
            .collect();
        assert_eq!(adjust_p_values(&p, Correction::None), p);
        for (key, correction) in [
            ("holm", Correction::Holm),
            ("benjamini_hochberg", Correction::BenjaminiHochberg),
        ] {
            let actual = adjust_p_values(&p, correction);
            let expected: Vec<f64> = case[key].as_array().unwrap().iter().map(num).collect();
            assert_eq!(actual.len(), expected.len());
            for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
                assert!(
                    (a - e).abs() <= 1e-12 * e,
                    "{key} of {p:?}, position {i}: flagstone {a:e}, reference {e:e}"
                );
            }
        }
    }
}

#[test]
fn srm_edge_cases() {
    assert_eq!(srm_p_value(&[], &[]), 1.0);
    assert_eq!(srm_p_value(&[0, 0], &[1.0, 1.0]), 1.0);
    assert_eq!(srm_p_value(&[10], &[1.0]), 1.0);
    assert_eq!(srm_p_value(&[10, 10], &[0.0, 0.0]), 1.0);
    // A count without a weight is left out of the statistic, as a weight of 0 is.
    assert_eq!(
        srm_p_value(&[10, 10, 5], &[1.0, 1.0]),
        srm_p_value(&[10, 10, 5], &[1.0, 1.0, 0.0])
    );
    assert_eq!(
        srm_p_value(&[50, 50], &[f64::NAN, 1.0]),
        srm_p_value(&[50, 50], &[0.0, 1.0])
    );
}

#[test]
fn corrections_of_hostile_p_values() {
    let adjusted = adjust_p_values(&[f64::NAN, -0.5, 2.0, 0.01], Correction::Holm);
    assert_eq!(adjusted, vec![1.0, 0.0, 1.0, 0.03]);
    assert!(adjust_p_values(&[], Correction::BenjaminiHochberg).is_empty());
}

fn hostile_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(1e-320),
        -1e6..1e6f64,
        -1e300..1e300f64,
        0.0..1.0f64,
    ]
}

fn hostile_moments() -> impl Strategy<Value = Moments> {
    prop_oneof![
        hostile_f64().prop_map(|sum| Moments::Binomial { sum }),
        (hostile_f64(), hostile_f64())
            .prop_map(|(sum, sum_squares)| Moments::Mean { sum, sum_squares }),
    ]
}

fn hostile_arm() -> impl Strategy<Value = Arm> {
    let users = prop_oneof![Just(0u64), Just(1), Just(2), 0..1000u64, Just(u64::MAX)];
    let summary = prop_oneof![
        hostile_moments().prop_map(Summary::Plain),
        (hostile_moments(), hostile_moments(), hostile_f64()).prop_map(|(n, d, s)| {
            Summary::Ratio {
                numerator: n,
                denominator: d,
                sum_product: s,
            }
        }),
        (hostile_moments(), hostile_moments(), hostile_f64()).prop_map(|(post, pre, s)| {
            Summary::Adjusted {
                post,
                pre,
                sum_product: s,
            }
        }),
    ];
    (users, summary).prop_map(|(users, summary)| Arm { users, summary })
}

/// A well-formed arm of realistic size: sums from a mean and a standard deviation.
fn realistic_arm() -> impl Strategy<Value = Arm> {
    (
        2..2_000_000u64,
        -1e3..1e3f64,
        1e-3..1e3f64,
        0.0..1.0f64,
        any::<bool>(),
    )
        .prop_map(|(users, mean, sd, p, binary)| {
            let n = users as f64;
            let moments = if binary {
                Moments::Binomial {
                    sum: (p * n).round(),
                }
            } else {
                Moments::Mean {
                    sum: mean * n,
                    sum_squares: (n - 1.0) * sd * sd + mean * mean * n,
                }
            };
            Arm {
                users,
                summary: Summary::Plain(moments),
            }
        })
}

fn hostile_settings() -> impl Strategy<Value = Settings> {
    (
        prop_oneof![Just(0.05), hostile_f64()],
        any::<bool>(),
        prop_oneof![Just(None), hostile_f64().prop_map(Some)],
        prop_oneof![Just(5000.0), hostile_f64()],
    )
        .prop_map(
            |(alpha, inverse, prior_stddev, sequential_tuning)| Settings {
                alpha,
                inverse,
                prior_stddev,
                sequential_tuning,
            },
        )
}

fn all_finite(control: &Arm, variant: &Arm, settings: &Settings) -> Result<(), TestCaseError> {
    let c = compare(control, variant, settings);
    let mut numbers = vec![
        c.control.mean,
        c.control.stddev,
        c.variant.mean,
        c.variant.stddev,
    ];
    numbers.extend(c.theta);
    for b in [c.bayesian.relative, c.bayesian.absolute]
        .into_iter()
        .flatten()
    {
        numbers.extend([
            b.expected,
            b.ci[0],
            b.ci[1],
            b.chance_to_win,
            b.risk_keep,
            b.risk_ship,
        ]);
        prop_assert!((0.0..=1.0).contains(&b.chance_to_win));
        prop_assert!(b.risk_keep >= 0.0 && b.risk_ship >= 0.0);
    }
    for f in [
        c.frequentist.relative,
        c.frequentist.absolute,
        c.sequential.relative,
        c.sequential.absolute,
    ]
    .into_iter()
    .flatten()
    {
        numbers.extend([f.expected, f.ci[0], f.ci[1], f.p_value]);
        prop_assert!((0.0..=1.0).contains(&f.p_value));
    }
    for x in numbers {
        prop_assert!(x.is_finite(), "{x} in {c:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::support::proptest_config!("test_stats", 2000))]

    #[test]
    fn hostile_inputs_give_no_nan_or_infinity(
        control in hostile_arm(),
        variant in hostile_arm(),
        settings in hostile_settings(),
    ) {
        all_finite(&control, &variant, &settings)?;
    }

    #[test]
    fn realistic_inputs_are_computed(
        control in realistic_arm(),
        variant in realistic_arm(),
        alpha in 0.001..0.5f64,
    ) {
        let settings = Settings { alpha, ..Settings::default() };
        all_finite(&control, &variant, &settings)?;
        let c = compare(&control, &variant, &settings);
        // With units and variance in both arms the absolute difference always exists.
        if c.control.stddev > 0.0 && c.variant.stddev > 0.0 {
            prop_assert!(c.frequentist.absolute.is_ok(), "{c:?}");
            prop_assert!(c.bayesian.absolute.is_ok(), "{c:?}");
        }
    }

    #[test]
    fn srm_and_corrections_stay_in_range(
        users in prop::collection::vec(prop_oneof![Just(0u64), 0..1_000_000u64, Just(u64::MAX)], 0..6),
        weights in prop::collection::vec(hostile_f64(), 0..6),
        p in prop::collection::vec(hostile_f64(), 0..30),
    ) {
        let srm = srm_p_value(&users, &weights);
        prop_assert!((0.0..=1.0).contains(&srm), "{srm}");
        for correction in [Correction::None, Correction::Holm, Correction::BenjaminiHochberg] {
            for x in adjust_p_values(&p, correction) {
                prop_assert!((0.0..=1.0).contains(&x), "{x}");
            }
        }
    }
}
