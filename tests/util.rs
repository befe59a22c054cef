//! Helpers for the end-to-end tests: a temporary directory per test, writing flowgraph
//! files into it, and running the `flow` binary with a time limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

impl Default for TempDirHolder {
    fn default() -> Self {
        TempDirHolder(tempfile::tempdir().expect("temporary directory"))
    }
}

/// A temporary directory removed on drop.
struct TempDirHolder(tempfile::TempDir);

/// A temporary directory with the `flow` binary at hand.
#[derive(Default)]
pub struct Sandbox {
    dir: TempDirHolder,
}

impl Sandbox {
    /// A fresh directory.
    pub fn new() -> Self {
        Sandbox::default()
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.0.path()
    }

    /// Writes `text` to `name` in the sandbox and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.0.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// A `flow` command running in the sandbox.
    pub fn flow(&self) -> Command {
        let mut c = Command::new(flow_bin());
        c.current_dir(self.dir.0.path()).stdin(Stdio::null());
        c
    }

    /// Runs `flow ARGS` with extra environment variables to completion (at most `limit`).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
        let mut cmd = self.flow();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_with_limit(&mut cmd, limit)
    }

    /// Runs `flow ARGS` to completion (at most `limit`) and returns its output.
    pub fn run(&self, args: &[&str], limit: Duration) -> Output {
        run_with_limit(self.flow().args(args), limit)
    }
}

/// Path of the `flow` binary built for these tests.
pub fn flow_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_flow"))
}

/// Runs a command, killing it if it runs longer than `limit` (then panics). Its output is
/// read while it runs, so a chatty command never blocks on a full pipe.
pub fn run_with_limit(cmd: &mut Command, limit: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(status) => break status,
            None if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                let out = out_reader.join().unwrap_or_default();
                let err = err_reader.join().unwrap_or_default();
                panic!(
                    "command ran longer than {limit:?}\nstdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&err)
                );
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind a UDP port")
}

/// Waits (at most 30 s) until some process has bound UDP `port` on 127.0.0.1: binding it
/// ourselves then fails with "address in use".
pub fn wait_udp_bound(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "nothing bound UDP port {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends signal `sig` to process `pid`.
pub fn signal(pid: u32, sig: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: kill(2) with a pid we spawned and a signal number.
    let rc = unsafe { kill(pid as i32, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// Waits (at most `limit`) for a child to exit; kills it and panics after that.
pub fn wait_child(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `python3 -c SCRIPT ARGS...` and returns its standard output; panics (with the
/// script's error) if it fails. Tests that need numpy, sigmf, ... fail when they are missing.
pub fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 must be installed for this test");
    assert!(
        out.status.success(),
        "python3 failed (install the packages with `pip install numpy sigmf`):\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// A `flow run` child process killed on drop, with its output in files of the sandbox.
pub struct Running {
    /// The process.
    pub child: std::process::Child,
    /// Where its standard output goes.
    pub stdout: PathBuf,
    /// Where its standard error goes.
    pub stderr: PathBuf,
}

impl Sandbox {
    /// Starts `flow ARGS` in the background, output to `<tag>.out` / `<tag>.err`.
    pub fn spawn(&self, args: &[&str], tag: &str) -> Running {
        self.spawn_with(self.flow().args(args), tag)
    }

    /// Starts a prepared `flow` command in the background (see [`Sandbox::spawn`]).
    pub fn spawn_with(&self, cmd: &mut Command, tag: &str) -> Running {
        let stdout = self.path().join(format!("{tag}.out"));
        let stderr = self.path().join(format!("{tag}.err"));
        let child = cmd
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn flow");
        Running {
            child,
            stdout,
            stderr,
        }
    }
}

impl Running {
    /// Waits up to `limit` for the process to exit; panics (after killing it) if it does not.
    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("flow ran longer than {limit:?}; stderr:\n{}", self.err());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its standard output so far.
    pub fn out(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Its standard error so far.
    pub fn err(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
