//! Serde helpers for durations written in TOML as text (`"1s"`, `"250ms"`, `"2h 30m"`).

use std::time::Duration;

/// Writes a duration as humantime text.
pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

/// Reads a duration from humantime text.
pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = <String as serde::Deserialize>::deserialize(d)?;
    humantime::parse_duration(&s).map_err(serde::de::Error::custom)
}
