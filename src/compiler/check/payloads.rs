//! Checks of variant values: `ai` flags' are tables, and every flag's satisfy the JSON Schema
//! it names (`payload_schema`).

use std::collections::BTreeMap;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use crate::diag::{Code, did_you_mean, shown};
use crate::model::{FlagFile, FlagKind};

use super::Scope;

/// A schema file and its compiled form, or why it cannot be compiled.
type Compiled = Result<(Value, jsonschema::Validator), String>;

impl Scope<'_> {
    pub(super) fn payloads(&mut self) {
        let repo = self.repo;
        // Each file compiled once, however many flags name it.
        let mut compiled: BTreeMap<&str, Compiled> = BTreeMap::new();
        for loaded in repo.flags.values() {
            let Some(flag) = &loaded.doc else { continue };
            let file = repo.path(loaded.file);
            if *flag.kind == FlagKind::Ai {
                self.ai_variants(file, flag);
            }
            let Some(path) = &flag.payload_schema else {
                continue;
            };
            let schema = compiled.entry(path.as_str()).or_insert_with(|| {
                match repo.schemas.get(path.as_str()) {
                    Some(Ok(bytes)) => compile(bytes),
                    Some(Err(why)) => Err(why.clone()),
                    None => Err("the file was not read".to_owned()),
                }
            });
            match schema {
                Err(why) => {
                    self.push(
                        Code::BadPayloadSchema,
                        file,
                        path.span(),
                        format!("payload schema `{}`: {why}", shown(path)),
                    )
                    .help = Some(
                        "name a JSON Schema file inside the repository, by its path from the root"
                            .into(),
                    );
                }
                Ok((schema, validator)) => {
                    for (name, value) in flag.variants.iter().flat_map(|v| v.iter()) {
                        for (problem, suggestion) in violations(schema, validator, &value.0) {
                            let help = match suggestion {
                                Some(best) => format!("did you mean `{}`?", shown(best)),
                                None => format!("the payload schema is {}", shown(path)),
                            };
                            self.push(
                                Code::PayloadMismatch,
                                file,
                                value.span(),
                                format!("variant `{}`: {problem}", shown(name)),
                            )
                            .help = Some(help);
                        }
                    }
                }
            }
        }
    }

    /// An AI configuration's variants are tables: prompt, model and parameters.
    fn ai_variants(&mut self, file: &str, flag: &FlagFile) {
        let Some(variants) = &flag.variants else {
            self.push(
                Code::WrongType,
                file,
                flag.kind.span(),
                "an `ai` flag's variants must be tables, but it declares none".into(),
            )
            .help =
                Some("declare `[variants.<name>]` tables of model, prompt and parameters".into());
            return;
        };
        for (name, value) in variants.iter() {
            if !value.0.is_object() {
                self.push(
                    Code::WrongType,
                    file,
                    value.span(),
                    format!(
                        "variant `{}` of an `ai` flag must be a table, found {}",
                        shown(name),
                        type_name(&value.0)
                    ),
                )
                .help = Some(
                    "write it as `[variants.<name>]` with model, prompt and parameters".into(),
                );
            }
        }
    }
}

/// Compiles a schema file: JSON, of draft 2020-12 unless its `$schema` names another, with
/// nothing fetched (a reference must resolve inside the file).
fn compile(bytes: &[u8]) -> Compiled {
    let schema: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the file is not JSON: {e}"))?;
    let draft_named = schema.get("$schema").is_some();
    let mut options = jsonschema::options().offline();
    if !draft_named {
        options = options.with_draft(jsonschema::Draft::Draft202012);
    }
    match options.build(&schema) {
        Ok(validator) => Ok((schema, validator)),
        Err(e) => Err(match e.kind() {
            ValidationErrorKind::Referencing(jsonschema::ReferencingError::Unretrievable {
                uri,
                ..
            }) => format!(
                "`$ref` {} is not inside the file, and nothing is fetched",
                shown(uri)
            ),
            ValidationErrorKind::Referencing(why) => format!("a `$ref` cannot be resolved: {why}"),
            _ => format!(
                "not a valid JSON Schema: at {}: {}",
                pointer(e.instance_path().iter()),
                e.masked()
            ),
        }),
    }
}

/// Everything wrong with `value`, each as "JSON pointer: complaint" in the schema's order,
/// with the allowed property an unexpected one likely misspells.
fn violations<'s>(
    schema: &'s Value,
    validator: &jsonschema::Validator,
    value: &Value,
) -> Vec<(String, Option<&'s str>)> {
    if validator.is_valid(value) {
        return Vec::new();
    }
    let errors: Vec<_> = validator.iter_errors(value).collect();
    let mut problems = Vec::new();
    // A misspelt property also leaves the one it misspells missing: the first says it all.
    let mut misspelt: Vec<(String, &str)> = Vec::new();
    for error in &errors {
        let at = pointer(error.instance_path().iter());
        if let ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } = error.kind()
        {
            // The keyword's sibling `properties` names what is allowed there.
            let allowed: Vec<&str> = error
                .schema_path()
                .as_str()
                .rsplit_once('/')
                .and_then(|(parent, _)| schema.pointer(parent))
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            for key in unexpected {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                let suggestion = did_you_mean(key, allowed.iter().copied());
                misspelt.extend(suggestion.map(|best| (at.clone(), best)));
                problems.push((
                    format!(
                        "{}/{}: additional property not allowed",
                        at.trim_end_matches('/'),
                        shown(&escaped)
                    ),
                    suggestion,
                ));
            }
        }
    }
    for error in &errors {
        let at = pointer(error.instance_path().iter());
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { .. }
            | ValidationErrorKind::UnevaluatedProperties { .. } => {}
            ValidationErrorKind::Required { property }
                if misspelt
                    .iter()
                    .any(|(path, best)| *path == at && property.as_str() == Some(best)) => {}
            kind => problems.push((format!("{at}: {}", complaint(kind, error)), None)),
        }
    }
    problems
}

/// A JSON pointer into the payload; `/` for the whole value.
fn pointer<'a>(segments: impl Iterator<Item = LocationSegment<'a>>) -> String {
    let mut out = String::new();
    for segment in segments {
        out.push('/');
        match segment {
            LocationSegment::Property(name) => {
                out.push_str(&shown(&name.replace('~', "~0").replace('/', "~1")));
            }
            LocationSegment::Index(i) => out.push_str(&i.to_string()),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// What the schema says is wrong, worded the same whatever the value.
fn complaint(kind: &ValidationErrorKind, error: &jsonschema::ValidationError<'_>) -> String {
    match kind {
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => json_type_name(&t.to_string()),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| json_type_name(&t.to_string()))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            format!("expected {expected}, found {}", type_name(error.instance()))
        }
        ValidationErrorKind::Required { property } => {
            format!("missing required property {property}")
        }
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("must be greater than {limit}"),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        ValidationErrorKind::Enum { options } => format!("must be one of {options}"),
        ValidationErrorKind::Constant { expected_value } => format!("must be {expected_value}"),
        ValidationErrorKind::Pattern { pattern } => {
            format!("must match the pattern {}", Value::from(pattern.as_str()))
        }
        _ => error.masked().to_string(),
    }
}

/// A schema's `type` as messages name it.
fn json_type_name(json_type: &str) -> String {
    match json_type {
        "object" => "a table".to_owned(),
        "array" | "integer" => format!("an {json_type}"),
        "null" => "null".to_owned(),
        other => format!("a {other}"),
    }
}

/// A JSON value's type as messages name it.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}
