//! An experiment's design resolved against its flag and project: the arms and their intended
//! shares in one environment, the share of units the layer and holdout leave in it, and the
//! metrics. `flagstone plan`, the plan warning of `flagstone check` and `flagstone analyze`
//! read experiments through [`design`].

use std::borrow::Cow;
use std::fmt;

use crate::bundle::TARGETING_KEY;
use crate::load::Repo;
use crate::metric::{Estimator, MetricSpec, Role};
use crate::model::{
    self, Aggregation, Direction, ExperimentFile, FlagFile, Metric, MetricDefinition, MetricKind, ProjectFile,
    variant_names,
};
use crate::stats::power::{self, Baseline, PowerError};

/// The significance level when the experiment does not set `alpha`.
pub const DEFAULT_ALPHA: f64 = 0.05;
/// The power when the experiment does not set `power`.
pub const DEFAULT_POWER: f64 = 0.8;

/// An experiment in one environment.
#[derive(Clone, Debug)]
pub struct Design<'r> {
    pub key: &'r str,
    pub experiment: &'r ExperimentFile,
    pub flag: &'r str,
    pub environment: &'r str,
    pub control: &'r str,
    /// The flag's variants, in name order.
    pub variants: Vec<&'r str>,
    /// The intended split in `environment`: the weight (percent) of each variant with a
    /// positive weight, in name order. From the first rule that splits, as scheduled at
    /// start.
    pub weights: Vec<(&'r str, f64)>,
    /// The share of units reaching the split that are in the experiment: the layer slice
    /// times the share not held out.
    pub in_experiment: f64,
    /// The primary metric, then the secondary metrics, then the guardrails.
    pub metrics: Vec<MetricSpec>,
    pub mde: f64,
    pub alpha: f64,
    pub power: f64,
    pub daily_units: f64,
}

/// Why an experiment has no design.
#[derive(Clone, Debug, PartialEq)]
pub enum DesignError {
    UnknownExperiment {
        key: String,
        help: String,
    },
    /// The experiment, its flag or the project did not load; `flagstone check` says why.
    NotLoaded(String),
    /// The environment is not one the experiment runs in.
    Environment {
        environment: String,
        listed: Vec<String>,
    },
    /// The flag serves no split of control and another variant there.
    NoSplit {
        flag: String,
        environment: String,
    },
    /// A metric has no inline `kind` and no definition to take it from.
    MetricKind {
        metric: String,
    },
}

impl fmt::Display for DesignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DesignError::UnknownExperiment { key, help } => {
                write!(f, "unknown experiment `{key}`: {help}")
            }
            DesignError::NotLoaded(what) => {
                write!(f, "{what} could not be loaded; run `flagstone check`")
            }
            DesignError::Environment {
                environment,
                listed,
            } => write!(
                f,
                "the experiment does not run in `{environment}`; it runs in {}",
                listed.join(", ")
            ),
            DesignError::NoSplit { flag, environment } => write!(
                f,
                "flag `{flag}` serves no split of the control and another variant in `{environment}`"
            ),
            DesignError::MetricKind { metric } => write!(
                f,
                "metric `{metric}` has no `kind` and no definition in flagstone.toml [metrics]; run `flagstone check`"
            ),
        }
    }
}

impl std::error::Error for DesignError {}

/// The design of experiment `key` in `environment`, or by default in the environment it
/// lists that comes last in the project's promotion order (the production-most).
pub fn design<'r>(
    repo: &'r Repo,
    key: &str,
    environment: Option<&str>,
) -> Result<Design<'r>, DesignError> {
    let Some((key, loaded)) = repo.experiments.get_key_value(key) else {
        let help = crate::diag::suggest(
            key,
            repo.experiments.keys().map(String::as_str),
            "experiments",
        );
        return Err(DesignError::UnknownExperiment {
            key: key.to_owned(),
            help,
        });
    };
    let not_loaded = |what: String| DesignError::NotLoaded(what);
    let experiment = loaded
        .doc
        .as_ref()
        .ok_or_else(|| not_loaded(repo.path(loaded.file).to_owned()))?;
    let project = repo
        .project
        .as_ref()
        .and_then(|p| p.doc.as_ref())
        .ok_or_else(|| not_loaded(crate::load::PROJECT_FILE.to_owned()))?;
    let (flag_key, flag) = repo
        .flags
        .get_key_value(experiment.flag.as_str())
        .and_then(|(k, l)| Some((k.as_str(), l.doc.as_ref()?)))
        .ok_or_else(|| not_loaded(format!("flag `{}`", experiment.flag.value)))?;
    let listed: Vec<&str> = experiment.environments.iter().map(|e| e.as_str()).collect();
    let environment = match environment {
        Some(env) => {
            *listed
                .iter()
                .find(|e| **e == env)
                .ok_or_else(|| DesignError::Environment {
                    environment: env.to_owned(),
                    listed: listed.iter().map(|e| (*e).to_owned()).collect(),
                })?
        }
        None => production_most(project, &listed)
            .ok_or_else(|| not_loaded(repo.path(loaded.file).to_owned()))?,
    };
    let control = experiment.control.as_str();
    let weights = split(flag, environment, control).ok_or_else(|| DesignError::NoSplit {
        flag: flag_key.to_owned(),
        environment: environment.to_owned(),
    })?;
    Ok(Design {
        key,
        experiment,
        flag: flag_key,
        environment,
        control,
        variants: variant_names(flag),
        weights,
        in_experiment: in_experiment(project, experiment),
        metrics: metrics(experiment, project)?,
        mde: experiment.mde.value,
        alpha: experiment.alpha.as_ref().map_or(DEFAULT_ALPHA, |a| a.value),
        power: experiment.power.as_ref().map_or(DEFAULT_POWER, |p| p.value),
        daily_units: experiment.daily_units.value,
    })
}

/// Of `listed`, the environment latest in the project's promotion order.
pub fn production_most<'a>(project: &ProjectFile, listed: &[&'a str]) -> Option<&'a str> {
    listed
        .iter()
        .copied()
        .filter_map(|env| {
            let rank = project
                .environments
                .iter()
                .position(|e| e.as_str() == env)?;
            Some((rank, env))
        })
        .max()
        .map(|(_, env)| env)
}

/// The weights of the first rule in `environment` whose split gives both `control` and
/// another variant a positive weight: the split an experiment gates.
pub fn split<'f>(
    flag: &'f FlagFile,
    environment: &str,
    control: &str,
) -> Option<Vec<(&'f str, f64)>> {
    let env = flag.env.get(environment)?;
    env.rules.iter().find_map(|rule| {
        let weights: Vec<(&str, f64)> = rule
            .split
            .as_ref()?
            .iter()
            .filter(|(_, w)| w.value > 0.0)
            .map(|(v, w)| (v.as_str(), w.value))
            .collect();
        let has_control = weights.iter().any(|(v, _)| *v == control);
        (has_control && weights.len() > 1).then_some(weights)
    })
}

/// The share of units reaching the split that the layer slice and the holdout leave in.
fn in_experiment(project: &ProjectFile, experiment: &ExperimentFile) -> f64 {
    let slice = experiment
        .slice()
        .map_or(1.0, |(from, to)| (to - from) / 100.0);
    let held = experiment
        .holdout
        .as_ref()
        .and_then(|h| project.holdouts.get(h))
        .map_or(0.0, |h| h.percent.value / 100.0);
    slice * (1.0 - held)
}

/// The column prefix of the event count a `mean` metric divides its sum by: `<name>.events`.
/// Metric names have no dots, so no defined metric takes it.
pub const EVENTS_SUFFIX: &str = ".events";
/// The column prefix of a defined covariate (the metric before first exposure): `<name>.pre`.
pub const PRE_SUFFIX: &str = ".pre";

/// An experiment's metric as its definition in flagstone.toml and its inline fields make it.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved<'a> {
    pub kind: MetricKind,
    /// A ratio's numerator and denominator: the definition's parts, else the inline columns.
    /// A `mean` definition is the ratio of its property's sum (`<name>`) to its events
    /// (`<name>.events`).
    pub numerator: Option<Cow<'a, str>>,
    pub denominator: Option<Cow<'a, str>>,
    /// The CUPED covariate's column prefix: the inline `covariate`, else `<name>.pre` when
    /// the definition has a covariate.
    pub covariate: Option<Cow<'a, str>>,
    /// Lower is better: the inline `direction`, else the definition's.
    pub inverse: bool,
}

/// Resolves `metric` against its definition in flagstone.toml, which supplies what the
/// experiment leaves out; `None` when neither says which kind it is. Checks report where the
/// two disagree.
pub fn resolve<'a>(
    metric: &'a Metric,
    definition: Option<&'a MetricDefinition>,
) -> Option<Resolved<'a>> {
    let kind = match definition {
        Some(definition) => definition.aggregation.kind(),
        None => metric.kind.as_ref()?.value,
    };
    let name = |n: &'a Option<model::Name>| n.as_ref().map(|n| Cow::Borrowed(n.as_str()));
    let part = |defined: Option<&'a Option<model::Name>>, inline| {
        defined.and_then(name).or_else(|| name(inline))
    };
    let direction = metric
        .direction
        .as_ref()
        .or_else(|| definition?.direction.as_ref());
    let metric_name = metric.name.as_str();
    let (numerator, denominator) = match definition {
        Some(d) if d.aggregation.value == Aggregation::Mean => (
            Some(Cow::Borrowed(metric_name)),
            Some(Cow::Owned(format!("{metric_name}{EVENTS_SUFFIX}"))),
        ),
        _ => (
            part(definition.map(|d| &d.numerator), &metric.numerator),
            part(definition.map(|d| &d.denominator), &metric.denominator),
        ),
    };
    let defined_covariate = definition
        .filter(|d| d.covariate.is_some())
        .map(|_| Cow::Owned(format!("{metric_name}{PRE_SUFFIX}")));
    Some(Resolved {
        kind,
        numerator,
        denominator,
        covariate: name(&metric.covariate).or(defined_covariate),
        inverse: direction.is_some_and(|d| d.value == Direction::Lower),
    })
}

fn metrics(
    experiment: &ExperimentFile,
    project: &ProjectFile,
) -> Result<Vec<MetricSpec>, DesignError> {
    let spec = |metric: &Metric, role: Role| {
        let definition = project.metrics.get(&metric.name).map(|d| &d.value);
        let resolved = resolve(metric, definition).ok_or_else(|| DesignError::MetricKind {
            metric: metric.name.as_str().to_owned(),
        })?;
        let column = |c: Option<Cow<'_, str>>| c.unwrap_or_default().into_owned();
        Ok(MetricSpec {
            name: metric.name.as_str().to_owned(),
            kind: match resolved.kind {
                MetricKind::Binomial => Estimator::Binomial,
                MetricKind::Mean => Estimator::Mean,
                MetricKind::Ratio => Estimator::Ratio {
                    numerator: column(resolved.numerator),
                    denominator: column(resolved.denominator),
                },
            },
            inverse: resolved.inverse,
            covariate: resolved.covariate.map(Cow::into_owned),
            role,
        })
    };
    let guardrail = |m: &Metric| Role::Guardrail {
        max_regression: m.max_regression.as_ref().map_or(0.0, |m| m.value),
    };
    std::iter::once(spec(&experiment.primary, Role::Primary))
        .chain(
            experiment
                .secondary
                .iter()
                .map(|m| spec(m, Role::Secondary)),
        )
        .chain(experiment.guardrails.iter().map(|m| spec(m, guardrail(m))))
        .collect()
}

/// The attribute a flag, layer or holdout buckets by, with its default.
pub fn bucket_by(attribute: Option<&crate::model::Name>) -> &str {
    attribute.map_or(TARGETING_KEY, |a| a.as_str())
}

/// How long an experiment must run.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Plan {
    pub units_per_variant: u64,
    /// The units that must enter the experiment for its smallest arm to reach
    /// `units_per_variant`.
    pub total_units: u64,
    /// Units entering the experiment per day, after the layer and holdout.
    pub daily_in_experiment: f64,
    /// Days until the arm with the smallest share has its units.
    pub days: u64,
}

impl Design<'_> {
    /// The primary metric's baseline as the power calculation reads it.
    pub fn baseline(&self) -> Result<Baseline, PlanError> {
        let primary = &self.experiment.primary;
        let baseline = primary
            .baseline
            .as_ref()
            .ok_or(PlanError::Missing("baseline"))?
            .value;
        // `design` puts the primary first.
        Ok(match self.metrics.first().map(|m| &m.kind) {
            Some(Estimator::Binomial) => Baseline::Rate(baseline),
            _ => Baseline::Mean {
                mean: baseline,
                stddev: primary
                    .stddev
                    .as_ref()
                    .ok_or(PlanError::Missing("stddev"))?
                    .value,
            },
        })
    }

    /// Units and days to detect the MDE on the primary metric.
    pub fn plan(&self) -> Result<Plan, PlanError> {
        let n = power::units_per_variant(self.baseline()?, self.mde, self.alpha, self.power)?;
        let shares: Vec<f64> = self.weights.iter().map(|(_, w)| w / 100.0).collect();
        let days = power::days_needed(n, self.daily_units, self.in_experiment, &shares)?;
        // The arm with the smallest share fills last; the others get more than `n` meanwhile.
        let smallest = shares.iter().copied().fold(1.0, f64::min);
        Ok(Plan {
            units_per_variant: n,
            total_units: (n as f64 / smallest).ceil() as u64,
            daily_in_experiment: self.daily_units * self.in_experiment,
            days,
        })
    }
}

/// Why a plan cannot be made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlanError {
    /// The primary metric lacks this field.
    Missing(&'static str),
    Power(PowerError),
}

impl From<PowerError> for PlanError {
    fn from(e: PowerError) -> Self {
        PlanError::Power(e)
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Missing(field) => write!(f, "the primary metric has no `{field}`"),
            PlanError::Power(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PlanError {}

/// A date field's day (days since 1970-01-01), if it is a plain date.
pub fn day(timestamp: &crate::model::Timestamp) -> Option<i64> {
    match timestamp.0 {
        toml::value::Datetime {
            date: Some(date),
            time: None,
            offset: None,
        } => crate::literal::civil_day(
            i64::from(date.year),
            u32::from(date.month),
            u32::from(date.day),
        ),
        _ => None,
    }
}
