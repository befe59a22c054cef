//! A Digital RF channel's sample files as retention units: each
//! `<YYYY-MM-DDTHH-MM-SS>/rf@<SEC>.<MSEC>.h5` under the channel directory is one unit
//! (time: its first second). `drf_properties.h5` and the `metadata` channel are never
//! deleted.

use std::io;
use std::path::{Path, PathBuf};

use crate::util::retention::{Layout, Unit};

/// The sample files of one Digital RF channel directory.
pub struct DrfLayout {
    channel_dir: PathBuf,
}

impl DrfLayout {
    /// The files under `channel_dir`.
    pub fn new(channel_dir: &Path) -> Self {
        DrfLayout {
            channel_dir: channel_dir.to_path_buf(),
        }
    }
}

/// The first second of an `rf@SEC.MSEC.h5` file.
fn seconds(name: &str) -> Option<i64> {
    let (sec, _) = name
        .strip_prefix("rf@")?
        .strip_suffix(".h5")?
        .split_once('.')?;
    sec.parse().ok()
}

/// `YYYY-MM-DDTHH-MM-SS`.
fn is_subdir(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 19 && b[10] == b'T' && name.chars().filter(char::is_ascii_digit).count() == 14
}

impl Layout for DrfLayout {
    fn root(&self) -> &Path {
        &self.channel_dir
    }

    fn scan(&self) -> io::Result<Vec<Unit>> {
        let rd = match std::fs::read_dir(&self.channel_dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut units = Vec::new();
        for sub in rd.flatten() {
            if !sub.file_name().to_str().is_some_and(is_subdir) {
                continue;
            }
            for f in std::fs::read_dir(sub.path())?.flatten() {
                if let Some(u) = self.unit(&f.path()) {
                    units.push(u);
                }
            }
        }
        Ok(units)
    }

    fn unit(&self, primary: &Path) -> Option<Unit> {
        let name = primary.file_name()?.to_str()?;
        let t = seconds(name)?;
        Some(Unit::of(
            t,
            primary.parent()?,
            name,
            vec![primary.to_path_buf()],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_files_are_units_and_properties_and_metadata_are_not() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("2023-11-14T00-00-00");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::create_dir_all(d.path().join("metadata/2023-11-14T00-00-00")).unwrap();
        std::fs::write(sub.join("rf@1699999200.000.h5"), b"x").unwrap();
        std::fs::write(sub.join("tmp.h5"), b"x").unwrap();
        std::fs::write(d.path().join("drf_properties.h5"), b"x").unwrap();
        std::fs::write(
            d.path()
                .join("metadata/2023-11-14T00-00-00/metadata@1699999200.h5"),
            b"x",
        )
        .unwrap();
        let u = DrfLayout::new(d.path()).scan().unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(
            (u[0].time, u[0].primary.as_str()),
            (1_699_999_200, "rf@1699999200.000.h5")
        );
    }
}
