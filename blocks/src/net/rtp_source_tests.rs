//! Loopback tests of `rtp_source` and `rtp_sink` with real UDP sockets on 127.0.0.1 (and a
//! multicast group on `lo`): ordering, loss, duplicates, malformed packets, status-driven
//! format and GPS time, the system-clock fallback, timestamp wrap, several channels on one
//! socket, and sink-to-source round trips.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use flow_framework::harness::Harness;
use flow_framework::metrics::unix_now_ns;
use flow_framework::prelude::*;

use crate::net::encoding::Encoding;
use crate::net::ka9q_status::ChannelStatus;
use crate::net::packetizer::build_packet;
use crate::net::rtp::RtpHeader;
use crate::net::rtp_channel::{TAG_GPS_TIME, TAG_RTP_SSRC, TAG_RTP_TIMESTAMP, TAG_TIMESNAP};
use crate::net::rtp_sink::RtpSinkDef;
use crate::net::rtp_source::RtpSourceDef;
use crate::net::timing::unix_to_gps_ns;

/// A port that was free a moment ago.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind")
}

fn source(toml: &str) -> Harness {
    Harness::new("rtp_source", toml, &[]).expect("rtp_source harness")
}

/// Runs a live block until `cond` holds (at most 10 s).
fn run_until(h: &mut Harness, what: &str, cond: impl Fn(&Harness) -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !cond(h) {
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}; counters {:?}",
            h.metrics().custom_counters()
        );
        h.run_for(Duration::from_millis(25));
    }
}

/// Stops a source and runs it to its end (flushing its windows).
fn finish(h: &mut Harness) {
    h.request_stop();
    h.run_to_end().expect("source ends");
}

/// Sample value carrying its own index (exact in s16 and f32).
fn sample(i: u64) -> C32 {
    let v = (i % 30_000) as f32 / 32767.0;
    C32::new(v, -v)
}

fn packet(ssrc: u32, seq: u16, ts: u32, first: u64, n: u64, enc: Encoding) -> Vec<u8> {
    let h = RtpHeader {
        marker: false,
        payload_type: 97,
        sequence: seq,
        timestamp: ts,
        ssrc,
    };
    let s: Vec<C32> = (first..first + n).map(sample).collect();
    let mut p = Vec::new();
    build_packet(&h, enc, &s, &mut p);
    p
}

fn gaps(h: &Harness, port: usize) -> Vec<(u64, u64)> {
    h.output_tags(port)
        .iter()
        .filter_map(|t| match t.tag {
            Tag::Gap(n) => Some((t.position, n)),
            _ => None,
        })
        .collect()
}

fn tag_at<'a>(h: &'a Harness, port: usize, key: &str) -> Vec<(u64, &'a Tag)> {
    h.output_tags(port)
        .iter()
        .filter(|t| t.tag.key() == key)
        .map(|t| (t.position, &t.tag))
        .collect()
}

const T0: i64 = 1_765_032_240; // 2025-12-06T14:44:00Z

#[test]
fn reorders_drops_duplicates_counts_loss_and_takes_gps_time_from_status() {
    let (dp, sp) = (free_port(), free_port());
    let mut h = source(&format!(
        "address = \"127.0.0.1:{dp}\"\nstatus = \"127.0.0.1:{sp}\"\n\
         channels = [{{ ssrc = 10000, name = \"a\" }}]\n\
         reorder_packets = 2\nreorder_time = \"1h\"\nstatus_wait = \"1h\""
    ));
    h.run_for(Duration::from_millis(1)); // opens the sockets
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (data, status) = (format!("127.0.0.1:{dp}"), format!("127.0.0.1:{sp}"));
    // Packets before the status are held; the status says s16be at 20 kHz and that RTP
    // timestamp 1000 was sampled at T0 (GPS scale).
    let p = |k: u64| {
        packet(
            10_000,
            k as u16,
            1000 + 100 * k as u32,
            100 * k,
            100,
            Encoding::S16be,
        )
    };
    tx.send_to(&p(0), &data).unwrap();
    let mut st = Vec::new();
    ChannelStatus {
        ssrc: Some(10_000),
        gps_time_ns: Some(unix_to_gps_ns(T0 * 1_000_000_000, 18)),
        rtp_timesnap: Some(1000),
        sample_rate: Some(20_000),
        channels: Some(2),
        payload_type: Some(97),
        encoding: Some(Encoding::S16be.ka9q_code()),
        frequency_hz: Some(10e6),
        ..Default::default()
    }
    .encode(&mut st);
    tx.send_to(&st, &status).unwrap();
    run_until(&mut h, "the status", |h| h.counter("status") == 1);
    let mut odd = p(7);
    odd.push(0xee); // a stray byte: whole frames are kept, the packet counted malformed
    let mut v1 = p(8);
    v1[0] = 0x40; // RTP version 1
    for pkt in [
        p(1),
        p(3),
        p(2), // reordered
        p(2), // duplicate
        p(5),
        p(6),
        odd,
        p(4), // late: three packets were held behind it, more than reorder_packets
        b"hello".to_vec(),
        vec![0x80, 97, 0, 9, 0, 0],
        v1,
        packet(99, 0, 0, 0, 10, Encoding::S16be), // another SSRC
        p(8),
    ] {
        tx.send_to(&pkt, &data).unwrap();
    }
    run_until(&mut h, "8 packets", |h| h.counter("packets") == 8);
    run_until(&mut h, "all packets", |h| h.counter("ignored") == 1);
    finish(&mut h);

    let out = h.output::<C32>(0);
    let want: Vec<C32> = [0u64, 1, 2, 3, 5, 6, 7, 8]
        .iter()
        .flat_map(|k| (100 * k..100 * k + 100).map(sample))
        .collect();
    assert_eq!(out, want);
    assert_eq!(gaps(&h, 0), [(400, 100)]);
    for (name, v) in [
        ("packets", 8),
        ("samples", 800),
        ("lost", 100),
        ("reordered", 1),
        ("duplicate", 1),
        ("late", 1),
        ("malformed", 4),
        ("ignored", 1),
        ("status", 1),
        ("kernel_drops", 0),
    ] {
        assert_eq!(h.counter(name), v, "counter {name}");
    }
    assert_eq!(
        tag_at(&h, 0, "time"),
        [(
            0,
            &Tag::Time {
                ns: T0 * 1_000_000_000,
                source: TimeSource::Gpsdo
            }
        )]
    );
    assert_eq!(tag_at(&h, 0, "rate"), [(0, &Tag::Rate(20_000.0))]);
    assert_eq!(tag_at(&h, 0, "freq"), [(0, &Tag::Freq(10e6))]);
    assert_eq!(
        tag_at(&h, 0, TAG_RTP_TIMESTAMP),
        [(0, &Tag::User(TAG_RTP_TIMESTAMP.into(), Value::U64(1000)))]
    );
    assert_eq!(tag_at(&h, 0, TAG_RTP_SSRC).len(), 1);
    assert_eq!(tag_at(&h, 0, TAG_GPS_TIME).len(), 1);
    assert_eq!(
        tag_at(&h, 0, TAG_TIMESNAP),
        [(0, &Tag::User(TAG_TIMESNAP.into(), Value::U64(1000)))]
    );
}

#[test]
fn without_status_uses_parameters_and_the_clock_across_a_timestamp_wrap() {
    let dp = free_port();
    let mut h = source(&format!(
        "address = \"127.0.0.1:{dp}\"\nstatus = \"\"\nsample_rate = 24000.0\nencoding = \"f32le\"\n\
         channels = [{{ ssrc = 5000, name = \"b\" }}]\nreorder_time = \"1h\""
    ));
    h.run_for(Duration::from_millis(1));
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let before = unix_now_ns();
    let first_ts = u32::MAX - 149;
    for k in 0..4u64 {
        let ts = first_ts.wrapping_add(100 * k as u32);
        let pkt = packet(5000, k as u16, ts, 100 * k, 100, Encoding::F32le);
        tx.send_to(&pkt, format!("127.0.0.1:{dp}")).unwrap();
    }
    run_until(&mut h, "4 packets", |h| h.counter("packets") == 4);
    let after = unix_now_ns();
    finish(&mut h);
    assert_eq!(h.output::<C32>(0), (0..400).map(sample).collect::<Vec<_>>());
    assert!(gaps(&h, 0).is_empty(), "{:?}", gaps(&h, 0));
    let times = tag_at(&h, 0, "time");
    let [(0, Tag::Time { ns, source })] = times.as_slice() else {
        panic!("{times:?}")
    };
    assert_eq!(*source, TimeSource::SystemClock);
    // The first packet's last sample was made when it arrived; its first, 100 samples before.
    let lead = 100 * 1_000_000_000 / 24_000;
    assert!(
        before - lead <= *ns && *ns <= after - lead,
        "{before} {ns} {after}"
    );
    assert_eq!(tag_at(&h, 0, "freq"), [(0, &Tag::Freq(5e6))]);
    assert!(tag_at(&h, 0, TAG_GPS_TIME).is_empty());
}

#[test]
fn two_channels_share_one_multicast_socket() {
    let dp = free_port();
    let group = "239.255.71.3";
    let mut h = source(&format!(
        "address = \"{group}:{dp}\"\ninterface = \"127.0.0.1\"\nstatus = \"\"\n\
         sample_rate = 20000.0\nencoding = \"s16le\"\nstatus_wait = \"0s\"\n\
         channels = [{{ ssrc = 1, name = \"one\" }}, {{ ssrc = 2, name = \"two\", encoding = \"f32be\" }}]"
    ));
    assert_eq!(h.signature.outputs.len(), 2);
    h.run_for(Duration::from_millis(1));
    let tx = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    tx.set_multicast_if_v4(&std::net::Ipv4Addr::LOCALHOST)
        .unwrap();
    let dest: std::net::SocketAddr = format!("{group}:{dp}").parse().unwrap();
    for k in 0..10u64 {
        for (ssrc, enc, base) in [(1, Encoding::S16le, 0u64), (2, Encoding::F32be, 10_000)] {
            let pkt = packet(ssrc, k as u16, 50 * k as u32, base + 50 * k, 50, enc);
            tx.send_to(&pkt, &dest.into()).unwrap();
        }
    }
    run_until(&mut h, "20 packets", |h| h.counter("packets") == 20);
    finish(&mut h);
    assert_eq!(h.output::<C32>(0), (0..500).map(sample).collect::<Vec<_>>());
    assert_eq!(
        h.output::<C32>(1),
        (10_000..10_500).map(sample).collect::<Vec<_>>()
    );
}

#[test]
fn sink_to_source_reproduces_samples_time_and_gaps() {
    let (dp, sp) = (free_port(), free_port());
    let mut rx = source(&format!(
        "address = \"127.0.0.1:{dp}\"\nstatus = \"127.0.0.1:{sp}\"\n\
         channels = [{{ ssrc = 15000, name = \"c\" }}]\nstatus_wait = \"1h\"\nreorder_time = \"1h\""
    ));
    rx.run_for(Duration::from_millis(1));
    let mut tx = Harness::new(
        "rtp_sink",
        &format!(
            "address = \"127.0.0.1:{dp}\"\nstatus = \"127.0.0.1:{sp}\"\nssrc = 15000\n\
             encoding = \"f32le\"\npacket_samples = 64\nfirst_timestamp = 4294967000"
        ),
        &[ItemType::C32],
    )
    .unwrap();
    let t = T0 * 1_000_000_000 + 123_456_789;
    // Time before rate at the same item: the sink orders them.
    tx.push_tag(
        0,
        0,
        Tag::Time {
            ns: t,
            source: TimeSource::Simulated,
        },
    );
    tx.push_tag(0, 0, Tag::Rate(20_000.0));
    tx.push_input(0, &(0..1000).map(sample).collect::<Vec<_>>());
    tx.push_tag(0, 0, Tag::Gap(300));
    tx.push_input(0, &(1300..2000).map(sample).collect::<Vec<_>>());
    tx.run_to_end().unwrap();
    assert_eq!(tx.counter("samples"), 1700);
    assert_eq!(tx.counter("gaps"), 300);
    assert_eq!(tx.counter("send_errors"), 0);
    run_until(&mut rx, "1700 samples", |h| h.counter("samples") == 1700);
    finish(&mut rx);
    let want: Vec<C32> = (0..1000).chain(1300..2000).map(sample).collect();
    assert_eq!(rx.output::<C32>(0), want);
    assert_eq!(gaps(&rx, 0), [(1000, 300)]);
    assert_eq!(rx.counter("lost"), 300);
    // The status carried the stream's own time: reproduced to the nanosecond.
    assert_eq!(
        tag_at(&rx, 0, "time"),
        [(
            0,
            &Tag::Time {
                ns: t,
                source: TimeSource::Gpsdo
            }
        )]
    );
    let _ = RtpSinkDef;
    let _ = RtpSourceDef;
}

#[test]
fn a_radiod_restart_resyncs_and_relearns_gps_time() {
    let (dp, sp) = (free_port(), free_port());
    let mut h = source(&format!(
        "address = \"127.0.0.1:{dp}\"\nstatus = \"127.0.0.1:{sp}\"\n\
         channels = [{{ ssrc = 7, name = \"r\" }}]\nstatus_wait = \"1h\"\nreorder_time = \"1s\""
    ));
    h.run_for(Duration::from_millis(1));
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (data, status) = (format!("127.0.0.1:{dp}"), format!("127.0.0.1:{sp}"));
    let announce = |t: i64, snap: u32| {
        let mut st = Vec::new();
        ChannelStatus {
            ssrc: Some(7),
            gps_time_ns: Some(unix_to_gps_ns(t, 18)),
            rtp_timesnap: Some(snap),
            sample_rate: Some(20_000),
            encoding: Some(Encoding::F32le.ka9q_code()),
            ..Default::default()
        }
        .encode(&mut st);
        tx.send_to(&st, &status).unwrap();
    };
    let send = |seq: u16, ts: u32, first: u64| {
        tx.send_to(&packet(7, seq, ts, first, 100, Encoding::F32le), &data)
            .unwrap();
    };
    announce(T0 * 1_000_000_000, 2_000_000);
    run_until(&mut h, "the status", |h| h.counter("status") == 1);
    for k in 0..6u64 {
        send(k as u16, 2_000_000 + 100 * k as u32, 100 * k);
    }
    run_until(&mut h, "6 packets", |h| h.counter("packets") == 6);
    // radiod restarts: timestamps and sequence numbers start again at 0.
    for k in 0..3u64 {
        send(k as u16, 100 * k as u32, 600 + 100 * k);
    }
    run_until(&mut h, "the resync", |h| h.counter("resyncs") == 1);
    let t1 = (T0 + 100) * 1_000_000_000;
    announce(t1, 0); // a step of more than a second: believed when a second status agrees
    announce(t1, 0);
    run_until(&mut h, "two more statuses", |h| h.counter("status") == 3);
    for k in 3..5u64 {
        send(k as u16, 100 * k as u32, 600 + 100 * k);
    }
    run_until(&mut h, "11 packets", |h| h.counter("packets") == 11);
    finish(&mut h);
    assert_eq!(
        h.output::<C32>(0),
        (0..1100).map(sample).collect::<Vec<_>>()
    );
    let times: Vec<(u64, i64, TimeSource)> = tag_at(&h, 0, "time")
        .into_iter()
        .map(|(p, t)| match t {
            Tag::Time { ns, source } => (p, *ns, *source),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        times[0],
        (0, T0 * 1_000_000_000, TimeSource::Gpsdo),
        "{times:?}"
    );
    // From sample 600 on (the new stream's timestamp 0) time is re-learned: a system-clock
    // tag at 600 if it was written before the new status came, then GPS time exactly.
    let (last_pos, last_ns, last_src) = *times.last().unwrap();
    assert_eq!(last_src, TimeSource::Gpsdo, "{times:?}");
    assert!(last_pos >= 600, "{times:?}");
    assert_eq!(last_ns, t1 + (last_pos as i64 - 600) * 50_000, "{times:?}");
    assert!(times[1..]
        .iter()
        .all(|t| t.0 >= 600 && (t.2 == TimeSource::Gpsdo || t.0 == 600)));
    // The wall time between the two streams is a gap: counted as lost, tagged, exact.
    let gap: u64 = gaps(&h, 0).iter().map(|g| g.1).sum();
    assert_eq!(h.counter("lost"), gap);
    assert!(gaps(&h, 0).iter().all(|g| g.0 == 600), "{:?}", gaps(&h, 0));
    assert_eq!((h.counter("malformed"), h.counter("duplicate")), (0, 0));
}
