//! Checks of experiment files, and of the layers and holdouts they use.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, suggest};
use crate::experiment::{self, Resolved, bucket_by};
use crate::format::percent;
use crate::literal::format_date;
use crate::model::{
    AttrType, ExperimentFile, Metric, MetricKind, Name, Outcome, ProjectFile, Spanned, Table,
};

use super::{Lookup, Scope};

/// What a metric is declared as, for messages.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Primary,
    Secondary,
    Guardrail,
}

impl Scope<'_> {
    /// `[layers]` and `[holdouts]` of the project file.
    pub(super) fn layers_and_holdouts(&mut self, file: &str, project: &ProjectFile) {
        for (name, layer) in &project.layers {
            self.gate_settings(file, name, "layer", &layer.salt, &layer.bucket_by);
        }
        for (name, holdout) in &project.holdouts {
            self.gate_settings(file, name, "holdout", &holdout.salt, &holdout.bucket_by);
            let percent = &holdout.percent;
            let v = percent.value;
            if !(0.0..100.0).contains(&v) || !three_decimals(v) {
                self.push(
                    Code::BadRange,
                    file,
                    percent.span(),
                    format!("holdout `{}` holds out {v}%", name.value),
                )
                .help = Some(
                    "a holdout's percent is at least 0 and below 100, with at most 3 decimals"
                        .into(),
                );
            }
        }
    }

    fn gate_settings(
        &mut self,
        file: &str,
        name: &Name,
        what: &str,
        salt: &Option<Name>,
        by: &Option<Name>,
    ) {
        if !crate::load::valid_key_segment(name) {
            self.push(
                Code::InvalidName,
                file,
                name.span(),
                format!("`{}` is not a valid {what} name", name.value),
            )
            .help = Some(crate::model::NAME_HELP.into());
        }
        if let Some(salt) = salt
            && salt.is_empty()
        {
            self.push(
                Code::InvalidValue,
                file,
                salt.span(),
                "`salt` is empty".into(),
            )
            .help = Some(format!("omit it to use the {what} name `{}`", name.value));
        }
        if let Some(by) = by {
            match self.attribute(by) {
                Lookup::Declared(AttrType::String | AttrType::Number, _) | Lookup::Unchecked => {}
                Lookup::Declared(ty, _) => {
                    self.push(
                        Code::OperatorType,
                        file,
                        by.span(),
                        format!(
                            "`bucket_by` needs a string or number attribute; `{}` is a {}",
                            by.value,
                            ty.as_str()
                        ),
                    )
                    .help = Some("units are bucketed by a string, or an integer in decimal".into());
                }
                Lookup::Unknown => self.unknown_attribute(file, by),
            }
        }
    }

    pub(super) fn experiments(&mut self) {
        let repo = self.repo;
        let project = repo.project.as_ref().and_then(|p| p.doc.as_ref());
        for (key, loaded) in &repo.experiments {
            if let Some(experiment) = &loaded.doc {
                self.experiment(repo.path(loaded.file), key, experiment, project);
            }
        }
        self.exclusivity();
    }

    fn experiment(
        &mut self,
        file: &str,
        key: &str,
        experiment: &ExperimentFile,
        project: Option<&ProjectFile>,
    ) {
        let errors_before = self.errors();
        for owner in experiment.owners.iter() {
            self.known_person(file, owner);
        }
        let environments: Vec<&Name> = experiment
            .environments
            .iter()
            .filter(|env| self.known_environment(file, env))
            .collect();
        self.flag_split(file, experiment, &environments);
        if let Some(project) = project {
            self.placement(file, experiment, project);
        }
        self.dates(file, experiment);
        self.decision(file, experiment, &environments);
        self.design(file, experiment);
        self.metrics(file, experiment, project);
        // A decided experiment is over: how long it would have needed no longer matters.
        if self.errors() == errors_before && experiment.decision.is_none() {
            self.reachable(file, key, experiment);
        }
    }

    fn errors(&self) -> usize {
        self.out.iter().filter(|d| d.is_error()).count()
    }

    /// The flag exists, has the control, and splits it with another variant everywhere the
    /// experiment runs.
    fn flag_split(&mut self, file: &str, experiment: &ExperimentFile, environments: &[&Name]) {
        if !self.known_flag(file, &experiment.flag) {
            return;
        }
        let Some(flag) = self.flag(&experiment.flag) else {
            return;
        };
        if !self.known_variant(file, &experiment.flag, flag, &experiment.control) {
            return;
        }
        for env in environments {
            if experiment::split(flag, env, &experiment.control).is_none() {
                let help = match experiment.decision {
                    // Serving the decided variant to everyone is what a decision asks for.
                    Some(_) => "the experiment is decided: remove the experiment file".to_owned(),
                    None => format!(
                        "add a rule with `split = {{ {} = 50, ... }}` to [env.{}] of the flag, or remove `{}` from `environments`",
                        experiment.control.value, env.value, env.value
                    ),
                };
                self.push(
                    Code::NoExperimentSplit,
                    file,
                    env.span(),
                    format!(
                        "flag `{}` serves no split of `{}` and another variant in `{}`",
                        experiment.flag.value, experiment.control.value, env.value
                    ),
                )
                .help = Some(help);
            }
        }
    }

    /// The layer, range and holdout exist, fit, and bucket the flag's unit.
    fn placement(&mut self, file: &str, experiment: &ExperimentFile, project: &ProjectFile) {
        let flag_by = self
            .flag(&experiment.flag)
            .map(|f| bucket_by(f.bucket_by.as_ref()));
        match (&experiment.layer, &experiment.range) {
            (Some(layer), range) => {
                if let Some(declared) = known(
                    self,
                    file,
                    &project.layers,
                    layer,
                    Code::UnknownLayer,
                    "layer",
                ) {
                    self.same_unit(file, layer, "layer", declared.bucket_by.as_ref(), flag_by);
                }
                match range {
                    Some(range) => self.range(file, range),
                    None => {
                        self.push(
                            Code::BadRange,
                            file,
                            layer.span(),
                            format!(
                                "the experiment is in layer `{}` but has no `range`",
                                layer.value
                            ),
                        )
                        .help = Some(
                            "add `range = [from, to]`, its slice of the layer in percent".into(),
                        );
                    }
                }
            }
            (None, Some(range)) => {
                self.push(
                    Code::BadRange,
                    file,
                    range.span(),
                    "`range` is a slice of a layer, but the experiment names no `layer`".into(),
                )
                .help = Some("add `layer = \"...\"` (declared in flagstone.toml [layers])".into());
            }
            (None, None) => {}
        }
        if let Some(holdout) = &experiment.holdout
            && let Some(declared) = known(
                self,
                file,
                &project.holdouts,
                holdout,
                Code::UnknownHoldout,
                "holdout",
            )
        {
            self.same_unit(
                file,
                holdout,
                "holdout",
                declared.bucket_by.as_ref(),
                flag_by,
            );
        }
    }

    fn same_unit(
        &mut self,
        file: &str,
        name: &Name,
        what: &str,
        by: Option<&Name>,
        flag_by: Option<&str>,
    ) {
        let by = bucket_by(by);
        if let Some(flag_by) = flag_by
            && flag_by != by
        {
            self.push(
                Code::BucketByMismatch,
                file,
                name.span(),
                format!(
                    "{what} `{}` buckets by `{by}`, but the flag's split buckets by `{flag_by}`",
                    name.value
                ),
            )
            .help = Some(format!(
                "the gate must use the split's unit: set `bucket_by = \"{flag_by}\"` on the {what}, or use another"
            ));
        }
    }

    fn range(&mut self, file: &str, range: &Spanned<Vec<Spanned<f64>>>) {
        let [from, to] = range.as_slice() else {
            self.push(
                Code::BadRange,
                file,
                range.span(),
                format!("`range` has {} numbers, not 2", range.len()),
            )
            .help = Some("write `range = [from, to]` in percent of the layer".into());
            return;
        };
        for end in [from, to] {
            let v = end.value;
            if !(0.0..=100.0).contains(&v) || !three_decimals(v) {
                self.push(
                    Code::BadRange,
                    file,
                    end.span(),
                    format!("{v} is not a percentage of the layer"),
                )
                .help = Some("a range's ends are 0–100, with at most 3 decimals".into());
                return;
            }
        }
        if from.value >= to.value {
            self.push(
                Code::BadRange,
                file,
                range.span(),
                format!("the range [{}, {}] is empty", from.value, to.value),
            )
            .help = Some("the first end must be below the second".into());
        }
    }

    fn dates(&mut self, file: &str, experiment: &ExperimentFile) {
        let mut day = |date: &Spanned<crate::model::Timestamp>, what: &str| {
            let day = experiment::day(date);
            if day.is_none() {
                self.push(
                    Code::InvalidDatetime,
                    file,
                    date.span(),
                    format!("`{what}` must be a date, not a date-time: found {}", date.0),
                )
                .help = Some("write a TOML date such as 2027-02-01".into());
            }
            day
        };
        let start = day(&experiment.start, "start");
        let end = experiment.end.as_ref().map(|end| (end, day(end, "end")));
        if let (Some(start), Some((end, Some(last)))) = (start, end)
            && last < start
        {
            self.push(
                Code::BadDesign,
                file,
                end.span(),
                format!(
                    "the experiment ends on {} before it starts on {}",
                    format_date(last),
                    format_date(start)
                ),
            )
            .help = Some("`end` is the last day, on or after `start`".into());
        }
    }

    /// The decision's variant is an arm of the experiment (the control when abandoned), and
    /// its date a day on or after the start.
    fn decision(&mut self, file: &str, experiment: &ExperimentFile, environments: &[&Name]) {
        let Some(decision) = &experiment.decision else {
            return;
        };
        let control = &experiment.control;
        match (decision.outcome.value, &decision.variant) {
            (Outcome::Shipped, None) => {
                self.push(
                    Code::MissingKey,
                    file,
                    decision.outcome.span(),
                    "a shipped experiment's `[decision]` names no `variant`".into(),
                )
                .help =
                    Some("add `variant = \"...\"`: the arm that won, which everyone gets".into());
            }
            (Outcome::Shipped, Some(variant)) if variant.value == control.value => {
                self.push(
                    Code::InvalidValue,
                    file,
                    variant.span(),
                    format!(
                        "a shipped experiment ships another variant than the control `{}`",
                        control.value
                    ),
                )
                .help =
                    Some("when everyone keeps the control, write `outcome = \"abandoned\"`".into());
            }
            (Outcome::Shipped, Some(variant)) => self.arm(file, experiment, environments, variant),
            (Outcome::Abandoned, Some(variant)) if variant.value != control.value => {
                self.push(
                    Code::InvalidValue,
                    file,
                    variant.span(),
                    format!(
                        "an abandoned experiment keeps the control `{}`, not `{}`",
                        control.value, variant.value
                    ),
                )
                .help = Some(format!(
                    "remove `variant`, or write `outcome = \"shipped\"` to ship `{}`",
                    variant.value
                ));
            }
            (Outcome::Abandoned, _) => {}
        }
        let date = &decision.date;
        let Some(day) = experiment::day(date) else {
            self.push(
                Code::InvalidDatetime,
                file,
                date.span(),
                format!("`date` must be a date, not a date-time: found {}", date.0),
            )
            .help = Some("write a TOML date such as 2027-02-01".into());
            return;
        };
        if let Some(start) = experiment::day(&experiment.start)
            && day < start
        {
            self.push(
                Code::BadDesign,
                file,
                date.span(),
                format!(
                    "the experiment is decided on {} before it starts on {}",
                    format_date(day),
                    format_date(start)
                ),
            )
            .help = Some("`date` is the day it was decided, on or after `start`".into());
        }
    }

    /// Reports a shipped `variant` that is not a variant of the flag, or not one its split
    /// serves where the experiment runs.
    fn arm(
        &mut self,
        file: &str,
        experiment: &ExperimentFile,
        environments: &[&Name],
        variant: &Name,
    ) {
        let Some(flag) = self.flag(&experiment.flag) else {
            return;
        };
        if !self.known_variant(file, &experiment.flag, flag, variant) {
            return;
        }
        let arms: BTreeSet<&str> = environments
            .iter()
            .filter_map(|env| experiment::split(flag, env, &experiment.control))
            .flatten()
            .map(|(arm, _)| arm)
            .collect();
        // Without a split there are no arms to compare with: FS064 says so.
        if arms.is_empty() || arms.contains(variant.as_str()) {
            return;
        }
        let arms: Vec<String> = arms.iter().map(|a| format!("`{a}`")).collect();
        self.push(
            Code::UnknownVariant,
            file,
            variant.span(),
            format!(
                "`{}` is not an arm of the experiment: flag `{}` splits {}",
                variant.value,
                experiment.flag.value,
                arms.join(", ")
            ),
        )
        .help = Some("ship the arm that won: one the split serves".into());
    }

    fn design(&mut self, file: &str, experiment: &ExperimentFile) {
        let mut bad = |value: &Spanned<f64>, ok: bool, message: String, help: &str| {
            if !ok {
                self.push(Code::BadDesign, file, value.span(), message).help = Some(help.into());
            }
        };
        let mde = &experiment.mde;
        bad(
            mde,
            mde.value > 0.0,
            format!("`mde` is {}", mde.value),
            "the minimum detectable effect is a positive relative change, e.g. 0.05 for 5%",
        );
        for (value, name) in [(&experiment.alpha, "alpha"), (&experiment.power, "power")] {
            if let Some(value) = value {
                bad(
                    value,
                    value.value > 0.0 && value.value < 1.0,
                    format!("`{name}` is {}", value.value),
                    "a probability above 0 and below 1",
                );
            }
        }
        let daily = &experiment.daily_units;
        bad(
            daily,
            daily.value > 0.0,
            format!("`daily_units` is {}", daily.value),
            "the units reaching the split per day: a positive number",
        );
    }

    fn metrics(&mut self, file: &str, experiment: &ExperimentFile, project: Option<&ProjectFile>) {
        let all = std::iter::once((&experiment.primary, Role::Primary))
            .chain(experiment.secondary.iter().map(|m| (m, Role::Secondary)))
            .chain(experiment.guardrails.iter().map(|m| (m, Role::Guardrail)));
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (metric, role) in all {
            if let Some(first) = seen.insert(metric.name.as_str(), metric.name.span().start) {
                let line = crate::diag::LineCol::of(&self.text(file), first).line;
                self.push(
                    Code::Duplicate,
                    file,
                    metric.name.span(),
                    format!("metric `{}` is declared twice", metric.name.value),
                )
                .help = Some(format!(
                    "the first is on line {line}; a metric has one role"
                ));
            }
            let resolved = self.experiment_metric(file, metric, project);
            self.metric(file, metric, resolved, role, experiment.mde.value);
        }
    }

    /// `resolved` is the metric with what its definition supplies; `None` when its kind is
    /// unknown (already reported), and then only the checks that do not depend on it run.
    fn metric(
        &mut self,
        file: &str,
        metric: &Spanned<Metric>,
        resolved: Option<Resolved<'_>>,
        role: Role,
        mde: f64,
    ) {
        let mut bad = |span: std::ops::Range<usize>, message: String, help: &str| {
            self.push(Code::BadMetric, file, span, message).help = Some(help.into());
        };
        let name = &metric.name.value;
        // Where a finding about the kind points: the inline kind, else the name.
        let kind_span = metric
            .kind
            .as_ref()
            .map_or(metric.name.span(), |k| k.span());
        let kind = resolved.as_ref().map(|r| r.kind);
        if let Some(resolved) = resolved.filter(|r| r.kind == MetricKind::Ratio) {
            for (part, value) in [
                ("numerator", &resolved.numerator),
                ("denominator", &resolved.denominator),
            ] {
                if value.is_none() {
                    bad(
                        kind_span.clone(),
                        format!("ratio metric `{name}` has no `{part}`"),
                        "a ratio names its numerator and denominator column prefixes",
                    );
                }
            }
            if let Some(covariate) = &metric.covariate {
                bad(
                    covariate.span(),
                    format!("ratio metric `{name}` cannot have a covariate"),
                    "CUPED applies to binomial and mean metrics",
                );
            }
        } else if let Some(kind) = kind {
            for part in [&metric.numerator, &metric.denominator]
                .into_iter()
                .flatten()
            {
                bad(
                    part.span(),
                    format!(
                        "{} metric `{name}` has a numerator or denominator",
                        kind.as_str()
                    ),
                    "only ratio metrics have them; remove it or make the metric `kind = \"ratio\"`",
                );
            }
        }
        match (&metric.max_regression, role) {
            (None, Role::Guardrail) => bad(
                metric.name.span(),
                format!("guardrail `{name}` has no `max_regression`"),
                "add the largest tolerated relative regression, e.g. `max_regression = 0.02`",
            ),
            (Some(max), Role::Guardrail) if max.value <= 0.0 || max.value.is_nan() => bad(
                max.span(),
                format!("`max_regression` is {}", max.value),
                "a positive relative regression, e.g. 0.02 for 2%",
            ),
            (Some(max), Role::Primary | Role::Secondary) => bad(
                max.span(),
                format!("`max_regression` applies to guardrails, not to metric `{name}`"),
                "declare the metric under [[guardrails]], or remove `max_regression`",
            ),
            _ => {}
        }
        if role != Role::Primary {
            for field in [&metric.baseline, &metric.stddev].into_iter().flatten() {
                bad(
                    field.span(),
                    format!("`baseline` and `stddev` plan the primary metric, not `{name}`"),
                    "remove it",
                );
            }
            return;
        }
        let Some(kind) = kind else {
            return;
        };
        match (&metric.baseline, kind) {
            (None, _) => bad(
                metric.name.span(),
                format!("the primary metric `{name}` has no `baseline`"),
                "add its expected control value: a rate for binomial, a mean otherwise",
            ),
            (Some(b), MetricKind::Binomial) if !(b.value > 0.0 && b.value < 1.0) => bad(
                b.span(),
                format!("a binomial baseline is a rate, not {}", b.value),
                "write the control's conversion rate, above 0 and below 1, e.g. 0.31",
            ),
            (Some(b), MetricKind::Binomial) if b.value * (1.0 + mde) >= 1.0 && mde > 0.0 => bad(
                b.span(),
                format!(
                    "a rate of {} raised by the MDE {mde} reaches {}",
                    b.value,
                    b.value * (1.0 + mde)
                ),
                "the variant's rate must stay below 1: lower `mde`",
            ),
            (Some(b), MetricKind::Mean | MetricKind::Ratio) if b.value == 0.0 => bad(
                b.span(),
                "a baseline mean of 0 has no relative change".into(),
                "write the control's expected mean",
            ),
            _ => {}
        }
        match (&metric.stddev, kind) {
            (Some(s), MetricKind::Binomial) => bad(
                s.span(),
                "a binomial metric's spread follows from its rate".into(),
                "remove `stddev`",
            ),
            (None, MetricKind::Mean | MetricKind::Ratio) => bad(
                metric.name.span(),
                format!("the primary metric `{name}` has no `stddev`"),
                "add its expected standard deviation per unit; `flagstone plan` needs it",
            ),
            (Some(s), _) if s.value <= 0.0 || s.value.is_nan() => bad(
                s.span(),
                format!("`stddev` is {}", s.value),
                "a positive standard deviation per unit",
            ),
            _ => {}
        }
    }

    /// Warns when the plan needs more days than start to end leaves.
    fn reachable(&mut self, file: &str, key: &str, experiment: &ExperimentFile) {
        let Some(end) = &experiment.end else {
            return;
        };
        let (Some(start), Some(last)) = (
            experiment::day(&experiment.start),
            experiment::day(&end.value),
        ) else {
            return;
        };
        let Ok(design) = experiment::design(self.repo, key, None) else {
            return;
        };
        let Ok(plan) = design.plan() else {
            return;
        };
        let has = last - start + 1;
        if plan.days as i64 > has {
            self.push(
                Code::Underpowered,
                file,
                end.span(),
                format!(
                    "the experiment needs {} days to detect a {} change of `{}` in `{}`, but runs {has} day{} ({} to {})",
                    plan.days,
                    percent(design.mde),
                    experiment.primary.name.value,
                    design.environment,
                    if has == 1 { "" } else { "s" },
                    format_date(start),
                    format_date(last),
                ),
            )
            .help = Some(format!(
                "end it on {} or later, raise `mde`, or give it more traffic; `flagstone plan {key}` shows the numbers",
                format_date(start + plan.days as i64 - 1)
            ));
        }
    }

    /// Experiments in one layer take disjoint slices, and a flag has one experiment per
    /// environment.
    fn exclusivity(&mut self) {
        let repo = self.repo;
        let experiments: Vec<(&str, &ExperimentFile, &str)> = repo
            .experiments
            .iter()
            .filter_map(|(k, l)| Some((k.as_str(), l.doc.as_ref()?, repo.path(l.file))))
            .collect();
        for (i, (key, experiment, file)) in experiments.iter().enumerate() {
            for (other_key, other, _) in &experiments[..i] {
                let Some(shared) = experiment
                    .environments
                    .iter()
                    .find(|e| other.environments.iter().any(|o| o.value == e.value))
                else {
                    continue;
                };
                if experiment.flag.value == other.flag.value {
                    self.push(
                        Code::ExperimentConflict,
                        file,
                        experiment.flag.span(),
                        format!(
                            "experiments `{other_key}` and `{key}` both run on flag `{}` in `{}`",
                            experiment.flag.value, shared.value
                        ),
                    )
                    .help = Some(
                        "a flag's split serves one experiment per environment; end one, or use another flag"
                            .into(),
                    );
                }
                let (Some(layer), Some(other_layer)) = (&experiment.layer, &other.layer) else {
                    continue;
                };
                let (Some((a, b)), Some((c, d))) = (experiment.slice(), other.slice()) else {
                    continue;
                };
                let (from, to) = (a.max(c), b.min(d));
                if layer.value == other_layer.value && from < to {
                    let range = experiment.range.as_ref().expect("matched above");
                    self.push(
                        Code::LayerOverlap,
                        file,
                        range.span(),
                        format!(
                            "experiments `{other_key}` and `{key}` overlap on [{from}, {to}) of layer `{}` in `{}`",
                            layer.value, shared.value
                        ),
                    )
                    .help = Some(format!(
                        "`{other_key}` has [{c}, {d}): give each experiment a disjoint slice"
                    ));
                }
            }
        }
    }
}

/// The declared layer or holdout `name`, reported when missing.
fn known<'p, T>(
    scope: &mut Scope<'_>,
    file: &str,
    declared: &'p Table<Spanned<T>>,
    name: &Name,
    code: Code,
    what: &str,
) -> Option<&'p T> {
    if let Some(found) = declared.get(name) {
        return Some(found);
    }
    let help = suggest(
        name,
        declared.keys().map(|k| k.as_str()),
        &format!("{what}s"),
    );
    scope
        .push(
            code,
            file,
            name.span(),
            format!("unknown {what} `{}`", name.value),
        )
        .help = Some(format!(
        "{help} ({what}s are declared in flagstone.toml [{what}s])"
    ));
    None
}

/// Whether a percentage has at most 3 decimals: bucketing resolves 0.001%.
fn three_decimals(v: f64) -> bool {
    ((v * 1000.0).round() - v * 1000.0).abs() <= 1e-6
}
