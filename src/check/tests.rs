//! Checks of test files: what they refer to must exist, and contexts must fit the declared
//! attributes.

use serde_json::Value;

use crate::diag::Code;
use crate::literal::parse_timestamp;
use crate::model::{AttrType, Name, Payload, Spanned, Timestamp};

use super::{Lookup, Scope, TARGETING_KEY, timestamp_millis};

impl Scope<'_> {
    pub(super) fn tests(&mut self) {
        let repo = self.repo;
        for loaded in &repo.tests {
            let Some(tests) = &loaded.doc else { continue };
            let file = repo.path(loaded.file);
            if tests.cases.is_empty() && tests.distributions.is_empty() {
                self.push(Code::BadTest, file, 0..0, "the test file has no cases".into())
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
                        c.name.span.clone(),
                        format!("case `{}` expects nothing", c.name.value),
                    )
                    .help = Some("add `variants = { \"flag\" = \"variant\" }` or `values = {...}`".into());
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
                let mut total = 0.0;
                for (variant, share) in d.expect.iter() {
                    if let Some(flag) = flag {
                        self.known_variant(file, &d.flag, flag, variant);
                    }
                    if !(0.0..=100.0).contains(&share.value) {
                        self.push(
                            Code::BadTest,
                            file,
                            share.span.clone(),
                            format!("expected share {} is outside 0–100", share.value),
                        );
                    }
                    total += share.value;
                }
                if total > 100.0 + 1e-9 {
                    self.push(
                        Code::BadTest,
                        file,
                        d.expect.span.clone(),
                        format!("expected shares add up to {total}, more than 100"),
                    );
                }
                if let Some(tolerance) = &d.tolerance
                    && !(tolerance.value > 0.0 && tolerance.value <= 100.0)
                {
                    self.push(
                        Code::BadTest,
                        file,
                        tolerance.span.clone(),
                        format!("tolerance {} must be above 0 and at most 100", tolerance.value),
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
                now.span.clone(),
                format!("`now` must be a date-time with an offset, found {}", now.0),
            )
            .help = Some("e.g. now = 2026-12-01T09:00:00Z".into());
        }
    }

    /// Checks that every attribute in a context is declared and has its declared type.
    /// Nested tables address dotted attributes: `org = { id = "o1" }` sets `org.id`.
    fn context(&mut self, file: &str, context: Option<&Spanned<Payload>>) {
        let Some(context) = context else { return };
        let Value::Object(map) = &context.0 else {
            self.push(
                Code::BadContextValue,
                file,
                context.span.clone(),
                "the context must be a table".into(),
            );
            return;
        };
        let mut pending: Vec<(String, &Value)> =
            map.iter().map(|(k, v)| (k.clone(), v)).collect();
        while let Some((path, value)) = pending.pop() {
            let name = Name {
                value: path,
                span: context.span.clone(),
            };
            match self.attribute(&name) {
                Lookup::Unchecked => {}
                // A unit's key may also be an integer, bucketed by its decimal form.
                Lookup::Declared(..) if name.as_str() == TARGETING_KEY && value.is_i64() => {}
                Lookup::Declared(ty, _) => {
                    if !json_fits(value, ty) {
                        self.push(
                            Code::BadContextValue,
                            file,
                            context.span.clone(),
                            format!(
                                "context attribute `{}` is declared {}, but its value is {value}",
                                name.value,
                                ty.as_str()
                            ),
                        );
                    }
                }
                Lookup::Unknown => match value {
                    Value::Object(inner) => pending.extend(
                        inner
                            .iter()
                            .map(|(k, v)| (format!("{}.{k}", name.value), v)),
                    ),
                    _ => self.unknown_attribute(file, &name),
                },
            }
        }
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
