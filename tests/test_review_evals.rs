//! `[[review.rules]] evals`: a changed AI payload merges with eval evidence. flags.example's
//! rule asks for `evals/{flag}/{variant}.csv` with at most a 2% regression, 30 cases, and
//! lets one of @ai (grace, hiro) accept an inconclusive result; its toy harness
//! (evals/harness.sh) replays grades recorded per prompt version: assistant-v8-rc3 regresses
//! on SQL answers, assistant-v8-rc4 improves. Its committed report is of the change from rc1
//! to rc2: stale for any later change.

use serde_json::Value;

use crate::support::{NOW, run};
use crate::test_review::{Pr, reviews};

const MODEL: &str = "flags/ai/assistant-model.toml";
const REPORT: &str = "evals/ai/assistant-model/prompt-v8-candidate.csv";
const RC2: &str = "prompt_version = \"assistant-v8-rc2\"";
/// The payload hash of the variant on prompt rc1, the baseline of the example's report.
const RC1: &str = "0deb6ca2e799b83c4a390d263a40c812d11d2228a7afa513866e753ba23814e2";

/// The example's committed report, as flags.example has it.
fn example_report() -> String {
    std::fs::read_to_string(crate::support::root().join("flags.example").join(REPORT)).unwrap()
}

/// The prompt of the variant `prompt-v8-candidate` changed to `version`, committed.
fn change_prompt(pr: &Pr, version: &str) -> String {
    pr.edit(MODEL, RC2, &format!("prompt_version = \"{version}\""));
    pr.commit()
}

/// Runs the harness on the changes since the base, in the work tree.
fn run_harness(pr: &Pr, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "evals",
        "run",
        "--dir",
        "flags",
        "--base",
        &pr.base,
        "--command",
        "sh flags/evals/harness.sh",
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    run(&args, pr.work.path())
}

/// The payload hash of `variant` of ai/assistant-model at `rev`.
fn payload_hash(pr: &Pr, rev: &str, variant: &str) -> String {
    let args = [
        "evals",
        "payload",
        "ai/assistant-model",
        variant,
        "--hash",
        "--rev",
        rev,
        "--dir",
        "flags",
    ];
    let (code, stdout, stderr) = run(&args, pr.work.path());
    assert_eq!(code, 0, "{stderr}");
    stdout.trim().to_owned()
}

/// The review's eval gate on the variant, and the verdict.
fn eval_gate(pr: &Pr, reviews_json: &str) -> (i32, String, Value) {
    let (code, report) = pr.review_json("zed", reviews_json);
    let gate = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|c| c.get("eval"))
        .cloned()
        .unwrap_or(Value::Null);
    (code, report["verdict"].as_str().unwrap().to_owned(), gate)
}

/// The human review's first line and its lines about the payload.
fn human_gate(pr: &Pr) -> Vec<String> {
    let (_, stdout, stderr) = pr.review_with("zed", "[]", &[]);
    let mut lines: Vec<String> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("payload of flag"))
        .take_while(|l| l.starts_with("payload") || l.starts_with("  "))
        .map(str::to_owned)
        .collect();
    lines.insert(0, stdout.lines().next().unwrap_or(&stderr).to_owned());
    lines
}

/// Approvals of `head` from an owner of the flag and both of @platform: every approval
/// flags.example's policy asks of a production payload change.
fn every_approval(head: &str) -> String {
    reviews(&[
        ("grace", "APPROVED", head),
        ("carol", "APPROVED", head),
        ("farid", "APPROVED", head),
    ])
}

#[test]
fn a_prompt_change_is_held_until_its_eval_passes() {
    let pr = Pr::new();
    change_prompt(&pr, "assistant-v8-rc3");
    assert_eq!(
        human_gate(&pr),
        [
            "review: blocked: a changed AI payload lacks passing evals",
            "payload of flag `ai/assistant-model` variant `prompt-v8-candidate`",
            "  - eval report `evals/ai/assistant-model/prompt-v8-candidate.csv` (rule `AI evals`), compared with its base version",
            &format!(
                "  - STALE, does not count: evals/ai/assistant-model/prompt-v8-candidate.csv:2: column `baseline_payload`: \"{RC1}\" is not the payload compared ({}): these scores are of another version of the variant",
                payload_hash(&pr, &pr.base, "prompt-v8-candidate")
            ),
            "  evals [AI evals]: stale: the gate stays closed",
        ]
    );

    // The harness scores the new prompt worse on SQL answers: a regression blocks.
    let (code, stdout, stderr) = run_harness(&pr, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "wrote evals/ai/assistant-model/prompt-v8-candidate.csv: 48 cases scored, `ai/assistant-model` variant `prompt-v8-candidate` against its base version\n"
    );
    let head = pr.commit();
    assert_eq!(
        human_gate(&pr),
        [
            "review: blocked: a changed AI payload lacks passing evals",
            "payload of flag `ai/assistant-model` variant `prompt-v8-candidate`",
            "  - eval report `evals/ai/assistant-model/prompt-v8-candidate.csv` (rule `AI evals`), compared with its base version",
            "  - REGRESSION: the interval is below the tolerated regression: the head scores worse; 48 cases, mean score 0.6042 → 0.5208; improvement 95% interval [-0.1354, -0.03125], tolerated regression 0.01208",
            "  - most regressed: `retention-query-1` 1 → 0.5, `null-handling-1` 0.5 → 0, `date-trunc-1` 1 → 0.5, `top-n-1` 1 → 0.5, `sql-window-2` 1 → 0.5",
            "  evals [AI evals]: regression: the gate stays closed",
        ]
    );
    // Approvals do not open a failing gate.
    let (code, verdict, gate) = eval_gate(&pr, &every_approval(&head));
    assert_eq!((code, verdict.as_str()), (1, "evals_failing"));
    assert_eq!(gate["status"], "regression");
    assert_eq!(gate["comparison"]["worst"][0]["id"], "retention-query-1");

    // rc4 fixes the SQL answers; the report is written again for it and passes.
    pr.edit(MODEL, "assistant-v8-rc3", "assistant-v8-rc4");
    assert_eq!(run_harness(&pr, &[]).0, 0);
    let head = pr.commit();
    let lines = human_gate(&pr);
    assert_eq!(
        lines[3],
        "  - PASS: the interval is above the tolerated regression; 48 cases, mean score 0.6042 → 0.6771; improvement 95% interval [0.03125, 0.125], tolerated regression 0.01208"
    );
    assert_eq!(lines[0], "review: approvals missing");
    let (code, verdict, gate) = eval_gate(&pr, &every_approval(&head));
    assert_eq!((code, verdict.as_str()), (0, "approved"), "{gate:#}");
    assert_eq!(gate["status"], "pass");
    assert_eq!(gate["satisfied"], true);
    assert_eq!(
        gate["candidate_payload"],
        payload_hash(&pr, &head, "prompt-v8-candidate")
    );
    assert_eq!(
        gate["baseline_payload"],
        payload_hash(&pr, &pr.base, "prompt-v8-candidate")
    );
}

#[test]
fn the_report_is_its_flag_owners_to_approve() {
    let pr = Pr::new();
    change_prompt(&pr, "assistant-v8-rc4");
    run_harness(&pr, &[]);
    let head = pr.commit();
    let (_, report) = pr.review_json("zed", &reviews(&[("hiro", "APPROVED", &head)]));
    let file = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["change"] == format!("file `flags/{REPORT}`"))
        .unwrap();
    assert_eq!(
        file["requirements"][0]["eligible"],
        serde_json::json!(["grace", "hiro"])
    );
    assert_eq!(file["requirements"][0]["missing"], 0);
}

/// Writes the report with these rows after the header, for the base's and the head's
/// payloads of the variant unless a row names its own.
fn write_report(pr: &Pr, head: &str, rows: &[String]) -> String {
    let base = payload_hash(pr, &pr.base, "prompt-v8-candidate");
    let candidate = payload_hash(pr, head, "prompt-v8-candidate");
    let mut text = String::from("case_id,baseline,candidate,baseline_payload,candidate_payload\n");
    for row in rows {
        let row = row.replace("{base}", &base).replace("{head}", &candidate);
        text.push_str(&row);
        text.push('\n');
    }
    std::fs::create_dir_all(pr.path(REPORT).parent().unwrap()).unwrap();
    std::fs::write(pr.path(REPORT), text).unwrap();
    pr.commit()
}

/// `n` cases scoring `baseline` and `candidate`, alternating with `baseline ± spread`.
fn rows(n: usize, baseline: f64, candidate: f64, spread: f64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let wobble = if i % 2 == 0 { spread } else { -spread };
            format!(
                "case-{i},{baseline},{},{{base}},{{head}}",
                candidate + wobble
            )
        })
        .collect()
}

#[test]
fn bad_reports_are_located_and_keep_the_gate_closed() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "case-1,0.5,,{base},{head}",
            "invalid",
            "evals/ai/assistant-model/prompt-v8-candidate.csv:3: column `candidate`: \"\" is not a number",
        ),
        (
            "case-1,,0.5,{base},{head}",
            "invalid",
            "evals/ai/assistant-model/prompt-v8-candidate.csv:3: column `baseline`: \"\" is not a number",
        ),
        (
            "case-0,0.5,0.5,{base},{head}",
            "invalid",
            "evals/ai/assistant-model/prompt-v8-candidate.csv:3: case \"case-0\" is already on line 2",
        ),
        (
            "case-1,good,0.5,{base},{head}",
            "invalid",
            "evals/ai/assistant-model/prompt-v8-candidate.csv:3: column `baseline`: \"good\" is not a number",
        ),
        (
            "case-1,0.5,NaN,{base},{head}",
            "invalid",
            "evals/ai/assistant-model/prompt-v8-candidate.csv:3: column `candidate`: \"NaN\" is not a finite number",
        ),
        (
            "case-1,0.5,inf,{base},{head}",
            "invalid",
            "evals/ai/assistant-model/prompt-v8-candidate.csv:3: column `candidate`: \"inf\" is not a finite number",
        ),
        (
            "case-1,0.5,0.5,{base},{base}",
            "stale",
            "evals/ai/assistant-model/prompt-v8-candidate.csv:3: column `candidate_payload`: \"{base}\" is not the payload compared ({head}): these scores are of another version of the variant",
        ),
    ];
    for (bad, status, error) in cases {
        let pr = Pr::new();
        change_prompt(&pr, "assistant-v8-rc4");
        let mut lines = vec!["case-0,0.5,0.5,{base},{head}".to_owned(), bad.to_string()];
        lines.extend(rows(40, 0.5, 0.6, 0.1).into_iter().skip(2));
        let head = write_report(&pr, "HEAD", &lines);
        let (code, verdict, gate) = eval_gate(&pr, &every_approval(&head));
        let base = payload_hash(&pr, &pr.base, "prompt-v8-candidate");
        let candidate = payload_hash(&pr, &head, "prompt-v8-candidate");
        let error = error.replace("{base}", &base).replace("{head}", &candidate);
        assert_eq!((code, verdict.as_str()), (1, "evals_failing"), "{bad}");
        assert_eq!(
            (
                gate["status"].as_str().unwrap(),
                gate["error"].as_str().unwrap()
            ),
            (*status, error.as_str()),
            "{bad}"
        );
        assert_eq!(gate["satisfied"], false);
    }
}

#[test]
fn an_inconclusive_eval_needs_the_approval_the_rule_names() {
    let pr = Pr::new();
    change_prompt(&pr, "assistant-v8-rc4");
    // Ten cases that all improve: clear of the margin, but a pass needs 30.
    let head = write_report(&pr, "HEAD", &rows(10, 0.5, 0.6, 0.05));
    let owners = |extra: &[(&str, &str, &str)]| {
        let mut list = vec![
            ("carol", "APPROVED", head.as_str()),
            ("farid", "APPROVED", head.as_str()),
        ];
        list.extend_from_slice(extra);
        reviews(&list)
    };
    let (code, verdict, gate) = eval_gate(&pr, &owners(&[]));
    assert_eq!((code, verdict.as_str()), (1, "approvals_missing"));
    assert_eq!(gate["status"], "inconclusive");
    assert_eq!(gate["comparison"]["cases"], 10);
    assert_eq!(gate["comparison"]["more_cases"], 20);
    let lines = human_gate(&pr);
    assert_eq!(
        lines[3..],
        [
            "  - INCONCLUSIVE: the interval clears the tolerated regression, but a pass needs 30 cases; 10 cases, mean score 0.5 → 0.6; improvement 95% interval [0.07, 0.13], tolerated regression 0.01",
            "  needs 1 from @ai (grace, hiro) [AI evals (accepting an inconclusive eval)]",
            "    1 missing",
            "  evals [AI evals]: inconclusive, accepted by the approvals above",
        ]
    );
    let (code, verdict, _) = eval_gate(&pr, &owners(&[("grace", "APPROVED", &head)]));
    assert_eq!((code, verdict.as_str()), (0, "approved"));

    // With `inconclusive = "block"`, nobody can accept it.
    let mut pr = Pr::new();
    pr.edit(
        "flagstone.toml",
        "inconclusive = { approvals = 1, from = [\"@ai\"] }",
        "inconclusive = \"block\"",
    );
    pr.base = pr.commit();
    change_prompt(&pr, "assistant-v8-rc4");
    let head = write_report(&pr, "HEAD", &rows(10, 0.5, 0.6, 0.05));
    let (code, verdict, gate) = eval_gate(&pr, &every_approval(&head));
    assert_eq!((code, verdict.as_str()), (1, "evals_failing"));
    assert_eq!(
        (gate["status"].as_str(), gate["satisfied"].as_bool()),
        (Some("inconclusive"), Some(false))
    );
}

#[test]
fn a_new_variant_is_compared_with_the_off_variant_of_the_base() {
    let pr = Pr::new();
    pr.edit(
        MODEL,
        "[env.development]",
        "[variants.prompt-v9]\nmodel = \"acme-chat-large-3\"\ntemperature = 0.1\nprompt_version = \"assistant-v8-rc4\"\nmax_output_tokens = 1500\n\n[env.development]",
    );
    pr.commit();
    let (code, verdict, gate) = eval_gate(&pr, "[]");
    assert_eq!((code, verdict.as_str()), (1, "evals_failing"));
    assert_eq!(gate["variant"], "prompt-v9");
    // The base's off variant, `small`: a pull request cannot pick a weak baseline.
    assert_eq!(gate["baseline_variant"], "small");
    assert_eq!(
        gate["baseline_payload"],
        payload_hash(&pr, &pr.base, "small")
    );
    assert_eq!(gate["report"], "evals/ai/assistant-model/prompt-v9.csv");
    assert_eq!(
        human_gate(&pr)[1..],
        [
            "payload of flag `ai/assistant-model` variant `prompt-v9`",
            "  - eval report `evals/ai/assistant-model/prompt-v9.csv` (rule `AI evals`), compared with the base's off variant `small` (the variant is new)",
            "  - MISSING: no report at `evals/ai/assistant-model/prompt-v9.csv`; the rule asks for one per changed variant",
            "  evals [AI evals]: missing: the gate stays closed",
        ]
    );
    let (code, stdout, stderr) = run_harness(&pr, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "wrote evals/ai/assistant-model/prompt-v9.csv: 48 cases scored, `ai/assistant-model` variant `prompt-v9` against the base's `small`\n"
    );
}

#[test]
fn a_pull_request_cannot_drop_the_rule_or_relabel_the_flag_to_skip_its_evals() {
    let pr = Pr::new();
    change_prompt(&pr, "assistant-v8-rc3");
    // The head removes the rule and makes the flag a config flag: the base's policy and kind
    // still judge it.
    let project = std::fs::read_to_string(pr.path("flagstone.toml")).unwrap();
    let cut = project.find("# A changed prompt or model merges").unwrap();
    std::fs::write(pr.path("flagstone.toml"), &project[..cut]).unwrap();
    pr.edit(MODEL, "kind = \"ai\"", "kind = \"config\"");
    pr.edit(MODEL, "payload_schema = \"schemas/assistant.json\"", "");
    pr.commit();
    let (code, verdict, gate) = eval_gate(&pr, "[]");
    assert_eq!((code, verdict.as_str()), (1, "evals_failing"));
    assert_eq!(
        (gate["rule"].as_str(), gate["status"].as_str()),
        (Some("AI evals"), Some("stale"))
    );
}

/// `check --format json` of the repository at `dir`, which must find errors.
fn check_fails(dir: &std::path::Path) -> Value {
    let args = [
        "check",
        "--dir",
        dir.to_str().unwrap(),
        "--now",
        NOW,
        "--format",
        "json",
    ];
    let (code, stdout, stderr) = run(&args, dir);
    assert_eq!(code, 1, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn check_refuses_evals_rules_that_cannot_judge() {
    let dir = crate::support::tempdir();
    crate::support::copy_dir(&crate::support::root().join("flags.example"), dir.path());
    let project = dir.path().join("flagstone.toml");
    let text = std::fs::read_to_string(&project).unwrap();
    let bad = text.replace(
        "reports = \"evals/{flag}/{variant}.csv\"\nmax_regression = \"2%\"",
        "reports = \"../evals/{flag}.csv\"\nmax_regression = \"-2%\"\nalpha = 1",
    ) + "\n[[review.rules]]\nname = \"nobody\"\n\n[[review.rules]]\nname = \"both\"\nfrom = [\"owners\"]\nevals = { reports = \"e/{flag}/{variant}/{x}.csv\", inconclusive = { from = [\"anyone\", \"@nope\"] } }\n\n[[review.rules]]\nname = \"escape\"\nevals = { reports = \"../{flag}/{variant}.csv\", resamples = 0 }\n\n[[review.rules]]\nname = \"spaced\"\nevals = { reports = \"my evals/{flag}/{variant}.csv\" }\n";
    std::fs::write(&project, bad).unwrap();
    let findings = check_fails(dir.path());
    let found: Vec<String> = findings["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{} {} {}",
                d["line"],
                d["column"],
                d["code"].as_str().unwrap(),
                d["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            "152:11 FS013 the eval report pattern \"../evals/{flag}.csv\" has no {variant}: two changed variants would share one report",
            "153:18 FS013 the tolerated regression must be a number ≥ 0 (score units) or a percentage such as \"2%\"",
            "154:9 FS013 alpha must be greater than 0 and less than 1, not 1",
            "161:8 FS011 review rule `nobody` names neither who approves (`from`) nor eval evidence (`evals`)",
            "165:8 FS013 review rule `both` has `evals`, which takes no `from`",
            "166:21 FS013 the eval report pattern \"e/{flag}/{variant}/{x}.csv\" has a placeholder other than {flag} and {variant}",
            "166:76 FS013 `anyone` cannot accept an inconclusive eval",
            "166:86 FS034 unknown team `@nope`",
            "170:21 FS013 the eval report pattern \"../{flag}/{variant}.csv\" must be a relative path of plain names separated by `/`, inside the repository",
            "170:60 FS013 `review.rules[6].evals.resamples`: value is less than the minimum of 1",
            "174:21 FS013 the eval report pattern \"my evals/{flag}/{variant}.csv\" may hold only ASCII letters, digits, `_`, `-`, `.` and `/` besides the placeholders (it becomes a CODEOWNERS path too)",
        ]
    );
    // A value of neither shape: the schema says what it may be.
    let unsure = text.replace(
        "inconclusive = { approvals = 1, from = [\"@ai\"] }",
        "inconclusive = \"maybe\"",
    );
    std::fs::write(&project, unsure).unwrap();
    let findings = check_fails(dir.path());
    let first = &findings["diagnostics"][0];
    assert_eq!(
        (
            first["line"].as_u64(),
            first["message"].as_str(),
            first["help"].as_str()
        ),
        (
            Some(156),
            Some("`review.rules[3].evals.inconclusive` is none of the shapes it may take"),
            Some(
                "What an inconclusive eval result needs: \"block\" (the gate stays closed until more cases decide), or approvals that accept it, e.g. { approvals = 1, from = [\"@ai-leads\"] }."
            )
        )
    );
}

#[test]
fn reports_written_by_ci_are_read_from_a_directory() {
    let pr = Pr::new();
    let head = change_prompt(&pr, "assistant-v8-rc4");
    let out = pr.work.path().join("ci-reports");
    let (code, stdout, stderr) =
        run_harness(&pr, &["--head", &head, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.ends_with("prompt-v8-candidate.csv: 48 cases scored, `ai/assistant-model` variant `prompt-v8-candidate` against its base version\n"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(pr.path(REPORT)).unwrap(),
        example_report()
    );
    let review = |dir: &std::path::Path| {
        let options = ["--format", "json", "--eval-reports", dir.to_str().unwrap()];
        let (_, stdout, stderr) = pr.review_with("zed", "[]", &options);
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stderr}"));
        let changes = report["changes"].as_array().unwrap();
        changes.iter().find_map(|c| c.get("eval")).cloned().unwrap()
    };
    assert_eq!(review(&out)["status"], "pass");
    // A link is no report, wherever it points.
    let linked = pr.work.path().join("linked");
    let inner = linked.join("evals/ai/assistant-model");
    std::fs::create_dir_all(&inner).unwrap();
    std::os::unix::fs::symlink(out.join(REPORT), inner.join("prompt-v8-candidate.csv")).unwrap();
    assert_eq!(review(&linked)["status"], "missing");
}

#[test]
fn harness_failures_are_errors_that_name_the_side() {
    let pr = Pr::new();
    change_prompt(&pr, "assistant-v8-rc4");
    let harness = |command: &str| {
        let args = [
            "evals",
            "run",
            "--dir",
            "flags",
            "--base",
            &pr.base,
            "--command",
            command,
            "--now",
            NOW,
        ];
        let (code, _, stderr) = run(&args, pr.work.path());
        (code, stderr)
    };
    let baseline = "error: the harness's scores of the baseline (`ai/assistant-model` variant `prompt-v8-candidate`)";
    let unpaired = "error: `ai/assistant-model` variant `prompt-v8-candidate`: case";
    let only = |side: &str, cases: &str| {
        format!(
            "if [ \"$FLAGSTONE_SIDE\" = {side} ]; then printf 'case_id,score\\n{cases}'; else printf 'case_id,score\\na,1\\n'; fi"
        )
    };
    let cases: &[(String, String)] = &[
        ("exit 3".into(), "error: the harness on the baseline of `ai/assistant-model` variant `prompt-v8-candidate` failed (exit status: 3)".into()),
        (only("baseline", "a,1\\nb,1\\n"), format!("{unpaired} \"b\" is scored for the baseline but not for the candidate: a paired comparison needs both")),
        (only("candidate", "a,1\\nc,1\\n"), format!("{unpaired} \"c\" is scored for the candidate but not for the baseline: a paired comparison needs both")),
        ("printf 'case_id,score\\na,1\\na,0\\n'".into(), format!("{baseline}:3: case \"a\" is already on line 2")),
        ("printf 'id,score\\na,1\\n'".into(), format!("{baseline}:1: no `case_id` column; the header has `id`, `score`")),
        ("printf 'case_id,score\\na,high\\n'".into(), format!("{baseline}:2: column `score`: \"high\" is not a number")),
        ("printf 'case_id,score\\na,inf\\n'".into(), format!("{baseline}:2: column `score`: \"inf\" is not a finite number")),
        ("true".into(), format!("{baseline}: the file is empty; expected a header `case_id,score` and one row per case")),
    ];
    for (command, error) in cases {
        assert_eq!(harness(command), (2, format!("{error}\n")), "{command}");
    }
    assert_eq!(
        std::fs::read_to_string(pr.path(REPORT)).unwrap(),
        example_report()
    );
}

#[test]
fn the_example_s_report_is_what_the_harness_writes_for_its_last_prompt_change() {
    let mut pr = Pr::new();
    pr.edit(MODEL, RC2, "prompt_version = \"assistant-v8-rc1\"");
    pr.base = pr.commit();
    pr.edit(MODEL, "assistant-v8-rc1", "assistant-v8-rc2");
    std::fs::remove_file(pr.path(REPORT)).unwrap();
    let (code, _, stderr) = run_harness(&pr, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(pr.path(REPORT)).unwrap(),
        example_report()
    );
    assert_eq!(payload_hash(&pr, &pr.base, "prompt-v8-candidate"), RC1);
}
