//! The module map of docs/architecture.md, enforced: which top-level module of `src/` may
//! import which (`crate::…` paths in code, comments and `#[cfg(test)]` modules left out),
//! and no import cycle between them. A plain source scan: no tool to install, runs in
//! `cargo test`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers of docs/architecture.md, lowest first. A module may import modules of its
/// own layer or below, never above; within a layer the imports must not form a cycle.
const LAYERS: &[(&str, &[&str])] = &[
    // Ground floor: bytes, time, identifiers, XML and signatures. No SPID types.
    (
        "ground",
        &["printable", "b64", "time", "ids", "metrics", "xml", "dsig"],
    ),
    // The SAML/SPID vocabulary.
    (
        "vocabulary",
        &["saml", "binding_kind", "level", "federation", "identity"],
    ),
    // Descriptions: the SP configuration, metadata (both sides), certificates.
    (
        "description",
        &["config", "metadata", "certificates", "cns"],
    ),
    // Messages and their rules: errors, bindings, requests, response checks, what is kept.
    (
        "rules",
        &["error", "binding", "authn_request", "response", "pending"],
    ),
    // The SP ceremony: login, logout, the stores it uses.
    (
        "ceremony",
        &["idp_set", "observe", "audit", "sp", "logout", "store"],
    ),
    // Integrations: the web layer, the explicitly unverified decoder.
    (
        "integrations",
        &[
            "axum",
            "danger",
            "description",
            "gateway",
            "tenant",
            "tenants",
        ],
    ),
    // Tools: the test IdP, the fuzzing entry points (the CLI lives in src/bin/).
    ("tools", &["test_idp", "fuzzing"]),
];

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

/// The top-level module a file under `src/` belongs to (`None` for lib.rs and binaries).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    if first == "lib.rs" || first == "bin" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_owned())
}

/// The code of a file without comments and without its `#[cfg(test)]` items.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut depth = 0i32;
    let mut pending_test = false;
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let trimmed = code.trim();
        if skip_depth.is_none() && trimmed.starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        let opens = code.matches('{').count() as i32;
        let closes = code.matches('}').count() as i32;
        if pending_test && skip_depth.is_none() && !trimmed.is_empty() {
            pending_test = false;
            if opens > closes {
                skip_depth = Some(depth);
                depth += opens - closes;
                continue;
            }
            // a one-line item (`#[cfg(test)] use ...;`)
            continue;
        }
        depth += opens - closes;
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
            continue;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Top-level modules named by `crate::x…` and `use crate::{x, y::…}` in `code`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // use crate::{a, b::{c, d}, e};  top-level names at brace depth 0
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            found.insert(ident(item.trim()));
        } else {
            found.insert(ident(after));
        }
        rest = after;
    }
    found.retain(|m| !m.is_empty() && m.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = top_module(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let deps = g.entry(module.clone()).or_default();
        for m in imports(&code_of(&text)) {
            if m != module {
                deps.insert(m);
            }
        }
    }
    g
}

fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut c = stack[start..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&module))
}

#[test]
fn every_module_has_a_layer() {
    let g = graph();
    let missing: Vec<_> = g.keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        missing.is_empty(),
        "modules missing from LAYERS (and docs/architecture.md): {missing:?}"
    );
}

#[test]
fn no_module_imports_one_above_it() {
    let g = graph();
    let mut wrong = Vec::new();
    for (m, deps) in &g {
        let Some(lm) = layer_of(m) else { continue };
        for d in deps {
            if let Some(ld) = layer_of(d) {
                if ld > lm {
                    wrong.push(format!(
                        "{m} ({}) imports {d} ({})",
                        LAYERS[lm].0, LAYERS[ld].0
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "upward imports:\n{}", wrong.join("\n"));
}

#[test]
fn no_import_cycles_between_modules() {
    let g = graph();
    assert_eq!(cycle(&g), None, "import cycle between top-level modules");
}

#[test]
fn the_scanner_sees_imports() {
    let code = code_of(
        "use crate::{a, b::{c, d}, e::F};\nfn f() { crate::g::h(); } // crate::comment\n\
         #[cfg(test)]\nmod tests {\n    use crate::t;\n}\n",
    );
    let found: Vec<_> = imports(&code).into_iter().collect();
    assert_eq!(found, ["a", "b", "e", "g"]);
    // A real edge is seen: the ceremony uses the stores.
    assert!(graph()["sp"].contains("store"));
}

/// No library source file over 700 lines, tests excluded (docs/architecture.md).
#[test]
fn library_files_stay_small() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut big = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = match text.find("\n#[cfg(test)]\nmod tests") {
            Some(i) => &text[..i],
            None => &text,
        };
        let lines = code.lines().count();
        if lines > MAX_LINES && !ALLOWED_BIG.iter().any(|a| file.ends_with(a)) {
            big.push(format!("{} ({lines})", file.display()));
        }
    }
    assert!(big.is_empty(), "files over {MAX_LINES} lines: {big:?}");
}

const MAX_LINES: usize = 700;
/// Files allowed over the limit, each with its reason in docs/architecture.md.
const ALLOWED_BIG: &[&str] = &[];
