//! An OpenFeature provider over the evaluator: applications ask an `open_feature::Client`,
//! and a fixed bundle or a hot-reloading [`Watcher`] answers, in process. The mapping of
//! contexts, reasons, metadata and errors is docs/openfeature.md's "Rust provider" section.

use std::collections::HashMap;
use std::sync::Arc;

use open_feature::provider::{FeatureProvider, ProviderMetadata, ResolutionDetails};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError, EvaluationErrorCode,
    EvaluationReason, EvaluationResult, FlagMetadata, StructValue, async_trait,
};
use serde_json::{Map, Number, Value};

use crate::bundle::TARGETING_KEY;
use crate::eval::watch::Watcher;
use crate::eval::{Evaluator, Reason, set_path};
use crate::exposure::Recorder;
use crate::literal::format_timestamp;

/// The provider's name in OpenFeature's provider metadata.
pub const NAME: &str = "flagstone";

/// Answers OpenFeature evaluations from a bundle, recording exposures when given a recorder.
pub struct Provider {
    source: Source,
    recorder: Option<Arc<Recorder>>,
    metadata: ProviderMetadata,
}

/// Where the bundle comes from.
enum Source {
    Fixed(Arc<Evaluator>),
    /// Shared, so that the application keeps asking the watcher for its status.
    Watched(Arc<Watcher>),
}

impl Provider {
    /// A provider serving one loaded bundle.
    pub fn new(evaluator: Arc<Evaluator>) -> Provider {
        Provider::from_source(Source::Fixed(evaluator))
    }

    /// A provider serving the bundle a watcher serves: each evaluation takes the current one.
    pub fn watching(watcher: Arc<Watcher>) -> Provider {
        Provider::from_source(Source::Watched(watcher))
    }

    fn from_source(source: Source) -> Provider {
        Provider {
            source,
            recorder: None,
            metadata: ProviderMetadata::new(NAME),
        }
    }

    /// Records an exposure for each value served (not for errors, whose value is the
    /// caller's default).
    #[must_use]
    pub fn with_recorder(mut self, recorder: Arc<Recorder>) -> Provider {
        self.recorder = Some(recorder);
        self
    }

    /// Evaluates `flag` and converts its value with `convert`, which says what it expected
    /// when the value does not convert.
    fn resolve<T>(
        &self,
        flag: &str,
        context: &EvaluationContext,
        convert: impl FnOnce(&Value) -> Result<T, &'static str>,
    ) -> EvaluationResult<ResolutionDetails<T>> {
        let evaluator = match &self.source {
            Source::Fixed(evaluator) => Arc::clone(evaluator),
            Source::Watched(watcher) => watcher.current(),
        };
        let context = context_json(context)
            .map_err(|message| error(EvaluationErrorCode::InvalidContext, message))?;
        let now = crate::literal::now_millis();
        let evaluation = evaluator
            .evaluate(flag, &context, now)
            .map_err(|unknown| error(EvaluationErrorCode::FlagNotFound, unknown.to_string()))?;
        let value = convert(evaluation.value).map_err(|expected| {
            error(
                EvaluationErrorCode::TypeMismatch,
                format!(
                    "flag `{flag}` serves variant `{}`, {}, not {expected}",
                    evaluation.variant,
                    describe(evaluation.value)
                ),
            )
        })?;
        if let Some(recorder) = &self.recorder {
            recorder.record(&evaluator, flag, &context, &evaluation);
        }
        let mut metadata = FlagMetadata::default()
            .with_value("bundle", evaluator.hash())
            .with_value("environment", evaluator.environment());
        if let Some(experiment) = evaluator.experiment(flag) {
            metadata.add_value("experiment", experiment);
        }
        match &evaluation.reason {
            Reason::Rule { rule_name, .. } | Reason::Excluded { rule_name, .. } => {
                metadata.add_value("rule", *rule_name);
            }
            Reason::PrerequisiteFailed { prerequisite } => {
                metadata.add_value("prerequisite", *prerequisite);
            }
            Reason::Disabled | Reason::Fallthrough | Reason::Error { .. } => {}
        }
        // The reasons OFREP answers with (`flagstone serve`), so that both say the same.
        let reason = match crate::ofrep::openfeature_reason(&evaluator, flag, &evaluation, now) {
            "STATIC" => EvaluationReason::Static,
            "DEFAULT" => EvaluationReason::Default,
            "TARGETING_MATCH" => EvaluationReason::TargetingMatch,
            "SPLIT" => EvaluationReason::Split,
            "DISABLED" => EvaluationReason::Disabled,
            _ => EvaluationReason::Error,
        };
        Ok(ResolutionDetails {
            value,
            variant: Some(evaluation.variant.to_owned()),
            reason: Some(reason),
            flag_metadata: Some(metadata),
        })
    }
}

#[async_trait]
impl FeatureProvider for Provider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        self.resolve(flag_key, evaluation_context, |value| {
            value.as_bool().ok_or("a boolean")
        })
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        self.resolve(flag_key, evaluation_context, |value| {
            value.as_i64().ok_or("an integer (64-bit, signed)")
        })
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        self.resolve(flag_key, evaluation_context, |value| {
            value.as_f64().ok_or("a number")
        })
    }

    async fn resolve_string_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        self.resolve(flag_key, evaluation_context, |value| {
            value.as_str().map(str::to_owned).ok_or("a string")
        })
    }

    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        const EXPECTED: &str = "an object (without nulls or integers beyond 64 bits)";
        self.resolve(flag_key, evaluation_context, |value| match value {
            Value::Object(members) => struct_value(members).ok_or(EXPECTED),
            _ => Err(EXPECTED),
        })
    }
}

fn error(code: EvaluationErrorCode, message: impl Into<String>) -> EvaluationError {
    EvaluationError {
        code,
        message: Some(message.into()),
    }
}

/// What a variant's value is, for a type mismatch's message.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number with a fraction",
        Value::Number(n) if n.is_i64() => "an integer",
        Value::Number(_) => "an integer beyond 64 bits",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON context flagstone evaluates: the targeting key as `targeting_key`, each custom
/// field at its dotted attribute path. Fields are set in key order, so that a field and a
/// struct that both reach one path (`org.id` and `org`) give the same context every time.
fn context_json(context: &EvaluationContext) -> Result<Value, String> {
    let mut json = Value::Object(Map::new());
    let mut fields: Vec<(&String, &EvaluationContextFieldValue)> =
        context.custom_fields.iter().collect();
    fields.sort_unstable_by_key(|(key, _)| *key);
    for (key, value) in fields {
        let value = field_json(value).map_err(|why| format!("the context field `{key}` {why}"))?;
        set_path(&mut json, key, value);
    }
    // Last: the targeting key is OpenFeature's own field, and a custom field of the same
    // name does not override it.
    if let Some(key) = &context.targeting_key {
        set_path(&mut json, TARGETING_KEY, Value::String(key.clone()));
    }
    Ok(json)
}

/// A context field's JSON. A struct is read when it holds one of the types below; other
/// types are opaque to the provider.
fn field_json(value: &EvaluationContextFieldValue) -> Result<Value, &'static str> {
    Ok(match value {
        EvaluationContextFieldValue::Bool(b) => Value::Bool(*b),
        EvaluationContextFieldValue::Int(i) => Value::from(*i),
        EvaluationContextFieldValue::Float(f) => {
            Value::Number(Number::from_f64(*f).ok_or("is not a finite number")?)
        }
        EvaluationContextFieldValue::String(s) => Value::String(s.clone()),
        // Flagstone's date-times have milliseconds: finer digits are dropped, toward the past.
        EvaluationContextFieldValue::DateTime(at) => {
            let millis = at.unix_timestamp_nanos().div_euclid(1_000_000);
            let millis = i64::try_from(millis).map_err(|_| "is out of range")?;
            Value::String(format_timestamp(millis))
        }
        EvaluationContextFieldValue::Struct(any) => {
            if let Some(json) = any.downcast_ref::<Value>() {
                json.clone()
            } else if let Some(list) = any.downcast_ref::<Vec<String>>() {
                Value::from(list.clone())
            } else if let Some(fields) =
                any.downcast_ref::<HashMap<String, EvaluationContextFieldValue>>()
            {
                let mut object = Map::new();
                for (key, value) in fields {
                    object.insert(key.clone(), field_json(value)?);
                }
                Value::Object(object)
            } else if let Some(value) = any.downcast_ref::<StructValue>() {
                Value::Object(object_json(value)?)
            } else if let Some(value) = any.downcast_ref::<open_feature::Value>() {
                value_json(value)?
            } else {
                return Err(
                    "is a struct of a type the provider cannot read: pass a serde_json::Value, \
                     a Vec<String>, a HashMap<String, EvaluationContextFieldValue>, a \
                     StructValue or an open_feature::Value",
                );
            }
        }
    })
}

fn object_json(value: &StructValue) -> Result<Map<String, Value>, &'static str> {
    (value.fields.iter())
        .map(|(key, value)| Ok((key.clone(), value_json(value)?)))
        .collect()
}

fn value_json(value: &open_feature::Value) -> Result<Value, &'static str> {
    use open_feature::Value as Of;
    Ok(match value {
        Of::Bool(b) => Value::Bool(*b),
        Of::Int(i) => Value::from(*i),
        Of::Float(f) => {
            Value::Number(Number::from_f64(*f).ok_or("holds a number that is not finite")?)
        }
        Of::String(s) => Value::String(s.clone()),
        Of::Array(items) => Value::Array(items.iter().map(value_json).collect::<Result<_, _>>()?),
        Of::Struct(fields) => Value::Object(object_json(fields)?),
    })
}

/// A JSON object as OpenFeature's structure; `None` when a member cannot be one of its
/// values: a null, or an integer beyond i64.
fn struct_value(members: &Map<String, Value>) -> Option<StructValue> {
    let fields = (members.iter())
        .map(|(key, value)| Some((key.clone(), of_value(value)?)))
        .collect::<Option<_>>()?;
    Some(StructValue { fields })
}

fn of_value(value: &Value) -> Option<open_feature::Value> {
    use open_feature::Value as Of;
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => Of::Bool(*b),
        Value::Number(n) if n.is_f64() => Of::Float(n.as_f64()?),
        Value::Number(n) => Of::Int(n.as_i64()?),
        Value::String(s) => Of::String(s.clone()),
        Value::Array(items) => Of::Array(items.iter().map(of_value).collect::<Option<_>>()?),
        Value::Object(members) => Of::Struct(struct_value(members)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_maps_to_the_json_flagstone_evaluates() {
        let at =
            open_feature::EvaluationContextFieldValue::DateTime(time_of(1_780_000_000_123_456_789));
        let context = EvaluationContext::default()
            .with_targeting_key("user-1")
            .with_custom_field("targeting_key", "not the key")
            .with_custom_field("country", "US")
            .with_custom_field("seats", 12)
            .with_custom_field("ratio", 0.5)
            .with_custom_field("beta_opt_in", true)
            .with_custom_field("signup_at", at)
            .with_custom_field("org.id", "org_1")
            .with_custom_field(
                "org",
                EvaluationContextFieldValue::new_struct(
                    StructValue::default().with_field("region", "eu-west"),
                ),
            )
            .with_custom_field(
                "groups",
                EvaluationContextFieldValue::new_struct(vec!["qa".to_owned()]),
            );
        assert_eq!(
            context_json(&context).unwrap(),
            serde_json::json!({
                "targeting_key": "user-1",
                "country": "US",
                "seats": 12,
                "ratio": 0.5,
                "beta_opt_in": true,
                "signup_at": "2026-05-28T20:26:40.123Z",
                "org": {"id": "org_1", "region": "eu-west"},
                "groups": ["qa"],
            })
        );
    }

    #[test]
    fn an_unreadable_field_is_an_error_that_names_it() {
        struct Opaque;
        let context = EvaluationContext::default()
            .with_custom_field("blob", EvaluationContextFieldValue::new_struct(Opaque));
        let error = context_json(&context).unwrap_err();
        assert!(
            error.starts_with("the context field `blob` is a struct of a type"),
            "{error}"
        );
        let context = EvaluationContext::default().with_custom_field("nan", f64::NAN);
        assert_eq!(
            context_json(&context).unwrap_err(),
            "the context field `nan` is not a finite number"
        );
    }

    #[test]
    fn objects_convert_unless_a_member_cannot() {
        let value = serde_json::json!({"a": [1, 2.5, "x", {"b": false}]});
        let converted = struct_value(value.as_object().unwrap()).unwrap();
        assert_eq!(
            value_json(&open_feature::Value::Struct(converted)).unwrap(),
            value
        );
        for bad in [
            serde_json::json!({"a": null}),
            serde_json::json!({"a": [u64::MAX]}),
        ] {
            assert_eq!(struct_value(bad.as_object().unwrap()), None, "{bad}");
        }
    }

    fn time_of(nanos: i128) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap()
    }
}
