//! The per-variant summary an analysis reads, computed from raw data (docs/raw-data.md): which
//! exposures assign units to an experiment, which components each metric definition makes,
//! and the summary's columns. [`events`] computes it from exposure and event files; [`sql`]
//! writes the query that computes it in a warehouse. Both follow the one [`Plan`].

pub mod events;
pub mod sql;

use crate::experiment::{Design, EVENTS_SUFFIX, PRE_SUFFIX};
use crate::load::Repo;
use crate::model::{Aggregation, MetricDefinition, ProjectFile, Timestamp, window_minutes};

/// How one experiment's summary is computed from raw data.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub experiment: String,
    pub flag: String,
    pub environment: String,
    /// The flag's rules in `environment` that split, by name: the exposures they served
    /// assign units.
    pub split_rules: Vec<String>,
    /// The flag's variants, in name order.
    pub variants: Vec<String>,
    /// The experiment's dates: exposures at `start <= time < end` (milliseconds since the
    /// Unix epoch) assign; no end, no limit.
    pub start: i64,
    pub end: Option<i64>,
    /// The per-unit values, in column order.
    pub components: Vec<Component>,
    /// The products the analysis needs, as indices into `components`, in column order.
    pub products: Vec<(usize, usize)>,
}

/// One per-unit value: a count, an indicator or a property's sum over the unit's events of
/// one name within a window relative to its first exposure.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// The column prefix: `<c>__sum`, `<c>__sum_squares`.
    pub name: String,
    pub event: String,
    /// Only events carrying this numeric property count; a sum adds it.
    pub property: Option<String>,
    pub value: Value,
    /// The window, in minutes relative to the first exposure: `from <= time - t0 < to`.
    pub from_minutes: i64,
    pub to_minutes: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// 1 when the unit has at least one event in the window, else 0.
    Converted,
    /// The unit's events in the window.
    Count,
    /// The sum of the property over the unit's events in the window.
    Sum,
}

/// Why an experiment's summary cannot be computed from raw data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The experiment, its flag or the project did not load.
    NotLoaded(String),
    /// A metric of the experiment has no definition in `[metrics]`.
    Undefined { metric: String },
    /// A metric names an inline covariate: a column only a summary has.
    InlineCovariate { metric: String, covariate: String },
    /// A definition the checks refuse (a ratio of ratios, a bad window…).
    BadDefinition { metric: String, problem: String },
    /// The experiment's `start` or `end` is not a date or a date-time with an offset.
    BadDate(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::NotLoaded(what) => {
                write!(f, "{what} could not be loaded; run `flagstone check`")
            }
            PlanError::Undefined { metric } => write!(
                f,
                "metric `{metric}` has no definition in flagstone.toml [metrics]: raw data is aggregated by its definition"
            ),
            PlanError::InlineCovariate { metric, covariate } => write!(
                f,
                "metric `{metric}` names the covariate `{covariate}`, a column of a summary; from raw data a covariate comes from the definition (`covariate = {{ window = \"14d\" }}` in [metrics.{metric}])"
            ),
            PlanError::BadDefinition { metric, problem } => {
                write!(f, "metric `{metric}`: {problem}; run `flagstone check`")
            }
            PlanError::BadDate(what) => write!(
                f,
                "the experiment's {what} is not a date or a date-time with an offset"
            ),
        }
    }
}

impl std::error::Error for PlanError {}

impl Plan {
    /// The plan for `design`'s experiment, flag and environment in `repo`.
    pub fn new(repo: &Repo, design: &Design<'_>) -> Result<Plan, PlanError> {
        let project = repo
            .project
            .as_ref()
            .and_then(|p| p.doc.as_ref())
            .ok_or_else(|| PlanError::NotLoaded(crate::load::PROJECT_FILE.to_owned()))?;
        let flag = repo
            .flags
            .get(design.flag)
            .and_then(|f| f.doc.as_ref())
            .ok_or_else(|| PlanError::NotLoaded(format!("flag `{}`", design.flag)))?;
        let split_rules = flag
            .env
            .get(design.environment)
            .map(|env| {
                env.rules
                    .iter()
                    .filter(|r| r.split.is_some())
                    .map(|r| r.name.as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let experiment = design.experiment;
        let start = day_start(&experiment.start.value)
            .ok_or_else(|| PlanError::BadDate("start".to_owned()))?;
        let end = match &experiment.end {
            Some(end) => {
                Some(period_end(&end.value).ok_or_else(|| PlanError::BadDate("end".to_owned()))?)
            }
            None => None,
        };
        let mut plan = Plan {
            experiment: design.key.to_owned(),
            flag: design.flag.to_owned(),
            environment: design.environment.to_owned(),
            split_rules,
            variants: design.variants.iter().map(|v| (*v).to_owned()).collect(),
            start,
            end,
            components: Vec::new(),
            products: Vec::new(),
        };
        let metrics = std::iter::once(&experiment.primary)
            .chain(&experiment.secondary)
            .chain(&experiment.guardrails);
        for metric in metrics {
            let name = metric.name.as_str();
            if let Some(covariate) = &metric.covariate {
                return Err(PlanError::InlineCovariate {
                    metric: name.to_owned(),
                    covariate: covariate.as_str().to_owned(),
                });
            }
            plan.metric(project, name)?;
        }
        Ok(plan)
    }

    /// Adds metric `name`'s components and products, once.
    fn metric<'p>(&mut self, project: &'p ProjectFile, name: &str) -> Result<(), PlanError> {
        let defined = definition(project, name)?;
        let bad = |problem: &str| PlanError::BadDefinition {
            metric: name.to_owned(),
            problem: problem.to_owned(),
        };
        match defined.aggregation.value {
            Aggregation::Ratio => {
                let part = |p: &'p Option<crate::model::Name>| {
                    p.as_ref()
                        .map(|p| p.as_str())
                        .ok_or_else(|| bad("a ratio needs a numerator and a denominator"))
                };
                let (numerator, denominator) =
                    (part(&defined.numerator)?, part(&defined.denominator)?);
                let mut index = |part: &str| {
                    let found = definition(project, part)?;
                    match found.aggregation.value {
                        Aggregation::Ratio | Aggregation::Mean => Err(bad(&format!(
                            "its part `{part}` is a {}, not converted, count or sum",
                            found.aggregation.value.as_str()
                        ))),
                        _ => self.base(part, found, false),
                    }
                };
                let (n, d) = (index(numerator)?, index(denominator)?);
                self.product(n, d);
            }
            aggregation => {
                let own = self.base(name, defined, false)?;
                if aggregation == Aggregation::Mean {
                    let events = self.base(name, defined, true)?;
                    self.product(own, events);
                } else if let Some(covariate) = &defined.covariate {
                    let minutes = minutes(&covariate.window).ok_or_else(|| {
                        bad(&format!("the covariate's window `{}` is not a duration", covariate.window.value))
                    })?;
                    let pre = self.component(Component {
                        name: format!("{name}{PRE_SUFFIX}"),
                        from_minutes: -minutes,
                        to_minutes: 0,
                        ..self.components[own].clone()
                    });
                    self.product(own, pre);
                }
            }
        }
        Ok(())
    }

    /// The component of a converted, count, sum or mean definition (for a mean, its sum, or
    /// with `events` its event count), added unless present; its index.
    fn base(
        &mut self,
        name: &str,
        definition: &MetricDefinition,
        events: bool,
    ) -> Result<usize, PlanError> {
        let bad = |problem: String| PlanError::BadDefinition {
            metric: name.to_owned(),
            problem,
        };
        let event = definition
            .event
            .as_ref()
            .ok_or_else(|| bad("it has no `event`".to_owned()))?;
        let window = definition
            .window
            .as_ref()
            .ok_or_else(|| bad("it has no `window`".to_owned()))?;
        let to_minutes = minutes(window)
            .ok_or_else(|| bad(format!("the window `{}` is not a duration", window.value)))?;
        let aggregation = definition.aggregation.value;
        let property = if aggregation.has_property() {
            let property = definition
                .property
                .as_ref()
                .ok_or_else(|| bad(format!("a {} needs a `property`", aggregation.as_str())))?;
            Some(property.as_str().to_owned())
        } else {
            None
        };
        let (name, value) = match aggregation {
            Aggregation::Converted => (name.to_owned(), Value::Converted),
            Aggregation::Count => (name.to_owned(), Value::Count),
            Aggregation::Mean if events => (format!("{name}{EVENTS_SUFFIX}"), Value::Count),
            _ => (name.to_owned(), Value::Sum),
        };
        Ok(self.component(Component {
            name,
            event: event.as_str().to_owned(),
            property,
            value,
            from_minutes: 0,
            to_minutes,
        }))
    }

    fn component(&mut self, component: Component) -> usize {
        match self.components.iter().position(|c| c.name == component.name) {
            Some(index) => index,
            None => {
                self.components.push(component);
                self.components.len() - 1
            }
        }
    }

    fn product(&mut self, a: usize, b: usize) {
        if !self.products.contains(&(a, b)) {
            self.products.push((a, b));
        }
    }

    /// The summary's header: `variation`, `users`, each component's sums, each product.
    pub fn columns(&self) -> Vec<String> {
        let mut columns = vec!["variation".to_owned(), "users".to_owned()];
        for c in &self.components {
            columns.push(format!("{}__sum", c.name));
            columns.push(format!("{}__sum_squares", c.name));
        }
        for &(a, b) in &self.products {
            columns.push(product_column(&self.components[a].name, &self.components[b].name));
        }
        columns
    }
}

/// The column of Σ a·b.
pub fn product_column(a: &str, b: &str) -> String {
    format!("{a}__x__{b}__sum_product")
}

fn definition<'p>(project: &'p ProjectFile, name: &str) -> Result<&'p MetricDefinition, PlanError> {
    project
        .metrics
        .get(name)
        .map(|d| &d.value)
        .ok_or_else(|| PlanError::Undefined {
            metric: name.to_owned(),
        })
}

fn minutes(window: &crate::model::Name) -> Option<i64> {
    window_minutes(window).and_then(|m| i64::try_from(m).ok())
}

const DAY_MILLIS: i64 = 86_400_000;

/// A date's 00:00 UTC, or a date-time's instant.
fn day_start(at: &Timestamp) -> Option<i64> {
    match (at.0.date, at.0.time) {
        (Some(date), None) => Some(
            crate::literal::civil_day(
                i64::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )? * DAY_MILLIS,
        ),
        _ => at.millis(),
    }
}

/// The end of a date (the next day's 00:00 UTC), or a date-time's instant.
fn period_end(at: &Timestamp) -> Option<i64> {
    let start = day_start(at)?;
    Some(if at.0.time.is_none() {
        start + DAY_MILLIS
    } else {
        start
    })
}
