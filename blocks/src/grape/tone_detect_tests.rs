//! Accuracy tests of `tone_detect` on `wwv_sim` signals with known clock offsets, delays,
//! SNR, mixed stations and gaps. Expected D_clock = clock_offset_ms + delay_ms (the detector
//! measures onsets against system time and is not told the propagation delay).

use super::*;
use crate::grape::wwv_sim::WwvSimDef;
use flow_framework::harness::Harness;

/// Samples and tags from `wwv_sim` with params `body`.
pub(crate) fn simulate(body: &str) -> (Vec<C32>, Vec<ItemTag>) {
    let p = toml::from_str(body).unwrap();
    let mut h = Harness::of::<WwvSimDef>(p, &[]).unwrap();
    assert!(h.run(), "finite simulation");
    (h.output::<C32>(0), h.output_tags(0).to_vec())
}

/// Runs `tone_detect` (params `body`) over samples, removing `cut` (item range) as a gap.
pub(crate) fn detect(
    x: &[C32],
    tags: &[ItemTag],
    body: &str,
    cut: Option<std::ops::Range<usize>>,
) -> Vec<Message> {
    let p = toml::from_str(body).unwrap();
    let mut h = Harness::of::<ToneDetectDef>(p, &[ItemType::C32]).unwrap();
    for t in tags.iter().filter(|t| t.position == 0) {
        h.push_tag(0, 0, t.tag.clone());
    }
    match cut {
        Some(c) => {
            h.push_input(0, &x[..c.start]);
            h.push_tag(0, 0, Tag::Gap(c.len() as u64));
            h.push_input(0, &x[c.end..]);
        }
        None => h.push_input(0, x),
    }
    h.run_to_end().unwrap();
    h.messages(0).to_vec()
}

fn field(m: &Message, k: &str) -> f64 {
    m.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn station(m: &Message) -> &str {
    m.get("station").and_then(Value::as_str).unwrap_or("")
}

/// 2025-12-06T11:59:58Z: windows 11:59 (2 s, too short), 12:00 (the hour), 12:01.
const START: &str = "2025-12-06T11:59:58Z";
const MINUTE_1200: i64 = 1_765_022_400_000_000_000;

fn sim(stations: &str, extra: &str) -> (Vec<C32>, Vec<ItemTag>) {
    simulate(&format!(
        "start = \"{START}\"\nclock_offset_ms = 2.5\nitems = {}\nstations = {stations}\n{extra}",
        20_000 * 125
    ))
}

fn check(msgs: &[Message], name: &str, want_ms: f64, minutes: &[i64]) {
    let got: Vec<&Message> = msgs.iter().filter(|m| station(m) == name).collect();
    let mins: Vec<i64> = got
        .iter()
        .map(|m| match m.get("minute") {
            Some(Value::Time(t)) => *t,
            _ => 0,
        })
        .collect();
    assert_eq!(mins, minutes, "{name} minutes: {msgs:#?}");
    for m in got {
        let err = field(m, "d_clock_ms") - want_ms;
        assert!(err.abs() <= 0.1, "{name}: error {err:.4} ms in {m}");
        assert!(field(m, "uncertainty_ms") < 0.1, "{m}");
        assert!(field(m, "ticks") >= 50.0, "{m}");
        assert_eq!(
            m.get("time_source").and_then(Value::as_str),
            Some("simulated")
        );
    }
}

#[test]
fn wwv_at_10_db_measures_clock_offset_plus_delay_within_0_1_ms() {
    let (x, tags) = sim(
        "[{ station = \"WWV\", snr_db = 10.0, delay_ms = 4.1, carrier_offset_hz = 0.3 }]",
        "",
    );
    let msgs = detect(&x, &tags, "", None);
    check(
        &msgs,
        "WWV",
        2.5 + 4.1,
        &[MINUTE_1200, MINUTE_1200 + 60_000_000_000],
    );
    assert_eq!(msgs.len(), 2, "only WWV: {msgs:#?}");
    let snr = field(&msgs[1], "snr_db");
    assert!((snr - 10.0).abs() < 1.0, "snr estimate {snr}");
    assert_eq!(field(&msgs[1], "frequency_hz"), 10e6);
}

#[test]
fn wwvh_at_10_db_measures_clock_offset_plus_delay_within_0_1_ms() {
    let (x, tags) = sim(
        "[{ station = \"WWVH\", snr_db = 10.0, delay_ms = 19.7 }]",
        "",
    );
    let msgs = detect(&x, &tags, "", None);
    check(
        &msgs,
        "WWVH",
        2.5 + 19.7,
        &[MINUTE_1200, MINUTE_1200 + 60_000_000_000],
    );
    assert_eq!(msgs.len(), 2, "only WWVH: {msgs:#?}");
}

#[test]
fn wwv_and_wwvh_mixed_are_told_apart_with_their_own_delays() {
    let (x, tags) = sim(
        "[{ station = \"WWV\", snr_db = 10.0, delay_ms = 4.1, carrier_offset_hz = -0.7 },\n { station = \"WWVH\", snr_db = 6.0, delay_ms = 19.7, carrier_offset_hz = 0.4 }]",
        "audio_tones = true",
    );
    let msgs = detect(&x, &tags, "", None);
    let both = [MINUTE_1200, MINUTE_1200 + 60_000_000_000];
    check(&msgs, "WWV", 2.5 + 4.1, &both);
    check(&msgs, "WWVH", 2.5 + 19.7, &both);
    assert!(msgs.iter().all(|m| station(m) != "CHU"), "{msgs:#?}");
}

#[test]
fn chu_is_detected_as_chu_not_wwv() {
    let (x, tags) = sim(
        "[{ station = \"CHU\", snr_db = 10.0, delay_ms = 2.2 }]",
        "frequency_hz = 7.85e6",
    );
    let msgs = detect(&x, &tags, "", None);
    check(
        &msgs,
        "CHU",
        2.5 + 2.2,
        &[MINUTE_1200, MINUTE_1200 + 60_000_000_000],
    );
    assert_eq!(msgs.len(), 2, "only CHU: {msgs:#?}");
}

#[test]
fn propagation_compensation_leaves_the_clock_offset() {
    let (x, tags) = sim("[{ station = \"WWV\", snr_db = 10.0, delay_ms = 4.1 }]", "");
    let msgs = detect(
        &x,
        &tags,
        "stations = [\"WWV\"]\npropagation_ms = { WWV = 4.1 }",
        None,
    );
    check(
        &msgs,
        "WWV",
        2.5,
        &[MINUTE_1200, MINUTE_1200 + 60_000_000_000],
    );
}

#[test]
fn a_gap_never_produces_a_wrong_lock() {
    let (x, tags) = sim("[{ station = \"WWV\", snr_db = 10.0, delay_ms = 4.1 }]", "");
    let at = |s: f64| ((s + 2.0) * 20_000.0) as usize; // seconds after 12:00:00
    let both = [MINUTE_1200, MINUTE_1200 + 60_000_000_000];
    // a gap in the middle of minute 12:00: measured from the remaining ticks
    let msgs = detect(&x, &tags, "stations = [\"WWV\"]", Some(at(20.3)..at(26.7)));
    check(&msgs, "WWV", 6.6, &both);
    // the ticks of seconds 21–26 are lost
    assert_eq!(field(&msgs[0], "ticks"), 57.0 - 6.0, "{}", msgs[0]);
    // a gap over just the 12:01 marker: the marker can only be where data is missing (it is
    // absent from every other second), and the skipped seconds agree: still the right lock
    let msgs = detect(&x, &tags, "stations = [\"WWV\"]", Some(at(59.9)..at(61.5)));
    check(&msgs, "WWV", 6.6, &both);
    // a gap over the marker and the seconds around it: second 0 is ambiguous, no report
    let msgs = detect(&x, &tags, "stations = [\"WWV\"]", Some(at(55.5)..at(66.5)));
    check(&msgs, "WWV", 6.6, &[MINUTE_1200]);
}

#[test]
fn noise_alone_detects_nothing() {
    let (x, tags) = sim("[{ station = \"WWV\", snr_db = -60.0 }]", "");
    let msgs = detect(&x, &tags, "", None);
    assert!(msgs.is_empty(), "{msgs:#?}");
}

#[test]
fn other_sample_rates_give_the_same_answer() {
    for rate in [8_000.0, 24_000.0] {
        let (x, tags) = simulate(&format!(
            "sample_rate = {rate}\nstart = \"{START}\"\nclock_offset_ms = -1.25\nitems = {}\n\
             stations = [{{ station = \"WWV\", snr_db = 10.0, delay_ms = 7.3 }}]",
            (rate * 125.0) as u64
        ));
        let msgs = detect(&x, &tags, "stations = [\"WWV\"]", None);
        check(
            &msgs,
            "WWV",
            -1.25 + 7.3,
            &[MINUTE_1200, MINUTE_1200 + 60_000_000_000],
        );
    }
}

#[test]
fn documented_examples_build_and_validate() {
    use crate::dsp::decimate::DecimateDef;
    for (name, example, inputs) in [
        (
            ToneDetectDef::NAME,
            ToneDetectDef::EXAMPLE,
            vec![ItemType::C32],
        ),
        (WwvSimDef::NAME, WwvSimDef::EXAMPLE, vec![]),
        (DecimateDef::NAME, DecimateDef::EXAMPLE, vec![ItemType::C32]),
    ] {
        assert!(
            Harness::new(name, example, &inputs).is_ok(),
            "{name}: {example}"
        );
    }
    let p: ToneDetectParams = toml::from_str(ToneDetectDef::EXAMPLE).unwrap();
    assert!(ToneDetectDef::validate(&p).is_empty());
    assert_eq!(p.propagation_ms.wwvh, 19.7);
}

#[test]
fn bogus_tags_are_counted_not_fatal() {
    let x = vec![C32::new(0.1, 0.0); 50_000];
    // an absurd rate, then a sane one with a time near the end of i64
    let mut h =
        Harness::of::<ToneDetectDef>(toml::from_str("").unwrap(), &[ItemType::C32]).unwrap();
    h.push_tag(0, 0, Tag::Rate(1e12));
    h.push_input(0, &x[..10_000]);
    h.push_tag(0, 0, Tag::Rate(20_000.0));
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: i64::MAX - 1_000_000_000,
            source: TimeSource::Upstream,
        },
    );
    h.push_input(0, &x[10_000..30_000]);
    // a time tag that disagrees with the running mapping: open minutes are dropped
    h.push_tag(
        0,
        0,
        Tag::Time {
            ns: 1_765_022_400_000_000_000,
            source: TimeSource::Upstream,
        },
    );
    h.push_input(0, &x[30_000..]);
    h.run_to_end().unwrap();
    assert!(h.messages(0).is_empty());
    assert_eq!(h.counter("time_jumps"), 1);
    assert_eq!(h.counter("untimed_samples"), 10_000);
    assert_eq!(
        h.metrics()
            .errors
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}
