//! The one shell-quoting function, the remote-script builder, and the lossless encoding of
//! NativeJob data.
//!
//! Every word that reaches the remote `/bin/sh` goes through [`sh_quote`]: single quotes, with
//! each `'` written as `'\''`. Inside single quotes a POSIX shell interprets nothing (no `$`,
//! backtick, backslash, newline or glob), so any byte string except NUL arrives unchanged.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use gat_adaptor::{Error, Result};

/// `word` as one single-quoted shell word.
pub fn sh_quote(word: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(word.len() + 2);
    out.push(b'\'');
    for &b in word {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// NUL cannot travel in an argv, an environment value or a path: refuse it by name.
pub fn no_nul(what: &str, bytes: &[u8]) -> Result<()> {
    if bytes.contains(&0) {
        return Err(Error::InvalidSpec(format!("{what} contains a NUL byte")));
    }
    Ok(())
}

/// A remote POSIX sh script under construction: literal code plus quoted words.
#[derive(Default)]
pub struct Script(Vec<u8>);

impl Script {
    pub fn new() -> Script {
        Script(Vec::new())
    }
    /// Literal shell code (never derived from user input).
    pub fn code(&mut self, code: &str) -> &mut Script {
        self.0.extend_from_slice(code.as_bytes());
        self
    }
    /// One quoted word.
    pub fn word(&mut self, word: impl AsRef<[u8]>) -> &mut Script {
        self.0.extend_from_slice(&sh_quote(word.as_ref()));
        self
    }
    pub fn path(&mut self, p: &Path) -> &mut Script {
        self.word(p.as_os_str().as_bytes())
    }
    /// Another script's text (already code and quoted words).
    pub fn append(&mut self, other: &Script) -> &mut Script {
        self.0.extend_from_slice(&other.0);
        self
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Percent-encode everything but a safe set, so that a value never holds a space or newline
/// (NativeJob data is `key value` lines) and any byte string survives.
pub fn enc(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"/._-:@+,=~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn dec(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

pub fn os(bytes: Vec<u8>) -> OsString {
    OsString::from_vec(bytes)
}

/// Escape sftp glob characters: scp (SFTP mode) expands `*?[` in remote source paths.
pub fn glob_escape(path: &OsStr) -> OsString {
    let mut out = Vec::new();
    for &b in path.as_bytes() {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The quoting round-trips through a real /bin/sh: printf receives exactly the word.
    #[test]
    fn sh_quote_round_trips_through_sh() {
        let words: &[&[u8]] = &[
            b"",
            b"plain",
            b"it's",
            b"''",
            b"'\\''",
            b"$(touch /tmp/gat-quote-pwned)",
            b"`id`",
            b"; rm -rf /nonexistent",
            b"a\nb\n",
            b"\\",
            b"*",
            b"\"dq\"",
            b"${HOME}",
            b"\xff\xfe bytes",
        ];
        for w in words {
            let mut s = Script::new();
            s.code("printf '%s' ").word(w);
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(OsStr::from_bytes(s.bytes()))
                .output()
                .expect("run /bin/sh");
            assert_eq!(out.stdout, *w, "word {:?}", String::from_utf8_lossy(w));
        }
        assert!(!Path::new("/tmp/gat-quote-pwned").exists());
    }

    #[test]
    fn enc_dec_round_trip() {
        for v in [
            &b""[..],
            b"a b\nc%d",
            b"\xff\x00/x y",
            b"/home/u/.gat/jobs/x",
        ] {
            let e = enc(v);
            assert!(!e.contains(' ') && !e.contains('\n'));
            assert_eq!(dec(&e).as_deref(), Some(v));
        }
        assert_eq!(dec("%zz"), None);
        assert_eq!(dec("%4"), None);
    }

    #[test]
    fn glob_escape_escapes() {
        assert_eq!(
            glob_escape(OsStr::new("/a/*b?[c]\\")),
            OsStr::new("/a/\\*b\\?\\[c\\]\\\\")
        );
    }
}
