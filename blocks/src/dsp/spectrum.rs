//! The `spectrum` message shared by `psd`, `cfar`, `peaks` and the sinks that store spectra:
//! the agreed fields, the optional extras this family adds, and conversion to and from
//! [`Message`].
//!
//! Agreed fields: `time_ns` (time of the first sample of the period), `index` (its sample
//! index), `center_hz`, `bin_hz`, `start_hz` (frequency of bin 0, lowest first), `averages`,
//! `db`, `power` (one value per bin, FFT-shifted). Extras, which other producers may omit:
//! `window` (name), `step` (samples between segment starts), `span` (samples from the first
//! sample of the period to the last one used), and from `cfar`: `noise` and `threshold`
//! (per bin, same units as `power`; `+inf` threshold where a bin was not tested).

use std::sync::Arc;

use flow_framework::message::{Message, Value};

use super::window::Window;

/// One spectrum, as carried by a `spectrum` message.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// Time of the first sample of the period, ns since the Unix epoch.
    pub time_ns: i64,
    /// Sample index of that sample.
    pub index: u64,
    /// Centre frequency in Hz.
    pub center_hz: f64,
    /// Bin spacing in Hz.
    pub bin_hz: f64,
    /// Frequency of bin 0 (the lowest) in Hz.
    pub start_hz: f64,
    /// Periodograms averaged into this spectrum.
    pub averages: u64,
    /// True if `power` is in dB.
    pub db: bool,
    /// Power per bin, lowest frequency first.
    pub power: Arc<[f32]>,
    /// Window the periodograms used (extra; absent from other producers).
    pub window: Option<Window>,
    /// Samples between the starts of consecutive segments (extra).
    pub step: Option<u64>,
    /// Samples from the first sample of the period to the last one used (extra).
    pub span: Option<u64>,
    /// CFAR noise estimate per bin (extra, from `cfar`).
    pub noise: Option<Arc<[f32]>>,
    /// CFAR threshold per bin (extra, from `cfar`).
    pub threshold: Option<Arc<[f32]>>,
}

/// The kind of spectrum messages.
pub const KIND: &str = "spectrum";

impl Spectrum {
    /// Frequency in Hz of a (possibly fractional) bin position.
    pub fn freq_of_bin(&self, bin: f64) -> f64 {
        self.start_hz + bin * self.bin_hz
    }

    /// The message, agreed fields first.
    pub fn to_message(&self) -> Message {
        let mut m = Message::new(KIND)
            .with("time_ns", Value::Time(self.time_ns))
            .with("index", self.index)
            .with("center_hz", self.center_hz)
            .with("bin_hz", self.bin_hz)
            .with("start_hz", self.start_hz)
            .with("averages", self.averages)
            .with("db", self.db)
            .with("power", Value::F32s(self.power.clone()));
        if let Some(w) = self.window {
            m.push("window", w.name());
        }
        if let Some(s) = self.step {
            m.push("step", s);
        }
        if let Some(s) = self.span {
            m.push("span", s);
        }
        if let Some(n) = &self.noise {
            m.push("noise", Value::F32s(n.clone()));
        }
        if let Some(t) = &self.threshold {
            m.push("threshold", Value::F32s(t.clone()));
        }
        m
    }

    /// Reads a spectrum message; the error says which field is missing or wrong.
    pub fn from_message(m: &Message) -> Result<Spectrum, String> {
        if &*m.kind != KIND {
            return Err(format!("expected a `{KIND}` message, got `{}`", m.kind));
        }
        let f64_of = |name: &str| -> Result<f64, String> {
            m.get(name)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("field `{name}` is missing or not a number"))
        };
        let u64_of = |name: &str| -> Option<u64> {
            match m.get(name) {
                Some(Value::U64(v)) => Some(*v),
                Some(Value::I64(v)) => u64::try_from(*v).ok(),
                _ => None,
            }
        };
        let floats = |name: &str| -> Option<Arc<[f32]>> {
            match m.get(name) {
                Some(Value::F32s(v)) => Some(v.clone()),
                _ => None,
            }
        };
        let time_ns = match m.get("time_ns") {
            Some(Value::Time(t)) | Some(Value::I64(t)) => *t,
            _ => return Err("field `time_ns` is missing or not a time".into()),
        };
        let power = floats("power").ok_or("field `power` is missing or not a float vector")?;
        let db = match m.get("db") {
            Some(Value::Bool(b)) => *b,
            _ => return Err("field `db` is missing or not a boolean".into()),
        };
        let s = Spectrum {
            time_ns,
            index: u64_of("index").ok_or("field `index` is missing or not an integer")?,
            center_hz: f64_of("center_hz")?,
            bin_hz: f64_of("bin_hz")?,
            start_hz: f64_of("start_hz")?,
            averages: u64_of("averages").ok_or("field `averages` is missing or not an integer")?,
            db,
            window: m
                .get("window")
                .and_then(Value::as_str)
                .and_then(Window::from_name),
            step: u64_of("step"),
            span: u64_of("span"),
            noise: floats("noise"),
            threshold: floats("threshold"),
            power,
        };
        for (name, v) in [("noise", &s.noise), ("threshold", &s.threshold)] {
            if v.as_ref().is_some_and(|v| v.len() != s.power.len()) {
                return Err(format!(
                    "field `{name}` has a different length than `power`"
                ));
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Spectrum {
        Spectrum {
            time_ns: 1_700_000_000_000_000_000,
            index: 4096,
            center_hz: 100e6,
            bin_hz: 1000.0,
            start_hz: 100e6 - 4000.0,
            averages: 8,
            db: true,
            power: vec![-100.0f32; 8].into(),
            window: Some(Window::BlackmanHarris),
            step: Some(4),
            span: Some(40),
            noise: None,
            threshold: Some(vec![-90.0f32; 8].into()),
        }
    }

    #[test]
    fn round_trips_through_a_message_with_the_agreed_field_order() {
        let s = sample();
        let m = s.to_message();
        let names: Vec<&str> = m.fields.iter().map(|(k, _)| &**k).collect();
        assert_eq!(
            &names[..8],
            [
                "time_ns",
                "index",
                "center_hz",
                "bin_hz",
                "start_hz",
                "averages",
                "db",
                "power"
            ]
        );
        assert_eq!(m.get("time_ns"), Some(&Value::Time(s.time_ns)));
        assert_eq!(Spectrum::from_message(&m).unwrap(), s);
        assert_eq!(s.freq_of_bin(4.5), 100e6 + 500.0);
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        let mut m = sample().to_message();
        m.fields.retain(|(k, _)| &**k != "bin_hz");
        assert_eq!(
            Spectrum::from_message(&m).unwrap_err(),
            "field `bin_hz` is missing or not a number"
        );
        assert_eq!(
            Spectrum::from_message(&Message::new("detection")).unwrap_err(),
            "expected a `spectrum` message, got `detection`"
        );
        let mut short = sample();
        short.threshold = Some(vec![0.0f32; 3].into());
        assert_eq!(
            Spectrum::from_message(&short.to_message()).unwrap_err(),
            "field `threshold` has a different length than `power`"
        );
    }
}
