//! Where uploads go: the primitive operations of a destination ([`Remote`]: a local
//! directory or an SFTP server), and the one verified upload algorithm built on them
//! ([`put_verified`]): write to `<name>.part`, check its size and re-read it to compare its
//! SHA-256 with the local file's, then rename it to its name and check that. A file is
//! never reported uploaded before that check passed.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::UploadError;

/// A destination's primitive operations; paths are relative to its base, `/`-separated.
pub trait Remote {
    /// Where it is, for messages (`sftp://user@host:port/base`).
    fn describe(&self) -> String;
    /// Creates directory `dir` and its parents.
    fn mkdir_all(&mut self, dir: &str) -> Result<(), UploadError>;
    /// Writes the contents of `local` to `remote` (replacing it).
    fn write(&mut self, local: &Path, remote: &str) -> Result<(), UploadError>;
    /// The size of `remote`, `None` when it does not exist.
    fn size(&mut self, remote: &str) -> Result<Option<u64>, UploadError>;
    /// Reads `remote` back and returns its SHA-256 (hex).
    fn sha256(&mut self, remote: &str) -> Result<String, UploadError>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), UploadError>;
}

/// SHA-256 (hex) of everything `r` yields, and its length.
pub fn sha256_of(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&h.finalize()), n))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) and size of a local file.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    sha256_of(std::fs::File::open(path)?)
}

fn parent(remote: &str) -> Option<&str> {
    remote
        .rsplit_once('/')
        .map(|(d, _)| d)
        .filter(|d| !d.is_empty())
}

/// Uploads `local` to `remote`, verified by size and SHA-256 (`sha` and `size` of the
/// local file). Returns true if it was already there (verified, not sent again).
pub fn put_verified(
    r: &mut dyn Remote,
    local: &Path,
    remote: &str,
    size: u64,
    sha: &str,
) -> Result<bool, UploadError> {
    let check = |r: &mut dyn Remote, path: &str| -> Result<Result<(), String>, UploadError> {
        match r.size(path)? {
            None => Ok(Err(format!("{path} is missing after the upload"))),
            Some(s) if s != size => Ok(Err(format!(
                "{path} holds {s} bytes, the local file {size}"
            ))),
            Some(_) => {
                let got = r.sha256(path)?;
                Ok(if got == sha {
                    Ok(())
                } else {
                    Err(format!("{path} has SHA-256 {got}, the local file {sha}"))
                })
            }
        }
    };
    // Already there from an earlier run that stopped before it recorded success?
    if r.size(remote)? == Some(size) && check(r, remote)?.is_ok() {
        return Ok(true);
    }
    if let Some(d) = parent(remote) {
        r.mkdir_all(d)?;
    }
    let part = format!("{remote}.part");
    r.write(local, &part)?;
    check(r, &part)?.map_err(|m| UploadError::transient(format!("verification failed: {m}")))?;
    r.rename(&part, remote)?;
    match r.size(remote)? {
        Some(s) if s == size => Ok(false),
        other => Err(UploadError::transient(format!(
            "verification failed: {remote} has {other:?} bytes after the rename, expected {size}"
        ))),
    }
}

/// A local directory as a destination (tests, a mounted share, a staging area).
pub struct LocalDir {
    base: PathBuf,
}

impl LocalDir {
    /// Uploads under `base`.
    pub fn new(base: &Path) -> Self {
        LocalDir {
            base: base.to_path_buf(),
        }
    }

    fn at(&self, remote: &str) -> PathBuf {
        self.base.join(remote)
    }
}

impl Remote for LocalDir {
    fn describe(&self) -> String {
        format!("file://{}", self.base.display())
    }

    fn mkdir_all(&mut self, dir: &str) -> Result<(), UploadError> {
        let p = self.at(dir);
        std::fs::create_dir_all(&p)
            .map_err(|e| UploadError::from_io(&format!("creating {}", p.display()), &e))
    }

    fn write(&mut self, local: &Path, remote: &str) -> Result<(), UploadError> {
        let to = self.at(remote);
        let io = |what: &str, p: &Path, e: std::io::Error| {
            UploadError::from_io(&format!("{what} {}", p.display()), &e)
        };
        let mut src = std::fs::File::open(local).map_err(|e| io("reading", local, e))?;
        let mut dst = std::fs::File::create(&to).map_err(|e| io("creating", &to, e))?;
        std::io::copy(&mut src, &mut dst).map_err(|e| io("writing", &to, e))?;
        dst.sync_all().map_err(|e| io("syncing", &to, e))
    }

    fn size(&mut self, remote: &str) -> Result<Option<u64>, UploadError> {
        let p = self.at(remote);
        match std::fs::metadata(&p) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(UploadError::from_io(
                &format!("reading {}", p.display()),
                &e,
            )),
        }
    }

    fn sha256(&mut self, remote: &str) -> Result<String, UploadError> {
        let p = self.at(remote);
        sha256_file(&p)
            .map(|(h, _)| h)
            .map_err(|e| UploadError::from_io(&format!("reading {}", p.display()), &e))
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), UploadError> {
        let (a, b) = (self.at(from), self.at(to));
        std::fs::rename(&a, &b)
            .map_err(|e| UploadError::from_io(&format!("renaming {}", a.display()), &e))?;
        if let Some(d) = b.parent() {
            let _ = std::fs::File::open(d).and_then(|f| f.sync_all());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A destination that corrupts what it writes (a flaky link, a broken server).
    struct Corrupting(LocalDir);

    impl Remote for Corrupting {
        fn describe(&self) -> String {
            "corrupting".into()
        }
        fn mkdir_all(&mut self, dir: &str) -> Result<(), UploadError> {
            self.0.mkdir_all(dir)
        }
        fn write(&mut self, local: &Path, remote: &str) -> Result<(), UploadError> {
            self.0.write(local, remote)?;
            let p = self.0.at(remote);
            let mut b = std::fs::read(&p).unwrap();
            b[0] ^= 0xff;
            std::fs::write(&p, b).unwrap();
            Ok(())
        }
        fn size(&mut self, remote: &str) -> Result<Option<u64>, UploadError> {
            self.0.size(remote)
        }
        fn sha256(&mut self, remote: &str) -> Result<String, UploadError> {
            self.0.sha256(remote)
        }
        fn rename(&mut self, from: &str, to: &str) -> Result<(), UploadError> {
            self.0.rename(from, to)
        }
    }

    #[test]
    fn uploads_are_verified_and_a_corrupted_copy_is_never_published() {
        let d = tempfile::tempdir().unwrap();
        let local = d.path().join("a.bin");
        std::fs::write(&local, b"hello world").unwrap();
        let (sha, size) = sha256_file(&local).unwrap();
        assert_eq!(
            sha,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let mut r = LocalDir::new(&d.path().join("remote"));
        assert!(!put_verified(&mut r, &local, "day/x/a.bin", size, &sha).unwrap());
        assert_eq!(
            std::fs::read(d.path().join("remote/day/x/a.bin")).unwrap(),
            b"hello world"
        );
        assert!(!d.path().join("remote/day/x/a.bin.part").exists());
        // Again: already there, verified, not sent.
        assert!(put_verified(&mut r, &local, "day/x/a.bin", size, &sha).unwrap());

        let mut bad = Corrupting(LocalDir::new(&d.path().join("bad")));
        let e = put_verified(&mut bad, &local, "day/a.bin", size, &sha).unwrap_err();
        assert!(e.is_transient());
        assert!(
            e.message
                .starts_with("verification failed: day/a.bin.part has SHA-256"),
            "{e}"
        );
        assert!(
            !d.path().join("bad/day/a.bin").exists(),
            "never renamed to its name"
        );
    }
}
