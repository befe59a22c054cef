//! `flow daily` end to end (feature `hdf5`; python3 with numpy and digital_rf): a recorded
//! day of archive minutes becomes the 10 Hz Digital RF product with its completeness map and
//! time provenance, uploaded verified; the day's minutes are then confirmed, and the
//! archive's storage limit, which would not delete them before, deletes them first.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::{stderr, stdout, Sandbox};

const RATE: u64 = 4000;

fn record(s: &Sandbox, start: &str, minutes: u64, limits: &str) -> String {
    let fg = s.write(
        "rec.toml",
        &format!(
            r#"
[blocks.sim]
type = "wwv_sim"
sample_rate = {RATE}.0
start = "{start}"
items = {items}
frequency_hz = 10e6
stations = [{{ station = "WWV", snr_db = 10.0, delay_ms = 4.1 }}]

[blocks.archive]
type = "binary_archive"
inputs = ["sim"]
dir = "raw"
channel = "WWV_10_MHz"
sample_rate = {RATE}
frequency_hz = 10e6
limits = {{ {limits} }}
"#,
            items = RATE * 60 * minutes
        ),
    );
    let out = s.run(
        &["run", fg.to_str().expect("path")],
        Duration::from_secs(120),
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}");
    text
}

fn bins(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".bin"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_day_is_built_uploaded_verified_confirmed_and_then_evictable() {
    let s = Sandbox::new();
    // Three minutes of 2025-12-06, kept: nothing is confirmed yet.
    let limits = "max_bytes = \"1 GiB\", require_confirmation = true";
    record(&s, "2025-12-06T12:00:00Z", 3, limits);
    let day = s.path().join("raw/WWV_10_MHz/20251206");
    assert_eq!(bins(&day).len(), 3);
    let cfg = s.write(
        "daily.toml",
        "work_dir = \"work\"\narchive = \"raw\"\nchannels = [\"WWV_10_MHz\"]\n\
         [station]\nuuid = \"S000123\"\ncallsign = \"AB1CD\"\ngrid = \"FN42\"\n\
         [upload]\ntarget = \"psws\"\n",
    );
    let out = s.run(
        &["daily", cfg.to_str().expect("path"), "--date", "2025-12-06"],
        Duration::from_secs(120),
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("1 batch(es) confirmed: day:20251206"),
        "{text}"
    );
    let up = s.path().join("psws/OBS2025-12-06T00-00");
    assert!(up.join("ch0/drf_properties.h5").exists(), "{text}");
    assert!(
        !s.path().join("work/products/2025-12-06").exists(),
        "product removed after upload"
    );
    // The uploaded product, read with digital_rf: 3 minutes of 10 Hz data, the map says
    // which minutes were complete, the time source is the archive's.
    let py = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import sys, json, numpy as np, digital_rf as drf
top = sys.argv[1]
r = drf.DigitalRFReader(top)
b = r.get_bounds("ch0")
m = drf.DigitalMetadataReader(top + "/ch0/metadata").read_flatdict()
c = np.asarray(m["completeness_pct"]).reshape(-1, 1440)
print(json.dumps({"rows": int(b[1] - b[0]), "full": [int(i) for i in np.nonzero(c[0] > 99.9)[0]],
  "source": str(np.asarray(m["time_source"]).ravel()[0]),
  "provenance": json.loads(str(np.asarray(m["time_provenance"]).ravel()[0]))}))
"#,
        )
        .arg(&up)
        .output()
        .expect("python3 with digital_rf");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&py.stdout).expect("json");
    assert_eq!(v["full"], serde_json::json!([720, 721, 722]), "{v}");
    assert!(v["rows"].as_u64().unwrap() > 1700, "{v}");
    assert_eq!(v["source"], "simulated", "{v}");
    assert_eq!(v["provenance"]["WWV_10_MHz"]["simulated"], 3, "{v}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(up.join("completeness.json")).expect("report"))
            .expect("json");
    assert_eq!(
        report["channels"][0]["finished_files"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // Confirmed only now: the markers list the day's minutes.
    let c = flow_blocks::util::retention::confirm::read(&day)
        .expect("marker")
        .expect("a marker");
    assert_eq!(c.names.into_iter().collect::<Vec<_>>(), bins(&day));
    // The next day, with a quota for about three minutes: the confirmed minutes of the
    // day before are deleted first, and the new (unconfirmed) ones are all kept.
    let minute = 60 * RATE * 8;
    let text = record(
        &s,
        "2025-12-07T00:00:00Z",
        3,
        &format!("max_bytes = {}, require_confirmation = true", 4 * minute),
    );
    assert!(bins(&day).is_empty(), "confirmed minutes deleted\n{text}");
    assert!(!day.exists(), "the emptied day directory goes too");
    assert_eq!(
        bins(&s.path().join("raw/WWV_10_MHz/20251207")).len(),
        3,
        "{text}"
    );
    // A second run has nothing left to do.
    let again = s.run(
        &["daily", cfg.to_str().expect("path"), "--date", "2025-12-06"],
        Duration::from_secs(60),
    );
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("uploaded 0 file(s)"),
        "{}",
        stdout(&again)
    );
}
