use std::collections::BTreeMap;

use super::error::{Error, Result};

/// GAT preferences: string keys and values that steer adaptor choice and behaviour
/// (`resourcebroker.adaptor.name`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    entries: BTreeMap<String, String>,
}

impl Preferences {
    pub fn new() -> Self {
        Self::default()
    }

    /// Set a preference; a later value for the same key replaces the earlier one.
    pub fn add(&mut self, key: &str, value: &str) {
        self.entries.insert(key.to_owned(), value.to_owned());
    }

    /// Like `add`, for keys from outside: an empty key is refused.
    pub fn try_add(&mut self, key: &str, value: &str) -> Result<()> {
        if key.trim().is_empty() {
            return Err(Error::InvalidParameter("preference keys must not be empty".into()));
        }
        self.add(key, value);
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_value_replaces_and_empty_key_is_refused() {
        let mut p = Preferences::new();
        p.try_add("resourcebroker.adaptor.name", "ssh").unwrap();
        p.try_add("resourcebroker.adaptor.name", "local").unwrap();
        assert_eq!(p.get("resourcebroker.adaptor.name"), Some("local"));
        assert!(matches!(p.try_add("", "x"), Err(Error::InvalidParameter(_))));
        assert_eq!(p.iter().count(), 1);
    }
}
