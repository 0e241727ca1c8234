//! The committed JSON Schemas are exactly what the model generates.

use flagstone::schema::{
    BUNDLE_SCHEMA_FILE, EXPOSURE_SCHEMA_FILE, FileKind, generate, generate_bundle,
    generate_exposure,
};

use crate::support::{assert_file, root};

#[test]
fn committed_schemas_match_the_model() {
    for kind in FileKind::ALL {
        let mut text = serde_json::to_string_pretty(&generate(kind)).unwrap();
        text.push('\n');
        assert_file(&root().join("schema").join(kind.schema_file()), &text);
    }
    let mut text = serde_json::to_string_pretty(&generate_bundle()).unwrap();
    text.push('\n');
    assert_file(&root().join("schema").join(BUNDLE_SCHEMA_FILE), &text);
    let mut text = serde_json::to_string_pretty(&generate_exposure()).unwrap();
    text.push('\n');
    assert_file(&root().join("schema").join(EXPOSURE_SCHEMA_FILE), &text);
}

#[test]
fn built_bundles_follow_the_bundle_schema() {
    let schema = generate_bundle();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let out = crate::support::tempdir();
    let out_dir = out.path().to_str().unwrap();
    let (code, _, stderr) = crate::support::run(
        &[
            "build",
            "--dir",
            "flags.example",
            "--out",
            out_dir,
            "--now",
            crate::support::NOW,
        ],
        &root(),
    );
    assert_eq!(code, 0, "{stderr}");
    let mut bundles = 0;
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "manifest.json" {
            continue;
        }
        let bundle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&bundle)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        bundles += 1;
    }
    assert_eq!(bundles, 3);
}

#[test]
fn the_schema_command_writes_the_committed_schemas() {
    let dir = crate::support::tempdir();
    let (code, stdout, _) = crate::support::run(&["schema", "--out", "out"], dir.path());
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 7);
    let files = FileKind::ALL.map(FileKind::schema_file);
    for file in files
        .iter()
        .chain([&BUNDLE_SCHEMA_FILE, &EXPOSURE_SCHEMA_FILE])
    {
        let written = std::fs::read(dir.path().join("out").join(file)).unwrap();
        let committed = std::fs::read(root().join("schema").join(file)).unwrap();
        assert_eq!(written, committed, "{file}");
    }
    // Nothing but the schemas is left behind.
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        7
    );
    // An output path that is a file is an I/O error.
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let (code, _, stderr) = crate::support::run(&["schema", "--out", "file"], dir.path());
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: cannot create file"), "{stderr}");
}

#[test]
fn every_example_file_names_its_schema() {
    let example = root().join("flags.example");
    for entry in walkdir::WalkDir::new(&example) {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let target = first
            .strip_prefix("#:schema ")
            .unwrap_or_else(|| panic!("{} does not start with #:schema", entry.path().display()));
        let schema = entry.path().parent().unwrap().join(target);
        assert!(
            schema.is_file(),
            "{}: {target} does not exist",
            entry.path().display()
        );
    }
}
