//! The C side, as a user sees it: install the built library into a temporary prefix (the
//! Makefile's `install-files`), compile the C programs of tests/c/ and examples/ against the
//! installed header with `pkg-config --cflags --libs gat` and strict warnings, and run them, one
//! fresh GAT_STATE_DIR each. tests/c/bad_input.c is generated here from include/gat.h, so every
//! exported function is called with bad handles without anyone listing it.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{committed_header, handle_types, have, prototypes, root, run_ok, s, Prototype};
use tempfile::TempDir;

const STRICT_C: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"];

/// A private install of the built library, removed when the test ends.
struct Prefix {
    dir: TempDir,
}

impl Prefix {
    fn install() -> Prefix {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&tmp).expect("CARGO_TARGET_TMPDIR");
        let dir = tempfile::Builder::new().prefix("c-programs-").tempdir_in(&tmp).expect("a temporary prefix");
        support::shared_library();
        run_ok(
            Command::new("make")
                .arg("-s")
                .arg("-C")
                .arg(root())
                .arg("install-files")
                .arg(format!("BUILD_DIR={}", s(&support::build_dir())))
                .arg(format!("PREFIX={}", s(dir.path())))
                .env_remove("DESTDIR")
                .env_remove("MAKEFLAGS"),
            "make install-files",
        );
        // cargo keeps the program one directory above the test library (deps/): put it where
        // `make install` does, so the programs run their jobs under the job server.
        let program = support::job_monitor_program()
            .expect("gat-job-monitor is not built: `cargo build -p gat-adaptor-local --bin gat-job-monitor` (make test builds it)");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("the prefix's bin");
        std::fs::copy(&program, bin.join("gat-job-monitor")).expect("installing gat-job-monitor");
        Prefix { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn lib(&self) -> PathBuf {
        self.path().join("lib")
    }

    /// `pkg-config --cflags --libs gat` against this prefix, split into arguments.
    fn pkg_config_flags(&self) -> Vec<String> {
        let out = run_ok(
            Command::new("pkg-config")
                .args(["--cflags", "--libs", "gat"])
                .env("PKG_CONFIG_PATH", self.lib().join("pkgconfig")),
            "pkg-config --cflags --libs gat",
        );
        String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect()
    }

    /// Compile C sources into `exe` with strict warnings, the installed header and an rpath.
    fn compile_c(&self, sources: &[PathBuf], exe: &Path, extra: &[&str]) {
        let mut cmd = Command::new("cc");
        cmd.args(STRICT_C)
            .args(sources)
            .arg("-I")
            .arg(root().join("tests/c"))
            .arg("-o")
            .arg(exe)
            .args(self.pkg_config_flags())
            .arg(format!("-Wl,-rpath,{}", s(&self.lib())))
            .args(extra);
        run_ok(&mut cmd, &format!("compiling {sources:?}"));
    }
}

/// What a program printed and how it ended.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Run `argv` with a fresh GAT_STATE_DIR and a deadline; the process is killed at the deadline.
fn run_program(argv: &[String], work: &Path, deadline: Duration) -> Ran {
    let state = tempfile::tempdir_in(work).expect("a state directory");
    run_program_in(argv, work, deadline, state.path())
}

/// As `run_program`, with GAT_STATE_DIR `state`.
fn run_program_in(argv: &[String], work: &Path, deadline: Duration, state: &Path) -> Ran {
    let out_path = work.join(format!("out-{}", std::process::id()));
    let err_path = work.join(format!("err-{}", std::process::id()));
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env("GAT_STATE_DIR", state)
        .env_remove("GAT_CONFIG")
        .env_remove("GAT_JOB_MONITOR")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {argv:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the program") {
            break Some(status);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ran = Ran {
        code: status.and_then(|s| s.code()),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    if status.is_none() {
        panic!(
            "{argv:?} did not finish within {deadline:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            ran.stdout, ran.stderr
        );
    }
    ran
}

fn assert_exit(ran: &Ran, expected: i32, what: &str) {
    assert_eq!(
        ran.code,
        Some(expected),
        "{what} exited with {:?}, expected {expected}\n--- stdout:\n{}\n--- stderr:\n{}",
        ran.code,
        ran.stdout,
        ran.stderr
    );
}

/// Compile tests/c/<name>.c (plus `extra` flags) and run it; it must exit 0.
fn compile_and_run(name: &str, extra: &[&str], deadline: Duration) -> Ran {
    let prefix = Prefix::install();
    let exe = prefix.path().join(name);
    prefix.compile_c(&[root().join(format!("tests/c/{name}.c"))], &exe, extra);
    let ran = run_program(&[s(&exe)], prefix.path(), deadline);
    assert_exit(&ran, 0, name);
    ran
}

#[test]
fn install_files_lays_out_a_usable_prefix() {
    let prefix = Prefix::install();
    let lib = prefix.lib();
    let version = env!("CARGO_PKG_VERSION");
    assert!(lib.join(format!("libgat.so.{version}")).is_file());
    for (link, target) in [("libgat.so.0", format!("libgat.so.{version}")), ("libgat.so", "libgat.so.0".to_string())] {
        let found = std::fs::read_link(lib.join(link)).unwrap_or_else(|e| panic!("{link}: {e}"));
        assert_eq!(found, PathBuf::from(&target), "{link} must point to {target}");
    }
    assert!(lib.join("libgat.a").is_file(), "the static library is installed");
    assert!(prefix.path().join("include/gat.h").is_file());
    let pc = std::fs::read_to_string(lib.join("pkgconfig/gat.pc")).expect("gat.pc");
    assert!(pc.contains(&format!("prefix={}", s(prefix.path()))), "gat.pc names the prefix:\n{pc}");
    assert!(pc.contains(&format!("Version: {version}")), "gat.pc has the version:\n{pc}");
    assert!(!pc.contains('@'), "gat.pc has an unreplaced placeholder:\n{pc}");
    let flags = prefix.pkg_config_flags();
    assert!(flags.contains(&format!("-I{}", s(&prefix.path().join("include")))), "{flags:?}");
    assert!(flags.contains(&format!("-L{}", s(&lib))), "{flags:?}");
    assert!(flags.contains(&"-lgat".to_string()), "{flags:?}");

    // The SONAME is libgat.so.0, and a program linked through pkg-config records it.
    let dynamic = run_ok(Command::new("readelf").arg("-d").arg(lib.join("libgat.so")), "readelf -d libgat.so");
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(dynamic.contains("Library soname: [libgat.so.0]"), "{dynamic}");
    let probe = prefix.path().join("probe.c");
    std::fs::write(
        &probe,
        "#include <gat.h>\n#include <stdio.h>\nint main(void) {\n    puts(GATResult_GetMessage(GAT_NO_SUCH_KEY));\n    \
         return GAT_RESULT_CODE(GAT_NO_SUCH_KEY) == 9 && GAT_FAILED(GAT_NO_SUCH_KEY) && GAT_SUCCEEDED(GAT_SUCCESS) &&\n        \
         GAT_RESULT_FACILITY(GAT_FAIL) == 1 && GAT_RESULT_SEVERITY(GAT_FAIL) == 3 ? 0 : 1;\n}\n",
    )
    .expect("probe.c");
    let exe = prefix.path().join("probe");
    prefix.compile_c(&[probe], &exe, &[]);
    let needed = run_ok(Command::new("readelf").arg("-d").arg(&exe), "readelf -d probe");
    assert!(String::from_utf8_lossy(&needed.stdout).contains("Shared library: [libgat.so.0]"));
    let ran = run_program(&[s(&exe)], prefix.path(), Duration::from_secs(30));
    assert_exit(&ran, 0, "probe");
    assert_eq!(ran.stdout.trim(), "no such key");

    // The static library links too (with the system libraries gat.pc lists as private).
    let static_out = run_ok(
        Command::new("pkg-config")
            .args(["--static", "--libs", "gat"])
            .env("PKG_CONFIG_PATH", lib.join("pkgconfig")),
        "pkg-config --static --libs gat",
    );
    let static_libs = String::from_utf8_lossy(&static_out.stdout);
    assert!(static_libs.contains("-lpthread") && static_libs.contains("-ldl"), "{static_libs}");
    let static_exe = prefix.path().join("probe-static");
    run_ok(
        Command::new("cc")
            .args(STRICT_C)
            .arg(prefix.path().join("probe.c"))
            .arg(format!("-I{}", s(&prefix.path().join("include"))))
            .arg("-o")
            .arg(&static_exe)
            .arg(lib.join("libgat.a"))
            .args(["-lpthread", "-ldl", "-lm"]),
        "linking libgat.a",
    );
    assert_exit(&run_program(&[s(&static_exe)], prefix.path(), Duration::from_secs(30)), 0, "probe-static");
}

#[test]
fn manual_style_program_runs() {
    let ran = compile_and_run("manual_style", &[], Duration::from_secs(120));
    assert!(ran.stdout.contains("exitcode 7"), "{}", ran.stdout);
}

#[test]
fn an_installed_program_runs_its_jobs_under_the_job_server() {
    let prefix = Prefix::install();
    let exe = prefix.path().join("manual_style");
    prefix.compile_c(&[root().join("tests/c/manual_style.c")], &exe, &[]);
    let state = prefix.path().join("state");
    let ran = run_program_in(&[s(&exe)], prefix.path(), Duration::from_secs(120), &state);
    assert_exit(&ran, 0, "manual_style");
    // The library found bin/gat-job-monitor beside its lib/: the job server started the job
    // (a `J` start line; a monitor's would be `S`) and recorded its exit.
    let log = std::fs::read_to_string(state.join("jobs/local-jobs.log")).expect("the record log");
    assert!(log.lines().any(|l| l.starts_with("J ")), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("S ")), "{log}");
    assert!(log.lines().any(|l| l.starts_with("E ") && l.contains("exited 7")), "{log}");
    // The program exited right after its job: the journal's row of the job's end, held back a
    // few milliseconds to be written with others, was written at exit.
    let journal = rusqlite::Connection::open(state.join("journal.sqlite")).expect("the journal");
    let rows: Vec<(String, Option<i64>)> = journal
        .prepare("SELECT state, exitcode FROM jobs")
        .and_then(|mut q| q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("the jobs' rows");
    assert_eq!(rows, [("stopped".to_string(), Some(7))]);
}

#[test]
fn manual_style_program_is_clean_under_valgrind() {
    assert!(
        have("valgrind"),
        "valgrind is not installed: this test needs it (`apt-get install valgrind`; .ci/run installs it)"
    );
    let prefix = Prefix::install();
    let exe = prefix.path().join("manual_style");
    prefix.compile_c(&[root().join("tests/c/manual_style.c")], &exe, &[]);
    let argv: Vec<String> = [
        "valgrind",
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
        "--quiet",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([s(&exe)])
    .collect();
    let ran = run_program(&argv, prefix.path(), Duration::from_secs(300));
    assert_exit(&ran, 0, "manual_style under valgrind");
}

#[test]
fn threads_program_runs() {
    compile_and_run("threads", &["-pthread"], Duration::from_secs(180));
}

#[test]
fn bad_input_program_gets_errors_not_crashes() {
    let header = committed_header();
    let program = generate_bad_input(&header);
    let prefix = Prefix::install();
    // Kept beside the other test files of this build for reading when it fails.
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_input.c");
    std::fs::write(&keep, &program).expect("writing bad_input.c");
    let exe = prefix.path().join("bad_input");
    prefix.compile_c(std::slice::from_ref(&keep), &exe, &[]);
    let ran = run_program(&[s(&exe)], prefix.path(), Duration::from_secs(120));
    assert_exit(&ran, 0, &format!("bad_input (generated: {})", keep.display()));
    assert!(ran.stdout.contains(" 0 failures"), "{}", ran.stdout);
}

#[test]
fn header_compiles_as_cpp() {
    assert!(have("g++"), "g++ is not installed (`apt-get install g++`; .ci/run installs it)");
    let prefix = Prefix::install();
    let source = prefix.path().join("header.cpp");
    std::fs::write(
        &source,
        "#include <gat.h>\n#include <gat.h> /* twice: the include guard works */\n\
         int main() { GATContext c = GATContext_Create(); GATContext_Destroy(&c); return GAT_FAILED(GAT_FAIL) ? 0 : 1; }\n",
    )
    .expect("header.cpp");
    run_ok(
        Command::new("g++")
            .args(["-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
            .arg(format!("-I{}", s(&prefix.path().join("include"))))
            .arg(&source),
        "g++ -fsyntax-only on gat.h",
    );
}

#[test]
fn examples_compile_and_submit_runs() {
    let prefix = Prefix::install();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "no examples/*.c");
    for source in &sources {
        let exe = prefix.path().join(source.file_stem().expect("a file name"));
        prefix.compile_c(std::slice::from_ref(source), &exe, &["-O2"]);
    }
    let ran = run_program(&[s(&prefix.path().join("submit"))], prefix.path(), Duration::from_secs(120));
    assert_exit(&ran, 0, "examples/submit");
    assert!(ran.stdout.contains("exited with code 3"), "{}", ran.stdout);
}

/// The main job, as `make demo` runs it: examples/migrate.c submits examples/counter.c (linked
/// with libgat for the GATSelf_* helpers), checkpoints it, migrates it with a NULL target to one
/// of two configured local resources, and checks that the count resumed from the checkpoint.
#[test]
fn main_job_migrate_example_keeps_counting() {
    let prefix = Prefix::install();
    for name in ["counter", "migrate"] {
        prefix.compile_c(&[root().join(format!("examples/{name}.c"))], &prefix.path().join(name), &["-O2"]);
    }
    let work = prefix.path().join("work");
    let mut config = String::new();
    for node in ["node-a", "node-b"] {
        std::fs::create_dir_all(work.join(node)).expect("a work area");
        let _ = writeln!(config, "[resources.{node}]\ncontact = \"local:\"\nwork_dir = \"{}\"\n", s(&work.join(node)));
    }
    let config_path = work.join("resources.toml");
    std::fs::write(&config_path, config).expect("resources.toml");
    // migrate.c writes counter.out into its working directory: run it from `work`.
    let argv = [
        "sh".to_string(),
        "-c".to_string(),
        "cd \"$1\" && GAT_CONFIG=\"$2\" exec \"$3\" \"$4\"".to_string(),
        "migrate".to_string(),
        s(&work),
        s(&config_path),
        s(&prefix.path().join("migrate")),
        s(&prefix.path().join("counter")),
    ];
    let ran = run_program(&argv, prefix.path(), Duration::from_secs(180));
    assert_exit(&ran, 0, "examples/migrate");
    assert!(ran.stdout.contains("the count went on"), "{}", ran.stdout);
    assert!(ran.stdout.contains("migrated.to"), "the original names its successor:\n{}", ran.stdout);
}

/// The minimal program of README.md compiles with strict warnings and runs.
#[test]
fn readme_program_compiles_and_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = readme.find("```c\n#include <gat.h>").expect("README.md has a C program that includes gat.h") + 5;
    let end = start + readme[start..].find("```").expect("the C block ends");
    let prefix = Prefix::install();
    let source = prefix.path().join("readme.c");
    std::fs::write(&source, &readme[start..end]).expect("readme.c");
    let exe = prefix.path().join("readme");
    prefix.compile_c(&[source], &exe, &[]);
    assert_exit(&run_program(&[s(&exe)], prefix.path(), Duration::from_secs(60)), 0, "the README program");
}

/// The programs with a test of their own above; any other tests/c/*.c is run by the test below.
const PROGRAMS_WITH_OWN_TEST: &[&str] = &["manual_style", "threads"];

/// Every tests/c/*.c runs: those without a test of their own (added later) are compiled and run
/// here, and those with one must still exist (a rename would otherwise drop them silently).
#[test]
fn every_other_c_program_runs() {
    let all: Vec<PathBuf> = std::fs::read_dir(root().join("tests/c"))
        .expect("tests/c")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    let stem = |p: &PathBuf| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    for known in PROGRAMS_WITH_OWN_TEST {
        assert!(all.iter().any(|p| stem(p) == *known), "tests/c/{known}.c is missing");
    }
    let mut others: Vec<PathBuf> =
        all.into_iter().filter(|p| !PROGRAMS_WITH_OWN_TEST.contains(&stem(p).as_str())).collect();
    others.sort();
    for source in others {
        let name = source.file_stem().expect("a name").to_string_lossy().into_owned();
        compile_and_run(&name, &["-pthread"], Duration::from_secs(120));
    }
}

// ---------------------------------------------------------------------------------------------
// The bad_input generator.

/// Classes whose objects serve as the wrong-class (and destroyed) handles, in order of preference:
/// the class name and a C expression creating one.
const MAKERS: &[(&str, &str)] = &[
    ("GATTime", "GATTime_Create(0)"),
    ("GATString", "GATString_Create(\"wrong class\")"),
    ("GATTable", "GATTable_Create()"),
    ("GATContext", "GATContext_Create()"),
];

/// Functions outside the bad-handle rules: the error reporting itself.
const NOT_HANDLE_CALLS: &[&str] = &["GAT_GetLastErrorMessage", "GATResult_GetMessage"];

enum Kind {
    Handle(String),
    CString,
    Out,
    Scalar,
}

fn kind_of(ty: &str, handles: &BTreeMap<String, String>) -> Kind {
    if let Some(class) = handles.get(ty) {
        Kind::Handle(class.clone())
    } else if ty == "const char *" {
        Kind::CString
    } else if ty.ends_with('*') {
        Kind::Out
    } else {
        Kind::Scalar
    }
}

/// The C check of a failing call's return value, by its declared type. A struct (an iterator)
/// has no failure value of its own: only the last-error text tells.
fn failed_return_check(ret: &str, handles: &BTreeMap<String, String>, structs: &[String]) -> Option<&'static str> {
    // cbindgen writes `struct X` and `enum X` for the typedefs of structs and enums.
    let bare = ret.trim_start_matches("struct ").trim_start_matches("enum ");
    match bare {
        "void" | "GATJobState" => None,
        t if structs.iter().any(|s| s == t) => None,
        "GATResult" => Some("GAT_FAILED(r)"),
        "GATType" => Some("r == GATType_Unknown"),
        t if t.ends_with('*') || handles.contains_key(t) => Some("r == NULL"),
        _ => Some("r == 0"),
    }
}

/// One call of `p` inside its own block: handle parameters get `handle_expr`, strings "x" (or
/// NULL when `all_null`), out-parameters a patterned slot, scalars zero.
fn emit_call(
    c: &mut String,
    p: &Prototype,
    handles: &BTreeMap<String, String>,
    structs: &[String],
    case: &str,
    handle_expr: Option<&str>,
) {
    let all_null = handle_expr.is_none();
    let mut decls = String::new();
    let mut args = Vec::new();
    let mut outs = Vec::new();
    for (i, param) in p.params.iter().enumerate() {
        match kind_of(&param.ty, handles) {
            Kind::Handle(_) => match handle_expr {
                Some(h) => args.push(format!("({}){}", param.ty, h)),
                None => args.push("NULL".into()),
            },
            Kind::CString => args.push(if all_null { "NULL".into() } else { "\"x\"".into() }),
            Kind::Out => {
                if all_null {
                    args.push("NULL".into());
                } else {
                    let _ = writeln!(decls, "        out_slot out{i};");
                    let _ = writeln!(decls, "        out_fill(&out{i});");
                    args.push(format!("({})(void *)&out{i}", param.ty));
                    outs.push(i);
                }
            }
            Kind::Scalar => {
                let _ = writeln!(decls, "        {} arg{i};", param.ty);
                let _ = writeln!(decls, "        memset(&arg{i}, 0, sizeof arg{i});");
                args.push(format!("arg{i}"));
            }
        }
    }
    let call = format!("{}({})", p.name, args.join(", "));
    let _ = writeln!(c, "    {{ /* {} with {case} */", p.name);
    c.push_str(&decls);
    let _ = writeln!(c, "        reset_last_error(\"{}\");", p.name);
    match failed_return_check(&p.ret, handles, structs) {
        Some(check) => {
            let _ = writeln!(c, "        {} r = {call};", p.ret);
            let _ = writeln!(c, "        CHECK({check}, \"{}\", \"{case}\");", p.name);
        }
        None if p.ret == "void" => {
            let _ = writeln!(c, "        {call};");
        }
        None => {
            let _ = writeln!(c, "        (void){call};");
        }
    }
    for i in outs {
        let _ = writeln!(c, "        CHECK(out_untouched(&out{i}), \"{}\", \"{case}: out-parameter written\");", p.name);
    }
    let _ = writeln!(c, "        check_last_error_names(\"{}\", \"{case}\");", p.name);
    let _ = writeln!(c, "    }}");
}

/// The names of the struct typedefs (`typedef struct Name {`): values, not handles.
fn struct_types(header: &str) -> Vec<String> {
    header
        .lines()
        .filter_map(|l| l.trim().strip_prefix("typedef struct ")?.strip_suffix(" {").map(String::from))
        .collect()
}

/// The class a `GATObject_ToGATX[_const]` down-cast produces, if `name` is one.
fn downcast_target(name: &str) -> Option<&str> {
    name.strip_prefix("GATObject_To").map(|rest| rest.strip_suffix("_const").unwrap_or(rest))
}

/// Write the whole bad_input program for the functions `header` declares.
fn generate_bad_input(header: &str) -> String {
    let protos = prototypes(header);
    let handles: BTreeMap<String, String> = handle_types(header).into_iter().collect();
    let declared: Vec<&str> = protos.iter().map(|p| p.name.as_str()).collect();
    let makers: Vec<(&str, &str)> = MAKERS
        .iter()
        .copied()
        .filter(|(class, _)| {
            let create = format!("{class}_Create");
            let destroy = format!("{class}_Destroy");
            declared.contains(&create.as_str()) && declared.contains(&destroy.as_str())
        })
        .collect();
    let can_get_type = declared.contains(&"GATObject_GetType");
    let structs = struct_types(header);

    let mut c = String::new();
    c.push_str("/* GENERATED by tests/c_programs.rs from include/gat.h: do not edit. */\n");
    c.push_str("#include \"bad_input_support.h\"\n\n");
    // One wrong-class object per maker, created once; a destroyed one is made fresh per call so
    // that its address is not handed out again before the call.
    for (class, create) in &makers {
        let _ = writeln!(c, "static {class} make_dead_{class}(void)\n{{\n    {class} h = {create};\n    {class} dead = h;\n    {class}_Destroy(&h);\n    return dead;\n}}\n");
    }
    c.push_str("int main(void)\n{\n");
    for (class, _) in &makers {
        let _ = writeln!(c, "    (void)make_dead_{class}; /* not every class is needed by every header */");
    }
    for (class, create) in &makers {
        let _ = writeln!(c, "    {class} wrong_{class} = {create};");
        let _ = writeln!(c, "    if (wrong_{class} == NULL) {{ fprintf(stderr, \"cannot create a {class}\\n\"); return 2; }}");
    }
    let mut covered = 0usize;
    for p in &protos {
        if NOT_HANDLE_CALLS.contains(&p.name.as_str()) {
            continue;
        }
        let handle_classes: Vec<String> = p
            .params
            .iter()
            .filter_map(|q| match kind_of(&q.ty, &handles) {
                Kind::Handle(class) => Some(class),
                _ => None,
            })
            .collect();
        // Destroy(X *h): NULL, &NULL, a wrong-class handle, a destroyed handle.
        let destroy_of = p.name.strip_suffix("_Destroy").filter(|_| p.params.len() == 1 && p.ret == "void");
        if let Some(class) = destroy_of {
            let ty = p.params[0].ty.trim_end_matches('*').trim().to_string();
            let Some((wclass, _)) = makers.iter().find(|(m, _)| *m != class) else { continue };
            covered += 1;
            let _ = writeln!(c, "    {{ /* {name}: NULL, &NULL, wrong class, destroyed */", name = p.name);
            let _ = writeln!(c, "        {ty} h = NULL;\n        {name}(NULL);\n        {name}(&h);\n        CHECK(h == NULL, \"{name}\", \"&NULL\");", name = p.name);
            let _ = writeln!(c, "        reset_last_error(\"{name}\");\n        h = ({ty})wrong_{wclass};\n        {name}(&h);\n        check_last_error_names(\"{name}\", \"wrong class\");", name = p.name);
            if can_get_type {
                let _ = writeln!(
                    c,
                    "        CHECK(GATObject_GetType((GATObject_const)wrong_{wclass}) == GATType_{wclass}, \"{name}\", \"the wrong-class object survives\");",
                    name = p.name
                );
            }
            let _ = writeln!(c, "        h = ({ty})make_dead_{wclass}();\n        reset_last_error(\"{name}\");\n        {name}(&h);\n        check_last_error_names(\"{name}\", \"destroyed handle\");\n    }}", name = p.name);
            continue;
        }
        let has_pointer = p.params.iter().any(|q| !matches!(kind_of(&q.ty, &handles), Kind::Scalar));
        if has_pointer {
            covered += 1;
            emit_call(&mut c, p, &handles, &structs, "NULL pointers", None);
        }
        if handle_classes.is_empty() {
            continue;
        }
        // A wrong class must differ from every class the call accepts (GATObject accepts all).
        let target = downcast_target(&p.name);
        let only_objects = handle_classes.iter().all(|h| h == "GATObject");
        let Some((wclass, _)) = makers
            .iter()
            .find(|(m, _)| !handle_classes.iter().any(|h| h == m) && target != Some(m))
        else {
            continue;
        };
        if !only_objects || target.is_some() {
            emit_call(&mut c, p, &handles, &structs, "a wrong-class handle", Some(&format!("wrong_{wclass}")));
        }
        emit_call(&mut c, p, &handles, &structs, "a destroyed handle", Some(&format!("make_dead_{wclass}()")));
    }
    for (class, _) in &makers {
        let _ = writeln!(c, "    {class}_Destroy(&wrong_{class});");
    }
    let _ = writeln!(c, "    printf(\"bad_input: %d functions, %d checks, %d failures\\n\", {covered}, checks, failures);");
    c.push_str("    return failures == 0 ? 0 : 1;\n}\n");
    c
}

#[test]
fn bad_input_generator_covers_every_function() {
    let header = committed_header();
    let program = generate_bad_input(&header);
    let handles: BTreeMap<String, String> = handle_types(&header).into_iter().collect();
    for p in prototypes(&header) {
        let exempt = NOT_HANDLE_CALLS.contains(&p.name.as_str())
            || p.params.iter().all(|q| matches!(kind_of(&q.ty, &handles), Kind::Scalar));
        if !exempt {
            assert!(program.contains(&format!("{}(", p.name)), "bad_input does not call {}", p.name);
        }
    }
}
