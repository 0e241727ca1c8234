//! `flagstone analyze`: summary CSV parsing, every bad-input message, the results in every
//! format byte for byte, the decision, and the plot.

use flagstone::analyze::{self, Request};
use flagstone::cli::render;

use crate::support::{assert_file, repo, root, run};

fn snapshot(name: &str, text: &str) {
    assert_file(&root().join("tests/snapshots/analyze").join(name), text);
}

fn request(metrics: &[&str]) -> Request {
    Request::new(analyze::parse_metrics(metrics).unwrap())
}

/// The error message for `csv` analysed with `metrics`.
fn error_with(csv: &str, request: &Request) -> String {
    analyze::analyze_csv(csv.as_bytes(), "summary.csv", request)
        .unwrap_err()
        .to_string()
}

fn error(csv: &str, metrics: &[&str]) -> String {
    error_with(csv, &request(metrics))
}

const HEADER: &str = "variation,users,converted__sum,revenue__sum,revenue__sum_squares\n";

fn csv(rows: &[&str]) -> String {
    let mut text = HEADER.to_owned();
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

const CONTROL: &str = "control,1000,100,5000,90000";
const TREATMENT: &str = "treatment,1010,120,5600,99000";

#[test]
fn a_missing_column_names_the_metric_that_needs_it() {
    assert_eq!(
        error(&csv(&[CONTROL, TREATMENT]), &["orders=mean"]),
        "summary.csv: row 1: no column `orders__sum`; the mean metric `orders` needs `orders__sum` and `orders__sum_squares`"
    );
    let text = "variation,users,revenue__sum\ncontrol,10,5\ntreatment,10,6\n";
    assert_eq!(
        error(text, &["revenue=mean"]),
        "summary.csv: row 1: no column `revenue__sum_squares`; the mean metric `revenue` needs `revenue__sum` and `revenue__sum_squares`"
    );
    assert_eq!(
        error(&csv(&[CONTROL, TREATMENT]), &["aov=revenue/orders"]),
        "summary.csv: row 1: no column `orders__sum`; the ratio metric `aov` (revenue/orders) needs `orders__sum` and `orders__sum_squares`"
    );
    let text =
        "variation,users,a__sum,a__sum_squares,b__sum,b__sum_squares\nc,10,5,5,5,5\nt,10,5,5,5,5\n";
    assert_eq!(
        error(text, &["r=a/b"]),
        "summary.csv: row 1: no column `a__x__b__sum_product`; the ratio metric `r` needs Σ a·b per variant (`a__x__b__sum_product`, or `b__x__a__sum_product`)"
    );
    assert_eq!(
        error("users\n10\n", &["converted=binomial"]),
        "summary.csv: row 1: no `variation` column; expected a header row with `variation`, `users` and each metric's columns"
    );
    assert_eq!(
        error("variation\nc\n", &["converted=binomial"]),
        "summary.csv: row 1: no `users` column; expected a header row with `variation`, `users` and each metric's columns"
    );
}

#[test]
fn a_covariate_without_its_sums_is_an_error() {
    assert_eq!(
        error(&csv(&[CONTROL, TREATMENT]), &["revenue=mean,covariate=pre"]),
        "summary.csv: row 1: no column `pre__sum`; the covariate `pre` of metric `revenue` needs `pre__sum` and `pre__sum_squares`"
    );
    let text = "variation,users,post__sum,post__sum_squares,pre__sum,pre__sum_squares\nc,10,5,5,5,5\nt,10,5,5,5,5\n";
    assert_eq!(
        error(text, &["post=mean,covariate=pre"]),
        "summary.csv: row 1: no column `post__x__pre__sum_product`; the covariate `pre` of metric `post` needs Σ post·pre per variant (`post__x__pre__sum_product`, or `pre__x__post__sum_product`)"
    );
}

#[test]
fn non_numeric_cells_are_located() {
    let cases = [
        ("abc", "\"abc\" is not a number"),
        ("nan", "\"nan\" is not a finite number"),
        ("NaN", "\"NaN\" is not a finite number"),
        ("inf", "\"inf\" is not a finite number"),
        ("-infinity", "\"-infinity\" is not a finite number"),
        ("1e400", "\"1e400\" is not a finite number"),
        ("", "the cell is empty; expected a number"),
        ("1,5", "6 cells, but the header has 5"),
    ];
    for (value, message) in cases {
        let text = csv(&[CONTROL, &format!("treatment,1010,120,5600,{value}")]);
        let column = if value == "1,5" {
            String::new()
        } else {
            ", column `revenue__sum_squares`".to_owned()
        };
        assert_eq!(
            error(&text, &["converted=binomial", "revenue=mean"]),
            format!("summary.csv: row 3{column}: {message}"),
            "{value}"
        );
    }
}

#[test]
fn users_must_be_whole_positive_numbers() {
    for (users, message) in [
        ("-5", "\"-5\" is not a whole number of users"),
        ("12.5", "\"12.5\" is not a whole number of users"),
        ("many", "\"many\" is not a whole number of users"),
        ("", "the cell is not a whole number of users"),
        ("1e30", "\"1e30\" is not a whole number of users"),
        (
            "0",
            "variant \"treatment\" has 0 users; every variant needs units to compare",
        ),
    ] {
        let text = csv(&[CONTROL, &format!("treatment,{users},120,5600,99000")]);
        assert_eq!(
            error(&text, &["converted=binomial"]),
            format!("summary.csv: row 3, column `users`: {message}"),
            "{users}"
        );
    }
    // A whole number written as a float, as warehouses export it, is a count.
    let text = csv(&[
        "control,1000.0,100,5000,90000",
        "treatment,1010,120,5600,99000",
    ]);
    let table = analyze::SummaryTable::parse(text.as_bytes(), "summary.csv").unwrap();
    assert_eq!(table.rows()[0].users, 1000);
}

#[test]
fn sums_that_no_data_could_have_are_errors() {
    let text = csv(&[CONTROL, "treatment,1010,120,5600,20000"]);
    assert_eq!(
        error(&text, &["revenue=mean"]),
        "summary.csv: row 3, columns `revenue__sum`, `revenue__sum_squares`: Σx² = 20000 is less than (Σx)²/users = 31049.50495049505; no data has these sums (a negative variance)"
    );
    let text = csv(&[CONTROL, "treatment,1010,1011,5600,99000"]);
    assert_eq!(
        error(&text, &["converted=binomial"]),
        "summary.csv: row 3, column `converted__sum`: 1011 conversions out of 1010 users; a binomial sum counts the units that converted"
    );
    let text = csv(&[CONTROL, "treatment,1010,-1,5600,99000"]);
    assert_eq!(
        error(&text, &["converted=binomial"]),
        "summary.csv: row 3, column `converted__sum`: -1 conversions out of 1010 users; a binomial sum counts the units that converted"
    );
    let text = "variation,users,a__sum,a__sum_squares,b__sum,b__sum_squares,b__x__a__sum_product\nc,10,5,5,5,5,5\nt,10,5,5,5,5,9\n";
    assert_eq!(
        error(text, &["r=a/b"]),
        "summary.csv: row 3, column `b__x__a__sum_product`: Σ product = 9 is inconsistent with the two components' sums (their covariance would exceed the product of their standard deviations)"
    );
}

#[test]
fn duplicate_unknown_and_missing_variants() {
    let text = csv(&[CONTROL, TREATMENT, "other,1000,100,5000,90000", TREATMENT]);
    assert_eq!(
        error(&text, &["converted=binomial"]),
        "summary.csv, column `variation`: variant \"treatment\" appears twice, in rows 3 and 5"
    );
    let known = Request {
        known_variants: Some(vec!["control".into(), "treatment".into(), "b".into()]),
        ..request(&["converted=binomial"])
    };
    let text = csv(&[CONTROL, TREATMENT, "tretment,1000,100,5000,90000"]);
    assert_eq!(
        error_with(&text, &known),
        "summary.csv: row 4, column `variation`: unknown variant \"tretment\"; the flag's variants are \"control\", \"treatment\" and \"b\""
    );
    let text = csv(&[CONTROL, TREATMENT]);
    assert_eq!(
        error_with(&text, &known),
        "summary.csv: no row for variant \"b\"; the flag's variants are \"control\", \"treatment\" and \"b\""
    );
    let text = csv(&[CONTROL]);
    assert_eq!(
        error(&text, &["converted=binomial"]),
        "summary.csv: only one variant (\"control\"); a comparison needs control and at least one more"
    );
    let named = Request {
        control: Some("baseline".into()),
        ..request(&["converted=binomial"])
    };
    assert_eq!(
        error_with(&csv(&[CONTROL, TREATMENT]), &named),
        "summary.csv: no row for the control \"baseline\"; the summary's variants are \"control\" and \"treatment\""
    );
    let text = csv(&[CONTROL, ",1000,100,5000,90000"]);
    assert_eq!(
        error(&text, &["converted=binomial"]),
        "summary.csv: row 3, column `variation`: empty variant name"
    );
}

#[test]
fn empty_files_and_headers_alone() {
    assert_eq!(
        error("", &["converted=binomial"]),
        "summary.csv: empty file; expected a header row with `variation`, `users` and each metric's columns"
    );
    assert_eq!(
        error(HEADER, &["converted=binomial"]),
        "summary.csv: no rows after the header; expected one row per variant"
    );
    assert_eq!(
        error("variation,users,users\n", &["converted=binomial"]),
        "summary.csv: row 1, column `users`: the header names this column twice (columns 2 and 3)"
    );
    let bytes = b"variation,users\nc\xff,1\nt,1\n";
    assert_eq!(
        analyze::analyze_csv(bytes, "summary.csv", &request(&["c=binomial"]))
            .unwrap_err()
            .to_string(),
        "summary.csv: row 2: not valid UTF-8"
    );
}

#[test]
fn a_bom_and_crlf_line_ends_are_accepted() {
    let text = format!(
        "\u{feff}{}",
        csv(&[CONTROL, TREATMENT]).replace('\n', "\r\n")
    );
    let table = analyze::SummaryTable::parse(text.as_bytes(), "summary.csv").unwrap();
    let rows: Vec<(u64, &str, u64)> = table
        .rows()
        .iter()
        .map(|r| (r.line, r.variation.as_str(), r.users))
        .collect();
    assert_eq!(rows, [(2, "control", 1000), (3, "treatment", 1010)]);
    assert!(table.has_column("variation"));
}

#[test]
fn bad_weights_and_settings_are_errors() {
    let text = "variation,users,weight,c__sum\nc,10,0,1\nt,10,1,1\n";
    assert_eq!(
        error(text, &["c=binomial"]),
        "summary.csv: row 2, column `weight`: weight \"0\" is not positive; a weight is the variant's intended share of traffic"
    );
    let text = "variation,users,weight,c__sum\nc,10,x,1\nt,10,1,1\n";
    assert_eq!(
        error(text, &["c=binomial"]),
        "summary.csv: row 2, column `weight`: \"x\" is not a number"
    );
    let weighted = Request {
        weights: Some(vec![("control".into(), 1.0)]),
        ..request(&["converted=binomial"])
    };
    assert_eq!(
        error_with(&csv(&[CONTROL, TREATMENT]), &weighted),
        "summary.csv: no positive intended weight for variant \"treatment\" (and no `weight` column)"
    );
    let mut bad = request(&["converted=binomial"]);
    bad.settings.alpha = f64::NAN;
    assert_eq!(
        error_with(&csv(&[CONTROL, TREATMENT]), &bad),
        "summary.csv: alpha NaN is not between 0 and 1"
    );
    assert_eq!(
        error(&csv(&[CONTROL, TREATMENT]), &["g=binomial,guardrail=0.1"]),
        "summary.csv: no primary metric: the decision needs one"
    );
    assert_eq!(
        error(
            &csv(&[CONTROL, TREATMENT]),
            &["converted=binomial", "converted=mean"]
        ),
        "summary.csv: metric `converted` is named twice"
    );
}

#[test]
fn command_line_errors_exit_with_status_2() {
    let dir = repo(&[("s.csv", csv(&[CONTROL, "treatment,-3,1,1,1"]).as_bytes())]);
    let (code, stdout, stderr) = run(
        &[
            "analyze",
            "--summary",
            "s.csv",
            "--metric",
            "converted=binomial",
        ],
        dir.path(),
    );
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            2,
            "",
            "error: s.csv: row 3, column `users`: \"-3\" is not a whole number of users\n"
        )
    );
    let (code, _, stderr) = run(
        &["analyze", "--summary", "s.csv", "--metric", "converted"],
        dir.path(),
    );
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: --metric `converted`: expected NAME=KIND, with KIND binomial, mean or NUMERATOR/DENOMINATOR\n"
        )
    );
    // The library says what is wrong; the command line adds which option fixes it.
    let (code, _, stderr) = run(
        &[
            "analyze",
            "--summary",
            "s.csv",
            "--metric",
            "g=binomial,guardrail=0.1",
        ],
        dir.path(),
    );
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: no primary metric: the decision needs one\nhelp: the first --metric that is not a guardrail is the primary\n"
        )
    );
    let (code, _, stderr) = run(
        &[
            "analyze",
            "--summary",
            "missing.csv",
            "--metric",
            "c=binomial",
        ],
        dir.path(),
    );
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: cannot read missing.csv: No such file or directory (os error 2)\n"
        )
    );
    for (option, value, message) in [
        ("--alpha", "1.5", "alpha 1.5 is not between 0 and 1"),
        ("--alpha", "nan", "alpha NaN is not between 0 and 1"),
        (
            "--prior-stddev",
            "0",
            "the prior's standard deviation 0 is not a positive number",
        ),
        (
            "--sequential-tuning",
            "-5",
            "the sequential tuning -5 is not a positive number of units",
        ),
        (
            "--mde",
            "inf",
            "the minimum detectable effect inf is not a positive relative lift",
        ),
    ] {
        let (code, stdout, stderr) = run(
            &[
                "analyze",
                "--summary",
                "s.csv",
                "--metric",
                "c=binomial",
                option,
                value,
            ],
            dir.path(),
        );
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (2, "", format!("error: {message}\n").as_str()),
            "{option} {value}"
        );
    }
    let (code, _, stderr) = run(&["analyze", "--summary", "s.csv"], dir.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("--metric <SPEC>"), "{stderr}");
    let (code, _, stderr) = run(
        &[
            "analyze",
            "--summary",
            "s.csv",
            "--metric",
            "c=binomial",
            "--alpha",
            "x",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid value 'x' for '--alpha <ALPHA>'"),
        "{stderr}"
    );
}

// End to end, with the statistics.

const CHECKOUT_METRICS: [&str; 4] = [
    "converted=binomial",
    "revenue=mean,covariate=pre_revenue",
    "aov=revenue/orders",
    "page_load_ms=mean,inverse,guardrail=0.02",
];

fn checkout_args(format: &str) -> Vec<&str> {
    let mut args = vec!["analyze", "--summary", "tests/analyze/checkout.csv"];
    for metric in CHECKOUT_METRICS {
        args.extend(["--metric", metric]);
    }
    args.extend(["--format", format]);
    args
}

#[test]
fn the_checkout_example_in_every_format() {
    for (format, file) in [
        ("human", "checkout.human.txt"),
        ("json", "checkout.json"),
        ("markdown", "checkout.md"),
    ] {
        let (code, stdout, stderr) = run(&checkout_args(format), &root());
        assert_eq!((code, stderr.as_str()), (0, ""), "{format}");
        snapshot(file, &stdout);
    }
}

/// Checks that `xml` is well formed (balanced tags, quoted attributes, only XML's five
/// entities) and returns its element names in document order.
fn elements(xml: &str) -> Vec<String> {
    let text = |t: &str| {
        let mut pieces = t.split('&').skip(1);
        assert!(
            pieces.all(|p| ["amp;", "lt;", "gt;", "quot;", "apos;"]
                .iter()
                .any(|e| p.starts_with(e))),
            "bare & in {t:?}"
        );
        assert!(!t.contains('>'), "bare > in {t:?}");
    };
    let mut open: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        text(&rest[..start]);
        let end = rest[start..].find('>').expect("closed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name));
            continue;
        }
        let closed = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
        let mut attributes = attributes.trim();
        while !attributes.is_empty() {
            let (_, value) = attributes.split_once("=\"").expect("quoted attribute");
            let (value, after) = value.split_once('"').expect("terminated attribute");
            text(value);
            attributes = after.trim_start();
        }
        names.push(name.to_owned());
        if !closed {
            open.push(name.to_owned());
        }
    }
    text(rest);
    assert!(open.is_empty(), "unclosed {open:?}");
    names
}

#[test]
fn the_plot_is_a_well_formed_deterministic_svg() {
    let dir = crate::support::tempdir();
    let plot = dir.path().join("lift.svg");
    let mut args = checkout_args("json");
    let path = plot.to_str().unwrap();
    args.extend(["--plot", path]);
    let (code, _, stderr) = run(&args, &root());
    assert_eq!((code, stderr.as_str()), (0, ""));
    let svg = std::fs::read_to_string(&plot).unwrap();
    let names = elements(&svg);
    let count = |name: &str| names.iter().filter(|n| *n == name).count();
    assert_eq!(names[0], "svg");
    // Four panels of two variants, each with three intervals and a point, plus the legend.
    assert_eq!(count("g"), 4);
    assert_eq!(count("circle"), 8 + 1);
    assert_eq!(svg.matches(r#"class="zero""#).count(), 4);
    assert_eq!(svg.matches(r#"class="axis""#).count(), 4);
    assert_eq!(svg.matches(r#"class="tolerance""#).count(), 1);
    assert_eq!(svg.matches("stroke-width=\"3\"").count(), 8 * 3 + 3);
    assert!(svg.contains(">one-page</text>") && svg.contains(">express</text>"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left");
    snapshot("checkout.svg", &svg);
}

fn report(text: &str, request: &Request) -> serde_json::Value {
    analyze::analyze_csv(text.as_bytes(), "s.csv", request)
        .map(|r| serde_json::to_value(render::json::analyze(&r)).unwrap())
        .unwrap()
}

#[test]
fn zero_variance_is_one_unavailable_result_and_the_rest_runs() {
    let text = "variation,users,signup__sum,clicks__sum,clicks__sum_squares\ncontrol,1000,0,500,800\ntreatment,1000,12,560,900\n";
    let json = report(text, &request(&["clicks=mean", "signup=binomial"]));
    let signup = &json["metrics"][1]["results"][0];
    for method in ["bayesian", "frequentist", "sequential"] {
        assert_eq!(
            signup[method]["absolute"]["unavailable"],
            "zero variance: `signup` of \"control\" (row 2, column `signup__sum`) has no spread to compare (every unit has the same value, or the sums are beyond floating-point range)",
            "{method}"
        );
    }
    let clicks = &json["metrics"][0]["results"][0];
    assert!(clicks["frequentist"]["relative"]["p_value"].is_f64());
    assert!(clicks["bayesian"]["relative"]["chance_to_win"].is_f64());
}

#[test]
fn a_zero_control_mean_keeps_the_absolute_result() {
    // Refunds and purchases cancel out in control: its mean is zero, its variance is not.
    let text = "variation,users,net__sum,net__sum_squares\ncontrol,1000,0,25000\ntreatment,1000,300,26000\n";
    let json = report(text, &request(&["net=mean"]));
    let result = &json["metrics"][0]["results"][0];
    for method in ["bayesian", "frequentist", "sequential"] {
        assert_eq!(
            result[method]["relative"],
            serde_json::json!({"unavailable": "the control mean of `net` is zero (row 2, column `net__sum`), so a relative lift is undefined; see the absolute difference"}),
            "{method}"
        );
        assert!(result[method]["absolute"]["expected"].is_f64(), "{method}");
    }
    assert_eq!(json["decision"]["verdict"], "keep_running");
    assert_eq!(json["decision"]["more_units"], serde_json::Value::Null);
    // A prior on the relative lift has no scale for the absolute difference either.
    let mut prior = request(&["net=mean"]);
    prior.settings.prior_stddev = Some(0.1);
    let json = report(text, &prior);
    let result = &json["metrics"][0]["results"][0];
    assert_eq!(
        result["bayesian"]["absolute"],
        serde_json::json!({"unavailable": "the control mean of `net` is zero (row 2, column `net__sum`), so the prior on the relative lift cannot be scaled to the absolute difference (a flat prior can)"})
    );
    assert!(result["frequentist"]["absolute"]["p_value"].is_f64());
}

const SRM_CSV: &str = "variation,users,converted__sum\ncontrol,10000,1000\ntreatment,9000,950\n";

#[test]
fn a_sample_ratio_mismatch_is_loud_in_every_format() {
    let dir = repo(&[("s.csv", SRM_CSV.as_bytes())]);
    let args = |format| {
        vec![
            "analyze",
            "--summary",
            "s.csv",
            "--metric",
            "converted=binomial",
            "--metric",
            "other=binomial",
            "--format",
            format,
        ]
    };
    let text = SRM_CSV.replace("converted__sum\n", "converted__sum,other__sum\n");
    let text = text
        .replace("1000\n", "1000,10\n")
        .replace("950\n", "950,9\n");
    std::fs::write(dir.path().join("s.csv"), text).unwrap();
    let (code, human, _) = run(&args("human"), dir.path());
    assert_eq!(code, 0);
    // Above the summary, each of the two metric tables, and the decision.
    assert_eq!(
        human
            .matches("!!! SAMPLE RATIO MISMATCH (p < 0.0001 < 0.001)")
            .count(),
        4
    );
    let (_, markdown, _) = run(&args("markdown"), dir.path());
    assert_eq!(markdown.matches("> [!CAUTION]").count(), 3);
    let (_, json, _) = run(&args("json"), dir.path());
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["srm"]["mismatch"], true);
    assert!(json["srm"]["p_value"].as_f64().unwrap() < 0.001);
    assert_eq!(json["decision"]["verdict"], "dont_ship");
}

#[test]
fn weights_set_the_intended_shares() {
    let text =
        "variation,users,weight,converted__sum\ncontrol,9000,90,900\ntreatment,1000,10,100\n";
    let json = report(text, &request(&["converted=binomial"]));
    assert_eq!(json["srm"]["mismatch"], false);
    assert_eq!(json["variants"][0]["expected_share"], 0.9);
    let unweighted = "variation,users,converted__sum\ncontrol,9000,900\ntreatment,1000,100\n";
    assert_eq!(
        report(unweighted, &request(&["converted=binomial"]))["srm"]["mismatch"],
        true
    );
    let weighted = Request {
        weights: Some(vec![("treatment".into(), 1.0), ("control".into(), 9.0)]),
        ..request(&["converted=binomial"])
    };
    assert_eq!(report(unweighted, &weighted)["srm"]["mismatch"], false);
}

#[test]
fn corrections_adjust_every_metric_and_variant() {
    let text = std::fs::read_to_string(root().join("tests/analyze/checkout.csv")).unwrap();
    for (correction, name) in [
        (flagstone::stats::Correction::Holm, "holm"),
        (flagstone::stats::Correction::BenjaminiHochberg, "bh"),
    ] {
        let request = Request {
            correction,
            ..request(&CHECKOUT_METRICS)
        };
        let json = report(&text, &request);
        assert_eq!(json["correction"], name);
        for lift in ["relative", "absolute"] {
            let tests: Vec<&serde_json::Value> = json["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|m| m["results"].as_array().unwrap())
                .map(|r| &r["frequentist"][lift])
                .collect();
            assert_eq!(tests.len(), 8);
            let raw: Vec<f64> = tests
                .iter()
                .map(|t| t["p_value"].as_f64().unwrap())
                .collect();
            let adjusted: Vec<f64> = tests
                .iter()
                .map(|t| t["adjusted_p_value"].as_f64().unwrap())
                .collect();
            assert_eq!(
                adjusted,
                flagstone::stats::adjust_p_values(&raw, correction)
            );
        }
    }
    let none = report(&text, &request(&CHECKOUT_METRICS));
    assert_eq!(
        none["metrics"][0]["results"][0]["frequentist"]["relative"].get("adjusted_p_value"),
        None
    );
}

#[test]
fn keep_running_says_for_about_how_many_more_units() {
    let text = "variation,users,converted__sum\ncontrol,2000,200\ntreatment,2000,220\n";
    let z = |p: f64| flagstone::stats::dist::normal_quantile(p);
    for mde in [None, Some(0.05)] {
        let request = Request {
            mde,
            ..request(&["converted=binomial"])
        };
        let json = report(text, &request);
        let relative = &json["metrics"][0]["results"][0]["frequentist"]["relative"];
        let ci: Vec<f64> = relative["ci"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let se = (ci[1] - ci[0]) / (2.0 * z(0.975));
        let effect = mde.unwrap_or(relative["expected"].as_f64().unwrap().abs());
        let needed = 2000.0 * ((z(0.975) + z(0.8)) * se / effect).powi(2);
        let more = (needed - 2000.0).ceil() as u64;
        assert_eq!(json["decision"]["verdict"], "keep_running", "{mde:?}");
        assert_eq!(json["decision"]["more_units"], more, "{mde:?}");
        assert_eq!(json["decision"]["variants"][0]["call"], "inconclusive");
    }
}

#[test]
fn dont_ship_when_every_variant_loses() {
    let text = "variation,users,converted__sum\ncontrol,10000,1200\nb,10000,1000\nc,10000,1010\n";
    let json = report(text, &request(&["converted=binomial"]));
    assert_eq!(json["decision"]["verdict"], "dont_ship");
    assert_eq!(
        json["decision"]["summary"],
        "Don't ship: no variant is better than control \"control\" on `converted` without failing a guardrail."
    );
    // Lower is better: the same numbers make both variants win; the larger drop ships.
    let json = report(text, &request(&["converted=binomial,inverse"]));
    assert_eq!(json["decision"]["verdict"], "ship");
    assert_eq!(json["decision"]["variant"], "b");
}

#[test]
fn control_can_be_any_row() {
    let text = "variation,users,converted__sum\nb,10000,1000\ncontrol,10000,1200\n";
    let named = Request {
        control: Some("control".into()),
        ..request(&["converted=binomial"])
    };
    let json = report(text, &named);
    assert_eq!(json["control"], "control");
    assert_eq!(json["variants"][0]["row"], 3);
    assert_eq!(json["metrics"][0]["results"][0]["variant"], "b");
    assert_eq!(json["decision"]["verdict"], "dont_ship");
}

/// Every statistic in the JSON is a finite number, whatever the input.
fn assert_numbers(value: &serde_json::Value, path: &str) {
    const NUMBERS: [&str; 9] = [
        "expected",
        "p_value",
        "adjusted_p_value",
        "chance_to_win",
        "ship",
        "keep",
        "mean",
        "stddev",
        "expected_share",
    ];
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let path = format!("{path}.{key}");
                if NUMBERS.contains(&key.as_str()) {
                    assert!(v.is_number(), "{path} = {v}");
                }
                if key == "ci" {
                    assert!(
                        v.as_array().unwrap().iter().all(|x| x.is_number()),
                        "{path}"
                    );
                }
                assert_numbers(v, &path);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                assert_numbers(v, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

mod no_input_panics {
    use proptest::prelude::*;

    use super::*;

    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u32..5000).prop_map(|n| n.to_string()),
            prop::sample::select(vec![
                "0",
                "-0",
                "1",
                "-1",
                "1e300",
                "-1e300",
                "1e-300",
                "0.5",
                "",
                "nan",
                "x",
                "1e20",
                "4.9e-324",
                "9007199254740993",
            ])
            .prop_map(str::to_owned),
            any::<f64>().prop_map(|x| x.to_string()),
        ]
    }

    /// A mean component's Σx and Σx² over n units: any mean, any variance (zero included),
    /// from tiny to huge.
    fn moments() -> impl Strategy<Value = (f64, f64)> {
        let scale = prop::sample::select(vec![0.0, 1e-200, 1e-6, 1.0, 1e6, 1e150]);
        (scale.clone(), -1.0..1.0f64, scale, 0.0..1.0f64)
            .prop_map(|(m, mu, v, var)| (m * mu, v * var))
    }

    proptest! {
        #![proptest_config(crate::support::proptest_config!("test_analyze", 256))]

        #[test]
        fn consistent_summaries_always_give_finite_results(
            arms in prop::collection::vec(
                (1u64..1_000_000, 0.0..=1.0f64, moments(), moments(), -1.0..=1.0f64),
                2..5,
            ),
        ) {
            let mut text = String::from(
                "variation,users,c__sum,m__sum,m__sum_squares,pre__sum,pre__sum_squares,m__x__pre__sum_product\n",
            );
            for (i, (n, rate, (mu, var), (mu_pre, var_pre), rho)) in arms.iter().enumerate() {
                let n = *n as f64;
                // Slightly inside Cauchy–Schwarz, so rounding cannot cross it.
                let covariance = 0.999 * rho * (var * var_pre).sqrt();
                text.push_str(&format!(
                    "v{i},{n},{},{:e},{:e},{:e},{:e},{:e}\n",
                    (n * rate).floor(),
                    n * mu,
                    n * (var + mu * mu),
                    n * mu_pre,
                    n * (var_pre + mu_pre * mu_pre),
                    n * (covariance + mu * mu_pre),
                ));
            }
            for metrics in [
                &["c=binomial", "m=mean,covariate=pre", "r=m/pre"][..],
                &["m=mean,inverse", "c=binomial,guardrail=0.01"][..],
            ] {
                let request = Request {
                    correction: flagstone::stats::Correction::Holm,
                    ..request(metrics)
                };
                match analyze::analyze_csv(text.as_bytes(), "s.csv", &request) {
                    Ok(report) => {
                        assert_numbers(&serde_json::to_value(render::json::analyze(&report)).unwrap(), "");
                        let svg = render::svg::analyze(&report);
                        prop_assert!(!svg.contains("NaN") && !svg.contains("inf"));
                    }
                    Err(e) => prop_assert!(false, "{e}\n{text}"),
                }
            }
        }
    }

    proptest! {
        #![proptest_config(crate::support::proptest_config!("test_analyze", 256))]

        #[test]
        fn any_summary_gives_a_located_error_or_finite_results(
            rows in prop::collection::vec(prop::collection::vec(cell(), 9), 1..4),
            weights in any::<bool>(),
        ) {
            let mut text = String::from(
                "variation,users,c__sum,m__sum,m__sum_squares,pre__sum,pre__sum_squares,m__x__pre__sum_product,weight\n",
            );
            for (i, row) in rows.iter().enumerate() {
                let weight = if weights { &row[8] } else { "1" };
                text.push_str(&format!("v{i},{},{weight}\n", row[1..8].join(",")));
            }
            for metrics in [
                &["c=binomial", "m=mean,covariate=pre", "r=m/pre"][..],
                &["m=mean,inverse", "c=binomial,guardrail=0.01"][..],
            ] {
                let request = Request {
                    correction: flagstone::stats::Correction::BenjaminiHochberg,
                    mde: Some(0.01),
                    ..request(metrics)
                };
                match analyze::analyze_csv(text.as_bytes(), "s.csv", &request) {
                    Ok(report) => {
                        assert_numbers(&serde_json::to_value(render::json::analyze(&report)).unwrap(), "");
                        let svg = render::svg::analyze(&report);
                        prop_assert!(!svg.contains("NaN") && !svg.contains("inf"));
                    }
                    Err(e) => prop_assert!(e.to_string().starts_with("s.csv")),
                }
            }
        }
    }
}

#[test]
fn with_a_correction_the_tables_show_the_adjusted_p_value() {
    let mut args = checkout_args("human");
    args.extend(["--correction", "holm"]);
    let (code, stdout, stderr) = run(&args, &root());
    assert_eq!((code, stderr.as_str()), (0, ""));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[1],
        "control \"control\"; alpha 0.05 (95% intervals); Holm correction"
    );
    let header = lines
        .iter()
        .position(|l| *l == "converted (binomial, primary)")
        .unwrap();
    assert_eq!(
        lines[header + 1],
        "  variant    users  control mean  variant mean  lift [95% CI]             p-value  adjusted p  sequential [95% CI]  sequential p  chance to win"
    );
    let text = std::fs::read_to_string(root().join("tests/analyze/checkout.csv")).unwrap();
    let request = Request {
        correction: flagstone::stats::Correction::Holm,
        ..request(&CHECKOUT_METRICS)
    };
    let json = report(&text, &request);
    let adjusted = json["metrics"][0]["results"][0]["frequentist"]["relative"]["adjusted_p_value"]
        .as_f64()
        .unwrap();
    let cells: Vec<&str> = lines[header + 2].split_whitespace().collect();
    assert_eq!(cells[0], "one-page");
    assert_eq!(cells[8], format!("{adjusted:.4}"));
    // One-page's raw p = 0.0457 does not survive the correction: the decision waits.
    assert_eq!(json["decision"]["verdict"], "keep_running");
}

const EXPERIMENT_SUMMARY: &str = "flags.example/results/onboarding-checklist.csv";

fn analyze_experiment(summary: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "analyze",
        "growth/onboarding-checklist",
        "--dir",
        "flags.example",
        "--summary",
        summary,
    ];
    args.extend_from_slice(extra);
    run(&args, &root())
}

#[test]
fn an_experiment_file_gives_the_metrics_control_split_alpha_and_mde() {
    let (code, stdout, stderr) = analyze_experiment(EXPERIMENT_SUMMARY, &[]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    snapshot("onboarding-checklist.human.txt", &stdout);

    let (code, stdout, _) = analyze_experiment(EXPERIMENT_SUMMARY, &["--format", "json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["control"], "control");
    assert_eq!(
        (report["alpha"].as_f64(), report["mde"].as_f64()),
        (Some(0.05), Some(0.05))
    );
    let shares: Vec<(&str, f64)> = report["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap(),
                v["expected_share"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shares,
        [("control", 0.5), ("checklist", 0.25), ("guided-tour", 0.25)]
    );
    let metrics: Vec<String> = report["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} {} {}/{} {} {} {}",
                m["name"],
                m["kind"],
                m["numerator"],
                m["denominator"],
                m["role"],
                m["max_regression"],
                m["covariate"]
            )
        })
        .collect();
    assert_eq!(
        metrics,
        [
            r#""activated_7d" "binomial" null/null "primary" null null"#,
            r#""dashboards_created_14d" "mean" null/null "secondary" null null"#,
            r#""queries" "mean" null/null "secondary" null "queries.pre""#,
            r#""queries_per_session" "ratio" "queries"/"sessions" "secondary" null null"#,
            r#""support_tickets_14d" "mean" null/null "guardrail" 0.02 null"#,
        ]
    );
    assert_eq!(report["decision"]["verdict"], "ship");
    assert_eq!(report["decision"]["variant"], "checklist");

    // Flags on the command line override the experiment's settings.
    let (code, stdout, _) =
        analyze_experiment(EXPERIMENT_SUMMARY, &["--format", "json", "--alpha", "0.01"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["alpha"].as_f64(), Some(0.01));
}

#[test]
fn a_summary_must_hold_exactly_the_variants_of_the_experiments_flag() {
    let dir = crate::support::tempdir();
    let original = std::fs::read_to_string(root().join(EXPERIMENT_SUMMARY)).unwrap();
    let renamed = dir.path().join("renamed.csv");
    std::fs::write(&renamed, original.replace("\nguided-tour,", "\ntour,")).unwrap();
    let (code, _, stderr) = analyze_experiment(renamed.to_str().unwrap(), &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: {}: row 4, column `variation`: unknown variant \"tour\"; the flag's variants are \"checklist\", \"control\" and \"guided-tour\"\n",
            renamed.display()
        )
    );
    let missing = dir.path().join("missing.csv");
    let first_rows: Vec<&str> = original.lines().take(3).collect();
    std::fs::write(&missing, first_rows.join("\n") + "\n").unwrap();
    let (code, _, stderr) = analyze_experiment(missing.to_str().unwrap(), &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: {}: no row for variant \"guided-tour\"; the flag's variants are \"checklist\", \"control\" and \"guided-tour\"\n",
            missing.display()
        )
    );
}

#[test]
fn an_unknown_experiment_or_environment_is_a_usage_error() {
    let (code, _, stderr) = run(
        &[
            "analyze",
            "growth/onboarding",
            "--dir",
            "flags.example",
            "--summary",
            EXPERIMENT_SUMMARY,
        ],
        &root(),
    );
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: unknown experiment `growth/onboarding`: did you mean `growth/onboarding-checklist`?\n"
        )
    );
    let (code, _, stderr) = analyze_experiment(EXPERIMENT_SUMMARY, &["--env", "staging"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: the experiment does not run in `staging`; it runs in production\n"
        )
    );
    let (code, _, stderr) = analyze_experiment(EXPERIMENT_SUMMARY, &["--metric", "x=mean"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "error: the argument '[EXPERIMENT]' cannot be used with '--metric <SPEC>'"
        ),
        "{stderr}"
    );
}

#[test]
fn unavailable_cells_say_why_under_their_table_and_in_the_plot() {
    let text = "variation,users,net__sum,net__sum_squares\ncontrol,1000,0,25000\ntreatment,1000,300,26000\n";
    let dir = repo(&[("s.csv", text.as_bytes())]);
    let args = |format| {
        vec![
            "analyze",
            "--summary",
            "s.csv",
            "--metric",
            "net=mean",
            "--plot",
            "p.svg",
            "--format",
            format,
        ]
    };
    let why = "the control mean of `net` is zero (row 2, column `net__sum`), so a relative lift is undefined; see the absolute difference";
    let (code, human, _) = run(&args("human"), dir.path());
    assert_eq!(code, 0);
    // The reason stands under the table, after the row it explains.
    let lines: Vec<&str> = human.lines().collect();
    let note = format!("  n/a for treatment: {why}");
    let at = lines.iter().position(|l| *l == note).unwrap();
    assert!(lines[at - 1].starts_with("  treatment  1,000") && lines[at - 1].ends_with("n/a"));
    let (_, markdown, _) = run(&args("markdown"), dir.path());
    assert!(
        markdown.contains("\n\n- n/a for `treatment`: the control mean of <code>net</code> is zero (row 2, column <code>net&#95;&#95;sum</code>), so a relative lift is undefined; see the absolute difference\n"),
        "{markdown}"
    );
    let svg = std::fs::read_to_string(dir.path().join("p.svg")).unwrap();
    assert!(svg.contains(&format!("n/a: {why}")), "{svg}");
    elements(&svg);
}
