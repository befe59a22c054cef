//! `flow convert` end to end: archive minutes written in the documented layout, converted
//! to 10 Hz Digital RF, read back with the `digital_rf` package.

use flow_framework::prelude::*;

use super::py;
use crate::dataplane::archive_reader::tests::write_minute;
use crate::dataplane::convert::{convert, Args};

const DAY: i64 = 1_700_006_400; // 2023-11-15T00:00:00Z
const RATE: u64 = 2000;

fn tone(f: f64) -> impl Fn(u64) -> C32 {
    move |i| {
        let p = 2.0 * std::f64::consts::PI * f * (i as f64 / RATE as f64);
        C32::new(p.cos() as f32, p.sin() as f32)
    }
}

#[test]
fn a_day_of_minutes_becomes_10_hz_digital_rf_with_station_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("raw");
    let t0 = DAY + 3600; // 01:00 UTC
    for k in [0, 1, 3] {
        write_minute(&arch, "WWV_10_MHz", t0 + 60 * k, RATE, &[], tone(1.0));
    }
    for k in [0, 1, 2, 3] {
        let gaps: &[(u64, u64)] = if k == 1 { &[(30_000, 20_000)] } else { &[] };
        write_minute(&arch, "WWV_5_MHz", t0 + 60 * k, RATE, gaps, tone(-2.0));
    }
    let a = Args {
        archive: arch,
        channels: vec!["WWV_10_MHz".into(), "WWV_5_MHz".into()],
        date: "2023-11-15".into(),
        out: dir.path().join("psws"),
        drf_channel: "ch0".into(),
        rate: 10,
        uuid: "S000123".into(),
        callsign: "AB1CD".into(),
        grid: "FN42".into(),
        receiver: "flow".into(),
        lat: 42.5,
        long: -71.25,
    };
    let s = convert(&a).unwrap();
    assert_eq!(s.minutes, vec![3, 4]);
    assert!(s.bad.is_empty(), "{:?}", s.bad);
    let out = py::run(
        r#"
import sys, json, numpy as np, digital_rf as drf
top, t0 = sys.argv[1], int(sys.argv[2])
r = drf.DigitalRFReader(top)
b = r.get_bounds("ch0")
blocks = r.get_continuous_blocks(b[0], b[1], "ch0")
worst = [0.0, 0.0]
nan_a = 0
for start, n in blocks.items():
    for sub, f in ((0, 1.0), (1, -2.0)):
        x = r.read_vector(start, n, "ch0", sub)
        j = np.arange(start, start + n)
        want = np.exp(2j * np.pi * f * (j / 10.0))
        ok = ~np.isnan(x)
        if sub == 0:
            nan_a += int((~ok).sum())
        if ok.any():
            worst[sub] = max(worst[sub], float(np.abs(x[ok] - want[ok]).max()))
m = drf.DigitalMetadataReader(top + "/ch0/metadata").read_flatdict()
p = r.get_properties("ch0")
print(json.dumps({"bounds": [int(b[0]) - t0 * 10, int(b[1]) - t0 * 10], "blocks": len(blocks), "worst": worst,
  "nan_a": nan_a, "rate": float(p["samples_per_second"]), "nsub": int(p["num_subchannels"]),
  "freqs": np.asarray(m["center_frequencies"]).ravel().tolist(),
  "callsign": str(np.asarray(m["callsign"]).ravel()[0]),
  "completeness": [[round(float(x), 3) for x in row] for row in np.asarray(m["completeness_pct"]).reshape(-1, 1440)[:, 60:64]],
  "time_source": str(np.asarray(m["time_source"]).ravel()[0])}))
"#,
        &[dir.path().join("psws").to_str().unwrap(), &t0.to_string()],
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    // Four minutes at 10 Hz, less the filters' half window (about 3 s) at each end.
    let b = v["bounds"].as_array().unwrap();
    assert!(
        b[0].as_i64().unwrap() > 0 && b[0].as_i64().unwrap() <= 40,
        "{v}"
    );
    assert!(
        b[1].as_i64().unwrap() >= 2360 && b[1].as_i64().unwrap() < 2400,
        "{v}"
    );
    assert_eq!(
        v["blocks"], 1,
        "WWV_5_MHz covers the minute WWV_10_MHz misses: {v}"
    );
    assert!(
        v["nan_a"].as_u64().unwrap() >= 500,
        "the missing minute is NaN in subchannel 0: {v}"
    );
    for w in v["worst"].as_array().unwrap() {
        assert!(w.as_f64().unwrap() < 0.01, "decimated tone differs: {v}");
    }
    assert_eq!(
        (v["rate"].as_f64(), v["nsub"].as_u64()),
        (Some(10.0), Some(2))
    );
    assert_eq!(v["freqs"], serde_json::json!([10.0, 10.0]));
    assert_eq!(v["callsign"], "AB1CD");
    // The per-minute completeness map: 01:00-01:03 of both subchannels.
    assert_eq!(
        v["completeness"],
        serde_json::json!([[100.0, 100.0, 0.0, 100.0], [100.0, 83.333, 100.0, 100.0]]),
        "{v}"
    );
    assert_eq!(v["time_source"], "unknown,unknown");
    assert_eq!(s.channels[1].finished_files.len(), 4);
}
