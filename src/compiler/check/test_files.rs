//! Checks of test files: what they refer to must exist, and contexts must fit the declared
//! attributes.

use serde_json::Value;

use crate::diag::Code;
use crate::literal::parse_timestamp;
use std::ops::Range;

use crate::model::{AttrType, Payload, Scalar, Spanned, Str, Table, Timestamp};

use super::{Lookup, Scope, TARGETING_KEY, timestamp_millis};

impl Scope<'_> {
    pub(super) fn tests(&mut self) {
        let repo = self.repo;
        for loaded in &repo.tests {
            let Some(tests) = &loaded.doc else { continue };
            let file = repo.path(loaded.file);
            if tests.cases.is_empty() && tests.distributions.is_empty() {
                self.push(
                    Code::BadTest,
                    file,
                    0..0,
                    "the test file has no cases".into(),
                )
                .help = Some("add `[[cases]]` or `[[distributions]]`".into());
            }
            for case in &tests.cases {
                let c = &case.value;
                self.known_environment(file, &c.env);
                self.context(file, c.context.as_ref());
                self.now(file, c.now.as_ref());
                if c.variants.is_empty() && c.values.is_empty() {
                    self.push(
                        Code::BadTest,
                        file,
                        c.name.span(),
                        format!("case `{}` expects nothing", c.name.value),
                    )
                    .help = Some(
                        "add `variants = { \"flag\" = \"variant\" }` or `values = {...}`".into(),
                    );
                }
                for (flag_key, variant) in &c.variants {
                    if self.known_flag(file, flag_key)
                        && let Some(flag) = self.flag(flag_key)
                    {
                        self.known_variant(file, flag_key, flag, variant);
                    }
                }
                for flag_key in c.values.keys() {
                    self.known_flag(file, flag_key);
                }
            }
            for distribution in &tests.distributions {
                let d = &distribution.value;
                self.known_environment(file, &d.env);
                self.context(file, d.context.as_ref());
                self.now(file, d.now.as_ref());
                let flag = if self.known_flag(file, &d.flag) {
                    self.flag(&d.flag)
                } else {
                    None
                };
                if d.expect.is_empty() {
                    self.push(
                        Code::BadTest,
                        file,
                        d.expect.span(),
                        format!("distribution `{}` expects nothing", d.name.value),
                    )
                    .help = Some(
                        "give the expected percentage of each variant, e.g. `expect = { on = 25 }`"
                            .into(),
                    );
                }
                let mut total = 0.0;
                for (variant, share) in d.expect.iter() {
                    if let Some(flag) = flag {
                        self.known_variant(file, &d.flag, flag, variant);
                    }
                    if !(0.0..=100.0).contains(&share.value) {
                        self.push(
                            Code::BadTest,
                            file,
                            share.span(),
                            format!("expected share {} is outside 0–100", share.value),
                        );
                    }
                    total += share.value;
                }
                if total > 100.0 + 1e-9 {
                    self.push(
                        Code::BadTest,
                        file,
                        d.expect.span(),
                        format!("expected shares add up to {total}, more than 100"),
                    );
                }
                if let Some(tolerance) = &d.tolerance
                    && !(tolerance.value > 0.0 && tolerance.value <= 100.0)
                {
                    self.push(
                        Code::BadTest,
                        file,
                        tolerance.span(),
                        format!(
                            "tolerance {} must be above 0 and at most 100",
                            tolerance.value
                        ),
                    );
                }
            }
        }
    }

    fn now(&mut self, file: &str, now: Option<&Spanned<Timestamp>>) {
        if let Some(now) = now
            && timestamp_millis(&now.0).is_none()
        {
            self.push(
                Code::InvalidDatetime,
                file,
                now.span(),
                format!("`now` must be a date-time with an offset, found {}", now.0),
            )
            .help = Some("e.g. now = 2026-12-01T09:00:00Z".into());
        }
    }

    /// Checks that every attribute in a context is declared and has its declared type and
    /// an allowed value. Nested tables address dotted attributes: `org = { id = "o1" }` sets
    /// `org.id`. Values inside nested tables are located at their top-level entry.
    fn context(&mut self, file: &str, context: Option<&Spanned<Table<Spanned<Payload>>>>) {
        let Some(context) = context else { return };
        let mut pending: Vec<ContextEntry<'_>> = context
            .iter()
            .rev()
            .map(|(key, value)| ContextEntry {
                path: key.as_str().to_owned(),
                key_start: 0,
                key_span: key.span(),
                value_span: value.span(),
                value: &value.0,
            })
            .collect();
        while let Some(entry) = pending.pop() {
            let key = &entry.path[entry.key_start..];
            if key.is_empty() || key.contains('.') {
                self.push(
                    Code::BadContextValue,
                    file,
                    entry.key_span,
                    format!("context key `{}` is not an attribute name", entry.path),
                )
                .help = Some(
                    "write dotted attributes as nested tables: `org = { id = \"o-1\" }` for `org.id`"
                        .into(),
                );
                continue;
            }
            let name = Spanned::new(Str::new(&entry.path), entry.key_span.clone());
            match self.attribute(&name) {
                Lookup::Unchecked => {}
                Lookup::Declared(ty, allowed) => self.context_value(file, &entry, ty, allowed),
                Lookup::Unknown => match entry.value {
                    Value::Object(inner) => {
                        pending.extend(inner.iter().rev().map(|(k, v)| ContextEntry {
                            path: format!("{}.{k}", entry.path),
                            key_start: entry.path.len() + 1,
                            key_span: entry.key_span.clone(),
                            value_span: entry.value_span.clone(),
                            value: v,
                        }))
                    }
                    _ => self.unknown_attribute(file, &name),
                },
            }
        }
    }

    /// Checks a context value against its attribute's declaration.
    fn context_value(
        &mut self,
        file: &str,
        entry: &ContextEntry<'_>,
        ty: AttrType,
        allowed: Option<&[Spanned<Scalar>]>,
    ) {
        let (name, value) = (entry.path.as_str(), entry.value);
        // A unit's key may also be an integer, bucketed by its decimal form.
        if name == TARGETING_KEY && value.is_i64() {
            return;
        }
        if !json_fits(value, ty) {
            self.push(
                Code::BadContextValue,
                file,
                entry.value_span.clone(),
                format!(
                    "context attribute `{name}` is declared {}, but its value is {value}",
                    ty.as_str()
                ),
            )
            .help = Some(format!(
                "give a {} value, as declared in flagstone.toml",
                ty.as_str()
            ));
            return;
        }
        let Some(allowed) = allowed else { return };
        let items = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        if let Some(bad) = items
            .into_iter()
            .find(|item| !allowed.iter().any(|a| scalar_is(&a.value, item)))
        {
            let names: Vec<String> = allowed.iter().map(|a| a.value.to_string()).collect();
            self.push(
                Code::ValueNotAllowed,
                file,
                entry.value_span.clone(),
                format!("{bad} is not an allowed value of `{name}`"),
            )
            .help = Some(format!("allowed values: {}", names.join(", ")));
        }
    }
}

/// One attribute of a test context, on its way to being checked.
struct ContextEntry<'a> {
    /// The attribute path, e.g. "org.id".
    path: String,
    /// Where the path's last key starts.
    key_start: usize,
    key_span: Range<usize>,
    value_span: Range<usize>,
    value: &'a Value,
}

/// Whether a context value equals an allowed value.
fn scalar_is(allowed: &Scalar, value: &Value) -> bool {
    match (allowed, value) {
        (Scalar::String(a), Value::String(v)) => a == v,
        (Scalar::Bool(a), Value::Bool(v)) => a == v,
        (Scalar::Int(a), Value::Number(v)) => v.as_f64() == Some(*a as f64),
        (Scalar::Float(a), Value::Number(v)) => v.as_f64() == Some(*a),
        _ => false,
    }
}

/// Whether a context value has the attribute type `ty`.
pub(super) fn json_fits(value: &Value, ty: AttrType) -> bool {
    match (ty, value) {
        (AttrType::String, Value::String(_)) => true,
        (AttrType::Number, Value::Number(_)) => true,
        (AttrType::Boolean, Value::Bool(_)) => true,
        (AttrType::Semver, Value::String(s)) => semver::Version::parse(s).is_ok(),
        (AttrType::Datetime, Value::String(s)) => parse_timestamp(s).is_some(),
        (AttrType::StringList, Value::Array(items)) => items.iter().all(Value::is_string),
        (AttrType::Ip, Value::String(s)) => s.parse::<std::net::IpAddr>().is_ok(),
        _ => false,
    }
}
