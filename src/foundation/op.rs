//! Condition operators, shared by the repository model, bundles and the evaluator.

/// Condition operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Op {
    In,
    NotIn,
    StartsWith,
    NotStartsWith,
    EndsWith,
    NotEndsWith,
    Contains,
    NotContains,
    Matches,
    NotMatches,
    Gt,
    Gte,
    Lt,
    Lte,
    SemverEq,
    SemverGt,
    SemverGte,
    SemverLt,
    SemverLte,
    Before,
    After,
    Exists,
    NotExists,
    ContainsAny,
    ContainsAll,
    ContainsNone,
    InCidr,
}

/// How an operator takes its operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// `values = [...]`
    List,
    /// `value = ...`
    Single,
    /// neither
    None,
}

impl Op {
    pub const ALL: &[Op] = &[
        Op::In,
        Op::NotIn,
        Op::StartsWith,
        Op::NotStartsWith,
        Op::EndsWith,
        Op::NotEndsWith,
        Op::Contains,
        Op::NotContains,
        Op::Matches,
        Op::NotMatches,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::SemverEq,
        Op::SemverGt,
        Op::SemverGte,
        Op::SemverLt,
        Op::SemverLte,
        Op::Before,
        Op::After,
        Op::Exists,
        Op::NotExists,
        Op::ContainsAny,
        Op::ContainsAll,
        Op::ContainsNone,
        Op::InCidr,
    ];

    pub fn as_str(self) -> &'static str {
        use Op::*;
        match self {
            In => "in",
            NotIn => "not_in",
            StartsWith => "starts_with",
            NotStartsWith => "not_starts_with",
            EndsWith => "ends_with",
            NotEndsWith => "not_ends_with",
            Contains => "contains",
            NotContains => "not_contains",
            Matches => "matches",
            NotMatches => "not_matches",
            Gt => "gt",
            Gte => "gte",
            Lt => "lt",
            Lte => "lte",
            SemverEq => "semver_eq",
            SemverGt => "semver_gt",
            SemverGte => "semver_gte",
            SemverLt => "semver_lt",
            SemverLte => "semver_lte",
            Before => "before",
            After => "after",
            Exists => "exists",
            NotExists => "not_exists",
            ContainsAny => "contains_any",
            ContainsAll => "contains_all",
            ContainsNone => "contains_none",
            InCidr => "in_cidr",
        }
    }

    pub fn operand(self) -> Operand {
        use Op::*;
        match self {
            Exists | NotExists => Operand::None,
            Matches | NotMatches | Gt | Gte | Lt | Lte | SemverEq | SemverGt | SemverGte
            | SemverLt | SemverLte | Before | After => Operand::Single,
            _ => Operand::List,
        }
    }
}

/// The type of a context attribute: string, number, boolean, semver (a semantic version such
/// as "2.3.0"), datetime (RFC 3339), string_list, or ip (IPv4 or IPv6 address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "compiler", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttrType {
    String,
    Number,
    Boolean,
    Semver,
    Datetime,
    StringList,
    Ip,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Number => "number",
            AttrType::Boolean => "boolean",
            AttrType::Semver => "semver",
            AttrType::Datetime => "datetime",
            AttrType::StringList => "string_list",
            AttrType::Ip => "ip",
        }
    }
}
