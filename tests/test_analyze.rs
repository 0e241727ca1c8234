//! `flagstone analyze`: summary CSV parsing, every bad-input message, the results in every
//! format byte for byte, the decision, and the plot.

use flagstone::analyze::{self, Request};

use crate::support::{assert_file, repo, root, run};

fn snapshot(name: &str, text: &str) {
    assert_file(&root().join("tests/analyze").join(name), text);
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
    let table = analyze::Table::parse(text.as_bytes(), "summary.csv").unwrap();
    assert_eq!(table.rows[0].users, 1000);
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
    let table = analyze::Table::parse(text.as_bytes(), "summary.csv").unwrap();
    let rows: Vec<(u64, &str, u64)> = table
        .rows
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
        "summary.csv: no primary metric: the decision needs one (the first --metric that is not a guardrail)"
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
