//! Whether a change has the approvals its review policy asks for.
//!
//! The change is a [`Diff`]; the policy, the teams and the owners of existing flags come from
//! the **base** version, so a pull request can neither lower the bar for itself nor make its
//! author an owner. Reviews have the shape of GitHub's REST response for a pull request's
//! reviews. Only each reviewer's latest review counts, an approval of another commit than the
//! head is stale, and a request for changes from anyone who could approve blocks.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::diff::Diff;
use crate::load::Repo;
use crate::model::{ANYONE, ChangeKind, FlagFile, Name, OWNERS, ProjectFile, ReviewPolicy};

/// One review as GitHub's REST API returns it; other fields are ignored.
#[derive(Debug, Deserialize)]
pub struct Review {
    /// `None` for a deleted account.
    pub user: Option<User>,
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
}

/// Reads a reviews file: one JSON array of reviews, or several in a row, as `gh api
/// --paginate` prints them page by page.
pub fn parse_reviews(text: &str) -> Result<Vec<Review>, String> {
    if text.trim().is_empty() {
        return Err("it is empty; an empty list of reviews is `[]`".to_owned());
    }
    let mut reviews = Vec::new();
    for page in serde_json::Deserializer::from_str(text).into_iter::<Vec<Review>>() {
        let page =
            page.map_err(|e| format!("{e} (expected GitHub's list of pull request reviews)"))?;
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
    /// Reviewers whose latest review requests changes.
    pub changes_requested: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every requirement is met.
    Approved,
    /// Some requirement lacks approvals.
    ApprovalsMissing,
    /// Someone who could approve requests changes.
    Blocked,
    /// The change only kills flags: the policy's emergency path, no approval needed.
    Emergency,
    /// Nothing that behaves differently, and no owners, teams or policy changed.
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
const PROTECTED: &str = "the teams and the review policy are protected";

/// The versions a review reads: `judge` gives the policy, the teams and the owners of
/// existing flags; `base` and `head` are the compared versions.
#[derive(Clone, Copy)]
pub struct Versions<'a> {
    pub judge: &'a Repo,
    pub base: &'a Repo,
    pub head: &'a Repo,
}

/// Judges `diff` by the judging version's policy, teams and owners against `reviews`.
pub fn review(
    diff: &Diff,
    versions: Versions<'_>,
    reviews: &[Review],
    author: &str,
    head_sha: &str,
) -> Report {
    let judge = versions.judge;
    let project = judge.project.as_ref().and_then(|p| p.doc.as_ref());
    let policy = Policy::of(project);
    let latest = latest_reviews(reviews);
    let author_key = author.to_lowercase();
    let counts = |login: &str| policy.self_approval || login != author_key;
    let mut approved_by = Vec::new();
    let (mut stale, mut changes_requested) = (Vec::new(), Vec::new());
    // The author's own approval is dropped, unless the policy allows it.
    for (login, review) in latest.iter().filter(|(login, _)| counts(login)) {
        match review.state.as_str() {
            "APPROVED" if review.commit_id.as_deref() == Some(head_sha) => {
                approved_by.push(login.clone());
            }
            "APPROVED" => stale.push(login.clone()),
            "CHANGES_REQUESTED" => changes_requested.push(login.clone()),
            _ => {}
        }
    }

    let mut changes = changes_of(diff, versions, &policy);
    let emergency = policy.emergency_kill
        && !changes.is_empty()
        && changes
            .iter()
            .all(|c| c.kinds == BTreeSet::from([ChangeKind::Kill]));
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
            .filter(|l| eligible(l))
            .cloned()
            .collect();
        requirement.missing = requirement
            .approvals
            .saturating_sub(requirement.satisfied_by.len() as u32);
    }
    let requirements = || changes.iter().flat_map(|c| &c.requirements);
    let verdict = if changes.is_empty() {
        Verdict::NoChanges
    } else if emergency {
        Verdict::Emergency
    } else if requirements().any(|r| !r.blocked_by.is_empty()) {
        Verdict::Blocked
    } else if requirements().any(|r| r.missing > 0) {
        Verdict::ApprovalsMissing
    } else {
        Verdict::Approved
    };
    Report {
        verdict,
        approval_required,
        author: author.to_owned(),
        head_sha: head_sha.to_owned(),
        changes,
        approved_by,
        stale,
        changes_requested,
    }
}

/// Each reviewer's latest review that approves, requests changes or is dismissed, by
/// lower-case login (GitHub logins are case-insensitive). Comments change nothing, as on
/// GitHub.
fn latest_reviews(reviews: &[Review]) -> BTreeMap<String, &Review> {
    let mut ordered: Vec<&Review> = reviews.iter().collect();
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

/// The base's policy, with its defaults filled in.
struct Policy<'a> {
    /// Whose teams expand "@team"; `None` when the project file did not load.
    project: Option<&'a ProjectFile>,
    protected: Vec<String>,
    protected_approvals: u32,
    self_approval: bool,
    emergency_kill: bool,
    rules: Vec<Rule>,
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

impl<'a> Policy<'a> {
    /// Without `[review]`: every change needs one approval from the owners of what it
    /// changes, and the teams (the project, with no protected approvers named) anyone's.
    fn of(project: Option<&'a ProjectFile>) -> Policy<'a> {
        let names = |names: &[Name]| names.iter().map(|n| n.value.clone()).collect::<Vec<_>>();
        let Some(policy) = project.and_then(|p| p.review.as_ref()) else {
            return Policy {
                project,
                protected: vec![ANYONE.to_owned()],
                protected_approvals: 1,
                self_approval: false,
                emergency_kill: true,
                rules: vec![Rule {
                    name: "owners approve every change (no [review] policy)".to_owned(),
                    environments: None,
                    changes: None,
                    rollout_above: None,
                    blast_radius_above: None,
                    approvals: 1,
                    from: vec![OWNERS.to_owned()],
                }],
            };
        };
        let ReviewPolicy {
            protected,
            protected_approvals,
            self_approval,
            emergency_kill,
            rules,
        } = policy;
        Policy {
            project,
            protected: names(protected),
            protected_approvals: protected_approvals.as_ref().map_or(1, |a| a.value),
            self_approval: self_approval.unwrap_or(false),
            emergency_kill: emergency_kill.unwrap_or(true),
            rules: rules
                .iter()
                .map(|rule| Rule {
                    name: rule.name.value.clone(),
                    environments: rule.environments.as_deref().map(names),
                    changes: rule
                        .changes
                        .as_ref()
                        .map(|c| c.iter().map(|k| k.value).collect()),
                    rollout_above: rule.rollout_above.as_ref().map(|r| r.value),
                    blast_radius_above: rule.blast_radius_above.as_ref().map(|b| b.value),
                    approvals: rule.approvals.as_ref().map_or(1, |a| a.value),
                    from: names(&rule.from),
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
    /// a login "anyone" is owned by that login, not by everyone.
    fn add_people(&self, who: &str, logins: &mut BTreeSet<String>) {
        let people = match self.project {
            Some(project) => project.people(who),
            None if !who.starts_with('@') => vec![who],
            None => Vec::new(),
        };
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
}

/// What a change touched, for matching rules.
struct Subject<'d> {
    /// `None` for segments and the project, which apply to every environment.
    environment: Option<&'d str>,
    kinds: &'d BTreeSet<ChangeKind>,
    rollout_to: Option<f64>,
    blast_radius: Option<f64>,
}

impl<'d> Subject<'d> {
    /// A segment or project change: every environment, no rollout or blast radius of its own.
    fn everywhere(kinds: &'d BTreeSet<ChangeKind>) -> Subject<'d> {
        Subject {
            environment: None,
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
        // Segment and project changes have no rollout or blast radius of their own: they
        // meet every threshold rather than slip under one.
        let measured = subject.environment.is_some();
        let rollout = self
            .rollout_above
            .is_none_or(|above| !measured || subject.rollout_to.is_some_and(|to| to > above));
        let blast = self
            .blast_radius_above
            .is_none_or(|above| !measured || subject.blast_radius.is_some_and(|r| r > above));
        environment && kind && rollout && blast
    }
}

/// Every change in `diff`, with the requirements the policy attaches to it.
fn changes_of(diff: &Diff, versions: Versions<'_>, policy: &Policy<'_>) -> Vec<ChangeReview> {
    let flag = |repo: &Repo, key: &str| -> Option<Vec<String>> {
        let doc: &FlagFile = repo.flags.get(key)?.doc.as_ref()?;
        Some(doc.owners.iter().map(|o| o.value.clone()).collect())
    };
    // An existing flag's owners are the judge's (or the base's, for a flag the base branch has
    // removed since); a new flag's are the ones it names.
    let owners_of = |key: &str| {
        [versions.judge, versions.base, versions.head]
            .into_iter()
            .find_map(|repo| flag(repo, key))
            .unwrap_or_default()
    };
    let rules = |subject: &Subject<'_>, owners: &[String]| -> Vec<Requirement> {
        policy
            .rules
            .iter()
            .filter(|rule| rule.applies(subject))
            .map(|rule| policy.requirement(&rule.name, rule.approvals, &rule.from, owners))
            .collect()
    };
    let mut changes = Vec::new();
    if !diff.teams.is_empty() || diff.policy.is_some() {
        let mut details = diff.teams.clone();
        if diff.policy.is_some() {
            details.push("[review] policy changed".to_owned());
        }
        changes.push(ChangeReview {
            change: "teams and review policy".to_owned(),
            kinds: BTreeSet::from([ChangeKind::Project]),
            details,
            requirements: vec![policy.protected()],
        });
    }
    if !diff.project.is_empty() {
        let kinds = BTreeSet::from([ChangeKind::Project]);
        let subject = Subject::everywhere(&kinds);
        let requirements = rules(&subject, &[]);
        changes.push(ChangeReview {
            change: "project".to_owned(),
            kinds,
            details: diff.project.clone(),
            requirements,
        });
    }
    for segment in &diff.segments {
        // Empty when no flag tests the segment: then "owners" are the protected approvers.
        let mut owners: Vec<String> = segment
            .affected_flags
            .iter()
            .flat_map(|f| owners_of(f))
            .collect();
        owners.sort();
        owners.dedup();
        let kinds = BTreeSet::from([ChangeKind::Segment]);
        let subject = Subject::everywhere(&kinds);
        let requirements = rules(&subject, &owners);
        let affects = if segment.affected_flags.is_empty() {
            "no flag".to_owned()
        } else {
            segment.affected_flags.join(", ")
        };
        changes.push(ChangeReview {
            change: format!("segment `{}`", segment.segment),
            kinds,
            details: vec![format!("{:?}; affects {affects}", segment.status).to_lowercase()],
            requirements,
        });
    }
    for flag in &diff.flags {
        let owners = owners_of(&flag.flag);
        if let Some([before, after]) = &flag.owners {
            changes.push(ChangeReview {
                change: format!("owners of flag `{}`", flag.flag),
                kinds: BTreeSet::from([ChangeKind::Owners]),
                details: vec![format!("{} → {}", before.join(" "), after.join(" "))],
                requirements: vec![policy.requirement(OWNERSHIP, 1, &[OWNERS.to_owned()], before)],
            });
        }
        for env in &flag.environments {
            let subject = Subject {
                environment: Some(&env.environment),
                kinds: &env.kinds,
                rollout_to: env.rollout_to,
                blast_radius: Some(env.blast_radius.percent),
            };
            let mut requirements = rules(&subject, &owners);
            if env.kinds.contains(&ChangeKind::Remove) {
                requirements.push(policy.requirement(REMOVAL, 1, &[OWNERS.to_owned()], &owners));
            }
            changes.push(ChangeReview {
                change: format!("flag `{}` in {}", flag.flag, env.environment),
                kinds: env.kinds.clone(),
                details: env
                    .changes
                    .iter()
                    .map(|c| c.lines().next().unwrap_or_default().to_owned())
                    .collect(),
                requirements,
            });
        }
    }
    changes
}
