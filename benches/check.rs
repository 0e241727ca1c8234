//! `flagstone check` on synthetic repositories (see benches/support/synth.rs), and on a flood
//! of findings: `cargo bench --bench check`

#[path = "support/repository.rs"]
mod repository;
#[path = "support/synth.rs"]
mod synth;

use std::sync::OnceLock;

use repository::{options, repository};

fn main() {
    divan::main();
}

/// Load (walk, read, parse, schema-validate, deserialize) and check a whole repository.
#[divan::bench(args = [1_000, 10_000], sample_count = 20, sample_size = 1)]
fn check(bencher: divan::Bencher, flags: usize) {
    let dir = repository(flags);
    let options = options();
    bencher.bench(|| {
        let repo = flagstone::load::load(&dir).unwrap();
        let diagnostics = flagstone::check::check(&repo, &options).diagnostics;
        assert!(diagnostics.is_empty(), "{:?}", diagnostics.first());
        diagnostics.len()
    });
}

/// A repository whose one flag has `tags` of 100,000 numbers where strings belong: 600 KB, and
/// 100,000 findings before grouping.
fn flood() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let tags = vec!["1234"; 100_000].join(", ");
        let flag =
            format!("description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\ntags = [{tags}]\n");
        std::fs::create_dir(dir.path().join("flags")).unwrap();
        std::fs::write(dir.path().join("flags/big.toml"), flag).unwrap();
        std::fs::write(
            dir.path().join("flagstone.toml"),
            "name = \"acme\"\nenvironments = [\"production\"]\n",
        )
        .unwrap();
        dir
    })
    .path()
}

/// `check` of the flood end to end in process: load, check, group, render (under 1 MB).
#[divan::bench(args = ["human", "json"], sample_count = 20, sample_size = 1)]
fn flood_600_kb(bencher: divan::Bencher, format: &str) {
    let dir = flood();
    let options = options();
    bencher.bench(|| {
        let repo = flagstone::load::load(dir).unwrap();
        let diagnostics = flagstone::check::check(&repo, &options).diagnostics;
        let mut out = Vec::new();
        match format {
            "human" => flagstone::cli::render::human::diagnostics(&mut out, &repo, &diagnostics),
            _ => flagstone::cli::render::json::diagnostics(&mut out, &repo, &diagnostics),
        }
        .unwrap();
        assert!(out.len() < 1_000_000, "{} bytes", out.len());
        out.len()
    });
}

/// A repository of 1,000 `ai` flags of four table variants each, every flag naming the one
/// schema `schemas/assistant.json` when `schema` is set (flags.example's), or none.
fn ai_repository(schema: bool) -> &'static std::path::Path {
    static DIRS: OnceLock<[tempfile::TempDir; 2]> = OnceLock::new();
    let dirs = DIRS.get_or_init(|| {
        [false, true].map(|schema| {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            std::fs::create_dir_all(root.join("flags/ai")).unwrap();
            std::fs::create_dir_all(root.join("schemas")).unwrap();
            std::fs::write(
                root.join("flagstone.toml"),
                "name = \"acme\"\nenvironments = [\"staging\", \"production\"]\n",
            )
            .unwrap();
            std::fs::copy(
                concat!(env!("CARGO_MANIFEST_DIR"), "/flags.example/schemas/assistant.json"),
                root.join("schemas/assistant.json"),
            )
            .unwrap();
            let named = if schema {
                "payload_schema = \"schemas/assistant.json\"\n"
            } else {
                ""
            };
            for i in 0..1_000 {
                let variants: String = ["small", "large", "large-eu", "candidate"]
                    .iter()
                    .enumerate()
                    .map(|(v, name)| {
                        format!(
                            "[variants.{name}]\nmodel = \"acme-chat-large-2\"\ntemperature = 0.{v}\n\
                             prompt_version = \"assistant-v{i}\"\nmax_output_tokens = {}\n\n",
                            800 + v
                        )
                    })
                    .collect();
                let flag = format!(
                    "description = \"Assistant {i}\"\nowners = [\"alice\"]\nkind = \"ai\"\n\
                     {named}off_variant = \"small\"\n\n{variants}[env.production]\nserve = \"large\"\n"
                );
                std::fs::write(root.join(format!("flags/ai/assistant-{i}.toml")), flag).unwrap();
            }
            dir
        })
    });
    dirs[usize::from(schema)].path()
}

/// Load and check 1,000 `ai` flags, with and without their payload schema (4,000 payloads
/// validated against one schema compiled once).
#[divan::bench(args = [false, true], sample_count = 20, sample_size = 1)]
fn payload_schema(bencher: divan::Bencher, schema: bool) {
    let dir = ai_repository(schema);
    let options = options();
    bencher.bench(|| {
        let repo = flagstone::load::load(dir).unwrap();
        let diagnostics = flagstone::check::check(&repo, &options).diagnostics;
        assert!(diagnostics.is_empty(), "{:?}", diagnostics.first());
        diagnostics.len()
    });
}
