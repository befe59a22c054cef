//! Mapping between flow's stream tags and GNU Radio's (key, value, srcid) PMT tags.
//!
//! | flow | GNU Radio key | value |
//! |---|---|---|
//! | `time` | `rx_time` | tuple (uint64 seconds, double fraction), as UHD and gr-uhd |
//! | `rate` | `rx_rate` | double, Hz |
//! | `freq` | `rx_freq` | double, Hz |
//! | `gap` | `flow_gap` | uint64, samples lost before the item |
//! | (sample index) | `flow_sample_index` | uint64, on a message's first item once gaps made it differ from the position |
//! | user `k` = v | symbol `k` | bool → #t/#f, integers → int/uint64, float → double, string → symbol, bytes → u8 vector, floats → f32 vector, time → tuple like `rx_time` |
//!
//! A `time` tag's srcid is `flow:<time source>` so a flow receiver restores where the time
//! came from; from any other sender the time source is `upstream`. Received tags that are not
//! in the table become user tags (`k` = value converted back by the same rules; other PMTs
//! become their text). End of stream is not sent: ZeroMQ has no end.

use std::sync::Arc;

use flow_framework::prelude::*;

use super::pmt::{Pmt, UNIFORM_U8};

const SRC_PREFIX: &str = "flow:";

/// Key of the tag a flow sender puts on the first item of a tagged message once that item's
/// sample index differs from its stream position (gaps came before it). Header offsets count
/// items, not lost samples: with this a receiver places the items right even when a lost
/// message carried a gap. Its value is a uint64, the sender's sample index of the item.
pub const SAMPLE_INDEX_KEY: &str = "flow_sample_index";

/// The (key, value, srcid) of the sample-index tag ([`SAMPLE_INDEX_KEY`]).
pub fn sample_index_pmt(index: u64, srcid: &str) -> (Pmt, Pmt, Pmt) {
    (
        Pmt::symbol(SAMPLE_INDEX_KEY),
        Pmt::Uint64(index),
        Pmt::symbol(srcid),
    )
}

/// The sample index a received (key, value) carries, if it is the sample-index tag.
pub fn sample_index_of(key: &Pmt, value: &Pmt) -> Option<u64> {
    match (key, value) {
        (Pmt::Symbol(k), Pmt::Uint64(i)) if k == SAMPLE_INDEX_KEY => Some(*i),
        _ => None,
    }
}
const TIME_SOURCES: [TimeSource; 5] = [
    TimeSource::Gpsdo,
    TimeSource::SystemClock,
    TimeSource::FileMetadata,
    TimeSource::Simulated,
    TimeSource::Upstream,
];

/// The (key, value, srcid) of a flow tag, or `None` for tags that are not sent (`eos`).
pub fn to_pmt(tag: &Tag, srcid: &str) -> Option<(Pmt, Pmt, Pmt)> {
    let src = Pmt::symbol(srcid);
    Some(match tag {
        Tag::Time { ns, source } => (
            Pmt::symbol("rx_time"),
            time_tuple(*ns),
            Pmt::Symbol(format!("{SRC_PREFIX}{}", source.name())),
        ),
        Tag::Rate(r) => (Pmt::symbol("rx_rate"), Pmt::Double(*r), src),
        Tag::Freq(f) => (Pmt::symbol("rx_freq"), Pmt::Double(*f), src),
        Tag::Gap(n) => (Pmt::symbol("flow_gap"), Pmt::Uint64(*n), src),
        Tag::Eos => return None,
        Tag::User(k, v) => (Pmt::symbol(k), value_to_pmt(v), src),
    })
}

/// The flow tag for a received (key, value, srcid).
pub fn from_pmt(key: &Pmt, value: &Pmt, srcid: &Pmt) -> Tag {
    let key_text = match key {
        Pmt::Symbol(s) => s.clone(),
        other => other.to_string(),
    };
    match (key_text.as_str(), value) {
        ("rx_time", v) => match time_ns(v) {
            Some(ns) => Tag::Time {
                ns,
                source: time_source(srcid),
            },
            None => Tag::User(key_text.into(), pmt_to_value(v)),
        },
        ("rx_rate", Pmt::Double(r)) => Tag::Rate(*r),
        ("rx_freq", Pmt::Double(f)) => Tag::Freq(*f),
        ("flow_gap", Pmt::Uint64(n)) => Tag::Gap(*n),
        _ => Tag::User(key_text.into(), pmt_to_value(value)),
    }
}

/// A flow value as a PMT.
pub fn value_to_pmt(v: &Value) -> Pmt {
    match v {
        Value::Null => Pmt::Null,
        Value::Bool(true) => Pmt::True,
        Value::Bool(false) => Pmt::False,
        Value::I64(i) => Pmt::Int(*i),
        Value::U64(u) => Pmt::Uint64(*u),
        Value::F64(d) => Pmt::Double(*d),
        Value::Str(s) => Pmt::symbol(s),
        Value::Bytes(b) => Pmt::Uniform(UNIFORM_U8, b.to_vec()),
        Value::F32s(f) => Pmt::f32s(f),
        Value::Time(ns) => time_tuple(*ns),
    }
}

/// A PMT as a flow value (what has no flow equivalent becomes its text).
pub fn pmt_to_value(p: &Pmt) -> Value {
    match p {
        Pmt::Null => Value::Null,
        Pmt::True => Value::Bool(true),
        Pmt::False => Value::Bool(false),
        Pmt::Int(i) => Value::I64(*i),
        Pmt::Uint64(u) => Value::U64(*u),
        Pmt::Double(d) => Value::F64(*d),
        Pmt::Symbol(s) => Value::Str(Arc::from(s.as_str())),
        Pmt::Uniform(UNIFORM_U8, b) => Value::Bytes(b.clone().into()),
        p => match (p.as_f32s(), time_ns(p)) {
            (Some(f), _) => Value::F32s(f.into()),
            (None, Some(ns)) => Value::Time(ns),
            _ => Value::Str(p.to_string().into()),
        },
    }
}

/// `(uint64 seconds, double fraction)` for Unix nanoseconds.
fn time_tuple(ns: i64) -> Pmt {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) as f64 / 1e9;
    Pmt::Tuple(vec![Pmt::Uint64(secs.max(0) as u64), Pmt::Double(frac)])
}

/// Unix nanoseconds of an `rx_time`-style tuple (the fraction rounded to the nanosecond).
fn time_ns(p: &Pmt) -> Option<i64> {
    let Pmt::Tuple(v) = p else { return None };
    let secs = match v.first()? {
        Pmt::Uint64(s) => i64::try_from(*s).ok()?,
        Pmt::Int(s) => *s,
        _ => return None,
    };
    let Pmt::Double(frac) = v.get(1)? else {
        return None;
    };
    if v.len() != 2 || !frac.is_finite() {
        return None;
    }
    secs.checked_mul(1_000_000_000)?
        .checked_add((frac * 1e9).round() as i64)
}

fn time_source(srcid: &Pmt) -> TimeSource {
    let Pmt::Symbol(s) = srcid else {
        return TimeSource::Upstream;
    };
    s.strip_prefix(SRC_PREFIX)
        .and_then(|name| TIME_SOURCES.into_iter().find(|t| t.name() == name))
        .unwrap_or(TimeSource::Upstream)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(tag: Tag) -> Tag {
        let (k, v, s) = to_pmt(&tag, "zmq").unwrap();
        from_pmt(&k, &v, &s)
    }

    #[test]
    fn flow_tags_survive_the_trip_through_pmt() {
        for tag in [
            Tag::Time {
                ns: 1_700_000_000_250_000_123,
                source: TimeSource::Gpsdo,
            },
            Tag::Rate(48_000.0),
            Tag::Freq(10e6),
            Tag::Gap(17),
            Tag::User("n".into(), Value::I64(-3)),
            Tag::User("u".into(), Value::U64(1 << 63)),
            Tag::User("x".into(), Value::F64(0.5)),
            Tag::User("on".into(), Value::Bool(true)),
            Tag::User("s".into(), Value::Str("WWV".into())),
            Tag::User("b".into(), Value::Bytes(vec![1u8, 2].into())),
            Tag::User("f".into(), Value::F32s(vec![1.5f32].into())),
            Tag::User("t".into(), Value::Time(1_000_000_001)),
            Tag::User("none".into(), Value::Null),
        ] {
            assert_eq!(round(tag.clone()), tag);
        }
        assert_eq!(to_pmt(&Tag::Eos, "x"), None);
    }

    #[test]
    fn gnu_radio_tags_map_to_flow_tags() {
        let t = from_pmt(
            &Pmt::symbol("rx_time"),
            &Pmt::Tuple(vec![Pmt::Uint64(1_700_000_000), Pmt::Double(0.25)]),
            &Pmt::symbol("usrp_source1"),
        );
        assert_eq!(
            t,
            Tag::Time {
                ns: 1_700_000_000_250_000_000,
                source: TimeSource::Upstream
            }
        );
        assert_eq!(
            from_pmt(&Pmt::symbol("rx_rate"), &Pmt::Double(2e6), &Pmt::False),
            Tag::Rate(2e6)
        );
        // Something flow has no type for keeps its text.
        assert_eq!(
            from_pmt(
                &Pmt::symbol("burst"),
                &Pmt::Pair(Box::new(Pmt::Int(1)), Box::new(Pmt::Int(2))),
                &Pmt::False
            ),
            Tag::User("burst".into(), Value::Str("(1 . 2)".into()))
        );
        // An rx_time that is not a time tuple is kept as a user tag, not dropped.
        assert_eq!(
            from_pmt(&Pmt::symbol("rx_time"), &Pmt::Double(1.0), &Pmt::False),
            Tag::User("rx_time".into(), Value::F64(1.0))
        );
    }
}
