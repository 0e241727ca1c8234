//! A TOML writer for property tests: values as a repository means them ([`T`]), written with
//! every presentation choice — key order, table style, number and string spelling, whitespace,
//! comments, line endings, TOML 1.1's additions — made at random.

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A percentage in thousandths, as TOML: `12.5`, `100`, `0.001`.
pub fn percent(thousandths: u32) -> String {
    let (int, frac) = (thousandths / 1000, thousandths % 1000);
    if frac == 0 {
        format!("{int}")
    } else {
        let frac = format!("{frac:03}");
        format!("{int}.{}", frac.trim_end_matches('0'))
    }
}

/// A TOML value as the repository means it. How it is written — key order, table style,
/// number and string spelling, whitespace, comments, line endings — is the renderer's choice.
#[derive(Clone, Debug, PartialEq)]
pub enum T {
    Str(String),
    Bool(bool),
    /// An integer that must stay one (a variant value).
    Int(i64),
    /// A float that must stay one (a variant value).
    Float(f64),
    /// A number whose integer or float spelling means the same (condition operands).
    Num(f64),
    /// A percentage in thousandths, spelled as an integer or a float.
    Pct(u32),
    /// A local date (`expires`).
    Date(&'static str),
    /// An instant in milliseconds, as a date-time with any offset, or a string holding one.
    Instant(i64),
    /// Items, and whether their order is meaningless (so the renderer shuffles them).
    Arr(Vec<T>, bool),
    Tab(Vec<(String, T)>),
}

pub fn s(text: &str) -> T {
    T::Str(text.to_owned())
}

pub fn tab(entries: Vec<(&str, T)>) -> T {
    T::Tab(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

pub fn strs(items: &[&str]) -> T {
    T::Arr(items.iter().map(|i| s(i)).collect(), false)
}

/// A small deterministic generator (splitmix64) for presentation choices.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, X>(&mut self, items: &'a [X]) -> &'a X {
        &items[self.below(items.len())]
    }
    pub fn word(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
    pub fn shuffle<X>(&mut self, items: &mut [X]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

const COMMENTS: &[&str] = &[
    "",
    " a comment",
    "# twice",
    " serve = \"on\"   (not a key)",
    " [env.production]",
    " ünïcödé ✓ 🚀 مرحبا",
    "\tindented \"quoted\" 'text' \\",
    " '''  \"\"\"  { } [ ] , =",
];

const SPACES: &[&str] = &[" ", "  ", "\t", " \t ", "    "];
const INDENTS: &[&str] = &["  ", "\t", "    ", " "];

/// Writes [`T`] values as TOML, making every presentation choice at random.
struct Renderer<'r> {
    rng: &'r mut Rng,
    /// Also use what TOML 1.1 added: `\xHH` and `\e` escapes, date-times without seconds,
    /// inline tables over several lines with comments and a trailing comma.
    toml11: bool,
}

impl Renderer<'_> {
    /// Optional whitespace.
    fn ws(&mut self) -> &'static str {
        if self.rng.chance(50) {
            ""
        } else {
            self.rng.word(SPACES)
        }
    }

    fn indent(&mut self) -> &'static str {
        if self.rng.chance(70) {
            ""
        } else {
            self.rng.word(INDENTS)
        }
    }

    fn comment(&mut self) -> String {
        format!("#{}", self.rng.pick(COMMENTS))
    }

    /// What may end a line after a value or header: whitespace, perhaps a comment.
    fn line_end(&mut self) -> String {
        let ws = self.ws();
        if self.rng.chance(20) {
            let space = if self.rng.chance(70) { " " } else { "" };
            format!("{ws}{space}{}", self.comment())
        } else {
            ws.to_owned()
        }
    }

    fn bare(key: &str) -> bool {
        !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    fn key(&mut self, key: &str) -> String {
        if Self::bare(key) && self.rng.chance(75) {
            return key.to_owned();
        }
        if self.rng.chance(50) && Self::literal_ok(key) {
            format!("'{key}'")
        } else {
            self.basic(key)
        }
    }

    fn key_path(&mut self, path: &[String]) -> String {
        let mut out = String::new();
        for (i, part) in path.iter().enumerate() {
            if i > 0 {
                let (a, b) = (self.ws(), self.ws());
                out.push_str(&format!("{a}.{b}"));
            }
            out.push_str(&self.key(part));
        }
        out
    }

    fn literal_ok(text: &str) -> bool {
        !text.contains('\'') && !text.chars().any(|c| c.is_control() && c != '\t')
    }

    /// A basic string, escaping some characters that need no escape.
    fn basic(&mut self, text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\t' if self.rng.chance(50) => out.push_str("\\t"),
                '\u{1b}' if self.toml11 && self.rng.chance(50) => out.push_str("\\e"),
                c if self.toml11 && (c as u32) < 0x100 && self.rng.chance(15) => {
                    out.push_str(&format!("\\x{:02X}", c as u32));
                }
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if self.rng.chance(8) => {
                    if self.rng.chance(50) {
                        let mut units = [0u16; 2];
                        let units = c.encode_utf16(&mut units);
                        if units.len() == 1 {
                            out.push_str(&format!("\\u{:04X}", units[0]));
                        } else {
                            out.push_str(&format!("\\U{:08X}", c as u32));
                        }
                    } else {
                        out.push_str(&format!("\\U{:08x}", c as u32));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn string(&mut self, text: &str, multiline: bool) -> String {
        let newline = if self.rng.chance(50) { "\n" } else { "" };
        match self.rng.below(if multiline { 4 } else { 2 }) {
            0 if Self::literal_ok(text) => format!("'{text}'"),
            2 if !text.contains('"')
                && !text.contains('\\')
                && !text.chars().any(char::is_control) =>
            {
                format!("\"\"\"{newline}{text}\"\"\"")
            }
            3 if Self::literal_ok(text) && !text.is_empty() => {
                format!("'''{newline}{text}'''")
            }
            _ => self.basic(text),
        }
    }

    /// Underscores between some digits of a run of decimal digits.
    fn underscores(&mut self, digits: &str) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && self.rng.chance(25) {
                out.push('_');
            }
            out.push(c);
        }
        out
    }

    fn integer(&mut self, n: i64) -> String {
        if n < 0 {
            let digits = n.unsigned_abs().to_string();
            return format!("-{}", self.underscores(&digits));
        }
        match self.rng.below(8) {
            0 => format!("+{n}"),
            1 => format!("0x{n:x}"),
            2 => format!("0x{n:X}"),
            3 => format!("0o{n:o}"),
            4 => format!("0b{n:b}"),
            5 => self.underscores(&n.to_string()),
            _ => n.to_string(),
        }
    }

    /// A float literal: always with a fraction or an exponent.
    fn float(&mut self, x: f64) -> String {
        let debug = format!("{x:?}");
        let text = match self.rng.below(5) {
            0 => format!("{x:e}"),
            1 => format!("{x:E}"),
            2 if debug.contains('.') && !debug.contains('e') => format!("{debug}00"),
            _ => debug,
        };
        let text = if text.contains(['.', 'e', 'E']) {
            text
        } else {
            format!("{text}.0")
        };
        if x >= 0.0 && self.rng.chance(20) {
            format!("+{text}")
        } else {
            text
        }
    }

    /// A number written as an integer when it is one, or as a float.
    fn number(&mut self, x: f64) -> String {
        if x.fract() == 0.0 && x.abs() < 1e15 && self.rng.chance(50) {
            self.integer(x as i64)
        } else {
            self.float(x)
        }
    }

    fn percent(&mut self, thousandths: u32) -> String {
        let (int, frac) = (thousandths / 1000, thousandths % 1000);
        let digits = thousandths.to_string();
        // d.ddd...e<exponent>: the same decimal number in scientific notation.
        let scientific = |e: &str| {
            let exponent = digits.len() as i64 - 1 - 3;
            let mantissa = if digits.len() > 1 {
                format!("{}.{}", &digits[..1], &digits[1..])
            } else {
                digits.clone()
            };
            format!("{mantissa}{e}{exponent}")
        };
        if thousandths == 0 {
            return self
                .rng
                .pick(&[
                    "0", "+0", "-0", "0.0", "-0.0", "+0.0", "0e0", "0.000", "0x0", "0b0",
                ])
                .to_string();
        }
        if frac == 0 {
            let int_digits = int.to_string();
            return match self.rng.below(14) {
                0 => format!("+{int}"),
                1 => format!("0x{int:x}"),
                2 => format!("0o{int:o}"),
                3 => format!("0b{int:b}"),
                4 => self.underscores(&int_digits),
                5 => format!("{int}.0"),
                6 => format!("{int}.000"),
                7 => format!("{int}e0"),
                8 => format!("{int}E+00"),
                9 => format!("{thousandths}e-3"),
                10 => scientific("e"),
                11 => format!("+{int}.0"),
                _ => int_digits,
            };
        }
        let fraction = format!("{frac:03}");
        let trimmed = fraction.trim_end_matches('0');
        match self.rng.below(9) {
            0 => format!("{int}.{fraction}"),
            1 => format!("{thousandths}e-3"),
            2 => format!("{thousandths}0E-4"),
            3 => format!("+{int}.{trimmed}"),
            4 => scientific("e"),
            5 => scientific("E"),
            6 => format!("{int}.{trimmed}000"),
            7 => format!("{}.{}", self.underscores(&int.to_string()), trimmed),
            _ => format!("{int}.{trimmed}"),
        }
    }

    /// An instant as a date-time; `literal` when written as a TOML date-time, not a string.
    fn instant(&mut self, millis: i64, literal: bool) -> String {
        let offset = *self
            .rng
            .pick(&[0i64, 0, 60, -300, 330, 345, -720, 840, 120, -570]);
        let local = millis + offset * 60_000;
        let (days, ms) = (local.div_euclid(86_400_000), local.rem_euclid(86_400_000));
        let (h, m, sec, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        let date = flagstone::literal::format_date(days);
        let separator = self.rng.pick(&["T", "t", " "]);
        // TOML 1.1 lets a date-time leave out zero seconds.
        let seconds = if literal && self.toml11 && sec == 0 && ms == 0 && self.rng.chance(60) {
            String::new()
        } else {
            format!(":{sec:02}")
        };
        let fraction = if seconds.is_empty() {
            String::new()
        } else if ms != 0 {
            match self.rng.below(3) {
                0 => format!(".{ms:03}000"),
                1 => format!(".{}", format!("{ms:03}").trim_end_matches('0')),
                _ => format!(".{ms:03}"),
            }
        } else {
            self.rng
                .pick(&["", "", ".0", ".000", ".000000"])
                .to_string()
        };
        let zone = if offset == 0 {
            self.rng.pick(&["Z", "z", "+00:00"]).to_string()
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60)
        };
        format!("{date}{separator}{h:02}:{m:02}{seconds}{fraction}{zone}")
    }

    /// A value; `top` when it is the whole right-hand side of a line's key/value pair, where
    /// multi-line strings and arrays are allowed.
    fn value(&mut self, value: &T, top: bool) -> String {
        match value {
            T::Str(text) => self.string(text, top),
            T::Bool(b) => b.to_string(),
            T::Int(n) => self.integer(*n),
            T::Float(x) => self.float(*x),
            T::Num(x) => self.number(*x),
            T::Pct(p) => self.percent(*p),
            T::Date(date) => {
                if self.rng.chance(70) {
                    date.to_string()
                } else {
                    format!("\"{date}\"")
                }
            }
            T::Instant(millis) => {
                if self.rng.chance(70) {
                    self.instant(*millis, true)
                } else {
                    let text = self.instant(*millis, false);
                    self.string(&text, false)
                }
            }
            T::Arr(items, unordered) => {
                let mut items = items.clone();
                if *unordered {
                    self.rng.shuffle(&mut items);
                }
                self.array(&items, top)
            }
            T::Tab(entries) => self.inline_table(entries),
        }
    }

    fn array(&mut self, items: &[T], top: bool) -> String {
        let rendered: Vec<String> = items.iter().map(|i| self.value(i, false)).collect();
        if top && !rendered.is_empty() && self.rng.chance(40) {
            let mut out = String::from("[");
            out.push_str(&self.line_end());
            for (i, item) in rendered.iter().enumerate() {
                out.push('\n');
                if self.rng.chance(15) {
                    out.push_str(&format!("{}{}\n", self.indent(), self.comment()));
                }
                if self.rng.chance(10) {
                    out.push('\n');
                }
                out.push_str(&format!("{}{}{item}", self.indent(), self.indent()));
                if i + 1 < rendered.len() || self.rng.chance(50) {
                    let ws = self.ws();
                    out.push_str(&format!("{ws},"));
                }
                out.push_str(&self.line_end());
            }
            out.push('\n');
            out.push_str(self.indent());
            out.push(']');
            return out;
        }
        let mut out = format!("[{}", self.ws());
        for (i, item) in rendered.iter().enumerate() {
            if i > 0 {
                let (a, b) = (self.ws(), self.ws());
                out.push_str(&format!("{a},{b}"));
            }
            out.push_str(item);
        }
        if !rendered.is_empty() && self.rng.chance(20) {
            out.push(',');
        }
        out.push_str(self.ws());
        out.push(']');
        out
    }

    fn inline_table(&mut self, entries: &[(String, T)]) -> String {
        let multiline = self.toml11 && self.rng.chance(40);
        let mut pairs = Vec::new();
        self.inline_pairs(&[], entries, multiline, &mut pairs);
        self.rng.shuffle(&mut pairs);
        if pairs.is_empty() {
            return format!("{{{}}}", self.ws());
        }
        if multiline {
            let mut out = String::from("{");
            out.push_str(&self.line_end());
            for (i, pair) in pairs.iter().enumerate() {
                out.push('\n');
                if self.rng.chance(15) {
                    out.push_str(&format!("{}{}\n", self.indent(), self.comment()));
                }
                out.push_str(&format!("{}{pair}", self.indent()));
                if i + 1 < pairs.len() || self.rng.chance(50) {
                    let ws = self.ws();
                    out.push_str(&format!("{ws},"));
                }
                out.push_str(&self.line_end());
            }
            out.push('\n');
            out.push_str(self.indent());
            out.push('}');
            return out;
        }
        let mut out = format!("{{{}", self.ws());
        for (i, pair) in pairs.iter().enumerate() {
            if i > 0 {
                let (a, b) = (self.ws(), self.ws());
                out.push_str(&format!("{a},{b}"));
            }
            out.push_str(pair);
        }
        out.push_str(self.ws());
        out.push('}');
        out
    }

    /// An inline table's pairs, with some sub-tables as dotted keys.
    fn inline_pairs(
        &mut self,
        prefix: &[String],
        entries: &[(String, T)],
        multiline: bool,
        out: &mut Vec<String>,
    ) {
        for (key, value) in entries {
            let path = [prefix, std::slice::from_ref(key)].concat();
            match value {
                T::Tab(children) if !children.is_empty() && self.rng.chance(30) => {
                    self.inline_pairs(&path, children, multiline, out);
                }
                _ => {
                    let key = self.key_path(&path);
                    let (a, b) = (self.ws(), self.ws());
                    let value = self.value(value, multiline);
                    out.push(format!("{key}{a}={b}{value}"));
                }
            }
        }
    }

    fn pair(&mut self, path: &[String], value: &T) -> String {
        let indent = self.indent();
        let key = self.key_path(path);
        let (a, b) = (self.ws(), self.ws());
        let value = self.value(value, true);
        let end = self.line_end();
        format!("{indent}{key}{a}={b}{value}{end}")
    }

    fn header(&mut self, path: &[String], array: bool) -> String {
        let indent = self.indent();
        let (a, b) = (self.ws(), self.ws());
        let key = self.key_path(path);
        let end = self.line_end();
        if array {
            format!("{indent}[[{a}{key}{b}]]{end}")
        } else {
            format!("{indent}[{a}{key}{b}]{end}")
        }
    }

    /// The key/value lines of a table written with dotted keys, `prefix` being its path
    /// relative to the section.
    fn dotted(&mut self, prefix: &[String], entries: &[(String, T)], lines: &mut Vec<String>) {
        for (key, value) in entries {
            let path = [prefix, std::slice::from_ref(key)].concat();
            match value {
                T::Tab(children) if !children.is_empty() && self.rng.chance(50) => {
                    self.dotted(&path, children, lines);
                }
                _ => lines.push(self.pair(&path, value)),
            }
        }
    }

    /// The body of the section of the table at `path` (the root, a `[table]` or an
    /// `[[array]]` element), and the sub-sections to write after it: each a run of lines that
    /// must stay together. Outside arrays of tables they may go anywhere in the file.
    fn section(
        &mut self,
        path: &[String],
        entries: &[(String, T)],
    ) -> (Vec<String>, Vec<Vec<String>>) {
        let mut lines = Vec::new();
        let mut sections = Vec::new();
        for (key, value) in entries {
            let full = [path, std::slice::from_ref(key)].concat();
            match value {
                T::Tab(children) => match self.rng.below(if children.is_empty() { 2 } else { 3 }) {
                    0 => lines.push(self.pair(std::slice::from_ref(key), value)),
                    1 => {
                        let (body, subs) = self.section(&full, children);
                        // A table with only sub-tables needs no header of its own.
                        let implicit = body.is_empty() && !subs.is_empty() && self.rng.chance(50);
                        let mut chunk = Vec::new();
                        if !implicit {
                            chunk.push(self.header(&full, false));
                        }
                        chunk.extend(body);
                        if !chunk.is_empty() {
                            sections.push(chunk);
                        }
                        sections.extend(subs);
                    }
                    _ => self.dotted(std::slice::from_ref(key), children, &mut lines),
                },
                T::Arr(items, unordered)
                    if !items.is_empty()
                        && items.iter().all(|i| matches!(i, T::Tab(_)))
                        && self.rng.chance(50) =>
                {
                    let mut items = items.clone();
                    if *unordered {
                        self.rng.shuffle(&mut items);
                    }
                    let mut chunk = Vec::new();
                    for item in &items {
                        let T::Tab(children) = item else {
                            unreachable!()
                        };
                        chunk.push(self.header(&full, true));
                        let (body, mut subs) = self.section(&full, children);
                        chunk.extend(body);
                        // An element's sub-tables follow it, in any order.
                        self.rng.shuffle(&mut subs);
                        chunk.extend(subs.into_iter().flatten());
                    }
                    sections.push(chunk);
                }
                _ => lines.push(self.pair(std::slice::from_ref(key), value)),
            }
        }
        self.rng.shuffle(&mut lines);
        (lines, sections)
    }

    /// Blank lines and comment lines between two lines.
    fn gap(&mut self, out: &mut String) {
        while self.rng.chance(25) {
            if self.rng.chance(50) {
                out.push_str(self.ws());
            } else {
                out.push_str(self.indent());
                out.push_str(&self.comment());
            }
            out.push('\n');
        }
    }

    fn document(&mut self, root: &[(String, T)]) -> String {
        let (lines, mut sections) = self.section(&[], root);
        self.rng.shuffle(&mut sections);
        let mut out = String::new();
        if self.rng.chance(30) {
            out.push_str("#:schema ./schema.json\n");
        }
        for line in lines.iter().chain(sections.iter().flatten()) {
            self.gap(&mut out);
            out.push_str(line);
            out.push('\n');
        }
        self.gap(&mut out);
        if out.ends_with('\n') && self.rng.chance(20) {
            out.pop();
        }
        // Line endings: LF, CRLF, or a mix.
        match self.rng.below(3) {
            0 => out,
            1 => out.replace('\n', "\r\n"),
            _ => {
                let mut mixed = String::new();
                for c in out.chars() {
                    if c == '\n' && self.rng.chance(50) {
                        mixed.push('\r');
                    }
                    mixed.push(c);
                }
                mixed
            }
        }
    }
}

/// Renders the files, each with its own random presentation, listed in a random order.
pub fn render(files: &[(String, T)], seed: u64, toml11: bool) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(seed);
    let mut out: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(path, root)| {
            let T::Tab(entries) = root else {
                unreachable!()
            };
            let text = Renderer {
                rng: &mut rng,
                toml11,
            }
            .document(entries);
            (path.clone(), text.into_bytes())
        })
        .collect();
    rng.shuffle(&mut out);
    out
}
