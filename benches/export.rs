//! `flagstone export --format flagd` on synthetic repositories (see benches/support/synth.rs):
//! `cargo bench --bench export`

#[path = "support/repository.rs"]
mod repository;
#[path = "support/synth.rs"]
mod synth;

use std::collections::BTreeMap;

use repository::{options, repository};

fn main() {
    divan::main();
}

/// The command: load, check, build every environment, export it and write the files.
#[divan::bench(args = [10_000], sample_count = 10, sample_size = 1)]
fn export_flagd(bencher: divan::Bencher, flags: usize) {
    let dir = repository(flags);
    let out = tempfile::tempdir().unwrap();
    let options = options();
    bencher.bench(|| {
        let repo = flagstone::load::load(&dir).unwrap();
        let report = flagstone::check::check(&repo, &options);
        let export = flagstone::export::flagd(report.checked().unwrap(), &[]).unwrap();
        flagstone::export::write(out.path(), &export.files).unwrap();
        export.files.len()
    });
}

/// The peer, from the same repository in the same run: `build` (load, check, build, write).
#[divan::bench(args = [10_000], sample_count = 10, sample_size = 1)]
fn build(bencher: divan::Bencher, flags: usize) {
    let dir = repository(flags);
    let out = tempfile::tempdir().unwrap();
    let options = options();
    bencher.bench(|| {
        let repo = flagstone::load::load(&dir).unwrap();
        let report = flagstone::check::check(&repo, &options);
        flagstone::output::write(out.path(), report.checked().unwrap(), None)
            .unwrap()
            .environments
            .len()
    });
}

/// The export alone: one built bundle to flagd's JSON bytes.
#[divan::bench(args = [10_000], sample_count = 10, sample_size = 1)]
fn bundle_to_flagd(bencher: divan::Bencher, flags: usize) {
    let dir = repository(flags);
    let repo = flagstone::load::load(&dir).unwrap();
    let report = flagstone::check::check(&repo, &options());
    let bundles = flagstone::build::all(report.checked().unwrap());
    let production = bundles.last().unwrap();
    let metadata = BTreeMap::new();
    let (file, refusals) = flagstone::export::bundle_to_flagd(production, &metadata);
    assert!(refusals.is_empty(), "{:?}", refusals.first());
    assert_eq!(file.flags, flags);
    bencher.bench(|| {
        flagstone::export::bundle_to_flagd(production, &metadata)
            .0
            .bytes
            .len()
    });
}
