//! Checks of the names that stand for people: owners, team members, and the review policy's
//! `protected` and `from`. Each is a GitHub login or an "@team" declared in `[teams]`.
//!
//! `review` compares these names with the logins of GitHub's reviews, and reports and
//! CODEOWNERS print them, so a name that cannot be a login never approves anything and could
//! carry Markdown, HTML or control characters into what is printed.

use crate::diag::{Code, shown};
use crate::model::{Name, ProjectFile};

use super::Scope;

/// A GitHub login: 1–39 ASCII letters, digits and single hyphens, neither first nor last
/// (GitHub's sign-up rules). A managed user of an Enterprise Managed Users enterprise has the
/// login of such a handle, an underscore and the enterprise's short code (`mona_acme`; the
/// setup admin is `acme_admin`): 1–8 letters and digits.
pub(crate) fn valid_login(name: &str) -> bool {
    let (handle, short_code) = match name.split_once('_') {
        Some((handle, code)) => (handle, Some(code)),
        None => (name, None),
    };
    valid_handle(handle)
        && short_code.is_none_or(|code| {
            (1..=8).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

fn valid_handle(handle: &str) -> bool {
    (1..=39).contains(&handle.len())
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !handle.starts_with('-')
        && !handle.ends_with('-')
        && !handle.contains("--")
}

/// A team name, written "@name" where a person may be named: ASCII letters, digits, `_` and
/// single hyphens, starting with a letter or digit and not ending with a hyphen. These are the
/// characters of GitHub's team slugs (which GitHub makes from a team's display name), so a
/// team can be named as it is on GitHub; teams are still declared in `[teams]` with their
/// members, since `review` counts approvals by login.
pub(crate) fn valid_team_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.ends_with('-')
        && !name.contains("--")
}

pub(crate) const LOGIN_HELP: &str = "a GitHub login is 1–39 ASCII letters, digits and single hyphens, not starting or ending with a hyphen (a managed user's login adds `_` and the enterprise's short code)";

pub(crate) const TEAM_HELP: &str = "team names use ASCII letters, digits, `_` and single hyphens, start with a letter or digit and do not end with a hyphen";

impl Scope<'_> {
    /// A person named where a login or an "@team" may be: a valid login, or a declared team
    /// (unknown teams are FS034). Checked even without a project, as far as it can be.
    pub(super) fn known_person(&mut self, file: &str, who: &Name) {
        let Some(team) = who.strip_prefix('@') else {
            if !valid_login(who) {
                self.bad_login(file, who);
            }
            return;
        };
        let declared = self.teams.is_some_and(|teams| teams.contains_key(team));
        if declared {
            // An invalid declared name is reported where it is declared (FS047).
            return;
        }
        if valid_team_name(team) {
            self.known_team(file, who);
            return;
        }
        let help = match team.split_once('/') {
            Some((_, slug)) if valid_team_name(slug) => format!(
                "GitHub's `@org/team` form is not supported: declare the team in flagstone.toml [teams] with its members' logins and write `@{slug}`"
            ),
            _ => format!("a team is written `@name`; {TEAM_HELP}"),
        };
        self.push(
            Code::BadLogin,
            file,
            who.span(),
            format!("`{}` is not a valid team name", shown(who)),
        )
        .help = Some(help);
    }

    fn bad_login(&mut self, file: &str, who: &Name) {
        let help = if who.ends_with("[bot]") {
            "a bot account is not a person: it can neither own flags nor belong to a team; name the people responsible"
                .to_owned()
        } else {
            LOGIN_HELP.to_owned()
        };
        self.push(
            Code::BadLogin,
            file,
            who.span(),
            format!("`{}` is not a valid GitHub login", shown(who)),
        )
        .help = Some(help);
    }

    /// `[teams]`: valid team names (FS047) whose members are logins (FS072).
    pub(super) fn teams(&mut self, file: &str, project: &ProjectFile) {
        for (team, members) in &project.teams {
            if !valid_team_name(team) {
                self.push(
                    Code::InvalidName,
                    file,
                    team.span(),
                    format!("`{}` is not a valid team name", shown(team)),
                )
                .help = Some(TEAM_HELP.into());
            }
            for member in members {
                if member.starts_with('@') {
                    self.push(
                        Code::BadLogin,
                        file,
                        member.span(),
                        format!("team member `{}` is not a GitHub login", shown(member)),
                    )
                    .help = Some(
                        "a team lists its members' logins; a team cannot contain another team"
                            .into(),
                    );
                } else if !valid_login(member) {
                    self.bad_login(file, member);
                }
            }
        }
    }
}
