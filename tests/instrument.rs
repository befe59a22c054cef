//! The shipped instrument flowgraph end to end: a test-driven pseudo-terminal plays the
//! meter, `flow run flowgraphs/instrument.toml` stores the readings in SQLite, and the
//! `sqlite3` command-line tool reads them back; malformed lines are counted and logged with
//! their bytes escaped.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::util::Sandbox;

fn sqlite3(db: &std::path::Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .args(["-separator", ","])
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 command-line tool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_instrument_flowgraph_stores_meter_readings_in_sqlite() {
    let s = Sandbox::new();
    let mut pty = flow_blocks::instrument::pty::Pty::open().unwrap();
    let db = s.path().join("meter.sqlite");
    let fg = concat!(env!("CARGO_MANIFEST_DIR"), "/flowgraphs/instrument.toml");
    let mut run = s.spawn_with(
        s.flow()
            .args(["run", fg, "--set", "blocks.meter.exclusive=false"])
            .env("METER_PORT", &pty.path)
            .env("METER_DB", &db)
            .env("METER_DEVICE", "test meter"),
        "run",
    );
    pty.master
        .write_all(b"1.5 V\r\n2.5mV\r\nbad\xff line\r\nOVERLOAD\r\n-3e-2 A\r\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = || {
        rusqlite::Connection::open(&db)
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM measurement", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .unwrap_or(0)
    };
    while rows() < 3 {
        assert!(
            Instant::now() < deadline,
            "rows did not arrive:\n{}",
            run.err()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = run.wait(Duration::from_secs(30));
    assert!(status.success(), "{}", run.err());
    assert_eq!(
        sqlite3(
            &db,
            "SELECT seq, value, unit FROM measurement ORDER BY _rec;"
        ),
        "0,1.5,V\n1,2.5,mV\n2,-0.03,A\n"
    );
    let session = sqlite3(
        &db,
        "SELECT status, json_extract(metadata, '$.device'), end_ns >= start_ns FROM sessions;",
    );
    assert_eq!(session, "stopped,test meter,1\n");
    let err = run.err();
    // The first malformed line is logged with its bytes escaped (CR included, as the
    // terminator is LF); the second is counted within the rate limit.
    assert!(
        err.contains(r#"malformed input: not UTF-8 text"#) && err.contains(r#": "bad\xff line\r""#),
        "malformed bytes not escaped in the log:\n{err}"
    );
    let out = run.out();
    assert!(
        out.lines()
            .any(|l| l.starts_with("meter") && l.contains("malformed=2") && l.contains("frames=3")),
        "{out}"
    );
}
