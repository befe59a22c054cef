//! Restarting a serial reader after kill -9 on a pseudo-terminal (as an unprivileged user,
//! since root ignores TIOCEXCL): an exclusive reader leaves the TIOCEXCL flag on the pty, so
//! the next exclusive open fails with EBUSY: the source reports it and keeps retrying
//! instead of failing. With `exclusive = false` a killed reader leaves nothing behind and
//! the next one opens at once.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use crate::util::{flow_bin, Running, Sandbox};

/// Starts `flow run FG` as user and group 65534 (nobody). The binary is run from the
/// sandbox (made readable by all), since nobody may not traverse the build directory (a
/// checkout under a private home, or in a 0700 temporary directory).
fn run_as_nobody(s: &Sandbox, fg: &std::path::Path, tag: &str) -> Running {
    let bin = s.path().join("flow");
    if !bin.exists() {
        std::fs::hard_link(flow_bin(), &bin)
            .or_else(|_| std::fs::copy(flow_bin(), &bin).map(drop))
            .expect("place the flow binary in the sandbox");
    }
    let mut cmd = std::process::Command::new(&bin);
    cmd.current_dir(s.path())
        .stdin(std::process::Stdio::null())
        .args(["run", fg.to_str().unwrap()]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    s.spawn_with(&mut cmd, tag)
}

fn wait_for(what: &str, run: &Running, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            run.err()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn a_stale_tiocexcl_is_retried_and_exclusive_false_leaves_none() {
    let s = Sandbox::new();
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut pty = flow_blocks::instrument::pty::Pty::open().unwrap();
    std::fs::set_permissions(&pty.path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let fg = |name: &str, exclusive: bool| {
        s.write(
            &format!("{name}.toml"),
            &format!(
                "[blocks.meter]\ntype = \"serial_source\"\nport = {:?}\nexclusive = {exclusive}\nreconnect_max = \"200ms\"\n\
                 [blocks.log]\ntype = \"message_sink\"\ninputs = [\"meter\"]\npath = \"{name}.jsonl\"\n",
                pty.path.to_str().unwrap()
            ),
        )
    };
    // 1. An exclusive reader reads, then is killed with -9.
    let mut a = run_as_nobody(&s, &fg("a", true), "a");
    pty.master.write_all(b"one\n").unwrap();
    wait_for("the first reader", &a, || {
        lines(&s.path().join("a.jsonl")) == 1
    });
    a.child.kill().unwrap();
    a.child.wait().unwrap();

    // 2. The next exclusive reader meets EBUSY: reported, retried, not fatal.
    let mut b = run_as_nobody(&s, &fg("b", true), "b");
    wait_for("the EBUSY report", &b, || {
        b.err().contains("Device or resource busy")
    });
    assert!(
        b.child.try_wait().unwrap().is_none(),
        "the source gave up: {}",
        b.err()
    );
    b.child.kill().unwrap();
    b.child.wait().unwrap();

    // 3. Clear the stale flag (root may); with exclusive = false nothing is left behind.
    // SAFETY: TIOCNXCL takes no argument; the descriptor is the pty's slave.
    assert_eq!(
        unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCNXCL) },
        0
    );
    let mut c = run_as_nobody(&s, &fg("c", false), "c");
    pty.master.write_all(b"two\n").unwrap();
    wait_for("the shared reader", &c, || {
        lines(&s.path().join("c.jsonl")) == 1
    });
    c.child.kill().unwrap();
    c.child.wait().unwrap();
    let mut d = run_as_nobody(&s, &fg("d", false), "d");
    pty.master.write_all(b"three\n").unwrap();
    wait_for("the restarted shared reader", &d, || {
        lines(&s.path().join("d.jsonl")) == 1
    });
    assert!(!d.err().contains("busy"), "{}", d.err());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(d.child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(d.wait(Duration::from_secs(20)).success(), "{}", d.err());
    assert!(std::fs::read_to_string(s.path().join("d.jsonl"))
        .unwrap()
        .contains("\"line\":\"three\""));
}
