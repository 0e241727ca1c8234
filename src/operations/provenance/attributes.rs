//! `.gitattributes` files read from git objects, and the attributes git gives a path, by
//! git's rules (gitattributes(5)): a file's patterns are relative to its directory and match
//! as in `.gitignore` (without negation, and a pattern matching a directory does not match
//! the files in it); a deeper file overrides a shallower one and a later line an earlier one;
//! macros (`[attr]name …`) are defined in the top-level file only, and `binary` is built in.

use std::collections::BTreeMap;

/// An attribute's state on a line: `name`, `-name`, `!name` or `name=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum State {
    Set,
    Unset,
    Unspecified,
    Value(String),
}

/// One line's pattern and attributes.
struct Line {
    number: usize,
    /// `None` when the pattern is not a glob the matcher understands: it is then taken to
    /// match every path, so that nothing it sets goes unnoticed.
    matcher: Option<ignore::gitignore::Gitignore>,
    attributes: Vec<(String, State)>,
}

/// A `.gitattributes` file.
pub(super) struct File {
    /// Its directory, relative to the git root, `/`-separated; empty for the root.
    base: String,
    /// Its path relative to the git root, for messages.
    pub path: String,
    lines: Vec<Line>,
}

/// Macros by name: the attributes setting one sets.
pub(super) type Macros = BTreeMap<String, Vec<(String, State)>>;

/// The built-in macros.
pub(super) fn builtin_macros() -> Macros {
    let binary = ["diff", "merge", "text"].map(|a| (a.to_owned(), State::Unset));
    BTreeMap::from([("binary".to_owned(), binary.to_vec())])
}

/// Git ignores attribute lines longer than this.
const MAX_LINE: usize = 2048;

/// Parses the `.gitattributes` file at `path` (relative to the git root), adding its macro
/// definitions to `macros` when it is the top-level file.
pub(super) fn parse(path: &str, bytes: &[u8], macros: &mut Macros) -> File {
    let base = match path.rfind('/') {
        Some(at) => path[..at].to_owned(),
        None => String::new(),
    };
    let text = String::from_utf8_lossy(bytes);
    let mut lines = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        if raw.len() > MAX_LINE {
            continue;
        }
        let Some((pattern, attributes)) = parse_line(raw) else {
            continue;
        };
        if let Some(name) = pattern.strip_prefix("[attr]") {
            if base.is_empty() {
                macros.insert(name.to_owned(), attributes);
            }
            continue;
        }
        // Negative patterns are ignored in attribute files.
        if pattern.starts_with('!') {
            continue;
        }
        lines.push(Line {
            number: index + 1,
            matcher: matcher(&pattern),
            attributes,
        });
    }
    File {
        base,
        path: path.to_owned(),
        lines,
    }
}

const BLANK: [char; 4] = [' ', '\t', '\r', '\n'];

/// A line's pattern and attributes; `None` for blank lines, comments and bad quoting.
fn parse_line(raw: &str) -> Option<(String, Vec<(String, State)>)> {
    let line = raw.trim_start_matches(BLANK);
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (pattern, rest) = if line.starts_with('"') {
        unquote(line)?
    } else {
        let end = line.find(BLANK).unwrap_or(line.len());
        (line[..end].to_owned(), &line[end..])
    };
    let attributes = rest
        .split(BLANK)
        .filter(|a| !a.is_empty())
        .map(|a| {
            if let Some(name) = a.strip_prefix('-') {
                (name.to_owned(), State::Unset)
            } else if let Some(name) = a.strip_prefix('!') {
                (name.to_owned(), State::Unspecified)
            } else if let Some((name, value)) = a.split_once('=') {
                (name.to_owned(), State::Value(value.to_owned()))
            } else {
                (a.to_owned(), State::Set)
            }
        })
        .collect();
    Some((pattern, attributes))
}

/// A C-style quoted pattern at the start of `line`, and the rest of the line.
fn unquote(line: &str) -> Option<(String, &str)> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 1;
    loop {
        match *bytes.get(i)? {
            b'"' => break,
            b'\\' => {
                i += 1;
                let c = *bytes.get(i)?;
                let escaped = match c {
                    b'a' => 7,
                    b'b' => 8,
                    b'f' => 12,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 11,
                    b'\\' | b'"' => c,
                    b'0'..=b'3' => {
                        let digits = bytes.get(i..i + 3)?;
                        if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                            return None;
                        }
                        i += 2;
                        digits.iter().fold(0u8, |n, d| (n << 3) | (d - b'0'))
                    }
                    _ => return None,
                };
                out.push(escaped);
            }
            c => out.push(c),
        }
        i += 1;
    }
    let rest = &line[i + 1..];
    Some((String::from_utf8_lossy(&out).into_owned(), rest))
}

/// A matcher of one pattern, by `.gitignore` rules. Case is ignored, as git does on
/// case-insensitive file systems, so a pattern matches at least what it matches anywhere.
fn matcher(pattern: &str) -> Option<ignore::gitignore::Gitignore> {
    let mut builder = ignore::gitignore::GitignoreBuilder::new(".");
    builder.case_insensitive(true).ok()?;
    builder.add_line(None, pattern).ok()?;
    builder.build().ok()
}

/// Where an attribute's state was decided.
#[derive(Clone, Debug)]
pub(super) struct Decided<'f> {
    pub state: State,
    /// The `.gitattributes` file and line.
    pub file: &'f str,
    pub line: usize,
}

/// The attributes git gives `path` (relative to the git root) from `files` (any order),
/// by name.
pub(super) fn attributes_of<'f>(
    path: &str,
    files: impl IntoIterator<Item = &'f File>,
    macros: &Macros,
) -> BTreeMap<String, Decided<'f>> {
    let mut applicable: Vec<(&File, &str)> = files
        .into_iter()
        .filter_map(|file| {
            let relative = if file.base.is_empty() {
                path
            } else {
                path.strip_prefix(file.base.as_str())?.strip_prefix('/')?
            };
            Some((file, relative))
        })
        .collect();
    // The deepest file first: it takes precedence.
    applicable.sort_by_key(|(file, _)| {
        let depth = match file.base.as_str() {
            "" => 0,
            base => base.matches('/').count() + 1,
        };
        std::cmp::Reverse(depth)
    });
    let mut decided = BTreeMap::new();
    for (file, relative) in applicable {
        for line in file.lines.iter().rev() {
            let matches = line
                .matcher
                .as_ref()
                .is_none_or(|m| m.matched(relative, false).is_ignore());
            if matches {
                let at = (file.path.as_str(), line.number);
                fill(&line.attributes, at, macros, &mut decided, 0);
            }
        }
    }
    decided
}

/// Decides every attribute of `attributes` not yet decided, later ones first, expanding a
/// macro when this decides it set (git's `fill_one`).
fn fill<'f>(
    attributes: &[(String, State)],
    at: (&'f str, usize),
    macros: &Macros,
    decided: &mut BTreeMap<String, Decided<'f>>,
    depth: usize,
) {
    for (name, state) in attributes.iter().rev() {
        if decided.contains_key(name) {
            continue;
        }
        decided.insert(
            name.clone(),
            Decided {
                state: state.clone(),
                file: at.0,
                line: at.1,
            },
        );
        // Macros may name macros; a cycle stops at a fixed depth.
        if *state == State::Set
            && depth < 16
            && let Some(expansion) = macros.get(name)
        {
            fill(expansion, at, macros, decided, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state<'f>(decided: &BTreeMap<String, Decided<'f>>, name: &str) -> Option<(State, usize)> {
        decided.get(name).map(|d| (d.state.clone(), d.line))
    }

    #[test]
    fn deeper_files_and_later_lines_win_and_macros_expand() {
        let mut macros = builtin_macros();
        let files = vec![
            parse(
                ".gitattributes",
                b"[attr]evil filter=x ident\n*.toml text\nflags/*.toml evil\n*.md filter=lfs\n",
                &mut macros,
            ),
            parse(
                "flags/.gitattributes",
                b"# comment\n\n  a.toml -filter\n\"b c.toml\" working-tree-encoding=UTF-16\n!x.toml filter=y\n",
                &mut macros,
            ),
        ];
        let a = attributes_of("flags/a.toml", &files, &macros);
        assert_eq!(state(&a, "filter"), Some((State::Unset, 3)));
        assert_eq!(state(&a, "ident"), Some((State::Set, 3)));
        assert_eq!(state(&a, "text"), Some((State::Set, 2)));
        let z = attributes_of("flags/z.toml", &files, &macros);
        assert_eq!(state(&z, "filter"), Some((State::Value("x".into()), 3)));
        let bc = attributes_of("flags/b c.toml", &files, &macros);
        assert_eq!(
            state(&bc, "working-tree-encoding"),
            Some((State::Value("UTF-16".into()), 4))
        );
        // A subdirectory's macro lines and negative patterns are ignored; patterns with a
        // slash are anchored to their file's directory.
        let x = attributes_of("flags/x.toml", &files, &macros);
        assert_eq!(state(&x, "filter"), Some((State::Value("x".into()), 3)));
        let deep = attributes_of("flags/sub/z.toml", &files, &macros);
        assert_eq!(state(&deep, "filter"), None);
        assert_eq!(state(&deep, "text"), Some((State::Set, 2)));
    }

    #[test]
    fn no_input_panics() {
        let mut inputs: Vec<Vec<u8>> = [
            "\"",
            "\"\\",
            "\"\\3",
            "\"\\377\" filter",
            "[attr]",
            "[attr]x",
            "[attr]x x\n* x",
            "[",
            "[!",
            "\\",
            "/",
            "//",
            "**",
            "***/",
            "!",
            "-",
            "= =",
            "* =",
            "* -",
            "* !",
            "\u{feff}* filter=x",
            "* filter=\u{e9}",
            "\r\n\r\n",
            "#",
            "a/**/ ident",
            "**/ ident",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        // Pseudo-random bytes, the same every run.
        const ALPHABET: &[u8] = b" \t\n\\\"*?[]!-=/#abcfilter";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200 {
            let bytes = (0..64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ALPHABET[(state % ALPHABET.len() as u64) as usize]
                })
                .collect();
            inputs.push(bytes);
        }
        for bytes in inputs {
            let mut macros = builtin_macros();
            let files = vec![
                parse(".gitattributes", &bytes, &mut macros),
                parse("flags/.gitattributes", &bytes, &mut macros),
            ];
            for path in ["flags/a.toml", "flagstone.toml", "flags/[/x.toml", ""] {
                attributes_of(path, &files, &macros);
            }
        }
    }

    #[test]
    fn bad_quoting_is_ignored_and_octal_escapes_are_read() {
        assert_eq!(parse_line("\"unclosed filter=x"), None);
        assert_eq!(
            parse_line("\"\\141.toml\" filter=x").map(|(p, _)| p),
            Some("a.toml".to_owned())
        );
        assert_eq!(parse_line("\"\\9\" filter=x"), None);
    }
}
