//! What the CSV inputs (analyze's summaries, evals' cases) share: the file line of a record,
//! and a reader's error in words.

/// Line numbers of byte offsets, counted forward as records are read. The csv crate's own
/// line numbers lag by one after a CRLF line end: a record's position can point at the `\n`
/// ending the previous line.
pub struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Lines {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first character at or after `offset` that does not end a line.
    /// Offsets come in increasing order, as the reader reaches them.
    pub fn line_at(&mut self, offset: u64) -> u64 {
        let mut target = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while matches!(self.bytes.get(target), Some(b'\r' | b'\n')) {
            target += 1;
        }
        if target >= self.offset {
            let newlines = self.bytes[self.offset..target]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines as u64;
            self.offset = target;
        }
        self.line
    }
}

/// A reader's error in words; `cells` names what a record holds ("fields", "cells").
pub fn problem(e: &csv::Error, cells: &str) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} {cells}, but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => e.to_string(),
    }
}
