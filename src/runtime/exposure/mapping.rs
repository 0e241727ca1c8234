//! An exposure as other systems name it: PostHog's `$feature_flag_called` event and
//! OpenTelemetry's feature-flag evaluation event (semantic conventions v1.44.0).

use serde_json::{Map, Value, json};

use super::{Exposure, ReasonKind};

/// The OpenTelemetry event name of a flag evaluation.
pub const OTEL_EVENT_NAME: &str = "feature_flag.evaluation";

impl Exposure {
    /// The identity an exposure is reported under: the targeting key, else the unit.
    fn distinct_id(&self) -> &str {
        self.targeting_key.as_deref().unwrap_or(&self.unit)
    }

    /// PostHog's `$feature_flag_called` event, as its capture API takes it: `distinct_id`
    /// the targeting key (else the unit), the flag and variant under PostHog's property
    /// names, the session as `$session_id`, and flagstone's other fields as `flagstone_*`.
    pub fn to_posthog(&self) -> Value {
        let mut properties = Map::new();
        let mut put = |key: &str, value: &str| {
            properties.insert(key.to_owned(), Value::String(value.to_owned()));
        };
        put("$feature_flag", &self.flag);
        put("$feature_flag_response", &self.variant);
        put(&format!("$feature/{}", self.flag), &self.variant);
        if let Some(session) = &self.session {
            put("$session_id", session);
        }
        put("flagstone_environment", &self.environment);
        put("flagstone_reason", self.reason.as_str());
        if let Some(rule) = &self.rule {
            put("flagstone_rule", rule);
        }
        put("flagstone_bundle", &self.bundle);
        if let Some(experiment) = &self.experiment {
            put("flagstone_experiment", experiment);
        }
        put("flagstone_unit", &self.unit);
        json!({
            "event": "$feature_flag_called",
            "distinct_id": self.distinct_id(),
            "timestamp": self.time,
            "properties": properties,
        })
    }

    /// The attributes of OpenTelemetry's `feature_flag.evaluation` event, in order: the
    /// semantic conventions' own, then `session.id`, then flagstone's fields as
    /// `flagstone.*`. The event's timestamp is the exposure's `time`.
    pub fn to_otel_attributes(&self) -> Vec<(&'static str, String)> {
        let reason = match self.reason {
            ReasonKind::Disabled => "disabled",
            ReasonKind::Rule => "targeting_match",
            // Served without a rule deciding: the flag's configured fallback.
            ReasonKind::Fallthrough | ReasonKind::PrerequisiteFailed => "default",
            ReasonKind::Error => "error",
            // A pseudorandom holdout or layer assignment.
            ReasonKind::Excluded => "split",
        };
        let mut attributes = vec![
            ("feature_flag.key", self.flag.clone()),
            ("feature_flag.result.variant", self.variant.clone()),
            ("feature_flag.result.reason", reason.to_owned()),
            ("feature_flag.provider.name", "flagstone".to_owned()),
            ("feature_flag.context.id", self.distinct_id().to_owned()),
            ("feature_flag.set.id", self.environment.clone()),
            ("feature_flag.version", self.bundle.clone()),
        ];
        if self.reason == ReasonKind::Error {
            // The evaluator's only error: the context is not a JSON object.
            attributes.push(("error.type", "invalid_context".to_owned()));
        }
        if let Some(session) = &self.session {
            attributes.push(("session.id", session.clone()));
        }
        attributes.push(("flagstone.reason", self.reason.as_str().to_owned()));
        if let Some(rule) = &self.rule {
            attributes.push(("flagstone.rule", rule.clone()));
        }
        if let Some(experiment) = &self.experiment {
            attributes.push(("flagstone.experiment", experiment.clone()));
        }
        attributes.push(("flagstone.unit", self.unit.clone()));
        attributes
    }
}
