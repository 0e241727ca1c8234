//! Everything README.md and docs/*.md show as a command's output, or as a file, is real: the
//! tests here produce it and fail when the page shows something else. `FLAGSTONE_UPDATE=1
//! cargo test` rewrites the shown blocks from what the commands print and the files hold.
//!
//! An HTML comment on the line above a fenced block says what the block is:
//!
//! - `<!-- example: OPTIONS -->` above a `sh` block: its commands run, and the fenced block
//!   after it (blank lines between, nothing else) is the standard output of its last command,
//!   byte for byte. The commands before the last set the scene and must succeed. They run with
//!   bash in a new temporary directory, with the `flagstone` under test first on `PATH` (a
//!   command written `cargo run --release -- …`, as the README runs it from a checkout, runs it
//!   too), no colour, and a fixed git identity and commit date. Every flagstone command that
//!   takes `--now` is given it (or `--at`), so that the output is the same on any day.
//!   OPTIONS, separated by spaces:
//!   - `copy=PATH` copies PATH (relative to the project root) to the same path in the
//!     directory, `copy=PATH:TO` to TO; repeatable;
//!   - `git` makes the directory a git repository with those files committed;
//!   - `setup=SCRIPT` runs the bash script SCRIPT (relative to the project root) there;
//!   - `continue` runs in the previous example's directory of the page instead, after it;
//!   - `exit=N`: the last command's exit status (default 0).
//! - `<!-- file: PATH -->`: the block is the file PATH (relative to the project root).
//! - `<!-- not run: WHY -->` above a `text`, `json` or `markdown` block that no command
//!   prints, saying why.
//!
//! Every `text`, `json` and `markdown` block is one of these, or the example of a diagnostic
//! code in docs/diagnostics.md, which test_docs.rs checks against its fixture.

use std::ops::Range;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{copy_dir, rewrite, root, updating};

/// README.md and docs/*.md, by path from the project root.
fn pages() -> Vec<String> {
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    [vec!["README.md".to_owned()], docs].concat()
}

/// A fenced code block of a page.
struct Block {
    /// Its info string (`sh`, `text`…), empty when it has none.
    lang: String,
    /// The bytes between its fence lines.
    body: Range<usize>,
    /// The 1-based line of its opening fence.
    line: usize,
    /// The HTML comment on the line above it, without `<!--` and `-->`.
    marker: Option<String>,
    /// Whether only blank lines separate it from the block before it.
    follows: bool,
    /// The `## ` heading it is under.
    section: String,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut open: Option<Block> = None;
    let (mut above, mut section) = ("", String::new());
    let mut blank_since_block = false;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let content = line.trim_end_matches('\n');
        let fence = content.trim_start();
        if let Some(mut block) = open.take() {
            if fence == "```" {
                block.body.end = offset;
                blocks.push(block);
                blank_since_block = true;
            } else {
                open = Some(block);
            }
        } else if let Some(lang) = fence.strip_prefix("```") {
            let marker = above.trim();
            open = Some(Block {
                lang: lang.trim().to_owned(),
                body: offset + line.len()..0,
                line: index + 1,
                marker: marker
                    .strip_prefix("<!--")
                    .and_then(|m| m.strip_suffix("-->"))
                    .map(|m| m.trim().to_owned()),
                follows: blank_since_block,
                section: section.clone(),
            });
        } else {
            if let Some(heading) = content.strip_prefix("## ") {
                section = heading.to_owned();
            }
            blank_since_block &= content.trim().is_empty();
        }
        above = content;
        offset += line.len();
    }
    assert!(open.is_none(), "a fenced block is not closed");
    blocks
}

/// What `<!-- example: … -->` says.
#[derive(Default)]
struct Options {
    copy: Vec<(String, String)>,
    git: bool,
    setup: Option<String>,
    continues: bool,
    exit: i32,
}

fn options(marker: &str) -> Result<Options, String> {
    let mut options = Options::default();
    for word in marker.split_whitespace() {
        match word.split_once('=') {
            Some(("copy", path)) => {
                let (from, to) = path.split_once(':').unwrap_or((path, path));
                options.copy.push((from.to_owned(), to.to_owned()));
            }
            Some(("setup", script)) => options.setup = Some(script.to_owned()),
            Some(("exit", status)) => {
                options.exit = status.parse().map_err(|_| format!("exit={status}"))?;
            }
            None if word == "git" => options.git = true,
            None if word == "continue" => options.continues = true,
            _ => return Err(format!("unknown option `{word}`")),
        }
    }
    Ok(options)
}

/// bash in `dir`, in an environment that makes the output the same on every machine: the
/// flagstone under test first on PATH, no colour, no user or system git configuration, one
/// git identity and commit date, and no variables a command reads (`FLAGSTONE_DIR`,
/// `GITHUB_STEP_SUMMARY`…).
fn bash(dir: &Path) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_flagstone")).parent().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path =
        std::env::join_paths(std::iter::once(bin.to_owned()).chain(std::env::split_paths(&path)))
            .unwrap();
    let mut command = Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-euo", "pipefail"])
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "init.defaultBranch")
        .env("GIT_CONFIG_VALUE_0", "main");
    for who in ["AUTHOR", "COMMITTER"] {
        command
            .env(format!("GIT_{who}_NAME"), "Dana")
            .env(format!("GIT_{who}_EMAIL"), "dana@example.com")
            .env(format!("GIT_{who}_DATE"), "2026-11-26T09:00:00Z");
    }
    command
}

/// Runs `script` with bash in `dir`: (exit status, stdout, stderr).
fn run_bash(dir: &Path, script: &str, stdout: Stdio) -> (i32, String, String) {
    let output = bash(dir)
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(stdout)
        .output()
        .expect("bash runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The commands of a `sh` block, one per entry: continuation lines (`\`) joined, blank and
/// comment lines left out, `cargo run --release --` run as `flagstone`.
fn commands(script: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in script.lines() {
        let (line, continued) = match line.strip_suffix('\\') {
            Some(line) => (line, true),
            None => (line, false),
        };
        current.push_str(line);
        if continued {
            continue;
        }
        let command = std::mem::take(&mut current);
        let command = command.trim();
        if !command.is_empty() && !command.starts_with('#') {
            let command = match command.strip_prefix(CARGO_RUN) {
                Some(rest) => format!("flagstone {rest}"),
                None => command.to_owned(),
            };
            commands.push(command);
        }
    }
    commands
}

const CARGO_RUN: &str = "cargo run --release -- ";

/// What a page shows that differs from what is real.
#[derive(Default)]
struct Findings {
    /// Blocks that differ (by index in the page): what they should show, and how they differ.
    rewrites: Vec<(usize, String, String)>,
    /// Problems a rewrite cannot fix.
    errors: Vec<String>,
}

/// Runs the examples of one page and compares its file blocks.
fn check_page(page: &str) -> Findings {
    let text = std::fs::read_to_string(root().join(page)).unwrap();
    let blocks = blocks(&text);
    let mut findings = Findings::default();
    let mut previous: Option<tempfile::TempDir> = None;
    for (index, block) in blocks.iter().enumerate() {
        let at = format!("{page}:{}", block.line);
        let Some(marker) = &block.marker else {
            continue;
        };
        if let Some(path) = marker.strip_prefix("file:") {
            let path = path.trim();
            let actual = std::fs::read_to_string(root().join(path))
                .unwrap_or_else(|e| panic!("{at}: {path}: {e}"));
            if text[block.body.clone()] != actual {
                let message = format!("{at}: the block differs from {path}");
                findings.rewrites.push((index, actual, message));
            }
            continue;
        }
        let Some(marker) = marker.strip_prefix("example:") else {
            continue;
        };
        let options = options(marker).unwrap_or_else(|e| panic!("{at}: {e}"));
        let output = blocks
            .get(index + 1)
            .filter(|next| next.follows && block.lang == "sh")
            .unwrap_or_else(|| panic!("{at}: an example is a `sh` block and its output block"));
        let dir = match previous.take() {
            Some(dir) if options.continues => dir,
            _ if options.continues => panic!("{at}: `continue`, but no example before"),
            _ => crate::support::tempdir(),
        };
        if let Err(message) = prepare(dir.path(), &options) {
            panic!("{at}: {message}");
        }
        let commands = commands(&text[block.body.clone()]);
        for command in &commands {
            if let Err(message) = given_the_time(command) {
                findings.errors.push(format!("{at}: {message}"));
            }
        }
        let (last, before) = commands.split_last().expect("a command");
        if !before.is_empty() {
            let (code, _, stderr) = run_bash(dir.path(), &before.join("\n"), Stdio::null());
            assert_eq!(
                code, 0,
                "{at}: the commands before the last fail:\n{stderr}"
            );
        }
        let (code, stdout, stderr) = run_bash(dir.path(), last, Stdio::piped());
        assert_eq!(
            code, options.exit,
            "{at}: `{last}` exits with {code}, not {}:\n{stderr}{stdout}",
            options.exit
        );
        assert!(
            stdout.is_empty() || stdout.ends_with('\n'),
            "{at}: the output of `{last}` does not end with a line break"
        );
        let shown = &text[output.body.clone()];
        if shown != stdout {
            let message =
                format!("{at}: `{last}` prints\n{stdout}--- where the page shows\n{shown}");
            findings.rewrites.push((index + 1, stdout, message));
        }
        previous = Some(dir);
    }
    findings
}

/// Copies the files an example names into `dir`, commits them and runs its setup script.
fn prepare(dir: &Path, options: &Options) -> Result<(), String> {
    for (from, to) in &options.copy {
        let (from, to) = (root().join(from), dir.join(to));
        if from.is_dir() {
            copy_dir(&from, &to);
        } else {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
        }
    }
    if options.git {
        let (code, _, stderr) = run_bash(
            dir,
            "git init -q && git add -A && git commit -qm example",
            Stdio::null(),
        );
        if code != 0 {
            return Err(format!("git: {stderr}"));
        }
    }
    if let Some(script) = &options.setup {
        let status = bash(dir)
            .arg(root().join(script))
            .stdout(Stdio::null())
            .status()
            .expect("bash runs");
        if !status.success() {
            return Err(format!("{script} fails"));
        }
    }
    Ok(())
}

/// The arguments of `command` as a shell would split them (quotes and backslashes; no
/// expansions), with `|`, `&&`, `||` and `;` as words of their own when written apart.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            '#' if word.is_none() => break,
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// The flagstone invocations of a command line: the words after each `flagstone` that starts
/// a command (after any `NAME=value` assignments), up to the end of that command.
fn invocations(command: &str) -> Vec<Vec<String>> {
    let words = words(command);
    words
        .split(|w| ["|", "||", "&&", ";"].contains(&w.as_str()))
        .filter_map(|command| {
            let mut rest = command.iter().skip_while(|w| {
                w.split_once('=')
                    .is_some_and(|(name, _)| !name.is_empty() && !name.starts_with('-'))
            });
            (rest.next()? == "flagstone").then(|| shell_arguments(rest))
        })
        .collect()
}

/// The words a shell passes as arguments: up to a comment, without redirections.
fn shell_arguments<'w>(words: impl Iterator<Item = &'w String>) -> Vec<String> {
    let mut arguments = Vec::new();
    let mut words = words.take_while(|w| !w.starts_with('#'));
    while let Some(word) = words.next() {
        let redirection = word.trim_start_matches(|c: char| c.is_ascii_digit());
        if redirection.starts_with(['>', '<']) {
            // `> FILE` names its file next; `>FILE` and `2>&1` do not.
            if redirection.trim_start_matches(['>', '<', '&']).is_empty() {
                words.next();
            }
            continue;
        }
        arguments.push(word.clone());
    }
    arguments
}

/// The subcommand an invocation names (`evals compare` descends), and the words after it.
fn subcommand(args: &[String]) -> Option<(String, clap::Command, &[String])> {
    let mut command = flagstone::cli::command();
    command.build();
    let mut path = Vec::new();
    let mut rest = args;
    while let Some((first, after)) = rest.split_first() {
        let Some(sub) = command.find_subcommand(first).cloned() else {
            break;
        };
        path.push(first.clone());
        command = sub;
        rest = after;
        if !command.has_subcommands() {
            return Some((path.join(" "), command, rest));
        }
    }
    None
}

/// Whether every flagstone command of `command` whose result can depend on the time is given
/// the time.
fn given_the_time(command: &str) -> Result<(), String> {
    for args in invocations(command) {
        let Some((name, definition, rest)) = subcommand(&args) else {
            return Err(format!("`{command}`: no flagstone command"));
        };
        let timed = definition
            .get_arguments()
            .any(|a| a.get_long() == Some("now"));
        let given = rest
            .iter()
            .any(|w| ["--now", "--at"].contains(&w.split('=').next().unwrap_or_default()));
        if timed && !given {
            return Err(format!(
                "`{command}`: `{name}` depends on the time: give it `--now`"
            ));
        }
    }
    Ok(())
}

#[test]
fn every_example_output_and_file_shown_is_real() {
    let pages = pages();
    let results: Vec<(&String, Findings)> = std::thread::scope(|scope| {
        let threads: Vec<_> = pages
            .iter()
            .map(|page| scope.spawn(move || (page, check_page(page))))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut messages = Vec::new();
    for (page, findings) in results {
        messages.extend(findings.errors);
        if !updating() {
            messages.extend(findings.rewrites.into_iter().map(|(_, _, message)| message));
        } else if !findings.rewrites.is_empty() {
            rewrite(&root().join(page), |text| {
                let blocks = blocks(text);
                let mut text = text.to_owned();
                // From the end, so that each block's range is still where it was.
                for (block, actual, _) in findings.rewrites.iter().rev() {
                    text.replace_range(blocks[*block].body.clone(), actual);
                }
                text
            });
        }
    }
    assert!(
        messages.is_empty(),
        "{}\n\n(`FLAGSTONE_UPDATE=1 cargo test` rewrites the pages from what the commands print \
         and the files hold)",
        messages.join("\n\n")
    );
}

/// Whether a block shows output: `text`, `json` or `markdown`.
fn shows_output(block: &Block) -> bool {
    ["text", "json", "markdown"].contains(&block.lang.as_str())
}

#[test]
fn every_output_shown_is_produced_by_a_test() {
    let mut uncovered = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(root().join(&page)).unwrap();
        let blocks = blocks(&text);
        let mut diagnostic_sections = std::collections::HashSet::new();
        for (index, block) in blocks.iter().enumerate() {
            if !shows_output(block) {
                continue;
            }
            let says = |block: &Block, kind: &str| {
                block.marker.as_deref().is_some_and(|m| m.starts_with(kind))
            };
            let output = index > 0 && block.follows && says(&blocks[index - 1], "example:");
            // test_docs.rs runs each code's fixture for the first text block of its section.
            let diagnostic = page == "docs/diagnostics.md"
                && block.lang == "text"
                && block.section.starts_with("FS")
                && diagnostic_sections.insert(block.section.clone());
            if !(output || diagnostic || says(block, "file:") || says(block, "not run:")) {
                uncovered.push(format!("{page}:{}", block.line));
            }
        }
    }
    assert!(
        uncovered.is_empty(),
        "these blocks show output no test produces; make each an example (see \
         tests/test_examples.rs), or say why it cannot be one with `<!-- not run: WHY -->`:\n{}",
        uncovered.join("\n")
    );
}

/// The commands a page shows: the lines of its `sh` and plain code blocks, and its inline code
/// that starts with `flagstone`, with where they are.
fn shown_commands(page: &str, text: &str) -> Vec<(String, String)> {
    let mut shown = Vec::new();
    let mut prose = String::new();
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        // Code blocks are blanked out of the prose, keeping its lines where they were.
        let fence = line.trim_start().starts_with("```");
        prose.push_str(if inside || fence { "\n" } else { line });
        inside ^= fence;
    }
    for block in blocks(text) {
        if block.lang != "sh" && !block.lang.is_empty() {
            continue;
        }
        for command in commands(&text[block.body.clone()]) {
            let command = command.strip_prefix("$ ").unwrap_or(&command);
            shown.push((format!("{page}:{}", block.line), command.to_owned()));
        }
    }
    // Inline code: a run of backticks up to the next run of as many.
    let bytes = prose.as_bytes();
    let ticks = |from: usize| bytes[from..].iter().take_while(|&&b| b == b'`').count();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'`' {
            at += 1;
            continue;
        }
        let run = ticks(at);
        let start = at + run;
        let mut end = start;
        while end < bytes.len() && !(bytes[end] == b'`' && ticks(end) == run) {
            end += if bytes[end] == b'`' { ticks(end) } else { 1 };
        }
        if end >= bytes.len() {
            at = start;
            continue;
        }
        let code = prose[start..end].replace('\n', " ");
        let line = prose[..start].lines().count();
        // Inline code names `flagstone 2026-12 bundle v2` too: only commands are checked.
        let names_a_command = invocations(&code)
            .iter()
            .any(|args| subcommand(args).is_some());
        if names_a_command {
            shown.push((format!("{page}:{line}"), code.trim().to_owned()));
        }
        at = end + run;
    }
    shown
}

/// Removes the brackets, ellipses and commas of a synopsis from around a word.
fn bare(word: &str) -> &str {
    let mut word = word.trim_start_matches(['[', '(']);
    loop {
        let trimmed = word
            .trim_end_matches([']', ')', ','])
            .trim_end_matches("...")
            .trim_end_matches('…');
        if trimmed == word {
            return word;
        }
        word = trimmed;
    }
}

/// Whether `args` fit `definition`: every option exists, and there are no more other words
/// than the command takes arguments. Synopses pass too: `[--env ENV]`, `FLAG`, `PATH...`.
fn fits(definition: &clap::Command, args: &[String]) -> Result<(), String> {
    let mut words = args
        .iter()
        .map(|w| bare(w))
        .filter(|w| !w.is_empty() && *w != "|")
        .peekable();
    let mut positionals = 0;
    while let Some(word) = words.next() {
        // As clap's usage writes the options left out.
        if word == "OPTIONS" {
            continue;
        }
        if !word.starts_with('-') || word == "-" {
            positionals += 1;
            continue;
        }
        let name = word.split('=').next().unwrap_or_default();
        let arg = definition
            .get_arguments()
            .find(|a| match name.strip_prefix("--") {
                Some(long) => a.get_long() == Some(long),
                None => name.strip_prefix('-').and_then(|s| s.chars().next()) == a.get_short(),
            })
            .ok_or_else(|| format!("`{name}` is no option of `{}`", definition.get_name()))?;
        if arg.get_action().takes_values() && !word.contains('=') {
            words.next();
            // The further values of an option that takes several.
            if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
                while words.next_if(|w| !w.starts_with('-')).is_some() {}
            }
        }
    }
    let takes = definition.get_positionals().count();
    if positionals > takes {
        return Err(format!(
            "`{}` takes {takes} argument(s) besides options, not {positionals} (the repository is \
             --dir)",
            definition.get_name()
        ));
    }
    Ok(())
}

#[test]
fn every_command_shown_is_in_the_grammar() {
    let mut wrong = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(root().join(&page)).unwrap();
        for (at, command) in shown_commands(&page, &text) {
            for args in invocations(&command) {
                let problem = match subcommand(&args) {
                    Some((_, definition, rest)) => fits(&definition, rest).err(),
                    // `flagstone --version`: the options of flagstone itself.
                    None if args.first().is_some_and(|a| a.starts_with('-')) => {
                        let mut flagstone = flagstone::cli::command();
                        flagstone.build();
                        fits(&flagstone, &args).err()
                    }
                    None => Some("no such command".to_owned()),
                };
                if let Some(problem) = problem {
                    wrong.push(format!("{at}: `{command}`: {problem}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "commands that docs/cli.md's grammar does not accept:\n{}",
        wrong.join("\n")
    );
}

/// docs/format.md's examples are the files of one repository, which checks without findings
/// and whose tests pass.
#[test]
fn the_format_examples_are_one_repository_that_checks() {
    let repository = "docs/examples/format";
    let text = std::fs::read_to_string(root().join("docs/format.md")).unwrap();
    for block in blocks(&text).iter().filter(|b| b.lang == "toml") {
        let file = block
            .marker
            .as_deref()
            .and_then(|m| m.strip_prefix("file:"));
        // every_example_output_and_file_shown_is_real compares each with its file.
        assert!(
            file.is_some_and(|f| f.trim().starts_with(&format!("{repository}/"))),
            "docs/format.md:{}: name its file in {repository} with `<!-- file: PATH -->`",
            block.line
        );
    }
    let dir = root().join(repository);
    let (code, stdout, stderr) = crate::support::run(&["check", "--now", "2026-11-26"], &dir);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert!(stdout.ends_with(": no problems\n"), "{stdout}");
    let (code, stdout, stderr) = crate::support::run(&["test", "--now", "2026-11-26"], &dir);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
}
