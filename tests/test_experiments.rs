//! Experiments: the power calculation, the design read from a repository, the evaluator's
//! gates and `flagstone plan`.

use flagstone::analyze::{Estimator, Role};
use flagstone::eval::bucket::bucket;
use flagstone::eval::{Evaluator, GateKind, Reason};
use flagstone::experiment::design;
use flagstone::stats::power::{Baseline, PowerError, days_needed, units_per_variant};

use crate::support::{root, run};

#[test]
fn units_per_variant_match_an_independent_computation() {
    // Computed with scipy:
    // /tmp/gbenv/bin/python -c "from scipy.stats import norm; import math
    // def n(p,m,a=0.05,b=0.8):
    //   q=p*(1+m); z=norm.ppf(1-a/2)+norm.ppf(b)
    //   return math.ceil(z*z*(q*(1-q)/p**2+p*(1-p)*(1+m)**2/p**2)/m**2)
    // def nm(mu,s,m,a=0.05,b=0.8):
    //   z=norm.ppf(1-a/2)+norm.ppf(b); return math.ceil(z*z*((s/mu)**2+(s/mu)**2*(1+m)**2)/m**2)
    // print(n(0.31,0.05), n(0.042,0.1), n(0.31,0.05,0.01,0.9), nm(12.5,30,0.05), nm(12.5,30,0.02,0.1,0.95))"
    // → 14877 41270 28203 38022 317975
    assert_eq!(
        units_per_variant(Baseline::Rate(0.31), 0.05, 0.05, 0.8),
        Ok(14877)
    );
    assert_eq!(
        units_per_variant(Baseline::Rate(0.042), 0.1, 0.05, 0.8),
        Ok(41270)
    );
    assert_eq!(
        units_per_variant(Baseline::Rate(0.31), 0.05, 0.01, 0.9),
        Ok(28203)
    );
    let mean = Baseline::Mean {
        mean: 12.5,
        stddev: 30.0,
    };
    assert_eq!(units_per_variant(mean, 0.05, 0.05, 0.8), Ok(38022));
    assert_eq!(units_per_variant(mean, 0.02, 0.1, 0.95), Ok(317975));
}

#[test]
fn bad_power_inputs_are_refused() {
    let rate = Baseline::Rate(0.5);
    assert_eq!(
        units_per_variant(Baseline::Rate(1.0), 0.05, 0.05, 0.8),
        Err(PowerError::Rate(1.0))
    );
    assert_eq!(
        units_per_variant(Baseline::Rate(0.6), 0.7, 0.05, 0.8),
        Err(PowerError::RateAboveOne {
            rate: 0.6,
            mde: 0.7
        })
    );
    assert_eq!(
        units_per_variant(rate, 0.0, 0.05, 0.8),
        Err(PowerError::Mde(0.0))
    );
    assert_eq!(
        units_per_variant(rate, 0.05, 1.0, 0.8),
        Err(PowerError::Alpha(1.0))
    );
    assert!(matches!(
        units_per_variant(rate, 0.05, 0.05, f64::NAN),
        Err(PowerError::Power(p)) if p.is_nan()
    ));
    assert_eq!(
        units_per_variant(rate, 1e-12, 0.05, 0.8),
        Err(PowerError::TooLarge)
    );
    let zero = Baseline::Mean {
        mean: 0.0,
        stddev: 1.0,
    };
    assert_eq!(
        units_per_variant(zero, 0.05, 0.05, 0.8),
        Err(PowerError::Mean(0.0))
    );
    assert_eq!(
        days_needed(100, 0.0, 1.0, &[0.5]),
        Err(PowerError::DailyUnits(0.0))
    );
    assert_eq!(
        days_needed(100, 10.0, 1.5, &[0.5]),
        Err(PowerError::Share(1.5))
    );
}

#[test]
fn the_smallest_arm_and_the_layer_and_holdout_set_the_duration() {
    // 14877 / (4000 × 0.57 × 0.25) = 26.1 days.
    assert_eq!(days_needed(14877, 4000.0, 0.57, &[0.5, 0.25, 0.25]), Ok(27));
    assert_eq!(days_needed(14877, 4000.0, 1.0, &[0.5, 0.5]), Ok(8));
}

#[test]
fn the_design_api_reads_the_example_experiment() {
    let repo = flagstone::load::load(&root().join("flags.example")).unwrap();
    let d = design(&repo, "growth/onboarding-checklist", None).unwrap();
    assert_eq!(d.flag, "growth/onboarding-checklist");
    assert_eq!(d.environment, "production");
    assert_eq!(d.control, "control");
    assert_eq!(d.variants, ["checklist", "control", "guided-tour"]);
    assert_eq!(
        d.weights,
        [
            ("checklist", 25.0),
            ("control", 50.0),
            ("guided-tour", 25.0)
        ]
    );
    assert!((d.in_experiment - 0.57).abs() < 1e-12);
    assert_eq!((d.mde, d.alpha, d.power), (0.05, 0.05, 0.8));
    let metrics: Vec<(&str, Role, bool, Option<&str>)> = d
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), m.role, m.inverse, m.covariate.as_deref()))
        .collect();
    assert_eq!(
        metrics,
        [
            ("activated_7d", Role::Primary, false, None),
            ("dashboards_created_14d", Role::Secondary, false, None),
            ("queries", Role::Secondary, false, Some("queries.pre")),
            ("queries_per_session", Role::Secondary, false, None),
            (
                "support_tickets_14d",
                Role::Guardrail {
                    max_regression: 0.02
                },
                true,
                None
            ),
        ]
    );
    assert_eq!(
        d.metrics[3].kind,
        Estimator::Ratio {
            numerator: "queries".into(),
            denominator: "sessions".into()
        }
    );
    let plan = d.plan().unwrap();
    assert_eq!(
        (plan.units_per_variant, plan.total_units, plan.days),
        (14877, 59508, 27)
    );
    let err = design(&repo, "growth/onboarding-checklist", Some("staging")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the experiment does not run in `staging`; it runs in production"
    );
    let err = design(&repo, "growth/onboarding", None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown experiment `growth/onboarding`: "),
        "{err}"
    );
}

/// The production evaluator of flags.example.
fn production() -> Evaluator {
    let repo = flagstone::load::load(&root().join("flags.example")).unwrap();
    let report = flagstone::check::check(&repo, &crate::support::options());
    let bundle = flagstone::build::all(report.checked().unwrap())
        .into_iter()
        .find(|b| b.environment == "production")
        .unwrap();
    Evaluator::from_bundle(bundle).unwrap()
}

#[test]
fn held_out_and_out_of_slice_units_get_control_and_the_others_the_split() {
    let evaluator = production();
    let flag = "growth/onboarding-checklist";
    let (mut held, mut outside, mut split) = (0, 0, 0);
    for i in 0..4000 {
        let unit = format!("usr_{i}");
        let context = serde_json::json!({
            "targeting_key": unit, "signup_at": "2026-12-05T10:00:00Z",
            "plan": "free", "platform": "web",
        });
        let result = evaluator
            .evaluate(flag, &context, 1_796_000_000_000)
            .unwrap();
        // The contract of docs/bucketing.md, computed here from its parts.
        let holdout = bucket(&[b"growth-2027/holdout/", unit.as_bytes()], 100_000);
        let layer = bucket(&[b"acquisition/layer/", unit.as_bytes()], 100_000);
        let expected_gate = if holdout < 5_000 {
            Some((GateKind::Holdout, "growth-2027"))
        } else if layer >= 60_000 {
            Some((GateKind::Layer, "acquisition"))
        } else {
            None
        };
        match (result.reason, expected_gate) {
            (
                Reason::Excluded {
                    exclusion,
                    rule_name,
                    ..
                },
                Some((kind, name)),
            ) => {
                assert_eq!(
                    (
                        exclusion.experiment.as_str(),
                        exclusion.gate,
                        exclusion.by.as_str(),
                        rule_name
                    ),
                    (flag, kind, name, "new-signups")
                );
                assert_eq!(result.variant, "control");
                if kind == GateKind::Holdout {
                    held += 1;
                } else {
                    outside += 1;
                }
            }
            (Reason::Rule { rule_name, .. }, None) => {
                assert_eq!(rule_name, "new-signups");
                split += 1;
            }
            (reason, gate) => panic!("{unit}: {reason:?}, expected {gate:?}"),
        }
    }
    // 5% held out; of the rest, 40% outside the slice.
    assert!((170..=230).contains(&held), "{held}");
    assert!((1440..=1600).contains(&outside), "{outside}");
    assert_eq!(held + outside + split, 4000);
    // The gate applies only to splits: staff get control from their own rule, as before.
    let staff = serde_json::json!({"targeting_key": "usr_6100", "email": "dana@acme.com"});
    let result = evaluator.evaluate(flag, &staff, 1_796_000_000_000).unwrap();
    assert_eq!(
        result.reason,
        Reason::Rule {
            rule_index: 0,
            rule_name: "exclude-staff"
        }
    );
    // The JSON form of the reason.
    let context = serde_json::json!({"targeting_key": "usr_2", "signup_at": "2026-12-05T10:00:00Z", "plan": "free", "platform": "web"});
    let result = evaluator
        .evaluate(flag, &context, 1_796_000_000_000)
        .unwrap();
    assert_eq!(
        serde_json::to_value(&result.reason).unwrap(),
        serde_json::json!({"kind": "excluded", "rule_index": 1, "rule_name": "new-signups",
            "experiment": flag, "gate": "layer", "by": "acquisition"})
    );
    assert_eq!(
        result.reason.to_string(),
        "rule 1 \"new-signups\", excluded from experiment `growth/onboarding-checklist` by layer `acquisition`"
    );
}

#[test]
fn only_flags_with_experiments_carry_gates() {
    let repo = flagstone::load::load(&root().join("flags.example")).unwrap();
    let report = flagstone::check::check(&repo, &crate::support::options());
    for bundle in flagstone::build::all(report.checked().unwrap()) {
        let gated: Vec<&str> = bundle
            .flags
            .iter()
            .filter(|(_, f)| f.experiment.is_some())
            .map(|(k, _)| k.as_str())
            .collect();
        let expected: &[&str] = if bundle.environment == "production" {
            &[
                "growth/onboarding-checklist",
                "growth/pricing-page-headline",
            ]
        } else {
            &[]
        };
        assert_eq!(gated, expected, "{}", bundle.environment);
        let bytes = String::from_utf8(bundle.to_canonical_json()).unwrap();
        assert_eq!(bytes.matches("\"x\":{\"control\":").count(), expected.len());
    }
}

#[test]
fn plan_prints_the_experiment_plan() {
    let (code, stdout, stderr) = run(
        &[
            "plan",
            "growth/onboarding-checklist",
            "--dir",
            "flags.example",
        ],
        &root(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "experiment   growth/onboarding-checklist (flag growth/onboarding-checklist, in production)
primary      activated_7d, a rate of 31%
mde          5% relative: 31% → 32.55%
alpha        0.05 (two-sided)
power        0.8
arms         checklist 25%, control 50%, guided-tour 25%
per variant  14877 units
total        59508 units
traffic      2280 units a day: 57% of 4000 reaching the split, after layer and holdout
duration     27 days
runs         from 2026-12-01 to 2026-12-27 at the earliest
end          2027-01-12: enough time
"
    );
    let (code, stdout, _) = run(
        &[
            "plan",
            "growth/pricing-page-headline",
            "--dir",
            "flags.example",
            "--format",
            "json",
        ],
        &root(),
    );
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["units_per_variant"], 41270);
    assert_eq!(json["days"], 11);
    assert_eq!(json["earliest_end"], "2026-12-17");
    assert_eq!(json["enough"], true);
}

#[test]
fn plan_without_an_experiment_and_its_errors() {
    let args = [
        "plan",
        "--baseline",
        "0.31",
        "--mde",
        "0.05",
        "--alpha",
        "0.05",
        "--power",
        "0.8",
        "--daily-units",
        "4000",
        "--variants",
        "3",
    ];
    let (code, stdout, _) = run(&args, &root());
    assert_eq!(code, 0);
    assert!(
        stdout.contains("per variant  14877 units\ntotal        44631 units\n"),
        "{stdout}"
    );
    assert!(stdout.contains("duration     12 days\n"), "{stdout}");
    let cases: &[(&[&str], &str)] = &[
        (
            &["plan", "--mde", "0.05"],
            "error: give an EXPERIMENT, or plan from numbers with --baseline, --mde and --daily-units (missing: --baseline, --daily-units)\n",
        ),
        (
            &[
                "plan",
                "--baseline",
                "1.2",
                "--mde",
                "0.05",
                "--daily-units",
                "10",
            ],
            "error: a baseline rate must be above 0 and below 1, not 1.2\n",
        ),
        (
            &[
                "plan",
                "--baseline",
                "3",
                "--stddev",
                "-1",
                "--mde",
                "0.05",
                "--daily-units",
                "10",
            ],
            "error: a standard deviation must be positive, not -1\n",
        ),
        (
            &[
                "plan",
                "--baseline",
                "0.3",
                "--mde",
                "0.05",
                "--daily-units",
                "10",
                "--variants",
                "1",
            ],
            "error: --variants counts control and at least one variant: 2 or more, not 1\n",
        ),
        (
            &[
                "plan",
                "--baseline",
                "0.3",
                "--mde",
                "0.05",
                "--daily-units",
                "10",
                "--power",
                "1",
            ],
            "error: power must be above 0 and below 1, not 1\n",
        ),
        (
            &["plan", "nope", "--dir", "flags.example"],
            "error: unknown experiment `nope`: known experiments: growth/onboarding-checklist, growth/pricing-page-headline\n",
        ),
    ];
    for (args, expected) in cases {
        let (code, _, stderr) = run(args, &root());
        assert_eq!((code, stderr.as_str()), (2, *expected), "{args:?}");
    }
}

#[test]
fn bad_experiment_files_get_located_findings() {
    let fixture = root().join("tests/fixtures/fs070-bad-design");
    let project = std::fs::read(fixture.join("flagstone.toml")).unwrap();
    let flag = std::fs::read(fixture.join("flags/f.toml")).unwrap();
    let experiment = "flag = \"f\"\ncontrol = \"control\"\nhypothesis = \"h\"\nowners = [\"alice\"]\nstart = 2026-12-01\nenvironments = [\"production\"]\nmde = nan\nbogus = 1\ndaily_units = inf\nlayer = \"checkout\"\n\n[primary]\nname = \"converted\"\nkind = \"binomial\"\nbaseline = 0.3\n\n[[secondary]]\nname = \"converted\"\nkind = \"ratio\"\ncovariate = \"x\"\n";
    let dir = crate::support::repo(&[
        ("flagstone.toml", &project),
        ("flags/f.toml", &flag),
        ("experiments/button.toml", experiment.as_bytes()),
    ]);
    assert_eq!(
        crate::support::findings(dir.path()),
        [
            "FS013 experiments/button.toml:7:7",
            "FS070 experiments/button.toml:7:7",
            "FS010 experiments/button.toml:8:1",
            "FS013 experiments/button.toml:9:15",
            "FS068 experiments/button.toml:10:9",
            "FS048 experiments/button.toml:18:8",
            "FS069 experiments/button.toml:19:8",
            "FS069 experiments/button.toml:19:8",
            "FS069 experiments/button.toml:20:13",
        ]
    );
}
