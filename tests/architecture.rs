//! The shape docs/architecture.md promises, checked on the source: no two
//! modules import each other, the modules that run events never import
//! `config`, and no source file outgrows one owner (about 800 lines), nor
//! does any test file under `tests/` (the fixtures and data aside).
//!
//! Imports are read from the text: every `crate::name` path (including
//! `use crate::{a, b}` groups) outside comments and outside `#[cfg(test)]`
//! items and `tests.rs` files, attributed to the top-level module whose
//! folder or file holds it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that run events: each defines its own settings types and is
/// handed them; none reads the whole config.
const OWNERS: &[&str] = &[
    "consent",
    "crypto",
    "event",
    "forward",
    "ingest",
    "json",
    "pipeline",
    "policy",
    "privacy",
    "protocol",
    "spool",
    "tracker_http",
];

/// Longest source or test file, in lines.
const MAX_LINES: usize = 800;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    assert!(files.len() > 20, "found the sources");
    files
}

/// Every `.rs` file of the integration tests, but for what `tests/fixtures`
/// and `tests/data` hold (inputs, not tests).
fn test_sources() -> Vec<PathBuf> {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&tests).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("fixtures") && !path.ends_with("data") {
                sources(&path, &mut files);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    assert!(files.len() > 20, "found the tests");
    files
}

/// The top-level module a file belongs to (`None` for lib.rs and main.rs).
fn module_of(path: &Path) -> Option<String> {
    let rel = path
        .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_owned())
}

fn is_test_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "tests.rs")
        || path
            .components()
            .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "testdata")
}

/// The file's code without comments and without `#[cfg(test)]` items.
fn non_test_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            // Skip the item it guards: one line ending in `;`, or a block.
            let mut depth = 0i64;
            let mut opened = false;
            for next in lines.by_ref() {
                let next = next.split("//").next().unwrap_or("");
                depth += next.matches('{').count() as i64;
                depth -= next.matches('}').count() as i64;
                opened |= next.contains('{');
                if (opened && depth <= 0) || (!opened && next.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        out.push_str(line.split("//").next().unwrap_or(""));
        out.push('\n');
    }
    out
}

/// The top-level modules a piece of code names through `crate::`.
fn imports(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                found.insert(ident(item.trim()));
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| modules.contains(m));
    found
}

/// module -> the modules it imports, from non-test code.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = all_sources();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        if is_test_file(file) {
            continue;
        }
        let code = non_test_code(&std::fs::read_to_string(file).unwrap());
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(
            imports(&code, &modules)
                .into_iter()
                .filter(|m| *m != module),
        );
    }
    graph
}

#[test]
fn no_two_modules_import_each_other_even_through_others() {
    let graph = graph();
    // Every module's reach; a module that reaches itself is in a cycle.
    let mut cycles = Vec::new();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = stack.pop() {
            if seen.insert(m.clone()) {
                stack.extend(graph.get(m).into_iter().flatten());
            }
        }
        if seen.contains(start) {
            cycles.push(start.clone());
        }
    }
    assert!(
        cycles.is_empty(),
        "modules in an import cycle: {cycles:?}\nimports: {graph:#?}"
    );
}

#[test]
fn modules_that_run_events_never_import_config() {
    let graph = graph();
    for owner in OWNERS {
        let imports = graph
            .get(*owner)
            .unwrap_or_else(|| panic!("module {owner} exists"));
        assert!(
            !imports.contains("config"),
            "{owner} imports config: it must define its own settings types \
             and be handed them (see docs/architecture.md)"
        );
    }
}

#[test]
fn the_checks_see_imports_and_skip_tests_and_comments() {
    let modules: BTreeSet<String> = ["config", "json", "event"].map(String::from).into();
    let code = non_test_code(
        "use crate::{json::Limits, event};\n// crate::config in a comment\n\
         #[cfg(test)]\nmod tests {\n    use crate::config::Config;\n}\n\
         #[cfg(test)]\nmod model;\nfn f() -> crate::json::Marks {}\n",
    );
    assert_eq!(
        imports(&code, &modules),
        ["event", "json"].map(String::from).into()
    );
}

#[test]
fn every_source_file_stays_under_the_size_of_one_owner() {
    let too_long: Vec<String> = all_sources()
        .iter()
        .chain(&test_sources())
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "split these by responsibility (docs/architecture.md): {too_long:?}"
    );
}
