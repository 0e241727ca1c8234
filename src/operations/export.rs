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
                        .map(|(key, flag)| exporter.flag(flag, metadata.get(key.as_str())))
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
    let evaluators: Vec<(&String, &Json)> = exporter
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
            bytes.extend_from_slice(evaluator);
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

fn to_json(value: &(impl serde::Serialize + ?Sized)) -> Json {
    let mut out = Vec::new();
    put(&mut out, value);
    out
}

/// Appends `value` as serde_json writes it.
fn put(out: &mut Json, value: &(impl serde::Serialize + ?Sized)) {
    serde_json::to_writer(out, value).expect("JSON values and strings always serialize");
}

/// JSON text, byte for byte what serde_json writes for the value it stands for (compact,
/// object keys in byte order). The export writes rules as text: building a `Value` per
/// JsonLogic node, dozens a flag, and freeing them cost more than the translation itself.
type Json = Vec<u8>;

/// `{"<operator>":[<argument>,…]}`: every JsonLogic operation the export writes. Operator
/// names are the export's own, which need no escape.
fn op<A: AsRef<[u8]>>(operator: &str, args: &[A]) -> Json {
    let mut out = Vec::with_capacity(
        operator.len() + 7 + args.iter().map(|a| a.as_ref().len() + 1).sum::<usize>(),
    );
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(operator.as_bytes());
    out.extend_from_slice(b"\":[");
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(arg.as_ref());
    }
    out.extend_from_slice(b"]}");
    out
}

const NULL: &[u8] = b"null";

struct Exporter<'b> {
    bundle: &'b Bundle,
    /// Every segment as a flagd rule, or why it cannot be one.
    evaluators: BTreeMap<String, Result<Evaluator, String>>,
}

struct Evaluator {
    rule: Json,
    /// Written once in `$evaluators` and referenced by `$ref`; otherwise written out in
    /// each flag that tests it (see [`shareable`]).
    shared: bool,
}

/// Whether a rule survives flagd's `$ref` substitution, which both evaluators do on text:
/// Python's `re.sub` reads backslashes in the rule's JSON (which escapes `"`, `\`, control
/// characters and, in Python, everything beyond ASCII) as escapes, and JavaScript's
/// `replaceAll` reads `$` as a pattern. A rule with any of them is written out instead.
fn shareable(rule: &[u8]) -> bool {
    !rule
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
    /// The flag's JSON, with its repository metadata.
    fn flag(&self, flag: &Flag, metadata: Option<&Map<String, Value>>) -> Result<Json, Refused> {
        variant_type(&flag.variants)?;
        if !flag.schedule.is_empty() {
            return Err("a schedule (flagd has no evaluation time to apply it at)".into());
        }
        // A killed flag serves its off variant: flagd's DISABLED would serve the caller's
        // default instead, so it is an enabled flag whose default is the off variant.
        let (default, targeting) = if flag.enabled {
            if !flag.prerequisites.is_empty() {
                return Err("prerequisites (a flagd flag cannot depend on another flag)".into());
            }
            let targeting = if flag.rules.is_empty() {
                None
            } else {
                let mut branches = Vec::with_capacity(2 * flag.rules.len() + 1);
                for rule in &flag.rules {
                    let (condition, serve) = self
                        .rule(flag, rule)
                        .map_err(|construct| format!("rule `{}`: {construct}", rule.name))?;
                    branches.push(condition);
                    branches.push(serve);
                }
                branches.push(to_json(&flag.fallthrough));
                Some(op("if", &branches))
            };
            (&flag.fallthrough, targeting)
        } else {
            (&flag.off_variant, None)
        };
        // The keys in byte order, as serde_json writes an object.
        let mut out = b"{\"defaultVariant\":".to_vec();
        put(&mut out, default);
        if let Some(metadata) = metadata {
            out.extend_from_slice(b",\"metadata\":");
            put(&mut out, metadata);
        }
        out.extend_from_slice(b",\"state\":\"ENABLED\"");
        if let Some(targeting) = targeting {
            out.extend_from_slice(b",\"targeting\":");
            out.extend_from_slice(&targeting);
        }
        out.extend_from_slice(b",\"variants\":");
        put(&mut out, &flag.variants);
        out.push(b'}');
        Ok(out)
    }

    /// A rule's condition and what it serves.
    fn rule(&self, flag: &Flag, rule: &Rule) -> Result<(Json, Json), Refused> {
        if !rule.schedule.is_empty() {
            return Err("a schedule (flagd has no evaluation time to apply it at)".into());
        }
        let mut all = Vec::with_capacity(rule.conditions.len() + 2);
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
            all.push(present(unit));
            if rule.rollout < FULL {
                let buckets = [("in", rule.rollout), ("out", FULL - rule.rollout)];
                let bucket = fractional(&flag.salt, "rollout", unit, &buckets);
                all.push(op("===", &[&bucket[..], b"\"in\""]));
            }
        }
        let serve = match (&rule.serve, &unit) {
            (Serve::Split(weights), Some(unit)) => {
                let pairs: Vec<(&str, u32)> = weights
                    .iter()
                    .map(|w| (w.variant.as_str(), w.weight))
                    .collect();
                let split = fractional(&flag.salt, "split", unit, &pairs);
                match &flag.experiment {
                    Some(experiment) => gated(experiment, unit, split)?,
                    None => split,
                }
            }
            (Serve::Variant(v), _) => to_json(v),
            (Serve::Split(_), None) => unreachable!("a split needs a unit"),
        };
        Ok((and(all), serve))
    }

    /// The `var` of the flag's bucketing unit: a string for every unit flagd can bucket as
    /// flagstone does.
    fn unit(&self, flag: &Flag) -> Result<Json, Refused> {
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

    fn condition(&self, condition: &Condition) -> Result<Json, Refused> {
        if let Some(segment) = &condition.segment {
            let member = self.segment_condition(segment)?;
            return Ok(if condition.negate {
                op("!", &[member])
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
    fn segment_condition(&self, name: &str) -> Result<Json, Refused> {
        match self.evaluators.get(name) {
            Some(Ok(e)) if e.shared => {
                let mut out = b"{\"$ref\":".to_vec();
                put(&mut out, name);
                out.push(b'}');
                Ok(out)
            }
            Some(Ok(e)) => Ok(e.rule.clone()),
            Some(Err(construct)) => Err(construct.clone()),
            None => Err(format!("segment `{name}`: not in the bundle")),
        }
    }

    fn segment_rule(
        &mut self,
        name: &str,
        heights: &BTreeMap<&str, usize>,
    ) -> Result<Json, Refused> {
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
                        op("!", &[inner])
                    } else {
                        inner
                    }
                }
                None => self
                    .attribute_condition(condition)
                    .map_err(|construct| format!("segment `{name}`: {construct}"))?,
            });
        }
        let included = op("in", &[key.clone(), to_json(&segment.include)]);
        let mut member = if conditions.is_empty() {
            included
        } else {
            op("or", &[included, and(conditions)])
        };
        if !segment.exclude.is_empty() {
            let excluded = op("in", &[key, to_json(&segment.exclude)]);
            member = op("and", &[op("!", &[excluded]), member]);
        }
        Ok(member)
    }

    fn attribute_condition(&self, condition: &Condition) -> Result<Json, Refused> {
        let (Some(attr), Some(operator)) = (&condition.attr, condition.op) else {
            return Err("a condition with neither an attribute nor a segment".into());
        };
        let x = &var(attr)?[..];
        let values = &condition.values;
        if condition.ignore_case {
            return Err(format!(
                "`{}` with ignore_case (flagd compares strings as they are)",
                operator.as_str()
            ));
        }
        let all = || to_json(values);
        let each = |f: &dyn Fn(&[u8]) -> Json| -> Vec<Json> {
            values.iter().map(|v| f(&to_json(v))).collect()
        };
        let any = |f: &dyn Fn(&[u8]) -> Json| or(each(f));
        let single = || values.first().map_or_else(|| NULL.to_vec(), to_json);
        let guarded = |test: Json| and(vec![present(x), test]);
        let not = |test: Json| and(vec![present(x), op("!", &[test])]);
        let compare = |operator: &str| guarded(op(operator, &[x, &single()]));
        let semver = |relation: &[u8]| guarded(op("sem_ver", &[x, relation, &single()]));
        let starts = |v: &[u8]| op("starts_with", &[x, v]);
        let ends = |v: &[u8]| op("ends_with", &[x, v]);
        let within = |v: &[u8]| op("in", &[v, x]);
        Ok(match operator {
            Op::In => op("in", &[x, &all()]),
            Op::NotIn => not(op("in", &[x, &all()])),
            Op::StartsWith => any(&starts),
            Op::NotStartsWith => not(any(&starts)),
            Op::EndsWith => any(&ends),
            Op::NotEndsWith => not(any(&ends)),
            Op::Contains => guarded(any(&within)),
            Op::NotContains => not(any(&within)),
            Op::Gt => compare(">"),
            Op::Gte => compare(">="),
            Op::Lt => compare("<"),
            Op::Lte => compare("<="),
            Op::SemverEq => semver(b"\"=\""),
            Op::SemverGt => semver(b"\">\""),
            Op::SemverGte => semver(b"\">=\""),
            Op::SemverLt => semver(b"\"<\""),
            Op::SemverLte => semver(b"\"<=\""),
            Op::Exists => present(x),
            Op::NotExists => op("===", &[x, NULL]),
            Op::ContainsAny => guarded(any(&within)),
            Op::ContainsAll => guarded(and(each(&within))),
            Op::ContainsNone => not(any(&within)),
            Op::Matches | Op::NotMatches => {
                return Err(format!(
                    "`{}` (a Rust regular expression; flagd has none)",
                    operator.as_str()
                ));
            }
            Op::Before | Op::After => {
                return Err(format!(
                    "`{}` (a date-time comparison; flagd has none)",
                    operator.as_str()
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
fn var(path: &str) -> Result<Json, Refused> {
    let name = if path == TARGETING_KEY {
        OPENFEATURE_TARGETING_KEY
    } else if path.split('.').next() == Some(OPENFEATURE_TARGETING_KEY) {
        return Err(format!(
            "the attribute `{path}` (OpenFeature's targetingKey is flagstone's targeting_key)"
        ));
    } else {
        path
    };
    let mut out = b"{\"var\":".to_vec();
    put(&mut out, name);
    out.push(b'}');
    Ok(out)
}

/// The value is there: flagd reads a missing value as null. Strict, since flagd's JavaScript
/// evaluator's loose `!=` holds 0 equal to null and throws on arrays.
fn present(x: &[u8]) -> Json {
    op("!==", &[x, NULL])
}

fn and(mut tests: Vec<Json>) -> Json {
    match tests.len() {
        0 => b"true".to_vec(),
        1 => tests.pop().expect("one test"),
        _ => op("and", &tests),
    }
}

fn or(mut tests: Vec<Json>) -> Json {
    match tests.len() {
        0 => b"false".to_vec(),
        1 => tests.pop().expect("one test"),
        _ => op("or", &tests),
    }
}

/// flagd's `fractional` over flagstone's bucketing key `{salt}/{purpose}/{unit}`: the same
/// MurmurHash3 bucket among the same total, the buckets in the same order.
fn fractional(salt: &str, purpose: &str, unit: &[u8], buckets: &[(&str, u32)]) -> Json {
    let mut args = Vec::with_capacity(buckets.len() + 1);
    args.push(op(
        "cat",
        &[&to_json(&format!("{salt}/{purpose}/"))[..], unit],
    ));
    args.extend(buckets.iter().map(to_json));
    op("fractional", &args)
}

/// A split behind the experiment's holdout and layer slice: a unit outside either gets the
/// control.
fn gated(experiment: &Experiment, unit: &[u8], split: Json) -> Result<Json, Refused> {
    let mut branches = Vec::new();
    if let Some(holdout) = &experiment.holdout {
        ascii_salt("the holdout's salt", &holdout.salt)?;
        let buckets = [("held", holdout.percent), ("kept", FULL - holdout.percent)];
        let bucket = fractional(&holdout.salt, "holdout", unit, &buckets);
        branches.push(op("===", &[&bucket[..], b"\"held\""]));
        branches.push(to_json(&experiment.control));
    }
    if let Some(layer) = &experiment.layer {
        ascii_salt("the layer's salt", &layer.salt)?;
        let buckets = [
            ("below", layer.from),
            ("in", layer.to - layer.from),
            ("above", FULL - layer.to),
        ];
        let bucket = fractional(&layer.salt, "layer", unit, &buckets);
        branches.push(op("!==", &[&bucket[..], b"\"in\""]));
        branches.push(to_json(&experiment.control));
    }
    if branches.is_empty() {
        return Ok(split);
    }
    branches.push(split);
    Ok(op("if", &branches))
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
