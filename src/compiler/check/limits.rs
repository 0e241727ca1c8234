//! The evaluator's size limits (`eval::limits`), checked on the repository, so that every
//! bundle built from a checked repository loads.

use std::ops::Range;

use crate::diag::Code;
use crate::eval::limits;
use crate::model::{Condition, Spanned};

use super::Scope;

impl Scope<'_> {
    pub(super) fn limits(&mut self) {
        let repo = self.repo;
        for (count, cap, what) in [
            (repo.flags.len(), limits::FLAGS, "flags"),
            (repo.segments.len(), limits::SEGMENTS, "segments"),
        ] {
            if count > cap {
                let file = repo
                    .project
                    .as_ref()
                    .map_or("flagstone.toml", |p| repo.path(p.file));
                self.over(
                    file,
                    0..0,
                    format!("the repository has {count} {what}"),
                    cap,
                );
            }
        }
        for loaded in repo.segments.values() {
            let Some(segment) = &loaded.doc else { continue };
            let file = repo.path(loaded.file);
            self.conditions_limit(file, &segment.conditions, "the segment");
            self.list(file, &segment.include, limits::UNITS, "units in `include`");
            self.list(file, &segment.exclude, limits::UNITS, "units in `exclude`");
        }
        for loaded in repo.flags.values() {
            let Some(flag) = &loaded.doc else { continue };
            let file = repo.path(loaded.file);
            if let Some(variants) = &flag.variants
                && variants.len() > limits::VARIANTS
            {
                let span = variants
                    .keys()
                    .nth(limits::VARIANTS)
                    .map_or(variants.span(), |k| k.span());
                let message = format!("the flag has {} variants", variants.len());
                self.over(file, span, message, limits::VARIANTS);
            }
            self.list(
                file,
                &flag.prerequisites,
                limits::PREREQUISITES,
                "prerequisites",
            );
            for env in flag.env.values() {
                self.list(file, &env.rules, limits::RULES, "rules in an environment");
                self.list(file, &env.schedule, limits::STEPS, "schedule steps");
                for rule in &env.rules {
                    self.conditions_limit(file, &rule.conditions, "the rule");
                    self.list(file, &rule.schedule, limits::STEPS, "schedule steps");
                }
            }
        }
    }

    fn conditions_limit(&mut self, file: &str, conditions: &[Spanned<Condition>], whose: &str) {
        self.list(
            file,
            conditions,
            limits::CONDITIONS,
            &format!("conditions in {whose}"),
        );
        for condition in conditions {
            if let Some(values) = &condition.values {
                self.list(file, values, limits::OPERANDS, "operands");
            }
        }
    }

    /// Reports a list longer than `cap` at its first item past the cap.
    fn list<T>(&mut self, file: &str, items: &[Spanned<T>], cap: usize, what: &str) {
        if let Some(first_over) = items.get(cap) {
            let message = format!("{} {what}", items.len());
            self.over(file, first_over.span(), message, cap);
        }
    }

    fn over(&mut self, file: &str, span: Range<usize>, what: String, cap: usize) {
        self.push(
            Code::OverLimit,
            file,
            span,
            format!("{what}, more than the evaluator's limit of {cap}"),
        )
        .help = Some(
            "bundles over the limits are refused by the evaluator; split the list or the flag"
                .into(),
        );
    }
}
