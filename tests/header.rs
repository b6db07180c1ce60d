//! include/gat.h is generated from the Rust sources (cbindgen.toml, src/ffi/) and committed.
//! These tests keep it fresh, check that it declares exactly what libgat.so exports, and that
//! every declaration is documented. `GAT_BLESS=1 cargo test --test header` (or `make header`)
//! rewrites the committed header.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use support::{committed_header, prototypes, root, run_ok, shared_library};

/// The header as the current sources generate it. Only src/ffi (the C glue) is parsed, so public
/// Rust items of the engine never leak into the C API.
fn generate() -> String {
    let root = root();
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml: {e}"));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen cannot generate the header: {e}"));
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn header_is_up_to_date() {
    let generated = generate();
    let path = root().join("include/gat.h");
    if std::env::var_os("GAT_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let committed = committed_header();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}:\n  committed: {a}\n  generated: {b}", i + 1))
            .unwrap_or_else(|| "one is a prefix of the other".into());
        panic!(
            "include/gat.h is stale: regenerate it with `make header` (GAT_BLESS=1 cargo test --test header)\nfirst difference at {first_difference}"
        );
    }
}

/// The GAT functions libgat.so defines in its dynamic symbol table.
fn exported_symbols() -> BTreeSet<String> {
    let lib = shared_library();
    let out = run_ok(
        Command::new("nm").args(["-D", "--defined-only"]).arg(&lib),
        "nm -D --defined-only libgat.so",
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace().rev();
            let name = parts.next()?;
            let kind = parts.next()?;
            (kind == "T" && name.starts_with("GAT")).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn header_declares_exactly_the_exported_symbols() {
    let header = committed_header();
    let declared: BTreeSet<String> = prototypes(&header).into_iter().map(|p| p.name).collect();
    assert!(!declared.is_empty(), "no prototypes parsed from include/gat.h");
    let exported = exported_symbols();
    let missing_from_header: Vec<_> = exported.difference(&declared).collect();
    let not_exported: Vec<_> = declared.difference(&exported).collect();
    assert!(
        missing_from_header.is_empty() && not_exported.is_empty(),
        "include/gat.h and libgat.so disagree (run `make header`, and make every C function \
         #[no_mangle] pub extern \"C\"):\n  exported but not declared: {missing_from_header:?}\n  \
         declared but not exported: {not_exported:?}"
    );
}

#[test]
fn every_function_is_documented() {
    let header = committed_header();
    let undocumented: Vec<String> = prototypes(&header)
        .into_iter()
        .filter(|p| p.doc.iter().all(|l| l.is_empty()))
        .map(|p| p.name)
        .collect();
    assert!(
        undocumented.is_empty(),
        "functions without a /// doc comment (it becomes the header's documentation): {undocumented:?}"
    );
}

/// Every typedef and #define (outside enum bodies) is directly preceded by a comment.
#[test]
fn every_type_and_constant_is_documented() {
    let header = committed_header();
    let mut previous = "";
    let mut undocumented = Vec::new();
    let mut depth = 0usize;
    for line in header.lines() {
        let t = line.trim();
        if depth == 0 && (t.starts_with("typedef ") || t.starts_with("#define ")) && t != "#define GAT_H" {
            let documented = previous.starts_with("//") || previous.ends_with("*/");
            if !documented {
                undocumented.push(t.to_string());
            }
        }
        depth += t.matches('{').count();
        depth = depth.saturating_sub(t.matches('}').count());
        if !t.is_empty() {
            previous = t;
        }
    }
    assert!(undocumented.is_empty(), "declarations without documentation: {undocumented:#?}");
}

/// The C API's name space is GAT*: nothing else may appear (an engine constant, a helper type).
#[test]
fn every_public_name_is_in_the_gat_namespace() {
    let header = committed_header();
    let mut foreign = Vec::new();
    for line in header.lines() {
        let t = line.trim();
        let name = if let Some(rest) = t.strip_prefix("#define ") {
            rest.split(|c: char| c.is_whitespace() || c == '(').next()
        } else if t.starts_with("typedef ") {
            // `typedef X *Name;` or the opening line of `typedef enum Name {`.
            t.trim_end_matches(';').trim_end_matches('{').trim_end().rsplit(|c: char| c.is_whitespace() || c == '*').next()
        } else {
            None
        };
        if let Some(n) = name {
            if !n.is_empty() && !n.starts_with("GAT") {
                foreign.push(n.to_string());
            }
        }
    }
    for p in prototypes(&header) {
        if !p.name.starts_with("GAT") {
            foreign.push(p.name);
        }
    }
    assert!(
        foreign.is_empty(),
        "names outside the GAT name space in include/gat.h (make them pub(crate), or exclude them in cbindgen.toml): {foreign:?}"
    );
}

/// The result layout of c-api.md section 2, as the header's macros and constants give it.
#[test]
fn header_has_the_result_macros_and_guards() {
    let header = committed_header();
    for needle in [
        "#ifndef GAT_H",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "#ifdef __cplusplus",
        "extern \"C\" {",
        "#define GAT_SUCCEEDED(rc)",
        "#define GAT_FAILED(rc)",
        "#define GAT_RESULT_CODE(rc)",
        "#define GAT_RESULT_FACILITY(rc)",
        "#define GAT_RESULT_SEVERITY(rc)",
        "#define GAT_SUCCESS 0",
        "#define GAT_MIGRATION_ROLLED_BACK ",
        "GENERATED FILE",
    ] {
        assert!(header.contains(needle), "include/gat.h lacks `{needle}`");
    }
    // The guard closes after the trailer's macros, so they are guarded too.
    let end = header.rfind("#endif /* GAT_H */").expect("the closing include guard");
    assert!(header.rfind("#define GAT_FAILED").is_some_and(|m| m < end));
}

#[test]
fn prototype_parser_reads_multiline_declarations() {
    let text = "extern \"C\" {\n#endif\n\n// Doc one.\n// Doc two.\nGATResult GATX_Get(GATX_const x,\n                   const char *key,\n                   GATTable_const *out);\n\n// Void.\nGATContext GATContext_Create(void);\n\n#ifdef __cplusplus\n}  // extern \"C\"\n";
    let protos = prototypes(text);
    assert_eq!(protos.len(), 2);
    assert_eq!(protos[0].name, "GATX_Get");
    assert_eq!(protos[0].ret, "GATResult");
    assert_eq!(protos[0].doc, vec!["Doc one.", "Doc two."]);
    assert_eq!(protos[0].params[1], support::Param { ty: "const char *".into(), name: "key".into() });
    assert_eq!(protos[0].params[2].ty, "GATTable_const *");
    assert!(protos[1].params.is_empty());
}
