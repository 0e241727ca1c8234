//! Export to OpenFeature flagd: each environment's bundle as a flagd flag-definition file,
//! exactly or not at all.
//!
//! The export reads the built bundle (every default resolved, splits in name order, the
//! environment's off variant and fallthrough decided) and the repository only for metadata.
//! A construct that flagd cannot evaluate with identical results for every context is a
//! [`Refusal`] naming the flag, the environment and the construct; nothing is approximated.
//! The mapping, construct by construct, is docs/openfeature.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::bundle::{Bundle, Condition, Experiment, FULL, Flag, Rule, Serve, TARGETING_KEY};
use crate::check::Checked;
use crate::op::{AttrType, Op};

/// Nested segments are written out inside the segments that test them: a bound on the depth
/// bounds the file's size and the export's recursion.
const MAX_SEGMENT_DEPTH: usize = 32;

/// OpenFeature's name for the unit's key: flagstone's `targeting_key`.
const OPENFEATURE_TARGETING_KEY: &str = "targetingKey";

/// One environment's flagd file.
#[derive(Debug)]
pub struct FlagdFile {
    pub environment: String,
    /// `<environment>.flagd.json`.
    pub file_name: String,
    /// The flags it holds.
    pub flags: usize,
    pub bytes: Vec<u8>,
}

/// A flag that flagd cannot express exactly in one environment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    pub flag: String,
    pub environment: String,
    /// What flagd cannot express, and where: "rule `gradual`: `matches` (a regular expression)".
    pub construct: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "flag `{}` in `{}`: {}",
            self.flag, self.environment, self.construct
        )
    }
}

/// The export of some environments: their files (without the refused flags) and the refusals.
#[derive(Debug)]
pub struct Export {
    pub files: Vec<FlagdFile>,
    pub refusals: Vec<Refusal>,
}

#[derive(Debug)]
pub enum ExportError {
    /// An environment the project does not declare.
    UnknownEnvironment {
        name: String,
        known: Vec<String>,
    },
    Write(crate::fs::WriteError),
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportError::UnknownEnvironment { name, known } => write!(
                f,
                "no environment `{name}` in the project (it has {})",
                known.join(", ")
            ),
            ExportError::Write(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExportError::Write(e) => Some(e),
            ExportError::UnknownEnvironment { .. } => None,
        }
    }
}

/// Exports `environments` (all of the project's, in its order, when empty) to flagd.
pub fn flagd(checked: Checked<'_>, environments: &[String]) -> Result<Export, ExportError> {
    let repo = checked.repo();
    let known: Vec<String> = repo
        .project
        .as_ref()
        .and_then(|p| p.doc.as_ref())
        .map(|p| {
            p.environments
                .iter()
                .map(|e| e.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let selected: Vec<&String> = if environments.is_empty() {
        known.iter().collect()
    } else {
        environments.iter().collect()
    };
    if let Some(name) = selected.iter().find(|e| !known.contains(e)) {
        return Err(ExportError::UnknownEnvironment {
            name: (*name).clone(),
            known,
        });
    }
    let metadata: BTreeMap<&str, Map<String, Value>> = repo
        .flags
        .iter()
        .filter_map(|(key, loaded)| Some((key.as_str(), flag_metadata(loaded.doc.as_ref()?))))
        .collect();
    let mut export = Export {
        files: Vec::new(),
        refusals: Vec::new(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for env in selected {
        if !seen.insert(env) {
            continue;
        }
        let bundle = crate::build::environment(checked, env);
        let (file, refusals) = bundle_to_flagd(&bundle, &metadata);
        export.files.push(file);
        export.refusals.extend(refusals);
    }
    Ok(export)
}

/// Writes each file into `dir` (created if missing), atomically.
pub fn write(dir: &Path, files: &[FlagdFile]) -> Result<Vec<PathBuf>, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| {
        ExportError::Write(crate::fs::WriteError::Io {
            path: dir.to_owned(),
            source,
        })
    })?;
    files
        .iter()
        .map(|file| {
            let path = dir.join(&file.file_name);
            crate::fs::write_atomic(&path, &file.bytes).map_err(ExportError::Write)?;
            Ok(path)
        })
        .collect()
}

fn flag_metadata(doc: &crate::model::FlagFile) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("description".into(), doc.description.as_str().into());
    metadata.insert("kind".into(), doc.kind.value.as_str().into());
    let owners: Vec<&str> = doc.owners.value.iter().map(|o| o.as_str()).collect();
    metadata.insert("owners".into(), owners.join(", ").into());
    if !doc.tags.is_empty() {
        let tags: Vec<&str> = doc.tags.iter().map(|t| t.as_str()).collect();
        metadata.insert("tags".into(), tags.join(", ").into());
    }
    metadata
}

/// One bundle as a flagd file, without the flags it must refuse. Its bytes: one flag a line,
/// keys in byte order, so that the file diffs well and two exports are the same bytes.
pub fn bundle_to_flagd(
    bundle: &Bundle,
    metadata: &BTreeMap<&str, Map<String, Value>>,
) -> (FlagdFile, Vec<Refusal>) {
    let mut exporter = Exporter {
        bundle,
        evaluators: BTreeMap::new(),
    };
    let heights = heights(bundle);
    for name in bundle.segments.keys() {
        exporter.segment(name, &heights);
    }
    let exporter = &exporter;
    // Flags are translated and written on every core; the segments they use are ready.
    let flags: Vec<(&String, &Flag)> = bundle.flags.iter().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = flags.len().div_ceil(threads).max(1);
    let translated: Vec<Result<Vec<u8>, Refused>> = std::thread::scope(|scope| {
        let workers: Vec<_> = flags
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(key, flag)| {
                            let mut value = exporter.flag(flag)?;
                            if let Some(meta) = metadata.get(key.as_str()) {
                                value["metadata"] = Value::Object(meta.clone());
                            }
                            Ok(to_json(&value))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("translating a flag does not panic"))
            .collect()
    });
    let mut bytes = b"{".to_vec();
    let evaluators: Vec<(&String, &Value)> = exporter
        .evaluators
        .iter()
        .filter_map(|(name, e)| {
            e.as_ref()
                .ok()
                .filter(|e| e.shared)
                .map(|e| (name, &e.rule))
        })
        .collect();
    if !evaluators.is_empty() {
        bytes.extend_from_slice(b"\"$evaluators\":{");
        for (i, (name, evaluator)) in evaluators.into_iter().enumerate() {
            bytes.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
            bytes.extend(to_json(name));
            bytes.push(b':');
            bytes.extend(to_json(evaluator));
        }
        bytes.extend_from_slice(b"},\n");
    }
    bytes
        .extend_from_slice(b"\"$schema\":\"https://flagd.dev/schema/v0/flags.json\",\n\"flags\":{");
    let mut refusals = Vec::new();
    let mut count = 0;
    for ((key, _), flag) in flags.iter().zip(translated) {
        match flag {
            Ok(json) => {
                bytes.extend_from_slice(if count == 0 { b"\n" } else { b",\n" });
                bytes.extend(to_json(key));
                bytes.push(b':');
                bytes.extend(json);
                count += 1;
            }
            Err(construct) => refusals.push(Refusal {
                flag: (*key).clone(),
                environment: bundle.environment.clone(),
                construct,
            }),
        }
    }
    bytes.extend_from_slice(b"},\n\"metadata\":");
    bytes.extend(to_json(
        &json!({"environment": bundle.environment, "flagSetId": bundle.project}),
    ));
    bytes.extend_from_slice(b"}\n");
    (
        FlagdFile {
            environment: bundle.environment.clone(),
            file_name: format!("{}.flagd.json", bundle.environment),
            flags: count,
            bytes,
        },
        refusals,
    )
}

fn to_json(value: &(impl serde::Serialize + ?Sized)) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON values and strings always serialize")
}

struct Exporter<'b> {
    bundle: &'b Bundle,
    /// Every segment as a flagd rule, or why it cannot be one.
    evaluators: BTreeMap<String, Result<Evaluator, String>>,
}

struct Evaluator {
    rule: Value,
    /// Written once in `$evaluators` and referenced by `$ref`; otherwise written out in
    /// each flag that tests it (see [`shareable`]).
    shared: bool,
}

/// Whether a rule survives flagd's `$ref` substitution, which both evaluators do on text:
/// Python's `re.sub` reads backslashes in the rule's JSON (which escapes `"`, `\`, control
/// characters and, in Python, everything beyond ASCII) as escapes, and JavaScript's
/// `replaceAll` reads `$` as a pattern. A rule with any of them is written out instead.
fn shareable(rule: &Value) -> bool {
    let text = to_json(rule);
    !text
        .iter()
        .any(|&b| b == b'\\' || b == b'$' || !b.is_ascii())
}

/// How deep each segment's nested segments go (0: it tests none), without recursing.
fn heights(bundle: &Bundle) -> BTreeMap<&str, usize> {
    let nested = |name: &str| -> Vec<&str> {
        bundle.segments.get(name).map_or_else(Vec::new, |s| {
            s.conditions
                .iter()
                .filter_map(|c| c.segment.as_deref())
                .collect()
        })
    };
    let mut heights: BTreeMap<&str, usize> = BTreeMap::new();
    let mut open = std::collections::BTreeSet::new();
    for root in bundle.segments.keys() {
        let mut stack = vec![(root.as_str(), false)];
        while let Some((name, expanded)) = stack.pop() {
            if heights.contains_key(name) {
                continue;
            }
            if expanded {
                let height = nested(name)
                    .iter()
                    .map(|n| heights.get(n).map_or(0, |h| h + 1))
                    .max()
                    .unwrap_or(0);
                heights.insert(name, height);
                open.remove(name);
            } else if open.insert(name) {
                stack.push((name, true));
                // A cycle (which checked repositories do not have) is cut where it closes.
                stack.extend(
                    nested(name)
                        .into_iter()
                        .filter(|n| !open.contains(n))
                        .map(|n| (n, false)),
                );
            }
        }
    }
    heights
}

/// What a refusal says: the construct flagd cannot express.
type Refused = String;

impl Exporter<'_> {
    fn flag(&self, flag: &Flag) -> Result<Value, Refused> {
        variant_type(&flag.variants)?;
        if !flag.schedule.is_empty() {
            return Err("a schedule (flagd has no evaluation time to apply it at)".into());
        }
        let mut out = Map::new();
        out.insert("state".into(), "ENABLED".into());
        out.insert("variants".into(), json!(flag.variants));
        // A killed flag serves its off variant: flagd's DISABLED would serve the caller's
        // default instead, so it is an enabled flag whose default is the off variant.
        if !flag.enabled {
            out.insert("defaultVariant".into(), flag.off_variant.clone().into());
            return Ok(Value::Object(out));
        }
        if !flag.prerequisites.is_empty() {
            return Err("prerequisites (a flagd flag cannot depend on another flag)".into());
        }
        out.insert("defaultVariant".into(), flag.fallthrough.clone().into());
        if !flag.rules.is_empty() {
            let mut branches = Vec::new();
            for rule in &flag.rules {
                let (condition, serve) = self
                    .rule(flag, rule)
                    .map_err(|construct| format!("rule `{}`: {construct}", rule.name))?;
                branches.push(condition);
                branches.push(serve);
            }
            branches.push(flag.fallthrough.clone().into());
            out.insert("targeting".into(), json!({ "if": branches }));
        }
        Ok(Value::Object(out))
    }

    /// A rule's condition and what it serves.
    fn rule(&self, flag: &Flag, rule: &Rule) -> Result<(Value, Value), Refused> {
        if !rule.schedule.is_empty() {
            return Err("a schedule (flagd has no evaluation time to apply it at)".into());
        }
        let mut all = Vec::new();
        for condition in &rule.conditions {
            all.push(self.condition(condition)?);
        }
        let needs_unit = rule.rollout < FULL || matches!(rule.serve, Serve::Split(_));
        let unit = if needs_unit {
            ascii_salt("the salt", &flag.salt)?;
            Some(self.unit(flag)?)
        } else {
            None
        };
        if let Some(unit) = &unit {
            all.push(present(unit.clone()));
            if rule.rollout < FULL {
                all.push(json!({"===": [
                    fractional(&flag.salt, "rollout", unit, &[("in", rule.rollout), ("out", FULL - rule.rollout)]),
                    "in"
                ]}));
            }
        }
        let serve = match &rule.serve {
            Serve::Variant(v) => Value::from(v.as_str()),
            Serve::Split(weights) => {
                let unit = unit.expect("a split needs a unit");
                let pairs: Vec<(&str, u32)> = weights
                    .iter()
                    .map(|w| (w.variant.as_str(), w.weight))
                    .collect();
                let split = fractional(&flag.salt, "split", &unit, &pairs);
                match &flag.experiment {
                    Some(experiment) => gated(experiment, &unit, split)?,
                    None => split,
                }
            }
        };
        Ok((and(all), serve))
    }

    /// The `var` of the flag's bucketing unit: a string for every unit flagd can bucket as
    /// flagstone does.
    fn unit(&self, flag: &Flag) -> Result<Value, Refused> {
        if flag.bucket_by != TARGETING_KEY
            && self.bundle.attributes.get(&flag.bucket_by) != Some(&AttrType::String)
        {
            return Err(format!(
                "bucketing by the number attribute `{}` (flagd's numbers are doubles: it cannot tell 42.0 from 42)",
                flag.bucket_by
            ));
        }
        var(&flag.bucket_by)
    }

    fn condition(&self, condition: &Condition) -> Result<Value, Refused> {
        if let Some(segment) = &condition.segment {
            let member = self.segment_condition(segment)?;
            return Ok(if condition.negate {
                json!({ "!": [member] })
            } else {
                member
            });
        }
        self.attribute_condition(condition)
    }

    /// Registers segment `name` once: segments are written out inside the segments that test
    /// them, since flagd resolves `$ref`s in flags, not inside other evaluators. Nesting
    /// deeper than [`MAX_SEGMENT_DEPTH`] is refused, so this recursion is that shallow.
    fn segment(&mut self, name: &str, heights: &BTreeMap<&str, usize>) {
        if self.evaluators.contains_key(name) {
            return;
        }
        let evaluator = match heights.get(name) {
            Some(&height) if height > MAX_SEGMENT_DEPTH => Err(format!(
                "segment `{name}`: segments nested more than {MAX_SEGMENT_DEPTH} deep (each is written out inside the one that tests it)"
            )),
            Some(_) => self.segment_rule(name, heights).map(|rule| {
                let shared = shareable(&rule);
                Evaluator { rule, shared }
            }),
            None => Err(format!("segment `{name}`: not in the bundle")),
        };
        self.evaluators.insert(name.to_owned(), evaluator);
    }

    /// Segment `name` as a condition: a `$ref` to its evaluator, or the rule itself.
    fn segment_condition(&self, name: &str) -> Result<Value, Refused> {
        match self.evaluators.get(name) {
            Some(Ok(e)) if e.shared => Ok(json!({ "$ref": name })),
            Some(Ok(e)) => Ok(e.rule.clone()),
            Some(Err(construct)) => Err(construct.clone()),
            None => Err(format!("segment `{name}`: not in the bundle")),
        }
    }

    fn segment_rule(
        &mut self,
        name: &str,
        heights: &BTreeMap<&str, usize>,
    ) -> Result<Value, Refused> {
        let Some(segment) = self.bundle.segments.get(name) else {
            return Err(format!("segment `{name}`: not in the bundle"));
        };
        let key = var(TARGETING_KEY)?;
        let mut conditions = Vec::new();
        for condition in &segment.conditions {
            conditions.push(match &condition.segment {
                Some(nested) => {
                    self.segment(nested, heights);
                    let inner = match &self.evaluators[nested.as_str()] {
                        Ok(e) => e.rule.clone(),
                        Err(construct) => return Err(construct.clone()),
                    };
                    if condition.negate {
                        json!({ "!": [inner] })
                    } else {
                        inner
                    }
                }
                None => self
                    .attribute_condition(condition)
                    .map_err(|construct| format!("segment `{name}`: {construct}"))?,
            });
        }
        let included = json!({"in": [key.clone(), segment.include]});
        let mut member = if conditions.is_empty() {
            included
        } else {
            json!({"or": [included, and(conditions)]})
        };
        if !segment.exclude.is_empty() {
            member = json!({"and": [{"!": [{"in": [key, segment.exclude]}]}, member]});
        }
        Ok(member)
    }

    fn attribute_condition(&self, condition: &Condition) -> Result<Value, Refused> {
        let (Some(attr), Some(op)) = (&condition.attr, condition.op) else {
            return Err("a condition with neither an attribute nor a segment".into());
        };
        let x = var(attr)?;
        let values = &condition.values;
        if condition.ignore_case {
            return Err(format!(
                "`{}` with ignore_case (flagd compares strings as they are)",
                op.as_str()
            ));
        }
        let any = |f: &dyn Fn(&Value) -> Value| or(values.iter().map(f).collect());
        let single = || values.first().cloned().unwrap_or(Value::Null);
        let guarded = |test: Value| and(vec![present(x.clone()), test]);
        let not = |test: Value| and(vec![present(x.clone()), json!({"!": [test]})]);
        Ok(match op {
            Op::In => json!({"in": [x, values]}),
            Op::NotIn => not(json!({"in": [x, values]})),
            Op::StartsWith => any(&|v| json!({"starts_with": [x, v]})),
            Op::NotStartsWith => not(any(&|v| json!({"starts_with": [x, v]}))),
            Op::EndsWith => any(&|v| json!({"ends_with": [x, v]})),
            Op::NotEndsWith => not(any(&|v| json!({"ends_with": [x, v]}))),
            Op::Contains => guarded(any(&|v| json!({"in": [v, x]}))),
            Op::NotContains => not(any(&|v| json!({"in": [v, x]}))),
            Op::Gt => guarded(json!({">": [x, single()]})),
            Op::Gte => guarded(json!({">=": [x, single()]})),
            Op::Lt => guarded(json!({"<": [x, single()]})),
            Op::Lte => guarded(json!({"<=": [x, single()]})),
            Op::SemverEq => guarded(json!({"sem_ver": [x, "=", single()]})),
            Op::SemverGt => guarded(json!({"sem_ver": [x, ">", single()]})),
            Op::SemverGte => guarded(json!({"sem_ver": [x, ">=", single()]})),
            Op::SemverLt => guarded(json!({"sem_ver": [x, "<", single()]})),
            Op::SemverLte => guarded(json!({"sem_ver": [x, "<=", single()]})),
            Op::Exists => present(x),
            Op::NotExists => json!({"===": [x, null]}),
            Op::ContainsAny => guarded(any(&|v| json!({"in": [v, x]}))),
            Op::ContainsAll => guarded(and(values.iter().map(|v| json!({"in": [v, x]})).collect())),
            Op::ContainsNone => not(any(&|v| json!({"in": [v, x]}))),
            Op::Matches | Op::NotMatches => {
                return Err(format!(
                    "`{}` (a Rust regular expression; flagd has none)",
                    op.as_str()
                ));
            }
            Op::Before | Op::After => {
                return Err(format!(
                    "`{}` (a date-time comparison; flagd has none)",
                    op.as_str()
                ));
            }
            Op::InCidr => return Err("`in_cidr` (flagd has no network matching)".into()),
        })
    }
}

/// The variants have one of flagd's types: boolean, number, string or object.
fn variant_type(variants: &BTreeMap<String, Value>) -> Result<(), Refused> {
    let mut types = variants.values().map(|v| match v {
        Value::Bool(_) => Ok("boolean"),
        Value::Number(_) => Ok("number"),
        Value::String(_) => Ok("string"),
        Value::Object(_) => Ok("object"),
        Value::Array(_) => Err("a variant whose value is an array (flagd's are objects)"),
        Value::Null => Err("a variant whose value is null"),
    });
    let first = types.next().unwrap_or(Ok("boolean"))?;
    for t in types {
        if t? != first {
            return Err("variants of more than one type".into());
        }
    }
    Ok(())
}

/// A context value, by flagstone's attribute path; `targeting_key` is OpenFeature's
/// `targetingKey`, so an attribute of that name would be ambiguous.
fn var(path: &str) -> Result<Value, Refused> {
    if path == TARGETING_KEY {
        return Ok(json!({ "var": OPENFEATURE_TARGETING_KEY }));
    }
    if path.split('.').next() == Some(OPENFEATURE_TARGETING_KEY) {
        return Err(format!(
            "the attribute `{path}` (OpenFeature's targetingKey is flagstone's targeting_key)"
        ));
    }
    Ok(json!({ "var": path }))
}

/// The value is there: flagd reads a missing value as null. Strict, since flagd's JavaScript
/// evaluator's loose `!=` holds 0 equal to null and throws on arrays.
fn present(x: Value) -> Value {
    json!({"!==": [x, null]})
}

fn and(mut tests: Vec<Value>) -> Value {
    match tests.len() {
        0 => Value::Bool(true),
        1 => tests.pop().expect("one test"),
        _ => json!({ "and": tests }),
    }
}

fn or(mut tests: Vec<Value>) -> Value {
    match tests.len() {
        0 => Value::Bool(false),
        1 => tests.pop().expect("one test"),
        _ => json!({ "or": tests }),
    }
}

/// flagd's `fractional` over flagstone's bucketing key `{salt}/{purpose}/{unit}`: the same
/// MurmurHash3 bucket among the same total, the buckets in the same order.
fn fractional(salt: &str, purpose: &str, unit: &Value, buckets: &[(&str, u32)]) -> Value {
    let mut args = vec![json!({"cat": [format!("{salt}/{purpose}/"), unit]})];
    args.extend(buckets.iter().map(|(name, weight)| json!([name, weight])));
    json!({ "fractional": args })
}

/// A split behind the experiment's holdout and layer slice: a unit outside either gets the
/// control.
fn gated(experiment: &Experiment, unit: &Value, split: Value) -> Result<Value, Refused> {
    let mut branches = Vec::new();
    if let Some(holdout) = &experiment.holdout {
        ascii_salt("the holdout's salt", &holdout.salt)?;
        branches.push(json!({"===": [
            fractional(&holdout.salt, "holdout", unit, &[("held", holdout.percent), ("kept", FULL - holdout.percent)]),
            "held"
        ]}));
        branches.push(experiment.control.clone().into());
    }
    if let Some(layer) = &experiment.layer {
        ascii_salt("the layer's salt", &layer.salt)?;
        branches.push(json!({"!==": [
            fractional(&layer.salt, "layer", unit, &[
                ("below", layer.from),
                ("in", layer.to - layer.from),
                ("above", FULL - layer.to),
            ]),
            "in"
        ]}));
        branches.push(experiment.control.clone().into());
    }
    if branches.is_empty() {
        return Ok(split);
    }
    branches.push(split);
    Ok(json!({ "if": branches }))
}

/// flagd's JavaScript evaluator hashes a string's UTF-16 code units, not its UTF-8 bytes:
/// the two agree on ASCII only. A unit is the application's, but a salt is the flag's.
fn ascii_salt(what: &str, salt: &str) -> Result<(), Refused> {
    if salt.is_ascii() {
        Ok(())
    } else {
        Err(format!(
            "{what} `{salt}` is not ASCII (flagd's JavaScript evaluator hashes it differently)"
        ))
    }
}
