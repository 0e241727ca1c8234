//! Semantic checks over a loaded repository: references, types, rollouts, cycles, expiry.
//!
//! Every check pushes findings into one list and carries on, so a run reports everything.
//! Checks that need the project file (attributes, environments, teams) are skipped when it is
//! missing or invalid; that problem is already reported, and guessing would only add noise.

mod condense;
mod conditions;
mod experiments;
mod flags;
mod limits;
mod metrics;
mod payloads;
mod people;
mod segments;
mod test_files;
mod warehouse;

use std::collections::BTreeMap;
use std::ops::Range;

use crate::diag::{Code, Diagnostic, LineCol, suggest};
use crate::load::Repo;
use crate::model::datetime_millis as timestamp_millis;
use crate::model::{
    ANYONE, AttrType, AttributeDecl, EvalsRule, FlagFile, Inconclusive, NAME_HELP, Name, OWNERS,
    ProjectFile, ReviewPolicy, ReviewRule, Scalar, Spanned, Table, variant_names,
};

/// What the checks need besides the repository.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Now, in milliseconds since the Unix epoch: flags expire relative to its (UTC) date,
    /// and schedules whose every step lies before it are reported.
    pub now_millis: i64,
}

impl Options {
    /// Today, as days since 1970-01-01 (see [`crate::literal::days_from_civil`]).
    pub fn today(&self) -> i64 {
        self.now_millis.div_euclid(86_400_000)
    }
}

use crate::bundle::TARGETING_KEY;

/// The findings of a check: the loader's and the checks' together, sorted by file and
/// position, like findings grouped and each file's capped (see [`condense`]).
#[derive(Debug)]
pub struct Report<'r> {
    pub diagnostics: Vec<Diagnostic>,
    /// Every finding before grouping and the cap, kept when they left some out: a denied
    /// warning among those must make its note an error too.
    all: Option<Vec<Diagnostic>>,
    repo: &'r Repo,
}

impl<'r> Report<'r> {
    pub fn repo(&self) -> &'r Repo {
        self.repo
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Makes the findings with these codes errors, whatever their usual severity: a team's
    /// `--deny expired` in CI.
    pub fn deny(&mut self, codes: &[crate::diag::Code]) {
        let deny = |diagnostics: &mut Vec<Diagnostic>| {
            for diagnostic in diagnostics {
                if codes.contains(&diagnostic.code) {
                    diagnostic.severity = crate::diag::Severity::Error;
                }
            }
        };
        match &mut self.all {
            Some(all) => {
                deny(all);
                self.diagnostics = condense::condense(all, self.repo);
            }
            None => deny(&mut self.diagnostics),
        }
    }

    /// The repository, if it has no errors: what bundles are built from.
    pub fn checked(&self) -> Option<Checked<'r>> {
        (!self.has_errors()).then_some(Checked { repo: self.repo })
    }
}

/// A repository that `check` found free of errors. Only [`Report::checked`] makes one, so
/// code that takes it may rely on everything the checks verify.
#[derive(Clone, Copy, Debug)]
pub struct Checked<'r> {
    repo: &'r Repo,
}

impl<'r> Checked<'r> {
    pub fn repo(&self) -> &'r Repo {
        self.repo
    }
}

/// Runs every check.
pub fn check<'r>(repo: &'r Repo, options: &Options) -> Report<'r> {
    let project = repo
        .project
        .as_ref()
        .and_then(|p| p.doc.as_ref().map(|doc| (p.file, doc)));
    let mut scope = Scope {
        repo,
        options,
        attributes: project.map(|(_, p)| &p.attributes),
        environments: project.map(|(_, p)| p.environments.iter().map(|e| e.as_str()).collect()),
        teams: project.map(|(_, p)| &p.teams),
        out: repo.diagnostics.clone(),
    };
    if let Some((file, project)) = project {
        scope.project(repo.path(file), project);
    }
    scope.segments();
    scope.flags();
    scope.payloads();
    scope.tests();
    scope.experiments();
    scope.limits();
    // Files in the loader's order (project, flags, segments, tests), then by position.
    let order: BTreeMap<&str, usize> = repo
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_str(), i))
        .collect();
    let mut out = scope.out;
    fn key<'d>(order: &BTreeMap<&str, usize>, d: &'d Diagnostic) -> impl Ord + 'd {
        let file = order.get(d.file.as_str()).copied();
        let start = d.span.as_ref().map_or(0, |s| s.start);
        (file, d.file.as_str(), start, d.code)
    }
    out.sort_by(|a, b| key(&order, a).cmp(&key(&order, b)));
    let diagnostics = condense::condense(&out, repo);
    let left_out = diagnostics.iter().any(|d| d.left_out > 0);
    Report {
        diagnostics,
        all: left_out.then_some(out),
        repo,
    }
}

/// An attribute's declaration as conditions see it.
enum Lookup<'r> {
    Declared(AttrType, Option<&'r [Spanned<Scalar>]>),
    Unknown,
    /// The project could not be loaded, so nothing can be said.
    Unchecked,
}

struct Scope<'r> {
    repo: &'r Repo,
    options: &'r Options,
    attributes: Option<&'r Table<AttributeDecl>>,
    environments: Option<Vec<&'r str>>,
    teams: Option<&'r Table<Vec<Name>>>,
    out: Vec<Diagnostic>,
}

impl<'r> Scope<'r> {
    fn push(
        &mut self,
        code: Code,
        file: &str,
        span: Range<usize>,
        message: String,
    ) -> &mut Diagnostic {
        self.out
            .push(Diagnostic::new(code, file, Some(span), message));
        self.out.last_mut().expect("just pushed")
    }

    /// The text of a repository file, for locating a related position in a message.
    fn text(&self, path: &str) -> std::borrow::Cow<'r, str> {
        self.repo.text_of(path)
    }

    fn attribute(&self, name: &str) -> Lookup<'r> {
        if name == TARGETING_KEY {
            return Lookup::Declared(AttrType::String, None);
        }
        match self.attributes {
            None => Lookup::Unchecked,
            Some(attributes) => match attributes.get(name) {
                Some(decl) => Lookup::Declared(*decl.ty, decl.values.as_deref()),
                None => Lookup::Unknown,
            },
        }
    }

    fn unknown_attribute(&mut self, file: &str, name: &Name) {
        let known: Vec<&str> = std::iter::once(TARGETING_KEY)
            .chain(
                self.attributes
                    .iter()
                    .flat_map(|a| a.keys().map(|k| k.as_str())),
            )
            .collect();
        let help = suggest(name, known.iter().copied(), "attributes");
        self.push(
            Code::UnknownAttribute,
            file,
            name.span(),
            format!("unknown attribute `{}`", name.value),
        )
        .help = Some(format!(
            "{help} (attributes are declared in flagstone.toml [attributes])"
        ));
    }

    /// Reports `env` unless the project declares it.
    fn known_environment(&mut self, file: &str, env: &Name) -> bool {
        let Some(environments) = &self.environments else {
            return true;
        };
        if environments.contains(&env.as_str()) {
            return true;
        }
        let help = suggest(env, environments.iter().copied(), "environments");
        self.push(
            Code::UnknownEnvironment,
            file,
            env.span(),
            format!(
                "environment `{}` is not declared in flagstone.toml",
                env.value
            ),
        )
        .help = Some(help);
        false
    }

    /// Reports an "@team" that the project does not declare; logins pass.
    /// (Called through [`Scope::known_person`], which checks the name's characters first.)
    fn known_team(&mut self, file: &str, who: &Name) {
        let (Some(team), Some(teams)) = (who.strip_prefix('@'), self.teams) else {
            return;
        };
        if !teams.contains_key(team) {
            let help = suggest(team, teams.keys().map(|t| t.as_str()), "teams");
            self.push(
                Code::UnknownTeam,
                file,
                who.span(),
                format!("unknown team `{}`", who.value),
            )
            .help = Some(format!(
                "{help} (teams are declared in flagstone.toml [teams])"
            ));
        }
    }

    /// The review policy names declared teams and environments, and each rule once.
    fn review(&mut self, file: &str, policy: &ReviewPolicy) {
        for who in policy.protected.iter() {
            if matches!(who.as_str(), OWNERS | ANYONE) {
                self.push(
                    Code::InvalidValue,
                    file,
                    who.span(),
                    format!(
                        "`{}` cannot approve changes to the policy and teams",
                        who.value
                    ),
                )
                .help = Some("name the teams (\"@name\") or logins who guard them".into());
            }
            self.known_person(file, who);
        }
        let mut names: Vec<&Name> = Vec::new();
        for rule in &policy.rules {
            if let Some(first) = names.iter().find(|n| n.value == rule.name.value) {
                let line = LineCol::of(&self.text(file), first.span().start).line;
                self.push(
                    Code::Duplicate,
                    file,
                    rule.name.span(),
                    format!("review rule `{}` is declared twice", rule.name.value),
                )
                .help = Some(format!(
                    "the first is on line {line}; rule names must be unique"
                ));
            }
            names.push(&rule.name);
            for env in rule.environments.iter().flatten() {
                self.known_environment(file, env);
            }
            for who in rule.from.iter().flat_map(|from| from.iter()) {
                if !matches!(who.as_str(), OWNERS | ANYONE) {
                    self.known_person(file, who);
                }
            }
            match &rule.evals {
                Some(evals) => self.evals_rule(file, rule, evals),
                None if rule.from.is_none() => {
                    self.push(
                        Code::MissingKey,
                        file,
                        rule.name.span(),
                        format!(
                            "review rule `{}` names neither who approves (`from`) nor eval evidence (`evals`)",
                            rule.name.value
                        ),
                    )
                    .help = Some("add `from = [\"owners\"]`, or an `evals = { … }` table".into());
                }
                None => {}
            }
        }
    }

    /// An `evals` rule asks for evidence instead of approvals: it takes none of the other
    /// rules' filters, and its report pattern must give every variant its own file inside the
    /// repository.
    fn evals_rule(&mut self, file: &str, rule: &ReviewRule, evals: &Spanned<EvalsRule>) {
        let name = &rule.name.value;
        let others = [
            ("from", rule.from.as_ref().map(|f| f.span())),
            ("approvals", rule.approvals.as_ref().map(|a| a.span())),
            ("changes", rule.changes.as_ref().map(|_| rule.name.span())),
            (
                "rollout_above",
                rule.rollout_above.as_ref().map(|r| r.span()),
            ),
            (
                "blast_radius_above",
                rule.blast_radius_above.as_ref().map(|b| b.span()),
            ),
        ];
        for (key, span) in others {
            let Some(span) = span else { continue };
            self.push(
                Code::InvalidValue,
                file,
                span,
                format!("review rule `{name}` has `evals`, which takes no `{key}`"),
            )
            .help = Some(
                "an evals rule applies to every changed payload of an AI flag and asks for evidence, not approvals; put approvals in a rule of their own, or in `inconclusive = { approvals, from }`".into(),
            );
        }
        let pattern = &evals.reports;
        let placeholders_missing: Vec<&str> = ["{flag}", "{variant}"]
            .into_iter()
            .filter(|p| !pattern.contains(p))
            .collect();
        let rest = pattern.replace("{flag}", "f").replace("{variant}", "v");
        let problem = if !placeholders_missing.is_empty() {
            Some(format!(
                "has no {}: two changed variants would share one report",
                placeholders_missing.join(" and ")
            ))
        } else if rest.contains(['{', '}']) {
            Some("has a placeholder other than {flag} and {variant}".to_owned())
        } else if !rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        {
            Some("may hold only ASCII letters, digits, `_`, `-`, `.` and `/` besides the placeholders (it becomes a CODEOWNERS path too)".to_owned())
        } else if rest.starts_with('/')
            || rest.split('/').any(|part| matches!(part, "" | "." | ".."))
        {
            Some(
                "must be a relative path of plain names separated by `/`, inside the repository"
                    .to_owned(),
            )
        } else {
            None
        };
        if let Some(problem) = problem {
            self.push(
                Code::InvalidValue,
                file,
                pattern.span(),
                format!("the eval report pattern {:?} {problem}", pattern.as_str()),
            )
            .help = Some("e.g. reports = \"evals/{flag}/{variant}.csv\"".into());
        }
        if let Some(margin) = &evals.max_regression
            && margin.value.margin().is_none()
        {
            self.push(
                Code::InvalidValue,
                file,
                margin.span(),
                "the tolerated regression must be a number ≥ 0 (score units) or a percentage such as \"2%\"".to_owned(),
            );
        }
        if let Some(alpha) = &evals.alpha
            && !(alpha.value > 0.0 && alpha.value < 1.0)
        {
            self.push(
                Code::InvalidValue,
                file,
                alpha.span(),
                format!(
                    "alpha must be greater than 0 and less than 1, not {}",
                    alpha.value
                ),
            );
        }
        if let Some(Inconclusive::Approve(approve)) = &evals.inconclusive {
            for who in approve.from.iter() {
                if who.as_str() == ANYONE {
                    self.push(
                        Code::InvalidValue,
                        file,
                        who.span(),
                        "`anyone` cannot accept an inconclusive eval".to_owned(),
                    )
                    .help = Some("name the owners, teams (\"@name\") or logins who may".into());
                } else if who.as_str() != OWNERS {
                    self.known_person(file, who);
                }
            }
        }
    }

    fn flag(&self, key: &str) -> Option<&'r FlagFile> {
        self.repo.flags.get(key).and_then(|f| f.doc.as_ref())
    }

    /// Reports `key` unless a flag file exists for it (valid or not).
    fn known_flag(&mut self, file: &str, key: &Name) -> bool {
        if self.repo.flags.contains_key(key.as_str()) {
            return true;
        }
        let help = suggest(key, self.repo.flags.keys().map(String::as_str), "flags");
        self.push(
            Code::UnknownFlag,
            file,
            key.span(),
            format!("unknown flag `{}`", key.value),
        )
        .help = Some(help);
        false
    }

    /// Reports `variant` unless the flag has it.
    fn known_variant(
        &mut self,
        file: &str,
        flag_key: &str,
        flag: &FlagFile,
        variant: &Name,
    ) -> bool {
        if has_variant(flag, variant) {
            return true;
        }
        let variants = variant_names(flag);
        let help = suggest(variant, variants.iter().copied(), "variants");
        self.push(
            Code::UnknownVariant,
            file,
            variant.span(),
            format!("flag `{flag_key}` has no variant `{}`", variant.value),
        )
        .help = Some(help);
        false
    }

    fn project(&mut self, file: &str, project: &ProjectFile) {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for env in project.environments.iter() {
            if !crate::load::valid_key_segment(env) {
                self.push(
                    Code::InvalidName,
                    file,
                    env.span(),
                    format!("`{}` is not a valid environment name", env.value),
                )
                .help = Some(NAME_HELP.into());
            }
            if let Some(first) = seen.insert(env.as_str(), env.span().start) {
                let at = crate::diag::LineCol::of(&self.text(file), first);
                self.push(
                    Code::Duplicate,
                    file,
                    env.span(),
                    format!("environment `{}` is declared twice", env.value),
                )
                .help = Some(format!(
                    "it is first declared at {}:{}; remove one",
                    at.line, at.column
                ));
            }
        }
        for (name, decl) in &project.attributes {
            if name.as_str() == TARGETING_KEY {
                self.push(
                    Code::InvalidName,
                    file,
                    name.span(),
                    format!("`{TARGETING_KEY}` is built in and cannot be declared"),
                )
                .help = Some("it is always present: the unit's key, a string or an integer".into());
            } else if !valid_attribute_name(name) {
                self.push(
                    Code::InvalidName,
                    file,
                    name.span(),
                    format!("`{}` is not a valid attribute name", name.value),
                )
                .help = Some(
                    "names are identifiers joined by dots, e.g. `org.id`: each starts with an ASCII letter or `_` and continues with letters, digits, `_` or `-`"
                        .into(),
                );
            }
            let listable = matches!(
                *decl.ty,
                AttrType::String | AttrType::Number | AttrType::StringList
            );
            if let (Some(values), false) = (&decl.values, listable) {
                if let Some(first) = values.first() {
                    self.push(
                        Code::InvalidValue,
                        file,
                        first.span(),
                        format!(
                            "a {} attribute cannot list allowed values",
                            decl.ty.as_str()
                        ),
                    )
                    .help = Some(
                        "`values` applies to string, number and string_list attributes".into(),
                    );
                }
                continue;
            }
            for value in decl.values.iter().flatten() {
                if !scalar_fits(&value.value, *decl.ty) {
                    self.push(
                        Code::InvalidValue,
                        file,
                        value.span(),
                        format!(
                            "allowed value {} is not a {} like attribute `{}`",
                            value.value,
                            decl.ty.as_str(),
                            name.value
                        ),
                    );
                }
            }
        }
        if let Some(policy) = &project.review {
            self.review(file, policy);
        }
        self.layers_and_holdouts(file, project);
        self.metric_definitions(file, project);
        if let Some(warehouse) = &project.warehouse {
            self.warehouse(file, warehouse);
        }
        self.teams(file, project);
    }
}

/// Whether the flag has a variant of this name.
pub fn has_variant(flag: &FlagFile, name: &str) -> bool {
    match &flag.variants {
        Some(variants) => variants.contains_key(name),
        None => matches!(name, "off" | "on"),
    }
}

/// Attribute names: identifiers joined by dots, each addressing a nested context object.
fn valid_attribute_name(name: &str) -> bool {
    name.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

/// Whether a literal can be a value of an attribute of type `ty`.
fn scalar_fits(value: &Scalar, ty: AttrType) -> bool {
    match (value, ty) {
        (Scalar::String(_), AttrType::String | AttrType::StringList) => true,
        (Scalar::Int(_) | Scalar::Float(_), AttrType::Number) => true,
        (Scalar::Bool(_), AttrType::Boolean) => true,
        (Scalar::String(s), AttrType::Semver) => semver::Version::parse(s).is_ok(),
        (Scalar::String(s), AttrType::Ip) => s.parse::<std::net::IpAddr>().is_ok(),
        (Scalar::String(s), AttrType::Datetime) => crate::literal::parse_timestamp(s).is_some(),
        (Scalar::Datetime(d), AttrType::Datetime) => timestamp_millis(d).is_some(),
        _ => false,
    }
}

/// Finds cycles in a graph given as node → edges, reporting each cycle once, as the path
/// from its first node (in key order) back to it.
fn cycles<'a>(edges: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Visiting,
        Done,
    }
    let mut state: BTreeMap<&str, State> = BTreeMap::new();
    let mut found = Vec::new();
    for &start in edges.keys() {
        if state.contains_key(start) {
            continue;
        }
        // Iterative depth-first search: (node, index of the next edge to follow).
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        state.insert(start, State::Visiting);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let targets = edges.get(node).map_or(&[][..], Vec::as_slice);
            if let Some(&target) = targets.get(*next) {
                *next += 1;
                match state.get(target) {
                    None if edges.contains_key(target) => {
                        state.insert(target, State::Visiting);
                        stack.push((target, 0));
                    }
                    Some(State::Visiting) => {
                        let from = stack
                            .iter()
                            .position(|(n, _)| *n == target)
                            .expect("on stack");
                        let mut cycle: Vec<&str> = stack[from..].iter().map(|(n, _)| *n).collect();
                        cycle.push(target);
                        found.push(cycle);
                    }
                    _ => {}
                }
            } else {
                state.insert(node, State::Done);
                stack.pop();
            }
        }
    }
    found
}
