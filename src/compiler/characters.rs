//! Control and bidirectional-control characters in keys, strings and comments (FS076, FS077).
//!
//! A terminal acts on control characters instead of showing them, and bidirectional controls
//! reorder how the text around them is displayed, so what a reviewer reads can differ from
//! what flagstone reads. Keys and names have no use for any of them: an error. Prose
//! (descriptions, hypotheses, comments) and data compared or served byte for byte (payloads,
//! operands, units, salts) may hold tabs, line breaks and the marks of right-to-left writing,
//! and flagstone cannot tell whether the rest is meant there: a warning.
//!
//! The scan reads the file's TOML events, not the parsed tree: every key occurrence (a table
//! header repeats its keys) and every comment has one, and escapes (`\u202e`) are located
//! where they are written.

use std::ops::Range;

use toml_parser::decoder::Encoding;
use toml_parser::parser::EventReceiver;
use toml_parser::{ErrorSink, Raw, Source, Span};

use crate::diag::{Code, Diagnostic, is_control};
use crate::schema::FileKind;

use crate::diag::shown;

/// The findings about control characters in a file that parses as TOML.
pub(crate) fn scan(kind: FileKind, path: &str, text: &str) -> Vec<Diagnostic> {
    // Most files hold nothing that could be reported: no escape, no multi-line string (whose
    // line breaks a name could hold), and none of the bytes that start a control character
    // other than a line feed (C0, DEL; C1: 0xC2; U+061C: 0xD8; U+200E to U+2069: 0xE2).
    let suspect = |b: u8| matches!(b, 0..=0x09 | 0x0B..=0x1F | 0x7F | b'\\' | 0xC2 | 0xD8 | 0xE2);
    if !text.bytes().any(suspect) && !text.contains("\"\"\"") && !text.contains("'''") {
        return Vec::new();
    }
    let source = Source::new(text);
    let tokens = source.lex().into_vec();
    let mut scanner = Scanner {
        kind,
        path,
        text,
        header: Vec::new(),
        keys: Vec::new(),
        value_path: None,
        containers: Vec::new(),
        found: Vec::new(),
    };
    toml_parser::parser::parse_document(&tokens, &mut scanner, &mut ());
    scanner.found
}

/// Where a character is, which decides what is allowed there.
#[derive(Clone, Copy)]
enum Place {
    Key,
    /// A string value that names something: a flag, variant, environment, owner, rule, tag…
    Name,
    /// Prose or data (see [`Scanner::is_text`]).
    Text,
    Comment,
}

struct Scanner<'t> {
    kind: FileKind,
    path: &'t str,
    text: &'t str,
    /// The keys of the last table header.
    header: Vec<String>,
    /// The keys read since the last header, key-value or separator.
    keys: Vec<String>,
    /// The full key path of the value that follows a `=`.
    value_path: Option<Vec<String>>,
    /// Open arrays and inline tables, each with its key path.
    containers: Vec<(Container, Vec<String>)>,
    found: Vec<Diagnostic>,
}

#[derive(Clone, Copy)]
enum Container {
    Array,
    InlineTable,
}

impl Scanner<'_> {
    /// The key path a value starting now belongs to.
    fn next_value_path(&mut self) -> Vec<String> {
        match self.value_path.take() {
            Some(path) => path,
            None => self
                .containers
                .last()
                .map(|(_, path)| path.clone())
                .unwrap_or_default(),
        }
    }

    /// Prose (`description`, `hypothesis`) and data that flagstone compares or serves byte for
    /// byte and cannot judge: payloads (a flag's variant values, a test's expected values and
    /// contexts), condition operands and allowed values, segment units and salts.
    fn is_text(&self, path: &[String]) -> bool {
        let has = |key: &str| path.iter().any(|k| k == key);
        let last = path.last().map_or("", String::as_str);
        match self.kind {
            FileKind::Flag if path.first().is_some_and(|k| k == "variants") => return true,
            FileKind::Test if has("values") || has("context") => return true,
            FileKind::Segment if matches!(last, "include" | "exclude") => return true,
            _ => {}
        }
        matches!(
            last,
            "description" | "hypothesis" | "value" | "values" | "salt"
        )
    }

    /// Reports the first control character of the key, string or comment at `span`, if it
    /// has one that `place` does not allow, with the count of the others.
    fn report(
        &mut self,
        place: Place,
        span: Span,
        encoding: Option<Encoding>,
        subject: impl FnOnce() -> String,
    ) {
        let raw = &self.text[span.start()..span.end()];
        let mut bad = string_chars(raw, encoding).filter(|(c, _)| !allowed(*c, place));
        let Some((c, at)) = bad.next() else { return };
        let more = bad.count();
        let mut message = match place {
            Place::Key => format!("{} in the key `{}`", describe(c), shown(&subject())),
            Place::Name | Place::Text => format!("{} in `{}`", describe(c), subject()),
            Place::Comment => format!("{} in a comment", describe(c)),
        };
        match more {
            0 => {}
            1 => message += " (and 1 more such character in it)",
            n => message += &format!(" (and {n} more such characters in it)"),
        }
        let (code, help) = match place {
            Place::Key | Place::Name => (Code::ControlCharacter, NAME_HELP),
            Place::Text | Place::Comment => (Code::ControlCharacterInText, TEXT_HELP),
        };
        let at = span.start() + at.start..span.start() + at.end;
        self.found
            .push(Diagnostic::new(code, self.path, Some(at), message).with_help(help));
    }
}

const NAME_HELP: &str = "keys and names allow no control or bidirectional characters (a terminal acts on a control character, and a bidirectional one reorders what a review shows): remove it";

const TEXT_HELP: &str = "a terminal acts on a control character, and a bidirectional override or isolate reorders what a review shows: remove it unless it is meant (tabs, line breaks and the marks U+200E, U+200F and U+061C are allowed here)";

impl EventReceiver for Scanner<'_> {
    fn std_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.keys.clear();
    }
    fn std_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.header = std::mem::take(&mut self.keys);
    }
    fn array_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.keys.clear();
    }
    fn array_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.header = std::mem::take(&mut self.keys);
    }
    fn inline_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        let path = self.next_value_path();
        self.containers.push((Container::InlineTable, path));
        true
    }
    fn inline_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.containers.pop();
    }
    fn array_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        let path = self.next_value_path();
        self.containers.push((Container::Array, path));
        true
    }
    fn array_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.containers.pop();
    }
    fn simple_key(&mut self, span: Span, encoding: Option<Encoding>, _error: &mut dyn ErrorSink) {
        let raw = &self.text[span.start()..span.end()];
        let mut key = String::new();
        Raw::new_unchecked(raw, encoding, span).decode_key(&mut key, &mut ());
        self.report(Place::Key, span, encoding, || key.clone());
        self.keys.push(key);
    }
    fn key_val_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        let mut path = match self.containers.last() {
            Some((Container::InlineTable, path)) => path.clone(),
            _ => self.header.clone(),
        };
        path.append(&mut self.keys);
        self.value_path = Some(path);
    }
    fn scalar(&mut self, span: Span, encoding: Option<Encoding>, _error: &mut dyn ErrorSink) {
        let path = self.next_value_path();
        if encoding.is_some() {
            let place = if self.is_text(&path) {
                Place::Text
            } else {
                Place::Name
            };
            let subject = || path.iter().map(|k| shown(k)).collect::<Vec<_>>().join(".");
            self.report(place, span, encoding, subject);
        }
    }
    fn comment(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        self.report(Place::Comment, span, None, String::new);
    }
}

/// Whether `c` may stand in a place: prose keeps tabs, line breaks and the bidirectional
/// marks of right-to-left writing; keys and names keep none.
fn allowed(c: char, place: Place) -> bool {
    if !is_control(c) {
        return true;
    }
    match place {
        Place::Key | Place::Name => false,
        Place::Text | Place::Comment => {
            matches!(c, '\t' | '\n' | '\u{061C}' | '\u{200E}' | '\u{200F}')
        }
    }
}

/// The characters of a string as written (key, value or comment), each with the byte range
/// that writes it: itself, or its escape sequence. Delimiters, and the line-ending backslash
/// of multi-line basic strings with the whitespace it trims, write no character.
fn string_chars(
    raw: &str,
    encoding: Option<Encoding>,
) -> impl Iterator<Item = (char, Range<usize>)> {
    let (quote, escapes) = match encoding {
        None => (0, false),
        Some(Encoding::LiteralString) => (1, false),
        Some(Encoding::BasicString) => (1, true),
        Some(Encoding::MlLiteralString) => (3, false),
        Some(Encoding::MlBasicString) => (3, true),
    };
    let mut start = quote.min(raw.len());
    let end = raw.len().saturating_sub(quote).max(start);
    // A line break right after a multi-line string's opening delimiter is not part of it.
    if quote == 3 && raw[start..end].starts_with('\n') {
        start += 1;
    }
    let body = &raw[start..end];
    let mut chars = body.char_indices().peekable();
    std::iter::from_fn(move || {
        loop {
            let (i, c) = chars.next()?;
            if c != '\\' || !escapes {
                return Some((c, start + i..start + i + c.len_utf8()));
            }
            let (_, kind) = chars.next()?;
            let hex = match kind {
                'x' => 2,
                'u' => 4,
                'U' => 8,
                ' ' | '\t' | '\n' => {
                    while chars
                        .next_if(|(_, c)| matches!(c, ' ' | '\t' | '\n'))
                        .is_some()
                    {}
                    continue;
                }
                _ => 0,
            };
            let mut value = 0;
            let mut last = i + 1;
            for _ in 0..hex {
                let (j, digit) = chars.next()?;
                value = value * 16 + digit.to_digit(16).unwrap_or(0);
                last = j;
            }
            let decoded = match kind {
                'b' => '\u{8}',
                'e' => '\u{1b}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'x' | 'u' | 'U' => char::from_u32(value).unwrap_or('\u{FFFD}'),
                other => other,
            };
            return Some((decoded, start + i..start + last + 1));
        }
    })
}

/// A character as messages name it: its code point and, for the ones this check is about, its
/// name.
fn describe(c: char) -> String {
    let name = match c {
        '\t' => "CHARACTER TABULATION",
        '\n' => "LINE FEED",
        '\r' => "CARRIAGE RETURN",
        '\u{1b}' => "ESCAPE",
        '\u{7f}' => "DELETE",
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        _ => "CONTROL CHARACTER",
    };
    format!("U+{:04X} {name}", c as u32)
}
