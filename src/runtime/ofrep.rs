//! OFREP, the OpenFeature Remote Evaluation Protocol, over an [`Evaluator`]: a request's body
//! in, a response's status and body out. There is no HTTP here: `server` carries it, and an
//! application with an HTTP server of its own can mount these functions on it.
//! docs/openfeature.md specifies the mapping; in short:
//!
//! - The request's `context` is the evaluation context (none: an empty one), with
//!   OpenFeature's `targetingKey` as flagstone's `targeting_key`.
//! - A success carries the value, the variant, an OpenFeature reason ([`openfeature_reason`])
//!   and metadata: flagstone's own reason and rule, the flag's experiment, and (for a single
//!   flag; for the whole response in bulk) the environment and the bundle's hash.
//! - A variant whose value is `null` is sent without a value (OFREP's "code default"); one
//!   whose value is an array cannot be sent and is a `GENERAL` error for that flag.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::eval::{Evaluation, Evaluator, Reason};
use crate::exposure::{ReasonKind, Recorder};

/// OpenFeature's name for the targeting key, in a request's context.
pub const TARGETING_KEY: &str = "targetingKey";

/// How requests are judged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Refuse a context without a targeting key (`TARGETING_KEY_MISSING`), instead of
    /// evaluating it as the evaluator does (rules that bucket do not match).
    pub require_targeting_key: bool,
}

/// A response: its HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Evaluates one flag (`POST /ofrep/v1/evaluate/flags/{key}`).
pub fn evaluate_flag(
    evaluator: &Evaluator,
    key: &str,
    body: &[u8],
    options: Options,
    recorder: Option<&Recorder>,
    now_millis: i64,
) -> Reply {
    let context = match context(evaluator, body, options) {
        Ok(context) => context,
        Err(failure) => return failure.reply(Some(key)),
    };
    let Ok(evaluation) = evaluator.evaluate(key, &context, now_millis) else {
        let details = format!(
            "flag `{key}` is not in the bundle of `{}`",
            evaluator.environment()
        );
        return Failure::new(404, "FLAG_NOT_FOUND", details).reply(Some(key));
    };
    if let Some(recorder) = recorder {
        recorder.record(evaluator, key, &context, &evaluation);
    }
    let scope = Some(Scope::of(evaluator));
    match success(evaluator, key, &evaluation, scope, now_millis) {
        Ok(success) => Reply {
            status: 200,
            body: to_json(&success),
        },
        Err(failure) => failure.reply(Some(key)),
    }
}

/// Evaluates every flag of the bundle, in key order (`POST /ofrep/v1/evaluate/flags`).
pub fn evaluate_flags(
    evaluator: &Evaluator,
    body: &[u8],
    options: Options,
    recorder: Option<&Recorder>,
    now_millis: i64,
) -> Reply {
    let context = match context(evaluator, body, options) {
        Ok(context) => context,
        Err(failure) => return failure.reply(None),
    };
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"{\"flags\":[");
    for (i, key) in evaluator.flag_keys().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Every key is the bundle's own.
        let Ok(evaluation) = evaluator.evaluate(key, &context, now_millis) else {
            continue;
        };
        if let Some(recorder) = recorder {
            recorder.record(evaluator, key, &context, &evaluation);
        }
        match success(evaluator, key, &evaluation, None, now_millis) {
            Ok(success) => write_json(&mut out, &success),
            Err(failure) => write_json(&mut out, &failure.item(Some(key))),
        }
    }
    out.extend_from_slice(b"],\"metadata\":");
    write_json(&mut out, &Scope::of(evaluator));
    out.push(b'}');
    Reply {
        status: 200,
        body: out,
    }
}

/// The entity tag of a bulk response: a hash of its body, so it changes exactly when some
/// flag's answer for that context does (a new bundle, a schedule step, another context).
pub fn etag(body: &[u8]) -> String {
    let hash = blake3::hash(body);
    format!("\"{}\"", &hash.to_hex()[..32])
}

/// Whether an `If-None-Match` header's value names `etag` (weak comparison, as RFC 9110
/// specifies for it; `*` matches any).
pub fn if_none_match(header: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let etag = opaque(etag);
    header
        .split(',')
        .any(|tag| tag.trim() == "*" || opaque(tag) == etag)
}

/// An error body, for the failures the transport finds (an unreadable body, a missing
/// token): `{"errorCode": …, "errorDetails": …}`.
pub fn error_body(code: &str, details: &str) -> Vec<u8> {
    to_json(&FailureItem {
        key: None,
        error_code: code,
        error_details: details,
    })
}

/// The OpenFeature reason for an evaluation: `DISABLED` when the flag is off or a
/// prerequisite is not met (the off variant), `SPLIT` when a rule chose by the unit's bucket
/// (a partial rollout, a split, or an experiment's exclusion), `TARGETING_MATCH` when a rule
/// matched, `STATIC` for a flag without rules or prerequisites, `DEFAULT` when rules were
/// tried and none matched.
pub fn openfeature_reason(
    evaluator: &Evaluator,
    flag: &str,
    evaluation: &Evaluation<'_>,
    now_millis: i64,
) -> &'static str {
    match evaluation.reason {
        Reason::Disabled | Reason::PrerequisiteFailed { .. } => "DISABLED",
        Reason::Rule { rule_index, .. } if evaluator.rule_buckets(flag, rule_index, now_millis) => {
            "SPLIT"
        }
        Reason::Rule { .. } => "TARGETING_MATCH",
        Reason::Excluded { .. } => "SPLIT",
        Reason::Fallthrough if evaluator.is_static(flag) == Some(true) => "STATIC",
        Reason::Fallthrough => "DEFAULT",
        Reason::Error { .. } => "ERROR",
    }
}

/// The request's context, as the evaluator reads it.
fn context(evaluator: &Evaluator, body: &[u8], options: Options) -> Result<Value, Failure> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| Failure::new(400, "PARSE_ERROR", format!("the body is not JSON: {e}")))?;
    let invalid = |details: &str| Failure::new(400, "INVALID_CONTEXT", details.to_owned());
    let Value::Object(mut request) = request else {
        return Err(invalid("the body is not a JSON object"));
    };
    let mut context = match request.remove("context") {
        Some(Value::Object(context)) => context,
        Some(_) => return Err(invalid("`context` is not a JSON object")),
        // OFREP asks for one, but a client with nothing to say may leave it out.
        None => Map::new(),
    };
    rename_targeting_key(&mut context).map_err(|details| invalid(&details))?;
    let context = Value::Object(context);
    if options.require_targeting_key && evaluator.targeting_key(&context).is_none() {
        let details = "the context has no `targetingKey`, which this server requires";
        return Err(Failure::new(400, "TARGETING_KEY_MISSING", details.into()));
    }
    Ok(context)
}

/// Moves OpenFeature's `targetingKey` to flagstone's `targeting_key`.
fn rename_targeting_key(context: &mut Map<String, Value>) -> Result<(), String> {
    let Some(key) = context.remove(TARGETING_KEY) else {
        return Ok(());
    };
    if !(key.is_string() || key.is_i64() || key.is_u64()) {
        let kind = match key {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a fractional number",
            Value::Array(_) => "an array",
            _ => "an object",
        };
        return Err(format!("`{TARGETING_KEY}` is {kind}, not a string"));
    }
    match context.get(crate::bundle::TARGETING_KEY) {
        Some(other) if *other != key => Err(format!(
            "the context has both `{TARGETING_KEY}` and `{}`, with different values",
            crate::bundle::TARGETING_KEY
        )),
        _ => {
            context.insert(crate::bundle::TARGETING_KEY.to_owned(), key);
            Ok(())
        }
    }
}

/// The environment and bundle a response comes from.
#[derive(Serialize)]
struct Scope<'a> {
    environment: &'a str,
    bundle: &'a str,
}

impl Scope<'_> {
    fn of(evaluator: &Evaluator) -> Scope<'_> {
        Scope {
            environment: evaluator.environment(),
            bundle: evaluator.hash(),
        }
    }
}

#[derive(Serialize)]
struct Success<'a> {
    key: &'a str,
    /// `None` for a `null` variant: the caller's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a Value>,
    reason: &'static str,
    variant: &'a str,
    metadata: Metadata<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    scope: Option<Scope<'a>>,
    /// flagstone's reason, as `eval` and exposures name it.
    #[serde(rename = "flagstoneReason")]
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment: Option<&'a str>,
}

fn success<'a>(
    evaluator: &'a Evaluator,
    key: &'a str,
    evaluation: &Evaluation<'a>,
    scope: Option<Scope<'a>>,
    now_millis: i64,
) -> Result<Success<'a>, Failure> {
    let value = match evaluation.value {
        Value::Null => None,
        Value::Array(_) => {
            let details = format!(
                "variant `{}` of `{key}` is an array, which OFREP cannot carry",
                evaluation.variant
            );
            return Err(Failure::new(500, "GENERAL", details));
        }
        value => Some(value),
    };
    let (reason, rule) = ReasonKind::of(&evaluation.reason);
    Ok(Success {
        key,
        value,
        reason: openfeature_reason(evaluator, key, evaluation, now_millis),
        variant: evaluation.variant,
        metadata: Metadata {
            scope,
            reason: reason.as_str(),
            rule,
            experiment: evaluator.experiment(key),
        },
    })
}

/// A failed evaluation: the HTTP status of a single flag's response, and OFREP's error code.
struct Failure {
    status: u16,
    code: &'static str,
    details: String,
}

#[derive(Serialize)]
struct FailureItem<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(rename = "errorCode")]
    error_code: &'a str,
    #[serde(rename = "errorDetails")]
    error_details: &'a str,
}

impl Failure {
    fn new(status: u16, code: &'static str, details: String) -> Failure {
        Failure {
            status,
            code,
            details,
        }
    }

    fn item<'a>(&'a self, key: Option<&'a str>) -> FailureItem<'a> {
        FailureItem {
            key,
            error_code: self.code,
            error_details: &self.details,
        }
    }

    fn reply(&self, key: Option<&str>) -> Reply {
        Reply {
            status: self.status,
            body: to_json(&self.item(key)),
        }
    }
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_json(&mut out, value);
    out
}

fn write_json(out: &mut Vec<u8>, value: &impl Serialize) {
    // Writing to a Vec cannot fail, and these types have string keys only.
    serde_json::to_writer(out, value).expect("responses serialize");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_any() {
        let tag = "\"abc\"";
        assert!(if_none_match("\"abc\"", tag));
        assert!(if_none_match("W/\"abc\"", tag));
        assert!(if_none_match("\"x\", W/\"abc\"", tag));
        assert!(if_none_match("*", tag));
        assert!(!if_none_match("\"abcd\"", tag));
        assert!(!if_none_match("", tag));
    }

    #[test]
    fn the_targeting_key_is_renamed_and_checked() {
        let mut context = Map::new();
        context.insert("targetingKey".into(), "u1".into());
        rename_targeting_key(&mut context).unwrap();
        assert_eq!(
            Value::Object(context),
            serde_json::json!({"targeting_key": "u1"})
        );

        let mut both = serde_json::json!({"targetingKey": "u1", "targeting_key": "u2"});
        let error = rename_targeting_key(both.as_object_mut().unwrap()).unwrap_err();
        assert_eq!(
            error,
            "the context has both `targetingKey` and `targeting_key`, with different values"
        );
        let mut object = serde_json::json!({"targetingKey": {"id": 1}});
        let error = rename_targeting_key(object.as_object_mut().unwrap()).unwrap_err();
        assert_eq!(error, "`targetingKey` is an object, not a string");
    }
}
