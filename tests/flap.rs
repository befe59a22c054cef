//! An interface flap under a running recorder, in a network namespace of its own (`unshare
//! -rn`: an unprivileged user and network namespace; `nsenter` runs each process in it): the
//! multicast interface is deleted and created again (a new index, as a USB adapter or a
//! VPN gives), which silently drops the recorder's group membership. `rtp_source` notices
//! the silence, rejoins the group on the new interface, and the recording continues after
//! one gap. Needs util-linux (`unshare`, `nsenter`), iproute2 (`ip`), veth, and user
//! namespaces (or root).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::upstream::{archived, written};
use crate::util::{flow_bin, signal, Sandbox};

const RATE: u64 = 8000;
const GROUP: &str = "239.77.0.9";

/// A process holding a new user and network namespace.
struct Netns(Child);

impl Netns {
    fn new() -> Netns {
        let own = std::fs::read_link("/proc/self/ns/net").expect("own netns");
        let child = Command::new("unshare")
            .args(["-rn", "--", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux) must be installed");
        let ns = Netns(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_link(format!("/proc/{}/ns/net", ns.0.id())).ok() == Some(own.clone()) {
            assert!(
                Instant::now() < deadline,
                "unshare -rn made no network namespace: this test needs user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu kernel.apparmor_restrict_unprivileged_userns=0) or root"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        ns
    }

    /// A command run inside the namespace.
    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new("nsenter");
        c.args([
            "-t",
            &self.0.id().to_string(),
            "-U",
            "-n",
            "--preserve-credentials",
            "--",
        ])
        .arg(program)
        .stdin(Stdio::null());
        c
    }

    /// Runs `ip ARGS` inside; panics if it fails.
    fn ip(&self, args: &str) {
        let out = self
            .cmd(Path::new("ip"))
            .args(args.split_whitespace())
            .output()
            .expect("ip (iproute2) must be installed");
        assert!(
            out.status.success(),
            "ip {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The interface `flowt0` (10.77.0.1/24, a veth), created anew.
    fn create_interface(&self) {
        self.ip("link add flowt0 type veth peer name flowt1");
        self.ip("addr add 10.77.0.1/24 dev flowt0");
        self.ip("link set flowt1 up");
        self.ip("link set flowt0 up");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(ns: &Netns, s: &Sandbox, fg: &Path, tag: &str) -> Child {
    ns.cmd(&flow_bin())
        .current_dir(s.path())
        .args(["run", fg.to_str().expect("path")])
        .stdout(std::fs::File::create(s.path().join(format!("{tag}.out"))).expect("out"))
        .stderr(std::fs::File::create(s.path().join(format!("{tag}.err"))).expect("err"))
        .spawn()
        .expect("spawn flow in the namespace")
}

fn wait_samples(s: &Sandbox, dir: &Path, n: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(40);
    let log = |f: &str| std::fs::read_to_string(s.path().join(f)).unwrap_or_default();
    while archived(dir) < n {
        assert!(
            Instant::now() < deadline,
            "{what}: the archive never reached {n} samples ({})\nrecorder:\n{}\nsender:\n{}",
            archived(dir),
            log("recorder.err"),
            log("radiod.err")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_group_is_rejoined_after_the_interface_is_created_again() {
    let s = Sandbox::new();
    let ns = Netns::new();
    ns.ip("link set lo up");
    ns.create_interface();
    let rec = s.write(
        "rec.toml",
        &format!(
            "[blocks.rx]\ntype = \"rtp_source\"\naddress = \"{GROUP}:15010\"\nstatus = \"{GROUP}:15011\"\n\
             interface = \"flowt0\"\nchannels = [{{ ssrc = 10000, name = \"C\" }}]\n\
             stale_after = \"1s\"\nrejoin_every = \"500ms\"\nbuffer = 400000\n\
             [blocks.archive]\ntype = \"binary_archive\"\ninputs = [\"rx.C\"]\ndir = \"raw\"\nchannel = \"C\"\nfsync = \"never\"\n"
        ),
    );
    let send = s.write(
        "radiod.toml",
        &format!(
            "[blocks.sim]\ntype = \"wwv_sim\"\nsample_rate = {RATE}.0\nstations = [{{ station = \"WWV\", snr_db = 10.0 }}]\n\
             [blocks.radiod]\ntype = \"rtp_sink\"\ninputs = [\"sim\"]\naddress = \"{GROUP}:15010\"\nstatus = \"{GROUP}:15011\"\n\
             interface = \"10.77.0.1\"\nssrc = 10000\nencoding = \"f32le\"\nrealtime = true\n"
        ),
    );
    let mut recorder = spawn(&ns, &s, &rec, "recorder");
    let dir = s.path().join("raw/C");
    // Whatever the sender sends before the recorder has joined is simply not recorded.
    let mut sender = spawn(&ns, &s, &send, "radiod");
    wait_samples(&s, &dir, 2 * RATE, "before the flap");
    // The flap: the interface goes away for a moment and comes back as a new one (a new
    // index).
    ns.ip("link del flowt0");
    std::thread::sleep(Duration::from_millis(1500));
    ns.create_interface();
    let after = archived(&dir);
    wait_samples(
        &s,
        &dir,
        after + 2 * RATE,
        "after the flap (the group must be rejoined)",
    );
    assert!(
        recorder.try_wait().expect("wait").is_none(),
        "the recorder keeps running"
    );
    signal(recorder.id(), 2);
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorder.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the recorder did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = sender.kill();
    let _ = sender.wait();
    let out = std::fs::read_to_string(s.path().join("recorder.out")).unwrap_or_default();
    let err = std::fs::read_to_string(s.path().join("recorder.err")).unwrap_or_default();
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some("rx"))
        .unwrap_or_else(|| panic!("no rx line:\n{out}\n{err}"));
    let counter = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            .replace(',', "")
            .parse()
            .expect("number")
    };
    assert!(counter("rejoins") >= 1, "{line}");
    assert!(counter("silences") >= 1, "{line}");
    assert_eq!(
        line.split_whitespace().nth(6),
        Some("0"),
        "no restart: {line}"
    );
    assert!(err.contains("data flows again"), "{err}");
    // The archive: the flap is one gap, and the recording continues after it.
    let w = written(&dir);
    assert_eq!(w.len(), 2, "one gap: {w:?}");
    assert!(w[1].1 - w[1].0 >= 2 * RATE, "{w:?}");
}
