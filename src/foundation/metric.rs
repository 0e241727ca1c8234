//! What to analyse: the metrics and how they are read from the summary's columns.

/// One metric of an experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSpec {
    /// The metric's name: the prefix of its columns (`<name>__sum`, …).
    pub name: String,
    pub kind: Estimator,
    /// Lower is better (for example latency or churn).
    pub inverse: bool,
    /// A pre-experiment covariate for CUPED: the prefix of its columns.
    pub covariate: Option<String>,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Estimator {
    /// A 0/1 metric; needs `<name>__sum`.
    Binomial,
    /// Any numeric metric; needs `<name>__sum` and `<name>__sum_squares`.
    Mean,
    /// Σnumerator / Σdenominator over units, each a mean component with its own sums, and
    /// their `<numerator>__x__<denominator>__sum_product`.
    Ratio {
        numerator: String,
        denominator: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Role {
    /// The metric the decision is made on; exactly one per request.
    Primary,
    Secondary,
    /// Must not get worse by more than `max_regression` (relative: 0.02 is 2%) in the
    /// metric's bad direction; a failing guardrail blocks shipping.
    Guardrail {
        max_regression: f64,
    },
}

impl Estimator {
    pub fn label(&self) -> String {
        match self {
            Estimator::Binomial => "binomial".to_owned(),
            Estimator::Mean => "mean".to_owned(),
            Estimator::Ratio {
                numerator,
                denominator,
            } => format!("ratio {numerator}/{denominator}"),
        }
    }
}

impl Role {
    pub fn label(&self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
            Role::Guardrail { .. } => "guardrail",
        }
    }
}

/// A metric specification that does not parse: the specification and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    pub spec: String,
    pub problem: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "metric `{}`: {}", self.spec, self.problem)
    }
}

impl std::error::Error for SpecError {}

/// Whether `name` can prefix column names unambiguously: letters, digits, `_`, `-` and `.`,
/// and no `__`, which separates a name from its column suffix.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl MetricSpec {
    /// Parses one metric specification (the command line's `--metric`): `NAME=KIND[,OPTION]...` with KIND `binomial`, `mean` or
    /// `NUMERATOR/DENOMINATOR`, and the options `inverse`, `covariate=NAME` and
    /// `guardrail=MAX_REGRESSION`. The role is `Secondary` unless a guardrail; see
    /// [`parse_metrics`] for the primary.
    pub fn parse(spec: &str) -> Result<MetricSpec, SpecError> {
        let fail = |problem: String| SpecError {
            spec: spec.to_owned(),
            problem,
        };
        let mut parts = spec.split(',').map(str::trim);
        let head = parts.next().unwrap_or_default();
        let Some((name, kind)) = head.split_once('=') else {
            return Err(fail(
                "expected NAME=KIND, with KIND binomial, mean or NUMERATOR/DENOMINATOR".to_owned(),
            ));
        };
        let (name, kind) = (name.trim(), kind.trim());
        let check_name = |what: &str, name: &str| {
            if valid_name(name) {
                Ok(())
            } else {
                Err(fail(format!(
                    "{what} `{name}` is not a valid name (letters, digits, `_`, `-`, `.`; no `__`)"
                )))
            }
        };
        check_name("the metric name", name)?;
        let kind = match kind {
            "binomial" => Estimator::Binomial,
            "mean" => Estimator::Mean,
            _ => match kind.split_once('/') {
                Some((numerator, denominator)) => {
                    let (numerator, denominator) = (numerator.trim(), denominator.trim());
                    check_name("the numerator", numerator)?;
                    check_name("the denominator", denominator)?;
                    if numerator == denominator {
                        return Err(fail(format!(
                            "a ratio of `{numerator}` to itself is always 1"
                        )));
                    }
                    Estimator::Ratio {
                        numerator: numerator.to_owned(),
                        denominator: denominator.to_owned(),
                    }
                }
                None => {
                    return Err(fail(format!(
                        "unknown kind `{kind}`; expected binomial, mean or NUMERATOR/DENOMINATOR"
                    )));
                }
            },
        };
        let mut metric = MetricSpec {
            name: name.to_owned(),
            kind,
            inverse: false,
            covariate: None,
            role: Role::Secondary,
        };
        let mut seen: Vec<&str> = Vec::new();
        for option in parts {
            let (key, value) = match option.split_once('=') {
                Some((key, value)) => (key.trim(), Some(value.trim())),
                None => (option, None),
            };
            if seen.contains(&key) {
                return Err(fail(format!("`{key}` is given twice")));
            }
            seen.push(key);
            match (key, value) {
                ("inverse", None) => metric.inverse = true,
                ("covariate", Some(covariate)) => {
                    check_name("the covariate", covariate)?;
                    if matches!(metric.kind, Estimator::Ratio { .. }) {
                        return Err(fail(
                            "a ratio metric cannot have a covariate (CUPED adjusts binomial and mean metrics)"
                                .to_owned(),
                        ));
                    }
                    if covariate == name {
                        return Err(fail(format!(
                            "`{name}` cannot be its own covariate; use its pre-experiment value"
                        )));
                    }
                    metric.covariate = Some(covariate.to_owned());
                }
                ("guardrail", Some(value)) => {
                    let max_regression = value
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .ok_or_else(|| {
                            fail(format!(
                                "guardrail `{value}` is not a tolerated relative regression (a number ≥ 0, e.g. 0.02 for 2%)"
                            ))
                        })?;
                    metric.role = Role::Guardrail { max_regression };
                }
                ("inverse", Some(_)) => {
                    return Err(fail("`inverse` takes no value".to_owned()));
                }
                ("covariate" | "guardrail", None) => {
                    return Err(fail(format!("`{key}` needs a value: `{key}=...`")));
                }
                _ => {
                    return Err(fail(format!(
                        "unknown option `{option}`; expected inverse, covariate=NAME or guardrail=MAX_REGRESSION"
                    )));
                }
            }
        }
        Ok(metric)
    }
}

/// Parses metric specifications in order; the first that is not a guardrail is the primary.
pub fn parse_metrics<S: AsRef<str>>(specs: &[S]) -> Result<Vec<MetricSpec>, SpecError> {
    let mut metrics = specs
        .iter()
        .map(|s| MetricSpec::parse(s.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(first) = metrics
        .iter_mut()
        .find(|m| !matches!(m.role, Role::Guardrail { .. }))
    {
        first.role = Role::Primary;
    }
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_option() {
        let metrics = parse_metrics(&[
            "latency=mean,inverse,guardrail=0.05",
            "converted=binomial",
            "aov = revenue/orders",
            "post=mean,covariate=pre,inverse",
        ])
        .unwrap();
        assert_eq!(
            metrics,
            vec![
                MetricSpec {
                    name: "latency".into(),
                    kind: Estimator::Mean,
                    inverse: true,
                    covariate: None,
                    role: Role::Guardrail {
                        max_regression: 0.05
                    },
                },
                MetricSpec {
                    name: "converted".into(),
                    kind: Estimator::Binomial,
                    inverse: false,
                    covariate: None,
                    role: Role::Primary,
                },
                MetricSpec {
                    name: "aov".into(),
                    kind: Estimator::Ratio {
                        numerator: "revenue".into(),
                        denominator: "orders".into()
                    },
                    inverse: false,
                    covariate: None,
                    role: Role::Secondary,
                },
                MetricSpec {
                    name: "post".into(),
                    kind: Estimator::Mean,
                    inverse: true,
                    covariate: Some("pre".into()),
                    role: Role::Secondary,
                },
            ]
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let cases = [
            (
                "revenue",
                "metric `revenue`: expected NAME=KIND, with KIND binomial, mean or NUMERATOR/DENOMINATOR",
            ),
            (
                "revenue=median",
                "metric `revenue=median`: unknown kind `median`; expected binomial, mean or NUMERATOR/DENOMINATOR",
            ),
            (
                "=mean",
                "metric `=mean`: the metric name `` is not a valid name (letters, digits, `_`, `-`, `.`; no `__`)",
            ),
            (
                "a__b=mean",
                "metric `a__b=mean`: the metric name `a__b` is not a valid name (letters, digits, `_`, `-`, `.`; no `__`)",
            ),
            (
                "r=x/x",
                "metric `r=x/x`: a ratio of `x` to itself is always 1",
            ),
            (
                "r=x/",
                "metric `r=x/`: the denominator `` is not a valid name (letters, digits, `_`, `-`, `.`; no `__`)",
            ),
            (
                "r=x/y,covariate=z",
                "metric `r=x/y,covariate=z`: a ratio metric cannot have a covariate (CUPED adjusts binomial and mean metrics)",
            ),
            (
                "m=mean,covariate=m",
                "metric `m=mean,covariate=m`: `m` cannot be its own covariate; use its pre-experiment value",
            ),
            (
                "m=mean,guardrail=-1",
                "metric `m=mean,guardrail=-1`: guardrail `-1` is not a tolerated relative regression (a number ≥ 0, e.g. 0.02 for 2%)",
            ),
            (
                "m=mean,guardrail=nan",
                "metric `m=mean,guardrail=nan`: guardrail `nan` is not a tolerated relative regression (a number ≥ 0, e.g. 0.02 for 2%)",
            ),
            (
                "m=mean,guardrail",
                "metric `m=mean,guardrail`: `guardrail` needs a value: `guardrail=...`",
            ),
            (
                "m=mean,inverse=yes",
                "metric `m=mean,inverse=yes`: `inverse` takes no value",
            ),
            (
                "m=mean,inverse,inverse",
                "metric `m=mean,inverse,inverse`: `inverse` is given twice",
            ),
            (
                "m=mean,lower",
                "metric `m=mean,lower`: unknown option `lower`; expected inverse, covariate=NAME or guardrail=MAX_REGRESSION",
            ),
        ];
        for (spec, message) in cases {
            assert_eq!(
                MetricSpec::parse(spec).unwrap_err().to_string(),
                message,
                "{spec}"
            );
        }
    }
}
