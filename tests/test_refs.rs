//! `flagstone refs`: flag references in source code.

use flagstone::model::AliasStyle;
use flagstone::refs::words;

use crate::support::{PROJECT, commit, repo, run};

const NOW: &str = "2026-11-26";

fn flag(kind: &str, expires: &str) -> Vec<u8> {
    let expires = if expires.is_empty() {
        String::new()
    } else {
        format!("expires = {expires}\n")
    };
    format!("description = \"d\"\nowners = [\"alice\"]\nkind = \"{kind}\"\n{expires}").into_bytes()
}

/// A flags repository at `flags/` and, beside it, a source tree in several languages at
/// `app/`, with files that must not be read: ignored by .gitignore, hidden, binary.
fn workspace() -> tempfile::TempDir {
    let one_page = flag("release", "2027-06-30");
    let spring_sale = flag("experiment", "2026-03-01");
    let typeahead = flag("ops", "");
    let mut too_large = b"use(\"search/typeahead\");\n".repeat(200_000);
    too_large.truncate(4 * 1024 * 1024 + 1);
    repo(&[
        ("flags/flagstone.toml", PROJECT),
        ("flags/flags/checkout/one-page.toml", &one_page),
        ("flags/flags/promo/spring-sale.toml", &spring_sale),
        ("flags/flags/search/typeahead.toml", &typeahead),
        // The flags repository's own files name flags, but are not code.
        (
            "flags/tests/smoke.toml",
            b"[[cases]]\nname = \"n\"\nenv = \"production\"\ncontext = {}\nvariants = { \"search/typeahead\" = \"on\" }\n",
        ),
        (
            "app/web/checkout.ts",
            b"import { flags } from \"./flags\";\n\
              if (flags.bool(\"checkout/one-page\", false)) {\n\
              \x20 redirect(\"checkout/success\");\n\
              }\n\
              const typo = flags.bool('checkout/one-pgae');\n\
              const banner = flags.bool(`promo/spring-sale`);\n",
        ),
        (
            "app/server/views.py",
            b"from flags import FLAGS\n\nif client.enabled(FLAGS.CHECKOUT_ONE_PAGE):\n    pass\nSHOUTED = client.enabled(\"Checkout/One-Page\")\n",
        ),
        (
            "app/go/promo.go",
            b"package promo\n\nfunc Banner() bool { return flags.Bool(PromoSpringSale) }\n",
        ),
        // Latin-1, not UTF-8: its references are still found.
        (
            "app/legacy.rb",
            b"# caf\xe9\nputs \"d\xe9j\xe0\" if feature?(\"checkout/one-page\")\n",
        ),
        ("app/.gitignore", b"generated/\n"),
        (
            "app/generated/client.ts",
            b"export const key = \"search/typeahead\";\n",
        ),
        ("app/.cache/old.js", b"use(\"search/typeahead\")\n"),
        ("app/bundle.js", &too_large),
        ("app/logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\"search/typeahead\""),
    ])
}

const HUMAN: &str = "\
app/go/promo.go:3:40: warning: expired flag `promo/spring-sale` (as `PromoSpringSale`): it expired on 2026-03-01; remove this code, then the flag, or extend `expires`
app/server/views.py:5:27: error: undefined flag `Checkout/One-Page`; did you mean `checkout/one-page`?
app/web/checkout.ts:5:26: error: undefined flag `checkout/one-pgae`; did you mean `checkout/one-page`?
app/web/checkout.ts:6:28: warning: expired flag `promo/spring-sale`: it expired on 2026-03-01; remove this code, then the flag, or extend `expires`
flags/flags/search/typeahead.toml:1:1: warning: flag `search/typeahead` is never referenced; remove it, unless code outside the scanned paths reads it
note: removed flags are not detected: flags is not in a git repository
✗ 4 files scanned (1 binary, 1 over 4 MiB skipped); 5 references to 2 of 3 flags: 2 errors, 3 warnings
";

#[test]
fn finds_keys_and_aliases_in_every_language_and_reports_each_problem() {
    let work = workspace();
    let (code, stdout, stderr) = run(
        &["refs", "--dir", "flags", "--code", "app", "--now", NOW],
        work.path(),
    );
    assert_eq!((code, stderr.as_str()), (1, ""), "{stdout}");
    assert_eq!(stdout, HUMAN);
    // Scanning everything, the flags repository's own files are left out.
    let (_, stdout, _) = run(
        &["refs", "--dir", "flags", "--code", ".", "--now", NOW],
        work.path(),
    );
    assert_eq!(stdout, HUMAN);
}

#[test]
fn json_lists_findings_references_and_counts() {
    let work = workspace();
    let (code, stdout, _) = run(
        &[
            "refs", "--dir", "flags", "--code", "app", "--now", NOW, "--format", "json",
        ],
        work.path(),
    );
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["findings"][1],
        serde_json::json!({
            "kind": "undefined",
            "severity": "error",
            "flag": "Checkout/One-Page",
            "file": "app/server/views.py",
            "line": 5,
            "column": 27,
            "message": "undefined flag `Checkout/One-Page`",
            "help": "did you mean `checkout/one-page`?",
        })
    );
    assert_eq!(report["findings"][0]["text"], "PromoSpringSale");
    let references: Vec<String> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}:{} {} {}",
                r["file"].as_str().unwrap(),
                r["line"],
                r["column"],
                r["flag"].as_str().unwrap(),
                r["text"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        references,
        [
            "app/go/promo.go:3:40 promo/spring-sale PromoSpringSale",
            // The column counts the invalid byte as one character.
            "app/legacy.rb:2:26 checkout/one-page checkout/one-page",
            "app/server/views.py:3:25 checkout/one-page CHECKOUT_ONE_PAGE",
            "app/web/checkout.ts:2:17 checkout/one-page checkout/one-page",
            "app/web/checkout.ts:6:28 promo/spring-sale promo/spring-sale",
        ]
    );
    assert_eq!(
        report["files"],
        serde_json::json!({"scanned": 4, "binary": 1, "too_large": 1, "unreadable": []})
    );
    assert_eq!(
        (
            &report["flags"],
            &report["referenced_flags"],
            &report["history"]
        ),
        (
            &serde_json::json!(3),
            &serde_json::json!(2),
            &serde_json::Value::Null
        )
    );
}

#[test]
fn github_annotations_and_markdown_summary() {
    let work = workspace();
    let summary = work.path().join("summary.md");
    let output = crate::support::flagstone()
        .args([
            "refs", "--dir", "flags", "--code", "app/web", "--now", NOW, "--format", "github",
        ])
        .current_dir(work.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "::error file=app/web/checkout.ts,line=5,col=26,title=flagstone refs%3A undefined::undefined flag `checkout/one-pgae`%0Ahelp: did you mean `checkout/one-page`?
::warning file=app/web/checkout.ts,line=6,col=28,title=flagstone refs%3A expired::expired flag `promo/spring-sale`: it expired on 2026-03-01%0Ahelp: remove this code, then the flag, or extend `expires`
::warning file=flags/flags/search/typeahead.toml,line=1,col=1,title=flagstone refs%3A unreferenced::flag `search/typeahead` is never referenced%0Ahelp: remove it, unless code outside the scanned paths reads it
"
    );
    assert_eq!(
        std::fs::read_to_string(summary).unwrap(),
        "### flagstone refs: 1 error, 2 warnings

1 file scanned; 2 references to 2 of 3 flags.

> [!NOTE]
> removed flags are not detected: flags is not in a git repository.

| | finding | location | message |
|---|---|---|---|
| ❌ | undefined | `app/web/checkout.ts:5:26` | undefined flag <code>checkout/one-pgae</code> — did you mean <code>checkout/one-page</code>? |
| ⚠️ | expired | `app/web/checkout.ts:6:28` | expired flag <code>promo/spring-sale</code>\\: it expired on 2026-03-01 — remove this code, then the flag, or extend <code>expires</code> |
| ⚠️ | unreferenced | `flags/flags/search/typeahead.toml:1:1` | flag <code>search/typeahead</code> is never referenced — remove it, unless code outside the scanned paths reads it |
"
    );
}

#[test]
fn a_flag_deleted_in_git_history_is_an_error_where_code_still_reads_it() {
    let work = workspace();
    let repository = git2::Repository::init(work.path()).unwrap();
    let banner = flag("ops", "");
    std::fs::create_dir_all(work.path().join("flags/flags/legacy")).unwrap();
    std::fs::write(work.path().join("flags/flags/legacy/banner.toml"), banner).unwrap();
    let with_banner = commit(&repository, "add legacy/banner");
    std::fs::remove_file(work.path().join("flags/flags/legacy/banner.toml")).unwrap();
    commit(&repository, "remove legacy/banner");
    std::fs::write(
        work.path().join("app/banner.js"),
        "if (flags.bool(\"legacy/banner\")) show(LEGACY_BANNER);\n",
    )
    .unwrap();
    let (code, stdout, _) = run(
        &[
            "refs",
            "--dir",
            "flags",
            "--code",
            "app/banner.js",
            "--now",
            NOW,
        ],
        work.path(),
    );
    assert_eq!(code, 1, "{stdout}");
    let short = &with_banner.to_string()[..12];
    assert_eq!(
        stdout,
        format!(
            "app/banner.js:1:17: error: removed flag `legacy/banner`; it is no longer in the flags repository (last in commit {short}): remove this code
app/banner.js:1:39: error: removed flag `legacy/banner` (as `LEGACY_BANNER`); it is no longer in the flags repository (last in commit {short}): remove this code
flags/flags/checkout/one-page.toml:1:1: warning: flag `checkout/one-page` is never referenced; remove it, unless code outside the scanned paths reads it
flags/flags/promo/spring-sale.toml:1:1: warning: flag `promo/spring-sale` is never referenced; remove it, unless code outside the scanned paths reads it
flags/flags/search/typeahead.toml:1:1: warning: flag `search/typeahead` is never referenced; remove it, unless code outside the scanned paths reads it
✗ 1 file scanned; 2 references to 0 of 3 flags: 2 errors, 3 warnings
"
        )
    );
}

#[test]
fn refs_config_sets_delimiters_aliases_and_exclusions_and_options_override_it() {
    let project = [
        PROJECT,
        b"\n[refs]\ndelimiters = [\"(\", \")\"]\naliases = [\"kebab-case\"]\nexclude = [\"*.min.js\"]\n",
    ]
    .concat();
    let one_page = flag("release", "2027-06-30");
    let work = repo(&[
        ("flagstone.toml", &project),
        ("flags/checkout/one-page.toml", &one_page),
        (
            "src/page.html",
            b"<div class=\"checkout-one-page\">{{ flag(checkout/one-page) }}</div>\n\
              <p class=\"checkout-one-page-footer\">\"checkout/one-page\" CHECKOUT_ONE_PAGE</p>\n",
        ),
        ("src/vendor.min.js", b"f(checkout/one-page)\n"),
    ]);
    let references = |extra: &[&str]| {
        let args = [
            &["refs", "--code", "src", "--now", NOW, "--format", "json"],
            extra,
        ]
        .concat();
        let (code, stdout, stderr) = run(&args, work.path());
        assert_eq!(code, 0, "{stderr}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        report["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}:{}:{} {}",
                    r["file"].as_str().unwrap(),
                    r["line"],
                    r["column"],
                    r["text"].as_str().unwrap()
                )
            })
            .collect::<Vec<String>>()
    };
    // The flags repository is the current directory, so its files are not scanned either.
    assert_eq!(
        references(&[]),
        [
            "src/page.html:1:13 checkout-one-page",
            "src/page.html:1:40 checkout/one-page"
        ]
    );
    assert_eq!(
        references(&["--delimiter", "\"", "--alias", "SCREAMING_SNAKE_CASE"]),
        [
            "src/page.html:2:38 checkout/one-page",
            "src/page.html:2:57 CHECKOUT_ONE_PAGE"
        ]
    );
    assert_eq!(
        references(&["--delimiter", "\"", "--alias", "none"]),
        ["src/page.html:2:38 checkout/one-page"]
    );
}

#[test]
fn warnings_alone_pass() {
    let work = workspace();
    let (code, stdout, _) = run(
        &["refs", "--dir", "flags", "--code", "app/go", "--now", NOW],
        work.path(),
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.ends_with("! 1 file scanned; 1 reference to 1 of 3 flags: 0 errors, 3 warnings\n"),
        "{stdout}"
    );
}

#[test]
fn usage_and_input_errors_exit_2() {
    let work = workspace();
    for (args, message) in [
        (
            &["refs", "--dir", "flags", "--now", NOW, "--code", "nowhere"][..],
            "error: nowhere does not exist\n",
        ),
        (
            &["refs", "--dir", "app", "--now", NOW, "--code", "app"][..],
            "error: app is not a flags repository: it has neither flagstone.toml nor flags/\n",
        ),
    ] {
        let (code, _, stderr) = run(args, work.path());
        assert_eq!((code, stderr.as_str()), (2, message));
    }
    let (code, _, stderr) = run(
        &[
            "refs",
            "--dir",
            "flags",
            "--now",
            NOW,
            "--code",
            "app",
            "--alias",
            "Title Case",
        ],
        work.path(),
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`Title Case` is not an alias style: camelCase, PascalCase, snake_case, SCREAMING_SNAKE_CASE, kebab-case, or none"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["refs", "--dir", "flags", "--now", NOW], work.path());
    assert_eq!(code, 2, "--code is required: {stderr}");
}

#[test]
fn aliases_split_keys_into_words() {
    assert_eq!(words("checkout/one-page"), ["checkout", "one", "page"]);
    assert_eq!(words("ai/newModel_v2"), ["ai", "new", "model", "v2"]);
    assert_eq!(words("api/v3-endpoints"), ["api", "v3", "endpoints"]);
    let aliases: Vec<String> = AliasStyle::ALL
        .iter()
        .map(|s| s.alias("checkout/one-page").unwrap())
        .collect();
    assert_eq!(
        aliases,
        [
            "checkoutOnePage",
            "CheckoutOnePage",
            "checkout_one_page",
            "CHECKOUT_ONE_PAGE",
            "checkout-one-page"
        ]
    );
    // One word is too common an identifier to mean the flag.
    assert_eq!(AliasStyle::Snake.alias("beta"), None);
}
