//! Shared by the root package's tests: where things are, the header's prototypes, and running
//! commands with a clear failure message.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (the `gat` package's directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the libgat.so and libgat.a of this test build. Found from the test
/// executable (`<target>/<profile>/deps/<test>-<hash>`), so it follows CARGO_TARGET_DIR and the
/// profile in use. cargo writes the library built for the tests into deps/ (it copies it up to
/// <profile>/ only for `cargo build`), so deps/ is preferred.
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the deps directory");
    if deps.join("libgat.so").exists() {
        deps.to_path_buf()
    } else {
        deps.parent().expect("the profile directory").to_path_buf()
    }
}

/// The `gat-job-monitor` program (the local adaptor's job server) that cargo built beside this
/// test, in `<target>/<profile>/`: `cargo test --workspace` (and `make test`) build it. None when
/// it was not built (a test of this package alone).
pub fn job_monitor_program() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let program = exe.parent()?.parent()?.join("gat-job-monitor");
    program.exists().then_some(program)
}

/// The built shared library.
pub fn shared_library() -> PathBuf {
    let lib = build_dir().join("libgat.so");
    assert!(
        lib.exists(),
        "{} does not exist: cargo builds it with the library (crate-type cdylib)",
        lib.display()
    );
    lib
}

/// Run a command; fail the test with its output when it cannot start or exits non-zero.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- command: {cmd:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// True when `program` is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// One parameter of a C prototype.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The C type as written, normalised to single spaces (`const char *`, `GATTable_const *`).
    pub ty: String,
    pub name: String,
}

/// One function prototype of include/gat.h.
#[derive(Debug, Clone, PartialEq)]
pub struct Prototype {
    pub ret: String,
    pub name: String,
    pub params: Vec<Param>,
    /// The comment lines directly above the prototype.
    pub doc: Vec<String>,
}

/// Split `type name` (`const char *key`, `GATTable t`) into its type and its name.
fn split_declarator(decl: &str) -> (String, String) {
    let decl = decl.trim();
    let name_start = decl
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map(|i| i + 1)
        .unwrap_or(0);
    let name = decl[name_start..].to_string();
    let ty = normalise_type(&decl[..name_start]);
    (ty, name)
}

/// `const char*` and `const char *` alike become `const char *`.
pub fn normalise_type(ty: &str) -> String {
    let spaced = ty.replace('*', " * ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out = String::new();
    for w in words {
        if w == "*" {
            out.push_str(if out.ends_with('*') { "*" } else { " *" });
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
    }
    out.trim().to_string()
}

/// The function prototypes of a cbindgen-generated header, in order, with their doc comments.
/// Only the `extern "C"` block holds functions; declarations there may span several lines.
pub fn prototypes(header: &str) -> Vec<Prototype> {
    let mut protos = Vec::new();
    let mut in_block = false;
    let mut doc: Vec<String> = Vec::new();
    let mut pending = String::new();
    for line in header.lines() {
        let t = line.trim();
        if t.starts_with("extern \"C\" {") {
            in_block = true;
            continue;
        }
        if !in_block {
            continue;
        }
        if t.starts_with('}') && pending.is_empty() {
            in_block = false;
            continue;
        }
        if t.starts_with("#") {
            continue;
        }
        if pending.is_empty() {
            if let Some(c) = t.strip_prefix("//") {
                doc.push(c.trim().to_string());
                continue;
            }
            if t.is_empty() {
                doc.clear();
                continue;
            }
        }
        pending.push(' ');
        pending.push_str(t);
        if t.ends_with(';') {
            let decl = pending.trim().trim_end_matches(';').to_string();
            pending.clear();
            let open = decl.find('(').expect("a prototype has a parameter list");
            let close = decl.rfind(')').expect("a prototype has a parameter list");
            let (ret, name) = split_declarator(&decl[..open]);
            let inner = decl[open + 1..close].trim();
            let params = if inner.is_empty() || inner == "void" {
                Vec::new()
            } else {
                inner
                    .split(',')
                    .map(|p| {
                        let (ty, name) = split_declarator(p);
                        Param { ty, name }
                    })
                    .collect()
            };
            protos.push(Prototype { ret, name, params, doc: std::mem::take(&mut doc) });
        }
    }
    protos
}

/// The names of the handle typedefs (`typedef struct GATX_S *GATX;`, `typedef const struct
/// GATX_S *GATX_const;`) mapped to their class (`GATX`), plus aliases such as GATJobID.
pub fn handle_types(header: &str) -> Vec<(String, String)> {
    let mut handles: Vec<(String, String)> = Vec::new();
    for line in header.lines() {
        let t = line.trim();
        let Some(rest) = t.strip_prefix("typedef ") else { continue };
        let rest = rest.trim_end_matches(';');
        let (ty, name) = split_declarator(rest);
        let ty = ty.trim_start_matches("const ").to_string();
        if let Some(class) = ty.strip_prefix("struct ").and_then(|s| s.strip_suffix("_S *")) {
            handles.push((name, class.to_string()));
        } else if let Some((_, class)) = handles.iter().find(|(h, _)| *h == ty).cloned() {
            // An alias of a handle type (GATJobID is a GATString).
            handles.push((name, class));
        }
    }
    handles
}

/// Read include/gat.h.
pub fn committed_header() -> String {
    let path = root().join("include/gat.h");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (run `make header`)", path.display()))
}

/// A path as a string for a command line.
pub fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
