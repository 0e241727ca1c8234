//! Findings: what every stage reports instead of stopping at the first problem.
//!
//! A [`Diagnostic`] is plain data (file, byte span, stable code, message, help); renderers in
//! the CLI turn it into text for people, JSON or GitHub annotations. Codes are stable: they are
//! documented in `docs/diagnostics.md` and never reused.

use std::borrow::Cow;
use std::ops::Range;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $name:literal, $severity:ident;)*) => {
        /// Stable diagnostic codes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            /// The stable code, e.g. "FS020".
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// A short kebab-case name, e.g. "unknown-attribute".
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity findings with this code have.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }
        }
    };
}

codes! {
    NotUtf8 = "FS001", "not-utf8", Error;
    TomlSyntax = "FS002", "toml-syntax", Error;
    FileTooLarge = "FS003", "file-too-large", Error;
    MissingProject = "FS004", "missing-project", Error;
    BadFileName = "FS005", "bad-file-name", Error;
    UnknownKey = "FS010", "unknown-key", Error;
    MissingKey = "FS011", "missing-key", Error;
    WrongType = "FS012", "wrong-type", Error;
    InvalidValue = "FS013", "invalid-value", Error;
    UnknownAttribute = "FS020", "unknown-attribute", Error;
    OperatorType = "FS021", "operator-type-mismatch", Error;
    ValueNotAllowed = "FS022", "value-not-allowed", Error;
    BadOperand = "FS023", "bad-operand", Error;
    InvalidRegex = "FS024", "invalid-regex", Error;
    InvalidSemver = "FS025", "invalid-semver", Error;
    InvalidDatetime = "FS026", "invalid-datetime", Error;
    InvalidCidr = "FS027", "invalid-cidr", Error;
    BadCondition = "FS028", "bad-condition", Error;
    BadContextValue = "FS029", "bad-context-value", Error;
    UnknownSegment = "FS030", "unknown-segment", Error;
    UnknownFlag = "FS031", "unknown-flag", Error;
    UnknownVariant = "FS032", "unknown-variant", Error;
    UnknownEnvironment = "FS033", "unknown-environment", Error;
    UnknownTeam = "FS034", "unknown-team", Error;
    SegmentCycle = "FS035", "segment-cycle", Error;
    PrerequisiteCycle = "FS036", "prerequisite-cycle", Error;
    SplitSum = "FS040", "split-sum", Error;
    BadRollout = "FS041", "bad-rollout", Error;
    DuplicateRule = "FS042", "duplicate-rule", Error;
    UnreachableRule = "FS043", "unreachable-rule", Error;
    ServeOrSplit = "FS044", "serve-or-split", Error;
    NoOffVariant = "FS045", "no-off-variant", Error;
    MixedVariantTypes = "FS046", "mixed-variant-types", Error;
    InvalidName = "FS047", "invalid-name", Error;
    Duplicate = "FS048", "duplicate", Error;
    MissingExpiry = "FS050", "missing-expiry", Error;
    Expired = "FS051", "expired", Warning;
    ExpiresSoon = "FS052", "expires-soon", Warning;
    ScheduleOrder = "FS053", "schedule-order", Error;
    SchedulePast = "FS054", "schedule-past", Warning;
    EmptySegment = "FS060", "empty-segment", Warning;
    BadTest = "FS061", "bad-test", Error;
    UnknownLayer = "FS062", "unknown-layer", Error;
    UnknownHoldout = "FS063", "unknown-holdout", Error;
    NoExperimentSplit = "FS064", "no-experiment-split", Error;
    LayerOverlap = "FS065", "layer-overlap", Error;
    ExperimentConflict = "FS066", "experiment-conflict", Error;
    BucketByMismatch = "FS067", "bucket-by-mismatch", Error;
    BadRange = "FS068", "bad-range", Error;
    BadMetric = "FS069", "bad-metric", Error;
    BadDesign = "FS070", "bad-design", Error;
    Underpowered = "FS071", "underpowered", Warning;
    BadLogin = "FS072", "bad-login", Error;
    CheckoutAttribute = "FS073", "checkout-attribute", Error;
    Submodule = "FS074", "submodule", Error;
    SymlinkedRepository = "FS075", "symlinked-repository", Error;
    ControlCharacter = "FS076", "control-character", Error;
    ControlCharacterInText = "FS077", "control-character-in-text", Warning;
    FindingsLeftOut = "FS078", "findings-left-out", Error;
    OverLimit = "FS079", "over-limit", Error;
    BadMetricDefinition = "FS080", "bad-metric-definition", Error;
    UnknownMetric = "FS081", "unknown-metric", Error;
    MetricMismatch = "FS082", "metric-mismatch", Error;
    BadTableName = "FS083", "bad-table-name", Error;
    BadPayloadSchema = "FS084", "bad-payload-schema", Error;
    PayloadMismatch = "FS085", "payload-mismatch", Error;
}

/// One finding in one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// Repo-relative, `/`-separated path.
    pub file: String,
    /// Byte range in the file; `None` when the finding is about the file as a whole.
    pub span: Option<Range<usize>>,
    pub message: String,
    pub help: Option<String>,
    /// How many findings this one stands for that are not listed: a note that ends a group of
    /// like findings, or the count of a file's findings past the cap (FS078). 0 for the rest.
    pub left_out: usize,
}

impl Diagnostic {
    pub fn new(code: Code, file: &str, span: Option<Range<usize>>, message: String) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            file: file.to_owned(),
            span,
            message,
            help: None,
            left_out: 0,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Characters a terminal acts on instead of showing (C0, DEL and C1 controls), and the
/// Unicode bidirectional controls, which reorder how the text around them is displayed.
pub fn is_control(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// The Bidi_Control characters: marks (ALM, LRM, RLM), embeddings, overrides and isolates.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every [`is_control`] character, line breaks and tabs included, written as a
/// visible escape (`\u{202e}`): what may reach a terminal or a log from a repository.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_control(c) {
            escaped.extend(c.escape_unicode());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// A 1-based line and column (in characters) of a byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl LineCol {
    pub fn of(text: &str, offset: usize) -> LineCol {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        LineCol {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The name among `candidates` closest to `name`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, candidate)| candidate)
}

/// `help` text for an unknown name: the likely typo, or the names that exist.
pub fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
    what: &str,
) -> String {
    match did_you_mean(name, candidates.clone()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => {
            let known: Vec<&str> = candidates.into_iter().take(8).collect();
            if known.is_empty() {
                format!("no {what} are declared")
            } else {
                format!("known {what}: {}", known.join(", "))
            }
        }
    }
}

/// A name as messages show it, inside backticks: control, format (bidi) and other unprintable
/// characters, backslashes and backticks escaped, so that it stays one inert line in
/// every output format (terminal, JSON, annotations, Markdown tables).
pub fn shown(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '`' => "\\u{60}".to_owned(),
            '\'' | '"' => c.to_string(),
            c => c.escape_debug().to_string(),
        })
        .collect()
}
