//! Resolving a checked repository into one environment's bundle.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::bundle::{
    Bundle, Condition, Experiment, FORMAT, FULL, Flag, FlagStep, Holdout, LayerSlice, Prerequisite,
    Rule, RuleStep, Segment, Serve, TARGETING_KEY, Weight,
};
use crate::check::Checked;
use crate::load::Repo;
use crate::model::{self, Name, Scalar, Spanned, Table};
use crate::op::{Op, Operand};

/// Builds the bundle of every environment, in the project's order.
pub fn all(checked: Checked<'_>) -> Vec<Bundle> {
    let repo = checked.repo();
    build_flags(repo, None)
}

/// Builds the bundle of one of the project's environments, its flags resolved in parallel:
/// a caller that writes environments one at a time holds one resolved environment at once.
pub fn environment(checked: Checked<'_>, environment: &str) -> Bundle {
    let repo = checked.repo();
    let project = doc(&repo
        .project
        .as_ref()
        .expect("checked repositories have a project")
        .doc);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    environment_bundle(repo, project, environment, None, threads)
}

/// Builds bundles that hold only the flags `keys` (those the repository has) and the flags
/// they depend on as prerequisites, with every segment: enough to evaluate `keys`. Comparing
/// two versions needs no more than the flags that differ.
pub fn only(checked: Checked<'_>, keys: &BTreeSet<&str>) -> Vec<Bundle> {
    let repo = checked.repo();
    let mut included: BTreeSet<&str> = BTreeSet::new();
    let mut pending: Vec<&str> = keys.iter().copied().collect();
    while let Some(key) = pending.pop() {
        let Some((key, loaded)) = repo.flags.get_key_value(key) else {
            continue;
        };
        if included.insert(key) {
            pending.extend(
                doc(&loaded.doc)
                    .prerequisites
                    .iter()
                    .map(|p| p.flag.as_str()),
            );
        }
    }
    build_flags(repo, Some(&included))
}

/// Every environment's bundle with the flags `keys`, or all of them.
fn build_flags(repo: &Repo, keys: Option<&BTreeSet<&str>>) -> Vec<Bundle> {
    let project = doc(&repo
        .project
        .as_ref()
        .expect("checked repositories have a project")
        .doc);
    // Environments are independent: one thread each.
    std::thread::scope(|scope| {
        let builders: Vec<_> = project
            .environments
            .iter()
            .map(|env| scope.spawn(|| environment_bundle(repo, project, env, keys, 1)))
            .collect();
        builders
            .into_iter()
            .map(|b| b.join().expect("building a bundle does not panic"))
            .collect()
    })
}

/// A document of a checked repository: every file loaded.
fn doc<T>(doc: &Option<T>) -> &T {
    doc.as_ref()
        .expect("every file of a checked repository loads")
}

/// One environment's bundle, its flags resolved by `threads` threads.
fn environment_bundle(
    repo: &Repo,
    project: &model::ProjectFile,
    environment: &str,
    keys: Option<&BTreeSet<&str>>,
    threads: usize,
) -> Bundle {
    let wanted = |key: &String| keys.is_none_or(|keys| keys.contains(key.as_str()));
    // Checks allow one experiment per flag and environment.
    let experiments: BTreeMap<&str, (&str, &model::ExperimentFile)> = repo
        .experiments
        .iter()
        .map(|(key, loaded)| (key.as_str(), doc(&loaded.doc)))
        .filter(|(_, e)| e.environments.iter().any(|env| env.as_str() == environment))
        .map(|(key, e)| (e.flag.as_str(), (key, e)))
        .collect();
    let chosen: Vec<(&String, &model::FlagFile)> = repo
        .flags
        .iter()
        .filter(|(k, _)| wanted(k))
        .map(|(key, loaded)| (key, doc(&loaded.doc)))
        .collect();
    let resolve = |chunk: &[(&String, &model::FlagFile)]| -> Vec<(String, Flag)> {
        chunk
            .iter()
            .map(|&(key, flag)| {
                let mut resolved = resolve_flag(key, flag, environment);
                if let Some((name, experiment)) = experiments.get(key.as_str()) {
                    resolved.experiment = Some(gate(project, name, experiment));
                }
                (key.clone(), resolved)
            })
            .collect()
    };
    // Contiguous chunks in key order, so the map is built from sorted runs.
    let chunk = chosen.len().div_ceil(threads.max(1)).max(1);
    let flags: BTreeMap<String, Flag> = std::thread::scope(|scope| {
        let workers: Vec<_> = chosen
            .chunks(chunk)
            .skip(1)
            .map(|part| scope.spawn(move || resolve(part)))
            .collect();
        let mine = resolve(chosen.chunks(chunk).next().unwrap_or_default());
        let theirs = workers
            .into_iter()
            .flat_map(|w| w.join().expect("resolving a flag does not panic"));
        mine.into_iter().chain(theirs).collect()
    });
    let mut segments = BTreeMap::new();
    for (name, loaded) in &repo.segments {
        let segment = doc(&loaded.doc);
        segments.insert(
            name.clone(),
            Segment {
                include: sorted_names(&segment.include),
                exclude: sorted_names(&segment.exclude),
                conditions: conditions(&segment.conditions),
            },
        );
    }
    Bundle {
        format: FORMAT,
        project: project.name.as_str().to_owned(),
        environment: environment.to_owned(),
        attributes: project
            .attributes
            .iter()
            .map(|(name, decl)| (name.as_str().to_owned(), decl.ty.value))
            .collect(),
        flags,
        segments,
    }
}

/// An experiment's gate: its control, and the holdout and layer slice that exclude units.
fn gate(
    project: &model::ProjectFile,
    name: &str,
    experiment: &model::ExperimentFile,
) -> Experiment {
    let salt = |salt: &Option<Name>, name: &Name| salt.as_ref().unwrap_or(name).as_str().to_owned();
    let holdout = experiment.holdout.as_ref().map(|holdout| {
        let (name, declared) = project
            .holdouts
            .iter()
            .find(|(n, _)| n.value == holdout.value)
            .expect("checked holdouts are declared");
        Holdout {
            name: name.as_str().to_owned(),
            percent: thousandths(declared.percent.value),
            salt: salt(&declared.salt, name),
        }
    });
    let layer = experiment.layer.as_ref().map(|layer| {
        let (name, declared) = project
            .layers
            .iter()
            .find(|(n, _)| n.value == layer.value)
            .expect("checked layers are declared");
        let (from, to) = experiment.slice().expect("checked layers have a range");
        LayerSlice {
            name: name.as_str().to_owned(),
            salt: salt(&declared.salt, name),
            from: thousandths(from),
            to: thousandths(to),
        }
    });
    Experiment {
        name: name.to_owned(),
        control: experiment.control.as_str().to_owned(),
        holdout,
        layer,
    }
}

fn resolve_flag(key: &str, flag: &model::FlagFile, environment: &str) -> Flag {
    let variants = match &flag.variants {
        Some(variants) => variants
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.0.clone()))
            .collect(),
        None => BTreeMap::from([
            ("off".to_owned(), Value::Bool(false)),
            ("on".to_owned(), Value::Bool(true)),
        ]),
    };
    let flag_off = flag.off_variant.as_ref().map_or("off", |v| v.as_str());
    let mut prerequisites: Vec<Prerequisite> = flag
        .prerequisites
        .iter()
        .map(|p| Prerequisite {
            flag: p.flag.as_str().to_owned(),
            variant: p.variant.as_str().to_owned(),
        })
        .collect();
    prerequisites.sort_by(|a, b| (&a.flag, &a.variant).cmp(&(&b.flag, &b.variant)));
    let mut resolved = Flag {
        variants,
        enabled: false,
        off_variant: flag_off.to_owned(),
        fallthrough: flag_off.to_owned(),
        bucket_by: flag
            .bucket_by
            .as_ref()
            .map_or(TARGETING_KEY, |b| b.as_str())
            .to_owned(),
        salt: flag.salt.as_ref().map_or(key, |s| s.as_str()).to_owned(),
        prerequisites,
        rules: Vec::new(),
        schedule: Vec::new(),
        experiment: None,
    };
    // An environment without an entry serves the off variant.
    let Some(env) = flag.env.get(environment) else {
        return resolved;
    };
    let off = env.off_variant.as_ref().map_or(flag_off, |v| v.as_str());
    resolved.enabled = env.enabled.as_ref().is_none_or(|e| e.value);
    resolved.off_variant = off.to_owned();
    resolved.fallthrough = env.serve.as_ref().map_or(off, |v| v.as_str()).to_owned();
    resolved.rules = env.rules.iter().map(|r| rule(&r.value)).collect();
    resolved.schedule = env
        .schedule
        .iter()
        .map(|step| FlagStep {
            at: millis(&step.at.value),
            enabled: step.enabled.as_ref().map(|e| e.value),
            fallthrough: step.serve.as_ref().map(|v| v.as_str().to_owned()),
        })
        .collect();
    resolved.schedule.sort_by_key(|s| s.at);
    resolved
}

fn rule(rule: &model::Rule) -> Rule {
    let mut schedule: Vec<RuleStep> = rule
        .schedule
        .iter()
        .map(|step| RuleStep {
            at: millis(&step.at.value),
            rollout: step.rollout.as_ref().map(|r| thousandths(r.value)),
            serve: serve(&step.serve, step.split.as_ref()),
        })
        .collect();
    schedule.sort_by_key(|s| s.at);
    Rule {
        name: rule.name.as_str().to_owned(),
        conditions: conditions(&rule.conditions),
        rollout: rule.rollout.as_ref().map_or(FULL, |r| thousandths(r.value)),
        serve: serve(&rule.serve, rule.split.as_deref())
            .expect("checked rules serve a variant or a split"),
        schedule,
    }
}

fn serve(variant: &Option<Name>, split: Option<&Spanned<Table<Spanned<f64>>>>) -> Option<Serve> {
    match (variant, split) {
        (Some(variant), _) => Some(Serve::Variant(variant.as_str().to_owned())),
        (None, Some(split)) => Some(Serve::Split(
            // Table entries are sorted by name: the bucketing order.
            split
                .iter()
                .map(|(variant, weight)| Weight {
                    variant: variant.as_str().to_owned(),
                    weight: thousandths(weight.value),
                })
                .collect(),
        )),
        (None, None) => None,
    }
}

fn conditions(conditions: &[Spanned<model::Condition>]) -> Vec<Condition> {
    conditions.iter().map(|c| condition(&c.value)).collect()
}

fn condition(c: &model::Condition) -> Condition {
    if let Some(segment) = c.segment.as_ref().or(c.not_segment.as_ref()) {
        return Condition {
            attr: None,
            op: None,
            values: Vec::new(),
            ignore_case: false,
            segment: Some(segment.as_str().to_owned()),
            negate: c.not_segment.is_some(),
        };
    }
    let op = c.op.as_ref().map(|o| o.value);
    let operands = c
        .value
        .as_deref()
        .into_iter()
        .chain(c.values.iter().flat_map(|v| v.iter()));
    let mut values: Vec<Value> = operands.map(|o| operand(op, &o.value)).collect();
    // A list operand is a set (any of, all of, none of): its order and repeats mean nothing.
    if op.is_some_and(|op| op.operand() == Operand::List) {
        values.sort_by_cached_key(|v| v.to_string());
        values.dedup();
    }
    Condition {
        attr: c.attr.as_ref().map(|a| a.as_str().to_owned()),
        op,
        values,
        ignore_case: c.ignore_case.as_ref().is_some_and(|i| i.value),
        segment: None,
        negate: false,
    }
}

/// An operand as the evaluator reads it: numbers as floats (so `1` and `1.0` are one
/// value), date-times as milliseconds since the epoch.
fn operand(op: Option<Op>, value: &Scalar) -> Value {
    match (op, value) {
        (Some(Op::Before | Op::After), Scalar::Datetime(d)) => Value::from(datetime_millis(d)),
        (Some(Op::Before | Op::After), Scalar::String(s)) => {
            Value::from(crate::literal::parse_timestamp(s).expect("checked date-times parse"))
        }
        (_, Scalar::Bool(b)) => Value::Bool(*b),
        (_, Scalar::Int(i)) => Value::from(*i as f64),
        (_, Scalar::Float(f)) => Value::from(*f),
        (_, Scalar::String(s)) => Value::String(s.as_str().to_owned()),
        (_, Scalar::Datetime(d)) => Value::String(d.to_string()),
    }
}

fn millis(at: &model::Timestamp) -> i64 {
    at.millis()
        .expect("checked schedule times are date-times with offsets")
}

fn datetime_millis(datetime: &toml::value::Datetime) -> i64 {
    model::datetime_millis(datetime).expect("checked operands are date-times with offsets")
}

/// A checked percentage (0–100, at most 3 decimals) in thousandths.
fn thousandths(percent: f64) -> u32 {
    (percent * 1000.0).round() as u32
}

fn sorted_names(names: &[Name]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    names.dedup();
    names
}
