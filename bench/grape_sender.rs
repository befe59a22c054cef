//! Benchmark sender for `bench/grape_channels.py`: stands in for radiod with many channels,
//! sending ka9q-compatible RTP (one packet per channel per round, paced in real time) and
//! each channel's status once a second, from one thread and one socket, with the same
//! packetizer and status encoder as `rtp_sink`.
//!
//! `cargo run --release --example grape-sender -- --dest 239.77.0.1:15004 --channels 100`

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use flow_blocks::net::encoding::Encoding;
use flow_blocks::net::ka9q_status::ChannelStatus;
use flow_blocks::net::packetizer::{build_packet, default_packet_samples};
use flow_blocks::net::rtp::RtpHeader;
use flow_blocks::net::timing::unix_to_gps_ns;
use flow_blocks::net::udp::{Interface, Sender};
use flow_framework::item::C32;
use flow_framework::metrics::unix_now_ns;

struct Args {
    dest: SocketAddrV4,
    status: SocketAddrV4,
    iface: Interface,
    channels: u32,
    rate: u32,
    seconds: f64,
    encoding: Encoding,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        dest: "239.77.0.1:15004".parse().map_err(|e| format!("{e}"))?,
        status: "239.77.0.1:15006".parse().map_err(|e| format!("{e}"))?,
        iface: Interface::Addr(Ipv4Addr::LOCALHOST),
        channels: 100,
        rate: 24_000,
        seconds: 30.0,
        encoding: Encoding::F32le,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let (k, v) = match pair {
            [k, v] => (k.as_str(), v.as_str()),
            _ => return Err(format!("`{}` needs a value", pair[0])),
        };
        let bad = |e: &dyn std::fmt::Display| format!("{k} {v}: {e}");
        match k {
            "--dest" => a.dest = v.parse().map_err(|e| bad(&e))?,
            "--status" => a.status = v.parse().map_err(|e| bad(&e))?,
            "--iface" => a.iface = Interface::parse(v),
            "--channels" => a.channels = v.parse().map_err(|e| bad(&e))?,
            "--rate" => a.rate = v.parse().map_err(|e| bad(&e))?,
            "--seconds" => a.seconds = v.parse().map_err(|e| bad(&e))?,
            "--encoding" => {
                a.encoding = toml::Value::String(v.into())
                    .try_into()
                    .map_err(|e| bad(&e))?
            }
            _ => return Err(format!("unknown option {k}")),
        }
    }
    Ok(a)
}

fn main() -> Result<(), String> {
    let a = parse()?;
    let mut data = Sender::open(a.dest, &a.iface, 1, true).map_err(|e| e.to_string())?;
    let mut status = Sender::open(a.status, &a.iface, 1, true).map_err(|e| e.to_string())?;
    let per = default_packet_samples(a.encoding);
    let rounds = (a.seconds * f64::from(a.rate) / per as f64).round() as u64;
    // One packet of a tone per channel, sent again and again (the content costs nothing).
    let tone: Vec<Vec<C32>> = (0..a.channels)
        .map(|c| {
            (0..per)
                .map(|i| {
                    let ph = (i as f32) * 0.01 * (1.0 + c as f32 / 100.0);
                    C32::new(0.5 * ph.cos(), 0.5 * ph.sin())
                })
                .collect()
        })
        .collect();
    let (t0, unix0) = (Instant::now(), unix_now_ns());
    let mut pkt = Vec::with_capacity(12 + per * 8);
    let (mut sent, mut errors) = (0u64, 0u64);
    let mut next_status = 0u64;
    for r in 0..rounds {
        let ts = r * per as u64;
        if ts >= next_status {
            for c in 0..a.channels {
                pkt.clear();
                ChannelStatus {
                    ssrc: Some(c + 1),
                    gps_time_ns: Some(unix_to_gps_ns(
                        unix0 + (ts as i64 * 1_000_000_000) / i64::from(a.rate),
                        18,
                    )),
                    rtp_timesnap: Some(ts as u32),
                    sample_rate: Some(a.rate),
                    channels: Some(2),
                    payload_type: Some(97),
                    encoding: Some(a.encoding.ka9q_code()),
                    frequency_hz: Some(f64::from(c + 1) * 1000.0),
                    ..Default::default()
                }
                .encode(&mut pkt);
                errors += u64::from(status.send(&pkt).is_err());
            }
            next_status += u64::from(a.rate);
        }
        let due = t0 + Duration::from_secs_f64(ts as f64 / f64::from(a.rate));
        let wait = due.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        for c in 0..a.channels {
            let h = RtpHeader {
                marker: false,
                payload_type: 97,
                sequence: r as u16,
                timestamp: ts as u32,
                ssrc: c + 1,
            };
            build_packet(&h, a.encoding, &tone[c as usize], &mut pkt);
            match data.send(&pkt) {
                Ok(()) => sent += 1,
                Err(_) => errors += 1,
            }
        }
    }
    println!(
        "{{\"packets\": {sent}, \"errors\": {errors}, \"samples_per_channel\": {}, \"seconds\": {:.3}}}",
        rounds * per as u64,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
