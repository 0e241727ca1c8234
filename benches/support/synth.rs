//! Synthetic flags repositories for benchmarks: `flags` flags in 100 areas, 3 environments,
//! 50 segments; every flag has, in every environment, a segment rule, an attribute rule and a
//! percentage rollout. Deterministic: the same size gives the same files.

use std::fmt::Write as _;
use std::path::Path;

pub const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];
pub const SEGMENTS: usize = 50;

pub fn write_repo(dir: &Path, flags: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("flags"))?;
    std::fs::create_dir_all(dir.join("segments"))?;
    std::fs::write(dir.join("flagstone.toml"), project())?;
    for s in 0..SEGMENTS {
        std::fs::write(
            dir.join(format!("segments/segment-{s:02}.toml")),
            segment(s),
        )?;
    }
    for f in 0..flags {
        let area = dir.join(format!("flags/area-{:02}", f % 100));
        std::fs::create_dir_all(&area)?;
        std::fs::write(area.join(format!("flag-{f:05}.toml")), flag(f))?;
    }
    Ok(())
}

fn project() -> String {
    let mut out = String::from(
        "name = \"synthetic\"\nenvironments = [\"development\", \"staging\", \"production\"]\n\n[attributes]\n",
    );
    out.push_str(
        "country = { type = \"string\", values = [\"US\", \"CA\", \"DE\", \"FR\", \"JP\"] }\n",
    );
    out.push_str("plan = { type = \"string\", values = [\"free\", \"pro\", \"enterprise\"] }\n");
    out.push_str("app_version = { type = \"semver\" }\nseats = { type = \"number\" }\n");
    out.push_str("email = { type = \"string\" }\n\"org.id\" = { type = \"string\" }\n\n[teams]\n");
    for t in 0..10 {
        let _ = writeln!(out, "team-{t} = [\"user-{t}a\", \"user-{t}b\"]");
    }
    out
}

fn segment(s: usize) -> String {
    format!(
        "description = \"Synthetic segment {s}\"\ninclude = [\"unit-{s}\", \"unit-{}\"]\nif = [{{ attr = \"seats\", op = \"gte\", value = {} }}]\n",
        s + 1000,
        s * 10
    )
}

fn flag(f: usize) -> String {
    let mut out = format!(
        "description = \"Synthetic flag {f}\"\nowners = [\"@team-{}\"]\nkind = \"release\"\nexpires = 2099-01-01\ntags = [\"area-{:02}\"]\n",
        f % 10,
        f % 100
    );
    for (e, env) in ENVIRONMENTS.iter().enumerate() {
        let _ = write!(
            out,
            "\n[env.{env}]\nserve = \"off\"\n\n\
             [[env.{env}.rules]]\nname = \"segment\"\nif = [{{ segment = \"segment-{:02}\" }}]\nserve = \"on\"\n\n\
             [[env.{env}.rules]]\nname = \"countries\"\nif = [{{ attr = \"country\", op = \"in\", values = [\"US\", \"CA\"] }}, {{ attr = \"app_version\", op = \"semver_gte\", value = \"2.{}.0\" }}]\nserve = \"on\"\n\n\
             [[env.{env}.rules]]\nname = \"gradual\"\nrollout = {}\nserve = \"on\"\n",
            (f + e) % SEGMENTS,
            f % 10,
            (f * 7 + e * 13) % 101
        );
    }
    out
}

// The check benchmark includes this file too, and writes no tests.
#[allow(dead_code)]
/// Writes `tests/bench.toml` with `cases` cases over the first flags of a repository written
/// by [`write_repo`]: each unit is in its flag's production segment, so it gets "on".
pub fn write_tests(dir: &Path, flags: usize, cases: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("tests"))?;
    let mut out = String::new();
    for c in 0..cases {
        let f = c % flags;
        let segment = (f + 2) % SEGMENTS;
        let _ = write!(
            out,
            "[[cases]]\nname = \"case {c}\"\nenv = \"production\"\ncontext = {{ targeting_key = \"unit-{segment}\", country = \"DE\" }}\nvariants = {{ \"area-{:02}/flag-{f:05}\" = \"on\" }}\n\n",
            f % 100
        );
    }
    std::fs::write(dir.join("tests/bench.toml"), out)
}
