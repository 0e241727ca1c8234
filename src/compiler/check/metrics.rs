//! Checks of metric definitions (`[metrics.<name>]` of flagstone.toml), and of how
//! experiments refer to them.

use std::ops::Range;

use crate::diag::{Code, suggest};
use crate::experiment::{self, Resolved};
use crate::model::{
    Aggregation, Direction, Metric, MetricDefinition, Name, ProjectFile, Spanned, Table,
    window_minutes,
};

use super::Scope;

const WINDOW_HELP: &str =
    "a whole number of days, hours or minutes after first exposure, e.g. \"7d\", \"24h\", \"30m\"";

impl Scope<'_> {
    /// `[metrics]` of the project file.
    pub(super) fn metric_definitions(&mut self, file: &str, project: &ProjectFile) {
        for (name, definition) in &project.metrics {
            if !crate::load::valid_key_segment(name) {
                self.push(
                    Code::InvalidName,
                    file,
                    name.span(),
                    format!("`{}` is not a valid metric name", name.value),
                )
                .help = Some(crate::model::NAME_HELP.into());
            }
            self.definition(file, name, definition, &project.metrics);
        }
    }

    fn definition(
        &mut self,
        file: &str,
        name: &Name,
        definition: &Spanned<MetricDefinition>,
        all: &Table<Spanned<MetricDefinition>>,
    ) {
        let aggregation = definition.aggregation.value;
        let agg = aggregation.as_str();
        let ratio = aggregation == Aggregation::Ratio;
        // What every aggregation but ratio needs, and a ratio takes from its parts.
        for (field, value, help) in [
            (
                "event",
                &definition.event,
                "the event whose occurrences it aggregates",
            ),
            ("window", &definition.window, WINDOW_HELP),
        ] {
            match value {
                None if !ratio => self.bad_definition(
                    file,
                    name.span(),
                    format!("metric `{}` ({agg}) has no `{field}`", name.value),
                    &format!("add `{field}`: {help}"),
                ),
                Some(value) if ratio => self.bad_definition(
                    file,
                    value.span(),
                    format!("ratio metric `{}` has its own `{field}`", name.value),
                    "a ratio uses its numerator's and denominator's; remove it",
                ),
                _ => {}
            }
        }
        match &definition.property {
            None if aggregation.has_property() => self.bad_definition(
                file,
                name.span(),
                format!("metric `{}` ({agg}) has no `property`", name.value),
                &format!("add `property`: the event's numeric property whose {agg} it takes"),
            ),
            Some(property) if !aggregation.has_property() => self.bad_definition(
                file,
                property.span(),
                format!("metric `{}` ({agg}) has a `property`", name.value),
                "only sum and mean read a property of the event; remove it",
            ),
            _ => {}
        }
        let windows = definition
            .window
            .iter()
            .chain(definition.covariate.as_ref().map(|c| &c.window));
        for window in windows {
            if window_minutes(window).is_none() {
                self.bad_definition(
                    file,
                    window.span(),
                    format!("`{}` is not a duration", window.value),
                    WINDOW_HELP,
                );
            }
        }
        if let Some(covariate) = &definition.covariate
            && aggregation.kind() == crate::model::MetricKind::Ratio
        {
            self.bad_definition(
                file,
                covariate.span(),
                format!("{agg} metric `{}` cannot have a covariate", name.value),
                "CUPED applies to converted, count and sum metrics (a mean is analysed as the ratio of its sum to its events)",
            );
        }
        let parts = [
            ("numerator", &definition.numerator),
            ("denominator", &definition.denominator),
        ];
        if !ratio {
            for part in parts.iter().filter_map(|(_, p)| p.as_ref()) {
                self.bad_definition(
                    file,
                    part.span(),
                    format!(
                        "metric `{}` ({agg}) has a numerator or denominator",
                        name.value
                    ),
                    "only ratio metrics have them; remove it or make it `aggregation = \"ratio\"`",
                );
            }
            return;
        }
        for (field, part) in parts {
            let Some(part) = part else {
                self.bad_definition(
                    file,
                    name.span(),
                    format!("ratio metric `{}` has no `{field}`", name.value),
                    "a ratio names two other defined metrics: its numerator and denominator",
                );
                continue;
            };
            match all.get(part) {
                None => {
                    let help = suggest(part, all.keys().map(|k| k.as_str()), "metrics");
                    self.push(
                        Code::UnknownMetric,
                        file,
                        part.span(),
                        format!("unknown metric `{}`", part.value),
                    )
                    .help = Some(format!("{help} (metrics are defined in [metrics])"));
                }
                Some(found) if matches!(found.aggregation.value, Aggregation::Ratio | Aggregation::Mean) => {
                    self.push(
                        Code::BadMetricDefinition,
                        file,
                        part.span(),
                        format!(
                            "the {field} of ratio metric `{}` is the {} `{}`",
                            name.value,
                            found.aggregation.value.as_str(),
                            part.value
                        ),
                    )
                    .help = Some(
                        "a ratio divides two per-unit totals: name converted, count or sum metrics (a mean is itself a ratio)"
                            .into(),
                    );
                }
                Some(_) => {}
            }
        }
        if let (Some(numerator), Some(denominator)) =
            (&definition.numerator, &definition.denominator)
            && numerator.value == denominator.value
        {
            self.push(
                Code::BadMetricDefinition,
                file,
                denominator.span(),
                format!(
                    "ratio metric `{}` divides `{}` by itself",
                    name.value, numerator.value
                ),
            )
            .help = Some("a ratio of a metric to itself is always 1".into());
        }
    }

    fn bad_definition(&mut self, file: &str, span: Range<usize>, message: String, help: &str) {
        self.push(Code::BadMetricDefinition, file, span, message)
            .help = Some(help.into());
    }

    /// An experiment's metric against the project's definitions: when the project defines any,
    /// the metric must be one of them and agree with it. Returns the metric as resolved, when
    /// its kind is known.
    pub(super) fn experiment_metric<'a>(
        &mut self,
        file: &str,
        metric: &'a Metric,
        project: Option<&'a ProjectFile>,
    ) -> Option<Resolved<'a>> {
        let definitions = project.map(|p| &p.metrics).filter(|m| !m.is_empty());
        let Some(definitions) = definitions else {
            if metric.kind.is_none() {
                self.push(
                    Code::BadMetric,
                    file,
                    metric.name.span(),
                    format!("metric `{}` has no `kind`", metric.name.value),
                )
                .help = Some(
                    "add `kind = \"binomial\"`, \"mean\" or \"ratio\", or define the metric in flagstone.toml [metrics]"
                        .into(),
                );
            }
            return experiment::resolve(metric, None);
        };
        let Some(definition) = definitions.get(&metric.name) else {
            let help = suggest(
                &metric.name,
                definitions.keys().map(|k| k.as_str()),
                "metrics",
            );
            self.push(
                Code::UnknownMetric,
                file,
                metric.name.span(),
                format!("unknown metric `{}`", metric.name.value),
            )
            .help = Some(format!(
                "{help} (metrics are defined in flagstone.toml [metrics])"
            ));
            return None;
        };
        self.agrees(file, metric, definition);
        experiment::resolve(metric, Some(definition))
    }

    /// The inline fields an experiment repeats say what the definition says.
    fn agrees(&mut self, file: &str, metric: &Metric, definition: &MetricDefinition) {
        let name = &metric.name.value;
        let aggregation = definition.aggregation.value;
        let defined = aggregation.kind();
        if let Some(kind) = &metric.kind
            && kind.value != defined
        {
            self.push(
                Code::MetricMismatch,
                file,
                kind.span(),
                format!(
                    "metric `{name}` is declared `{}`, but its definition's aggregation `{}` makes it `{}`",
                    kind.value.as_str(),
                    aggregation.as_str(),
                    defined.as_str()
                ),
            )
            .help = Some(format!(
                "write `kind = \"{}\"`, or leave `kind` out: the definition supplies it",
                defined.as_str()
            ));
            return;
        }
        for (field, inline, part) in [
            ("numerator", &metric.numerator, &definition.numerator),
            ("denominator", &metric.denominator, &definition.denominator),
        ] {
            if let (Some(inline), Some(part)) = (inline, part)
                && inline.value != part.value
            {
                self.push(
                    Code::MetricMismatch,
                    file,
                    inline.span(),
                    format!(
                        "the {field} of metric `{name}` is `{}`, but its definition's is `{}`",
                        inline.value, part.value
                    ),
                )
                .help = Some(format!(
                    "write `{field} = \"{}\"`, or leave it out: the definition supplies it",
                    part.value
                ));
            }
        }
        let direction =
            |d: &Option<Spanned<Direction>>| d.as_ref().map_or(Direction::Higher, |d| d.value);
        if let Some(inline) = &metric.direction
            && inline.value != direction(&definition.direction)
        {
            let word = |d: Direction| match d {
                Direction::Higher => "higher",
                Direction::Lower => "lower",
            };
            self.push(
                Code::MetricMismatch,
                file,
                inline.span(),
                format!(
                    "metric `{name}` is better {} here, but {} by its definition",
                    word(inline.value),
                    word(direction(&definition.direction))
                ),
            )
            .help = Some("leave `direction` out: the definition supplies it".into());
        }
    }
}
