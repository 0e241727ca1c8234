//! JSON Schemas for the repository's files, generated from the typed model, and validation of
//! a parsed file against them with every error mapped back to its TOML span.
//!
//! The committed files in `schema/` are what editors (taplo, Even Better TOML) read; a test
//! fails when they differ from what [`generate`] produces.

use std::borrow::Cow;
use std::ops::Range;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use jsonschema::paths::LocationSegment;
use jsonschema::types::JsonType;
use schemars::generate::SchemaSettings;
use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::model::{ExperimentFile, FlagFile, ProjectFile, SegmentFile, TestFile};

/// The kinds of file in a flags repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Project,
    Flag,
    Segment,
    Test,
    Experiment,
}

impl FileKind {
    pub const ALL: [FileKind; 5] = [
        FileKind::Project,
        FileKind::Flag,
        FileKind::Segment,
        FileKind::Test,
        FileKind::Experiment,
    ];

    /// The schema's file name in `schema/`.
    pub fn schema_file(self) -> &'static str {
        match self {
            FileKind::Project => "project.schema.json",
            FileKind::Flag => "flag.schema.json",
            FileKind::Segment => "segment.schema.json",
            FileKind::Test => "test.schema.json",
            FileKind::Experiment => "experiment.schema.json",
        }
    }
}

/// The file name of the bundle format's schema in `schema/`.
pub const BUNDLE_SCHEMA_FILE: &str = "bundle.schema.json";

/// The JSON Schema (draft 7) of bundles, for consumers in other languages.
pub fn generate_bundle() -> Value {
    let settings = SchemaSettings::draft07().with(|s| s.inline_subschemas = true);
    let mut schema = settings
        .into_generator()
        .into_root_schema_for::<crate::bundle::wire::Bundle>()
        .to_value();
    tidy(&mut schema);
    schema
}

/// The file name of the exposure event's schema in `schema/`.
pub const EXPOSURE_SCHEMA_FILE: &str = "exposure.schema.json";

/// The JSON Schema (draft 7) of one exposure event, a line of an exposures file.
pub fn generate_exposure() -> Value {
    let settings = SchemaSettings::draft07().with(|s| s.inline_subschemas = true);
    let mut schema = settings
        .into_generator()
        .into_root_schema_for::<crate::exposure::Exposure>()
        .to_value();
    tidy(&mut schema);
    schema
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
        FileKind::Experiment => generator.into_root_schema_for::<ExperimentFile>(),
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
    validator: jsonschema::Validator<TomlJson>,
}

impl Validator {
    pub fn new(kind: FileKind) -> Validator {
        let schema = generate(kind);
        let validator = jsonschema::options_for::<TomlJson>()
            .with_draft(jsonschema::Draft::Draft7)
            .build(&schema)
            .expect("generated schemas are valid");
        Validator { schema, validator }
    }

    /// Validates a parsed file, reporting each schema error at the span it concerns.
    pub fn validate(&self, file: &str, tree: &Spanned<DeTable<'_>>) -> Vec<Diagnostic> {
        let mut diagnostics = Vec::new();
        unrepresentable_numbers(file, tree.get_ref(), &mut diagnostics);
        let root = TomlNode::Table(tree.get_ref());
        if self.validator.is_valid(root) {
            return diagnostics;
        }
        let errors: Vec<_> = self.validator.iter_errors(root).collect();
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
                let expected = match (titled, kind) {
                    (Some(title), _) => title.to_owned(),
                    (None, TypeKind::Single(t)) => type_name(&t.to_string()).to_owned(),
                    (None, TypeKind::Multiple(set)) => set
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
            ValidationErrorKind::Pattern { .. } => {
                // A patterned string's schema names what to write in its `title`.
                let expected = self
                    .schema
                    .pointer(error.schema_path().as_str().trim_end_matches("/pattern"))
                    .and_then(|s| s.get("title"))
                    .and_then(Value::as_str)
                    .unwrap_or("a valid value");
                let given = node.value.and_then(|v| v.as_str()).unwrap_or_default();
                vec![
                    Diagnostic::new(
                        Code::InvalidValue,
                        file,
                        here,
                        format!("{} must be {expected}, found {given:?}", subject(&at)),
                    )
                    .with_help("see docs/format.md for each key's values"),
                ]
            }
            ValidationErrorKind::AnyOf { .. } => {
                // A value of several shapes: its schema's description says which.
                let described = self
                    .schema
                    .pointer(error.schema_path().as_str().trim_end_matches("/anyOf"))
                    .and_then(|s| s.get("description"))
                    .and_then(Value::as_str);
                let help = described.map_or_else(
                    || "see docs/format.md for each key's values".to_owned(),
                    |text| text.split_whitespace().collect::<Vec<_>>().join(" "),
                );
                vec![
                    Diagnostic::new(
                        Code::InvalidValue,
                        file,
                        here,
                        format!("{} is none of the shapes it may take", subject(&at)),
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
struct Located<'t, 'i> {
    key_span: Option<Range<usize>>,
    value_span: Range<usize>,
    value: Option<&'t DeValue<'i>>,
    table: Option<&'t DeTable<'i>>,
}

fn locate<'t, 'i>(tree: &'t Spanned<DeTable<'i>>, path: &[LocationSegment<'_>]) -> Located<'t, 'i> {
    let mut node = Located {
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
        node = Located {
            key_span,
            value_span: value.span(),
            value: Some(value.get_ref()),
            table: value.get_ref().as_table(),
        };
    }
    node
}

/// Reports numbers JSON cannot carry: integers beyond 64 bits, nan and infinities.
fn unrepresentable_numbers(file: &str, table: &DeTable<'_>, out: &mut Vec<Diagnostic>) {
    let mut pending: Vec<&Spanned<DeValue<'_>>> = table.values().collect();
    while let Some(value) = pending.pop() {
        let problem = match value.get_ref() {
            DeValue::Integer(i) if i64::from_str_radix(i.as_str(), i.radix()).is_err() => {
                "integers must fit in 64 bits"
            }
            DeValue::Float(f) if !f.as_str().parse::<f64>().is_ok_and(f64::is_finite) => {
                "numbers must be finite: nan and inf have no JSON form"
            }
            DeValue::Array(items) => {
                pending.extend(items.iter());
                continue;
            }
            DeValue::Table(inner) => {
                pending.extend(inner.values());
                continue;
            }
            _ => continue,
        };
        out.push(Diagnostic::new(
            Code::InvalidValue,
            file,
            Some(value.span()),
            problem.to_owned(),
        ));
    }
}

/// The JSON form of a parsed value, for the messages of schema errors.
fn to_json(value: &DeValue<'_>) -> Value {
    match value {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(_) | DeValue::Float(_) => {
            number(value).map_or(Value::Null, |n| Value::Number(n.to_number().into_owned()))
        }
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::Array(items.iter().map(|v| to_json(v.get_ref())).collect()),
        DeValue::Table(table) => table_to_json(table),
    }
}

fn table_to_json(table: &DeTable<'_>) -> Value {
    Value::Object(
        table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), to_json(v.get_ref())))
            .collect(),
    )
}

/// The spanned TOML tree as a JSON representation the validator reads directly, so no JSON
/// copy of each file is built. TOML datetimes read as strings.
pub struct TomlJson;

#[derive(Clone, Copy)]
pub enum TomlNode<'a> {
    Table(&'a DeTable<'a>),
    Value(&'a DeValue<'a>),
}

#[derive(Clone, Copy)]
pub enum TomlNumber {
    Int(i64),
    Float(f64),
}

fn number(value: &DeValue<'_>) -> Option<TomlNumber> {
    match value {
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Some(TomlNumber::Int(n)),
            // Beyond 64 bits: the model rejects it; the schema sees its magnitude.
            Err(_) => Some(TomlNumber::Float(i.as_str().parse().unwrap_or(f64::MAX))),
        },
        DeValue::Float(f) => Some(TomlNumber::Float(f.as_str().parse().unwrap_or(f64::NAN))),
        _ => None,
    }
}

impl JsonNumber for TomlNumber {
    fn as_u64(&self) -> Option<u64> {
        match *self {
            TomlNumber::Int(n) => u64::try_from(n).ok(),
            TomlNumber::Float(_) => None,
        }
    }
    fn as_i64(&self) -> Option<i64> {
        match *self {
            TomlNumber::Int(n) => Some(n),
            TomlNumber::Float(_) => None,
        }
    }
    fn as_f64(&self) -> Option<f64> {
        Some(match *self {
            TomlNumber::Int(n) => n as f64,
            TomlNumber::Float(x) => x,
        })
    }
    fn as_str(&self) -> Cow<'_, str> {
        match *self {
            TomlNumber::Int(n) => n.to_string().into(),
            TomlNumber::Float(x) => x.to_string().into(),
        }
    }
    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        Cow::Owned(match *self {
            TomlNumber::Int(n) => n.into(),
            // JSON has no nan or inf; the model reports them, the schema sees zero.
            TomlNumber::Float(x) => {
                serde_json::Number::from_f64(x).unwrap_or_else(|| serde_json::Number::from(0))
            }
        })
    }
    fn is_integer(&self) -> bool {
        match *self {
            TomlNumber::Int(_) => true,
            TomlNumber::Float(x) => x.is_finite() && x.fract() == 0.0,
        }
    }
}

impl Json for TomlJson {
    type Node<'a> = TomlNode<'a>;
    type PreparedKey = String;
    type StringBuffer = ();

    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(TomlNode<'_>) -> T) -> T {
        f(TomlNode::Value(&DeValue::String(Cow::Borrowed(string))))
    }
}

impl<'a> Node<'a, TomlJson> for TomlNode<'a> {
    type Object = &'a DeTable<'a>;
    type Array = &'a [Spanned<DeValue<'a>>];
    type Number = TomlNumber;

    fn as_object(&self) -> Option<&'a DeTable<'a>> {
        match *self {
            TomlNode::Table(table) | TomlNode::Value(DeValue::Table(table)) => Some(table),
            TomlNode::Value(_) => None,
        }
    }

    fn as_array(&self) -> Option<&'a [Spanned<DeValue<'a>>]> {
        match *self {
            TomlNode::Value(DeValue::Array(items)) => Some(&items[..]),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match *self {
            TomlNode::Value(DeValue::String(s)) => Some(Cow::Borrowed(s.as_ref())),
            TomlNode::Value(DeValue::Datetime(d)) => Some(Cow::Owned(d.to_string())),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<TomlNumber> {
        match *self {
            TomlNode::Value(value) => number(value),
            TomlNode::Table(_) => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match *self {
            TomlNode::Value(DeValue::Boolean(b)) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        false
    }

    fn json_type(&self) -> JsonType {
        match *self {
            TomlNode::Table(_) | TomlNode::Value(DeValue::Table(_)) => JsonType::Object,
            TomlNode::Value(DeValue::Array(_)) => JsonType::Array,
            TomlNode::Value(DeValue::String(_) | DeValue::Datetime(_)) => JsonType::String,
            TomlNode::Value(DeValue::Integer(_) | DeValue::Float(_)) => JsonType::Number,
            TomlNode::Value(DeValue::Boolean(_)) => JsonType::Boolean,
        }
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(match *self {
            TomlNode::Table(table) => table_to_json(table),
            TomlNode::Value(value) => to_json(value),
        })
    }

    fn identity(&self) -> Option<NodeIdentity> {
        let address = match *self {
            TomlNode::Table(table) => std::ptr::from_ref(table) as usize,
            TomlNode::Value(value) => std::ptr::from_ref(value) as usize,
        };
        Some(NodeIdentity::new(address))
    }
}

impl<'a> Object<'a, TomlJson> for &'a DeTable<'a> {
    type Node = TomlNode<'a>;
    type MemberName = &'a str;
    type MembersIter = Box<dyn Iterator<Item = (&'a str, TomlNode<'a>)> + 'a>;

    fn len(&self) -> usize {
        DeTable::len(self)
    }

    fn get(&self, key: &String) -> Option<TomlNode<'a>> {
        DeTable::get(self, key.as_str()).map(|v| TomlNode::Value(v.get_ref()))
    }

    fn members(&self) -> Self::MembersIter {
        Box::new(
            self.iter()
                .map(|(k, v)| (k.get_ref().as_ref(), TomlNode::Value(v.get_ref()))),
        )
    }
}

impl<'a> Array<'a, TomlJson> for &'a [Spanned<DeValue<'a>>] {
    type Node = TomlNode<'a>;
    type ElementsIter = std::iter::Map<
        std::slice::Iter<'a, Spanned<DeValue<'a>>>,
        fn(&'a Spanned<DeValue<'a>>) -> TomlNode<'a>,
    >;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn elements(&self) -> Self::ElementsIter {
        self.iter().map(|v| TomlNode::Value(v.get_ref()))
    }
}
