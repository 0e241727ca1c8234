//! The Markdown escape, proved against a CommonMark parser (pulldown-cmark, with GitHub's
//! tables): for any string, `markdown::text` reads back as plain text that shows the string,
//! in a paragraph and in a table cell, and `markdown::code` as one code element holding it.
//! Nothing formats, links, embeds HTML, opens code or breaks out of the cell.
//!
//! `text` is inline text: the renderers write it within a line (after a bullet, in a cell,
//! after a label), never at the start of one, where `-`, `+` or `1.` would start a list. The
//! properties write it that way: between two letters.

use flagstone::cli::render::markdown;
use proptest::prelude::*;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Control characters and those that reorder text on screen, which the escape shows as
/// escapes (`\u{202e}`) in text and as U+FFFD in code.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// What a reader sees of `s` written as [`markdown::code`].
fn shown_as_code(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' => ' ',
            c if unsafe_char(c) => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// What a reader sees of `s` written as [`markdown::text`]: backtick-quoted parts as code,
/// line breaks as spaces, control characters as escapes.
fn shown_as_text(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let mut shown = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 && i + 1 < parts.len() {
            shown += &shown_as_code(part);
            continue;
        }
        if i % 2 == 1 {
            shown.push('`');
        }
        for c in part.chars() {
            match c {
                '\n' | '\r' => shown.push(' '),
                c if unsafe_char(c) => shown += &format!("\\u{{{:x}}}", c as u32),
                c => shown.push(c),
            }
        }
    }
    shown
}

/// The text of inline events, or the first event that is not plain text or the `<code>`
/// element the escape writes for code.
fn plain_text(events: &[Event<'_>]) -> Result<String, String> {
    let mut text = String::new();
    let mut in_code = false;
    for event in events {
        match event {
            Event::Text(t) => text.push_str(t),
            Event::InlineHtml(tag) if &**tag == "<code>" && !in_code => in_code = true,
            Event::InlineHtml(tag) if &**tag == "</code>" && in_code => in_code = false,
            other => return Err(format!("not plain text: {other:?}")),
        }
    }
    if in_code {
        return Err("an unclosed <code>".to_owned());
    }
    Ok(text)
}

/// The inline events of a document that must be one paragraph.
fn paragraph(markdown: &str) -> Result<Vec<Event<'_>>, String> {
    let events: Vec<Event> = Parser::new_ext(markdown, Options::ENABLE_TABLES).collect();
    match (events.first(), events.last()) {
        (Some(Event::Start(Tag::Paragraph)), Some(Event::End(TagEnd::Paragraph)))
            if events.len() >= 2 =>
        {
            Ok(events[1..events.len() - 1].to_vec())
        }
        _ => Err(format!("not one paragraph: {events:?}")),
    }
}

/// The inline events of the first cell of a table `| head | tail |` whose one row is
/// `| {cell} | end |`: the cell must end where it was meant to, before `end`.
fn cell(markdown: &str) -> Result<Vec<Event<'_>>, String> {
    let events: Vec<Event> = Parser::new_ext(markdown, Options::ENABLE_TABLES).collect();
    let body = events
        .iter()
        .position(|e| matches!(e, Event::End(TagEnd::TableHead)))
        .ok_or_else(|| format!("no table: {events:?}"))?;
    let rest = &events[body + 1..];
    let end = [
        Event::End(TagEnd::TableCell),
        Event::Start(Tag::TableCell),
        Event::Text("end".into()),
        Event::End(TagEnd::TableCell),
        Event::End(TagEnd::TableRow),
        Event::End(TagEnd::Table),
    ];
    let inner = rest
        .strip_prefix(&[Event::Start(Tag::TableRow), Event::Start(Tag::TableCell)][..])
        .and_then(|r| r.strip_suffix(&end[..]))
        .ok_or_else(|| format!("not one row of `cell | end`: {events:?}"))?;
    if inner
        .iter()
        .any(|e| matches!(e, Event::Start(_) | Event::End(_)))
    {
        return Err(format!("structure inside the cell: {events:?}"));
    }
    Ok(inner.to_vec())
}

/// A table whose first body cell is `cell`.
fn table(cell: &str) -> String {
    format!("| head | tail |\n|---|---|\n| {cell} | end |\n")
}

/// Strings made of what Markdown and HTML give meaning to, entities, links, mentions, line
/// breaks, control and bidirectional characters, and letters.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "*", "_", "[", "]", "(", ")", "<", ">", "|", "@", "#", "!", "`", "``", "~", "$",
            ":", "\\", "&", ";", "-", "+", "=", ".", "1.", " ", "  ", "\t", "\n", "\r\n", "\r",
            "\u{0}", "\u{7}", "\u{1b}", "\u{7f}", "\u{85}", "\u{200e}", "\u{200f}", "\u{202a}",
            "\u{202e}", "\u{2066}", "\u{2069}", "\u{61c}", "\u{a0}", "\u{2028}", "é", "漢",
            "&amp;", "&lt;", "&#64;", "&#x7c;", "&nbsp;", "&copy", "https://example.com/a_b",
            "<https://example.com>", "www.example.com", "user@example.com", "@octocat",
            "@org/team", "#123", "[a](b)", "![a](b)", "[a]: b", "<b>", "</code>", "<!-- x -->",
            "**", "__", "~~", "$x$", "<script>", "\\|", "\\`", "```", "~~~", "---", "> ",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z0-9 ]{1,6}",
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

#[test]
fn the_checks_catch_raw_markdown() {
    for raw in ["a*b*z", "a[b](c)z", "a<b>z", "a`b`z", "a\nb"] {
        let events = paragraph(raw).unwrap();
        assert!(plain_text(&events).is_err(), "{raw:?}");
    }
    assert!(paragraph("- a").is_err());
    assert!(cell(&table("a|b")).is_err());
    assert_eq!(
        plain_text(&cell(&table("a\\|b")).unwrap()),
        Ok("a|b".to_owned())
    );
    assert_eq!(
        plain_text(&paragraph("a&#64;b\\_c").unwrap()),
        Ok("a@b_c".to_owned())
    );
}

proptest! {
    #![proptest_config(crate::support::proptest_config!("test_markdown", 2048))]

    #[test]
    fn text_reads_back_as_plain_text(s in hostile()) {
        let written = format!("a{}z", markdown::text(&s));
        let events = paragraph(&written).map_err(|e| TestCaseError::fail(format!("{e}\n{written:?}")))?;
        let text = plain_text(&events).map_err(|e| TestCaseError::fail(format!("{e}\n{written:?}")))?;
        prop_assert_eq!(text, format!("a{}z", shown_as_text(&s)), "{:?}", written);
    }

    #[test]
    fn text_stays_in_its_table_cell(s in hostile()) {
        let written = table(&format!("a{}z", markdown::text(&s)));
        let events = cell(&written).map_err(|e| TestCaseError::fail(format!("{e}\n{written:?}")))?;
        let text = plain_text(&events).map_err(|e| TestCaseError::fail(format!("{e}\n{written:?}")))?;
        prop_assert_eq!(text, format!("a{}z", shown_as_text(&s)), "{:?}", written);
    }

    #[test]
    fn code_reads_back_as_one_code_element(s in hostile()) {
        let code = markdown::code(&s);
        for written in [format!("a{code}z"), table(&format!("a{code}z"))] {
            let events = if written.starts_with('|') { cell(&written) } else { paragraph(&written) }
                .map_err(|e| TestCaseError::fail(format!("{e}\n{written:?}")))?;
            prop_assert_eq!(
                events.iter().filter(|e| matches!(e, Event::InlineHtml(_))).count(),
                2,
                "one <code> element: {:?}",
                written
            );
            let text = plain_text(&events).map_err(|e| TestCaseError::fail(format!("{e}\n{written:?}")))?;
            prop_assert_eq!(text, format!("a{}z", shown_as_code(&s)), "{:?}", written);
        }
    }

    #[test]
    fn a_code_block_holds_its_body_whatever_fences_it_contains(s in hostile()) {
        let written = markdown::code_block(&s, "diff");
        let events: Vec<Event> = Parser::new_ext(&written, Options::ENABLE_TABLES).collect();
        let (first, last) = (events.first(), events.last());
        prop_assert!(
            matches!(first, Some(Event::Start(Tag::CodeBlock(_))))
                && matches!(last, Some(Event::End(TagEnd::CodeBlock))),
            "{:?}",
            events
        );
        let mut body = String::new();
        for event in &events[1..events.len() - 1] {
            match event {
                Event::Text(t) => body.push_str(t),
                other => prop_assert!(false, "not code: {:?}", other),
            }
        }
        let mut expected: String = s
            .chars()
            .map(|c| if unsafe_char(c) && c != '\n' { '\u{FFFD}' } else { c })
            .collect();
        if !expected.ends_with('\n') {
            expected.push('\n');
        }
        prop_assert_eq!(body, expected);
    }

    /// The summary of a collapsed block stands in raw HTML: it shows the text, with no tag
    /// but the `<code>` elements the escape writes, and nothing a mention or link could start.
    #[test]
    fn a_details_summary_shows_its_text_as_html(s in hostile()) {
        let written = markdown::details(&s, "body");
        let events: Vec<Event> = Parser::new_ext(&written, Options::ENABLE_TABLES).collect();
        let html: String = events
            .iter()
            .take_while(|e| !matches!(e, Event::Start(Tag::Paragraph)))
            .filter_map(|e| match e {
                Event::Html(h) => Some(h.to_string()),
                _ => None,
            })
            .collect();
        let summary = html
            .strip_prefix("<details><summary>")
            .and_then(|h| h.split_once("</summary>"))
            .map(|(summary, _)| summary.to_owned());
        prop_assert!(summary.is_some(), "{:?}", events);
        let bare = summary.unwrap().replace("<code>", "").replace("</code>", "");
        prop_assert!(!bare.contains(['<', '>', '@', '[', '`']) && !bare.contains("://"), "{:?}", bare);
        prop_assert_eq!(decode_entities(&bare), shown_as_text(&s), "{:?}", written);
    }
}

/// Numeric character references and the three named ones the escapes write.
fn decode_entities(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let (entity, after) = rest[at..].split_once(';').expect("entities end with ;");
        match entity {
            "&amp" => out.push('&'),
            "&lt" => out.push('<'),
            "&gt" => out.push('>'),
            _ => {
                let code: u32 = entity["&#".len()..].parse().expect("a numeric reference");
                out.push(char::from_u32(code).expect("a character"));
            }
        }
        rest = after;
    }
    out.push_str(rest);
    out
}
