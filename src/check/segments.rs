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
                    segment.description.span.clone(),
                    format!("segment `{name}` has neither `include` nor `if`, so it matches nobody"),
                )
                .help = Some("list units in `include`, or add conditions in `if`".into());
            }
            let mut seen = BTreeMap::new();
            for unit in segment.include.iter().chain(&segment.exclude) {
                if seen.insert(unit.as_str(), ()).is_some() {
                    self.push(
                        Code::Duplicate,
                        file,
                        unit.span.clone(),
                        format!("unit `{}` is listed twice in `include` and `exclude`", unit.value),
                    )
                    .help = Some("exclusion wins; list each unit once".into());
                }
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
                let targets = referenced(&segment.conditions).map(|s| s.as_str()).collect();
                Some((name.as_str(), targets))
            })
            .collect();
        for cycle in cycles(&edges) {
            let (first, second) = (cycle[0], cycle[1]);
            let loaded = &repo.segments[first];
            let segment = loaded.doc.as_ref().expect("only loaded segments have edges");
            let span = referenced(&segment.conditions)
                .find(|s| s.as_str() == second)
                .map(|s| s.span.clone())
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
