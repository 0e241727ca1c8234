//! JSON Schemas for the repository's files, generated from the typed model, and validation of
//! a parsed file against them with every error mapped back to its TOML span.
//!
//! The committed files in `schema/` are what editors (taplo, Even Better TOML) read; a test
//! fails when they differ from what [`generate`] produces.

use std::ops::Range;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use schemars::generate::SchemaSettings;
use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::model::{FlagFile, ProjectFile, SegmentFile, TestFile};

/// The kinds of file in a flags repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Project,
    Flag,
    Segment,
    Test,
}

impl FileKind {
    pub const ALL: [FileKind; 4] = [
        FileKind::Project,
        FileKind::Flag,
        FileKind::Segment,
        FileKind::Test,
    ];

    /// The schema's file name in `schema/`.
    pub fn schema_file(self) -> &'static str {
        match self {
            FileKind::Project => "project.schema.json",
            FileKind::Flag => "flag.schema.json",
            FileKind::Segment => "segment.schema.json",
            FileKind::Test => "test.schema.json",
        }
    }
}

/// The JSON Schema (draft 7, every subschema inlined) of one kind of file.
pub fn generate(kind: FileKind) -> Value {
    let settings = SchemaSettings::draft07().with(|s| s.inline_subschemas = true);
    let generator = settings.into_generator();
    let schema = match kind {
        FileKind::Project => generator.into_root_schema_for::<ProjectFile>(),
        FileKind::Flag => generator.into_root_schema_for::<FlagFile>(),
        FileKind::Segment => generator.into_root_schema_for::<SegmentFile>(),
        FileKind::Test => generator.into_root_schema_for::<TestFile>(),
    };
    let mut schema = schema.to_value();
    tidy(&mut schema);
    schema
}

/// TOML has no null: an optional key is simply absent. Removing the `null` alternatives that
/// `Option<T>` generates keeps error messages about the real type. The Rust-specific `format`
/// annotations ("double", "uint32") mean nothing to editors and go too.
fn tidy(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("format").is_some_and(Value::is_string) {
                map.remove("format");
            }
            if let Some(Value::Array(options)) = map.get_mut("enum") {
                options.retain(|o| !o.is_null());
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(alternatives)) = map.get_mut("anyOf") {
                alternatives.retain(|a| a.get("type").is_none_or(|t| t != "null"));
                if alternatives.len() == 1 {
                    let Some(Value::Object(only)) = alternatives.pop() else {
                        unreachable!("anyOf holds one schema object")
                    };
                    map.remove("anyOf");
                    map.extend(only);
                }
            }
            map.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// A compiled schema for one kind of file.
pub struct Validator {
    schema: Value,
    validator: jsonschema::Validator,
}

impl Validator {
    pub fn new(kind: FileKind) -> Validator {
        let schema = generate(kind);
        let validator = jsonschema::draft7::new(&schema).expect("generated schemas are valid");
        Validator { schema, validator }
    }

    /// Validates a parsed file, reporting each schema error at the span it concerns.
    pub fn validate(&self, file: &str, tree: &Spanned<DeTable<'_>>) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let instance = to_json(tree.get_ref(), &mut problems);
        let mut diagnostics: Vec<Diagnostic> = problems
            .into_iter()
            .map(|(span, message)| Diagnostic::new(Code::InvalidValue, file, Some(span), message))
            .collect();
        let errors: Vec<_> = self.validator.iter_errors(&instance).collect();
        // A table with an unknown key usually misses a required one through the same typo
        // (`tpye` for `type`): the unknown key, with its suggestion, says it all.
        let with_unknown_keys: Vec<&str> = errors
            .iter()
            .filter(|e| matches!(e.kind(), ValidationErrorKind::AdditionalProperties { .. }))
            .map(|e| e.instance_path().as_str())
            .collect();
        for error in &errors {
            let redundant = matches!(error.kind(), ValidationErrorKind::Required { .. })
                && with_unknown_keys.contains(&error.instance_path().as_str());
            if !redundant {
                diagnostics.extend(self.diagnose(file, tree, error));
            }
        }
        diagnostics
    }

    fn diagnose(
        &self,
        file: &str,
        tree: &Spanned<DeTable<'_>>,
        error: &jsonschema::ValidationError<'_>,
    ) -> Vec<Diagnostic> {
        let path: Vec<LocationSegment<'_>> = error.instance_path().iter().collect();
        let node = locate(tree, &path);
        let here = Some(node.value_span.clone());
        let at = display_path(&path);
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = self.allowed_keys(error.schema_path().as_str());
                unexpected
                    .iter()
                    .map(|key| {
                        let span = node
                            .table
                            .and_then(|t| t.get_key_value(key.as_str()))
                            .map(|(k, _)| k.span());
                        let help = unknown_key_help(key, &at, &allowed);
                        Diagnostic::new(
                            Code::UnknownKey,
                            file,
                            span.or_else(|| here.clone()),
                            format!("unknown key `{key}`{}", in_path(&at)),
                        )
                        .with_help(help)
                    })
                    .collect()
            }
            ValidationErrorKind::Required { property } => {
                let property = property.as_str().unwrap_or_default();
                // A missing key of the whole file is reported at its start, not over it all.
                let span = if path.is_empty() {
                    Some(0..0)
                } else {
                    node.key_span.clone().or(here)
                };
                vec![
                    Diagnostic::new(
                        Code::MissingKey,
                        file,
                        span,
                        format!("missing required key `{property}`{}", in_path(&at)),
                    )
                    .with_help(format!("add `{property} = ...`")),
                ]
            }
            ValidationErrorKind::Type { kind } => {
                // Types the schema names in its `title` (dates) read better than "a string".
                let titled = self
                    .schema
                    .pointer(error.schema_path().as_str().trim_end_matches("/type"))
                    .and_then(|s| s.get("title"))
                    .and_then(Value::as_str);
                let expected = match kind {
                    _ if titled.is_some() => titled.unwrap_or_default().to_owned(),
                    TypeKind::Single(t) => type_name(&t.to_string()).to_owned(),
                    TypeKind::Multiple(set) => set
                        .iter()
                        .map(|t| type_name(&t.to_string()).to_owned())
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                let found = node.value.map_or("nothing", |v| v.type_str());
                vec![
                    Diagnostic::new(
                        Code::WrongType,
                        file,
                        here,
                        format!("{} must be {expected}, found {found}", subject(&at)),
                    )
                    .with_help("see docs/format.md for each key's type"),
                ]
            }
            ValidationErrorKind::MinItems { limit } => vec![Diagnostic::new(
                Code::InvalidValue,
                file,
                here,
                format!(
                    "{} needs at least {limit} item{}",
                    subject(&at),
                    if *limit == 1 { "" } else { "s" }
                ),
            )],
            ValidationErrorKind::Enum { options } => {
                let options: Vec<&str> = options
                    .as_array()
                    .map(|o| o.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let given = node.value.and_then(|v| v.as_str()).unwrap_or_default();
                let help = match did_you_mean(given, options.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("expected one of: {}", options.join(", ")),
                };
                vec![
                    Diagnostic::new(
                        Code::InvalidValue,
                        file,
                        here,
                        format!("`{given}` is not a valid value for {}", subject(&at)),
                    )
                    .with_help(help),
                ]
            }
            _ => vec![Diagnostic::new(
                Code::InvalidValue,
                file,
                here,
                format!("{}: {}", subject(&at), error.masked()),
            )],
        }
    }

    /// The property names the schema allows at the object whose `additionalProperties`
    /// keyword failed.
    fn allowed_keys(&self, schema_path: &str) -> Vec<String> {
        let parent = schema_path
            .strip_suffix("/additionalProperties")
            .unwrap_or(schema_path);
        self.schema
            .pointer(parent)
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn unknown_key_help(key: &str, at: &str, allowed: &[String]) -> String {
    if let Some(best) = did_you_mean(key, allowed.iter().map(String::as_str)) {
        return format!("did you mean `{best}`?");
    }
    if let Some(attribute) = at.strip_prefix("attributes.") {
        return format!(
            "attribute names with dots must be quoted: `\"{attribute}.{key}\" = {{ type = ... }}`"
        );
    }
    if allowed.is_empty() {
        "remove this key".to_owned()
    } else {
        format!("allowed keys: {}", allowed.join(", "))
    }
}

fn type_name(json_type: &str) -> &str {
    match json_type {
        "object" => "a table",
        "array" => "an array",
        "string" => "a string",
        "number" => "a number",
        "integer" => "an integer",
        "boolean" => "a boolean",
        other => other,
    }
}

/// `rules[0].if[1]`-style display of an instance path.
fn display_path(path: &[LocationSegment<'_>]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            LocationSegment::Property(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            LocationSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn in_path(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!(" in `{at}`")
    }
}

fn subject(at: &str) -> String {
    if at.is_empty() {
        "the file".to_owned()
    } else {
        format!("`{at}`")
    }
}

/// What an instance path points at in the spanned tree.
struct Node<'t, 'i> {
    key_span: Option<Range<usize>>,
    value_span: Range<usize>,
    value: Option<&'t DeValue<'i>>,
    table: Option<&'t DeTable<'i>>,
}

fn locate<'t, 'i>(tree: &'t Spanned<DeTable<'i>>, path: &[LocationSegment<'_>]) -> Node<'t, 'i> {
    let mut node = Node {
        key_span: None,
        value_span: tree.span(),
        value: None,
        table: Some(tree.get_ref()),
    };
    for segment in path {
        let next = match (segment, node.value, node.table) {
            (LocationSegment::Property(name), _, Some(table)) => table
                .get_key_value(name.as_ref())
                .map(|(k, v)| (Some(k.span()), v)),
            (LocationSegment::Index(i), Some(DeValue::Array(items)), _) => {
                items.get(*i).map(|v| (None, v))
            }
            _ => None,
        };
        let Some((key_span, value)) = next else { break };
        node = Node {
            key_span: key_span.or(node.key_span),
            value_span: value.span(),
            value: Some(value.get_ref()),
            table: value.get_ref().as_table(),
        };
    }
    node
}

/// The JSON form of a parsed file, for schema validation. TOML datetimes become strings;
/// a float JSON cannot hold (nan, inf) is reported and becomes null.
fn to_json(table: &DeTable<'_>, problems: &mut Vec<(Range<usize>, String)>) -> Value {
    Value::Object(
        table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), value_to_json(v, problems)))
            .collect(),
    )
}

fn value_to_json(
    value: &Spanned<DeValue<'_>>,
    problems: &mut Vec<(Range<usize>, String)>,
) -> Value {
    match value.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::from(n),
            Err(_) => {
                problems.push((value.span(), "integer does not fit in 64 bits".into()));
                Value::Null
            }
        },
        DeValue::Float(f) => match f
            .as_str()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            Some(n) => Value::Number(n),
            None => {
                problems.push((value.span(), "numbers must be finite".into()));
                Value::Null
            }
        },
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => {
            Value::Array(items.iter().map(|v| value_to_json(v, problems)).collect())
        }
        DeValue::Table(table) => to_json(table, problems),
    }
}
