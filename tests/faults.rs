//! Fault injection: a sink whose writes fail keeps the failure to itself (per its
//! `on_error`), its siblings keep all their data, and the failure shows in the summary and
//! the log; a sink made slow on purpose with `drop_oldest` costs neither a lossless sibling
//! nor the live source anything.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::Sandbox;

/// The summary row of block `name`.
fn summary_row<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no summary row for `{name}` in:\n{out}"))
}

#[test]
fn a_file_sink_on_a_full_disk_fails_alone() {
    let s = Sandbox::new();
    let data: Vec<u8> = (0..300_000i32).flat_map(i32::to_le_bytes).collect();
    std::fs::write(s.path().join("in.i32"), &data).unwrap();
    let fg = s.write(
        "fg.toml",
        "[blocks.src]\ntype = \"file_source\"\npath = \"in.i32\"\nitem = \"i32\"\n\
         [blocks.full]\ntype = \"file_sink\"\ninputs = [\"src\"]\npath = \"/dev/full\"\nmode = \"append\"\non_error = \"stop\"\n\
         [blocks.good]\ntype = \"file_sink\"\ninputs = [\"src\"]\npath = \"good.i32\"\n",
    );
    let mut run = s.spawn(&["run", fg.to_str().unwrap()], "run");
    let status = run.wait(Duration::from_secs(60));
    assert_eq!(
        status.code(),
        Some(1),
        "a failed block makes the exit code 1"
    );
    assert_eq!(
        std::fs::read(s.path().join("good.i32")).unwrap(),
        data,
        "the sibling lost data"
    );
    let out = run.out();
    assert!(summary_row(&out, "full").contains("failed"), "{out}");
    assert!(summary_row(&out, "good").contains("done"), "{out}");
    assert!(
        run.err().contains("No space left on device"),
        "{}",
        run.err()
    );
}

#[test]
fn a_message_sink_that_cannot_write_restarts_while_its_sibling_keeps_everything() {
    let s = Sandbox::new();
    let fg = s.write(
        "fg.toml",
        "[flowgraph]\nmessage_queue = 64\n[blocks.src]\ntype = \"message_strobe\"\ncount = 20000\n\
         [blocks.full]\ntype = \"message_sink\"\ninputs = [\"src\"]\npath = \"/dev/full\"\non_error = \"restart\"\npolicy = \"drop_oldest\"\n\
         [blocks.good]\ntype = \"message_sink\"\ninputs = [\"src\"]\npath = \"good.jsonl\"\n",
    );
    let mut run = s.spawn(&["run", fg.to_str().unwrap()], "run");
    let status = run.wait(Duration::from_secs(120));
    let out = run.out();
    assert!(
        status.success(),
        "restarting is not failing:\n{out}{}",
        run.err()
    );
    let text = std::fs::read_to_string(s.path().join("good.jsonl")).unwrap();
    let seqs: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        seqs,
        (0..20000).collect::<Vec<_>>(),
        "the sibling lost or repeated messages"
    );
    let row: Vec<&str> = summary_row(&out, "full").split_whitespace().collect();
    let restarts: u64 = row[6].replace(',', "").parse().unwrap();
    assert!(restarts >= 1, "{out}");
    assert!(
        run.err().contains("No space left on device"),
        "{}",
        run.err()
    );
}

#[test]
fn an_sqlite_sink_past_the_file_size_limit_fails_alone() {
    let s = Sandbox::new();
    let fg = s.write(
        "fg.toml",
        "[blocks.src]\ntype = \"message_strobe\"\ncount = 50000\n\
         [blocks.db]\ntype = \"sqlite\"\ninputs = [\"src\"]\npath = \"db.sqlite\"\non_error = \"stop\"\n\
         [blocks.log]\ntype = \"message_sink\"\ninputs = [\"src\"]\n",
    );
    // Every regular file of the process may grow to 256 KiB only; writes past it fail with
    // EFBIG (SIGXFSZ ignored). The sibling writes to a pipe, which has no such limit.
    let mut cmd = s.flow();
    cmd.args(["run", fg.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 256 << 10,
                rlim_max: 256 << 10,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0
                || libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    let out = reader.join().unwrap().unwrap();
    assert_eq!(status.code(), Some(1), "{out}{stderr}");
    let seqs: Vec<u64> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        seqs,
        (0..50000).collect::<Vec<_>>(),
        "the sibling lost or repeated messages"
    );
    assert!(summary_row(&out, "db").contains("failed"), "{out}");
    assert!(stderr.contains("File too large"), "{stderr}");
    // What the failed sink stored is readable, and its journal is kept for the next start.
    let check = std::process::Command::new("sqlite3")
        .arg(s.path().join("db.sqlite"))
        .arg("PRAGMA integrity_check;")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
}

#[test]
fn a_slow_sink_never_costs_a_lossless_sibling_or_the_live_source() {
    const N: u64 = 50_000;
    let s = Sandbox::new();
    let mut pty = flow_blocks::instrument::pty::Pty::open().unwrap();
    let fifo = s.path().join("slow.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fg = s.write(
        "fg.toml",
        &format!(
            "[blocks.meter]\ntype = \"serial_source\"\nport = {:?}\nexclusive = false\nparse = \"csv\"\nfields = [{{ name = \"n\", type = \"i64\" }}]\n\
             [blocks.db]\ntype = \"sqlite\"\ninputs = [\"meter\"]\npath = \"db.sqlite\"\n\
             [blocks.slow]\ntype = \"message_sink\"\ninputs = [\"meter\"]\npath = \"slow.fifo\"\npolicy = \"drop_oldest\"\n",
            pty.path.to_str().unwrap()
        ),
    );
    let mut run = s.spawn(&["run", fg.to_str().unwrap()], "run");
    // Nobody reads the FIFO yet, so `slow` blocks in its writes once 64 KiB are queued.
    let mut text = Vec::new();
    for n in 0..N {
        writeln!(text, "{n}").unwrap();
    }
    pty.master.write_all(&text).unwrap();
    let db = s.path().join("db.sqlite");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows: i64 = rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM measurement", [], |r| r.get(0)))
            .unwrap_or(0);
        if rows as u64 == N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {rows} of {N} rows arrived:\n{}",
            run.err()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let drain = std::thread::spawn(move || {
        let mut f = std::fs::File::open(fifo).unwrap();
        let mut sink = Vec::new();
        f.read_to_end(&mut sink).map(|_| sink.len())
    });
    let status = run.wait(Duration::from_secs(60));
    assert!(status.success(), "{}{}", run.out(), run.err());
    assert!(drain.join().unwrap().unwrap() > 0);
    let c = rusqlite::Connection::open(&db).unwrap();
    let mut st = c
        .prepare("SELECT n, seq FROM measurement ORDER BY _rec")
        .unwrap();
    let rows: Vec<(i64, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len() as u64, N);
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, (n, seq))| *n == i as i64 && *seq == i as i64),
        "rows out of order or lost"
    );
    let out = run.out();
    let meter: Vec<&str> = summary_row(&out, "meter").split_whitespace().collect();
    assert!(
        meter.contains(&"malformed=0")
            && meter
                .contains(&format!("frames={}", flow_framework::log::group_thousands(N)).as_str()),
        "{out}"
    );
    let dropped: u64 = meter[4].replace(',', "").parse().unwrap();
    assert!(
        dropped > 0,
        "the slow sink was not slow enough to drop anything:\n{out}"
    );
    assert!(
        summary_row(&out, "db")
            .contains(&format!("rows={}", flow_framework::log::group_thousands(N))),
        "{out}"
    );
}
