//! The manifest: what one checkpoint generation holds. It is the unit that moves between hosts,
//! so it is plain text: a header line, then `key value` lines; values are percent-escaped where
//! they could hold control characters.

const HEADER: &str = "gat-checkpoint-manifest 1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative to the generation's `files/` directory (and to the job's working directory).
    pub path: String,
    pub size: u64,
    /// BLAKE3 of the contents, lowercase hex.
    pub blake3: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub generation: u32,
    /// Seconds since the epoch when the state was taken.
    pub time: f64,
    /// `cooperative` or `transparent`.
    pub mechanism: String,
    /// The resource the state was taken on.
    pub source_resource: String,
    /// Arguments the restarted program gets (GNU Queue's restartflag, where used).
    pub restart_arguments: Vec<String>,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    pub fn render(&self) -> String {
        let mut out = format!("{HEADER}\ngeneration {}\ntime {}\nmechanism {}\nsource-resource {}\n",
            self.generation, self.time, escape(&self.mechanism), escape(&self.source_resource));
        for a in &self.restart_arguments {
            out.push_str(&format!("restart-argument {}\n", escape(a)));
        }
        for f in &self.files {
            out.push_str(&format!("file {} {} {}\n", f.size, f.blake3, escape(&f.path)));
        }
        out
    }

    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err("missing or unknown header line".into());
        }
        let mut m = Manifest {
            generation: 0,
            time: 0.0,
            mechanism: String::new(),
            source_resource: String::new(),
            restart_arguments: Vec::new(),
            files: Vec::new(),
        };
        let (mut seen_generation, mut seen_time) = (false, false);
        for line in lines {
            let (key, value) = line.split_once(' ').ok_or_else(|| format!("line without value: '{line}'"))?;
            match key {
                "generation" => {
                    m.generation = value.parse().map_err(|_| format!("bad generation '{value}'"))?;
                    seen_generation = true;
                }
                "time" => {
                    m.time = value.parse().map_err(|_| format!("bad time '{value}'"))?;
                    seen_time = true;
                }
                "mechanism" => m.mechanism = unescape(value)?,
                "source-resource" => m.source_resource = unescape(value)?,
                "restart-argument" => m.restart_arguments.push(unescape(value)?),
                "file" => {
                    let mut parts = value.splitn(3, ' ');
                    let (size, hash, path) = (parts.next(), parts.next(), parts.next());
                    let (Some(size), Some(hash), Some(path)) = (size, hash, path) else {
                        return Err(format!("bad file line '{line}'"));
                    };
                    let size = size.parse().map_err(|_| format!("bad file size '{size}'"))?;
                    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(format!("bad file hash '{hash}'"));
                    }
                    m.files.push(FileEntry { path: unescape(path)?, size, blake3: hash.to_owned() });
                }
                other => return Err(format!("unknown key '{other}'")),
            }
        }
        if !(seen_generation && seen_time) {
            return Err("generation or time missing".into());
        }
        Ok(m)
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '%' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| format!("bad escape in '{s}'"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("bad escape in '{s}'"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("escaped value is not UTF-8: '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_awkward_text() {
        let m = Manifest {
            generation: 7,
            time: 1234.25,
            mechanism: "cooperative".into(),
            source_resource: "ssh://u@h:22".into(),
            restart_arguments: vec!["-r".into(), "a b\nc%d".into(), String::new()],
            files: vec![FileEntry { path: "dir/state file\t1".into(), size: 9, blake3: "ab".repeat(32) }],
        };
        assert_eq!(Manifest::parse(&m.render()).unwrap(), m);
    }

    #[test]
    fn malformed_manifests_are_rejected() {
        assert!(Manifest::parse("").is_err());
        assert!(Manifest::parse("gat-checkpoint-manifest 1\ntime 1\n").is_err());
        assert!(Manifest::parse("gat-checkpoint-manifest 1\ngeneration 1\ntime 1\nfile 3 zz x\n").is_err());
        assert!(Manifest::parse("gat-checkpoint-manifest 1\ngeneration 1\ntime 1\nbogus 1\n").is_err());
    }
}
