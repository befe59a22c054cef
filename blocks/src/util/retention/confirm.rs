//! Confirmation markers: how a downstream consumer (the daily upload, a script) tells a sink
//! that files may be deleted. A directory's `.confirmed` file lists the names of the files in
//! it that were consumed and verified, one per line (`#` starts a comment; a line `*`
//! confirms every file of the directory). Consumers add names with [`add`], which merges
//! with what is there and replaces the file atomically, so a sink reading it concurrently
//! sees the old list or the new one.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use crate::util::atomic::publish;

/// The marker's file name.
pub const MARKER: &str = ".confirmed";

/// The names a marker confirms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confirmed {
    /// Every file of the directory (a `*` line).
    pub all: bool,
    /// File names.
    pub names: BTreeSet<String>,
}

impl Confirmed {
    /// Parses a marker's text.
    pub fn parse(text: &str) -> Confirmed {
        let mut c = Confirmed::default();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line == "*" {
                c.all = true;
            } else {
                c.names.insert(line.to_string());
            }
        }
        c
    }

    /// True when file `name` is confirmed.
    pub fn contains(&self, name: &str) -> bool {
        self.all || self.names.contains(name)
    }

    /// The marker's text.
    pub fn to_text(&self) -> String {
        let mut s = String::from("# files here that a consumer verified; a sink with require_confirmation may delete them\n");
        if self.all {
            s.push_str("*\n");
        }
        for n in &self.names {
            s.push_str(n);
            s.push('\n');
        }
        s
    }
}

/// Reads the marker of `dir` (`None` when there is none).
pub fn read(dir: &Path) -> io::Result<Option<Confirmed>> {
    match std::fs::read_to_string(dir.join(MARKER)) {
        Ok(t) => Ok(Some(Confirmed::parse(&t))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Adds `names` (file names in `dir`) to the marker of `dir`, atomically and durably.
pub fn add<S: AsRef<str>>(dir: &Path, names: &[S]) -> io::Result<()> {
    let mut c = read(dir)?.unwrap_or_default();
    for n in names {
        let n = n.as_ref();
        if n.is_empty() || n.contains('/') || n.contains('\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{n}` is not a file name"),
            ));
        }
        c.names.insert(n.to_string());
    }
    publish(&dir.join(MARKER), c.to_text().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_merge_names_and_parse_comments_and_stars() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()).unwrap(), None);
        add(d.path(), &["b.bin", "a.bin"]).unwrap();
        add(d.path(), &["c.bin", "a.bin"]).unwrap();
        let c = read(d.path()).unwrap().unwrap();
        assert_eq!(
            c.names.iter().map(String::as_str).collect::<Vec<_>>(),
            ["a.bin", "b.bin", "c.bin"]
        );
        assert!(c.contains("b.bin") && !c.contains("d.bin") && !c.all);
        assert!(add(d.path(), &["x/y"]).is_err());
        let star = Confirmed::parse("# all of it\n\n*\n");
        assert!(star.all && star.contains("anything"));
        assert_eq!(Confirmed::parse(&c.to_text()), c);
    }
}
