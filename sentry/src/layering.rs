//! Dependencies in sentry/src point one way: each file names only modules of its own layer or
//! below, and no two files name each other through any chain. Read from the source, so a
//! change that breaks the direction fails `cargo test`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers from the top: a module may use its own layer and those below it.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["sandbox"],
    &["supervisor"],
    &["syscalls", "strace"],
    &["proc"],
    &["kernel"],
    &["host", "events", "config"],
];

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next()?;
    LAYERS.iter().position(|layer| layer.contains(&top))
}

/// Every file of sentry/src as its module path ("kernel::memory"; "" for main.rs).
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read sentry/src") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path
                .strip_prefix(src)
                .expect("below src")
                .with_extension("");
            let mut module = rel.to_string_lossy().replace('/', "::");
            if let Some(parent) = module.strip_suffix("::mod") {
                module = parent.to_string();
            }
            if module == "main" || module == "layering" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            found.insert(module, text);
        }
    }
    found
}

/// The source without comments and without its unit tests.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file names with `crate::`, `super::` or `self::` paths (also inside
/// `use a::{b, c::d}` groups), resolved to the longest path that is a module.
fn named(module: &str, text: &str, all: &BTreeMap<String, String>) -> BTreeSet<String> {
    let code = code(text);
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &code[at..];
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .any(|p| rest.starts_with(p))
            && (at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_'));
        if !starts {
            at += 1;
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches(':').to_string();
        if rest[end..].starts_with('{') {
            let group_end = rest[end..].find('}').map_or(rest.len(), |i| end + i);
            for item in rest[end + 1..group_end].split(',') {
                let item = item.split(" as ").next().unwrap_or("").trim();
                if !item.is_empty() && item != "self" {
                    paths.push(format!("{path}::{item}"));
                }
            }
        }
        paths.push(path);
        at += end.max(1);
    }
    let mut out = BTreeSet::new();
    for path in paths {
        let mut parts: Vec<&str> = path.split("::").collect();
        let mut base: Vec<&str> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").collect()
        };
        match parts.first() {
            Some(&"crate") => base.clear(),
            Some(&"super") => {
                // A file's `super` is its parent module; mod.rs files are their directory.
                base.pop();
                while parts.get(1) == Some(&"super") {
                    base.pop();
                    parts.remove(0);
                }
            }
            _ => {}
        }
        parts.remove(0);
        let mut best = None;
        for n in 0..=parts.len() {
            let candidate = base
                .iter()
                .chain(parts[..n].iter())
                .copied()
                .collect::<Vec<_>>()
                .join("::");
            if all.contains_key(&candidate) {
                best = Some(candidate);
            }
        }
        if let Some(target) = best {
            // A module may use its ancestors (they are its dispatchers' namespace).
            if target != module && !module.starts_with(&format!("{target}::")) {
                out.insert(target);
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let all = modules(&src);
    all.iter()
        .map(|(module, text)| (module.clone(), named(module, text, &all)))
        .collect()
}

#[test]
fn every_file_uses_only_its_layer_and_below() {
    let mut wrong = Vec::new();
    for (module, uses) in graph() {
        let Some(own) = layer_of(&module) else {
            wrong.push(format!("{module} is in no layer"));
            continue;
        };
        for target in uses {
            if layer_of(&target).is_none_or(|l| l < own) {
                wrong.push(format!("{module} uses {target}, a layer above it"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_files_use_each_other_in_a_circle() {
    let graph = graph();
    // Depth-first search for a back edge; the circle is reported as found.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            return Some(path[at..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(circle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("files use each other in a circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_reader_sees_paths_of_every_form() {
    let all: BTreeMap<String, String> = ["kernel", "kernel::memory", "syscalls", "syscalls::fs"]
        .iter()
        .map(|m| (m.to_string(), String::new()))
        .collect();
    let text = "use super::fs::{self, x};\nuse crate::kernel::{memory::Y, Z};\n// crate::config\n";
    let uses = named("syscalls::net", text, &all);
    let want: BTreeSet<String> = ["kernel", "kernel::memory", "syscalls::fs"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(uses, want);
}
