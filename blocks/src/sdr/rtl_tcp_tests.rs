//! Tests of `rtl_tcp_source` against a small rtl_tcp server on 127.0.0.1 written here: the
//! greeting, every command byte checked, the cu8 stream, and a disconnect mid-stream that
//! must end in a reconnection, a gap of the time away, and degraded health meanwhile.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use crate::sdr::rtl_tcp_protocol::{Command, Greeting};
use flow_framework::harness::Harness;
use flow_framework::metrics::Health;

/// What the test server saw and did.
struct Session {
    commands: Vec<u8>,
}

/// Serves two sessions: the first sends `first` and closes; the second starts when the
/// test says so, sends `second` and stays open until the test ends.
fn server(
    listener: TcpListener,
    want_commands: usize,
    first: Vec<u8>,
    second: Vec<u8>,
    go_second: mpsc::Receiver<()>,
    done: mpsc::Receiver<()>,
) -> std::thread::JoinHandle<Result<Vec<Session>, String>> {
    std::thread::spawn(move || {
        let greeting = Greeting {
            tuner_type: 5,
            gain_count: 29,
        }
        .encode();
        let mut sessions = Vec::new();
        for (k, data) in [first, second].into_iter().enumerate() {
            if k == 1 {
                go_second
                    .recv_timeout(Duration::from_secs(20))
                    .map_err(|e| e.to_string())?;
            }
            let (mut s, _) = listener.accept().map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(|e| e.to_string())?;
            s.write_all(&greeting).map_err(|e| e.to_string())?;
            let mut commands = vec![0u8; want_commands];
            s.read_exact(&mut commands).map_err(|e| e.to_string())?;
            s.write_all(&data).map_err(|e| e.to_string())?;
            sessions.push(Session { commands });
            if k == 1 {
                let _ = done.recv_timeout(Duration::from_secs(20));
            }
            // Dropping the stream closes it: a disconnect mid-stream after the first session.
        }
        Ok(sessions)
    })
}

fn params(port: u16) -> RtlTcpSourceParams {
    toml::from_str(&format!(
        "address = \"127.0.0.1:{port}\"\nfrequency = 100e6\nsample_rate = 10000.0\n\
         gain_db = 49.6\nppm = -3\nbias_tee = true\nreconnect_min = 0.1"
    ))
    .unwrap()
}

/// Runs the source until `done` holds or 10 s pass.
fn run_until(h: &mut Harness, mut done: impl FnMut(&Harness) -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !done(h) {
        assert!(Instant::now() < end, "timed out");
        h.run_for(Duration::from_millis(10));
    }
}

#[test]
fn tunes_streams_and_reconnects_with_a_gap_after_a_disconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let first: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let second: Vec<u8> = (0..6_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let expected: Vec<u8> = [
        Command::SampleRate(10_000),
        Command::Frequency(100_000_000),
        Command::FreqCorrection(-3),
        Command::ManualGain(true),
        Command::Gain(496),
        Command::Agc(false),
        Command::BiasTee(true),
    ]
    .iter()
    .flat_map(|c| c.encode())
    .collect();
    // Byte by byte, as the server must see them.
    assert_eq!(
        &expected[..10],
        &[0x02, 0, 0, 0x27, 0x10, 0x01, 0x05, 0xf5, 0xe1, 0x00]
    );
    let (go_tx, go_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let srv = server(
        listener,
        expected.len(),
        first.clone(),
        second.clone(),
        go_rx,
        done_rx,
    );

    let mut h = Harness::of::<RtlTcpSourceDef>(params(port), &[]).unwrap();
    // First session: all of `first`, then the server hangs up.
    run_until(&mut h, |h| {
        h.output::<C32>(0).len() == first.len() / 2 && h.counter("disconnects") == 1
    });
    let (health, reason) = h.metrics().health();
    assert_eq!(health, Health::Degraded, "{reason}");
    go_tx.send(()).unwrap();
    run_until(&mut h, |h| {
        h.output::<C32>(0).len() == (first.len() + second.len()) / 2
    });
    assert_eq!(h.metrics().health().0, Health::Ok);
    done_tx.send(()).unwrap();
    h.request_stop();
    h.run_for(Duration::from_millis(50));

    let sessions = srv.join().unwrap().unwrap();
    assert_eq!(sessions.len(), 2);
    for s in &sessions {
        assert_eq!(s.commands, expected);
    }
    let mut want = Vec::new();
    let conv = Cu8Converter::default();
    conv.convert(&first, &mut want);
    conv.convert(&second, &mut want);
    assert_eq!(h.output::<C32>(0), want);

    let tags = h.output_tags(0);
    let at = |pos: u64| -> Vec<&Tag> {
        tags.iter()
            .filter(|t| t.position == pos)
            .map(|t| &t.tag)
            .collect()
    };
    let start = at(0);
    assert!(start.contains(&&Tag::Rate(10_000.0)));
    assert!(start.contains(&&Tag::Freq(100e6)));
    assert!(start.iter().any(|t| matches!(
        t,
        Tag::Time {
            source: TimeSource::SystemClock,
            ..
        }
    )));
    let resume = at(10_000);
    let gap = resume
        .iter()
        .find_map(|t| if let Tag::Gap(n) = t { Some(*n) } else { None })
        .expect("a gap where the data resumes");
    // Away at least the 0.1 s backoff (1000 samples at 10 kHz), at most the test's span.
    assert!((1_000..100_000).contains(&gap), "gap {gap}");
    assert_eq!(h.counter("samples_lost"), gap);
    assert!(resume.iter().any(|t| matches!(t, Tag::Time { .. })));
    assert_eq!(h.counter("samples"), 13_000);
    assert_eq!(h.counter("disconnects"), 1);
}

#[test]
fn a_server_that_is_not_rtl_tcp_leaves_the_source_degraded() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let srv = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"SSH-2.0-Open").unwrap();
        std::thread::sleep(Duration::from_millis(300));
    });
    let mut h = Harness::of::<RtlTcpSourceDef>(params(port), &[]).unwrap();
    run_until(&mut h, |h| h.metrics().health().0 == Health::Degraded);
    assert!(
        h.metrics().health().1.contains("not an rtl_tcp server"),
        "{}",
        h.metrics().health().1
    );
    assert!(h.output::<C32>(0).is_empty());
    h.request_stop();
    h.run_for(Duration::from_millis(20));
    srv.join().unwrap();
}

#[test]
fn validation_rejects_impossible_settings() {
    let mut p = params(1);
    p.frequency = 5e9;
    p.direct_sampling = Some(3);
    p.reconnect_max = 0.01;
    let e = RtlTcpSourceDef::validate(&p);
    let names: Vec<&str> = e.iter().map(|e| e.param.as_str()).collect();
    assert_eq!(names, ["frequency", "direct_sampling", "reconnect_max"]);
}

#[test]
fn frequency_gain_and_ppm_change_while_running() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let initial = super::super::rtl_tcp_connect::commands(&params(port)).len() * 5;
    let changes: Vec<u8> = [
        Command::Frequency(101_500_000),
        Command::ManualGain(true),
        Command::Gain(200),
        Command::FreqCorrection(7),
    ]
    .iter()
    .flat_map(|c| c.encode())
    .collect();
    let (seen_tx, seen_rx) = mpsc::channel();
    let want = changes.len();
    let srv = std::thread::spawn(move || -> Result<Vec<u8>, String> {
        let (mut s, _) = listener.accept().map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let greeting = Greeting {
            tuner_type: 5,
            gain_count: 29,
        };
        s.write_all(&greeting.encode()).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; initial];
        s.read_exact(&mut buf).map_err(|e| e.to_string())?;
        s.write_all(&[128u8; 2000]).map_err(|e| e.to_string())?;
        // The run-time changes, then data taken "at the new frequency".
        let mut got = vec![0u8; want];
        s.read_exact(&mut got).map_err(|e| e.to_string())?;
        s.write_all(&[200u8; 2000]).map_err(|e| e.to_string())?;
        let _ = seen_rx.recv_timeout(Duration::from_secs(20));
        Ok(got)
    });
    let mut h = Harness::of::<RtlTcpSourceDef>(params(port), &[]).unwrap();
    run_until(&mut h, |h| h.output::<C32>(0).len() == 1000);
    for (name, value) in [
        ("frequency", toml::Value::Float(101.5e6)),
        ("gain_db", toml::Value::Float(20.0)),
        ("ppm", toml::Value::Integer(7)),
    ] {
        let r = h.set_param(name, value);
        assert!(r.is_ok(), "{name}: {r:?}");
    }
    run_until(&mut h, |h| h.output::<C32>(0).len() == 2000);
    seen_tx.send(()).unwrap();
    h.request_stop();
    h.run_for(Duration::from_millis(20));
    assert_eq!(srv.join().unwrap().unwrap(), changes);
    let freq: Vec<(u64, f64)> = h
        .output_tags(0)
        .iter()
        .filter_map(|t| match t.tag {
            Tag::Freq(f) => Some((t.position, f)),
            _ => None,
        })
        .collect();
    assert_eq!(freq, [(0, 100e6), (1000, 101.5e6)]);
    // A value of the wrong kind is refused, and nothing else is settable.
    assert!(h.set_param("ppm", toml::Value::Float(1.5)).is_err());
    assert!(h.set_param("sample_rate", toml::Value::Float(1e6)).is_err());
}

#[test]
fn a_connected_server_that_sends_nothing_is_taken_as_gone() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let initial = super::super::rtl_tcp_connect::commands(&params(port)).len() * 5;
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let srv = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let greeting = Greeting {
            tuner_type: 5,
            gain_count: 29,
        };
        s.write_all(&greeting.encode()).unwrap();
        let mut buf = vec![0u8; initial];
        s.read_exact(&mut buf).unwrap();
        // Connected and tuned, but no samples ever: a hung server or a stuck dongle.
        let _ = done_rx.recv_timeout(Duration::from_secs(20));
    });
    let mut p = params(port);
    p.stall_timeout = 0.3;
    p.reconnect_min = 5.0;
    p.reconnect_max = 5.0;
    let mut h = Harness::of::<RtlTcpSourceDef>(p, &[]).unwrap();
    run_until(&mut h, |h| h.counter("disconnects") == 1);
    let (health, reason) = h.metrics().health();
    assert_eq!(health, Health::Degraded);
    assert!(reason.contains("no data from the server"), "{reason}");
    assert!(h.output::<C32>(0).is_empty());
    done_tx.send(()).unwrap();
    h.request_stop();
    h.run_for(Duration::from_millis(20));
    srv.join().unwrap();
}
