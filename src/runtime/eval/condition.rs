//! Conditions compiled for evaluation: operands parsed once at load, tests that allocate
//! nothing.
//!
//! The missing-attribute rule: a condition on an attribute the context does not have — or
//! has with a value of another type than declared — is false, for every operator, negated
//! ones included; only `not_exists` is true then.

use std::net::IpAddr;

use serde_json::Value;

use crate::literal::{Cidr, parse_timestamp};
use crate::op::{AttrType, Op};

/// A dotted attribute path ("org.id"), looked up through nested objects.
#[derive(Clone, Debug)]
pub struct Path {
    name: Box<str>,
    keys: Vec<Box<str>>,
}

impl Path {
    pub fn new(path: &str) -> Path {
        Path {
            name: path.into(),
            keys: path.split('.').map(Into::into).collect(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn lookup<'c>(&self, context: &'c Value) -> Option<&'c Value> {
        let mut value = context;
        for key in &self.keys {
            value = member(value.as_object()?, key)?;
        }
        (!value.is_null()).then_some(value)
    }
}

/// An object's member. Contexts are usually small: scanning a few keys, comparing lengths
/// first, beats the map's ordered search, whose every step compares bytes.
fn member<'c>(object: &'c serde_json::Map<String, Value>, key: &str) -> Option<&'c Value> {
    if object.len() > 8 {
        return object.get(key);
    }
    object
        .iter()
        .find(|(k, _)| k.len() == key.len() && k.as_str() == key)
        .map(|(_, v)| v)
}

/// An attribute test, ready to run.
#[derive(Clone, Debug)]
pub struct AttributeTest {
    pub path: Path,
    /// The declared type; a value of another type counts as missing.
    ty: AttrType,
    test: Test,
}

#[derive(Clone, Debug)]
enum Test {
    /// Equality against any of the values (`in`, `not_in`); with `ignore_case`, string
    /// operands are held folded (see [`fold`]).
    Equals {
        values: Vec<Value>,
        ignore_case: bool,
        negate: bool,
    },
    /// With `ignore_case`, the operands are held folded.
    Text {
        kind: TextOp,
        values: Vec<String>,
        ignore_case: bool,
        negate: bool,
    },
    Matches {
        regex: regex::Regex,
        negate: bool,
    },
    Number {
        op: Op,
        value: f64,
    },
    Semver {
        op: Op,
        version: semver::Version,
        /// The version as (major, minor, patch) when it has no pre-release part.
        plain: Option<(u64, u64, u64)>,
    },
    Time {
        after: bool,
        millis: i64,
    },
    Exists {
        negate: bool,
    },
    List {
        op: Op,
        values: Vec<String>,
    },
    Cidr(Vec<Cidr>),
}

#[derive(Clone, Copy, Debug)]
enum TextOp {
    StartsWith,
    EndsWith,
    Contains,
}

impl AttributeTest {
    /// Compiles a bundle condition; the error says what is malformed.
    pub fn compile(
        attr: &str,
        ty: AttrType,
        op: Op,
        values: Vec<Value>,
        ignore_case: bool,
    ) -> Result<AttributeTest, String> {
        let strings = || -> Result<Vec<String>, String> {
            values
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("operand {v} of `{}` is not a string", op.as_str()))
                })
                .collect()
        };
        let single = || {
            values
                .first()
                .filter(|_| values.len() == 1)
                .ok_or_else(|| format!("`{}` takes exactly one operand", op.as_str()))
        };
        let text = |kind, negate| -> Result<Test, String> {
            let mut values = strings()?;
            if ignore_case {
                values.iter_mut().for_each(|v| *v = fold(v));
            }
            Ok(Test::Text {
                kind,
                values,
                ignore_case,
                negate,
            })
        };
        let test = match op {
            Op::In | Op::NotIn => Test::Equals {
                values: values
                    .iter()
                    .map(|v| match v {
                        Value::String(text) if ignore_case => Value::String(fold(text)),
                        _ => v.clone(),
                    })
                    .collect(),
                ignore_case,
                negate: op == Op::NotIn,
            },
            Op::StartsWith => text(TextOp::StartsWith, false)?,
            Op::NotStartsWith => text(TextOp::StartsWith, true)?,
            Op::EndsWith => text(TextOp::EndsWith, false)?,
            Op::NotEndsWith => text(TextOp::EndsWith, true)?,
            Op::Contains => text(TextOp::Contains, false)?,
            Op::NotContains => text(TextOp::Contains, true)?,
            Op::Matches | Op::NotMatches => {
                let pattern = single()?
                    .as_str()
                    .ok_or("a regex operand must be a string")?;
                let regex = regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("invalid regex {pattern:?}: {e}"))?;
                Test::Matches {
                    regex,
                    negate: op == Op::NotMatches,
                }
            }
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => Test::Number {
                op,
                value: single()?
                    .as_f64()
                    .ok_or("a comparison operand must be a number")?,
            },
            Op::SemverEq | Op::SemverGt | Op::SemverGte | Op::SemverLt | Op::SemverLte => {
                let text = single()?
                    .as_str()
                    .ok_or("a semver operand must be a string")?;
                let version = semver::Version::parse(text)
                    .map_err(|e| format!("invalid semantic version {text:?}: {e}"))?;
                let plain =
                    version
                        .pre
                        .is_empty()
                        .then_some((version.major, version.minor, version.patch));
                Test::Semver { op, version, plain }
            }
            Op::Before | Op::After => Test::Time {
                after: op == Op::After,
                millis: single()?
                    .as_i64()
                    .ok_or("a date-time operand must be milliseconds")?,
            },
            Op::Exists | Op::NotExists => Test::Exists {
                negate: op == Op::NotExists,
            },
            Op::ContainsAny | Op::ContainsAll | Op::ContainsNone => Test::List {
                op,
                values: strings()?,
            },
            Op::InCidr => Test::Cidr(
                strings()?
                    .iter()
                    .map(|s| Cidr::parse(s).ok_or_else(|| format!("invalid network {s:?}")))
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(AttributeTest {
            path: Path::new(attr),
            ty,
            test,
        })
    }

    /// Refuses a test whose operands exceed the limits evaluation's cost is stated for.
    pub fn verify(&self) -> Result<(), String> {
        use super::verify::limits::OPERANDS;
        use super::verify::{at_most, string};
        string(self.path.name(), "an attribute path")?;
        let strings = |values: &[String]| {
            at_most(values.len(), OPERANDS, "operands")?;
            values.iter().try_for_each(|v| string(v, "an operand"))
        };
        match &self.test {
            Test::Equals { values, .. } => {
                at_most(values.len(), OPERANDS, "operands")?;
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .try_for_each(|v| string(v, "an operand"))
            }
            Test::Text { values, .. } | Test::List { values, .. } => strings(values),
            Test::Matches { regex, .. } => string(regex.as_str(), "a pattern"),
            Test::Cidr(networks) => at_most(networks.len(), OPERANDS, "operands"),
            Test::Number { .. } | Test::Semver { .. } | Test::Time { .. } | Test::Exists { .. } => {
                Ok(())
            }
        }
    }

    /// Whether the condition holds, given the attribute's value in the context.
    pub fn holds(&self, value: Option<&Value>) -> bool {
        let value = value.filter(|v| has_type(v, self.ty));
        let Some(value) = value else {
            return matches!(self.test, Test::Exists { negate: true });
        };
        match &self.test {
            Test::Equals {
                values,
                ignore_case,
                negate,
            } => values.iter().any(|v| equal(v, value, *ignore_case)) != *negate,
            Test::Text {
                kind,
                values,
                ignore_case,
                negate,
            } => {
                let Some(text) = value.as_str() else {
                    return false;
                };
                values
                    .iter()
                    .any(|v| text_test(*kind, text, v, *ignore_case))
                    != *negate
            }
            Test::Matches { regex, negate } => value
                .as_str()
                .is_some_and(|text| regex.is_match(text) != *negate),
            Test::Number { op, value: operand } => value.as_f64().is_some_and(|x| match op {
                Op::Gt => x > *operand,
                Op::Gte => x >= *operand,
                Op::Lt => x < *operand,
                _ => x <= *operand,
            }),
            Test::Semver { op, version, plain } => {
                let Some(text) = value.as_str() else {
                    return false;
                };
                // Precedence, as SemVer defines it: build metadata does not count.
                let order = match (plain_version(text), plain) {
                    (Some(v), Some(operand)) => v.cmp(operand),
                    _ => match semver::Version::parse(text) {
                        Ok(v) => v.cmp_precedence(version),
                        Err(_) => return false,
                    },
                };
                match op {
                    Op::SemverEq => order.is_eq(),
                    Op::SemverGt => order.is_gt(),
                    Op::SemverGte => order.is_ge(),
                    Op::SemverLt => order.is_lt(),
                    _ => order.is_le(),
                }
            }
            Test::Time { after, millis } => value
                .as_str()
                .and_then(parse_timestamp)
                .is_some_and(|t| if *after { t > *millis } else { t < *millis }),
            Test::Exists { negate } => !*negate,
            Test::List { op, values } => {
                let Some(items) = value.as_array() else {
                    return false;
                };
                let has =
                    |wanted: &String| items.iter().any(|i| i.as_str() == Some(wanted.as_str()));
                match op {
                    Op::ContainsAny => values.iter().any(has),
                    Op::ContainsAll => values.iter().all(has),
                    _ => !values.iter().any(has),
                }
            }
            Test::Cidr(networks) => value
                .as_str()
                .and_then(|text| text.parse::<IpAddr>().ok())
                .is_some_and(|ip| networks.iter().any(|n| n.contains(ip))),
        }
    }
}

/// A plain `MAJOR.MINOR.PATCH` version, read without the full parser: most versions in
/// contexts are plain. `None` for anything else (pre-releases, build metadata, leading zeros,
/// invalid text), which the full parser then decides.
fn plain_version(text: &str) -> Option<(u64, u64, u64)> {
    let mut bytes = text.as_bytes();
    let mut number = |last: bool| -> Option<u64> {
        let end = if last {
            bytes.len()
        } else {
            bytes.iter().position(|b| *b == b'.')?
        };
        let (digits, rest) = bytes.split_at(end);
        if digits.is_empty() || digits.len() > 19 || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        let mut value = 0u64;
        for digit in digits {
            if !digit.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u64::from(digit - b'0');
        }
        bytes = rest.get(1..).unwrap_or_default();
        Some(value)
    };
    Some((number(false)?, number(false)?, number(true)?))
}

/// Whether a context value has the declared type.
fn has_type(value: &Value, ty: AttrType) -> bool {
    match ty {
        AttrType::String | AttrType::Semver | AttrType::Datetime | AttrType::Ip => {
            value.is_string()
        }
        AttrType::Number => value.is_number(),
        AttrType::Boolean => value.is_boolean(),
        AttrType::StringList => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
    }
}

/// A string folded for case-insensitive comparison: lower-cased character by character, as
/// context values are when compared with it.
fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// The lower-cased characters of a context value, produced as compared: no allocation.
fn folded(text: &str) -> impl DoubleEndedIterator<Item = char> + '_ {
    text.chars().flat_map(char::to_lowercase)
}

/// `operand` is folded when `ignore_case`.
fn equal(operand: &Value, value: &Value, ignore_case: bool) -> bool {
    match (operand, value) {
        (Value::String(a), Value::String(b)) if ignore_case => eq_folded(a, b),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => operand == value,
    }
}

/// `operand` is folded when `ignore_case`.
fn text_test(kind: TextOp, text: &str, operand: &str, ignore_case: bool) -> bool {
    if !ignore_case {
        return match kind {
            TextOp::StartsWith => text.starts_with(operand),
            TextOp::EndsWith => text.ends_with(operand),
            TextOp::Contains => text.contains(operand),
        };
    }
    if text.is_ascii() && operand.is_ascii() {
        let (t, o) = (text.as_bytes(), operand.as_bytes());
        return match kind {
            TextOp::StartsWith => t.len() >= o.len() && t[..o.len()].eq_ignore_ascii_case(o),
            TextOp::EndsWith => {
                t.len() >= o.len() && t[t.len() - o.len()..].eq_ignore_ascii_case(o)
            }
            TextOp::Contains => {
                o.is_empty() || t.windows(o.len()).any(|w| w.eq_ignore_ascii_case(o))
            }
        };
    }
    // Unicode lower-casing can change lengths, so the folded streams are compared.
    match kind {
        TextOp::StartsWith => {
            let mut stream = folded(text);
            operand.chars().all(|o| stream.next() == Some(o))
        }
        TextOp::EndsWith => {
            let mut stream = folded(text).rev();
            operand.chars().rev().all(|o| stream.next() == Some(o))
        }
        // From every position of the folded text, including those inside a character that
        // folds to several.
        TextOp::Contains => {
            text.char_indices().any(|(i, c)| {
                (0..c.to_lowercase().len()).any(|skip| {
                    let mut stream = folded(&text[i..]).skip(skip);
                    operand.chars().all(|o| stream.next() == Some(o))
                })
            }) || operand.is_empty()
        }
    }
}

/// `operand` is folded.
fn eq_folded(operand: &str, text: &str) -> bool {
    if text.is_ascii() && operand.is_ascii() {
        return operand.eq_ignore_ascii_case(text);
    }
    folded(text).eq(operand.chars())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn semver(op: Op, operand: &str, value: &str) -> bool {
        let test =
            AttributeTest::compile("v", AttrType::Semver, op, vec![Value::from(operand)], false)
                .unwrap();
        test.holds(Some(&Value::from(value)))
    }

    /// Whether `op` with `operands` holds for the attribute `a` (declared `ty`) in `context`.
    fn holds(ty: AttrType, op: Op, operands: Value, ignore_case: bool, context: Value) -> bool {
        let operands = operands.as_array().cloned().unwrap_or_default();
        let test = AttributeTest::compile("a", ty, op, operands, ignore_case).unwrap();
        test.holds(test.path.lookup(&context))
    }

    #[test]
    fn every_operator_on_present_values() {
        use AttrType::*;
        use serde_json::json;
        let cases: &[(AttrType, Op, Value, bool, Value, bool)] = &[
            (
                String,
                Op::In,
                json!(["US", "CA"]),
                false,
                json!("CA"),
                true,
            ),
            (String, Op::In, json!(["US"]), false, json!("us"), false),
            (String, Op::In, json!(["US"]), true, json!("us"), true),
            (String, Op::NotIn, json!(["US"]), false, json!("DE"), true),
            (Number, Op::In, json!([1.0, 2.0]), false, json!(2), true),
            (Boolean, Op::In, json!([true]), false, json!(false), false),
            (
                String,
                Op::StartsWith,
                json!(["ab", "x"]),
                false,
                json!("abc"),
                true,
            ),
            (
                String,
                Op::NotStartsWith,
                json!(["ab"]),
                false,
                json!("abc"),
                false,
            ),
            (
                String,
                Op::EndsWith,
                json!(["@ACME.COM"]),
                true,
                json!("ana@acme.com"),
                true,
            ),
            (
                String,
                Op::NotEndsWith,
                json!(["c"]),
                false,
                json!("abc"),
                false,
            ),
            (
                String,
                Op::Contains,
                json!(["Ü"]),
                true,
                json!("grüße"),
                true,
            ),
            (
                String,
                Op::NotContains,
                json!(["z"]),
                false,
                json!("abc"),
                true,
            ),
            (
                String,
                Op::Matches,
                json!(["^a.c$"]),
                false,
                json!("abc"),
                true,
            ),
            (
                String,
                Op::NotMatches,
                json!(["^a"]),
                false,
                json!("abc"),
                false,
            ),
            (Number, Op::Gt, json!([10.0]), false, json!(10.5), true),
            (Number, Op::Gte, json!([10.0]), false, json!(10), true),
            (Number, Op::Lt, json!([10.0]), false, json!(10), false),
            (Number, Op::Lte, json!([10.0]), false, json!(10), true),
            (
                Semver,
                Op::SemverEq,
                json!(["1.2.3"]),
                false,
                json!("1.2.3"),
                true,
            ),
            (
                Semver,
                Op::SemverGt,
                json!(["1.2.3"]),
                false,
                json!("1.10.0"),
                true,
            ),
            (
                Semver,
                Op::SemverGte,
                json!(["1.2.3"]),
                false,
                json!("1.2.3"),
                true,
            ),
            (
                Semver,
                Op::SemverLt,
                json!(["1.2.3"]),
                false,
                json!("1.2.3-rc.1"),
                true,
            ),
            (
                Semver,
                Op::SemverLte,
                json!(["1.2.3"]),
                false,
                json!("1.2.4"),
                false,
            ),
            (
                Datetime,
                Op::Before,
                json!([1_000_000]),
                false,
                json!("1970-01-01T00:00:01Z"),
                true,
            ),
            (
                Datetime,
                Op::After,
                json!([1_000_000]),
                false,
                json!("1970-01-01T00:16:41Z"),
                true,
            ),
            (
                Datetime,
                Op::After,
                json!([1_000_000]),
                false,
                json!("1970-01-01T00:16:40Z"),
                false,
            ),
            (String, Op::Exists, json!([]), false, json!(""), true),
            (String, Op::NotExists, json!([]), false, json!("x"), false),
            (
                StringList,
                Op::ContainsAny,
                json!(["a", "z"]),
                false,
                json!(["a", "b"]),
                true,
            ),
            (
                StringList,
                Op::ContainsAll,
                json!(["a", "z"]),
                false,
                json!(["a", "b"]),
                false,
            ),
            (
                StringList,
                Op::ContainsNone,
                json!(["z"]),
                false,
                json!(["a", "b"]),
                true,
            ),
            (
                Ip,
                Op::InCidr,
                json!(["10.0.0.0/8"]),
                false,
                json!("10.1.2.3"),
                true,
            ),
            (
                Ip,
                Op::InCidr,
                json!(["10.0.0.0/8"]),
                false,
                json!("11.1.2.3"),
                false,
            ),
            (
                Ip,
                Op::InCidr,
                json!(["2001:db8::/32"]),
                false,
                json!("2001:db8::1"),
                true,
            ),
        ];
        for (ty, op, operands, ignore_case, value, expected) in cases {
            let context = json!({ "a": value });
            assert_eq!(
                holds(*ty, *op, operands.clone(), *ignore_case, context),
                *expected,
                "{op:?} {operands} on {value}"
            );
        }
    }

    #[test]
    fn missing_or_mistyped_attributes_fail_every_operator_but_not_exists() {
        use serde_json::json;
        for &op in Op::ALL {
            let ty = match op {
                Op::Gt | Op::Gte | Op::Lt | Op::Lte => AttrType::Number,
                Op::SemverEq | Op::SemverGt | Op::SemverGte | Op::SemverLt | Op::SemverLte => {
                    AttrType::Semver
                }
                Op::Before | Op::After => AttrType::Datetime,
                Op::ContainsAny | Op::ContainsAll | Op::ContainsNone => AttrType::StringList,
                Op::InCidr => AttrType::Ip,
                _ => AttrType::String,
            };
            let operands = match (op.operand(), ty) {
                (crate::op::Operand::None, _) => json!([]),
                (_, AttrType::Number) => json!([1.0]),
                (_, AttrType::Semver) => json!(["1.0.0"]),
                (_, AttrType::Datetime) => json!([0]),
                (_, AttrType::Ip) => json!(["10.0.0.0/8"]),
                _ => json!(["x"]),
            };
            let expected = op == Op::NotExists;
            for context in [
                json!({}),
                json!({"a": null}),
                json!({"a": {"b": 1}}),
                json!({"a": [1]}),
            ] {
                // A list of numbers is mistyped even for a string_list attribute.
                assert_eq!(
                    holds(ty, op, operands.clone(), false, context.clone()),
                    expected,
                    "{op:?} on {context}"
                );
            }
        }
    }

    #[test]
    fn folded_operands_compare_as_lower_cased_character_streams() {
        // The definition: both sides lower-cased character by character, then compared.
        let lower = |s: &str| {
            s.chars()
                .flat_map(char::to_lowercase)
                .collect::<Vec<char>>()
        };
        let texts = [
            "",
            "a",
            "A",
            "abc",
            "İstanbul",
            "iİi",
            "STRASSE",
            "straße",
            "ΣΑΣ",
            "σας",
            "\u{212A}elvin",
            "kelvin",
            "Grüße",
            "GRÜSSE",
            "i\u{307}",
            "x\u{307}y",
        ];
        for text in texts {
            for operand in texts {
                let (t, o) = (lower(text), lower(operand));
                let folded = fold(operand);
                for (kind, expected) in [
                    (TextOp::StartsWith, t.starts_with(&o)),
                    (TextOp::EndsWith, t.ends_with(&o)),
                    (
                        TextOp::Contains,
                        o.is_empty() || t.windows(o.len()).any(|w| w == o.as_slice()),
                    ),
                ] {
                    assert_eq!(
                        text_test(kind, text, &folded, true),
                        expected,
                        "{kind:?} {text:?} {operand:?}"
                    );
                }
                assert_eq!(eq_folded(&folded, text), t == o, "{text:?} = {operand:?}");
            }
        }
    }

    #[test]
    fn plain_versions_are_read_exactly() {
        assert_eq!(plain_version("2.3.10"), Some((2, 3, 10)));
        assert_eq!(plain_version("0.0.0"), Some((0, 0, 0)));
        for not_plain in [
            "2.3",
            "2.3.4.5",
            "02.3.4",
            "2.3.4-rc.1",
            "2.3.4+b",
            "2..3",
            "v2.3.4",
            "",
        ] {
            assert_eq!(plain_version(not_plain), None, "{not_plain}");
        }
    }

    #[test]
    fn semver_compares_by_precedence() {
        assert!(semver(Op::SemverGte, "2.0.0", "2.3.0"));
        assert!(
            semver(Op::SemverLt, "2.0.0", "2.0.0-rc.1"),
            "a pre-release precedes"
        );
        assert!(semver(Op::SemverGt, "2.0.0-rc.1", "2.0.0"));
        assert!(semver(Op::SemverGt, "2.0.0-rc.2", "2.0.0-rc.10"));
        assert!(
            semver(Op::SemverEq, "2.0.0", "2.0.0+build.5"),
            "build metadata is ignored"
        );
        assert!(semver(Op::SemverEq, "2.0.0+a", "2.0.0+b"));
        assert!(
            !semver(Op::SemverEq, "2.0.0", "02.0.0"),
            "not a version: missing"
        );
        assert!(
            !semver(Op::SemverLte, "2.0.0", "2.0"),
            "not a version: missing"
        );
    }
}
