//! The SigMF metadata of a minute file (`<minute>.sigmf-meta`): the `.bin` file is the
//! dataset (`core:dataset`, a non-conforming dataset name), `cf32_le`, one capture at the
//! minute boundary with its frequency, and one annotation per gap.

use serde_json::{json, Value};

use super::sidecar::Sidecar;

/// SigMF version written.
pub const SIGMF_VERSION: &str = "1.2.0";

/// The `.sigmf-meta` JSON for a minute described by `s`.
pub fn meta(s: &Sidecar) -> Value {
    let source = s
        .time
        .as_ref()
        .map_or(String::new(), |t| format!("; time source {}", t.source));
    let global = json!({
        "core:datatype": "cf32_le",
        "core:version": SIGMF_VERSION,
        "core:sample_rate": s.sample_rate as f64,
        "core:dataset": s.data_file,
        "core:num_channels": 1,
        "core:recorder": "flow binary_archive",
        "core:description": format!(
            "{}, minute {} ({}){source}",
            s.channel_name, s.minute_boundary, s.state
        ),
    });
    let mut capture = json!({
        "core:sample_start": 0,
        "core:datetime": s.start_time,
    });
    if let Some(f) = s.frequency_hz {
        capture["core:frequency"] = json!(f);
    }
    let annotations: Vec<Value> = s
        .gaps
        .iter()
        .map(|g| {
            json!({
                "core:sample_start": g.start,
                "core:sample_count": g.length,
                "core:label": "gap",
                "core:comment": "no data: samples lost or not recorded (zeros in the file)",
            })
        })
        .collect();
    json!({
        "global": global,
        "captures": [capture],
        "annotations": annotations,
    })
}

/// Pretty JSON bytes of [`meta`].
pub fn meta_bytes(s: &Sidecar) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(&meta(s)).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::super::ranges::RangeSet;
    use super::super::sidecar::MinuteMeta;
    use super::*;

    #[test]
    fn has_the_required_fields_and_gap_annotations() {
        let mut w = RangeSet::new();
        w.insert(10, 1_200_000);
        let s = Sidecar::new(
            29_417_204,
            20_000,
            &w,
            &MinuteMeta {
                channel_name: "x".into(),
                frequency_hz: Some(5e6),
                time: None,
            },
            "complete",
        );
        let m = meta(&s);
        assert_eq!(m["global"]["core:datatype"], "cf32_le");
        assert_eq!(m["global"]["core:version"], SIGMF_VERSION);
        assert_eq!(m["global"]["core:sample_rate"], 20_000.0);
        assert_eq!(m["global"]["core:dataset"], "1765032240.bin");
        assert_eq!(
            m["captures"][0]["core:datetime"],
            "2025-12-06T14:44:00.000000000Z"
        );
        assert_eq!(m["captures"][0]["core:frequency"], 5e6);
        assert_eq!(m["annotations"][0]["core:sample_start"], 0);
        assert_eq!(m["annotations"][0]["core:sample_count"], 10);
    }
}
