//! The command-line grammar (docs/cli.md), asserted over every subcommand, so that a new
//! command or option cannot break it: the repository is `--dir`/`-C`/`FLAGSTONE_DIR`, an
//! environment is `--env`, `--format` takes one set of values, and `--now` is wherever the
//! result depends on the time.

use clap::{Arg, Command};

use crate::support::{root, run};

/// Commands that read no flags repository.
const NO_REPOSITORY: &[&str] = &[
    "completions",
    "evals compare",
    "exposures",
    "init",
    "man",
    "publish",
    "schema",
    "serve",
];

/// Commands that read a repository but whose result does not depend on the time.
const TIMELESS: &[&str] = &["analyze", "codeowners", "evals payload", "plan", "sql"];

/// Commands whose findings make sense as annotations on the lines concerned.
const ANNOTATED: &[&str] = &["build", "check", "refs", "test"];

/// Commands that do not read a repository yet depend on the time.
const TIMED_WITHOUT_REPOSITORY: &[&str] = &["publish"];

/// The `--format` values, in the order every command lists the ones it accepts.
const FORMATS: &[&str] = &["human", "json", "markdown", "github"];

/// Every subcommand with its path (`evals compare`), depth first; `help` left out.
fn commands() -> Vec<(String, Command)> {
    fn walk(prefix: &str, command: &Command, all: &mut Vec<(String, Command)>) {
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let name = format!("{prefix}{}", sub.get_name());
            if sub.has_subcommands() {
                walk(&format!("{name} "), sub, all);
            } else {
                all.push((name, sub.clone()));
            }
        }
    }
    let mut command = flagstone::cli::command();
    command.build();
    let mut all = Vec::new();
    walk("", &command, &mut all);
    assert!(all.len() >= 18, "{} commands", all.len());
    all
}

fn long(command: &Command, name: &str) -> Option<Arg> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(name))
        .cloned()
}

fn value_names(arg: &Arg) -> Vec<String> {
    arg.get_value_names()
        .unwrap_or_default()
        .iter()
        .map(|n| n.to_string())
        .collect()
}

#[test]
fn the_repository_is_dir_everywhere() {
    for (name, command) in commands() {
        for arg in command.get_arguments() {
            let names = value_names(arg);
            if arg.is_positional() && name != "init" {
                assert!(
                    !names.iter().any(|n| n == "DIR"),
                    "{name}: the repository is --dir, not a positional argument"
                );
            }
        }
        let dir = long(&command, "dir");
        if NO_REPOSITORY.contains(&name.as_str()) {
            assert!(dir.is_none(), "{name} reads no repository but takes --dir");
            continue;
        }
        let dir = dir.unwrap_or_else(|| panic!("{name} reads a repository: it takes --dir"));
        assert_eq!(dir.get_short(), Some('C'), "{name} --dir");
        assert_eq!(
            dir.get_env().and_then(|e| e.to_str()),
            Some("FLAGSTONE_DIR"),
            "{name} --dir"
        );
        let default: Vec<_> = dir.get_default_values().iter().collect();
        assert_eq!(default, ["."], "{name} --dir");
        assert_eq!(value_names(&dir), ["DIR"], "{name} --dir");
        assert_eq!(
            dir.get_help().map(|h| h.to_string()).as_deref(),
            Some("The flags repository: the directory holding flagstone.toml"),
            "{name} --dir"
        );
    }
}

#[test]
fn environments_are_env_and_names_say_what_they_take() {
    for (name, command) in commands() {
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else {
                continue;
            };
            // A bare `--to`, `--from` or `--environment` said a directory, a percentage or
            // an environment depending on the command.
            for ambiguous in ["to", "from", "environment", "published"] {
                assert_ne!(long, ambiguous, "{name} --{long}: say what it takes");
            }
            let env_valued = value_names(arg).iter().any(|n| n == "ENV");
            assert_eq!(
                env_valued,
                long == "env" || long.ends_with("-env"),
                "{name} --{long}: an environment is --env or --*-env, with the value name ENV"
            );
        }
    }
}

#[test]
fn format_takes_one_set_of_values() {
    for (name, command) in commands() {
        // `export --format` names the file format written, not a report's.
        let Some(format) = long(&command, "format").filter(|_| name != "export") else {
            continue;
        };
        let values: Vec<String> = format
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect();
        let expected: Vec<&str> = FORMATS
            .iter()
            .copied()
            .filter(|f| values.iter().any(|v| v == f))
            .collect();
        assert_eq!(values, expected, "{name} --format: values and their order");
        assert!(values.len() >= 2, "{name} --format: {values:?}");
        assert_eq!(values[0], "human", "{name} --format");
        let default: Vec<_> = format.get_default_values().iter().collect();
        assert_eq!(default, ["human"], "{name} --format");
        // A value means the same wherever it is accepted: one help text each.
        for value in format.get_possible_values() {
            let help = value.get_help().map(|h| h.to_string());
            let reference = flagstone::cli::command()
                .find_subcommand("check")
                .and_then(|c| long(c, "format"))
                .and_then(|f| {
                    f.get_possible_values()
                        .into_iter()
                        .find(|v| v.get_name() == value.get_name())
                })
                .and_then(|v| v.get_help().map(|h| h.to_string()));
            assert_eq!(help, reference, "{name} --format {}", value.get_name());
        }
        assert_eq!(
            values.iter().any(|v| v == "github"),
            ANNOTATED.contains(&name.as_str()),
            "{name} --format github: annotations where findings have lines"
        );
    }
}

#[test]
fn now_is_wherever_time_matters() {
    for (name, command) in commands() {
        let timed = (long(&command, "dir").is_some() && !TIMELESS.contains(&name.as_str()))
            || TIMED_WITHOUT_REPOSITORY.contains(&name.as_str());
        let now = long(&command, "now");
        assert_eq!(now.is_some(), timed, "{name} --now");
        if let Some(now) = now {
            assert_eq!(value_names(&now), ["TIME"], "{name} --now");
        }
    }
}

/// The grammar as users meet it: every subcommand's `--help` runs, and the environment
/// variable stands in for --dir.
#[test]
fn every_help_runs_and_flagstone_dir_names_the_repository() {
    for (name, _) in commands() {
        let mut args: Vec<&str> = name.split(' ').collect();
        args.push("--help");
        let (code, stdout, stderr) = run(&args, &root());
        assert_eq!(code, 0, "{name} --help: {stderr}");
        assert!(stdout.contains("Usage: flagstone "), "{name} --help");
    }
    let output = crate::support::flagstone()
        .args(["test", "--now", "2026-11-26"])
        .env("FLAGSTONE_DIR", root().join("flags.example"))
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.ends_with(" passed, 0 failed\n"), "{stdout}");
    // -C is --dir.
    let (code, stdout, _) = run(
        &["test", "-C", "flags.example", "--now", "2026-11-26"],
        &root(),
    );
    assert_eq!(code, 0);
    assert!(stdout.ends_with(" passed, 0 failed\n"), "{stdout}");
}
