//! The source layout holds: modules use only their own layer and the layers below it, no two
//! modules use each other, src/lib.rs's layer table lists what its folders declare, only the
//! git module names git2, and the runner compiles every test file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::root;

/// The layers, lowest first; each may use the ones before it. `operations` and `experiments`
/// share a rank: beside each other, neither may use the other.
const LAYERS: [(&str, u32); 6] = [
    ("foundation", 0),
    ("runtime", 1),
    ("compiler", 2),
    ("operations", 3),
    ("experiments", 3),
    ("cli", 4),
];

fn rank(layer: &str) -> u32 {
    LAYERS
        .iter()
        .find(|(name, _)| *name == layer)
        .unwrap_or_else(|| panic!("src/{layer} is not a layer"))
        .1
}

/// The modules each layer block of src/lib.rs declares (`mod layer { pub mod name; … }`),
/// and the module `cli` in a layer of its own.
fn declared(lib: &str) -> BTreeMap<String, String> {
    let mut modules = BTreeMap::from([("cli".to_owned(), "cli".to_owned())]);
    let mut layer = None;
    for line in lib.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("mod ").and_then(|l| l.strip_suffix(" {")) {
            layer = Some(name.to_owned());
        } else if line == "}" {
            layer = None;
        } else if let Some(layer) = &layer {
            let name = line
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ")
                .strip_prefix("mod ")
                .and_then(|l| l.strip_suffix(';'));
            if let Some(name) = name {
                modules.insert(name.to_owned(), layer.clone());
            }
        }
    }
    modules
}

/// The crate modules `source` names: `crate::name` and `use crate::{a, b::c}`.
fn uses(source: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in source.match_indices("crate::") {
        let rest = &source[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        used.insert(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            used.insert(ident(rest));
        }
    }
    used.remove("");
    used
}

/// The module a source file belongs to: src/LAYER/NAME.rs or src/LAYER/NAME/…, or `cli`.
fn module_of(relative: &Path) -> Option<String> {
    let parts: Vec<&str> = relative.iter().filter_map(|p| p.to_str()).collect();
    match parts.as_slice() {
        ["cli", ..] => Some("cli".to_owned()),
        [_layer, file] => Some(file.trim_end_matches(".rs").to_owned()),
        [_layer, folder, ..] => Some((*folder).to_owned()),
        _ => None,
    }
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Module → the crate modules it uses, from every source file under src/.
fn graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let Some(module) = module_of(relative) else {
            continue;
        };
        let source = std::fs::read_to_string(&file).unwrap();
        assert!(
            !source.contains("super::super"),
            "{}: reaches past its module with super::super; name the module through crate::",
            relative.display()
        );
        let layer = relative.iter().next().unwrap().to_str().unwrap();
        assert_eq!(
            modules.get(&module).map(String::as_str),
            Some(layer),
            "{}: not declared in src/lib.rs's `mod {layer}` block",
            relative.display()
        );
        let used = uses(&source);
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(used.into_iter().filter(|u| *u != module));
    }
    graph
}

#[test]
fn modules_use_only_their_layer_and_the_layers_below() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let modules = declared(&lib);
    let mut wrong = Vec::new();
    for (module, used) in graph(&modules) {
        let layer = &modules[&module];
        for other in used {
            let Some(other_layer) = modules.get(&other) else {
                panic!("{module} names crate::{other}, which no layer declares");
            };
            let allowed = other_layer == layer || rank(other_layer) < rank(layer);
            if !allowed {
                wrong.push(format!("{module} ({layer}) uses {other} ({other_layer})"));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_use_each_other() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let graph = graph(&declared(&lib));
    // Depth-first search; a module met again while on the path closes a cycle.
    fn visit<'g>(
        module: &'g str,
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'g str>,
        done: &mut BTreeSet<&'g str>,
    ) {
        if let Some(at) = path.iter().position(|m| *m == module) {
            panic!("cycle: {} -> {module}", path[at..].join(" -> "));
        }
        if !done.insert(module) {
            return;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_layer_table_lists_what_the_layers_declare() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let mut declared_by_layer: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, layer) in declared(&lib) {
        if layer != "cli" {
            declared_by_layer.entry(layer).or_default().insert(module);
        }
    }
    let mut tabled: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in lib.lines().filter_map(|l| l.strip_prefix("//! | `")) {
        let mut cells = row.split(" | ");
        let layer = cells.next().unwrap().trim_end_matches('`');
        if layer == "cli" {
            continue;
        }
        let names = cells.next().unwrap();
        let modules = names
            .split([',', ';'])
            .map(|m| m.trim().split(' ').next().unwrap().to_owned())
            .collect();
        tabled.insert(layer.to_owned(), modules);
    }
    assert_eq!(tabled, declared_by_layer);
}

/// git is reached through one module: the rest of the crate names no git library, so none
/// of its types leak into other modules' signatures.
#[test]
fn only_the_git_module_names_git2() {
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let naming: Vec<String> = files
        .iter()
        .filter(|file| !file.ends_with("foundation/git.rs"))
        .filter(|file| std::fs::read_to_string(file).unwrap().contains("git2"))
        .map(|file| file.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(
        naming.is_empty(),
        "name git2 outside src/foundation/git.rs: {naming:?}"
    );
}

#[test]
fn the_runner_compiles_every_test_file() {
    let runner = std::fs::read_to_string(root().join("tests/runner.rs")).unwrap();
    let listed: BTreeSet<&str> = runner
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let files: BTreeSet<String> = std::fs::read_dir(root().join("tests"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let stem = name.strip_suffix(".rs")?;
            stem.starts_with("test_").then(|| stem.to_owned())
        })
        .collect();
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !listed.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "tests/runner.rs does not compile {missing:?}"
    );
}

#[test]
fn uses_reads_paths_and_groups() {
    let source =
        "use crate::model::{A, B};\nuse crate::{diag::Code, load};\nlet x = crate::op::Op::Eq;";
    assert_eq!(
        uses(source),
        BTreeSet::from(["model", "diag", "load", "op"].map(String::from))
    );
}
