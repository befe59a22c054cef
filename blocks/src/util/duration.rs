//! Serde helpers for duration parameters written as text (`"1s"`, `"250ms"`, `"2m"`):
//! `#[serde(with = "crate::util::duration::text")]` with `#[schemars(with = "String")]`.

/// (De)serializes a `Duration` as humantime text.
pub mod text {
    use std::time::Duration;

    /// Writes `d` as humantime text.
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    /// Reads humantime text.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{s}` is not a duration ({e}); write it like \"250ms\", \"2s\" or \"1m\""
            ))
        })
    }
}

/// (De)serializes an `Option<Duration>` as humantime text (absent: `None`).
pub mod opt_text {
    use std::time::Duration;

    /// Writes `d` as humantime text, or nothing.
    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::text::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Reads humantime text.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::text::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct P {
        #[serde(with = "super::text")]
        d: Duration,
    }

    #[test]
    fn round_trips_and_explains_errors() {
        let p: P = toml::from_str("d = \"250ms\"").unwrap();
        assert_eq!(p.d, Duration::from_millis(250));
        assert_eq!(toml::to_string(&p).unwrap().trim(), "d = \"250ms\"");
        let e = toml::from_str::<P>("d = \"soon\"").unwrap_err().to_string();
        assert!(e.contains("`soon` is not a duration"), "{e}");
    }
}
