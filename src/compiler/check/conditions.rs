//! Checks of conditions, shared by flag rules and segments.

use crate::diag::{Code, suggest};
use crate::literal::{Cidr, parse_timestamp};
use crate::model::{AttrType, Condition, Op, Operand, Scalar, Spanned};

use super::{Lookup, Scope, timestamp_millis};

impl Scope<'_> {
    pub(super) fn conditions(&mut self, file: &str, conditions: &[Spanned<Condition>]) {
        for condition in conditions {
            self.condition(file, condition);
        }
    }

    fn condition(&mut self, file: &str, condition: &Spanned<Condition>) {
        let c = &condition.value;
        let subjects = [
            c.attr.is_some(),
            c.segment.is_some(),
            c.not_segment.is_some(),
        ];
        if subjects.iter().filter(|s| **s).count() != 1 {
            self.push(
                Code::BadCondition,
                file,
                condition.span(),
                "a condition tests exactly one of `attr`, `segment` or `not_segment`".into(),
            )
            .help = Some(
                "write `{ attr = \"country\", op = \"in\", values = [\"US\"] }` or `{ segment = \"beta\" }`"
                    .into(),
            );
            return;
        }
        if let Some(segment) = c.segment.as_ref().or(c.not_segment.as_ref()) {
            if let Some(extra) = [
                c.op.as_ref().map(|o| o.span()),
                c.value.as_ref().map(|v| v.span()),
                c.values.as_ref().map(|v| v.span()),
                c.ignore_case.as_ref().map(|v| v.span()),
            ]
            .into_iter()
            .flatten()
            .next()
            {
                self.push(
                    Code::BadCondition,
                    file,
                    extra,
                    "a segment condition takes no `op`, `value`, `values` or `ignore_case`".into(),
                );
            }
            if !self.repo.segments.contains_key(segment.as_str()) {
                let help = suggest(
                    segment,
                    self.repo.segments.keys().map(String::as_str),
                    "segments",
                );
                self.push(
                    Code::UnknownSegment,
                    file,
                    segment.span(),
                    format!("unknown segment `{}`", segment.value),
                )
                .help = Some(help);
            }
            return;
        }
        let attr = c
            .attr
            .as_ref()
            .expect("exactly one subject, and it is not a segment");
        let Some(op) = &c.op else {
            self.push(
                Code::BadCondition,
                file,
                condition.span(),
                format!("the condition on `{}` has no `op`", attr.value),
            )
            .help = Some("add an operator, e.g. `op = \"in\"`".into());
            return;
        };
        if let Some(ignore_case) = &c.ignore_case
            && !op.takes_ignore_case()
        {
            self.push(
                Code::BadCondition,
                file,
                ignore_case.span(),
                format!("`ignore_case` does not apply to `{}`", op.as_str()),
            )
            .help = Some(
                "it applies to in, not_in, starts_with, ends_with, contains and their not_ forms"
                    .into(),
            );
        }
        if !self.operand_shape(file, condition, op) {
            return;
        }
        let (ty, allowed) = match self.attribute(attr) {
            Lookup::Declared(ty, allowed) => (ty, allowed),
            Lookup::Unknown => {
                self.unknown_attribute(file, attr);
                return;
            }
            Lookup::Unchecked => return,
        };
        if let Some(ignore_case) = &c.ignore_case
            && op.takes_ignore_case()
            && ty != AttrType::String
        {
            self.push(
                Code::BadCondition,
                file,
                ignore_case.span(),
                format!(
                    "`ignore_case` needs a string attribute; `{}` is a {}",
                    attr.value,
                    ty.as_str()
                ),
            );
        }
        if !op.accepts(ty) {
            let valid: Vec<&str> = Op::ALL
                .iter()
                .filter(|o| o.accepts(ty))
                .map(|o| o.as_str())
                .collect();
            self.push(
                Code::OperatorType,
                file,
                op.span(),
                format!(
                    "operator `{}` does not apply to `{}`, a {} attribute",
                    op.as_str(),
                    attr.value,
                    ty.as_str()
                ),
            )
            .help = Some(format!(
                "operators for {}: {}",
                ty.as_str(),
                valid.join(", ")
            ));
            return;
        }
        let operands: Vec<&Spanned<Scalar>> = match (&c.value, &c.values) {
            (Some(value), _) => vec![value],
            (_, Some(values)) => values.iter().collect(),
            _ => Vec::new(),
        };
        let ignore_case = c.ignore_case.as_ref().is_some_and(|i| i.value);
        for operand in operands {
            if self.operand(file, op.value, ty, operand) {
                self.allowed(file, attr.as_str(), op.value, allowed, operand, ignore_case);
            }
        }
    }

    /// Checks that the operator got `value`, `values` or neither, as it takes.
    fn operand_shape(
        &mut self,
        file: &str,
        condition: &Spanned<Condition>,
        op: &Spanned<Op>,
    ) -> bool {
        let c = &condition.value;
        let name = op.as_str();
        let (message, span) = match op.operand() {
            Operand::List => match (&c.value, &c.values) {
                (Some(value), _) => (
                    format!("`{name}` takes a list: write `values = [...]`, not `value`"),
                    value.span(),
                ),
                (None, Some(values)) if values.is_empty() => {
                    (format!("`{name}` needs at least one value"), values.span())
                }
                (None, Some(_)) => return true,
                (None, None) => (format!("`{name}` needs `values = [...]`"), condition.span()),
            },
            Operand::Single => match (&c.value, &c.values) {
                (_, Some(values)) => (
                    format!("`{name}` takes one operand: write `value = ...`, not `values`"),
                    values.span(),
                ),
                (Some(_), None) => return true,
                (None, None) => (format!("`{name}` needs `value = ...`"), condition.span()),
            },
            Operand::None => match (&c.value, &c.values) {
                (None, None) => return true,
                (Some(v), _) => (format!("`{name}` takes no operand"), v.span()),
                (None, Some(v)) => (format!("`{name}` takes no operand"), v.span()),
            },
        };
        let help = match op.operand() {
            Operand::List => "e.g. `values = [\"US\", \"CA\"]`",
            Operand::Single => "e.g. `value = \"2.0.0\"` or `value = 10`",
            Operand::None => "remove `value` / `values`",
        };
        self.push(Code::BadOperand, file, span, message).help = Some(help.into());
        false
    }

    /// Checks one operand's type and literal syntax. Returns whether it is well-formed.
    fn operand(&mut self, file: &str, op: Op, ty: AttrType, operand: &Spanned<Scalar>) -> bool {
        let span = operand.span();
        let text = match &operand.value {
            Scalar::String(s) => Some(s.as_str()),
            _ => None,
        };
        let expected = match op {
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => "a number",
            Op::In | Op::NotIn => match ty {
                AttrType::Number => "a number",
                AttrType::Boolean => "a boolean",
                _ => "a string",
            },
            Op::Before | Op::After => "a date-time",
            _ => "a string",
        };
        let fits = match (op, &operand.value) {
            (Op::Gt | Op::Gte | Op::Lt | Op::Lte, Scalar::Int(_) | Scalar::Float(_)) => true,
            (Op::In | Op::NotIn, value) => match ty {
                AttrType::Number => matches!(value, Scalar::Int(_) | Scalar::Float(_)),
                AttrType::Boolean => matches!(value, Scalar::Bool(_)),
                _ => text.is_some(),
            },
            (Op::Before | Op::After, Scalar::Datetime(_)) => true,
            (_, Scalar::String(_)) => !matches!(op, Op::Gt | Op::Gte | Op::Lt | Op::Lte),
            _ => false,
        };
        if !fits {
            self.push(
                Code::BadOperand,
                file,
                span,
                format!(
                    "`{}` compares with {expected}, found {} {}",
                    op.as_str(),
                    operand.type_name(),
                    operand.value
                ),
            )
            .help = Some(format!("write the operand as {expected}"));
            return false;
        }
        let problem = match op {
            Op::Matches | Op::NotMatches => {
                let pattern = text.unwrap_or_default();
                regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .err()
                    .map(|e| {
                        (
                            Code::InvalidRegex,
                            format!("invalid regular expression: {}", first_line(&e.to_string())),
                            "the syntax is Rust's `regex` crate (linear time: no look-around or backreferences)",
                        )
                    })
            }
            Op::SemverEq | Op::SemverGt | Op::SemverGte | Op::SemverLt | Op::SemverLte => {
                semver::Version::parse(text.unwrap_or_default()).err().map(|e| {
                    (
                        Code::InvalidSemver,
                        format!("{} is not a semantic version: {e}", operand.value),
                        "write a full version such as \"2.3.0\" or \"2.3.0-beta.1\"",
                    )
                })
            }
            Op::Before | Op::After => {
                let millis = match &operand.value {
                    Scalar::Datetime(d) => timestamp_millis(d),
                    Scalar::String(s) => parse_timestamp(s),
                    _ => None,
                };
                millis.is_none().then(|| {
                    (
                        Code::InvalidDatetime,
                        format!("{} is not a date-time with an offset", operand.value),
                        "write an RFC 3339 date-time such as 2026-12-01T09:00:00Z",
                    )
                })
            }
            Op::InCidr => Cidr::parse(text.unwrap_or_default()).is_none().then(|| {
                (
                    Code::InvalidCidr,
                    format!("{} is not an IP network", operand.value),
                    "write an address with a prefix length, such as \"10.0.0.0/8\" or \"2001:db8::/32\"",
                )
            }),
            _ => None,
        };
        match problem {
            Some((code, message, help)) => {
                self.push(code, file, span, message).help = Some(help.into());
                false
            }
            None => true,
        }
    }

    /// Checks an equality operand against the attribute's allowed values.
    fn allowed(
        &mut self,
        file: &str,
        attr: &str,
        op: Op,
        allowed: Option<&[Spanned<Scalar>]>,
        operand: &Spanned<Scalar>,
        ignore_case: bool,
    ) {
        let Some(allowed) = allowed else { return };
        let equality = matches!(
            op,
            Op::In | Op::NotIn | Op::ContainsAny | Op::ContainsAll | Op::ContainsNone
        );
        let same = |a: &Scalar| match (a, &operand.value) {
            (Scalar::String(a), Scalar::String(b)) if ignore_case => {
                a.to_lowercase() == b.to_lowercase()
            }
            (a, b) => same_scalar(a, b),
        };
        if !equality || allowed.iter().any(|a| same(&a.value)) {
            return;
        }
        let names: Vec<String> = allowed.iter().map(|a| a.value.to_string()).collect();
        let help = match &operand.value {
            Scalar::String(s) => {
                let strings: Vec<&str> = allowed
                    .iter()
                    .filter_map(|a| match &a.value {
                        Scalar::String(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect();
                crate::diag::did_you_mean(s, strings.iter().copied())
                    .map(|best| format!("did you mean \"{best}\"?"))
            }
            _ => None,
        }
        .unwrap_or_else(|| format!("allowed values: {}", names.join(", ")));
        self.push(
            Code::ValueNotAllowed,
            file,
            operand.span(),
            format!("{} is not an allowed value of `{attr}`", operand.value),
        )
        .help = Some(help);
    }
}

/// Equality of literals, with integers and floats compared as numbers.
fn same_scalar(a: &Scalar, b: &Scalar) -> bool {
    match (a, b) {
        (Scalar::Int(x), Scalar::Float(y)) | (Scalar::Float(y), Scalar::Int(x)) => *x as f64 == *y,
        _ => a == b,
    }
}

/// The gist of a `regex` error, which spans several lines with the pattern drawn in.
fn first_line(text: &str) -> &str {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().next().unwrap_or(text))
}
