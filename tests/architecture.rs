//! The shape of `src/`, checked on every test run (ARCHITECTURE.md says why each rule holds):
//!
//! * no import circle between modules — a module that imports another never gets imported back,
//!   directly or through others;
//! * no file of `src/` longer than 800 lines;
//! * one `impl Agent`: the reconciler only orchestrates its stages;
//! * restarting a node has one of each: one drain, one wait until a node serves again (with the
//!   one crash detection), one shutdown, one uptime rule.
//!
//! The module graph is read from the source text: every `crate::…`, `super::…` and `self::…` path
//! (in `use` lines and in code), and every path that starts with the name of one of the module's
//! own child modules, is an arrow from the file's module to the module the path names (the longest
//! prefix of it that is a module). Comments and `#[cfg(test)]` modules are left out: a test may
//! reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

/// A module of the crate: its path (`engine::client`) and its code.
struct Module {
    path: Vec<String>,
    code: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file defines (`src/engine/mod.rs` → `engine`), `None` for the crate roots.
fn module_path(file: &Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    match last.as_str() {
        "lib.rs" | "main.rs" if parts.is_empty() => None,
        "mod.rs" => Some(parts),
        _ => {
            parts.push(last.trim_end_matches(".rs").to_string());
            Some(parts)
        }
    }
}

/// The code of a file without comments, string contents and its test module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    out.push('"');
                }
                '\n' => out.push('\n'),
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push('"');
            }
            // A char literal that is a quote (`'"'`) does not open a string.
            '\'' if chars.peek() == Some(&'"') => {
                out.push('\'');
                out.push(chars.next().unwrap());
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn modules() -> Vec<Module> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|file| {
            let path = module_path(&file)?;
            let code = code_of(&std::fs::read_to_string(&file).unwrap());
            Some(Module { path, code })
        })
        .collect()
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths a `use` tree names, each as its segments (`a::{b, c::d}` → `a::b`, `a::c::d`).
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    expand(&tree, &mut Vec::new(), &mut out);
    out
}

fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for item in split_top(tree) {
        match item.find('{') {
            Some(open) => {
                let head = &item[..open];
                let inner = &item[open + 1..item.len() - 1];
                let segments: Vec<String> = head
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                let n = segments.len();
                prefix.extend(segments);
                expand(inner, prefix, out);
                prefix.truncate(prefix.len() - n);
            }
            None => {
                let path = item.split(" as ").next().unwrap_or(item);
                let mut full = prefix.clone();
                // `a::{self, b}`: `self` is `a` itself.
                let alone = full.is_empty();
                full.extend(
                    path.split("::")
                        .filter(|s| !s.is_empty() && (*s != "self" || alone))
                        .map(str::to_string),
                );
                if !full.is_empty() {
                    out.push(full);
                }
            }
        }
    }
}

/// Splits `a, b::{c, d}, e` at its top-level commas.
fn split_top(tree: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tree[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// Every path the code names that starts with one of `roots`, as segments.
fn paths_in(code: &str, roots: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // `use` statements, braces and all.
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(is_ident_char) {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let tree = &rest[..end];
        if tree
            .chars()
            .all(|c| is_ident_char(c) || ":{}, \n\t*".contains(c))
            || tree.contains(" as ")
        {
            for path in expand_use(tree) {
                if roots.contains(&path[0]) {
                    out.push(path);
                }
            }
        }
    }
    // Paths in code: `root::a::b`.
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if is_ident_char(bytes[i])
            && (i == 0 || !(is_ident_char(bytes[i - 1]) || bytes[i - 1] == ':'))
        {
            let mut j = i;
            let mut segments = Vec::new();
            loop {
                let start = j;
                while j < bytes.len() && is_ident_char(bytes[j]) {
                    j += 1;
                }
                segments.push(bytes[start..j].iter().collect::<String>());
                if j + 2 < bytes.len()
                    && bytes[j] == ':'
                    && bytes[j + 1] == ':'
                    && is_ident_char(bytes[j + 2])
                {
                    j += 2;
                } else {
                    break;
                }
            }
            if segments.len() > 1 && roots.contains(&segments[0]) {
                out.push(segments);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The module graph: module → the modules it names.
fn graph(modules: &[Module]) -> BTreeMap<String, BTreeSet<String>> {
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let name = |p: &[String]| p.join("::");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in modules {
        let children: BTreeSet<String> = known
            .iter()
            .filter(|k| k.len() == m.path.len() + 1 && k.starts_with(&m.path))
            .map(|k| k.last().unwrap().clone())
            .collect();
        let mut roots: BTreeSet<String> = ["crate", "super", "self"].map(String::from).into();
        roots.extend(children.iter().cloned());
        let from = name(&m.path);
        let targets = edges.entry(from.clone()).or_default();
        for path in paths_in(&m.code, &roots) {
            // Absolute segments of the path.
            let mut absolute: Vec<String> = match path[0].as_str() {
                "crate" => Vec::new(),
                "super" => m.path[..m.path.len() - 1].to_vec(),
                "self" => m.path.clone(),
                _ => {
                    let mut p = m.path.clone();
                    p.push(path[0].clone());
                    p
                }
            };
            let mut rest = &path[1..];
            let mut supers = rest.iter().take_while(|s| *s == "super").count();
            while supers > 0 {
                absolute.pop();
                supers -= 1;
                rest = &rest[1..];
            }
            absolute.extend(rest.iter().cloned());
            // The longest prefix that is a module.
            let target = (1..=absolute.len())
                .rev()
                .map(|n| absolute[..n].to_vec())
                .find(|p| known.contains(p));
            if let Some(target) = target
                && target != m.path
            {
                targets.insert(name(&target));
            }
        }
    }
    edges
}

/// The strongly connected components of more than one module (Tarjan).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.found
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let edges = graph(&modules());
    let found = circles(&edges);
    let described: Vec<String> = found
        .iter()
        .map(|c| {
            let arrows: Vec<String> = c
                .iter()
                .flat_map(|from| {
                    edges[from]
                        .iter()
                        .filter(|to| c.contains(to))
                        .map(move |to| format!("{from} → {to}"))
                })
                .collect();
            format!("{{{}}}: {}", c.join(", "), arrows.join("; "))
        })
        .collect();
    assert!(
        found.is_empty(),
        "import circles:\n{}",
        described.join("\n")
    );
}

#[test]
fn no_file_of_src_is_over_800_lines() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let long: Vec<String> = files
        .iter()
        .map(|f| (f, std::fs::read_to_string(f).unwrap().lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(f, n)| format!("{} ({n} lines)", f.display()))
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}

#[test]
fn the_agent_is_one_impl_block() {
    let mut files = Vec::new();
    rust_files(&src().join("reconcile"), &mut files);
    let blocks: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .filter(|l| l.starts_with("impl Agent") || l.starts_with("impl<'a> Agent"))
                .map(|_| f.display().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(blocks.len(), 1, "impl Agent blocks: {blocks:?}");
}

/// Where `needle` (a definition's text) stands in `src/`, as `file:line`.
fn defined(needle: &str) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let relative = f.strip_prefix(src()).unwrap().display().to_string();
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.trim_start().starts_with(needle))
                .map(|(n, _)| format!("{relative}:{}", n + 1))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn restarting_a_node_has_one_drain_one_wait_one_crash_detector_one_shutdown_one_uptime_rule() {
    for needle in [
        // The drain loop, and the one --drain-timeout-action decision.
        "pub async fn drain(",
        "Drain::TimedOut { running } => match (action",
        // The wait until a restarted node serves again, coordinator or worker; it holds the
        // one crash detection (a node that answered, then closed its port).
        "pub async fn wait_serving<",
        "if crash_fails && silent_since",
        // The engine's own shutdown and its refusal texts.
        "pub async fn shut_down(",
        "pub fn refusal(",
        // When a node started, from its uptime.
        "pub fn start_window(",
    ] {
        let places = defined(needle);
        assert_eq!(places.len(), 1, "{needle} is defined at {places:?}");
        assert!(
            places[0].starts_with("engine/"),
            "{needle} belongs with the engine's nodes: {places:?}"
        );
    }
}

/// The checker itself: a circle made on purpose is found, with its arrows.
#[test]
fn the_circle_check_finds_a_circle_through_use_super_and_child_paths() {
    let module = |path: &str, code: &str| Module {
        path: path.split("::").map(String::from).collect(),
        code: code_of(code),
    };
    let edges = graph(&[
        module("a", "use crate::b::{self, X};\nfn f() { c::g(); }"),
        module("a::c", "fn g() { super::super::d::h(); }"),
        module("b", "// use crate::a;\nconst S: &str = \"crate::a\";"),
        module("d", "pub fn h() { crate::a::f() }"),
    ]);
    assert_eq!(edges["a"], ["a::c", "b"].map(String::from).into());
    assert!(edges["b"].is_empty(), "comments and strings are not code");
    assert_eq!(
        circles(&edges),
        vec![["a", "a::c", "d"].map(String::from).to_vec()]
    );
}
