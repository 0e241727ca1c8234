//! `flagstone analyze --exposures --events` (docs/raw-data.md): which exposures assign units,
//! the windows at their edges, every component of every aggregation, what is counted and not,
//! and flags.example's raw data, which its committed summary is the summary of.

use std::path::Path;

use flagstone::experiment::design;
use flagstone::summary::Plan;
use flagstone::summary::events::{EventCounts, ExposureCounts, Exposures, Input, Line, Summary};

use crate::support::{repo, root, run};

const PROJECT: &str = r#"name = "shop"
environments = ["staging", "production"]

[attributes]
email = { type = "string" }

[holdouts.h]
percent = 10
description = "Never sees an experiment"

[metrics.bought]
description = "Bought within a day"
event = "purchase"
aggregation = "converted"
window = "1d"

[metrics.views]
description = "Pages viewed in the first hour"
event = "page_view"
aggregation = "count"
window = "1h"
covariate = { window = "1h" }

[metrics.revenue]
description = "Revenue in the first day"
event = "purchase"
aggregation = "sum"
property = "amount"
window = "1d"

[metrics.order_value]
description = "Revenue per purchase in the first day"
event = "purchase"
aggregation = "mean"
property = "amount"
window = "1d"

[metrics.revenue_per_view]
description = "Revenue per page view"
aggregation = "ratio"
numerator = "revenue"
denominator = "views"
"#;

const FLAG: &str = r#"description = "Experiment: the buy button"
owners = ["alice"]
kind = "experiment"
expires = 2027-06-01
off_variant = "control"

[variants]
control = "grey"
treatment = "green"

[env.staging]
serve = "control"

[env.production]
serve = "control"

[[env.production.rules]]
name = "staff"
if = [{ attr = "email", op = "ends_with", values = ["@shop.test"] }]
serve = "control"

[[env.production.rules]]
name = "everyone"
split = { control = 50, treatment = 50 }
"#;

const EXPERIMENT: &str = r#"flag = "f"
control = "control"
hypothesis = "A green button sells more"
owners = ["alice"]
start = 2026-12-01
end = 2026-12-02
environments = ["production"]
holdout = "h"
mde = 0.05
daily_units = 1000

[primary]
name = "bought"
baseline = 0.1

[[secondary]]
name = "views"

[[secondary]]
name = "order_value"

[[secondary]]
name = "revenue_per_view"
"#;

const BUNDLE: &str = "1111111111111111111111111111111111111111111111111111111111111111";

/// An exposure line as the recorder writes it.
fn exposure(time: &str, unit: &str, variant: &str, reason: &str, rule: Option<&str>) -> String {
    exposure_of(
        "f",
        "production",
        Some("e"),
        time,
        unit,
        variant,
        reason,
        rule,
    )
}

#[allow(clippy::too_many_arguments)]
fn exposure_of(
    flag: &str,
    environment: &str,
    experiment: Option<&str>,
    time: &str,
    unit: &str,
    variant: &str,
    reason: &str,
    rule: Option<&str>,
) -> String {
    let mut line = serde_json::json!({
        "time": time, "flag": flag, "environment": environment, "variant": variant,
        "reason": reason, "bundle": BUNDLE, "unit": unit, "targeting_key": unit,
    });
    if let Some(rule) = rule {
        line["rule"] = rule.into();
    }
    if let Some(experiment) = experiment {
        line["experiment"] = experiment.into();
    }
    line.to_string()
}

fn event(time: &str, unit: &str, name: &str, properties: Option<serde_json::Value>) -> String {
    let mut line = serde_json::json!({"time": time, "unit": unit, "event": name});
    if let Some(properties) = properties {
        line["properties"] = properties;
    }
    line.to_string()
}

fn exposures_file() -> String {
    let split = Some("everyone");
    let lines = [
        // u1: treatment from 10:00; a later exposure (another bundle) keeps t0.
        exposure("2026-12-01T11:00:00Z", "u1", "treatment", "rule", split),
        exposure("2026-12-01T10:00:00Z", "u1", "treatment", "rule", split),
        exposure("2026-12-01T12:00:00.000Z", "u2", "control", "rule", split),
        // u3 saw both arms.
        exposure("2026-12-01T09:00:00Z", "u3", "treatment", "rule", split),
        exposure("2026-12-01T09:30:00Z", "u3", "control", "rule", split),
        // u4 held out; u5 served by another rule.
        exposure("2026-12-01T09:00:00Z", "u4", "control", "excluded", split),
        exposure("2026-12-01T09:00:00Z", "u5", "control", "rule", Some("staff")),
        // Outside the dates: before the start, at the end (the day after `end`, exclusive).
        exposure("2026-11-30T23:59:59.999Z", "u6", "control", "rule", split),
        exposure("2026-12-03T00:00:00Z", "u6", "treatment", "rule", split),
        // The last millisecond of the end date is in.
        exposure("2026-12-02T23:59:59.999Z", "u7", "control", "rule", split),
        exposure("2026-12-01T09:00:00Z", "u8", "purple", "rule", split),
        exposure_of("f", "staging", Some("e"), "2026-12-01T09:00:00Z", "u9", "control", "rule", split),
        exposure_of("f", "production", None, "2026-12-01T09:00:00Z", "u10", "control", "rule", split),
        exposure_of("g", "production", None, "2026-12-01T09:00:00Z", "u1", "on", "rule", split),
        r#"{"time":"yesterday","flag":"f","environment":"production","variant":"control","reason":"rule","bundle":"x","unit":"u1"}"#.to_owned(),
        "not json".to_owned(),
    ];
    // A writer still running: the last line is cut short.
    lines.join("\n") + "\n{\"time\":\"2026-12-01T"
}

fn events_file() -> String {
    use serde_json::json;
    let lines = [
        // u1, t0 = 10:00: a purchase at t0 counts, at t0 + 1 day does not, 1 ms before does.
        event(
            "2026-12-01T10:00:00Z",
            "u1",
            "purchase",
            Some(json!({"amount": 10})),
        ),
        event(
            "2026-12-02T10:00:00Z",
            "u1",
            "purchase",
            Some(json!({"amount": 5})),
        ),
        event(
            "2026-12-02T09:59:59.999Z",
            "u1",
            "purchase",
            Some(json!({"amount": 2.5})),
        ),
        // The covariate's hour before t0: from t0 − 1h, inclusive, to t0, exclusive.
        event("2026-12-01T09:59:59.999Z", "u1", "page_view", None),
        event("2026-12-01T09:00:00Z", "u1", "page_view", None),
        event("2026-12-01T08:59:59.999Z", "u1", "page_view", None),
        event("2026-12-01T10:30:00+00:30", "u1", "page_view", None),
        event("2026-12-01T10:30:00Z", "u1", "page_view", None),
        // A purchase whose amount is not a number converts but adds no revenue; one
        // without properties likewise.
        event(
            "2026-12-01T10:01:00Z",
            "u1",
            "purchase",
            Some(json!({"amount": "ten"})),
        ),
        event("2026-12-01T10:02:00Z", "u1", "purchase", None),
        // A null amount is no amount, as NULL is in a warehouse.
        event(
            "2026-12-01T10:03:00Z",
            "u1",
            "purchase",
            Some(json!({"amount": null})),
        ),
        event("2026-12-01T12:59:59.999Z", "u2", "page_view", None),
        event(
            "2026-12-01T10:00:00Z",
            "u3",
            "purchase",
            Some(json!({"amount": 1})),
        ),
        event(
            "2026-12-01T10:00:00Z",
            "u99",
            "purchase",
            Some(json!({"amount": 1})),
        ),
        event("2026-12-01T12:30:00Z", "u2", "signup", None),
        r#"{"time":"2026-12-01T10:00:00Z","unit":"u2"}"#.to_owned(),
    ];
    lines.join("\n") + "\n"
}

fn shop(experiment: &str) -> tempfile::TempDir {
    repo(&[
        ("flagstone.toml", PROJECT.as_bytes()),
        ("flags/f.toml", FLAG.as_bytes()),
        ("experiments/e.toml", experiment.as_bytes()),
    ])
}

fn summary_of(dir: &Path, exposures: &str, events: &str) -> Summary {
    let repo = flagstone::load::load(dir).unwrap();
    let plan = Plan::new(&repo, &design(&repo, "e", None).unwrap()).unwrap();
    let mut reading = Exposures::new(&plan);
    reading
        .read("exposures.jsonl", exposures.as_bytes())
        .unwrap();
    let mut reading = reading.finish();
    reading.read("events.jsonl", events.as_bytes()).unwrap();
    reading.summary()
}

const EXPECTED_CSV: &str = "\
variation,users,bought__sum,bought__sum_squares,views__sum,views__sum_squares,views.pre__sum,views.pre__sum_squares,order_value__sum,order_value__sum_squares,order_value.events__sum,order_value.events__sum_squares,revenue__sum,revenue__sum_squares,views__x__views.pre__sum_product,order_value__x__order_value.events__sum_product,revenue__x__views__sum_product
control,2,0,0,1,1,0,0,0,0,0,0,0,0,0,0,0
treatment,1,1,1,2,4,2,4,12.5,156.25,2,4,12.5,156.25,4,25,25
";

/// Every rule of docs/raw-data.md at its edge, in one dataset whose summary is worked out by
/// hand: u1 (treatment) converts, views twice in its hour (one written with an offset) and
/// twice in the covariate's hour, and spends 10 + 2.5 in two purchases that carry an amount;
/// u2 and u7 (control) view once and nothing.
#[test]
fn the_summary_follows_the_rules_at_their_edges() {
    let dir = shop(EXPERIMENT);
    let summary = summary_of(dir.path(), &exposures_file(), &events_file());
    assert_eq!(summary.csv(), EXPECTED_CSV);
    assert_eq!(
        summary.exposures,
        ExposureCounts {
            input: Input {
                files: 1,
                read: 14,
                malformed: 2,
                malformed_shown: vec![
                    Line {
                        file: "exposures.jsonl".into(),
                        line: 15,
                        reason: "`time` \"yesterday\" is not an RFC 3339 date-time with an offset"
                            .into(),
                    },
                    Line {
                        file: "exposures.jsonl".into(),
                        line: 16,
                        reason: "expected ident".into(),
                    },
                ],
                incomplete: vec!["exposures.jsonl:17".into()],
            },
            assigning: 6,
            several_variants: 1,
            held_out: 1,
            not_split: 1,
            other_environments: 1,
            other_experiments: 1,
            outside_dates: 2,
            unknown_variants: 1,
            other_flags: 1,
        }
    );
    assert_eq!(
        summary.events,
        EventCounts {
            input: Input {
                files: 1,
                read: 15,
                malformed: 1,
                malformed_shown: vec![Line {
                    file: "events.jsonl".into(),
                    line: 16,
                    reason: "missing field `event`".into(),
                }],
                incomplete: vec![],
            },
            counted: 10,
            not_in_experiment: 2,
            other_events: 1,
            before_exposure: 1,
            after_window: 1,
            property_not_number: 1,
        }
    );
}

/// The summary does not depend on the order of the lines, only on what they say.
#[test]
fn the_order_of_lines_does_not_matter() {
    let dir = shop(EXPERIMENT);
    let reverse = |text: String| {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.reverse();
        lines.join("\n") + "\n"
    };
    // Without the cut-short last line, which is only tolerated last.
    let exposures: String = exposures_file()
        .lines()
        .take(16)
        .collect::<Vec<_>>()
        .join("\n");
    let forward = summary_of(dir.path(), &(exposures.clone() + "\n"), &events_file());
    let backward = summary_of(dir.path(), &reverse(exposures), &reverse(events_file()));
    assert_eq!(forward.csv(), EXPECTED_CSV);
    assert_eq!(backward.csv(), EXPECTED_CSV);
}

/// The command: the counts before the analysis, and `--write-summary` writes what
/// `--summary` reads back to the same analysis.
#[test]
fn the_command_reports_what_it_read_and_writes_the_summary() {
    let dir = shop(EXPERIMENT);
    std::fs::write(dir.path().join("exposures.jsonl"), exposures_file()).unwrap();
    std::fs::write(dir.path().join("events.jsonl"), events_file()).unwrap();
    let raw = [
        "analyze",
        "e",
        "--exposures",
        "exposures.jsonl",
        "--events",
        "events.jsonl",
        "--write-summary",
        "summary.csv",
        "--format",
        "json",
    ];
    let (code, stdout, stderr) = run(&raw, dir.path());
    assert_eq!(code, 0, "{stderr}");
    let written = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
    assert_eq!(written, EXPECTED_CSV);
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        document["raw_data"]["units"],
        serde_json::json!([{"variant": "control", "units": 2}, {"variant": "treatment", "units": 1}])
    );
    assert_eq!(document["raw_data"]["exposures"]["several_variants"], 1);
    assert_eq!(document["raw_data"]["events"]["after_window"], 1);
    assert_eq!(document["file"], "summary.csv");
    let (code, from_summary, stderr) = run(
        &[
            "analyze",
            "e",
            "--summary",
            "summary.csv",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let mut document = document;
    document.as_object_mut().unwrap().remove("raw_data");
    assert_eq!(
        document,
        serde_json::from_str::<serde_json::Value>(&from_summary).unwrap()
    );
    let (code, human, _) = run(&raw[..8], dir.path());
    assert_eq!(code, 0);
    let head: Vec<&str> = human.lines().take(10).collect();
    assert_eq!(
        head,
        [
            "Raw data",
            "exposures  1 file, 14 read, 2 malformed",
            "  units in the experiment  3: control 2 · treatment 1",
            "  units left out           1 saw several variants · 1 held out or outside the layer's slice",
            "  exposures not assigning  1 by another rule or the fallthrough · 2 outside the dates · 1 of unknown variants · 1 without the experiment · 1 in other environments · 1 of other flags",
            "events     1 file, 15 read, 1 malformed",
            "  counted 10 · not in the experiment 2 · no metric's event 1 · before exposure 1 · after the window 1 · property not a number 1",
            "  malformed: exposures.jsonl:15: `time` \"yesterday\" is not an RFC 3339 date-time with an offset",
            "  malformed: exposures.jsonl:16: expected ident",
            "  malformed: events.jsonl:16: missing field `event`",
        ]
    );
    assert!(human.contains(
        "  exposures.jsonl:17: incomplete last line (a writer still running), skipped\n\nflagstone analyze: summary.csv\n"
    ));
}

/// A metric that raw data cannot compute is an error naming it, before any file is read.
#[test]
fn metrics_raw_data_cannot_compute_are_errors() {
    let inline = EXPERIMENT.replace(
        "[primary]\nname = \"bought\"\n",
        "[primary]\nname = \"bought\"\ncovariate = \"bought_before\"\n",
    );
    let dir = shop(&inline);
    let (code, _, stderr) = run(
        &[
            "analyze",
            "e",
            "--exposures",
            "missing.jsonl",
            "--events",
            "missing.jsonl",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("metric `bought` names the covariate `bought_before`, a column of a summary; from raw data a covariate comes from the definition"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["analyze", "e", "--exposures", "x.jsonl"], dir.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("--events"), "{stderr}");
    let (code, _, stderr) = run(
        &[
            "analyze",
            "--exposures",
            "x.jsonl",
            "--events",
            "y.jsonl",
            "--metric",
            "a=binomial",
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{stderr}");
}

/// A missing file is an error naming it.
#[test]
fn an_unreadable_file_is_an_error() {
    let dir = shop(EXPERIMENT);
    std::fs::write(dir.path().join("exposures.jsonl"), exposures_file()).unwrap();
    let (code, _, stderr) = run(
        &[
            "analyze",
            "e",
            "--exposures",
            "exposures.jsonl",
            "--events",
            "nowhere.jsonl",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read nowhere.jsonl"), "{stderr}");
}

/// flags.example's committed summary is its raw data's, byte for byte.
#[test]
fn the_example_summary_is_the_summary_of_the_example_raw_data() {
    let out = crate::support::tempdir();
    let written = out.path().join("summary.csv");
    let example = root().join("flags.example");
    let (code, _, stderr) = run(
        &[
            "analyze",
            "growth/onboarding-checklist",
            "--dir",
            example.to_str().unwrap(),
            "--exposures",
            example.join("raw/exposures.jsonl").to_str().unwrap(),
            "--events",
            example.join("raw/events.jsonl").to_str().unwrap(),
            "--write-summary",
            written.to_str().unwrap(),
        ],
        out.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(written).unwrap(),
        std::fs::read_to_string(example.join("results/onboarding-checklist.csv")).unwrap(),
        "regenerate it: flagstone analyze growth/onboarding-checklist --dir flags.example --exposures flags.example/raw/exposures.jsonl --events flags.example/raw/events.jsonl --write-summary flags.example/results/onboarding-checklist.csv"
    );
}

/// flags.example's raw data is what examples/record_onboarding.rs records with the real
/// evaluator and recorder on its production bundle.
#[test]
fn the_example_raw_data_is_what_the_simulation_records() {
    let exe = std::env::current_exe().unwrap();
    let program = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(format!("record_onboarding{}", std::env::consts::EXE_SUFFIX));
    let out = crate::support::tempdir();
    crate::support::copy_dir(&root().join("flags.example"), out.path());
    let status = std::process::Command::new(&program)
        .arg(out.path())
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (cargo test builds the examples)",
                program.display()
            )
        });
    assert!(status.success());
    for file in ["raw/exposures.jsonl", "raw/events.jsonl"] {
        assert!(
            std::fs::read(out.path().join(file)).unwrap()
                == std::fs::read(root().join("flags.example").join(file)).unwrap(),
            "flags.example/{file} is not what the simulation records; regenerate it: cargo run --example record_onboarding -- flags.example"
        );
    }
}

/// Event files read two at once give what reading them one after the other gives, to the
/// bit, malformed lines listed in file order; a file that cannot be opened is the error.
#[test]
fn event_files_read_in_parallel_give_the_sequential_result() {
    let dir = shop(EXPERIMENT);
    let repo = flagstone::load::load(dir.path()).unwrap();
    let plan = Plan::new(&repo, &design(&repo, "e", None).unwrap()).unwrap();
    let events = events_file();
    let lines: Vec<&str> = events.lines().collect();
    // Five files: the events spread over them, a malformed line in the first and the last.
    let files: Vec<String> = (0..5)
        .map(|f| {
            let mut text: String = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 5 == f)
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            if f == 0 || f == 4 {
                text.push_str("{}\n");
            }
            text
        })
        .collect();
    let paths: Vec<std::path::PathBuf> = files
        .iter()
        .enumerate()
        .map(|(f, text)| {
            let path = dir.path().join(format!("events-{f}.jsonl"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let exposures = exposures_file();
    let sequential = {
        let mut reading = Exposures::new(&plan);
        reading
            .read("exposures.jsonl", exposures.as_bytes())
            .unwrap();
        let mut reading = reading.finish();
        for path in &paths {
            let name = path.display().to_string();
            reading
                .read(&name, std::fs::read(path).unwrap().as_slice())
                .unwrap();
        }
        reading.summary()
    };
    let parallel = {
        let mut reading = Exposures::new(&plan);
        reading
            .read("exposures.jsonl", exposures.as_bytes())
            .unwrap();
        let mut reading = reading.finish();
        reading.read_files(&paths).unwrap();
        reading.summary()
    };
    assert_eq!(parallel, sequential);
    assert_eq!(parallel.csv(), EXPECTED_CSV);
    let shown: Vec<String> = parallel
        .events
        .input
        .malformed_shown
        .iter()
        .map(|l| {
            format!(
                "{}:{}",
                Path::new(&l.file).file_name().unwrap().to_str().unwrap(),
                l.line
            )
        })
        .collect();
    assert_eq!(
        shown,
        ["events-0.jsonl:4", "events-0.jsonl:5", "events-4.jsonl:4"]
    );

    let mut reading = Exposures::new(&plan).finish();
    let missing = dir.path().join("missing.jsonl");
    let error = reading
        .read_files(&[paths[0].clone(), missing.clone(), paths[1].clone()])
        .unwrap_err();
    assert_eq!(error.file, missing.display().to_string());
}

/// Without definitions there is nothing to aggregate raw data by.
#[test]
fn a_metric_without_a_definition_cannot_be_computed() {
    let project = "name = \"shop\"\nenvironments = [\"staging\", \"production\"]\n\n[attributes]\nemail = { type = \"string\" }\n\n[holdouts.h]\npercent = 10\ndescription = \"Never sees an experiment\"\n";
    let experiment = EXPERIMENT.split("[primary]").next().unwrap().to_owned()
        + "[primary]\nname = \"bought\"\nkind = \"binomial\"\nbaseline = 0.1\n";
    let dir = repo(&[
        ("flagstone.toml", project.as_bytes()),
        ("flags/f.toml", FLAG.as_bytes()),
        ("experiments/e.toml", experiment.as_bytes()),
    ]);
    // Only the warning that the end comes too early to detect the effect.
    assert_eq!(
        crate::support::findings(dir.path()),
        ["FS071 experiments/e.toml:6:7"]
    );
    let repo = flagstone::load::load(dir.path()).unwrap();
    let error = Plan::new(&repo, &design(&repo, "e", None).unwrap()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "metric `bought` has no definition in flagstone.toml [metrics]: raw data is aggregated by its definition"
    );
}
