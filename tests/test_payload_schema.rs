//! `kind = "ai"` and `payload_schema`: each problem of a schema file or of a variant's value is
//! one finding with its code, position and message.

use crate::support::{PROJECT, repo, symlink};

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "model": { "type": "string", "pattern": "^acme-[a-z]+$" },
    "temperature": { "type": "number", "minimum": 0, "maximum": 2 },
    "max_output_tokens": { "type": "integer", "minimum": 1, "maximum": 8192 }
  },
  "required": ["model"],
  "additionalProperties": false
}"#;

/// An `ai` flag naming `schemas/assistant.json`, with `variants` as its variants' TOML.
fn flag(variants: &str) -> String {
    format!(
        "description = \"Assistant\"\nowners = [\"alice\"]\nkind = \"ai\"\n\
         payload_schema = \"schemas/assistant.json\"\noff_variant = \"small\"\n\n[variants]\n{variants}"
    )
}

const VALID: &str = "small = { model = \"acme-small\", temperature = 0.2 }\n\
                     large = { model = \"acme-large\", temperature = 0.2, max_output_tokens = 4000 }\n";

/// "CODE LINE:COLUMN message" of every finding of the repository `files`.
fn check(files: &[(&str, &[u8])]) -> Vec<String> {
    let dir = repo(files);
    detailed(dir.path())
}

fn detailed(dir: &std::path::Path) -> Vec<String> {
    let repo = flagstone::load::load(dir).unwrap();
    flagstone::check::check(&repo, &crate::support::options())
        .diagnostics
        .iter()
        .map(|d| {
            let p = flagstone::cli::render::position(&repo, d);
            format!(
                "{} {}:{}:{} {}",
                d.code.as_str(),
                d.file,
                p.start.line,
                p.start.column,
                d.message
            )
        })
        .collect()
}

fn with_flag(variants: &str, schema: &str) -> Vec<String> {
    let flag = flag(variants);
    check(&[
        ("flagstone.toml", PROJECT),
        ("flags/assistant.toml", flag.as_bytes()),
        ("schemas/assistant.json", schema.as_bytes()),
    ])
}

#[test]
fn a_valid_repository_stays_clean() {
    assert_eq!(with_flag(VALID, SCHEMA), Vec::<String>::new());
}

#[test]
fn a_misspelt_parameter_is_located_at_its_variant() {
    let variants = "small = { model = \"acme-small\", temprature = 0.2 }\n";
    assert_eq!(
        with_flag(variants, SCHEMA),
        [
            "FS085 flags/assistant.toml:8:9 variant `small`: /temprature: additional property not allowed"
        ]
    );
}

#[test]
fn a_misspelt_parameter_suggests_the_allowed_one() {
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        (
            "flags/assistant.toml",
            flag("small = { model = \"acme-small\", temprature = 0.2 }\n").as_bytes(),
        ),
        ("schemas/assistant.json", SCHEMA.as_bytes()),
    ]);
    let repo = flagstone::load::load(dir.path()).unwrap();
    let report = flagstone::check::check(&repo, &crate::support::options());
    let helps: Vec<_> = report.diagnostics.iter().map(|d| d.help.clone()).collect();
    assert_eq!(helps, [Some("did you mean `temperature`?".to_owned())]);
}

#[test]
fn wrong_types_and_out_of_range_numbers_name_the_place_in_the_payload() {
    let variants = "small = { model = \"acme-small\", max_output_tokens = \"800\" }\n\
                    large = { model = \"gpt-4\", temperature = 2.5, max_output_tokens = 0 }\n";
    assert_eq!(
        with_flag(variants, SCHEMA),
        [
            "FS085 flags/assistant.toml:8:9 variant `small`: /max_output_tokens: expected an integer, found a string",
            "FS085 flags/assistant.toml:9:9 variant `large`: /max_output_tokens: must be at least 1",
            "FS085 flags/assistant.toml:9:9 variant `large`: /model: must match the pattern \"^acme-[a-z]+$\"",
            "FS085 flags/assistant.toml:9:9 variant `large`: /temperature: must be at most 2",
        ]
    );
}

#[test]
fn a_missing_schema_file_is_located_at_the_path() {
    let flag = flag(VALID);
    assert_eq!(
        check(&[
            ("flagstone.toml", PROJECT),
            ("flags/assistant.toml", flag.as_bytes()),
        ]),
        [
            "FS084 flags/assistant.toml:4:18 payload schema `schemas/assistant.json`: the file does not exist"
        ]
    );
}

#[test]
fn a_schema_that_is_not_json_is_reported() {
    assert_eq!(
        with_flag(VALID, "model: string\n"),
        [
            "FS084 flags/assistant.toml:4:18 payload schema `schemas/assistant.json`: the file is not JSON: expected value at line 1 column 1"
        ]
    );
}

#[test]
fn an_invalid_schema_is_reported() {
    let schema = r#"{ "properties": { "temperature": { "maximum": "2" } } }"#;
    assert_eq!(
        with_flag(VALID, schema),
        [
            "FS084 flags/assistant.toml:4:18 payload schema `schemas/assistant.json`: not a valid JSON Schema: at /properties/temperature/maximum: value is not of type \"number\""
        ]
    );
}

#[test]
fn a_remote_reference_is_a_finding_not_a_fetch() {
    let schema = r#"{ "$ref": "https://schemas.example.com/assistant.json" }"#;
    assert_eq!(
        with_flag(VALID, schema),
        [
            "FS084 flags/assistant.toml:4:18 payload schema `schemas/assistant.json`: `$ref` https://schemas.example.com/assistant.json is not inside the file, and nothing is fetched"
        ]
    );
}

#[test]
fn a_schema_path_may_not_leave_the_repository() {
    for (path, why) in [
        (
            "../assistant.json",
            "the path must lead down from the repository root: no `.`, `..` or `//`",
        ),
        (
            "schemas/../../assistant.json",
            "the path must lead down from the repository root: no `.`, `..` or `//`",
        ),
        (
            "/etc/assistant.json",
            "the path must be relative to the repository root, with `/` between names",
        ),
    ] {
        let flag = flag(VALID).replace("schemas/assistant.json", path);
        assert_eq!(
            check(&[
                ("flagstone.toml", PROJECT),
                ("flags/assistant.toml", flag.as_bytes()),
                ("schemas/assistant.json", SCHEMA.as_bytes()),
            ]),
            [format!(
                "FS084 flags/assistant.toml:4:18 payload schema `{path}`: {why}"
            )]
        );
    }
}

#[test]
fn a_schema_reached_through_a_symbolic_link_is_not_read() {
    let outside = repo(&[("assistant.json", SCHEMA.as_bytes())]);
    let flag = flag(VALID);
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/assistant.toml", flag.as_bytes()),
    ]);
    symlink(
        outside.path().to_str().unwrap(),
        &dir.path().join("schemas"),
    );
    assert_eq!(
        detailed(dir.path()),
        [
            "FS084 flags/assistant.toml:4:18 payload schema `schemas/assistant.json`: symbolic links are not followed"
        ]
    );
}

#[test]
fn an_ai_flag_needs_table_variants() {
    let flag = "description = \"Assistant\"\nowners = [\"alice\"]\nkind = \"ai\"\n\
                off_variant = \"small\"\n\n[variants]\nsmall = \"acme-small\"\nlarge = \"acme-large\"\n";
    assert_eq!(
        check(&[
            ("flagstone.toml", PROJECT),
            ("flags/assistant.toml", flag.as_bytes()),
        ]),
        [
            "FS012 flags/assistant.toml:7:9 variant `small` of an `ai` flag must be a table, found a string",
            "FS012 flags/assistant.toml:8:9 variant `large` of an `ai` flag must be a table, found a string",
        ]
    );
}

#[test]
fn many_flags_share_one_schema_and_findings_keep_their_order() {
    let bad = flag("small = { model = \"acme-small\", temprature = 0.2 }\n");
    let good = flag(VALID);
    let findings = check(&[
        ("flagstone.toml", PROJECT),
        ("flags/b.toml", bad.as_bytes()),
        ("flags/a.toml", good.as_bytes()),
        ("flags/c.toml", bad.as_bytes()),
        ("schemas/assistant.json", SCHEMA.as_bytes()),
    ]);
    assert_eq!(
        findings,
        [
            "FS085 flags/b.toml:8:9 variant `small`: /temprature: additional property not allowed",
            "FS085 flags/c.toml:8:9 variant `small`: /temprature: additional property not allowed",
        ]
    );
}

#[test]
fn a_schema_is_read_from_the_revision_checked() {
    let flag = flag("small = { model = \"acme-small\", temprature = 0.2 }\n");
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/assistant.toml", flag.as_bytes()),
        ("schemas/assistant.json", SCHEMA.as_bytes()),
    ]);
    let repository = git2::Repository::init(dir.path()).unwrap();
    crate::support::commit(&repository, "flags");
    // The work tree's schema is gone; the commit's is what counts.
    std::fs::remove_file(dir.path().join("schemas/assistant.json")).unwrap();
    let git = flagstone::git::Repository::discover(dir.path()).unwrap();
    let repo =
        flagstone::load::load_revision(&git, "HEAD", std::path::Path::new(""), None).unwrap();
    let messages: Vec<_> = flagstone::check::check(&repo, &crate::support::options())
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect();
    assert_eq!(
        messages,
        ["FS085 variant `small`: /temprature: additional property not allowed"]
    );
}
