//! GAT's typed values: the table (a hash of key → one typed value) and the objects a table holds.

use std::collections::BTreeMap;

use super::error::{Error, Result};

/// An object stored inside a table: the table keeps its own copy.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectValue {
    String(String),
    ListString(Vec<String>),
    /// A path or URI, as given.
    Location(String),
    /// Seconds since the epoch.
    Time(f64),
    Table(Table),
}

impl ObjectValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            ObjectValue::String(_) => "GATString",
            ObjectValue::ListString(_) => "GATList_String",
            ObjectValue::Location(_) => "GATLocation",
            ObjectValue::Time(_) => "GATTime",
            ObjectValue::Table(_) => "GATTable",
        }
    }
}

/// One typed table value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float(f32),
    Double(f64),
    Object(ObjectValue),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Int16(_) => "int16",
            Value::Int32(_) => "int32",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float",
            Value::Double(_) => "double",
            Value::Object(o) => o.type_name(),
        }
    }

    /// The value as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int16(v) => Some(v.into()),
            Value::Int32(v) => Some(v.into()),
            Value::Int64(v) => Some(v as f64),
            Value::Float(v) => Some(v.into()),
            Value::Double(v) => Some(v),
            _ => None,
        }
    }

    fn as_i64_exact(&self) -> Option<i64> {
        match *self {
            Value::Int16(v) => Some(v.into()),
            Value::Int32(v) => Some(v.into()),
            Value::Int64(v) => Some(v),
            Value::Float(v) if v.fract() == 0.0 && v.is_finite() => Some(v as i64),
            Value::Double(v) if v.fract() == 0.0 && v.is_finite() && v.abs() < 9.2e18 => Some(v as i64),
            _ => None,
        }
    }
}

/// GAT's table. Keys are kept sorted so listings are deterministic.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    entries: BTreeMap<String, Value>,
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a key; an existing key is GAT_DUPLICATE_KEY (GAT tables never overwrite silently).
    pub fn add(&mut self, key: &str, value: Value) -> Result<()> {
        if key.is_empty() {
            return Err(Error::InvalidParameter("table keys must not be empty".into()));
        }
        if self.entries.contains_key(key) {
            return Err(Error::DuplicateKey(format!("key '{key}' is already in the table")));
        }
        self.entries.insert(key.to_owned(), value);
        Ok(())
    }

    /// Set a key, replacing any value it had (for tables the engine builds).
    pub fn set(&mut self, key: &str, value: Value) {
        self.entries.insert(key.to_owned(), value);
    }

    pub fn remove(&mut self, key: &str) -> Result<Value> {
        self.entries.remove(key).ok_or_else(|| no_such_key(key))
    }

    pub fn get(&self, key: &str) -> Result<&Value> {
        self.entries.get(key).ok_or_else(|| no_such_key(key))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get_str(&self, key: &str) -> Result<&str> {
        match self.get(key)? {
            Value::String(s) => Ok(s),
            other => Err(type_error(key, "string", other)),
        }
    }

    pub fn get_object(&self, key: &str) -> Result<&ObjectValue> {
        match self.get(key)? {
            Value::Object(o) => Ok(o),
            other => Err(type_error(key, "GATObject", other)),
        }
    }

    /// Integer getter that converts between numeric types when the value fits exactly.
    pub fn get_int<T: TryFrom<i64>>(&self, key: &str, wanted: &'static str) -> Result<T> {
        let v = self.get(key)?;
        let wide = v.as_i64_exact().ok_or_else(|| type_error(key, wanted, v))?;
        T::try_from(wide).map_err(|_| {
            Error::KeyType(format!("key '{key}' holds {wide}, which does not fit in {wanted}"))
        })
    }

    pub fn get_f64(&self, key: &str) -> Result<f64> {
        let v = self.get(key)?;
        v.as_f64().ok_or_else(|| type_error(key, "double", v))
    }

    pub fn get_f32(&self, key: &str) -> Result<f32> {
        let v = self.get(key)?;
        let wide = v.as_f64().ok_or_else(|| type_error(key, "float", v))?;
        if wide.is_finite() && wide.abs() > f32::MAX as f64 {
            return Err(Error::KeyType(format!("key '{key}' holds {wide}, which does not fit in float")));
        }
        Ok(wide as f32)
    }
}

/// The local path a GATLocation names: a plain path (or a bare program name) as given, or a
/// `file:` URI (`file:/p`, `file:///p`, `file://localhost/p`, percent-escapes decoded) reduced to
/// its path. Empty text, other hosts and other schemes (`http://`, `ssh://`...) are refused: libgat
/// only reaches files through the paths of the machine the call runs on.
pub fn location_path(uri: &str) -> Result<String> {
    if uri.trim().is_empty() {
        return Err(Error::InvalidParameter("the location is empty".into()));
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Ok(uri.to_owned());
    };
    let is_scheme = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if is_scheme && scheme.eq_ignore_ascii_case("file") {
        let path = match rest.strip_prefix("//") {
            Some(after) => {
                let (host, path) = match after.find('/') {
                    Some(i) => after.split_at(i),
                    None => (after, ""),
                };
                if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
                    return Err(Error::InvalidParameter(format!(
                        "location '{uri}' names host '{host}': only local file: URIs \
                         (file:///path or file://localhost/path) are supported"
                    )));
                }
                path
            }
            None => rest,
        };
        let decoded = percent_decode(path)
            .ok_or_else(|| Error::InvalidParameter(format!("location '{uri}' has a malformed %-escape")))?;
        if decoded.is_empty() {
            return Err(Error::InvalidParameter(format!("location '{uri}' names no path")));
        }
        return Ok(decoded);
    }
    // `name:with:colons` is a legal file name; only `scheme://` is taken for a URI.
    if is_scheme && rest.starts_with("//") {
        return Err(Error::InvalidParameter(format!(
            "location '{uri}' uses the scheme '{scheme}': only paths and file: URIs are supported"
        )));
    }
    Ok(uri.to_owned())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if byte == 0 {
                return None;
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Seconds since the epoch, now.
pub fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A GATTime's seconds since the epoch: 0 means now; negative and non-finite values are refused.
pub fn time_seconds(seconds: f64) -> Result<f64> {
    if seconds == 0.0 {
        Ok(now_seconds())
    } else if seconds.is_finite() && seconds > 0.0 {
        Ok(seconds)
    } else {
        Err(Error::InvalidParameter(format!(
            "{seconds} is not a time: expected seconds since the epoch (> 0), or 0 for now"
        )))
    }
}

fn no_such_key(key: &str) -> Error {
    Error::NoSuchKey(format!("no key '{key}' in the table"))
}

fn type_error(key: &str, wanted: &str, found: &Value) -> Error {
    Error::KeyType(format!("key '{key}' holds a {}, not a {wanted}", found.type_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_key_is_refused_and_value_kept() {
        let mut t = Table::new();
        t.add("a", Value::Int32(1)).unwrap();
        assert!(matches!(t.add("a", Value::Int32(2)), Err(Error::DuplicateKey(_))));
        assert_eq!(t.get_int::<i32>("a", "int32").unwrap(), 1);
    }

    #[test]
    fn numeric_getters_convert_only_when_the_value_fits() {
        let mut t = Table::new();
        t.add("big", Value::Int64(1 << 40)).unwrap();
        t.add("small", Value::Int16(7)).unwrap();
        t.add("half", Value::Double(2.5)).unwrap();
        assert_eq!(t.get_int::<i64>("small", "int64").unwrap(), 7);
        assert!(matches!(t.get_int::<i32>("big", "int32"), Err(Error::KeyType(_))));
        assert!(matches!(t.get_int::<i32>("half", "int32"), Err(Error::KeyType(_))));
        assert_eq!(t.get_f64("small").unwrap(), 7.0);
        assert!(matches!(t.get_str("small"), Err(Error::KeyType(_))));
        assert!(matches!(t.get_str("nope"), Err(Error::NoSuchKey(_))));
    }

    #[test]
    fn locations_reduce_file_uris_and_refuse_other_schemes() {
        assert_eq!(location_path("/bin/true").unwrap(), "/bin/true");
        assert_eq!(location_path("sleep").unwrap(), "sleep");
        assert_eq!(location_path("a:b").unwrap(), "a:b");
        assert_eq!(location_path("file:///tmp/a%20b").unwrap(), "/tmp/a b");
        assert_eq!(location_path("file://localhost/tmp/x").unwrap(), "/tmp/x");
        assert_eq!(location_path("FILE:/tmp/x").unwrap(), "/tmp/x");
        assert_eq!(location_path("file:rel/x").unwrap(), "rel/x");
        for bad in ["", "  ", "http://example.org/x", "file://otherhost/x", "file://", "file:///a%zz", "file:///a%00"] {
            assert!(matches!(location_path(bad), Err(Error::InvalidParameter(_))), "{bad:?} accepted");
        }
    }

    #[test]
    fn time_zero_is_now_and_nonsense_is_refused() {
        let now = time_seconds(0.0).unwrap();
        assert!((now - now_seconds()).abs() < 60.0);
        assert_eq!(time_seconds(12.5).unwrap(), 12.5);
        assert!(time_seconds(-1.0).is_err());
        assert!(time_seconds(f64::NAN).is_err());
        assert!(time_seconds(f64::INFINITY).is_err());
    }
}
