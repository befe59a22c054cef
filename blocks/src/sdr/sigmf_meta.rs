//! Reading a SigMF `.sigmf-meta` file: the sample format (`core:datatype`), sample rate,
//! and per capture the start sample, centre frequency and start time (`core:datetime`).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::iq_format::IqFormat;

/// One `captures` segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// `core:sample_start`.
    pub sample_start: u64,
    /// `core:frequency`, Hz.
    pub frequency: Option<f64>,
    /// `core:datetime`, ns since the Unix epoch.
    pub time_ns: Option<i64>,
}

/// What flow needs from a SigMF recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmfMeta {
    /// The data file (`.sigmf-data` beside the metadata).
    pub data_path: PathBuf,
    /// Sample format.
    pub format: IqFormat,
    /// `core:sample_rate`, Hz.
    pub sample_rate: Option<f64>,
    /// Captures, sorted by start sample.
    pub captures: Vec<Capture>,
}

/// The `.sigmf-meta` and `.sigmf-data` paths of a recording named by either file (or by
/// its base name).
pub fn recording_paths(path: &Path) -> (PathBuf, PathBuf) {
    let s = path.to_string_lossy();
    let base = s
        .strip_suffix(".sigmf-meta")
        .or_else(|| s.strip_suffix(".sigmf-data"))
        .or_else(|| s.strip_suffix(".sigmf"))
        .unwrap_or(&s)
        .to_string();
    (
        PathBuf::from(format!("{base}.sigmf-meta")),
        PathBuf::from(format!("{base}.sigmf-data")),
    )
}

/// True when `path` names a SigMF recording.
pub fn is_sigmf(path: &Path) -> bool {
    let s = path.to_string_lossy();
    s.ends_with(".sigmf-meta") || s.ends_with(".sigmf-data") || s.ends_with(".sigmf")
}

/// Parses metadata `text` (of the file at `meta_path`, for messages).
pub fn parse(text: &str, meta_path: &Path) -> Result<SigmfMeta, String> {
    let where_ = meta_path.display();
    let j: Json = serde_json::from_str(text).map_err(|e| format!("{where_}: not JSON: {e}"))?;
    let global = j
        .get("global")
        .ok_or_else(|| format!("{where_}: no `global` object"))?;
    let datatype = global
        .get("core:datatype")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("{where_}: `global.core:datatype` is missing"))?;
    let format = IqFormat::from_sigmf(datatype).ok_or_else(|| {
        format!(
            "{where_}: core:datatype `{datatype}` is not supported (supported: cu8, ci8, ci16_le, cf32_le)"
        )
    })?;
    let sample_rate = global.get("core:sample_rate").and_then(Json::as_f64);
    let mut captures = Vec::new();
    for (k, c) in j
        .get("captures")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let time_ns = match c.get("core:datetime").and_then(Json::as_str) {
            Some(s) => Some(
                parse_datetime(s)
                    .map_err(|e| format!("{where_}: captures[{k}].core:datetime `{s}`: {e}"))?,
            ),
            None => None,
        };
        captures.push(Capture {
            sample_start: c
                .get("core:sample_start")
                .and_then(Json::as_u64)
                .unwrap_or(0),
            frequency: c.get("core:frequency").and_then(Json::as_f64),
            time_ns,
        });
    }
    captures.sort_by_key(|c| c.sample_start);
    Ok(SigmfMeta {
        data_path: recording_paths(meta_path).1,
        format,
        sample_rate,
        captures,
    })
}

/// RFC 3339 UTC (`2026-01-02T03:04:05.123456789Z`) to ns since the epoch.
pub fn parse_datetime(s: &str) -> Result<i64, String> {
    let t = humantime::parse_rfc3339(s).map_err(|e| e.to_string())?;
    let d = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| "before 1970".to_string())?;
    i64::try_from(d.as_nanos()).map_err(|_| "too far in the future".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_flow_uses() {
        let text = r#"{"global": {"core:datatype": "ci16_le", "core:version": "1.0.0",
            "core:sample_rate": 2048000},
            "captures": [{"core:sample_start": 1000, "core:frequency": 101e6},
                         {"core:sample_start": 0, "core:frequency": 100e6,
                          "core:datetime": "2026-01-02T03:04:05.5Z"}],
            "annotations": []}"#;
        let m = parse(text, Path::new("/d/rec.sigmf-meta")).unwrap();
        assert_eq!(m.format, IqFormat::Cs16);
        assert_eq!(m.sample_rate, Some(2_048_000.0));
        assert_eq!(m.data_path, PathBuf::from("/d/rec.sigmf-data"));
        assert_eq!(m.captures[0].sample_start, 0);
        assert_eq!(m.captures[0].time_ns, Some(1_767_323_045_500_000_000));
        assert_eq!(m.captures[1].frequency, Some(101e6));
    }

    #[test]
    fn errors_say_where_and_what() {
        let p = Path::new("x.sigmf-meta");
        assert_eq!(
            parse(r#"{"global": {"core:datatype": "rf32_le"}}"#, p).unwrap_err(),
            "x.sigmf-meta: core:datatype `rf32_le` is not supported (supported: cu8, ci8, ci16_le, cf32_le)"
        );
        assert_eq!(
            parse(r#"{"captures": []}"#, p).unwrap_err(),
            "x.sigmf-meta: no `global` object"
        );
        assert!(parse("{", p)
            .unwrap_err()
            .starts_with("x.sigmf-meta: not JSON"));
        let e = parse(
            r#"{"global": {"core:datatype": "cu8"}, "captures": [{"core:datetime": "yesterday"}]}"#,
            p,
        )
        .unwrap_err();
        assert!(
            e.starts_with("x.sigmf-meta: captures[0].core:datetime `yesterday`"),
            "{e}"
        );
        assert_eq!(
            recording_paths(Path::new("a/b.sigmf-data")).0,
            PathBuf::from("a/b.sigmf-meta")
        );
    }
}
