//! Upload errors, sorted by what to do about them: a transient error (the network, the
//! server away, a timeout, a verification mismatch) is retried with backoff; a permanent
//! one (authentication refused, permission denied, a changed host key, a local file that
//! changed) is reported and not retried until someone acts.

use std::fmt;

/// Whether retrying can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Retry later.
    Transient,
    /// Retrying will not help; a person must act.
    Permanent,
}

/// An upload error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadError {
    /// Transient or permanent.
    pub kind: Kind,
    /// What went wrong, with the file or host.
    pub message: String,
}

impl UploadError {
    /// A transient error.
    pub fn transient(m: impl Into<String>) -> Self {
        UploadError {
            kind: Kind::Transient,
            message: m.into(),
        }
    }

    /// A permanent error.
    pub fn permanent(m: impl Into<String>) -> Self {
        UploadError {
            kind: Kind::Permanent,
            message: m.into(),
        }
    }

    /// True when retrying can help.
    pub fn is_transient(&self) -> bool {
        self.kind == Kind::Transient
    }

    /// Classifies a local or remote I/O error: permission, missing paths and invalid
    /// names are permanent, the rest (disk full, interrupted, timed out) transient.
    pub fn from_io(what: &str, e: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let m = format!("{what}: {e}");
        match e.kind() {
            K::PermissionDenied | K::NotFound | K::InvalidInput | K::InvalidFilename => {
                UploadError::permanent(m)
            }
            _ if e.raw_os_error() == Some(libc::ENOTDIR)
                || e.raw_os_error() == Some(libc::EROFS) =>
            {
                UploadError::permanent(m)
            }
            _ => UploadError::transient(m),
        }
    }
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = match self.kind {
            Kind::Transient => "transient",
            Kind::Permanent => "permanent",
        };
        write!(f, "{} ({k})", self.message)
    }
}

impl std::error::Error for UploadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_sorted_by_whether_a_retry_can_help() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = UploadError::from_io("writing /x", &denied);
        assert_eq!(e.kind, Kind::Permanent);
        assert_eq!(e.to_string(), "writing /x: permission denied (permanent)");
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(UploadError::from_io("w", &full).is_transient());
        let notdir = std::io::Error::from_raw_os_error(libc::ENOTDIR);
        assert!(!UploadError::from_io("w", &notdir).is_transient());
    }
}
