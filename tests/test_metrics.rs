//! Metric definitions (`[metrics.<name>]` of flagstone.toml): their checks, how experiments
//! refer to them, and the design that takes kinds and ratio parts from them.

use flagstone::analyze::Estimator;
use flagstone::experiment::{DesignError, design};
use flagstone::model::window_minutes;

use crate::support::{findings, repo};

const FLAG: &[u8] = br#"description = "Experiment: f"
owners = ["alice"]
kind = "experiment"
expires = 2027-06-01
off_variant = "control"

[variants]
control = "a"
treatment = "b"

[env.staging]
serve = "control"

[env.production]
serve = "control"

[[env.production.rules]]
name = "everyone"
split = { control = 50, treatment = 50 }
"#;

const HEAD: &str = r#"name = "shop"
environments = ["staging", "production"]
"#;

/// An experiment on flags/f.toml whose metrics are `metrics` (TOML tables).
fn experiment(metrics: &str) -> String {
    format!(
        "flag = \"f\"\ncontrol = \"control\"\nhypothesis = \"h\"\nowners = [\"alice\"]\n\
         start = 2026-12-01\nenvironments = [\"production\"]\nmde = 0.05\ndaily_units = 50000\n\n{metrics}"
    )
}

/// Every finding of a repository with this project file and one experiment, as
/// `CODE file:line:column`.
fn check(project: &str, experiment_file: &str) -> Vec<String> {
    let dir = repo(&[
        ("flagstone.toml", project.as_bytes()),
        ("flags/f.toml", FLAG),
        ("experiments/e.toml", experiment_file.as_bytes()),
    ]);
    findings(dir.path())
}

/// The messages and help of every finding.
fn messages(project: &str, experiment_file: &str) -> Vec<String> {
    let dir = repo(&[
        ("flagstone.toml", project.as_bytes()),
        ("flags/f.toml", FLAG),
        ("experiments/e.toml", experiment_file.as_bytes()),
    ]);
    let repo = flagstone::load::load(dir.path()).unwrap();
    flagstone::check::check(&repo, &crate::support::options())
        .diagnostics
        .iter()
        .map(|d| {
            format!(
                "{} {} ({})",
                d.code.as_str(),
                d.message,
                d.help.as_deref().unwrap_or("")
            )
        })
        .collect()
}

const DEFINED: &str = r#"
[metrics.converted]
description = "Completed checkout within a week"
event = "checkout_completed"
aggregation = "converted"
window = "7d"

[metrics.revenue]
description = "Order value over two weeks"
event = "order_completed"
aggregation = "sum"
property = "amount"
window = "14d"
covariate = { window = "28d" }

[metrics.orders]
description = "Orders over two weeks"
event = "order_completed"
aggregation = "count"
window = "14d"

[metrics.order_value]
description = "Revenue per order"
aggregation = "ratio"
numerator = "revenue"
denominator = "orders"

[metrics.refunds]
description = "Refunds within 30 days"
event = "refund_requested"
aggregation = "count"
window = "30d"
direction = "lower"
"#;

#[test]
fn windows_are_whole_days_hours_or_minutes() {
    assert_eq!(window_minutes("7d"), Some(7 * 24 * 60));
    assert_eq!(window_minutes("24h"), Some(24 * 60));
    assert_eq!(window_minutes("30m"), Some(30));
    assert_eq!(window_minutes("007d"), Some(7 * 24 * 60));
    for bad in [
        "",
        "d",
        "7",
        "0d",
        "7w",
        "1 week",
        " 7d",
        "7d ",
        "-1d",
        "+7d",
        "1.5h",
        "７d",
        "7D",
        "7dd",
        "99999999999999999999d",
        "18446744073709551615d",
    ] {
        assert_eq!(window_minutes(bad), None, "{bad:?}");
    }
}

#[test]
fn a_valid_set_of_definitions_and_an_experiment_naming_them_check_clean() {
    let metrics = r#"[primary]
name = "converted"
baseline = 0.3

[[secondary]]
name = "order_value"

[[secondary]]
name = "revenue"
kind = "mean"

[[guardrails]]
name = "refunds"
direction = "lower"
max_regression = 0.02
"#;
    let project = format!("{HEAD}{DEFINED}");
    assert_eq!(check(&project, &experiment(metrics)), Vec::<String>::new());
}

#[test]
fn bad_definitions_are_located() {
    let project = format!(
        r#"{HEAD}
[metrics.a]
description = "No event, no window"
aggregation = "count"

[metrics.b]
description = "A sum without property, a count with one"
event = "e"
aggregation = "sum"
window = "7 days"
covariate = {{ window = "0d" }}

[metrics.c]
description = "A count with a property and a numerator"
event = "e"
aggregation = "count"
property = "x"
numerator = "a"
window = "1h"

[metrics.r]
description = "A ratio with its own event and window, of an unknown metric to a ratio"
aggregation = "ratio"
event = "e"
window = "7d"
numerator = "aa"
denominator = "s"
covariate = {{ window = "7d" }}

[metrics.s]
description = "A ratio of a metric to itself, without a numerator"
aggregation = "ratio"
denominator = "a"

[metrics.t]
description = "A ratio of a metric to itself"
aggregation = "ratio"
numerator = "a"
denominator = "a"
"#
    );
    let experiment_file = experiment("[primary]\nname = \"a\"\nbaseline = 1\nstddev = 1\n");
    assert_eq!(
        check(&project, &experiment_file),
        [
            "FS080 flagstone.toml:4:10",  // a: no event
            "FS080 flagstone.toml:4:10",  // a: no window
            "FS080 flagstone.toml:8:10",  // b: no property
            "FS080 flagstone.toml:12:10", // b: "7 days"
            "FS080 flagstone.toml:13:24", // b: "0d"
            "FS080 flagstone.toml:19:12", // c: property
            "FS080 flagstone.toml:20:13", // c: numerator
            "FS080 flagstone.toml:26:9",  // r: event
            "FS080 flagstone.toml:27:10", // r: window
            "FS081 flagstone.toml:28:13", // r: numerator `aa`
            "FS080 flagstone.toml:29:15", // r: denominator is a ratio
            "FS080 flagstone.toml:30:13", // r: covariate
            "FS080 flagstone.toml:32:10", // s: no numerator
            "FS080 flagstone.toml:41:15", // t: a / a
        ]
    );
    let messages = messages(&project, &experiment_file);
    for expected in [
        "FS080 metric `a` (count) has no `event` (add `event`: the event whose occurrences it aggregates)",
        "FS080 `7 days` is not a duration (a whole number of days, hours or minutes after first exposure, e.g. \"7d\", \"24h\", \"30m\")",
        "FS080 metric `b` (sum) has no `property` (add `property`: the event's numeric property whose sum it takes)",
        "FS081 unknown metric `aa` (did you mean `a`? (metrics are defined in [metrics]))",
        "FS080 the denominator of ratio metric `r` is the ratio `s` (a ratio divides two per-unit totals: name converted, count or sum metrics (a mean is itself a ratio))",
        "FS080 ratio metric `t` divides `a` by itself (a ratio of a metric to itself is always 1)",
    ] {
        assert!(messages.contains(&expected.to_owned()), "{messages:#?}");
    }
}

#[test]
fn unknown_keys_of_a_definition_are_schema_errors() {
    let project = format!(
        "{HEAD}\n[metrics.m]\ndescription = \"d\"\nevent = \"e\"\naggregation = \"converted\"\nwindow = \"7d\"\nfilter = \"x\"\n"
    );
    let experiment_file = experiment("[primary]\nname = \"m\"\nbaseline = 0.3\n");
    assert_eq!(
        check(&project, &experiment_file),
        ["FS010 flagstone.toml:9:1"]
    );
}

#[test]
fn experiments_name_defined_metrics_and_agree_with_them() {
    let project = format!("{HEAD}{DEFINED}");
    let metrics = r#"[primary]
name = "convertd"
baseline = 0.3

[[secondary]]
name = "order_value"
kind = "ratio"
numerator = "revenue"
denominator = "refunds"

[[secondary]]
name = "orders"
kind = "binomial"

[[guardrails]]
name = "refunds"
direction = "higher"
max_regression = 0.02
"#;
    let experiment_file = experiment(metrics);
    assert_eq!(
        check(&project, &experiment_file),
        [
            "FS081 experiments/e.toml:11:8",
            "FS082 experiments/e.toml:18:15",
            "FS082 experiments/e.toml:22:8",
            "FS082 experiments/e.toml:26:13",
        ]
    );
    assert_eq!(
        messages(&project, &experiment_file),
        [
            "FS081 unknown metric `convertd` (did you mean `converted`? (metrics are defined in flagstone.toml [metrics]))",
            "FS082 the denominator of metric `order_value` is `refunds`, but its definition's is `orders` (write `denominator = \"orders\"`, or leave it out: the definition supplies it)",
            "FS082 metric `orders` is declared `binomial`, but its definition's aggregation `count` makes it `mean` (write `kind = \"mean\"`, or leave `kind` out: the definition supplies it)",
            "FS082 metric `refunds` is better higher here, but lower by its definition (leave `direction` out: the definition supplies it)",
        ]
    );
}

#[test]
fn a_project_without_definitions_keeps_inline_metrics() {
    let inline = "[primary]\nname = \"anything\"\nkind = \"binomial\"\nbaseline = 0.3\n\n\
                  [[secondary]]\nname = \"per_session\"\nkind = \"ratio\"\nnumerator = \"q\"\ndenominator = \"s\"\n";
    assert_eq!(check(HEAD, &experiment(inline)), Vec::<String>::new());
    let kindless = "[primary]\nname = \"anything\"\nbaseline = 0.3\n";
    assert_eq!(
        messages(HEAD, &experiment(kindless)),
        [
            "FS069 metric `anything` has no `kind` (add `kind = \"binomial\"`, \"mean\" or \"ratio\", or define the metric in flagstone.toml [metrics])"
        ]
    );
}

#[test]
fn the_design_takes_kinds_ratio_parts_and_directions_from_definitions() {
    let project = format!("{HEAD}{DEFINED}");
    let metrics = "[primary]\nname = \"order_value\"\nbaseline = 42\nstddev = 30\n\n\
                   [[guardrails]]\nname = \"refunds\"\nmax_regression = 0.02\n";
    let dir = repo(&[
        ("flagstone.toml", project.as_bytes()),
        ("flags/f.toml", FLAG),
        ("experiments/e.toml", experiment(metrics).as_bytes()),
    ]);
    assert_eq!(findings(dir.path()), Vec::<String>::new());
    let repo = flagstone::load::load(dir.path()).unwrap();
    let d = design(&repo, "e", None).unwrap();
    assert_eq!(
        d.metrics[0].kind,
        Estimator::Ratio {
            numerator: "revenue".into(),
            denominator: "orders".into()
        }
    );
    assert_eq!(d.metrics[1].kind, Estimator::Mean);
    assert!(d.metrics[1].inverse);
    // The plan reads the ratio's baseline as a mean with its standard deviation.
    assert!(d.plan().is_ok());
}

#[test]
fn the_design_of_a_metric_without_kind_or_definition_is_an_error() {
    let dir = repo(&[
        ("flagstone.toml", HEAD.as_bytes()),
        ("flags/f.toml", FLAG),
        (
            "experiments/e.toml",
            experiment("[primary]\nname = \"m\"\nbaseline = 0.3\n").as_bytes(),
        ),
    ]);
    let repo = flagstone::load::load(dir.path()).unwrap();
    let err = design(&repo, "e", None).unwrap_err();
    assert_eq!(err, DesignError::MetricKind { metric: "m".into() });
    assert_eq!(
        err.to_string(),
        "metric `m` has no `kind` and no definition in flagstone.toml [metrics]; run `flagstone check`"
    );
}

/// A `mean` is the mean per event: the ratio of its property's sum to its events, since a
/// unit without events has no mean. A defined covariate is `<name>.pre`.
#[test]
fn a_mean_is_a_ratio_to_its_events_and_a_defined_covariate_is_named_pre() {
    let project = format!(
        "{HEAD}{DEFINED}\n[metrics.basket]\ndescription = \"Mean basket\"\nevent = \"order_completed\"\n\
         aggregation = \"mean\"\nproperty = \"amount\"\nwindow = \"14d\"\n"
    );
    let metrics = "[primary]\nname = \"basket\"\nbaseline = 42\nstddev = 30\n\n\
                   [[secondary]]\nname = \"revenue\"\n";
    let dir = repo(&[
        ("flagstone.toml", project.as_bytes()),
        ("flags/f.toml", FLAG),
        ("experiments/e.toml", experiment(metrics).as_bytes()),
    ]);
    assert_eq!(findings(dir.path()), Vec::<String>::new());
    let repo = flagstone::load::load(dir.path()).unwrap();
    let d = design(&repo, "e", None).unwrap();
    assert_eq!(
        d.metrics[0].kind,
        Estimator::Ratio {
            numerator: "basket".into(),
            denominator: "basket.events".into()
        }
    );
    assert_eq!(d.metrics[1].covariate.as_deref(), Some("revenue.pre"));
}

#[test]
fn a_mean_has_no_covariate_and_is_no_ratio_part() {
    let project = format!(
        "{HEAD}{DEFINED}\n[metrics.basket]\ndescription = \"Mean basket\"\nevent = \"order_completed\"\n\
         aggregation = \"mean\"\nproperty = \"amount\"\nwindow = \"14d\"\ncovariate = {{ window = \"7d\" }}\n\n\
         [metrics.per_basket]\ndescription = \"Refunds per basket\"\naggregation = \"ratio\"\n\
         numerator = \"refunds\"\ndenominator = \"basket\"\n"
    );
    let messages = messages(
        &project,
        &experiment("[primary]\nname = \"converted\"\nbaseline = 0.3\n"),
    );
    for expected in [
        "FS080 mean metric `basket` cannot have a covariate (CUPED applies to converted, count and sum metrics (a mean is analysed as the ratio of its sum to its events))",
        "FS080 the denominator of ratio metric `per_basket` is the mean `basket` (a ratio divides two per-unit totals: name converted, count or sum metrics (a mean is itself a ratio))",
    ] {
        assert!(messages.contains(&expected.to_owned()), "{messages:#?}");
    }
}
