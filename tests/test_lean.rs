//! What keeps a loaded repository small: texts let go and read again for findings, and the
//! model's inline strings.

use flagstone::model::Str;

use crate::support::{PROJECT, options, repo};

const FLAG: &str = "description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n\n\
[[env.production.rules]]\nname = \"a\"\nif = [{ segment = \"missing\" }]\nserve = \"on\"\n\n\
[[env.production.rules]]\nname = \"a\"\nserve = \"on\"\n";

/// Every finding as `CODE file:line:column message (help)`.
fn rendered(repo: &flagstone::load::Repo) -> Vec<String> {
    flagstone::check::check(repo, &options())
        .diagnostics
        .iter()
        .map(|d| {
            let p = flagstone::cli::render::position(repo, d);
            format!(
                "{} {}:{}:{} {} ({:?})",
                d.code.as_str(),
                d.file,
                p.start.line,
                p.start.column,
                d.message,
                d.help
            )
        })
        .collect()
}

#[test]
fn a_lean_load_finds_and_places_what_a_full_load_does() {
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/bad.toml", FLAG.as_bytes()),
        (
            "flags/good.toml",
            b"description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n",
        ),
        // A syntax error: a loader finding, whose text is kept.
        ("flags/broken.toml", b"description = \n"),
    ]);
    let full = flagstone::load::load(dir.path()).unwrap();
    let lean = flagstone::load::load_lean(dir.path()).unwrap();
    let found = rendered(&full);
    // The unknown segment, the repeated rule name (whose help names the first one's line) and
    // the syntax error.
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().any(|f| f.contains("line 6")), "{found:#?}");
    assert_eq!(rendered(&lean), found);
    let text = |repo: &flagstone::load::Repo, path: &str| repo.text_of(path).into_owned();
    for path in ["flags/bad.toml", "flags/good.toml", "flags/broken.toml"] {
        assert_eq!(text(&lean, path), text(&full, path), "{path}");
    }
    // Only the file with the loader's finding keeps its text in memory.
    let kept: Vec<&str> = (lean.files.iter())
        .filter(|f| !f.text.is_empty())
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(kept, ["flags/broken.toml"]);
}

#[test]
fn a_text_changed_after_a_lean_load_is_not_read_again() {
    let dir = repo(&[
        ("flagstone.toml", PROJECT),
        ("flags/bad.toml", FLAG.as_bytes()),
    ]);
    let lean = flagstone::load::load_lean(dir.path()).unwrap();
    std::fs::write(dir.path().join("flags/bad.toml"), format!("\n\n{FLAG}")).unwrap();
    // Spans point into the text that was loaded: another text reads as empty, and findings
    // fall back to the file's start instead of pointing at the wrong place.
    assert_eq!(lean.text_of("flags/bad.toml"), "");
    let found = rendered(&lean);
    assert!(!found.is_empty());
    assert!(
        found.iter().all(|f| f.contains("flags/bad.toml:1:1")),
        "{found:#?}"
    );
}

#[test]
fn strings_are_held_inline_up_to_their_limit() {
    for text in [
        "",
        "on",
        "é".repeat(7).as_str(),
        &"x".repeat(Str::INLINE),
        &"x".repeat(Str::INLINE + 1),
        "a name much longer than the inline part of a string",
    ] {
        let s = Str::new(text);
        assert_eq!(s.as_str(), text);
        assert_eq!(s, Str::from(text));
        assert_eq!(String::from(s.clone()), text);
        assert_eq!(format!("{s:?}"), format!("{text:?}"));
    }
    assert!(Str::new("a") < Str::new("b"));
    assert!(Str::new(&"x".repeat(30)) > Str::new("x"));
    assert_eq!(std::mem::size_of::<Str>(), 16);
}
