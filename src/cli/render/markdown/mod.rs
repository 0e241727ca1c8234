//! Markdown for job summaries and pull request comments. Everything that comes from a
//! repository or a pull request (names, logins, descriptions, values) is untrusted: [`text`],
//! [`code`], [`code_block`] and [`details`] escape it so that it shows as the text it is, and
//! can neither format, link, mention, embed HTML nor break out of a table cell or a code block
//! (tests/test_markdown.rs proves it against a CommonMark parser). These functions are the only
//! Markdown escaping. The reports' Markdown is here too, one module per command.

mod analyze;
mod diagnostics;
mod diff;
mod evals;
mod exposures;
mod refs;
mod review;
mod stale;

pub use analyze::{analyze, raw_data};
pub use diagnostics::diagnostics;
pub use diff::diff;
pub use evals::evals;
pub use exposures::exposures;
pub use refs::refs;
pub use review::review;
pub use stale::stale;

/// Inline text: what stands between backticks as code, the rest with Markdown and HTML
/// punctuation escaped; mentions and bare links defused, line breaks as spaces, control and
/// bidirectional-override characters shown as escapes.
pub fn text(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let mut out = String::with_capacity(s.len());
    for (i, part) in parts.iter().enumerate() {
        // Odd parts stand between two backticks; an unpaired last one does not.
        if i % 2 == 1 && i + 1 < parts.len() {
            out.push_str(&code(part));
        } else {
            if i % 2 == 1 {
                out.push_str("\\`");
            }
            plain(part, &mut out);
        }
    }
    out
}

fn plain(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push_str("&#64;"),
            '|' => out.push_str("&#124;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '*' | '_' | '[' | ']' | '#' | '!' | '~' | '$' | ':' => {
                out.push('\\');
                out.push(c);
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
}

/// Text as inline code. In `<code>` Markdown still applies, so every character that could
/// format, link or mention is an HTML entity.
pub fn code(s: &str) -> String {
    let mut out = String::from("<code>");
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            '|' | '@' | '[' | ']' | '*' | '_' | '\\' | '`' | '~' | '$' | ':' | '#' | '!' => {
                out.push_str(&format!("&#{};", c as u32));
            }
            c if unsafe_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out.push_str("</code>");
    out
}

/// A fenced code block whose fence is longer than any run of backticks inside.
pub fn code_block(body: &str, language: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let clean: String = body
        .chars()
        .map(|c| {
            if unsafe_char(c) && c != '\n' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    let newline = if clean.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{language}\n{clean}{newline}{fence}")
}

/// A collapsed block: an escaped summary, and a body of Markdown. The summary stands in an
/// HTML block, where Markdown is not read (a backslash escape would show), so it is written
/// as [`text`] is but with entities only: backtick-quoted parts as [`code`], every other
/// character that could open a tag, an entity, a link or a mention as a numeric entity.
pub fn details(summary: &str, body: &str) -> String {
    let parts: Vec<&str> = summary.split('`').collect();
    let mut escaped = String::with_capacity(summary.len());
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 && i + 1 < parts.len() {
            escaped.push_str(&code(part));
            continue;
        }
        if i % 2 == 1 {
            escaped.push_str("&#96;");
        }
        for c in part.chars() {
            match c {
                '&' | '<' | '>' | '"' | '\'' | '@' | '|' | '\\' | '*' | '_' | '[' | ']' | '#'
                | '!' | '~' | '$' | ':' => escaped.push_str(&format!("&#{};", c as u32)),
                '\n' | '\r' => escaped.push(' '),
                c if unsafe_char(c) => escaped.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => escaped.push(c),
            }
        }
    }
    format!("<details><summary>{escaped}</summary>\n\n{body}\n\n</details>")
}

/// Control characters, and the characters that reorder text on screen.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}
