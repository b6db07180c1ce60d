//! The resource configuration: `$GAT_CONFIG`, else `~/.config/gat/resources.toml`. Without one,
//! only `local:` exists. Each resource names a contact and may set attributes, a priority and
//! GNU Queue's load thresholds:
//!
//! ```toml
//! [resources.bigbox]
//! contact = "local:"
//! work_dir = "/scratch/bigbox"   # the resource's own working area (jobs run in work_dir/<job id>)
//! priority = 10
//! loadsched = 4.0          # no new jobs at or above this load average
//! loadstop = 8.0
//! loadcheckpoint = 6.0
//! attributes = { "cpu.count" = 64, "os.name" = "Linux" }
//!
//! [resources.far]
//! contact = "ssh://user@far.example.org:22"
//! work_dir = "/home/user/gat-work"   # on the host; needed there for checkpointable jobs
//! ssh_options = ["-F", "/home/me/.ssh/gat_config"]   # given to ssh and scp for this host
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use gat_adaptor::{AttrValue, Resource};

use super::error::{Error, Result};

/// Attribute keys under which configured thresholds and priority appear on a resource.
pub const LOAD_SCHED: &str = "load.sched";
pub const LOAD_STOP: &str = "load.stop";
pub const LOAD_CHECKPOINT: &str = "load.checkpoint";
pub const PRIORITY: &str = "priority";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfiguredResource {
    pub name: String,
    pub contact: String,
    pub priority: Option<f64>,
    pub loadsched: Option<f64>,
    pub loadstop: Option<f64>,
    pub loadcheckpoint: Option<f64>,
    pub attributes: BTreeMap<String, AttrValue>,
    /// The resource's own working area on its host.
    pub work_dir: Option<PathBuf>,
    /// Extra ssh/scp options of an `ssh://` resource (`["-F", "/path/ssh_config"]`).
    pub ssh_options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub resources: Vec<ConfiguredResource>,
}

fn config_path() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("GAT_CONFIG").or_else(|| var("HOME").map(|h| h.join(".config/gat/resources.toml")))
}

impl Config {
    /// The configuration the environment names; none at the default place is an empty one.
    pub fn from_environment() -> Result<Config> {
        let Some(path) = config_path() else { return Ok(Config::default()) };
        let explicit = std::env::var_os("GAT_CONFIG").is_some_and(|v| !v.is_empty());
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text).map_err(|e| e.context(path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Config::default()),
            Err(e) => Err(Error::FileOpen(format!("cannot read the configuration {}: {e}", path.display()))),
        }
    }

    pub fn parse(text: &str) -> Result<Config> {
        let doc: toml::Table = text.parse().map_err(|e| Error::UnknownFormat(format!("not valid TOML: {e}")))?;
        let mut resources = Vec::new();
        if let Some(section) = doc.get("resources") {
            let section = section
                .as_table()
                .ok_or_else(|| Error::UnknownFormat("'resources' must be a table of named resources".into()))?;
            for (name, entry) in section {
                resources.push(resource(name, entry).map_err(|e| e.context(format!("resource '{name}'")))?);
            }
        }
        Ok(Config { resources })
    }

    pub fn resource(&self, name: &str) -> Option<&ConfiguredResource> {
        self.resources.iter().find(|r| r.name == name)
    }
}

fn resource(name: &str, entry: &toml::Value) -> Result<ConfiguredResource> {
    let bad = |what: String| Error::UnknownFormat(what);
    let table = entry.as_table().ok_or_else(|| bad("must be a table".into()))?;
    let number = |key: &str| -> Result<Option<f64>> {
        match table.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_float()
                .or_else(|| v.as_integer().map(|i| i as f64))
                .map(Some)
                .ok_or_else(|| bad(format!("'{key}' must be a number"))),
        }
    };
    let contact = match table.get("contact") {
        Some(v) => v.as_str().ok_or_else(|| bad("'contact' must be a string".into()))?.to_owned(),
        None => return Err(bad("has no 'contact' (such as \"local:\" or \"ssh://user@host\")".into())),
    };
    let mut attributes = BTreeMap::new();
    if let Some(attrs) = table.get("attributes") {
        let attrs = attrs.as_table().ok_or_else(|| bad("'attributes' must be a table".into()))?;
        for (key, v) in attrs {
            let value = match v {
                toml::Value::String(s) => AttrValue::Str(s.clone()),
                toml::Value::Integer(i) => AttrValue::Num(*i as f64),
                toml::Value::Float(f) => AttrValue::Num(*f),
                _ => return Err(bad(format!("attribute '{key}' must be a string or a number"))),
            };
            attributes.insert(key.clone(), value);
        }
    }
    let work_dir = match table.get("work_dir") {
        None => None,
        Some(v) => Some(PathBuf::from(v.as_str().ok_or_else(|| bad("'work_dir' must be a string (a path)".into()))?)),
    };
    let ssh_options = match table.get("ssh_options") {
        None => Vec::new(),
        Some(v) => {
            let not_strings = || bad("'ssh_options' must be an array of strings (such as [\"-F\", \"/path/ssh_config\"])".into());
            let items = v.as_array().ok_or_else(not_strings)?;
            items.iter().map(|i| i.as_str().map(str::to_owned).ok_or_else(not_strings)).collect::<Result<Vec<_>>>()?
        }
    };
    if !ssh_options.is_empty() && !contact.starts_with("ssh://") {
        return Err(bad(format!("'ssh_options' is for ssh:// contacts, not '{contact}'")));
    }
    Ok(ConfiguredResource {
        name: name.to_owned(),
        work_dir,
        ssh_options,
        contact,
        priority: number("priority")?,
        loadsched: number("loadsched")?,
        loadstop: number("loadstop")?,
        loadcheckpoint: number("loadcheckpoint")?,
        attributes,
    })
}

impl ConfiguredResource {
    /// This configured resource on top of what its adaptor says of the contact (`base`).
    pub fn apply_to(&self, mut base: Resource) -> Resource {
        base.name = self.name.clone();
        base.contact = self.contact.clone();
        base.attributes.extend(self.attributes.clone());
        if let Some(dir) = &self.work_dir {
            base.work_dir = Some(dir.clone());
        }
        let extra = [
            (LOAD_SCHED, self.loadsched),
            (LOAD_STOP, self.loadstop),
            (LOAD_CHECKPOINT, self.loadcheckpoint),
            (PRIORITY, self.priority),
        ];
        for (key, value) in extra {
            if let Some(v) = value {
                base.attributes.insert(key.to_owned(), AttrValue::Num(v));
            }
        }
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_with_thresholds_and_attributes() {
        let c = Config::parse(
            r#"
            [resources.big]
            contact = "local:"
            priority = 10
            loadsched = 4
            attributes = { "cpu.count" = 64, "os.name" = "Linux" }
            [resources.far]
            contact = "ssh://u@h:22"
            work_dir = "/w"
            ssh_options = ["-F", "/etc/cfg"]
            "#,
        )
        .unwrap();
        let big = c.resource("big").unwrap();
        assert_eq!(big.loadsched, Some(4.0));
        assert_eq!(big.priority, Some(10.0));
        assert_eq!(big.attributes["cpu.count"], AttrValue::Num(64.0));
        assert_eq!(c.resource("far").unwrap().contact, "ssh://u@h:22");
        assert_eq!(c.resource("far").unwrap().ssh_options, ["-F", "/etc/cfg"]);
        assert_eq!(c.resource("far").unwrap().work_dir, Some(PathBuf::from("/w")));
        assert!(c.resource("big").unwrap().ssh_options.is_empty());
    }

    #[test]
    fn malformed_configuration_names_the_resource() {
        for (text, expected) in [
            ("[resources.x]\npriority = 1", "contact"),
            ("[resources.x]\ncontact = \"local:\"\nloadsched = \"high\"", "loadsched"),
            ("resources = 3", "resources"),
            ("not toml [", "TOML"),
            ("[resources.x]\ncontact = \"ssh://h\"\nssh_options = \"-F x\"", "ssh_options"),
            ("[resources.x]\ncontact = \"ssh://h\"\nssh_options = [1]", "ssh_options"),
            ("[resources.x]\ncontact = \"local:\"\nssh_options = [\"-v\"]", "ssh_options"),
        ] {
            match Config::parse(text) {
                Err(Error::UnknownFormat(m)) => assert!(m.contains(expected), "{m}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
