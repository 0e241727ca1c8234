//! Checks of segment files.

use std::collections::BTreeMap;

use crate::diag::Code;
use crate::model::{Condition, Name, Spanned};

use super::{Scope, cycles};

impl Scope<'_> {
    pub(super) fn segments(&mut self) {
        let repo = self.repo;
        for (name, loaded) in &repo.segments {
            let Some(segment) = &loaded.doc else { continue };
            let file = repo.path(loaded.file);
            self.conditions(file, &segment.conditions);
            if segment.include.is_empty() && segment.conditions.is_empty() {
                self.push(
                    Code::EmptySegment,
                    file,
                    0..0,
                    format!(
                        "segment `{name}` has neither `include` nor `if`, so it matches nobody"
                    ),
                )
                .help = Some("list units in `include`, or add conditions in `if`".into());
            }
            let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
            let listed = (segment.include.iter().map(|u| (u, "include")))
                .chain(segment.exclude.iter().map(|u| (u, "exclude")));
            for (unit, list) in listed {
                let Some(first) = seen.insert(unit.as_str(), list) else {
                    continue;
                };
                let (message, help) = if first == list {
                    (
                        format!("unit `{}` is listed twice in `{list}`", unit.value),
                        "list each unit once",
                    )
                } else {
                    (
                        format!("unit `{}` is in both `include` and `exclude`", unit.value),
                        "exclusion wins, so the unit is not in the segment; remove it from one list",
                    )
                };
                self.push(Code::Duplicate, file, unit.span(), message).help = Some(help.into());
            }
        }
        self.segment_cycles();
    }

    fn segment_cycles(&mut self) {
        let repo = self.repo;
        let edges: BTreeMap<&str, Vec<&str>> = repo
            .segments
            .iter()
            .filter_map(|(name, loaded)| {
                let segment = loaded.doc.as_ref()?;
                let targets = referenced(&segment.conditions)
                    .map(|s| s.as_str())
                    .collect();
                Some((name.as_str(), targets))
            })
            .collect();
        for cycle in cycles(&edges) {
            let (first, second) = (cycle[0], cycle[1]);
            let loaded = &repo.segments[first];
            let segment = loaded
                .doc
                .as_ref()
                .expect("only loaded segments have edges");
            let span = referenced(&segment.conditions)
                .find(|s| s.as_str() == second)
                .map(|s| s.span())
                .expect("the cycle follows a reference");
            self.push(
                Code::SegmentCycle,
                repo.path(loaded.file),
                span,
                format!("segments form a cycle: {}", cycle.join(" → ")),
            )
            .help = Some("a segment cannot contain itself, directly or through others".into());
        }
    }
}

/// The segments a list of conditions refers to.
fn referenced(conditions: &[Spanned<Condition>]) -> impl Iterator<Item = &Name> {
    conditions
        .iter()
        .filter_map(|c| c.segment.as_ref().or(c.not_segment.as_ref()))
}
