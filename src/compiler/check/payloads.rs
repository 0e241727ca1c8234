//! Checks of variant values: `ai` flags' are tables, and every flag's satisfy the JSON Schema
//! it names (`payload_schema`).

use std::collections::BTreeMap;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use crate::diag::{Code, shown};
use crate::model::{FlagFile, FlagKind};

use super::Scope;

/// A schema file compiled, or why it cannot be.
type Compiled = Result<jsonschema::Validator, String>;

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
                Ok(validator) => {
                    for (name, value) in flag.variants.iter().flat_map(|v| v.iter()) {
                        for problem in violations(validator, &value.0) {
                            self.push(
                                Code::PayloadMismatch,
                                file,
                                value.span(),
                                format!("variant `{}`: {problem}", shown(name)),
                            )
                            .help = Some(format!("the payload schema is {}", shown(path)));
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
    options.build(&schema).map_err(|e| match e.kind() {
        ValidationErrorKind::Referencing(why) => {
            format!("a reference cannot be resolved inside the file (nothing is fetched): {why}")
        }
        _ => format!("not a valid JSON Schema: {}", e.masked()),
    })
}

/// Everything wrong with `value`, each as "JSON pointer: complaint", in the schema's order.
fn violations(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    if validator.is_valid(value) {
        return Vec::new();
    }
    let mut problems = Vec::new();
    for error in validator.iter_errors(value) {
        let at = pointer(error.instance_path().iter());
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                for key in unexpected {
                    let key = key.replace('~', "~0").replace('/', "~1");
                    problems.push(format!(
                        "{}/{}: additional property not allowed",
                        at.trim_end_matches('/'),
                        shown(&key)
                    ));
                }
            }
            kind => problems.push(format!("{at}: {}", complaint(kind, &error))),
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
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
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
