//! What this machine is: the hardware/OS attributes of local resources and the current load.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use gat_adaptor::AttrValue;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Attributes that do not change while the process runs, read once.
#[derive(Debug, Clone)]
pub struct HostInfo {
    pub hostname: String,
    pub attributes: BTreeMap<String, AttrValue>,
}

impl HostInfo {
    pub fn read() -> HostInfo {
        let mut attrs = BTreeMap::new();
        let str_attr = |attrs: &mut BTreeMap<String, AttrValue>, k: &str, v: String| {
            attrs.insert(k.to_string(), AttrValue::Str(v));
        };
        let uname = crate::sys::uname().ok();
        let hostname = uname
            .as_ref()
            .map(|u| u.nodename.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        if let Some(u) = &uname {
            str_attr(&mut attrs, "machine.type", u.machine.clone());
            str_attr(&mut attrs, "os.name", u.sysname.clone());
            str_attr(&mut attrs, "os.release", u.release.clone());
            str_attr(&mut attrs, "os.version", u.version.clone());
        }
        str_attr(&mut attrs, "os.type", "unix".to_string());
        str_attr(&mut attrs, "machine.node", hostname.clone());

        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        attrs.insert("cpu.count".to_string(), AttrValue::Num(cpus as f64));

        if let Ok(cpuinfo) = fs::read_to_string("/proc/cpuinfo") {
            if let Some(model) = cpuinfo_field(&cpuinfo, "model name") {
                str_attr(&mut attrs, "cpu.type", model.to_string());
            }
            if let Some(mhz) =
                cpuinfo_field(&cpuinfo, "cpu MHz").and_then(|v| v.parse::<f64>().ok())
            {
                attrs.insert(
                    "cpu.speed".to_string(),
                    AttrValue::Num(round2(mhz / 1000.0)),
                );
            }
        }
        if let Some(kib) = fs::read_to_string("/proc/meminfo")
            .ok()
            .as_deref()
            .and_then(meminfo_total_kib)
        {
            attrs.insert(
                "memory.size".to_string(),
                AttrValue::Num(round2(kib * 1024.0 / GIB)),
            );
        }
        HostInfo {
            hostname,
            attributes: attrs,
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn cpuinfo_field<'a>(cpuinfo: &'a str, key: &str) -> Option<&'a str> {
    cpuinfo.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

fn meminfo_total_kib(meminfo: &str) -> Option<f64> {
    meminfo.lines().find_map(|line| {
        line.strip_prefix("MemTotal:")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

/// One-minute load average from /proc/loadavg.
pub fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Free space (GiB) on the file system of `path`.
pub fn disk_free_gib(path: &Path) -> Option<f64> {
    crate::sys::free_bytes(path)
        .ok()
        .map(|b| round2(b as f64 / GIB))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_attributes_are_read_from_this_machine() {
        let info = HostInfo::read();
        assert!(!info.hostname.is_empty());
        assert_eq!(
            info.attributes.get("os.name"),
            Some(&AttrValue::Str("Linux".into()))
        );
        assert!(info.attributes["cpu.count"].as_num().unwrap_or(0.0) >= 1.0);
        assert!(info.attributes["memory.size"].as_num().unwrap_or(0.0) > 0.0);
        assert!(load_average().is_some());
    }

    #[test]
    fn cpuinfo_and_meminfo_parse() {
        assert_eq!(
            cpuinfo_field("model name\t: AMD EPYC\ncpu MHz\t\t: 2596.096\n", "cpu MHz"),
            Some("2596.096")
        );
        assert_eq!(
            meminfo_total_kib("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24576000.0)
        );
    }
}
