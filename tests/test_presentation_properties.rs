//! A repository's bundles depend on the flags' meaning only, never on how the TOML is written:
//! generated repositories written every which way, with TOML 1.1's additions or without, and
//! flags.example reordered and with CRLF line endings, build the same bundles.

use std::path::Path;

use proptest::prelude::*;

use crate::support::build::{build_dir, build_files, hashes};
use crate::support::repository::{Resolver, raw_repo};
use crate::support::root;
use crate::support::toml_writer::{Rng, T, render};

fn config(cases: u32) -> ProptestConfig {
    crate::support::proptest_config!("test_presentation_properties", cases)
}

/// Changes the rollout of the `pick`th rule (counting every rule of every flag) by 0.001%;
/// returns the environment it is in.
fn nudge_rollout(files: &mut [(String, T)], pick: usize) -> Option<String> {
    let mut rules: Vec<(usize, String, usize)> = Vec::new();
    for (f, (_, root)) in files.iter().enumerate() {
        let T::Tab(entries) = root else { continue };
        let Some((_, T::Tab(envs))) = entries.iter().find(|(k, _)| k == "env") else {
            continue;
        };
        for (env, value) in envs {
            let T::Tab(env_entries) = value else { continue };
            if let Some((_, T::Arr(list, _))) = env_entries.iter().find(|(k, _)| k == "rules") {
                rules.extend((0..list.len()).map(|r| (f, env.clone(), r)));
            }
        }
    }
    if rules.is_empty() {
        return None;
    }
    let (f, env, r) = rules[pick % rules.len()].clone();
    let T::Tab(entries) = &mut files[f].1 else {
        unreachable!()
    };
    let T::Tab(envs) = &mut entries.iter_mut().find(|(k, _)| k == "env").unwrap().1 else {
        unreachable!()
    };
    let T::Tab(env_entries) = &mut envs.iter_mut().find(|(k, _)| *k == env).unwrap().1 else {
        unreachable!()
    };
    let T::Arr(list, _) = &mut env_entries
        .iter_mut()
        .find(|(k, _)| k == "rules")
        .unwrap()
        .1
    else {
        unreachable!()
    };
    let T::Tab(rule) = &mut list[r] else {
        unreachable!()
    };
    let current = rule
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v) {
            ("rollout", T::Pct(p)) => Some(*p),
            _ => None,
        })
        .unwrap_or(100_000);
    // Down, so that no rule comes to match every unit and hide the ones after it.
    let nudged = if current > 0 { current - 1 } else { 1 };
    rule.retain(|(k, _)| k != "rollout");
    rule.push(("rollout".to_owned(), T::Pct(nudged)));
    Some(env)
}

fn show(files: &[(String, Vec<u8>)]) -> String {
    files
        .iter()
        .map(|(path, text)| format!("--- {path}\n{}", String::from_utf8_lossy(text)))
        .collect::<Vec<_>>()
        .join("\n")
}

proptest! {
    #![proptest_config(config(128))]

    /// Reformatting, reordering keys, tables and files, comments, line endings and writing
    /// defaults out never change a bundle; changing a rollout by 0.001% does.
    #[test]
    fn presentation_never_changes_a_bundle(
        raw in raw_repo(),
        seeds in any::<[u64; 4]>(),
        pick in any::<usize>(),
    ) {
        let mut model_a = Resolver { raw: &raw, defaults: Rng(seeds[0]) }.files();
        let model_b = Resolver { raw: &raw, defaults: Rng(seeds[1]) }.files();
        let files_a = render(&model_a, seeds[2], false);
        let files_b = render(&model_b, seeds[3], false);
        let a = build_files(&files_a);
        prop_assert!(a.is_ok(), "{}\n{}", a.unwrap_err(), show(&files_a));
        let b = build_files(&files_b);
        prop_assert!(b.is_ok(), "{}\n{}", b.unwrap_err(), show(&files_b));
        let (a, b) = (hashes(&a.unwrap()), hashes(&b.unwrap()));
        prop_assert_eq!(a.len(), raw.environments.len());
        for (env, (bytes, hash)) in &a {
            let (other_bytes, other_hash) = &b[env];
            prop_assert_eq!(
                bytes, other_bytes,
                "environment {}\n=== A\n{}\n=== B\n{}", env, show(&files_a), show(&files_b)
            );
            prop_assert_eq!(hash, other_hash);
        }

        // A real change: one rollout, 0.001% lower.
        let Some(changed_env) = nudge_rollout(&mut model_a, pick) else { return Ok(()) };
        let files_c = render(&model_a, seeds[2] ^ seeds[3], false);
        let c = build_files(&files_c);
        prop_assert!(c.is_ok(), "{}\n{}", c.unwrap_err(), show(&files_c));
        let c = hashes(&c.unwrap());
        for (env, (bytes, hash)) in &a {
            if *env == changed_env {
                prop_assert_ne!(hash, &c[env].1, "a changed rollout left {} as it was", env);
                prop_assert_ne!(bytes, &c[env].0);
            } else {
                prop_assert_eq!(hash, &c[env].1, "a rollout in {} changed {}", changed_env, env);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// What TOML 1.1 added (docs/format.md: "TOML (1.0, with the additions of 1.1)") is
    /// presentation too: the same repository written with it builds the same bundles.
    #[test]
    fn toml_1_1_spellings_never_change_a_bundle(
        raw in raw_repo(),
        seeds in any::<[u64; 3]>(),
    ) {
        let model = Resolver { raw: &raw, defaults: Rng(seeds[0]) }.files();
        let files_a = render(&model, seeds[1], false);
        let files_b = render(&model, seeds[2], true);
        let a = build_files(&files_a);
        prop_assert!(a.is_ok(), "{}\n{}", a.unwrap_err(), show(&files_a));
        let b = build_files(&files_b);
        prop_assert!(b.is_ok(), "TOML 1.0 builds, TOML 1.1 does not: {}\n{}", b.unwrap_err(), show(&files_b));
        let (a, b) = (hashes(&a.unwrap()), hashes(&b.unwrap()));
        for (env, (bytes, hash)) in &a {
            let (other_bytes, other_hash) = &b[env];
            prop_assert_eq!(
                bytes, other_bytes,
                "environment {}\n=== TOML 1.0\n{}\n=== TOML 1.1\n{}", env, show(&files_a), show(&files_b)
            );
            prop_assert_eq!(hash, other_hash);
        }
    }
}

/// TOML 1.1 lets a date-time leave out zero seconds: `09:00Z` is `09:00:00Z`.
#[test]
fn date_times_without_seconds_are_the_same_instants() {
    let project = "name = \"acme\"\nenvironments = [\"production\"]\n\n[attributes]\nsignup_at = { type = \"datetime\" }\n";
    let flag = |time: &str| {
        format!(
            "description = \"d\"\nowners = [\"alice\"]\nkind = \"ops\"\n\n[env.production]\nschedule = [{{ at = 2027-01-01T09:00{time}Z, serve = \"on\" }}]\n\n[[env.production.rules]]\nname = \"new\"\nif = [{{ attr = \"signup_at\", op = \"after\", value = 2026-12-01T00:00{time}+01:00 }}]\nrollout = 5\nserve = \"on\"\nschedule = [{{ at = 2027-02-01T09:30{time}-05:00, rollout = 50 }}]\n"
        )
    };
    let build = |time: &str| {
        let files = vec![
            ("flagstone.toml".to_owned(), project.as_bytes().to_vec()),
            ("flags/f.toml".to_owned(), flag(time).into_bytes()),
        ];
        build_files(&files).unwrap_or_else(|e| panic!("{e}\n--- flags/f.toml\n{}", flag(time)))
    };
    let with_seconds = hashes(&build(":00"));
    let without_seconds = hashes(&build(""));
    assert_eq!(with_seconds, without_seconds);
}

// ---------------------------------------------------------------------------------------------
// flags.example, reordered and with CRLF line endings
// ---------------------------------------------------------------------------------------------

/// The bracket depth at the start of each line: 0 outside arrays and inline tables.
fn depths(text: &str) -> Vec<i32> {
    #[derive(PartialEq)]
    enum State {
        Normal,
        Comment,
        Basic,
        Literal,
        MultiBasic,
        MultiLiteral,
    }
    let chars: Vec<char> = text.chars().collect();
    let ahead = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(j, c)| chars.get(i + j) == Some(&c))
    };
    let (mut depth, mut state, mut out, mut i) = (0, State::Normal, vec![0], 0);
    while i < chars.len() {
        let c = chars[i];
        match state {
            State::Normal => match c {
                '#' => state = State::Comment,
                '"' if ahead(i, "\"\"\"") => {
                    state = State::MultiBasic;
                    i += 2;
                }
                '"' => state = State::Basic,
                '\'' if ahead(i, "'''") => {
                    state = State::MultiLiteral;
                    i += 2;
                }
                '\'' => state = State::Literal,
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                _ => {}
            },
            State::Comment if c == '\n' => state = State::Normal,
            State::Basic | State::MultiBasic if c == '\\' => i += 1,
            State::Basic if c == '"' => state = State::Normal,
            State::Literal if c == '\'' => state = State::Normal,
            State::MultiBasic if ahead(i, "\"\"\"") => {
                state = State::Normal;
                i += 2;
            }
            State::MultiLiteral if ahead(i, "'''") => {
                state = State::Normal;
                i += 2;
            }
            _ => {}
        }
        if chars.get(i) == Some(&'\n') {
            out.push(depth);
        }
        i += 1;
    }
    out
}

/// Reorders a TOML file without changing its meaning: the key/value pairs of every table in
/// reverse order (each with the comments above it), and the tables grouped by their first two
/// key parts (`[env.production]` with its `[[env.production.rules]]`) in reverse order.
fn reorder(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let depths = depths(text);
    assert_eq!(lines.len(), depths.len());
    /// A line and its depth.
    type Line<'t> = (&'t str, i32);
    // (group, header, body)
    let mut sections: Vec<(String, Option<&str>, Vec<Line>)> =
        vec![(String::new(), None, Vec::new())];
    for (line, depth) in lines.iter().zip(&depths) {
        let trimmed = line.trim_start();
        if *depth == 0 && trimmed.starts_with('[') {
            let path: Vec<&str> = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap()
                .split('.')
                .map(str::trim)
                .collect();
            let group = path[..path.len().min(2)].join(".");
            sections.push((group, Some(line), Vec::new()));
        } else {
            sections.last_mut().unwrap().2.push((line, *depth));
        }
    }
    let reversed_body = |body: &[Line]| -> Vec<String> {
        let mut entries: Vec<Vec<&str>> = Vec::new();
        let mut pending: Vec<&str> = Vec::new();
        for (line, depth) in body {
            let trimmed = line.trim();
            if *depth > 0 {
                entries.last_mut().expect("a value continues").push(line);
            } else if trimmed.is_empty() || trimmed.starts_with('#') {
                pending.push(line);
            } else {
                let mut entry = std::mem::take(&mut pending);
                entry.push(line);
                entries.push(entry);
            }
        }
        entries.reverse();
        entries
            .into_iter()
            .flatten()
            .chain(pending)
            .map(str::to_owned)
            .collect()
    };
    let root = sections.remove(0);
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut last_group = None;
    for (group, header, body) in &sections {
        if last_group != Some(group) {
            groups.push(Vec::new());
            last_group = Some(group);
        }
        let out = groups.last_mut().unwrap();
        out.push(header.unwrap().to_owned());
        out.extend(reversed_body(body));
    }
    groups.reverse();
    let mut out = reversed_body(&root.2);
    out.extend(groups.into_iter().flatten());
    out.join("\n")
}

fn files_below(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_below(&path, base, out);
        } else {
            let relative = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, std::fs::read(&path).unwrap()));
        }
    }
}

#[test]
fn the_example_builds_the_same_reordered_and_with_crlf() {
    let example = root().join("flags.example");
    let mut files = Vec::new();
    files_below(&example, &example, &mut files);
    files.sort();
    let mut changed = 0;
    let mut toml_files = 0;
    let rewritten: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(path, bytes)| {
            if !path.ends_with(".toml") {
                return (path.clone(), bytes.clone());
            }
            toml_files += 1;
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(!text.contains('\r'), "{path} already has CRLF line endings");
            let reordered = reorder(&text);
            if reordered.trim() != text.trim() {
                changed += 1;
            }
            (path.clone(), reordered.replace('\n', "\r\n").into_bytes())
        })
        .collect();
    // Every file but the one-entry ones is reordered.
    assert!(
        changed >= toml_files - 2,
        "only {changed} of {toml_files} files were reordered"
    );

    let original = hashes(&build_dir(&example).unwrap());
    // Written in the reverse order too.
    let mut rewritten = rewritten;
    rewritten.reverse();
    let copy = build_files(&rewritten).unwrap_or_else(|e| {
        panic!(
            "the rewritten example does not build: {e}\n{}",
            show(&rewritten)
        )
    });
    let copy = hashes(&copy);
    assert_eq!(original.len(), 3);
    assert_eq!(
        original.keys().collect::<Vec<_>>(),
        copy.keys().collect::<Vec<_>>()
    );
    for (env, (bytes, hash)) in &original {
        assert_eq!(bytes, &copy[env].0, "environment {env}");
        assert_eq!(hash, &copy[env].1, "environment {env}");
    }
}
