//! Software, hardware and job descriptions: GAT tables checked and turned into typed values once,
//! at creation, so a malformed description fails at `_Create` with a clear reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use gat_adaptor::AttrValue;

use super::error::{Error, Result};
use super::resource::HardwareResource;
use super::value::{location_path, ObjectValue, Table, Value};

/// How the job may be checkpointed (c-api.md section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckpointMode {
    #[default]
    Cooperative,
    Transparent,
    Auto,
}

/// A checked software description (c-api.md section 6).
#[derive(Debug, Clone, PartialEq)]
pub struct SoftwareDescription {
    /// `location`: the program (a path, a `file:` URI reduced to its path, or a bare name to look
    /// up in PATH).
    pub location: String,
    pub arguments: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub stdin: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// `directory` (ext): the working directory.
    pub directory: Option<String>,
    /// `pre-staged files`: each entry `SRC` (copied into the working directory under its own
    /// name) or `SRC => DEST` (DEST relative to the working directory).
    pub pre_staged: Vec<(String, String)>,
    /// `post-staged files`: each entry `SRC` (relative to the working directory, copied back to
    /// the submitting process's current directory) or `SRC => DEST`.
    pub post_staged: Vec<(String, String)>,
    /// `checkpointable` = 1: the program follows the instrumented-job protocol.
    pub checkpointable: bool,
    pub checkpoint_signal: gat_adaptor::Signal,
    pub restart_flag: Option<String>,
    pub restart_files: Vec<String>,
    pub checkpoint_mode: CheckpointMode,
    /// Seconds to wait for a checkpoint.
    pub checkpoint_timeout: f64,
    /// The table as given, for GetJobDescription round trips.
    pub table: Table,
}

/// A checked hardware resource description: the attributes a resource must match.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HardwareDescription {
    pub attributes: BTreeMap<String, AttrValue>,
    pub table: Table,
}

/// Where a job should run.
#[derive(Debug, Clone)]
pub enum ResourceChoice {
    /// A concrete resource the caller picked.
    Resource(Arc<HardwareResource>),
    /// A description the broker matches.
    Description(Arc<HardwareDescription>),
}

/// A software description plus where to run it (None: the broker chooses).
#[derive(Debug, Clone)]
pub struct JobDescription {
    pub software: Arc<SoftwareDescription>,
    pub resource: Option<ResourceChoice>,
}

impl CheckpointMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointMode::Cooperative => "cooperative",
            CheckpointMode::Transparent => "transparent",
            CheckpointMode::Auto => "auto",
        }
    }

    /// `cooperative`, `transparent` or `auto`, in any case.
    pub fn parse(text: &str) -> Option<CheckpointMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cooperative" => Some(CheckpointMode::Cooperative),
            "transparent" => Some(CheckpointMode::Transparent),
            "auto" => Some(CheckpointMode::Auto),
            _ => None,
        }
    }
}

/// Default `checkpoint.timeout`, in seconds.
pub const DEFAULT_CHECKPOINT_TIMEOUT: f64 = 60.0;

/// How a value is named in error texts: its type, and the value itself when it is short.
fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Int16(n) => format!("the int16 {n}"),
        Value::Int32(n) => format!("the int32 {n}"),
        Value::Int64(n) => format!("the int64 {n}"),
        Value::Float(n) => format!("the float {n}"),
        Value::Double(n) => format!("the double {n}"),
        Value::Object(o) => format!("a {}", o.type_name()),
    }
}

fn malformed(kind: &str, key: &str, found: &Value, expected: &str) -> Error {
    Error::InvalidParameter(format!(
        "{kind} description key '{key}' holds {}, expected {expected}",
        describe(found)
    ))
}

fn sw_error(key: &str, found: &Value, expected: &str) -> Error {
    malformed("software", key, found, expected)
}

/// A path given as a string, a GATString or a GATLocation; `file:` URIs are reduced to paths.
fn path_value(key: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) | Value::Object(ObjectValue::String(s)) | Value::Object(ObjectValue::Location(s)) => {
            location_path(s).map_err(|e| e.context(format!("software description key '{key}'")))
        }
        other => Err(sw_error(key, other, "a path (a string or a GATLocation)")),
    }
}

fn text_value<'a>(key: &str, v: &'a Value, expected: &str) -> Result<&'a str> {
    match v {
        Value::String(s) | Value::Object(ObjectValue::String(s)) => Ok(s),
        other => Err(sw_error(key, other, expected)),
    }
}

fn integer(v: &Value) -> Option<i64> {
    match *v {
        Value::Int16(n) => Some(n.into()),
        Value::Int32(n) => Some(n.into()),
        Value::Int64(n) => Some(n),
        _ => None,
    }
}

fn list_value<'a>(key: &str, v: &'a Value) -> Result<&'a [String]> {
    match v {
        Value::Object(ObjectValue::ListString(items)) => Ok(items),
        other => Err(sw_error(key, other, "a GATList_String")),
    }
}

/// One `pre-staged files` / `post-staged files` entry: `SRC` or `SRC => DEST`; `SRC` alone keeps
/// the file's own name.
fn stage_entry(key: &str, entry: &str) -> Result<(String, String)> {
    let bad = |why: &str| {
        Error::InvalidParameter(format!(
            "software description key '{key}': entry \"{entry}\" {why} (expected \"SRC\" or \"SRC => DEST\")"
        ))
    };
    let (src, dest) = match entry.split_once("=>") {
        Some((src, dest)) => (src.trim(), Some(dest.trim())),
        None => (entry.trim(), None),
    };
    if src.is_empty() {
        return Err(bad("has no source"));
    }
    let src = location_path(src).map_err(|e| e.context(format!("software description key '{key}'")))?;
    let dest = match dest {
        Some("") => return Err(bad("has an empty destination")),
        Some(d) => location_path(d).map_err(|e| e.context(format!("software description key '{key}'")))?,
        None => std::path::Path::new(&src)
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| bad("names no file, so it needs an explicit destination"))?,
    };
    Ok((src, dest))
}

impl SoftwareDescription {
    /// Check a GAT software description table (c-api.md section 6). Unknown keys are kept in
    /// `table` and otherwise ignored; a malformed value is GAT_INVALID_PARAMETER naming the key,
    /// what it holds and what is expected.
    pub fn from_table(table: &Table) -> Result<Self> {
        let get = |key: &str| table.get(key).ok();

        let location = match get("location") {
            Some(v) => path_value("location", v)?,
            None => {
                return Err(Error::InvalidParameter(
                    "software description has no 'location' key (the program to run)".into(),
                ))
            }
        };

        let arguments = match get("arguments") {
            Some(v) => list_value("arguments", v)?.to_vec(),
            None => Vec::new(),
        };

        let environment = match get("environment") {
            Some(Value::Object(ObjectValue::Table(env))) => env_entries(env)?,
            Some(other) => return Err(sw_error("environment", other, "a GATTable of strings")),
            None => Vec::new(),
        };

        let optional_path = |key: &str| get(key).map(|v| path_value(key, v)).transpose();
        let stdin = optional_path("stdin")?;
        let stdout = optional_path("stdout")?;
        let stderr = optional_path("stderr")?;
        let directory = optional_path("directory")?;

        let staged = |key: &str| -> Result<Vec<(String, String)>> {
            match get(key) {
                Some(v) => list_value(key, v)?.iter().map(|e| stage_entry(key, e)).collect(),
                None => Ok(Vec::new()),
            }
        };
        let pre_staged = staged("pre-staged files")?;
        let post_staged = staged("post-staged files")?;

        let checkpointable = match get("checkpointable") {
            None => false,
            Some(v) => match (integer(v), v) {
                (Some(0), _) => false,
                (Some(1), _) => true,
                (None, Value::String(s)) if s.trim() == "0" || s.trim().eq_ignore_ascii_case("false") => false,
                (None, Value::String(s)) if s.trim() == "1" || s.trim().eq_ignore_ascii_case("true") => true,
                _ => return Err(sw_error("checkpointable", v, "the integer 0 or 1")),
            },
        };

        let checkpoint_signal = match get("checkpoint.signal") {
            None => gat_adaptor::Signal::Usr2,
            Some(v) => {
                let text = match (integer(v), v) {
                    (Some(n), _) => Some(n.to_string()),
                    (None, Value::String(s)) => Some(s.trim().to_ascii_uppercase()),
                    _ => None,
                };
                text.as_deref()
                    .and_then(gat_adaptor::Signal::parse)
                    .ok_or_else(|| {
                        sw_error("checkpoint.signal", v, "a signal name such as SIGUSR2, or a number from 1 to 64")
                    })?
            }
        };

        let restart_flag = match get("restartflag") {
            None => None,
            Some(v) => {
                let flag = text_value("restartflag", v, "a non-empty option string such as \"-restart\"")?;
                if flag.trim().is_empty() {
                    return Err(sw_error("restartflag", v, "a non-empty option string such as \"-restart\""));
                }
                Some(flag.to_owned())
            }
        };

        let restart_files = match get("restartfile") {
            None => Vec::new(),
            Some(v @ Value::Object(ObjectValue::ListString(items))) => {
                if items.is_empty() || items.iter().any(|f| f.trim().is_empty()) {
                    return Err(sw_error("restartfile", v, "a list of non-empty file names"));
                }
                items.clone()
            }
            Some(v) => vec![path_value("restartfile", v).map_err(|_| {
                sw_error("restartfile", v, "a file name (a string or a GATLocation) or a GATList_String of them")
            })?],
        };

        let checkpoint_mode = match get("checkpoint.mode") {
            None => CheckpointMode::default(),
            Some(v) => {
                let expected = "one of cooperative, transparent, auto";
                let text = text_value("checkpoint.mode", v, expected)?;
                CheckpointMode::parse(text).ok_or_else(|| sw_error("checkpoint.mode", v, expected))?
            }
        };

        let checkpoint_timeout = match get("checkpoint.timeout") {
            None => DEFAULT_CHECKPOINT_TIMEOUT,
            Some(v) => {
                let seconds = match v {
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    other => other.as_f64(),
                };
                match seconds {
                    Some(s) if s.is_finite() && s > 0.0 => s,
                    _ => return Err(sw_error("checkpoint.timeout", v, "a number of seconds greater than 0")),
                }
            }
        };

        Ok(SoftwareDescription {
            location,
            arguments,
            environment,
            stdin,
            stdout,
            stderr,
            directory,
            pre_staged,
            post_staged,
            checkpointable,
            checkpoint_signal,
            restart_flag,
            restart_files,
            checkpoint_mode,
            checkpoint_timeout,
            table: table.clone(),
        })
    }

    /// A description of `location` run with `arguments` and nothing else (for tests and tools).
    pub fn simple(location: &str, arguments: &[&str]) -> Result<Self> {
        let mut table = Table::new();
        table.add("location", Value::String(location.to_owned()))?;
        let args = arguments.iter().map(|a| a.to_string()).collect();
        table.add("arguments", Value::Object(ObjectValue::ListString(args)))?;
        Self::from_table(&table)
    }
}

/// The `environment` table: names must be non-empty and free of '='; values strings (numbers are
/// written out).
fn env_entries(env: &Table) -> Result<Vec<(String, String)>> {
    env.iter()
        .map(|(name, v)| {
            if name.is_empty() || name.contains('=') {
                return Err(Error::InvalidParameter(format!(
                    "software description key 'environment': '{name}' is not a variable name (it must not be empty or contain '=')"
                )));
            }
            let value = match v {
                Value::String(s) | Value::Object(ObjectValue::String(s)) => s.clone(),
                Value::Int16(n) => n.to_string(),
                Value::Int32(n) => n.to_string(),
                Value::Int64(n) => n.to_string(),
                Value::Float(n) => n.to_string(),
                Value::Double(n) => n.to_string(),
                other => {
                    return Err(Error::InvalidParameter(format!(
                        "software description key 'environment': variable '{name}' holds {}, expected a string",
                        describe(other)
                    )))
                }
            };
            Ok((name.to_owned(), value))
        })
        .collect()
}

/// Hardware keys whose value is a minimum: a resource with more matches.
pub const AT_LEAST_KEYS: [&str; 4] = ["memory.size", "cpu.count", "cpu.speed", "disk.size"];
/// Hardware keys compared as text (case-insensitively).
pub const TEXT_KEYS: [&str; 7] =
    ["cpu.type", "machine.type", "machine.node", "os.name", "os.type", "os.release", "os.version"];

impl HardwareDescription {
    /// Check a GAT hardware resource description table (c-api.md section 6). Numbers may come as
    /// any numeric type (or a numeric string for the minimum keys). Keys beyond section 6 with a
    /// string or numeric value are requirements too (compared like the text keys), so a
    /// resource configured with extra attributes can be asked for them; other values are ignored.
    pub fn from_table(table: &Table) -> Result<Self> {
        let mut attributes = BTreeMap::new();
        for (key, v) in table.iter() {
            let attr = if AT_LEAST_KEYS.contains(&key) {
                let n = match v {
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    other => other.as_f64(),
                };
                match n {
                    Some(n) if n.is_finite() && n >= 0.0 => AttrValue::Num(n),
                    _ => return Err(malformed("hardware", key, v, "a number (0 or more)")),
                }
            } else {
                match v {
                    Value::String(s) | Value::Object(ObjectValue::String(s)) => {
                        if s.trim().is_empty() && TEXT_KEYS.contains(&key) {
                            return Err(malformed("hardware", key, v, "a non-empty string"));
                        }
                        AttrValue::Str(s.clone())
                    }
                    other => match other.as_f64() {
                        Some(n) if n.is_finite() => AttrValue::Num(n),
                        _ if TEXT_KEYS.contains(&key) => {
                            return Err(malformed("hardware", key, v, "a string or a number"))
                        }
                        _ => continue,
                    },
                }
            };
            attributes.insert(key.to_owned(), attr);
        }
        Ok(HardwareDescription { attributes, table: table.clone() })
    }

    /// Whether a resource with these attributes matches: every key of the description must be
    /// present on the resource; minimum keys (`memory.size`, `cpu.count`, `cpu.speed`,
    /// `disk.size`) need at least the value asked; others compare case-insensitively (or as
    /// equal numbers). Err says which key did not match and why.
    pub fn matches(&self, resource: &BTreeMap<String, AttrValue>) -> Result<(), String> {
        for (key, wanted) in &self.attributes {
            let Some(have) = resource.get(key) else {
                return Err(format!("the resource has no '{key}' (wanted {wanted})"));
            };
            if AT_LEAST_KEYS.contains(&key.as_str()) {
                match (wanted.as_num(), have.as_num()) {
                    (Some(w), Some(h)) if h >= w => {}
                    (Some(w), Some(h)) => return Err(format!("'{key}' is {h} on the resource, at least {w} wanted")),
                    _ => return Err(format!("'{key}' is '{have}' on the resource, not a number to compare with {wanted}")),
                }
            } else {
                let same_text = wanted.to_string().trim().eq_ignore_ascii_case(have.to_string().trim());
                let same_number = matches!((wanted.as_num(), have.as_num()), (Some(w), Some(h)) if w == h);
                if !(same_text || same_number) {
                    return Err(format!("'{key}' is '{have}' on the resource, '{wanted}' wanted"));
                }
            }
        }
        Ok(())
    }

    /// The requirements adaptors see.
    pub fn requirements(&self) -> gat_adaptor::Requirements {
        gat_adaptor::Requirements { attributes: self.attributes.clone() }
    }
}

impl JobDescription {
    pub fn new(software: Arc<SoftwareDescription>, resource: Option<ResourceChoice>) -> Self {
        JobDescription { software, resource }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gat_adaptor::Signal;

    fn list(items: &[&str]) -> Value {
        Value::Object(ObjectValue::ListString(items.iter().map(|s| s.to_string()).collect()))
    }

    fn table(entries: Vec<(&str, Value)>) -> Table {
        let mut t = Table::new();
        for (k, v) in entries {
            t.add(k, v).unwrap();
        }
        t
    }

    fn parse_err(t: &Table) -> String {
        match SoftwareDescription::from_table(t) {
            Err(Error::InvalidParameter(m)) => m,
            other => panic!("expected InvalidParameter, got {other:?}"),
        }
    }

    #[test]
    fn full_software_description_parses() {
        let env = table(vec![("A", Value::String("1".into())), ("B", Value::Int32(2))]);
        let t = table(vec![
            ("location", Value::Object(ObjectValue::Location("file:///bin/echo".into()))),
            ("arguments", list(&["a b", "c"])),
            ("environment", Value::Object(ObjectValue::Table(env))),
            ("stdout", Value::String("out.txt".into())),
            ("stderr", Value::Object(ObjectValue::Location("file:///tmp/err".into()))),
            ("directory", Value::String("/tmp".into())),
            ("pre-staged files", list(&["/etc/hostname", "/etc/passwd => pw"])),
            ("post-staged files", list(&["result.dat => /tmp/r.dat"])),
            ("checkpointable", Value::Int16(1)),
            ("checkpoint.signal", Value::String("sigusr1".into())),
            ("restartflag", Value::String("-restart".into())),
            ("restartfile", list(&["state.1", "state.2"])),
            ("checkpoint.mode", Value::String("Auto".into())),
            ("checkpoint.timeout", Value::Int32(5)),
            ("some.unknown.key", Value::Double(1.5)),
        ]);
        let d = SoftwareDescription::from_table(&t).unwrap();
        assert_eq!(d.location, "/bin/echo");
        assert_eq!(d.arguments, vec!["a b", "c"]);
        assert_eq!(d.environment, vec![("A".into(), "1".into()), ("B".into(), "2".into())]);
        assert_eq!(d.stdin, None);
        assert_eq!(d.stdout.as_deref(), Some("out.txt"));
        assert_eq!(d.stderr.as_deref(), Some("/tmp/err"));
        assert_eq!(d.directory.as_deref(), Some("/tmp"));
        assert_eq!(
            d.pre_staged,
            vec![("/etc/hostname".into(), "hostname".into()), ("/etc/passwd".into(), "pw".into())]
        );
        assert_eq!(d.post_staged, vec![("result.dat".into(), "/tmp/r.dat".into())]);
        assert!(d.checkpointable);
        assert_eq!(d.checkpoint_signal, Signal::Usr1);
        assert_eq!(d.restart_flag.as_deref(), Some("-restart"));
        assert_eq!(d.restart_files, vec!["state.1", "state.2"]);
        assert_eq!(d.checkpoint_mode, CheckpointMode::Auto);
        assert_eq!(d.checkpoint_timeout, 5.0);
        assert!(d.table.contains("some.unknown.key"));
    }

    #[test]
    fn defaults_apply_when_only_location_is_given() {
        let d = SoftwareDescription::simple("sleep", &["1"]).unwrap();
        assert_eq!(d.location, "sleep");
        assert!(!d.checkpointable);
        assert_eq!(d.checkpoint_signal, Signal::Usr2);
        assert_eq!(d.checkpoint_mode, CheckpointMode::Cooperative);
        assert_eq!(d.checkpoint_timeout, DEFAULT_CHECKPOINT_TIMEOUT);
        assert!(d.restart_files.is_empty() && d.environment.is_empty());
        let one = table(vec![
            ("location", Value::String("x".into())),
            ("restartfile", Value::String("state".into())),
            ("checkpoint.signal", Value::Int64(10)),
        ]);
        let d = SoftwareDescription::from_table(&one).unwrap();
        assert_eq!(d.restart_files, vec!["state"]);
        assert_eq!(d.checkpoint_signal.number(), 10);
    }

    #[test]
    fn malformed_software_keys_name_the_key_and_what_was_found() {
        assert!(parse_err(&Table::new()).contains("'location'"));
        let loc = |v: Value| table(vec![("location", v)]);
        assert!(parse_err(&loc(Value::String(String::new()))).contains("'location'"));
        assert!(parse_err(&loc(Value::String("http://x/y".into()))).contains("scheme"));
        assert!(parse_err(&loc(Value::Int32(3))).contains("int32"));
        let with = |key: &str, v: Value| table(vec![("location", Value::String("/bin/true".into())), (key, v)]);
        let cases = [
            ("arguments", Value::String("-l".into()), "the string \"-l\""),
            ("environment", list(&["A=1"]), "GATList_String"),
            ("stdout", Value::Double(1.0), "double"),
            ("pre-staged files", list(&[" => x"]), "no source"),
            ("post-staged files", list(&["a =>  "]), "empty destination"),
            ("pre-staged files", list(&["/"]), "explicit destination"),
            ("checkpointable", Value::Int32(2), "0 or 1"),
            ("checkpoint.signal", Value::String("SIGFOO".into()), "signal name"),
            ("checkpoint.signal", Value::Int32(99), "signal name"),
            ("restartflag", Value::String(" ".into()), "non-empty"),
            ("restartfile", list(&[]), "non-empty"),
            ("checkpoint.mode", Value::String("magic".into()), "cooperative"),
            ("checkpoint.timeout", Value::Int32(0), "greater than 0"),
            ("checkpoint.timeout", Value::String("soon".into()), "greater than 0"),
        ];
        for (key, value, expected) in cases {
            let msg = parse_err(&with(key, value));
            assert!(msg.contains(&format!("'{key}'")), "{msg}");
            assert!(msg.contains(expected), "{key}: {msg} lacks {expected}");
        }
        let bad_env = table(vec![("A=B", Value::String("x".into()))]);
        let msg = parse_err(&with("environment", Value::Object(ObjectValue::Table(bad_env))));
        assert!(msg.contains("A=B"), "{msg}");
    }

    fn attrs(entries: &[(&str, AttrValue)]) -> BTreeMap<String, AttrValue> {
        entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn hardware_description_parses_numbers_of_any_type() {
        let t = table(vec![
            ("memory.size", Value::Float(2.0)),
            ("cpu.count", Value::Int16(2)),
            ("disk.size", Value::String("10".into())),
            ("os.name", Value::String("Linux".into())),
            ("os.release", Value::Double(6.1)),
            ("site.rack", Value::String("A".into())),
            ("ignored", Value::Object(ObjectValue::Time(1.0))),
        ]);
        let h = HardwareDescription::from_table(&t).unwrap();
        assert_eq!(h.attributes["memory.size"], AttrValue::Num(2.0));
        assert_eq!(h.attributes["cpu.count"], AttrValue::Num(2.0));
        assert_eq!(h.attributes["disk.size"], AttrValue::Num(10.0));
        assert_eq!(h.attributes["os.name"], AttrValue::Str("Linux".into()));
        assert_eq!(h.attributes["site.rack"], AttrValue::Str("A".into()));
        assert!(!h.attributes.contains_key("ignored"));
        for (key, v) in [
            ("cpu.count", Value::String("many".into())),
            ("memory.size", Value::Int32(-1)),
            ("os.name", Value::Object(ObjectValue::Time(1.0))),
        ] {
            match HardwareDescription::from_table(&table(vec![(key, v)])) {
                Err(Error::InvalidParameter(m)) => assert!(m.contains(key), "{m}"),
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn hardware_matching_uses_minimums_and_caseless_text() {
        let h = HardwareDescription::from_table(&table(vec![
            ("cpu.count", Value::Int32(2)),
            ("os.name", Value::String("linux".into())),
        ]))
        .unwrap();
        let good = attrs(&[("cpu.count", AttrValue::Num(4.0)), ("os.name", AttrValue::Str("Linux".into()))]);
        assert_eq!(h.matches(&good), Ok(()));
        let few = attrs(&[("cpu.count", AttrValue::Num(1.0)), ("os.name", AttrValue::Str("Linux".into()))]);
        assert!(h.matches(&few).unwrap_err().contains("cpu.count"));
        let other_os = attrs(&[("cpu.count", AttrValue::Num(8.0)), ("os.name", AttrValue::Str("FreeBSD".into()))]);
        assert!(h.matches(&other_os).unwrap_err().contains("os.name"));
        let lacking = attrs(&[("cpu.count", AttrValue::Num(8.0))]);
        assert!(h.matches(&lacking).unwrap_err().contains("os.name"));
        assert_eq!(HardwareDescription::default().matches(&BTreeMap::new()), Ok(()));
        let rel = HardwareDescription::from_table(&table(vec![("os.release", Value::Double(6.1))])).unwrap();
        assert_eq!(rel.matches(&attrs(&[("os.release", AttrValue::Str("6.1".into()))])), Ok(()));
    }
}
