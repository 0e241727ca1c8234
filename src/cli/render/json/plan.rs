//! `flagstone plan --format json`: the plan as [`Planned`], which the human format prints too.

use serde::Serialize;

use crate::experiment::Plan;

/// An arm and its share of the split, in percent.
#[derive(Serialize)]
pub struct Arm {
    pub variant: String,
    pub weight: f64,
}

/// A plan as printed, in every format.
#[derive(Serialize)]
pub struct Planned<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<&'a str>,
    /// "binomial" or "mean" (ratios are planned as means).
    pub kind: &'static str,
    pub baseline: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stddev: Option<f64>,
    pub mde: f64,
    /// The variant's value the MDE stands for.
    pub target: f64,
    pub alpha: f64,
    pub power: f64,
    pub arms: Vec<Arm>,
    pub daily_units: f64,
    /// The share of daily units the layer and holdout leave in the experiment.
    pub in_experiment: f64,
    #[serde(flatten)]
    pub plan: Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// The last day of a run that starts on `start` and lasts `days`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Whether `end` leaves the days needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enough: Option<bool>,
}
