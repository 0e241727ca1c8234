//! `flagstone evals compare`: agreement with scipy on the reference datasets, the bootstrap's
//! determinism and coverage, the verdict, every output format and every input error.

use std::path::Path;

use flagstone::evals::{
    Case, Conclusion, Margin, Options, TTestUndefined, WilcoxonMethod, compare, parse_cases,
};
use flagstone::stats::paired::bootstrap_means;
use flagstone::stats::rng::Xoshiro256PlusPlus;
use serde_json::Value;

use crate::support::{assert_file, repo, root, run};

fn evals_dir() -> std::path::PathBuf {
    root().join("tests/evals")
}

fn snapshots() -> std::path::PathBuf {
    root().join("tests/snapshots/evals")
}

fn read_cases(name: &str) -> Vec<Case> {
    let path = evals_dir().join("cases").join(format!("{name}.csv"));
    parse_cases(name, &std::fs::read(path).unwrap()).unwrap()
}

/// Relative agreement to 1e-9: |a − b| ≤ 1e-9 · max(|a|, |b|, scale). `scale` is 0 for
/// p-values and statistics (purely relative); interval bounds use the interval's half-width,
/// since a bound near 0 is the difference of two larger numbers.
fn close(actual: f64, expected: f64, scale: f64) -> bool {
    (actual - expected).abs() <= 1e-9 * actual.abs().max(expected.abs()).max(scale)
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap()
}

#[test]
fn results_agree_with_scipy_on_every_reference_dataset() {
    let text = std::fs::read_to_string(evals_dir().join("reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let datasets = reference["datasets"].as_object().unwrap();
    assert_eq!(datasets.len(), 40);
    let mut wrong = Vec::new();
    for (name, expected) in datasets {
        let cases = read_cases(name);
        let options = Options {
            alpha: number(&expected["alpha"]),
            resamples: 200,
            ..Options::default()
        };
        let report = compare(&cases, &options).unwrap();
        let mut check = |what: &str, actual: f64, expected: f64, scale: f64| {
            if !close(actual, expected, scale) {
                wrong.push(format!("{name} {what}: {actual} ≠ scipy's {expected}"));
            }
        };
        assert_eq!(report.n as u64, expected["n"].as_u64().unwrap(), "{name}");
        check(
            "baseline mean",
            report.baseline_mean,
            number(&expected["baseline_mean"]),
            0.0,
        );
        check(
            "candidate mean",
            report.candidate_mean,
            number(&expected["candidate_mean"]),
            0.0,
        );
        check(
            "mean difference",
            report.mean_difference,
            number(&expected["mean_difference"]),
            0.0,
        );
        check(
            "sd",
            report.stddev_difference,
            number(&expected["stddev_difference"]),
            0.0,
        );
        match (&report.t_test, &expected["t_test"]) {
            (Ok(t), Value::Object(e)) => {
                check("t", t.t, number(&e["t"]), 0.0);
                check("df", t.df, number(&e["df"]), 0.0);
                check("t-test p", t.p_value, number(&e["p_value"]), 0.0);
                let half = (t.ci[1] - t.ci[0]) / 2.0;
                check("t-test ci low", t.ci[0], number(&e["ci"][0]), half);
                check("t-test ci high", t.ci[1], number(&e["ci"][1]), half);
            }
            (Err(TTestUndefined::ZeroVariance), Value::Null) => {}
            (actual, expected) => check(&format!("t-test {actual:?} vs {expected}"), 0.0, 1.0, 0.0),
        }
        let w = &report.wilcoxon;
        let e = &expected["wilcoxon"];
        check("W+", w.w_plus, number(&e["w_plus"]), 0.0);
        check("T", w.statistic, number(&e["statistic"]), 0.0);
        // scipy's normal approximation divides by a zero variance when every difference is
        // zero (NaN); flagstone reports p = 1, as scipy's exact paths do.
        let expected_p = e["p_value"].as_f64().unwrap_or(1.0);
        check("Wilcoxon p", w.p_value, expected_p, 0.0);
        let s = &report.sign_test;
        let e = &expected["sign_test"];
        assert_eq!(s.positive as u64, e["positive"].as_u64().unwrap(), "{name}");
        assert_eq!(s.nonzero as u64, e["nonzero"].as_u64().unwrap(), "{name}");
        check(
            "sign p",
            s.p_value,
            e["p_value"].as_f64().unwrap_or(1.0),
            0.0,
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn wilcoxon_chooses_its_method_as_scipy_auto_does() {
    let method = |name: &str| {
        compare(
            &read_cases(name),
            &Options {
                resamples: 10,
                ..Options::default()
            },
        )
        .unwrap()
        .wilcoxon
        .method
    };
    use WilcoxonMethod::*;
    for (name, expected) in [
        ("n5-exact-up", Exact),
        ("n49-exact", Exact),
        ("n50-exact", Exact),
        ("n51-normal", Normal),
        ("n50-one-zero", Normal),
        ("n49-graded", Normal),
        ("n2-tied", Permutation),
        ("n2-one-zero", Permutation),
        ("n13-graded", Permutation),
        ("n13-one-zero", Permutation),
        ("n14-graded", Normal),
        ("n10-all-equal", NoDifferences),
        ("n30-all-equal", NoDifferences),
    ] {
        assert_eq!(method(name), expected, "{name}");
    }
}

fn cases(differences: &[f64]) -> Vec<Case> {
    differences
        .iter()
        .enumerate()
        .map(|(i, &d)| Case {
            id: format!("case-{i}"),
            baseline: 0.5,
            candidate: 0.5 + d,
        })
        .collect()
}

#[test]
fn bootstrap_results_do_not_depend_on_the_number_of_threads() {
    let differences: Vec<f64> = (0..997)
        .map(|i| ((i * 37) % 101) as f64 / 100.0 - 0.4)
        .collect();
    let one = bootstrap_means(&differences, 1001, 7, 1);
    for threads in [2, 3, 8, 64] {
        let many = bootstrap_means(&differences, 1001, 7, threads);
        assert!(
            one.iter()
                .zip(&many)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{threads} threads"
        );
    }
    // Resample r uses its own stream: the first draws of resample 3 are the generator's.
    let mut rng = Xoshiro256PlusPlus::for_resample(7, 3);
    let sum: f64 = (0..997).map(|_| differences[rng.below(997) as usize]).sum();
    assert_eq!(one[3].to_bits(), (sum / 997.0).to_bits());
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_another_interval() {
    let dir = evals_dir().join("cases");
    let args = |seed: &'static str| {
        vec![
            "evals",
            "compare",
            "--cases",
            "n100-up.csv",
            "--format",
            "json",
            "--seed",
            seed,
        ]
    };
    let first = run(&args("11"), &dir);
    assert_eq!(first.0, 0, "{}", first.2);
    assert_eq!(run(&args("11"), &dir), first);
    let other = run(&args("12"), &dir);
    let ci = |text: &str| {
        let json: Value = serde_json::from_str(text).unwrap();
        [
            number(&json["bootstrap"]["ci"][0]),
            number(&json["bootstrap"]["ci"][1]),
        ]
    };
    let (a, b) = (ci(&first.1), ci(&other.1));
    assert_ne!(a, b);
    // Different seeds, the same interval up to Monte Carlo error (well within 10%).
    let width = a[1] - a[0];
    assert!(
        (a[0] - b[0]).abs() < 0.1 * width && (a[1] - b[1]).abs() < 0.1 * width,
        "{a:?} {b:?}"
    );
}

#[test]
fn bootstrap_intervals_cover_a_known_mean_about_as_often_as_they_say() {
    // 400 datasets of 60 differences uniform on [mean − 1, mean + 1]: a 90% interval should
    // contain the true mean about 360 times (percentile intervals undercover a little).
    let true_mean = 0.1;
    let mut rng = Xoshiro256PlusPlus::for_resample(2026, 0);
    let mut covered = 0;
    for dataset in 0..400u64 {
        let differences: Vec<f64> = (0..60)
            .map(|_| true_mean + (rng.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
            .collect();
        let options = Options {
            alpha: 0.1,
            resamples: 1000,
            seed: dataset,
            threads: 1,
            ..Options::default()
        };
        let report = compare(&cases(&differences), &options).unwrap();
        let [low, high] = report.bootstrap.ci;
        covered += usize::from(low <= true_mean && true_mean <= high);
    }
    assert!((340..=375).contains(&covered), "{covered} of 400 covered");
}

#[test]
fn the_bootstrap_interval_of_a_large_sample_matches_the_t_interval() {
    let report = compare(&read_cases("n2000-small-shift"), &Options::default()).unwrap();
    let t = report.t_test.unwrap();
    let half = (t.ci[1] - t.ci[0]) / 2.0;
    for (b, t) in report.bootstrap.ci.iter().zip(t.ci) {
        assert!(
            (b - t).abs() < 0.05 * half,
            "{:?} vs {:?}",
            report.bootstrap.ci,
            t
        );
    }
}

fn options(margin: Margin, lower_is_better: bool) -> Options {
    Options {
        margin,
        lower_is_better,
        resamples: 2000,
        ..Options::default()
    }
}

#[test]
fn the_verdict_follows_the_interval_of_the_improvement() {
    // Differences of mean −0.1 with a small spread: clearly worse when higher is better.
    let worse: Vec<f64> = (0..40)
        .map(|i| -0.1 + (i % 5) as f64 * 0.01 - 0.02)
        .collect();
    let higher = compare(&cases(&worse), &options(Margin::Absolute(0.0), false)).unwrap();
    assert_eq!(higher.verdict.outcome, Conclusion::Regression);
    assert!(higher.verdict.improvement[1] < 0.0);
    assert_eq!(higher.verdict.more_cases, None);
    // Within a tolerated regression of 0.15, non-inferiority is shown.
    let tolerated = compare(&cases(&worse), &options(Margin::Absolute(0.15), false)).unwrap();
    assert_eq!(tolerated.verdict.outcome, Conclusion::Pass);
    // Lower is better: the same differences are an improvement.
    let lower = compare(&cases(&worse), &options(Margin::Absolute(0.0), true)).unwrap();
    assert_eq!(lower.verdict.outcome, Conclusion::Pass);
    assert_eq!(
        lower.verdict.improvement,
        [-higher.bootstrap.ci[1], -higher.bootstrap.ci[0]]
    );
    assert_eq!(
        (lower.improved, lower.regressed, lower.unchanged),
        (40, 0, 0)
    );
    // A percentage of the baseline mean (0.5): 30% is 0.15.
    let relative = compare(&cases(&worse), &options(Margin::Relative(0.3), false)).unwrap();
    assert_eq!(relative.verdict.margin, 0.15);
    assert_eq!(relative.verdict.outcome, Conclusion::Pass);
}

#[test]
fn an_inconclusive_verdict_estimates_the_cases_needed() {
    // Mean −0.01, spread ±0.1: the interval straddles 0 at n = 20.
    let differences: Vec<f64> = (0..20)
        .map(|i| if i % 2 == 0 { 0.09 } else { -0.11 })
        .collect();
    let report = compare(&cases(&differences), &options(Margin::Absolute(0.0), false)).unwrap();
    assert_eq!(report.verdict.outcome, Conclusion::Inconclusive);
    let [low, high] = report.verdict.improvement;
    let expected = 20.0 * ((high - low) / 2.0 / ((low + high) / 2.0).abs()).powi(2) - 20.0;
    assert_eq!(report.verdict.more_cases, Some(expected.ceil() as u64));
    // With twice as many cases as estimated and the same differences, it is a regression.
    let total = (2 * (20 + expected.ceil() as usize)).div_ceil(20) * 20;
    let larger: Vec<f64> = (0..total).map(|i| differences[i % 20]).collect();
    let report = compare(&cases(&larger), &options(Margin::Absolute(0.0), false)).unwrap();
    assert_eq!(report.verdict.outcome, Conclusion::Regression);
}

#[test]
fn the_worst_cases_come_worst_first_ties_in_file_order() {
    let differences = [0.1, -0.2, -0.5, 0.0, -0.2, -0.5, -0.1];
    let report = compare(
        &cases(&differences),
        &Options {
            worst: 4,
            resamples: 10,
            ..Options::default()
        },
    )
    .unwrap();
    let order: Vec<usize> = report.worst.iter().map(|c| c.index).collect();
    assert_eq!(order, [2, 5, 1, 4]);
    assert_eq!(report.worst[0].id, "case-2");
    // Lower is better: the increases are the regressions.
    let report = compare(
        &cases(&differences),
        &Options {
            lower_is_better: true,
            resamples: 10,
            ..Options::default()
        },
    )
    .unwrap();
    let order: Vec<usize> = report.worst.iter().map(|c| c.index).collect();
    assert_eq!(order, [0]);
}

#[test]
fn no_difference_at_all_gives_p_values_of_one() {
    let report = compare(&read_cases("n30-all-equal"), &Options::default()).unwrap();
    assert_eq!(report.t_test, Err(TTestUndefined::ZeroVariance));
    assert_eq!(report.wilcoxon.p_value, 1.0);
    assert_eq!(report.sign_test.p_value, 1.0);
    assert_eq!(report.bootstrap.ci, [0.0, 0.0]);
    // An interval of one point on a margin of 0 shows nothing: a worse candidate whose cases
    // mostly score the same gives it too. With a margin, it passes.
    assert_eq!(report.verdict.outcome, Conclusion::Inconclusive);
    let with_margin = Options {
        margin: Margin::Absolute(0.01),
        ..Options::default()
    };
    let report = compare(&read_cases("n30-all-equal"), &with_margin).unwrap();
    assert_eq!(report.verdict.outcome, Conclusion::Pass);
    let (code, stdout, stderr) = run(
        &[
            "evals",
            "compare",
            "--cases",
            "n30-all-equal.csv",
            "--format",
            "json",
        ],
        &evals_dir().join("cases"),
    );
    assert_eq!(code, 0);
    assert_eq!(
        stderr,
        "warning: inconclusive: the mean difference sits on the margin; no number of cases is sure to settle it\n\
         warning: no difference: every case has the same score under the baseline and the candidate\n"
    );
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["t_test"], Value::Null);
    assert_eq!(json["wilcoxon"]["p_value"], 1.0);
    assert_eq!(json["wilcoxon"]["method"], "none");
}

#[test]
fn zero_variance_leaves_the_t_test_undefined_and_runs_the_others() {
    let (code, stdout, stderr) = run(
        &["evals", "compare", "--cases", "n10-constant-shift.csv"],
        &evals_dir().join("cases"),
    );
    assert_eq!(code, 0);
    assert_eq!(
        stderr,
        "warning: inconclusive: 10 more cases are needed for a pass (--min-cases)\n\
         warning: the t-test is undefined: the differences have no variance (their mean is +0.25)\n"
    );
    assert!(
        stdout.contains("\nt-test     undefined: the differences have no variance\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("p = 0.001953; exact over every sign flip, tied ranks\n"),
        "{stdout}"
    );
}

/// The example of docs/evals.md, in every format.
#[test]
fn every_format_renders_the_example() {
    let dir = evals_dir();
    for (format, file, status) in [
        ("human", "example.human.txt", 1),
        ("json", "example.json", 1),
        ("markdown", "example.md", 1),
    ] {
        let (code, stdout, stderr) = run(
            &[
                "evals",
                "compare",
                "--cases",
                "example.csv",
                "--format",
                format,
            ],
            &dir,
        );
        assert_eq!((code, stderr.as_str()), (status, ""), "{format}");
        assert_file(&snapshots().join(file), &stdout);
    }
    let (code, stdout, stderr) = run(
        &[
            "evals",
            "compare",
            "--cases",
            "example.csv",
            "--lower-is-better",
            "--worst",
            "2",
            "--max-regression",
            "5%",
        ],
        &dir,
    );
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_file(&snapshots().join("example.lower.txt"), &stdout);
}

#[test]
fn an_inconclusive_comparison_warns_and_exits_zero() {
    let csv =
        "case_id,baseline,candidate\na,0.5,0.6\nb,0.5,0.3\nc,0.7,0.8\nd,0.2,0.1\ne,0.4,0.45\n";
    let dir = repo(&[("cases.csv", csv.as_bytes())]);
    let (code, stdout, stderr) = run(&["evals", "compare", "--cases", "cases.csv"], dir.path());
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("INCONCLUSIVE: the cases do not show whether"),
        "{stdout}"
    );
    assert!(
        stderr.starts_with("warning: inconclusive: about ")
            && stderr.ends_with(" more cases would likely settle it (if the differences keep their mean and spread)\n"),
        "{stderr}"
    );
}

#[test]
fn the_cases_may_come_from_standard_input() {
    let csv = std::fs::read(evals_dir().join("example.csv")).unwrap();
    let mut child = crate::support::flagstone()
        .args(["evals", "compare", "--cases", "-", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&csv).unwrap();
    let output = child.wait_with_output().unwrap();
    let expected = std::fs::read_to_string(snapshots().join("example.json")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);
}

#[test]
fn columns_are_found_by_name_with_a_bom_crlf_and_extra_columns() {
    let text = "\u{feff}model, candidate ,case_id,notes,baseline\r\nx,0.75,q1,\"a, b\",0.5\r\ny,-1e-3,q2,,  2 \r\n";
    let cases = parse_cases("cases.csv", text.as_bytes()).unwrap();
    assert_eq!(
        cases,
        [
            Case {
                id: "q1".into(),
                baseline: 0.5,
                candidate: 0.75
            },
            Case {
                id: "q2".into(),
                baseline: 2.0,
                candidate: -0.001
            },
        ]
    );
}

/// Runs `evals compare` on a file holding `csv` with `extra` arguments; (status, stderr).
fn compare_file(csv: &[u8], extra: &[&str]) -> (i32, String) {
    let dir = repo(&[("cases.csv", csv)]);
    let mut args = vec!["evals", "compare", "--cases", "cases.csv"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&args, dir.path());
    assert_eq!(stdout, "", "nothing on standard output after an error");
    (code, stderr)
}

const GOOD: &[u8] = b"case_id,baseline,candidate\na,0.5,0.6\nb,0.5,0.4\nc,0.7,0.8\n";

#[test]
fn every_input_error_is_located_and_exits_two() {
    let cases: &[(&[u8], &[&str], &str)] = &[
        (
            b"id,baseline,candidate\na,1,2\n",
            &[],
            "cases.csv:1: no `case_id` column; the header has `id`, `baseline`, `candidate`",
        ),
        (
            b"case_id,baseline,score\na,1,2\n",
            &[],
            "cases.csv:1: no `candidate` column; the header has `case_id`, `baseline`, `score`",
        ),
        (
            b"case_id,baseline,candidate,baseline\na,1,2,3\n",
            &[],
            "cases.csv:1: the header has `baseline` twice (columns 2 and 4)",
        ),
        (
            b"case_id,baseline,candidate\na,1,2\nb,0.5,high\n",
            &[],
            "cases.csv:3: column `candidate`: \"high\" is not a number",
        ),
        (
            b"case_id,baseline,candidate\na,1,2\nb,,2\n",
            &[],
            "cases.csv:3: column `baseline`: \"\" is not a number",
        ),
        (
            b"case_id,baseline,candidate\na,1,2\r\nb,NaN,2\r\n",
            &[],
            "cases.csv:3: column `baseline`: \"NaN\" is not a finite number",
        ),
        (
            b"case_id,baseline,candidate\na,1,-inf\n",
            &[],
            "cases.csv:2: column `candidate`: \"-inf\" is not a finite number",
        ),
        (
            b"case_id,baseline,candidate\na,1,2\nb,1e300,2\n",
            &[],
            "cases.csv:3: column `baseline`: \"1e300\" is beyond ±1e100, the largest score compared",
        ),
        (
            b"",
            &[],
            "cases.csv: the file is empty; expected a header `case_id,baseline,candidate` and one row per case",
        ),
        (
            b"\xEF\xBB\xBF\r\n",
            &[],
            "cases.csv: the file is empty; expected a header `case_id,baseline,candidate` and one row per case",
        ),
        (
            b"case_id,baseline,candidate\r\n",
            &[],
            "cases.csv: a header but no cases",
        ),
        (
            b"case_id,baseline,candidate\na,1,2\n",
            &[],
            "cases.csv: 1 case: at least 2 are needed to compare",
        ),
        (
            b"case_id,baseline,candidate\nq-1,1,2\nq-2,1,2\nq-1,3,4\n",
            &[],
            "cases.csv:4: case \"q-1\" is already on line 2",
        ),
        (
            b"case_id,baseline,candidate\na,1,2\n,1,2\n",
            &[],
            "cases.csv:3: the case_id is empty",
        ),
        (
            b"case_id,baseline,candidate\na,1,2\nb,1\n",
            &[],
            "cases.csv:3: 2 fields, but the header has 3",
        ),
        (
            b"case_id,baseline,candidate\na,1,2\n\xFF,1,2\n",
            &[],
            "cases.csv:3: not valid UTF-8",
        ),
        (
            GOOD,
            &["--resamples", "0"],
            "the number of bootstrap resamples must be from 1 to 10000000, not 0",
        ),
        (
            GOOD,
            &["--resamples", "10000001"],
            "the number of bootstrap resamples must be from 1 to 10000000, not 10000001",
        ),
        (
            GOOD,
            &["--alpha", "1.5"],
            "alpha must be greater than 0 and less than 1, not 1.5",
        ),
        (
            GOOD,
            &["--alpha", "0"],
            "alpha must be greater than 0 and less than 1, not 0",
        ),
        (
            GOOD,
            &["--alpha", "NaN"],
            "alpha must be greater than 0 and less than 1, not NaN",
        ),
        (
            GOOD,
            &["--max-regression", "-0.1"],
            "the tolerated regression must be a number ≥ 0, or a percentage such as `2%`, not \"-0.1\"",
        ),
        (
            GOOD,
            &["--max-regression", "five%"],
            "the tolerated regression must be a number ≥ 0, or a percentage such as `2%`, not \"five%\"",
        ),
    ];
    for (csv, extra, message) in cases {
        let (code, stderr) = compare_file(csv, extra);
        assert_eq!(
            (code, stderr.as_str()),
            (2, format!("error: {message}\n").as_str()),
            "{message}"
        );
    }
}

#[test]
fn an_unreadable_file_is_an_error() {
    let dir = repo(&[]);
    let (code, _, stderr) = run(&["evals", "compare", "--cases", "missing.csv"], dir.path());
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: cannot read missing.csv: No such file or directory (os error 2)\n"
        )
    );
    let (code, _, stderr) = run(&["evals", "compare", "--cases", "."], dir.path());
    assert_eq!(
        (code, stderr.as_str()),
        (2, "error: cannot read .: Is a directory (os error 21)\n")
    );
}

#[test]
fn the_library_refuses_scores_it_cannot_compare() {
    let mut bad = cases(&[0.1, 0.2]);
    bad[1].candidate = f64::NAN;
    assert_eq!(
        compare(&bad, &Options::default()).unwrap_err().to_string(),
        "case \"case-1\" (number 2) has a score that is not a finite number within ±1e100"
    );
    assert_eq!(
        compare(&cases(&[]), &Options::default())
            .unwrap_err()
            .to_string(),
        "0 cases: at least 2 are needed to compare"
    );
    assert_eq!("2.5 %".parse::<Margin>(), Ok(Margin::Relative(0.025)));
}

/// Every number of a report, for the check that none is NaN or infinite.
fn numbers(report: &flagstone::evals::Report) -> Vec<f64> {
    let mut all = vec![
        report.baseline_mean,
        report.candidate_mean,
        report.mean_difference,
        report.stddev_difference,
        report.wilcoxon.w_plus,
        report.wilcoxon.w_minus,
        report.wilcoxon.statistic,
        report.wilcoxon.z.unwrap_or(0.0),
        report.wilcoxon.p_value,
        report.sign_test.p_value,
        report.verdict.margin,
    ];
    all.extend(report.bootstrap.ci);
    all.extend(report.verdict.improvement);
    if let Ok(t) = &report.t_test {
        all.extend([t.t, t.df, t.p_value, t.ci[0], t.ci[1]]);
    }
    for case in &report.worst {
        all.extend([case.baseline, case.candidate, case.difference]);
    }
    all
}

#[test]
fn no_input_makes_a_non_finite_number() {
    // Extreme but accepted scores: the largest, the smallest, and a tiny spread.
    let inputs: &[&[(f64, f64)]] = &[
        &[(1e100, -1e100), (-1e100, 1e100), (1e100, 1e100)],
        &[(5e-324, 0.0), (0.0, 5e-324), (0.0, 1e-323)],
        &[
            (1.0, 1.0 + f64::EPSILON),
            (1.0, 1.0 + 2.0 * f64::EPSILON),
            (1.0, 1.0 + f64::EPSILON),
        ],
    ];
    for input in inputs {
        let cases: Vec<Case> = input
            .iter()
            .enumerate()
            .map(|(i, &(baseline, candidate))| Case {
                id: i.to_string(),
                baseline,
                candidate,
            })
            .collect();
        let report = compare(
            &cases,
            &Options {
                resamples: 100,
                ..Options::default()
            },
        )
        .unwrap();
        assert!(numbers(&report).iter().all(|x| x.is_finite()), "{report:?}");
    }
}

#[test]
fn the_reference_generator_is_committed_with_its_outputs() {
    // tests/evals/generate.py --check (CI) proves the files are scipy's; here, that every
    // dataset file has its reference entry.
    let text = std::fs::read_to_string(evals_dir().join("reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(evals_dir().join("cases"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".csv")
                .to_owned()
        })
        .collect();
    files.sort();
    let names: Vec<String> = reference["datasets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(files, names);
    assert!(Path::new(&evals_dir().join("generate.py")).exists());
}

/// Pieces CSV files are made of, valid and not.
fn csv_piece() -> impl proptest::strategy::Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "case_id",
        "baseline",
        "candidate",
        ",",
        "\n",
        "\r\n",
        "\"",
        "a",
        "b",
        "0",
        "1.5",
        "-2",
        "1e100",
        "1e101",
        "inf",
        "NaN",
        " ",
        "\u{feff}",
        "é",
        "",
        "0.1",
        "1e-320",
    ])
}

proptest::proptest! {
    #![proptest_config(crate::support::proptest_config!("test_evals", 256))]

    /// Any bytes: a located error or a report whose every number is finite; never a panic.
    #[test]
    fn no_csv_input_panics_or_yields_a_non_finite_number(
        pieces in proptest::collection::vec(csv_piece(), 0..60),
        noise in proptest::collection::vec(proptest::num::u8::ANY, 0..4),
    ) {
        let mut bytes = b"case_id,baseline,candidate\n".to_vec();
        bytes.extend(pieces.concat().into_bytes());
        bytes.extend(noise);
        match parse_cases("cases.csv", &bytes) {
            Err(e) => proptest::prop_assert!(e.to_string().starts_with("cases.csv")),
            Ok(cases) => {
                let options = Options { resamples: 20, threads: 1, ..Options::default() };
                if let Ok(report) = compare(&cases, &options) {
                    proptest::prop_assert!(numbers(&report).iter().all(|x| x.is_finite()), "{:?}", report);
                }
            }
        }
    }
}

/// Two cases never pass, however clear: a PASS needs `--min-cases` (20 by default); a
/// regression is reported from any number.
#[test]
fn a_pass_needs_the_minimum_number_of_cases() {
    let dir = crate::support::tempdir();
    std::fs::write(
        dir.path().join("two.csv"),
        "case_id,baseline,candidate\na,0.5,1\nb,0.5,1\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["evals", "compare", "--cases", "two.csv"], dir.path());
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(
            "INCONCLUSIVE: 2 cases are too few to show that the candidate is not worse than the baseline: \
             the 95% bootstrap interval of its mean improvement, [0.5, 0.5], lies above 0, but a pass needs at least 20.\n"
        ),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "warning: inconclusive: 18 more cases are needed for a pass (--min-cases)\n\
         warning: the t-test is undefined: the differences have no variance (their mean is +0.5)\n"
    );
    let (code, stdout, _) = run(
        &[
            "evals",
            "compare",
            "--cases",
            "two.csv",
            "--min-cases",
            "2",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["verdict"]["outcome"], "pass");
    assert_eq!(json["verdict"]["too_few_cases"], false);

    std::fs::write(
        dir.path().join("worse.csv"),
        "case_id,baseline,candidate\na,1,0.5\nb,1,0.5\n",
    )
    .unwrap();
    let (code, stdout, _) = run(&["evals", "compare", "--cases", "worse.csv"], dir.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("REGRESSION: "), "{stdout}");

    let (code, _, stderr) = run(
        &["evals", "compare", "--cases", "two.csv", "--min-cases", "1"],
        dir.path(),
    );
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: the fewest cases a pass needs must be at least 2, not 1\n"
        )
    );
}

/// `evals payload`: a variant's canonical JSON (keys sorted, compact) and its hash, blake3 in
/// key-derivation mode over those bytes; defaults for a flag without variants; clear errors.
#[test]
fn a_payload_and_its_hash_are_canonical() {
    let example = root().join("flags.example");
    let args = ["evals", "payload", "ai/assistant-model", "large", "--dir"];
    let (code, stdout, stderr) = run(&[&args[..], &[example.to_str().unwrap()]].concat(), &root());
    assert_eq!((code, stderr.as_str()), (0, ""));
    let json = r#"{"max_output_tokens":1500,"model":"acme-chat-large-2","prompt_version":"assistant-v7","temperature":0.2}"#;
    assert_eq!(stdout, format!("{json}\n"));
    let (_, hash, _) = run(
        &[&args[..], &[example.to_str().unwrap(), "--hash"]].concat(),
        &root(),
    );
    let expected = blake3::Hasher::new_derive_key("flagstone 2026-12 payload v1")
        .update(json.as_bytes())
        .finalize()
        .to_hex()
        .to_string();
    assert_eq!(hash, format!("{expected}\n"));

    // Keys sorted at every depth, whatever order the file gives them in.
    let nested = serde_json::json!({"b": [{"z": 1, "a": "é\"\n"}], "a": null});
    assert_eq!(
        flagstone::bundle::canonical_json(&nested),
        r#"{"a":null,"b":[{"a":"é\"\n","z":1}]}"#
    );

    let (code, stdout, _) = run(
        &[
            "evals",
            "payload",
            "ai/assistant",
            "on",
            "--dir",
            example.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!((code, stdout.as_str()), (0, "true\n"));
    let (code, _, stderr) = run(
        &[
            "evals",
            "payload",
            "ai/assistant-model",
            "larg",
            "--dir",
            example.to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: flag `ai/assistant-model` has no variant `larg`\nhelp: did you mean `large`?\n"
        )
    );
}

/// A report names the payloads it scored on every row; `evals compare` with the payloads'
/// hashes refuses scores of another version, by line.
#[test]
fn a_report_of_another_payload_is_refused() {
    let dir = crate::support::tempdir();
    let (base, head) = ("a".repeat(64), "b".repeat(64));
    let mut report =
        String::from("case_id,baseline,candidate,baseline_payload,candidate_payload\n");
    for i in 0..25 {
        report.push_str(&format!("q{i},0.5,0.6,{base},{head}\n"));
    }
    std::fs::write(dir.path().join("report.csv"), &report).unwrap();
    let compare = |file: &str, candidate: &str| {
        run(
            &[
                "evals",
                "compare",
                "--cases",
                file,
                "--baseline-payload",
                &base,
                "--candidate-payload",
                candidate,
            ],
            dir.path(),
        )
    };
    let (code, stdout, _) = compare("report.csv", &head);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("PASS: "), "{stdout}");

    let stale = "c".repeat(64);
    let (code, stdout, stderr) = compare("report.csv", &stale);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "error: report.csv:2: column `candidate_payload`: \"{head}\" is not the payload compared ({stale}): these scores are of another version of the variant\n"
        )
    );
    std::fs::write(
        dir.path().join("plain.csv"),
        "case_id,baseline,candidate\nq,1,1\nr,1,1\n",
    )
    .unwrap();
    let (code, _, stderr) = compare("plain.csv", &head);
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: plain.csv:1: no `baseline_payload` column; the header has `case_id`, `baseline`, `candidate`\n"
        )
    );
}
