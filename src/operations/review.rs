//! Whether a change has the approvals its review policy asks for.
//!
//! The change is a [`Diff`]; the policy, the teams, the owners and the kinds of existing flags
//! come from the **base** version, so a pull request can neither lower the bar for itself nor
//! make its author an owner. Reviews have the shape of GitHub's REST response for a pull
//! request's reviews. Only reviews from people with write access count (bots never), only
//! each reviewer's latest review, and only approvals of the head commit; nobody who wrote or
//! committed a commit of the pull request approves it; a request for changes blocks.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::compare::Compared;
use crate::diff::{BlastRadius, Diff, FileKind};
use crate::git::{GitError, Repository};
use crate::load::{Repo, RepoError};
use crate::model::{
    ANYONE, ChangeKind, ChangesRequested, EmergencyKill, FlagFile, FlagKind, Inconclusive, Name,
    OWNERS, ProjectFile, ReviewPolicy,
};
use crate::stats::paired::{Conclusion, MIN_CASES, Margin, Verdict as EvalVerdict, WorstCase};

/// One review as GitHub's REST API returns it; other fields are ignored.
#[derive(Debug, Deserialize)]
pub struct Review {
    /// `None` for a deleted account.
    pub user: Option<User>,
    /// The reviewer's relation to the repository: OWNER, MEMBER and COLLABORATOR have write
    /// access (or more); CONTRIBUTOR, FIRST_TIME_CONTRIBUTOR, NONE and others do not.
    pub author_association: Option<String>,
    /// APPROVED, CHANGES_REQUESTED, DISMISSED, COMMENTED or PENDING.
    pub state: String,
    /// The commit the review was given on.
    pub commit_id: Option<String>,
    /// RFC 3339, UTC.
    pub submitted_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub login: String,
    /// "User", "Bot" or "Organization".
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

impl Review {
    /// Whether the reviewer could merge: write access, and a person.
    fn by_writer(&self) -> bool {
        let association = self.author_association.as_deref().unwrap_or_default();
        let person = self.user.as_ref().is_some_and(|u| {
            u.kind.as_deref().is_none_or(|k| k == "User") && !u.login.ends_with("[bot]")
        });
        person && WRITE_ACCESS.contains(&association)
    }
}

/// The `author_association`s of people with write access to the repository.
const WRITE_ACCESS: [&str; 3] = ["OWNER", "MEMBER", "COLLABORATOR"];

/// One commit of a pull request as GitHub's REST API lists it
/// (`GET /repos/{owner}/{repo}/pulls/{number}/commits`); other fields are ignored.
#[derive(Debug, Deserialize)]
struct Commit {
    author: Option<Account>,
    committer: Option<Account>,
}

#[derive(Debug, Deserialize)]
struct Account {
    login: String,
}

/// The GitHub logins that authored or committed a pull request's commits, from GitHub's list
/// of them (pages may follow one another).
pub fn parse_commits(text: &str) -> Result<Vec<String>, ReviewError> {
    let mut logins = BTreeSet::new();
    for page in serde_json::Deserializer::from_str(text).into_iter::<Vec<Commit>>() {
        let page = page.map_err(|e| {
            ReviewError::Parse(format!(
                "{e} (expected GitHub's list of pull request commits)"
            ))
        })?;
        for commit in page {
            for account in [commit.author, commit.committer].into_iter().flatten() {
                logins.insert(account.login.to_lowercase());
            }
        }
    }
    Ok(logins.into_iter().collect())
}

/// Why reviewing could not start.
#[derive(Debug)]
pub enum ReviewError {
    /// A reviews or commits file is not what GitHub sends: why.
    Parse(String),
    /// The policy revision cannot be loaded.
    Load(RepoError),
    /// The policy revision has errors, or no project file.
    PolicyNotClean(String),
    /// The commits between two revisions cannot be listed.
    Commits { range: String, error: GitError },
}

impl std::fmt::Display for ReviewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReviewError::Parse(why) => f.write_str(why),
            ReviewError::Load(e) => e.fmt(f),
            ReviewError::PolicyNotClean(rev) => {
                write!(f, "the policy revision `{rev}` does not check cleanly")
            }
            ReviewError::Commits { range, error } => {
                write!(f, "cannot list the commits {range}: {error}")
            }
        }
    }
}

impl std::error::Error for ReviewError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReviewError::Load(e) => Some(e),
            ReviewError::Commits { error, .. } => Some(error),
            ReviewError::Parse(_) | ReviewError::PolicyNotClean(_) => None,
        }
    }
}

/// The version at `rev` whose policy judges the change compared. It must check cleanly: a
/// broken policy judges nothing.
pub fn policy_version(compared: &Compared, rev: &str) -> Result<Repo, ReviewError> {
    let repo = crate::load::load_revision(
        &compared.repository,
        rev,
        &compared.relative,
        Some(&compared.base.repo),
    )
    .map_err(ReviewError::Load)?;
    // Expiry does not matter here: the oldest time makes no flag expired.
    let options = crate::check::Options {
        now_millis: i64::MIN,
    };
    if repo.project.is_none() || crate::check::check(&repo, &options).has_errors() {
        return Err(ReviewError::PolicyNotClean(rev.to_owned()));
    }
    Ok(repo)
}

/// The logins of the GitHub no-reply addresses that authored or committed the commits between
/// `base` and `head`.
pub fn noreply_committers(
    repository: &Repository,
    base: &str,
    head: &str,
) -> Result<Vec<String>, ReviewError> {
    let commits = repository
        .range(base, head)
        .map_err(|error| ReviewError::Commits {
            range: format!("{base}..{head}"),
            error,
        })?;
    let mut logins = Vec::new();
    for commit in commits {
        for who in commit.people() {
            logins.extend(who.email.as_deref().and_then(noreply_login));
        }
    }
    Ok(logins)
}

/// The login a GitHub no-reply address stands for: `ID+login@users.noreply.github.com` or
/// `login@users.noreply.github.com`.
pub fn noreply_login(email: &str) -> Option<String> {
    let local = email
        .to_lowercase()
        .strip_suffix("@users.noreply.github.com")?
        .to_owned();
    let login = local.split_once('+').map_or(local.as_str(), |(_, l)| l);
    (!login.is_empty()).then(|| login.to_owned())
}

/// The pull request being judged.
pub struct PullRequest<'a> {
    /// Who opened it.
    pub author: &'a str,
    /// The commit approvals must be given on.
    pub head_sha: &'a str,
    /// Logins that authored or committed its commits: like the author, they cannot approve.
    pub committers: &'a [String],
}

/// Reads a reviews file: one JSON array of reviews, or several in a row, as `gh api
/// --paginate` prints them page by page.
pub fn parse_reviews(text: &str) -> Result<Vec<Review>, ReviewError> {
    if text.trim().is_empty() {
        return Err(ReviewError::Parse(
            "it is empty; an empty list of reviews is `[]`".to_owned(),
        ));
    }
    let mut reviews = Vec::new();
    for page in serde_json::Deserializer::from_str(text).into_iter::<Vec<Review>>() {
        let page = page.map_err(|e| {
            ReviewError::Parse(format!(
                "{e} (expected GitHub's list of pull request reviews)"
            ))
        })?;
        reviews.extend(page);
    }
    Ok(reviews)
}

/// The outcome of a review, and why.
#[derive(Debug, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    /// Whether any change needs an approval.
    pub approval_required: bool,
    pub author: String,
    pub head_sha: String,
    /// Each change and the requirements it triggers.
    pub changes: Vec<ChangeReview>,
    /// Reviewers whose latest review approves the head commit (the author's own only when
    /// the policy allows self-approval).
    pub approved_by: Vec<String>,
    /// Reviewers whose latest review approves an older commit.
    pub stale: Vec<String>,
    /// Reviewers with write access whose latest review requests changes.
    pub changes_requested: Vec<String>,
    /// Reviews that do not count, and why: "login: reason".
    pub ignored: Vec<String>,
    /// Logins that wrote or committed the pull request's commits, besides its author.
    pub committers: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every requirement is met.
    Approved,
    /// Some requirement lacks approvals.
    ApprovalsMissing,
    /// Someone with write access (or, as the policy says, someone who could approve)
    /// requests changes.
    Blocked,
    /// A changed AI payload lacks the eval evidence an `evals` rule asks for: no report, a
    /// stale or invalid one, a regression, or an inconclusive result the rule blocks.
    EvalsFailing,
    /// The change only turns flags off that the policy lets a kill turn off without
    /// approval: the emergency path.
    Emergency,
    /// The bundles of every environment are the same, and nothing review covers changed.
    NoChanges,
}

impl Verdict {
    /// Whether the change may merge.
    pub fn passes(self) -> bool {
        matches!(
            self,
            Verdict::Approved | Verdict::Emergency | Verdict::NoChanges
        )
    }
}

/// One reviewable change: a flag in one environment, a flag's owners, a segment, the project,
/// or the teams and policy.
#[derive(Debug, Serialize)]
pub struct ChangeReview {
    /// What changed, e.g. "flag `checkout/one-page` in production".
    pub change: String,
    pub kinds: BTreeSet<ChangeKind>,
    /// The changes, one line each.
    pub details: Vec<String>,
    pub requirements: Vec<Requirement>,
    /// For a kill: why it may not take the emergency path, when it may not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emergency_refused: Option<String>,
    /// For a changed AI payload: the eval evidence an `evals` rule asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval: Option<EvalGate>,
}

/// One requirement a change triggers, and how far it is met.
#[derive(Debug, Serialize)]
pub struct Requirement {
    /// The policy rule's name, or the built-in requirement's.
    pub rule: String,
    pub approvals: u32,
    /// Who may approve, as the policy says it ("owners", "@team", a login, "anyone").
    pub from: Vec<String>,
    /// Who that is, resolved with the base's teams and owners; `None` for anyone.
    pub eligible: Option<Vec<String>>,
    pub satisfied_by: Vec<String>,
    pub missing: u32,
    /// Eligible reviewers whose latest review requests changes.
    pub blocked_by: Vec<String>,
}

/// Requirements that hold whatever the policy's rules say.
const REMOVAL: &str = "removing a flag needs its owners";
const OWNERSHIP: &str = "changing a flag's owners needs its current owners";
const PROTECTED: &str = "the teams, the review policy and the repository's settings are protected";
const OWNED: &str = "a change needs the owners of what it changes";
const EXPERIMENT: &str =
    "a change to an experiment or its flag's split needs the experiment's owners";

/// The versions a review reads: `judge` gives the policy, the teams and the owners and kinds
/// of existing flags; `base` and `head` are the compared versions.
#[derive(Clone, Copy)]
pub struct Versions<'a> {
    pub judge: &'a Repo,
    pub base: &'a Repo,
    pub head: &'a Repo,
}

/// Judges `diff` by the judging version's policy, teams and owners against `reviews`, and
/// the changed AI payloads by `evidence`, one for each of [`eval_demands`].
pub fn review(
    diff: &Diff,
    versions: Versions<'_>,
    reviews: &[Review],
    pull_request: &PullRequest<'_>,
    evidence: Vec<EvalEvidence>,
) -> Report {
    let judge = versions.judge;
    let project = judge.project.as_ref().and_then(|p| p.doc.as_ref());
    let policy = Policy::of(project, judge);
    let author_key = pull_request.author.to_lowercase();
    let committers: Vec<String> = pull_request
        .committers
        .iter()
        .map(|c| c.to_lowercase())
        .filter(|c| *c != author_key)
        .collect();
    let wrote = |login: &str| login == author_key || committers.iter().any(|c| c == login);
    let counts = |login: &str| !wrote(login) || (policy.self_approval && login == author_key);
    let mut ignored = Vec::new();
    let writers: Vec<&Review> = reviews
        .iter()
        .filter(|review| {
            let writer = review.by_writer();
            if !writer && let Some(user) = &review.user {
                ignored.push(format!("{}: no write access, or a bot", user.login));
            }
            writer
        })
        .collect();
    ignored.sort();
    ignored.dedup();
    let latest = latest_reviews(&writers);
    let mut approved_by = Vec::new();
    let (mut stale, mut changes_requested) = (Vec::new(), Vec::new());
    for (login, review) in &latest {
        match review.state.as_str() {
            "CHANGES_REQUESTED" => changes_requested.push(login.clone()),
            _ if !counts(login) => {
                ignored.push(format!("{login}: wrote or committed the pull request"));
            }
            "APPROVED" if review.commit_id.as_deref() == Some(pull_request.head_sha) => {
                approved_by.push(login.clone());
            }
            "APPROVED" => stale.push(login.clone()),
            _ => {}
        }
    }

    let mut changes = changes_of(diff, versions, &policy);
    changes.extend(evidence.into_iter().map(|e| e.judged(&policy, versions)));
    let emergency = !changes.is_empty()
        && changes
            .iter()
            .all(|c| c.kinds == BTreeSet::from([ChangeKind::Kill]))
        && changes.iter().all(|c| c.emergency_refused.is_none());
    let approval_required = !emergency && changes.iter().any(|c| !c.requirements.is_empty());
    if emergency {
        for change in &mut changes {
            change.requirements.clear();
        }
    }
    for requirement in changes.iter_mut().flat_map(|c| &mut c.requirements) {
        if let Some(eligible) = &mut requirement.eligible {
            eligible.retain(|login| counts(login));
        }
        let eligible = |login: &String| {
            counts(login)
                && requirement
                    .eligible
                    .as_ref()
                    .is_none_or(|eligible| eligible.contains(login))
        };
        requirement.satisfied_by = approved_by
            .iter()
            .filter(|l| eligible(l))
            .cloned()
            .collect();
        requirement.blocked_by = changes_requested
            .iter()
            .filter(|l| requirement.eligible.as_ref().is_none_or(|e| e.contains(l)))
            .cloned()
            .collect();
        requirement.missing = requirement
            .approvals
            .saturating_sub(requirement.satisfied_by.len() as u32);
    }
    let requirements = || changes.iter().flat_map(|c| &c.requirements);
    let blocked = match policy.changes_requested {
        ChangesRequested::Anyone => !changes_requested.is_empty(),
        ChangesRequested::Eligible => requirements().any(|r| !r.blocked_by.is_empty()),
        ChangesRequested::Nobody => false,
    };
    let verdict = if changes.is_empty() {
        Verdict::NoChanges
    } else if emergency {
        Verdict::Emergency
    } else if blocked {
        Verdict::Blocked
    } else if changes
        .iter()
        .filter_map(|c| c.eval.as_ref())
        .any(|gate| !gate.satisfied)
    {
        Verdict::EvalsFailing
    } else if requirements().any(|r| r.missing > 0) {
        Verdict::ApprovalsMissing
    } else {
        Verdict::Approved
    };
    Report {
        verdict,
        approval_required,
        author: pull_request.author.to_owned(),
        head_sha: pull_request.head_sha.to_owned(),
        changes,
        approved_by,
        stale,
        changes_requested,
        ignored,
        committers,
    }
}

/// Each reviewer's latest review that approves, requests changes or is dismissed, by
/// lower-case login (GitHub logins are case-insensitive). Comments change nothing, as on
/// GitHub.
fn latest_reviews<'r>(reviews: &[&'r Review]) -> BTreeMap<String, &'r Review> {
    let mut ordered: Vec<&Review> = reviews.to_vec();
    // GitHub lists reviews oldest first; a stable sort keeps that order for equal times.
    ordered.sort_by(|a, b| a.submitted_at.cmp(&b.submitted_at));
    let mut latest = BTreeMap::new();
    for review in ordered {
        let Some(user) = &review.user else { continue };
        if matches!(
            review.state.as_str(),
            "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED"
        ) {
            latest.insert(user.login.to_lowercase(), review);
        }
    }
    latest
}

/// The judging version's policy, with its defaults filled in.
struct Policy<'a> {
    /// Whose teams expand "@team"; `None` when the project file did not load.
    project: Option<&'a ProjectFile>,
    judge: &'a Repo,
    protected: Vec<String>,
    protected_approvals: u32,
    self_approval: bool,
    emergency_kill: EmergencyKill,
    changes_requested: ChangesRequested,
    rules: Vec<Rule>,
    evals: Vec<EvalRule>,
}

/// A review rule, with its defaults filled in.
struct Rule {
    name: String,
    environments: Option<Vec<String>>,
    changes: Option<Vec<ChangeKind>>,
    rollout_above: Option<f64>,
    blast_radius_above: Option<f64>,
    approvals: u32,
    from: Vec<String>,
}

/// The rule of a repository without `[review]`.
const DEFAULT_RULE: &str = "owners approve every change (no [review] policy)";

impl<'a> Policy<'a> {
    /// Without `[review]`, a safe default: every change needs one approval from the owners
    /// of what it changes, and what has no owners (the teams, the project, the repository's
    /// settings) one from a member of a declared team, or, without teams, from an owner of
    /// some flag. Never "anyone".
    fn of(project: Option<&'a ProjectFile>, judge: &'a Repo) -> Policy<'a> {
        let names = |names: &[Name]| {
            names
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        let Some(policy) = project.and_then(|p| p.review.as_ref()) else {
            let mut protected: BTreeSet<String> = project
                .iter()
                .flat_map(|p| p.teams.keys())
                .map(|team| format!("@{}", team.value))
                .collect();
            if protected.is_empty() {
                protected = judge
                    .flags
                    .values()
                    .filter_map(|f| f.doc.as_ref())
                    .flat_map(|f| f.owners.iter().map(|o| o.as_str().to_owned()))
                    .collect();
            }
            return Policy {
                project,
                judge,
                protected: protected.into_iter().collect(),
                protected_approvals: 1,
                self_approval: false,
                emergency_kill: EmergencyKill::Enabled(true),
                changes_requested: ChangesRequested::Anyone,
                rules: vec![Rule {
                    name: DEFAULT_RULE.to_owned(),
                    environments: None,
                    changes: None,
                    rollout_above: None,
                    blast_radius_above: None,
                    approvals: 1,
                    from: vec![OWNERS.to_owned()],
                }],
                evals: Vec::new(),
            };
        };
        let ReviewPolicy {
            protected,
            protected_approvals,
            self_approval,
            emergency_kill,
            changes_requested,
            rules,
        } = policy;
        Policy {
            project,
            judge,
            protected: names(protected),
            protected_approvals: protected_approvals.as_ref().map_or(1, |a| a.value),
            self_approval: self_approval.unwrap_or(false),
            emergency_kill: emergency_kill
                .clone()
                .unwrap_or(EmergencyKill::Enabled(true)),
            changes_requested: changes_requested.unwrap_or_default(),
            rules: rules
                .iter()
                .filter(|rule| rule.evals.is_none())
                .map(|rule| Rule {
                    name: rule.name.as_str().to_owned(),
                    environments: rule.environments.as_deref().map(names),
                    changes: rule
                        .changes
                        .as_ref()
                        .map(|c| c.iter().map(|k| k.value).collect()),
                    rollout_above: rule.rollout_above.as_ref().map(|r| r.value),
                    blast_radius_above: rule.blast_radius_above.as_ref().map(|b| b.value),
                    approvals: rule.approvals.as_ref().map_or(1, |a| a.value),
                    from: rule.from.as_deref().map(|f| names(f)).unwrap_or_default(),
                })
                .collect(),
            evals: rules
                .iter()
                .filter_map(|rule| {
                    let evals = rule.evals.as_ref()?;
                    Some(EvalRule {
                        name: rule.name.as_str().to_owned(),
                        environments: rule.environments.as_deref().map(names),
                        reports: evals.reports.as_str().to_owned(),
                        settings: EvalSettings {
                            // A policy that checks cleanly has a valid margin.
                            margin: evals
                                .max_regression
                                .as_ref()
                                .and_then(|m| m.value.margin())
                                .unwrap_or(Margin::Absolute(0.0)),
                            min_cases: evals
                                .min_cases
                                .as_ref()
                                .map_or(MIN_CASES, |n| n.value as usize),
                            lower_is_better: evals.lower_is_better.unwrap_or(false),
                            alpha: evals.alpha.as_ref().map_or(0.05, |a| a.value),
                            resamples: evals
                                .resamples
                                .as_ref()
                                .map_or(REVIEW_RESAMPLES, |r| r.value),
                        },
                        inconclusive: match &evals.inconclusive {
                            None | Some(Inconclusive::Block(_)) => None,
                            Some(Inconclusive::Approve(approve)) => Some((
                                approve.approvals.as_ref().map_or(1, |a| a.value),
                                names(&approve.from),
                            )),
                        },
                    })
                })
                .collect(),
        }
    }

    /// The logins `who` names ("@team" or a login), lower-case; `None` for anyone.
    fn resolve(&self, who: &[String], owners: &[String]) -> Option<BTreeSet<String>> {
        let mut logins = BTreeSet::new();
        for entry in who {
            match entry.as_str() {
                ANYONE => return None,
                // What has no owners of its own (the project, a segment no flag tests) is the
                // protected approvers'.
                OWNERS if owners.is_empty() => {
                    for person in &self.protected {
                        if person == ANYONE {
                            return None;
                        }
                        self.add_people(person, &mut logins);
                    }
                }
                OWNERS => owners.iter().for_each(|o| self.add_people(o, &mut logins)),
                person => self.add_people(person, &mut logins),
            }
        }
        Some(logins)
    }

    /// Adds the people "@team" or a login names. Keywords mean nothing here: a flag owned by
    /// a login "anyone" is owned by that login, not by everyone. Without a project file (a
    /// judging version always has one: it must check) nobody is named.
    fn add_people(&self, who: &str, logins: &mut BTreeSet<String>) {
        let people = self.project.map(|p| p.people(who)).unwrap_or_default();
        logins.extend(people.into_iter().map(str::to_lowercase));
    }

    fn requirement(
        &self,
        rule: &str,
        approvals: u32,
        from: &[String],
        owners: &[String],
    ) -> Requirement {
        Requirement {
            rule: rule.to_owned(),
            approvals,
            from: from.to_vec(),
            eligible: self
                .resolve(from, owners)
                .map(|logins| logins.into_iter().collect()),
            satisfied_by: Vec::new(),
            missing: approvals,
            blocked_by: Vec::new(),
        }
    }

    fn protected(&self) -> Requirement {
        self.requirement(PROTECTED, self.protected_approvals, &self.protected, &[])
    }

    /// The requirements the rules attach to `subject`, for what `owners` own.
    fn rules(&self, subject: &Subject<'_>, owners: &[String]) -> Vec<Requirement> {
        self.rules
            .iter()
            .filter(|rule| rule.applies(subject))
            .map(|rule| self.requirement(&rule.name, rule.approvals, &rule.from, owners))
            .collect()
    }

    /// Why a kill of `key` may not take the emergency path, if it may not: the kind of the
    /// flag, as the judging version says it (a pull request cannot relabel a flag to pass),
    /// or the flag's own opt-out.
    fn refuses_kill(&self, key: &str, head: &Repo) -> Option<String> {
        let flag = [self.judge, head]
            .into_iter()
            .find_map(|repo| repo.flags.get(key)?.doc.as_ref())?;
        if flag.emergency_kill == Some(false) {
            return Some(format!(
                "`{key}` opts out of the emergency path (emergency_kill = false)"
            ));
        }
        let kind = flag.kind.value;
        (!self.emergency_kill.allows(kind)).then(|| {
            format!(
                "the policy does not let a kill turn {} flags off without approval (`{key}` is one; see [review] emergency_kill)",
                kind.as_str()
            )
        })
    }
}

/// What a change touched, for matching rules.
struct Subject<'d> {
    /// `None` for what applies to every environment.
    environment: Option<&'d str>,
    /// For a change of no single environment: whether rollout and blast-radius thresholds
    /// count as met (project changes, which may change any flag) or as not met (segments,
    /// whose effect is judged flag by flag, where it is measured; files and metadata, which
    /// serve nothing).
    meets_thresholds: bool,
    kinds: &'d BTreeSet<ChangeKind>,
    rollout_to: Option<f64>,
    /// The upper bound of the blast radius.
    blast_radius: Option<f64>,
}

impl<'d> Subject<'d> {
    /// A change of no single environment, rollout or blast radius.
    fn everywhere(kinds: &'d BTreeSet<ChangeKind>, meets_thresholds: bool) -> Subject<'d> {
        Subject {
            environment: None,
            meets_thresholds,
            kinds,
            rollout_to: None,
            blast_radius: None,
        }
    }
}

impl Rule {
    fn applies(&self, subject: &Subject<'_>) -> bool {
        let environment = match (&self.environments, subject.environment) {
            (Some(names), Some(env)) => names.iter().any(|n| n == env),
            _ => true,
        };
        let kind = self
            .changes
            .as_ref()
            .is_none_or(|kinds| kinds.iter().any(|k| subject.kinds.contains(k)));
        let measured = subject.environment.is_some();
        let unmeasured = subject.meets_thresholds;
        let rollout = self.rollout_above.is_none_or(|above| match measured {
            true => subject.rollout_to.is_some_and(|to| to > above),
            false => unmeasured,
        });
        // An estimate counts as above unless its upper bound is below.
        let blast = self.blast_radius_above.is_none_or(|above| match measured {
            true => subject.blast_radius.is_some_and(|r| r >= above),
            false => unmeasured,
        });
        environment && kind && rollout && blast
    }
}

/// Every change in `diff`, with the requirements the policy attaches to it.
fn changes_of(diff: &Diff, versions: Versions<'_>, policy: &Policy<'_>) -> Vec<ChangeReview> {
    let owners_of = |key: &str| flag_owners(versions, key);
    // Experiments and their owners as the base says them (the judge's where it has them):
    // a pull request cannot rename, move, re-own or delete an experiment out of its owners'
    // reach.
    let mut experiments: BTreeMap<&str, BaseExperiment<'_>> = BTreeMap::new();
    for repo in [versions.base, versions.judge] {
        for (name, loaded) in &repo.experiments {
            let Some(doc) = loaded.doc.as_ref() else {
                continue;
            };
            let experiment = BaseExperiment {
                path: &repo.files[loaded.file].path,
                flag: doc.flag.as_str(),
                owners: doc.owners.iter().map(|o| o.as_str().to_owned()).collect(),
                environments: doc.environments.iter().map(|e| e.as_str()).collect(),
            };
            experiments.insert(name, experiment);
        }
    }
    let experiment_requirements = |names: BTreeSet<&str>| -> Vec<Requirement> {
        names
            .into_iter()
            .filter_map(|name| Some((name, experiments.get(name)?)))
            .map(|(name, experiment)| {
                let from = [OWNERS.to_owned()];
                let mut requirement = policy.requirement(EXPERIMENT, 1, &from, &experiment.owners);
                requirement.rule = format!("{EXPERIMENT} (experiment `{name}`)");
                requirement
            })
            .collect()
    };
    let reports = eval_report_paths(versions, policy);
    let mut changes = Vec::new();
    let change =
        |change: String, kinds: BTreeSet<ChangeKind>, details, requirements| ChangeReview {
            change,
            kinds,
            details,
            requirements,
            emergency_refused: None,
            eval: None,
        };
    if !diff.teams.is_empty() || diff.policy.is_some() {
        let mut details = diff.teams.clone();
        if let Some(policy) = &diff.policy {
            details.push(format!("[review] policy changed:\n{policy}"));
        }
        let kinds = BTreeSet::from([ChangeKind::Project]);
        changes.push(change(
            "teams and review policy".to_owned(),
            kinds,
            details,
            vec![policy.protected()],
        ));
    }
    if !diff.project.is_empty() {
        let kinds = BTreeSet::from([ChangeKind::Project]);
        let mut requirements = policy.rules(&Subject::everywhere(&kinds, true), &[]);
        requirements.push(policy.protected());
        changes.push(change(
            "project".to_owned(),
            kinds,
            diff.project.clone(),
            requirements,
        ));
    }
    for file in &diff.files {
        let mut kinds = BTreeSet::from([ChangeKind::Files]);
        kinds.extend(file.kinds.iter().copied());
        let status = format!("{:?}", file.status).to_lowercase();
        let (what, requirements) = match file.kind {
            FileKind::Protected => (
                format!(
                    "`{}` {status}: it decides how the repository is checked out, owned or checked",
                    file.path
                ),
                vec![policy.protected()],
            ),
            kind => {
                let mut owners: Vec<String> =
                    file.flags.iter().flat_map(|f| owners_of(f)).collect();
                // An eval report is its flag's owners' evidence.
                // (The diff names files from the work tree's root, the rules from the
                // repository's directory, which holds every file of this kind.)
                let report = reports.iter().find(|(report, _)| {
                    file.path == **report || file.path.ends_with(&format!("/{report}"))
                });
                if let Some((_, flag)) = report {
                    owners.extend(owners_of(flag));
                }
                // The experiment the base has at this path: its owners, never the pull
                // request's; a new experiment's are the ones it names.
                let based = experiments.iter().find(|(_, e)| e.path == file.path);
                match based {
                    Some((_, experiment)) => owners.extend(experiment.owners.iter().cloned()),
                    None => owners.extend(file.owners.iter().cloned()),
                }
                owners.sort();
                owners.dedup();
                let what = match kind {
                    FileKind::Test => {
                        format!("test file {status}: it changes what `flagstone test` asserts")
                    }
                    FileKind::Experiment => format!("experiment settings {status}"),
                    _ => status.clone(),
                };
                let mut requirements = policy.rules(&Subject::everywhere(&kinds, false), &owners);
                if requirements.is_empty() {
                    requirements.push(policy.requirement(OWNED, 1, &[OWNERS.to_owned()], &owners));
                }
                if kind == FileKind::Experiment {
                    // The experiment that was here, and those that split a flag this file now
                    // names: pointing an experiment at another's flag changes that split.
                    let mut names: BTreeSet<&str> = based.map(|(n, _)| *n).into_iter().collect();
                    let moved = file
                        .flags
                        .iter()
                        .filter(|f| based.is_none_or(|(_, e)| e.flag != f.as_str()));
                    for flag in moved {
                        names.extend(
                            experiments
                                .iter()
                                .filter(|(_, e)| e.flag == flag.as_str())
                                .map(|(n, _)| *n),
                        );
                    }
                    requirements.extend(experiment_requirements(names));
                }
                (what, requirements)
            }
        };
        let mut details = vec![what];
        if !file.flags.is_empty() {
            details.push(format!("about {}", file.flags.join(", ")));
        }
        details.extend(file.changes.iter().cloned());
        changes.push(change(
            format!("file `{}`", file.path),
            kinds,
            details,
            requirements,
        ));
    }
    for segment in &diff.segments {
        let kinds = BTreeSet::from([ChangeKind::Segment]);
        let subject = Subject::everywhere(&kinds, false);
        // Each affected flag's owners, never pooled: one owner of one flag cannot approve a
        // change to another's audience.
        let mut requirements = Vec::new();
        for flag in &segment.affected_flags {
            for mut requirement in policy.rules(&subject, &owners_of(flag)) {
                requirement.rule = format!("{} (flag `{flag}`)", requirement.rule);
                requirements.push(requirement);
            }
        }
        if segment.affected_flags.is_empty() {
            requirements = policy.rules(&subject, &[]);
        }
        let affects = if segment.affected_flags.is_empty() {
            "no flag".to_owned()
        } else {
            segment.affected_flags.join(", ")
        };
        changes.push(change(
            format!("segment `{}`", segment.segment),
            kinds,
            vec![format!("{:?}; affects {affects}", segment.status).to_lowercase()],
            requirements,
        ));
    }
    for flag in &diff.flags {
        let owners = owners_of(&flag.flag);
        if let Some([before, after]) = &flag.owners {
            changes.push(change(
                format!("owners of flag `{}`", flag.flag),
                BTreeSet::from([ChangeKind::Owners]),
                vec![format!("{} → {}", before.join(" "), after.join(" "))],
                vec![policy.requirement(OWNERSHIP, 1, &[OWNERS.to_owned()], before)],
            ));
        }
        if !flag.metadata.is_empty() {
            let kinds = BTreeSet::from([ChangeKind::Metadata]);
            let mut requirements = policy.rules(&Subject::everywhere(&kinds, false), &owners);
            if requirements.is_empty() {
                requirements.push(policy.requirement(OWNED, 1, &[OWNERS.to_owned()], &owners));
            }
            changes.push(change(
                format!("flag `{}` metadata", flag.flag),
                kinds,
                flag.metadata.clone(),
                requirements,
            ));
        }
        for env in &flag.environments {
            let subject = Subject {
                environment: Some(&env.environment),
                meets_thresholds: false,
                kinds: &env.kinds,
                rollout_to: env.rollout_to,
                blast_radius: Some(env.blast_radius.upper),
            };
            let mut requirements = policy.rules(&subject, &owners);
            if env.kinds.contains(&ChangeKind::Remove) {
                requirements.push(policy.requirement(REMOVAL, 1, &[OWNERS.to_owned()], &owners));
            }
            // Whatever changes how the flag serves units in an environment an experiment runs
            // it in may change the experiment's split.
            let splitting = experiments.iter().filter(|(_, e)| {
                e.flag == flag.flag && e.environments.contains(&env.environment.as_str())
            });
            requirements.extend(experiment_requirements(
                splitting.map(|(n, _)| *n).collect(),
            ));
            let mut details = env.changes.clone();
            if let Some(off) = &env.off {
                details.push(format!(
                    "every unit now gets `{}` = {}",
                    off.variant, off.value
                ));
            }
            details.push(format!("blast radius: {}", radius(&env.blast_radius)));
            let emergency_refused = env
                .kinds
                .contains(&ChangeKind::Kill)
                .then(|| policy.refuses_kill(&flag.flag, versions.head))
                .flatten();
            changes.push(ChangeReview {
                change: format!("flag `{}` in {}", flag.flag, env.environment),
                kinds: env.kinds.clone(),
                details,
                requirements,
                emergency_refused,
                eval: None,
            });
        }
    }
    changes
}

/// A flag's owners: an existing flag's are the judge's (or the base's, for a flag the base
/// branch has removed since); a new flag's are the ones it names.
fn flag_owners(versions: Versions<'_>, key: &str) -> Vec<String> {
    let flag = |repo: &Repo| -> Option<Vec<String>> {
        let doc: &FlagFile = repo.flags.get(key)?.doc.as_ref()?;
        Some(doc.owners.iter().map(|o| o.as_str().to_owned()).collect())
    };
    [versions.judge, versions.base, versions.head]
        .into_iter()
        .find_map(flag)
        .unwrap_or_default()
}

/// An experiment as the base (or the judging version) has it.
struct BaseExperiment<'r> {
    /// Its file's path, as the diff names files.
    path: &'r str,
    flag: &'r str,
    owners: Vec<String>,
    environments: Vec<&'r str>,
}

/// A blast radius in words.
pub fn radius(r: &BlastRadius) -> String {
    if r.exact {
        return format!("{:.1}% (exact) of {}", r.percent, r.of);
    }
    format!(
        "{:.1}% (estimated, at most {:.1}% at 95% confidence) of {}",
        r.percent, r.upper, r.of
    )
}

/// An `evals` rule, with its defaults filled in.
struct EvalRule {
    name: String,
    environments: Option<Vec<String>>,
    reports: String,
    settings: EvalSettings,
    /// The approvals that accept an inconclusive result, and from whom; `None`: it blocks.
    inconclusive: Option<(u32, Vec<String>)>,
}

impl EvalRule {
    /// The path of the report on `flag`'s `variant`.
    fn report(&self, flag: &str, variant: &str) -> String {
        crate::model::eval_report(&self.reports, flag, variant)
    }
}

/// How an `evals` rule judges a report.
#[derive(Clone, Copy, Debug)]
pub struct EvalSettings {
    pub margin: Margin,
    /// The fewest cases a pass needs.
    pub min_cases: usize,
    pub lower_is_better: bool,
    pub alpha: f64,
    pub resamples: u32,
}

/// The bootstrap resamples of a review's comparison by default: enough for a percentile
/// interval (Efron and Tibshirani ask for 1,000 or more), and a fifth of `evals compare`'s
/// default, so that 100,000 cases take well under a second.
pub const REVIEW_RESAMPLES: u32 = 2_000;

/// A changed payload of an AI configuration flag, and the report an `evals` rule asks for.
#[derive(Clone, Debug)]
pub struct EvalDemand {
    pub rule: String,
    pub flag: String,
    pub variant: String,
    /// The base's variant the head's payload is compared with: the same variant, or, for a
    /// variant the base lacks, the flag's off variant (what a kill would serve). Never the
    /// author's choice, so a weak baseline cannot be picked to pass.
    pub baseline_variant: String,
    pub baseline: serde_json::Value,
    pub candidate: serde_json::Value,
    /// The payloads' hashes ([`crate::bundle::payload_hash`]), which the report names.
    pub baseline_payload: String,
    pub candidate_payload: String,
    /// Where the report is, relative to the repository's directory.
    pub report: String,
    pub settings: EvalSettings,
    inconclusive: Option<(u32, Vec<String>)>,
}

/// The changed payloads of AI configuration flags that the judging version's `evals` rules
/// ask evidence for: each variant of a flag of kind "ai" (as the judge or the base says it,
/// or, for a flag they lack, the head) whose head value differs from the base's, or that the
/// base lacks. A flag the base lacks has no payload to regress from; a removed variant serves
/// nothing.
pub fn eval_demands(versions: Versions<'_>) -> Vec<EvalDemand> {
    let judge = versions.judge;
    let project = judge.project.as_ref().and_then(|p| p.doc.as_ref());
    let policy = Policy::of(project, judge);
    if policy.evals.is_empty() {
        return Vec::new();
    }
    fn doc<'r>(repo: &'r Repo, key: &str) -> Option<&'r FlagFile> {
        repo.flags.get(key)?.doc.as_ref()
    }
    let mut demands = Vec::new();
    for (key, loaded) in &versions.head.flags {
        let (Some(head), Some(base)) = (loaded.doc.as_ref(), doc(versions.base, key)) else {
            continue;
        };
        let ai = [doc(judge, key), Some(base), Some(head)]
            .into_iter()
            .flatten()
            .any(|flag| flag.kind.value == FlagKind::Ai);
        // An AI flag's variants are tables (FS012): it has `[variants]` in any version that
        // checks.
        let (true, Some(head_variants), Some(base_variants)) = (ai, &head.variants, &base.variants)
        else {
            continue;
        };
        let environments: Vec<&str> = [&head.env, &base.env]
            .into_iter()
            .flat_map(|env| env.keys().map(|e| e.as_str()))
            .collect();
        // The base's off variant, as the build resolves it; it exists in a base that checks.
        let off = base.off_variant.as_ref().map_or("off", |v| v.as_str());
        for (variant, value) in head_variants.value.iter() {
            let candidate = &value.value.0;
            let before = base_variants.value.get(variant.as_str());
            let (baseline_variant, baseline) = match before {
                Some(before) if before.value.0 == *candidate => continue,
                Some(before) => (variant.as_str(), &before.value.0),
                None => match base_variants.value.get(off) {
                    Some(before) => (off, &before.value.0),
                    None => continue,
                },
            };
            for rule in &policy.evals {
                let applies = rule
                    .environments
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| environments.contains(&n.as_str())));
                if !applies {
                    continue;
                }
                demands.push(EvalDemand {
                    rule: rule.name.clone(),
                    flag: key.clone(),
                    variant: variant.as_str().to_owned(),
                    baseline_variant: baseline_variant.to_owned(),
                    baseline: baseline.clone(),
                    candidate: candidate.clone(),
                    baseline_payload: crate::bundle::payload_hash(baseline),
                    candidate_payload: crate::bundle::payload_hash(candidate),
                    report: rule.report(key, variant),
                    settings: rule.settings,
                    inconclusive: rule.inconclusive.clone(),
                });
            }
        }
    }
    demands
}

/// The paths, relative to the repository's directory, where the `evals` rules put the
/// reports of the AI flags' variants (in the base or the head), and the flag each is about.
fn eval_report_paths<'v>(versions: Versions<'v>, policy: &Policy<'_>) -> BTreeMap<String, &'v str> {
    let mut paths = BTreeMap::new();
    if policy.evals.is_empty() {
        return paths;
    }
    for repo in [versions.base, versions.head] {
        for (key, loaded) in &repo.flags {
            let Some(flag) = loaded.doc.as_ref().filter(|f| f.kind.value == FlagKind::Ai) else {
                continue;
            };
            for variant in crate::model::variant_names(flag) {
                for rule in &policy.evals {
                    paths.insert(rule.report(key, variant), key.as_str());
                }
            }
        }
    }
    paths
}

/// What the report an [`EvalDemand`] asks for shows.
#[derive(Clone, Debug)]
pub struct EvalEvidence {
    pub demand: EvalDemand,
    pub outcome: EvalOutcome,
}

#[derive(Clone, Debug)]
pub enum EvalOutcome {
    /// No report at the path.
    Missing,
    /// The report names another payload than the ones compared: the message, located.
    Stale(String),
    /// The report cannot be read or compared: the message, located.
    Invalid(String),
    /// The paired comparison of its cases.
    Compared {
        cases: usize,
        baseline_mean: f64,
        candidate_mean: f64,
        verdict: EvalVerdict,
        /// The most regressed cases, worst first.
        worst: Vec<WorstCase>,
    },
}

/// A changed AI payload's eval evidence, as the review report shows it.
#[derive(Debug, Serialize)]
pub struct EvalGate {
    pub rule: String,
    pub flag: String,
    pub variant: String,
    pub baseline_variant: String,
    pub report: String,
    pub baseline_payload: String,
    pub candidate_payload: String,
    pub status: EvalStatus,
    /// Whether the evidence lets the change merge: a pass, or an inconclusive result the
    /// rule lets approvals accept (the approvals are a requirement of the change).
    pub satisfied: bool,
    /// Why a missing, stale or invalid report does not count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<EvalComparison>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalStatus {
    Pass,
    Regression,
    Inconclusive,
    Missing,
    Stale,
    Invalid,
}

#[derive(Debug, Serialize)]
pub struct EvalComparison {
    pub cases: usize,
    pub min_cases: usize,
    pub alpha: f64,
    pub lower_is_better: bool,
    pub resamples: u32,
    pub baseline_mean: f64,
    pub candidate_mean: f64,
    /// The tolerated regression in score units.
    pub margin: f64,
    /// The bootstrap interval of the improvement (negative is worse).
    pub improvement: [f64; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_cases: Option<u64>,
    pub worst: Vec<RegressedCase>,
}

#[derive(Debug, Serialize)]
pub struct RegressedCase {
    pub id: String,
    pub baseline: f64,
    pub candidate: f64,
    pub difference: f64,
}

/// How many of the most regressed cases a review shows.
pub const WORST_SHOWN: usize = 5;

impl EvalEvidence {
    /// The change a review lists for this evidence, with the approvals an accepted
    /// inconclusive result needs.
    fn judged(self, policy: &Policy<'_>, versions: Versions<'_>) -> ChangeReview {
        use crate::format::{plural, significant, significant_interval};
        let EvalEvidence { demand, outcome } = self;
        let settings = demand.settings;
        let compared_with = if demand.baseline_variant == demand.variant {
            "its base version".to_owned()
        } else {
            format!(
                "the base's off variant `{}` (the variant is new)",
                demand.baseline_variant
            )
        };
        let mut details = vec![format!(
            "eval report `{}` (rule `{}`), compared with {compared_with}",
            demand.report, demand.rule
        )];
        let mut requirements = Vec::new();
        let (status, error, comparison) = match outcome {
            EvalOutcome::Missing => {
                details.push(format!(
                    "MISSING: no report at `{}`; the rule asks for one per changed variant",
                    demand.report
                ));
                (EvalStatus::Missing, Some("no report".to_owned()), None)
            }
            EvalOutcome::Stale(why) => {
                details.push(format!("STALE, does not count: {why}"));
                (EvalStatus::Stale, Some(why), None)
            }
            EvalOutcome::Invalid(why) => {
                details.push(format!("INVALID, does not count: {why}"));
                (EvalStatus::Invalid, Some(why), None)
            }
            EvalOutcome::Compared {
                cases,
                baseline_mean,
                candidate_mean,
                verdict,
                worst,
            } => {
                let level = format!("{}%", significant((1.0 - settings.alpha) * 100.0));
                let interval = format!(
                    "improvement {level} interval {}, tolerated regression {}",
                    significant_interval(verdict.improvement),
                    significant(verdict.margin)
                );
                let status = match verdict.outcome {
                    Conclusion::Pass => EvalStatus::Pass,
                    Conclusion::Regression => EvalStatus::Regression,
                    Conclusion::Inconclusive => EvalStatus::Inconclusive,
                };
                let why = match verdict.outcome {
                    Conclusion::Pass => "the interval is above the tolerated regression".to_owned(),
                    Conclusion::Regression => {
                        "the interval is below the tolerated regression: the head scores worse"
                            .to_owned()
                    }
                    Conclusion::Inconclusive if verdict.too_few_cases => format!(
                        "the interval clears the tolerated regression, but a pass needs {}",
                        plural(settings.min_cases as u64, "case")
                    ),
                    Conclusion::Inconclusive => match verdict.more_cases {
                        Some(more) => format!(
                            "the interval straddles the tolerated regression; about {} more would decide",
                            plural(more, "case")
                        ),
                        None => "the interval straddles the tolerated regression".to_owned(),
                    },
                };
                let word = match status {
                    EvalStatus::Pass => "PASS",
                    EvalStatus::Regression => "REGRESSION",
                    _ => "INCONCLUSIVE",
                };
                details.push(format!(
                    "{word}: {why}; {}, mean score {} → {}; {interval}",
                    plural(cases as u64, "case"),
                    significant(baseline_mean),
                    significant(candidate_mean)
                ));
                let shown: Vec<&WorstCase> = worst.iter().take(WORST_SHOWN).collect();
                if !shown.is_empty() {
                    let cases: Vec<String> = shown
                        .iter()
                        .map(|c| {
                            format!(
                                "`{}` {} → {}",
                                c.id,
                                significant(c.baseline),
                                significant(c.candidate)
                            )
                        })
                        .collect();
                    details.push(format!("most regressed: {}", cases.join(", ")));
                }
                if status == EvalStatus::Inconclusive
                    && let Some((approvals, from)) = &demand.inconclusive
                {
                    let owners = flag_owners(versions, &demand.flag);
                    let mut requirement =
                        policy.requirement(&demand.rule, *approvals, from, &owners);
                    requirement.rule = format!("{} (accepting an inconclusive eval)", demand.rule);
                    requirements.push(requirement);
                }
                let comparison = EvalComparison {
                    cases,
                    min_cases: settings.min_cases,
                    alpha: settings.alpha,
                    lower_is_better: settings.lower_is_better,
                    resamples: settings.resamples,
                    baseline_mean,
                    candidate_mean,
                    margin: verdict.margin,
                    improvement: verdict.improvement,
                    more_cases: verdict.more_cases,
                    worst: worst
                        .into_iter()
                        .map(|c| RegressedCase {
                            id: c.id,
                            baseline: c.baseline,
                            candidate: c.candidate,
                            difference: c.difference,
                        })
                        .collect(),
                };
                (status, None, Some(comparison))
            }
        };
        let satisfied = status == EvalStatus::Pass
            || (status == EvalStatus::Inconclusive && !requirements.is_empty());
        ChangeReview {
            change: format!(
                "payload of flag `{}` variant `{}`",
                demand.flag, demand.variant
            ),
            kinds: BTreeSet::from([ChangeKind::Variants]),
            details,
            requirements,
            emergency_refused: None,
            eval: Some(EvalGate {
                rule: demand.rule,
                flag: demand.flag,
                variant: demand.variant,
                baseline_variant: demand.baseline_variant,
                report: demand.report,
                baseline_payload: demand.baseline_payload,
                candidate_payload: demand.candidate_payload,
                status,
                satisfied,
                error,
                comparison,
            }),
        }
    }
}
