//! The configuration file of `flow daily` and `flow upload` (TOML): where the queue and
//! products live, the archive and channels a day's product is built from, the station's
//! metadata, and where and how to upload. See docs/deploy.md.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::UploadError;
use super::remote::{LocalDir, Remote};
use super::sftp::{Sftp, SftpConfig};

fn d_catch_up() -> u32 {
    7
}
fn d_remote_dir() -> String {
    "OBS{date}T00-00".into()
}
fn d_attempts() -> u32 {
    5
}
fn d_backoff() -> Duration {
    Duration::from_secs(2)
}
fn d_max_backoff() -> Duration {
    Duration::from_secs(60)
}
fn d_timeout() -> Duration {
    Duration::from_secs(30)
}
fn d_channel() -> String {
    "ch0".into()
}

/// The whole file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory of the upload queue (`queue.sqlite`) and the daily products (`products/`).
    pub work_dir: PathBuf,
    /// The `binary_archive` directory (holding one directory per channel), for `flow daily`.
    #[serde(default)]
    pub archive: Option<PathBuf>,
    /// Archive channel directories, one Digital RF subchannel each, in order.
    #[serde(default)]
    pub channels: Vec<String>,
    /// How many days before today `flow daily` looks back for days not yet uploaded.
    #[serde(default = "d_catch_up")]
    pub catch_up_days: u32,
    /// Keep a day's product after its upload was verified (default: delete it; the
    /// archive minutes stay until their storage limits delete them).
    #[serde(default)]
    pub keep_products: bool,
    /// Station metadata written into the product.
    #[serde(default)]
    pub station: Station,
    /// Where and how to upload.
    pub upload: UploadConfig,
}

/// Station metadata (PSWS).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Station {
    /// Station id (`uuid_str`).
    #[serde(default)]
    pub uuid: String,
    /// Instrument id (for the trigger name).
    #[serde(default)]
    pub instrument: String,
    /// Callsign.
    #[serde(default)]
    pub callsign: String,
    /// Maidenhead grid square.
    #[serde(default)]
    pub grid: String,
    /// Receiver name.
    #[serde(default)]
    pub receiver: String,
    /// Latitude, degrees.
    #[serde(default)]
    pub lat: f32,
    /// Longitude, degrees.
    #[serde(default)]
    pub long: f32,
    /// Digital RF channel name of the product.
    #[serde(default = "d_channel")]
    pub drf_channel: String,
}

/// Where and how to upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadConfig {
    /// `sftp://user@host[:port]/path` (an absolute path; `/~/path` is relative to the login
    /// directory), `file:///path`, or a local directory path.
    pub target: String,
    /// Private key for SFTP (OpenSSH format).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// `known_hosts` file holding the server's key (SFTP).
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// Record an unknown server key on first contact instead of refusing it.
    #[serde(default)]
    pub accept_new_host_key: bool,
    /// Directory of a day's product at the destination; `{date}` (YYYY-MM-DD) and
    /// `{yyyymmdd}` are replaced.
    #[serde(default = "d_remote_dir")]
    pub remote_dir: String,
    /// A directory created at the destination after every file of a day is verified (an
    /// ingest trigger); `{dir}`, `{date}`, `{station}`, `{instrument}` and `{now}`
    /// (YYYY-MM-DDTHH-MM UTC) are replaced. Empty: none.
    #[serde(default)]
    pub trigger: String,
    /// Tries per file in one run before it is left for the next run.
    #[serde(default = "d_attempts")]
    pub attempts: u32,
    /// Wait after the first failure; doubled after each.
    #[serde(default = "d_backoff", with = "crate::util::duration::text")]
    pub backoff: Duration,
    /// Longest wait between tries.
    #[serde(default = "d_max_backoff", with = "crate::util::duration::text")]
    pub max_backoff: Duration,
    /// Limit on connecting and on each operation.
    #[serde(default = "d_timeout", with = "crate::util::duration::text")]
    pub timeout: Duration,
}

impl Config {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let mut c: Config =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        // Relative paths are relative to the file.
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut c.work_dir);
        if let Some(a) = c.archive.as_mut() {
            fix(a);
        }
        if let Some(k) = c.upload.key.as_mut() {
            fix(k);
        }
        if let Some(k) = c.upload.known_hosts.as_mut() {
            fix(k);
        }
        if !c.upload.target.contains("://") {
            let mut t = PathBuf::from(&c.upload.target);
            fix(&mut t);
            c.upload.target = t.to_string_lossy().into_owned();
        }
        Ok(c)
    }

    /// The queue database.
    pub fn queue_path(&self) -> PathBuf {
        self.work_dir.join("queue.sqlite")
    }

    /// Opens the destination.
    pub fn remote(&self) -> Result<Box<dyn Remote>, UploadError> {
        let u = &self.upload;
        if let Some(rest) = u.target.strip_prefix("sftp://") {
            let (userhost, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (user, hostport) = userhost.split_once('@').ok_or_else(|| {
                UploadError::permanent(format!(
                    "upload.target `{}`: no user@ before the host",
                    u.target
                ))
            })?;
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    p.parse().map_err(|_| {
                        UploadError::permanent(format!(
                            "upload.target `{}`: bad port `{p}`",
                            u.target
                        ))
                    })?,
                ),
                None => (hostport, 22),
            };
            let base = match path.strip_prefix("~/").or(path.strip_prefix('~')) {
                Some(rel) => rel.to_string(),
                None => format!("/{path}"),
            };
            let need = |o: &Option<PathBuf>, what: &str| {
                o.clone().ok_or_else(|| {
                    UploadError::permanent(format!("upload.{what} is needed for an SFTP target"))
                })
            };
            return Ok(Box::new(Sftp::new(SftpConfig {
                host: host.to_string(),
                port,
                user: user.to_string(),
                base,
                key: need(&u.key, "key")?,
                known_hosts: need(&u.known_hosts, "known_hosts")?,
                accept_new_host_key: u.accept_new_host_key,
                timeout: u.timeout,
            })?));
        }
        let dir = u.target.strip_prefix("file://").unwrap_or(&u.target);
        if dir.contains("://") {
            return Err(UploadError::permanent(format!(
                "upload.target `{}`: only sftp:// and file:// are known",
                u.target
            )));
        }
        Ok(Box::new(LocalDir::new(Path::new(dir))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_station_file_and_its_targets() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("daily.toml");
        std::fs::write(
            &p,
            "work_dir = \"work\"\narchive = \"raw\"\nchannels = [\"WWV_10_MHz\"]\n\
             [station]\nuuid = \"S000123\"\ncallsign = \"AB1CD\"\n\
             [upload]\ntarget = \"sftp://grape@psws.example:2222/~/uploads\"\nkey = \"id_ed25519\"\nknown_hosts = \"kh\"\nbackoff = \"1s\"\n",
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.work_dir, d.path().join("work"));
        assert_eq!(c.upload.key, Some(d.path().join("id_ed25519")));
        assert_eq!(c.upload.attempts, 5);
        assert_eq!(c.upload.remote_dir, "OBS{date}T00-00");
        assert_eq!(c.station.drf_channel, "ch0");
        assert_eq!(
            c.remote().unwrap().describe(),
            "sftp://grape@psws.example:2222/uploads"
        );
        std::fs::write(&p, "work_dir = \"w\"\n[upload]\ntarget = \"out\"\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(
            c.remote().unwrap().describe(),
            format!("file://{}", d.path().join("out").display())
        );
        std::fs::write(&p, "work_dir = \"w\"\n[upload]\ntarget = \"sftp://h/x\"\n").unwrap();
        let e = Config::load(&p).unwrap().remote().err().unwrap();
        assert!(e.message.contains("no user@"), "{e}");
        std::fs::write(
            &p,
            "work_dir = \"w\"\nbogus = 1\n[upload]\ntarget = \"x\"\n",
        )
        .unwrap();
        assert!(Config::load(&p)
            .unwrap_err()
            .contains("unknown field `bogus`"));
    }
}
