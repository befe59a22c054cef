//! `flow upload` end to end: files queued and uploaded to a directory and to a real SFTP
//! server (OpenSSH on loopback), verified, then confirmed locally; a server that is down at
//! first is retried until it is up, and nothing is confirmed before verification; a
//! refused key is a permanent error, reported and never confirmed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::sshd::{user, Sshd};
use crate::util::{stderr, stdout, Sandbox};

/// Three "rotated day files" of a sink, as the data to upload.
fn data(s: &Sandbox) -> PathBuf {
    let dir = s.path().join("10hz");
    std::fs::create_dir_all(&dir).expect("data dir");
    for (k, n) in [(1u8, 1000), (2, 5000), (3, 70_000)] {
        std::fs::write(dir.join(format!("WWV-2025120{k}T000000Z.c32")), vec![k; n])
            .expect("data file");
    }
    dir
}

fn confirmed(dir: &Path) -> Vec<String> {
    flow_blocks::util::retention::confirm::read(dir)
        .expect("read marker")
        .map(|c| c.names.into_iter().collect())
        .unwrap_or_default()
}

fn config(s: &Sandbox, upload: &str) -> PathBuf {
    s.write(
        "upload.toml",
        &format!("work_dir = \"work\"\n[upload]\n{upload}\nattempts = 30\nbackoff = \"200ms\"\nmax_backoff = \"1s\"\ntimeout = \"5s\"\n"),
    )
}

fn sftp_upload(sshd: &Sshd, remote: &Path, key: &str) -> String {
    format!(
        "target = \"sftp://{}@127.0.0.1:{}{}\"\nkey = \"{}\"\nknown_hosts = \"{}\"",
        user(),
        sshd.port,
        remote.display(),
        sshd.file(key).display(),
        sshd.file("known_hosts").display()
    )
}

#[test]
fn files_go_to_a_directory_verified_and_are_confirmed_after() {
    let s = Sandbox::new();
    let dir = data(&s);
    let cfg = config(&s, "target = \"remote\"");
    let out = s.run(
        &[
            "upload",
            cfg.to_str().expect("path"),
            "--add",
            dir.to_str().expect("path"),
            "--remote-dir",
            "station1",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("uploaded 3 file(s)"),
        "{}",
        stdout(&out)
    );
    for k in 1..=3 {
        let name = format!("WWV-2025120{k}T000000Z.c32");
        assert_eq!(
            std::fs::read(s.path().join("remote/station1/10hz").join(&name)).expect("uploaded"),
            std::fs::read(dir.join(&name)).expect("local")
        );
    }
    assert_eq!(confirmed(&dir).len(), 3);
    let st = s.run(
        &["upload", cfg.to_str().expect("path"), "--status"],
        Duration::from_secs(30),
    );
    assert_eq!(st.status.code(), Some(0), "{}", stdout(&st));
    assert!(stdout(&st).contains("done"), "{}", stdout(&st));
}

#[test]
fn a_server_down_at_first_is_retried_and_nothing_is_confirmed_before_verification() {
    let s = Sandbox::new();
    let dir = data(&s);
    let remote = s.path().join("server/incoming");
    std::fs::create_dir_all(&remote).expect("remote dir");
    let mut sshd = Sshd::prepare(&s.path().join("sshd"));
    let cfg = config(&s, &sftp_upload(&sshd, &remote, "client_key"));
    // The server is down: the upload fails, transiently, and keeps trying.
    let child = s
        .flow()
        .args([
            "upload",
            cfg.to_str().expect("path"),
            "--add",
            dir.to_str().expect("path"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flow upload");
    let queue = s.path().join("work/queue.sqlite");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempts: i64 = rusqlite::Connection::open(&queue)
            .ok()
            .and_then(|c| {
                c.query_row("SELECT COALESCE(MAX(attempts), 0) FROM files", [], |r| {
                    r.get(0)
                })
                .ok()
            })
            .unwrap_or(0);
        if attempts >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "flow upload never tried");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        confirmed(&dir).is_empty(),
        "nothing is confirmed while the server is down"
    );
    sshd.start();
    let out = wait_output(child, Duration::from_secs(60));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("uploaded 3 file(s)"), "{text}");
    let mut got = confirmed(&dir);
    got.sort();
    assert_eq!(got.len(), 3, "{got:?}");
    for k in 1..=3 {
        let name = format!("WWV-2025120{k}T000000Z.c32");
        assert_eq!(
            std::fs::read(remote.join("10hz").join(&name)).expect("on the server"),
            std::fs::read(dir.join(&name)).expect("local")
        );
        assert!(!remote.join("10hz").join(format!("{name}.part")).exists());
    }
}

#[test]
fn a_refused_key_is_a_permanent_error_reported_and_never_confirmed() {
    let s = Sandbox::new();
    let dir = data(&s);
    let remote = s.path().join("server/incoming");
    std::fs::create_dir_all(&remote).expect("remote dir");
    let mut sshd = Sshd::prepare(&s.path().join("sshd"));
    sshd.start();
    let cfg = config(&s, &sftp_upload(&sshd, &remote, "stranger_key"));
    let started = Instant::now();
    let out = s.run(
        &[
            "upload",
            cfg.to_str().expect("path"),
            "--add",
            dir.to_str().expect("path"),
        ],
        Duration::from_secs(60),
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("refused the key") && text.contains("permission denied"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "not retried 30 times: {text}"
    );
    assert!(confirmed(&dir).is_empty());
    assert_eq!(std::fs::read_dir(&remote).expect("remote").count(), 0);
    let st = s.run(
        &["upload", cfg.to_str().expect("path"), "--status"],
        Duration::from_secs(30),
    );
    assert_eq!(st.status.code(), Some(2));
    assert!(
        stdout(&st).contains("failed") && stdout(&st).contains("refused the key"),
        "{}",
        stdout(&st)
    );
}

/// Waits (at most `limit`) for a spawned child and returns its output.
fn wait_output(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "flow ran longer than {limit:?}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}
