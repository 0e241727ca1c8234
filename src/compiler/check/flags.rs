//! Checks of flag files.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::diag::{Code, LineCol};
use crate::literal::{civil_day, format_date};
use crate::model::{AttrType, FlagEnv, FlagFile, Name, Rule, Spanned, Table, Timestamp};

use super::{Lookup, Scope, cycles, has_variant, timestamp_millis};

/// Flags expiring within this many days get a warning.
const EXPIRY_WARNING_DAYS: i64 = 14;

impl Scope<'_> {
    pub(super) fn flags(&mut self) {
        let repo = self.repo;
        for (key, loaded) in &repo.flags {
            if let Some(flag) = &loaded.doc {
                self.flag_file(repo.path(loaded.file), key, flag);
            }
        }
        self.prerequisite_cycles();
    }

    fn flag_file(&mut self, file: &str, key: &str, flag: &FlagFile) {
        self.owners(file, flag);
        self.expiry(file, flag);
        self.variants(file, key, flag);
        if let Some(bucket_by) = &flag.bucket_by {
            match self.attribute(bucket_by) {
                Lookup::Declared(AttrType::String | AttrType::Number, _) | Lookup::Unchecked => {}
                Lookup::Declared(ty, _) => {
                    self.push(
                        Code::OperatorType,
                        file,
                        bucket_by.span(),
                        format!(
                            "`bucket_by` needs a string or number attribute; `{}` is a {}",
                            bucket_by.value,
                            ty.as_str()
                        ),
                    )
                    .help = Some(
                        "units are bucketed by a string, or an integer in decimal; choose such an attribute"
                            .into(),
                    );
                }
                Lookup::Unknown => self.unknown_attribute(file, bucket_by),
            }
        }
        if let Some(salt) = &flag.salt
            && salt.is_empty()
        {
            self.push(
                Code::InvalidValue,
                file,
                salt.span(),
                "`salt` is empty".into(),
            )
            .help = Some(format!("omit it to use the flag key `{key}`"));
        }
        for prerequisite in &flag.prerequisites {
            let p = &prerequisite.value;
            if p.flag.as_str() == key {
                self.push(
                    Code::PrerequisiteCycle,
                    file,
                    p.flag.span(),
                    format!("flag `{key}` cannot be its own prerequisite"),
                )
                .help = Some("remove this prerequisite".into());
            } else if self.known_flag(file, &p.flag)
                && let Some(other) = self.flag(&p.flag)
            {
                self.known_variant(file, &p.flag, other, &p.variant);
            }
        }
        if let Some(off) = &flag.off_variant {
            self.known_variant(file, key, flag, off);
        }
        for (env_name, env) in &flag.env {
            if self.known_environment(file, env_name) {
                self.environment(file, key, flag, env_name, env);
            }
        }
        self.off_variant_everywhere(file, key, flag);
    }

    /// Environments without an entry serve the flag-level off variant, so it must exist.
    fn off_variant_everywhere(&mut self, file: &str, key: &str, flag: &FlagFile) {
        let (Some(variants), None) = (&flag.variants, &flag.off_variant) else {
            return;
        };
        let Some(environments) = &self.environments else {
            return;
        };
        if variants.contains_key("off") {
            return;
        }
        let uncovered: Vec<&str> = environments
            .iter()
            .copied()
            .filter(|e| !flag.env.contains_key(e))
            .collect();
        if uncovered.is_empty() {
            return;
        }
        self.push(
            Code::NoOffVariant,
            file,
            variants.span(),
            format!(
                "flag `{key}` has no variant `off` and no `off_variant`, which environments without an entry ({}) serve",
                uncovered.join(", ")
            ),
        )
        .help = Some("add `off_variant = \"...\"` at the top of the flag file".into());
    }

    fn owners(&mut self, file: &str, flag: &FlagFile) {
        for owner in flag.owners.iter() {
            self.known_person(file, owner);
        }
    }

    fn expiry(&mut self, file: &str, flag: &FlagFile) {
        let Some(expires) = &flag.expires else {
            if flag.kind.needs_expiry() {
                let kind = format!("{:?}", flag.kind.value).to_lowercase();
                self.push(
                    Code::MissingExpiry,
                    file,
                    flag.kind.span(),
                    format!("a {kind} flag must say when it expires"),
                )
                .help =
                    Some("add `expires = YYYY-MM-DD`, the date by which it leaves the code".into());
            }
            return;
        };
        let Some(day) = expiry_day(&expires.value) else {
            self.push(
                Code::InvalidDatetime,
                file,
                expires.span(),
                format!(
                    "`expires` must be a date, not a date-time: found {}",
                    expires.0
                ),
            )
            .help = Some("write a TOML date such as 2027-02-01".into());
            return;
        };
        let today = self.options.today();
        if day < today {
            self.push(
                Code::Expired,
                file,
                expires.span(),
                format!("the flag expired on {}", format_date(day)),
            )
            .help = Some(
                "remove the flag from code and from this repository, or extend `expires`".into(),
            );
        } else if day - today <= EXPIRY_WARNING_DAYS {
            let days = day - today;
            self.push(
                Code::ExpiresSoon,
                file,
                expires.span(),
                format!(
                    "the flag expires on {} ({} day{})",
                    format_date(day),
                    days,
                    if days == 1 { "" } else { "s" }
                ),
            )
            .help = Some("plan its removal, or extend `expires`".into());
        }
    }

    fn variants(&mut self, file: &str, key: &str, flag: &FlagFile) {
        let Some(variants) = &flag.variants else {
            return;
        };
        if variants.is_empty() {
            self.push(
                Code::InvalidValue,
                file,
                variants.span(),
                format!("flag `{key}` declares no variants"),
            )
            .help = Some("omit `[variants]` for a boolean flag".into());
            return;
        }
        let mut first_type: Option<(&str, &Name)> = None;
        for (name, value) in variants.iter() {
            if !crate::load::valid_key_segment(name) {
                self.push(
                    Code::InvalidName,
                    file,
                    name.span(),
                    format!("`{}` is not a valid variant name", name.value),
                )
                .help = Some(crate::model::NAME_HELP.into());
            }
            let ty = json_type(&value.0);
            match first_type {
                None => first_type = Some((ty, name)),
                Some((first, first_name)) if first != ty => {
                    self.push(
                        Code::MixedVariantTypes,
                        file,
                        value.span(),
                        format!(
                            "variant `{}` is {ty}, but `{}` is {first}",
                            name.value, first_name.value
                        ),
                    )
                    .help = Some(
                        "a flag's variants all have one type, so applications can read it safely"
                            .into(),
                    );
                }
                Some(_) => {}
            }
        }
    }

    fn environment(
        &mut self,
        file: &str,
        key: &str,
        flag: &FlagFile,
        env_name: &Name,
        env: &Spanned<FlagEnv>,
    ) {
        // A flag-level off variant is checked once, with the flag.
        match (&env.off_variant, &flag.off_variant) {
            (Some(off), _) => {
                self.known_variant(file, key, flag, off);
            }
            (None, None) if !has_variant(flag, "off") => {
                self.push(
                    Code::NoOffVariant,
                    file,
                    env_name.span(),
                    format!(
                        "flag `{key}` has no variant `off`, so environment `{}` must name its off variant",
                        env_name.value
                    ),
                )
                .help = Some(
                    "add `off_variant = \"...\"` here or at the top of the flag file".into(),
                );
            }
            _ => {}
        }
        if let Some(serve) = &env.serve {
            self.known_variant(file, key, flag, serve);
        }
        let mut names: Vec<&Name> = Vec::with_capacity(env.rules.len());
        let mut catch_all: Option<&Name> = None;
        for rule in &env.rules {
            let r = &rule.value;
            if let Some(first) = names.iter().find(|n| n.value == r.name.value) {
                let line = LineCol::of(&self.text(file), first.span().start).line;
                self.push(
                    Code::DuplicateRule,
                    file,
                    r.name.span(),
                    format!(
                        "rule name `{}` is used twice in environment `{}`",
                        r.name.value, env_name.value
                    ),
                )
                .help = Some(format!(
                    "the first is on line {line}; rule names must be unique"
                ));
            }
            names.push(&r.name);
            if let Some(earlier) = catch_all {
                self.push(
                    Code::UnreachableRule,
                    file,
                    r.name.span(),
                    format!(
                        "rule `{}` can never match: rule `{}` before it matches every unit",
                        r.name.value, earlier.value
                    ),
                )
                .help = Some(
                    "move this rule above it, or add conditions or a rollout to the earlier rule"
                        .into(),
                );
            }
            self.serve_or_split(file, key, flag, rule.span(), &r.serve, r.split.as_deref());
            if let Some(rollout) = &r.rollout {
                self.rollout(file, rollout);
            }
            self.conditions(file, &r.conditions);
            self.rule_schedule(file, key, flag, rule);
            let full = |p: &Option<Spanned<f64>>| p.as_ref().is_none_or(|p| p.value >= 100.0);
            let always_full = full(&r.rollout) && r.schedule.iter().all(|s| full(&s.rollout));
            if catch_all.is_none() && r.conditions.is_empty() && always_full {
                catch_all = Some(&r.name);
            }
        }
        let steps: Vec<&Spanned<Timestamp>> = env.schedule.iter().map(|s| &s.at).collect();
        self.schedule_times(file, &steps);
        for step in &env.schedule {
            if step.enabled.is_none() && step.serve.is_none() {
                self.push(
                    Code::InvalidValue,
                    file,
                    step.span(),
                    "this schedule step changes nothing".into(),
                )
                .help = Some("give it `enabled` or `serve`".into());
            }
            if let Some(serve) = &step.serve {
                self.known_variant(file, key, flag, serve);
            }
        }
    }

    fn rule_schedule(&mut self, file: &str, key: &str, flag: &FlagFile, rule: &Spanned<Rule>) {
        let steps: Vec<&Spanned<Timestamp>> = rule.schedule.iter().map(|s| &s.at).collect();
        self.schedule_times(file, &steps);
        for step in &rule.schedule {
            if step.rollout.is_none() && step.serve.is_none() && step.split.is_none() {
                self.push(
                    Code::InvalidValue,
                    file,
                    step.span(),
                    "this schedule step changes nothing".into(),
                )
                .help = Some("give it `rollout`, `serve` or `split`".into());
            }
            if step.serve.is_some() || step.split.is_some() {
                self.serve_or_split(
                    file,
                    key,
                    flag,
                    step.span(),
                    &step.serve,
                    step.split.as_ref(),
                );
            }
            if let Some(rollout) = &step.rollout {
                self.rollout(file, rollout);
            }
        }
    }

    /// Checks that schedule steps are date-times with offsets, in increasing order, and that
    /// not all of them are over.
    fn schedule_times(&mut self, file: &str, steps: &[&Spanned<Timestamp>]) {
        let mut previous: Option<i64> = None;
        // The latest step, and whether every step has a usable time.
        let mut latest: Option<(i64, &Spanned<Timestamp>)> = None;
        let mut all_valid = true;
        for at in steps {
            let Some(millis) = timestamp_millis(&at.0) else {
                self.push(
                    Code::InvalidDatetime,
                    file,
                    at.span(),
                    format!("schedule time {} has no time zone offset", at.0),
                )
                .help =
                    Some("write a date-time with an offset, such as 2026-12-01T09:00:00Z".into());
                all_valid = false;
                continue;
            };
            if latest.is_none_or(|(l, _)| millis > l) {
                latest = Some((millis, at));
            }
            if previous.is_some_and(|p| millis <= p) {
                self.push(
                    Code::ScheduleOrder,
                    file,
                    at.span(),
                    format!("schedule step at {} is not after the step before it", at.0),
                )
                .help = Some("list steps in increasing time order".into());
            }
            previous = Some(millis);
        }
        if let Some((last, at)) = latest
            && all_valid
            && last <= self.options.now_millis
        {
            self.push(
                Code::SchedulePast,
                file,
                at.span(),
                "every step of this schedule is in the past".into(),
            )
            .help = Some(
                "fold the latest step's values into the rule or environment, and remove the schedule"
                    .into(),
            );
        }
    }

    fn serve_or_split(
        &mut self,
        file: &str,
        key: &str,
        flag: &FlagFile,
        span: Range<usize>,
        serve: &Option<Name>,
        split: Option<&Spanned<Table<Spanned<f64>>>>,
    ) {
        match (serve, split) {
            (Some(_), Some(split)) => {
                self.push(
                    Code::ServeOrSplit,
                    file,
                    split.span(),
                    "give either `serve` or `split`, not both".into(),
                )
                .help = Some(
                    "`serve` gives every unit one variant; `split` divides units by weight".into(),
                );
            }
            (None, None) => {
                self.push(
                    Code::ServeOrSplit,
                    file,
                    span,
                    "give `serve` or `split`".into(),
                )
                .help = Some(
                    "e.g. `serve = \"on\"` or `split = { control = 50, treatment = 50 }`".into(),
                );
            }
            (Some(serve), None) => {
                self.known_variant(file, key, flag, serve);
            }
            (None, Some(split)) => {
                let mut total = 0.0;
                let mut well_formed = true;
                for (variant, weight) in split.iter() {
                    self.known_variant(file, key, flag, variant);
                    well_formed &= self.percentage(file, weight, "split weight");
                    total += weight.value;
                }
                if well_formed && (total - 100.0).abs() > 1e-9 {
                    self.push(
                        Code::SplitSum,
                        file,
                        split.span(),
                        format!("split weights add up to {}, not 100", round3(total)),
                    )
                    .help = Some("weights are percentages of the units the rule serves".into());
                }
            }
        }
    }

    fn rollout(&mut self, file: &str, rollout: &Spanned<f64>) {
        self.percentage(file, rollout, "rollout");
    }

    /// Checks a percentage: 0–100 with at most 3 decimals (bucketing resolution 1/100000).
    fn percentage(&mut self, file: &str, value: &Spanned<f64>, what: &str) -> bool {
        let v = value.value;
        if !(0.0..=100.0).contains(&v) {
            self.push(
                Code::BadRollout,
                file,
                value.span(),
                format!("{what} {v} is outside 0–100"),
            )
            .help = Some("percentages run from 0 to 100".into());
            return false;
        }
        if ((v * 1000.0).round() - v * 1000.0).abs() > 1e-6 {
            self.push(
                Code::BadRollout,
                file,
                value.span(),
                format!("{what} {v} has more than 3 decimals"),
            )
            .help = Some(format!("bucketing resolves 0.001%; use {}", round3(v)));
            return false;
        }
        true
    }

    fn prerequisite_cycles(&mut self) {
        let repo = self.repo;
        let edges: BTreeMap<&str, Vec<&str>> = repo
            .flags
            .iter()
            .filter_map(|(key, loaded)| {
                let flag = loaded.doc.as_ref()?;
                let targets = flag
                    .prerequisites
                    .iter()
                    .map(|p| p.flag.as_str())
                    .filter(|target| target != key)
                    .collect();
                Some((key.as_str(), targets))
            })
            .collect();
        for cycle in cycles(&edges) {
            let (first, second) = (cycle[0], cycle[1]);
            let loaded = &repo.flags[first];
            let flag = loaded.doc.as_ref().expect("only loaded flags have edges");
            let span = flag
                .prerequisites
                .iter()
                .find(|p| p.flag.as_str() == second)
                .map(|p| p.flag.span())
                .expect("the cycle follows a prerequisite");
            self.push(
                Code::PrerequisiteCycle,
                repo.path(loaded.file),
                span,
                format!("prerequisites form a cycle: {}", cycle.join(" → ")),
            )
            .help = Some("a flag cannot depend, directly or not, on itself".into());
        }
    }
}

/// The day an `expires` value names; `None` unless it is a plain date.
fn expiry_day(expires: &Timestamp) -> Option<i64> {
    match expires.0 {
        toml::value::Datetime {
            date: Some(date),
            time: None,
            offset: None,
        } => civil_day(
            i64::from(date.year),
            u32::from(date.month),
            u32::from(date.day),
        ),
        _ => None,
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => "a JSON payload",
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
