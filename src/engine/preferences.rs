use std::collections::BTreeMap;

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

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
