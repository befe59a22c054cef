//! An SFTP server as a destination, with a pure-Rust SSH client (`russh`, `russh-sftp`):
//! public-key authentication, the server's key checked against a `known_hosts` file,
//! every operation under a time limit. Network trouble is transient (the connection is
//! dropped and made again on the next operation); a refused key, a changed or unknown host
//! key and permission errors are permanent.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{self, PrivateKeyWithHashAlg};
use russh_sftp::client::SftpSession;
use russh_sftp::protocol::{OpenFlags, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::UploadError;
use super::remote::{hex, Remote};

/// Where and how to connect.
#[derive(Clone, Debug, PartialEq)]
pub struct SftpConfig {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User.
    pub user: String,
    /// Directory on the server that remote paths are relative to (`""`: the login
    /// directory).
    pub base: String,
    /// Private key file (OpenSSH format; ed25519, ECDSA or RSA).
    pub key: PathBuf,
    /// `known_hosts` file holding the server's key.
    pub known_hosts: PathBuf,
    /// Record an unknown server's key in `known_hosts` on first contact (trust on first
    /// use) instead of refusing it.
    pub accept_new_host_key: bool,
    /// Limit on connecting and on each operation.
    pub timeout: Duration,
}

/// What the host-key check concluded (read after a failed connection).
#[derive(Clone, Debug, Default)]
struct KeyVerdict(Arc<Mutex<Option<String>>>);

struct Client {
    cfg: SftpConfig,
    verdict: KeyVerdict,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let keys::PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            self.set("the server offered a certificate; flow checks plain host keys".into());
            return Ok(false);
        };
        let (host, port, kh) = (&self.cfg.host, self.cfg.port, &self.cfg.known_hosts);
        match keys::check_known_hosts_path(host, port, key, kh) {
            Ok(true) => Ok(true),
            Ok(false) if self.cfg.accept_new_host_key => {
                match keys::known_hosts::learn_known_hosts_path(host, port, key, kh) {
                    Ok(()) => {
                        tracing::warn!(host = %host, port, file = %kh.display(), "recorded the server's host key (accept_new_host_key)");
                        Ok(true)
                    }
                    Err(e) => {
                        self.set(format!(
                            "cannot record the host key in {}: {e}",
                            kh.display()
                        ));
                        Ok(false)
                    }
                }
            }
            Ok(false) => {
                self.set(format!(
                    "the host key of {host}:{port} is not in {} (add it, e.g. with ssh-keyscan, or set accept_new_host_key)",
                    kh.display()
                ));
                Ok(false)
            }
            Err(e) => {
                self.set(format!(
                    "the host key of {host}:{port} does not match {}: {e}",
                    kh.display()
                ));
                Ok(false)
            }
        }
    }
}

impl Client {
    fn set(&self, m: String) {
        if let Ok(mut v) = self.verdict.0.lock() {
            *v = Some(m);
        }
    }
}

struct Conn {
    _handle: Handle<Client>,
    sftp: SftpSession,
}

/// An SFTP destination.
pub struct Sftp {
    cfg: SftpConfig,
    rt: tokio::runtime::Runtime,
    conn: Option<Conn>,
}

fn sftp_err(what: &str, e: russh_sftp::client::error::Error) -> UploadError {
    use russh_sftp::client::error::Error as E;
    let m = format!("{what}: {e}");
    match &e {
        E::Status(s) => match s.status_code {
            StatusCode::PermissionDenied | StatusCode::NoSuchFile | StatusCode::OpUnsupported => {
                UploadError::permanent(m)
            }
            _ => UploadError::transient(m),
        },
        _ => UploadError::transient(m),
    }
}

fn is_missing(e: &russh_sftp::client::error::Error) -> bool {
    matches!(e, russh_sftp::client::error::Error::Status(s) if s.status_code == StatusCode::NoSuchFile)
}

impl Sftp {
    /// A destination that connects when first used.
    pub fn new(cfg: SftpConfig) -> Result<Sftp, UploadError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| UploadError::permanent(format!("starting the SSH runtime: {e}")))?;
        Ok(Sftp {
            cfg,
            rt,
            conn: None,
        })
    }

    fn path(&self, remote: &str) -> String {
        let base = self.cfg.base.trim_end_matches('/');
        if base.is_empty() {
            remote.to_string()
        } else {
            format!("{base}/{remote}")
        }
    }

    async fn connect(cfg: &SftpConfig) -> Result<Conn, UploadError> {
        let key = keys::load_secret_key(&cfg.key, None).map_err(|e| {
            UploadError::permanent(format!("reading the key {}: {e}", cfg.key.display()))
        })?;
        let verdict = KeyVerdict::default();
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(cfg.timeout.max(Duration::from_secs(1)) * 4),
            ..Default::default()
        });
        let handler = Client {
            cfg: cfg.clone(),
            verdict: verdict.clone(),
        };
        let addr = (cfg.host.as_str(), cfg.port);
        let there = format!("{}@{}:{}", cfg.user, cfg.host, cfg.port);
        let mut handle =
            match tokio::time::timeout(cfg.timeout, client::connect(config, addr, handler)).await {
                Err(_) => {
                    return Err(UploadError::transient(format!(
                        "connecting to {there}: timed out"
                    )))
                }
                Ok(Err(e)) => {
                    if let Some(m) = verdict.0.lock().ok().and_then(|v| v.clone()) {
                        return Err(UploadError::permanent(m));
                    }
                    return Err(UploadError::transient(format!(
                        "connecting to {there}: {e}"
                    )));
                }
                Ok(Ok(h)) => h,
            };
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(|e| UploadError::transient(format!("{there}: {e}")))?
            .flatten();
        let auth = handle
            .authenticate_publickey(&cfg.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(|e| UploadError::transient(format!("authenticating at {there}: {e}")))?;
        if !auth.success() {
            return Err(UploadError::permanent(format!(
                "{there} refused the key {} (permission denied)",
                cfg.key.display()
            )));
        }
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| UploadError::transient(format!("{there}: opening a channel: {e}")))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| UploadError::transient(format!("{there}: requesting SFTP: {e}")))?;
        let sftp = SftpSession::new(channel.into_stream())
            .await
            .map_err(|e| sftp_err(&format!("{there}: starting SFTP"), e))?;
        sftp.set_timeout(cfg.timeout.as_secs().max(1));
        Ok(Conn {
            _handle: handle,
            sftp,
        })
    }

    /// Runs `op` on a connection (made if needed) under the time limit; a transient
    /// failure drops the connection so the next operation connects again.
    fn with<T>(
        &mut self,
        what: &str,
        op: impl AsyncFnOnce(&SftpSession) -> Result<T, UploadError>,
    ) -> Result<T, UploadError> {
        let cfg = self.cfg.clone();
        let mut conn = self.conn.take();
        let r = self.rt.block_on(async {
            if conn.is_none() {
                conn = Some(Self::connect(&cfg).await?);
            }
            let c = conn
                .as_ref()
                .ok_or_else(|| UploadError::transient("no connection"))?;
            match tokio::time::timeout(cfg.timeout * 4, op(&c.sftp)).await {
                Ok(r) => r,
                Err(_) => Err(UploadError::transient(format!("{what}: timed out"))),
            }
        });
        match &r {
            Err(e) if e.is_transient() => self.conn = None,
            _ => self.conn = conn,
        }
        r
    }
}

impl Remote for Sftp {
    fn describe(&self) -> String {
        format!(
            "sftp://{}@{}:{}/{}",
            self.cfg.user,
            self.cfg.host,
            self.cfg.port,
            self.cfg.base.trim_start_matches('/')
        )
    }

    fn mkdir_all(&mut self, dir: &str) -> Result<(), UploadError> {
        let full = self.path(dir);
        self.with("creating directories", async move |s| {
            let mut at = String::new();
            for part in full.split('/') {
                if part.is_empty() {
                    if at.is_empty() {
                        at.push('/');
                    }
                    continue;
                }
                if !at.is_empty() && !at.ends_with('/') {
                    at.push('/');
                }
                at.push_str(part);
                match s.metadata(at.clone()).await {
                    Ok(_) => {}
                    Err(e) if is_missing(&e) => s
                        .create_dir(at.clone())
                        .await
                        .map_err(|e| sftp_err(&format!("creating {at}"), e))?,
                    Err(e) => return Err(sftp_err(&format!("reading {at}"), e)),
                }
            }
            Ok(())
        })
    }

    fn write(&mut self, local: &Path, remote: &str) -> Result<(), UploadError> {
        let to = self.path(remote);
        let local = local.to_path_buf();
        self.with("writing", async move |s| {
            let mut src = tokio::fs::File::open(&local)
                .await
                .map_err(|e| UploadError::from_io(&format!("reading {}", local.display()), &e))?;
            let mut dst = s
                .open_with_flags(
                    to.clone(),
                    OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
                )
                .await
                .map_err(|e| sftp_err(&format!("creating {to}"), e))?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = src.read(&mut buf).await.map_err(|e| {
                    UploadError::from_io(&format!("reading {}", local.display()), &e)
                })?;
                if n == 0 {
                    break;
                }
                dst.write_all(&buf[..n])
                    .await
                    .map_err(|e| UploadError::transient(format!("writing {to}: {e}")))?;
            }
            dst.flush()
                .await
                .map_err(|e| UploadError::transient(format!("writing {to}: {e}")))?;
            // fsync@openssh.com where the server has it.
            let _ = dst.sync_all().await;
            dst.shutdown()
                .await
                .map_err(|e| UploadError::transient(format!("closing {to}: {e}")))
        })
    }

    fn size(&mut self, remote: &str) -> Result<Option<u64>, UploadError> {
        let p = self.path(remote);
        self.with("reading a size", async move |s| {
            match s.metadata(p.clone()).await {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if is_missing(&e) => Ok(None),
                Err(e) => Err(sftp_err(&format!("reading {p}"), e)),
            }
        })
    }

    fn sha256(&mut self, remote: &str) -> Result<String, UploadError> {
        let p = self.path(remote);
        self.with("reading back", async move |s| {
            let mut f = s
                .open_with_flags(p.clone(), OpenFlags::READ)
                .await
                .map_err(|e| sftp_err(&format!("opening {p}"), e))?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = f
                    .read(&mut buf)
                    .await
                    .map_err(|e| UploadError::transient(format!("reading {p}: {e}")))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Ok(hex(&h.finalize()))
        })
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), UploadError> {
        let (a, b) = (self.path(from), self.path(to));
        self.with("renaming", async move |s| {
            // Plain SFTP rename refuses to replace: remove what is in the way first.
            match s.remove_file(b.clone()).await {
                Ok(()) => {}
                Err(e) if is_missing(&e) => {}
                Err(e) => return Err(sftp_err(&format!("replacing {b}"), e)),
            }
            s.rename(a.clone(), b.clone())
                .await
                .map_err(|e| sftp_err(&format!("renaming {a} to {b}"), e))
        })
    }
}
