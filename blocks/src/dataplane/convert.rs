//! `flow convert`: turns a day of `binary_archive` minutes of one or more channels into the
//! 10 Hz Digital RF product GRAPE stations upload to HamSCI PSWS (one Digital RF channel,
//! one subchannel per archive channel, hourly files in daily directories, station
//! metadata with centre frequencies in MHz).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use flow_framework::prelude::*;

use super::archive_reader::{day_sidecars, read_minute};
use super::decimate::Decimator;
use super::drf::attrs::ChannelProps;
use super::drf::metadata::{self, MetaProps, MetaValue};
use super::drf::writer::DrfWriter;

/// Arguments of `flow convert`.
#[derive(Parser, Debug)]
#[command(
    name = "flow convert",
    about = "Convert a day of binary_archive minutes to 10 Hz Digital RF for PSWS."
)]
pub struct Args {
    /// The archive directory (holding one directory per channel).
    #[arg(long)]
    pub archive: PathBuf,
    /// Archive channel directory names, one per subchannel, in order.
    #[arg(long = "channel", required = true)]
    pub channels: Vec<String>,
    /// The UTC day, `YYYY-MM-DD` or `YYYYMMDD`.
    #[arg(long)]
    pub date: String,
    /// Output directory (the Digital RF channel is `OUT/DRF_CHANNEL`).
    #[arg(long)]
    pub out: PathBuf,
    /// Digital RF channel name.
    #[arg(long, default_value = "ch0")]
    pub drf_channel: String,
    /// Output sample rate in Hz (must divide the archive rate).
    #[arg(long, default_value_t = 10)]
    pub rate: u64,
    /// PSWS station id (`uuid_str`).
    #[arg(long, default_value = "flow")]
    pub uuid: String,
    /// Station callsign.
    #[arg(long, default_value = "")]
    pub callsign: String,
    /// Maidenhead grid square.
    #[arg(long, default_value = "")]
    pub grid: String,
    /// Receiver name.
    #[arg(long, default_value = "flow")]
    pub receiver: String,
    /// Latitude, degrees.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub lat: f32,
    /// Longitude, degrees.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub long: f32,
}

/// What a conversion did.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    /// Minutes read per channel.
    pub minutes: Vec<usize>,
    /// Output rows written.
    pub rows: u64,
    /// Minutes that could not be read (path: reason).
    pub bad: Vec<String>,
    /// Per channel: the day's completeness map, time provenance and minute files.
    pub channels: Vec<ChannelDay>,
}

/// One channel's day as the product saw it.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct ChannelDay {
    /// Archive channel directory.
    pub channel: String,
    /// Percentage of samples present in each minute of the day (1440; 0 where no minute).
    pub completeness_pct: Vec<f32>,
    /// Minutes per time source (`gpsdo`, `system_clock`, `unknown`), from the sidecars.
    pub time_sources: std::collections::BTreeMap<String, u32>,
    /// The dominant time source, or `mixed`/`none`.
    pub time_source: String,
    /// Data files (`<minute>.bin`) of minutes the writer had finished when read.
    pub finished_files: Vec<String>,
    /// Minutes still `open` when read (their files are not confirmed).
    pub open_minutes: u32,
}

impl ChannelDay {
    fn summarize(&mut self) {
        let total: u32 = self.time_sources.values().sum();
        self.time_source = match self.time_sources.iter().max_by_key(|(_, n)| **n) {
            None => "none".into(),
            Some((s, n)) if *n == total => s.clone(),
            Some(_) => "mixed".into(),
        };
    }
}

fn day_start(date: &str) -> Result<(String, i64), String> {
    let d: String = date.chars().filter(char::is_ascii_digit).collect();
    let bad = || format!("--date {date}: expected YYYY-MM-DD");
    if d.len() != 8 {
        return Err(bad());
    }
    let (y, m, dd) = (
        d[..4].parse::<i64>().map_err(|_| bad())?,
        d[4..6].parse::<i64>().map_err(|_| bad())?,
        d[6..].parse::<i64>().map_err(|_| bad())?,
    );
    // Days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((d, (era * 146_097 + doe - 719_468) * 86_400))
}

/// Runs a conversion.
pub fn convert(a: &Args) -> Result<Summary, String> {
    let (ymd, t0) = day_start(&a.date)?;
    let slots = 86_400 * a.rate as usize;
    let day0 = t0 as u64 * a.rate; // global 10 Hz index of the day's first sample
    let mut grid: Vec<Vec<Option<C32>>> = Vec::new();
    let mut freqs = Vec::new();
    let mut sum = Summary::default();
    for ch in &a.channels {
        let mut g = vec![None; slots];
        let mut dec: Option<Decimator> = None;
        let mut freq = f64::NAN;
        let mut n = 0;
        let mut day = ChannelDay {
            channel: ch.clone(),
            completeness_pct: vec![0.0; 1440],
            ..ChannelDay::default()
        };
        let sidecars = match day_sidecars(&a.archive, ch, &ymd) {
            Ok(v) => v,
            // A channel without the day: all of it missing.
            Err(_) if !a.archive.join(ch).join(&ymd).exists() => Vec::new(),
            Err(e) => return Err(e.to_string()),
        };
        for json in sidecars {
            let m = match read_minute(&json) {
                Ok(m) => m,
                Err(e) => {
                    sum.bad.push(e.to_string());
                    continue;
                }
            };
            let slot = (m.meta.minute_boundary - t0).div_euclid(60);
            if (0..1440).contains(&slot) {
                day.completeness_pct[slot as usize] = m.meta.completeness_pct() as f32;
            }
            let source = m
                .meta
                .time
                .as_ref()
                .map_or("unknown", |t| t.source.as_str());
            *day.time_sources.entry(source.to_string()).or_default() += 1;
            if m.meta.state == "open" {
                day.open_minutes += 1;
            } else {
                day.finished_files
                    .push(format!("{}.bin", m.meta.minute_boundary));
            }
            let rate = m.meta.sample_rate;
            if rate % a.rate != 0 {
                return Err(format!(
                    "{}: rate {rate} Hz is not a multiple of {} Hz",
                    json.display(),
                    a.rate
                ));
            }
            let d = dec.get_or_insert_with(|| Decimator::new(rate as f64, rate / a.rate, 0.8));
            if d.factor() != rate / a.rate {
                sum.bad.push(format!(
                    "{}: sample rate changed to {rate} Hz; minute skipped",
                    json.display()
                ));
                continue;
            }
            freq = m.meta.frequency_hz.unwrap_or(freq);
            let base = m.meta.minute_boundary as u64 * rate;
            let mut out = Vec::new();
            for (off, x) in &m.runs {
                out.clear();
                let j = d.push(base + off, x, &mut out);
                for (k, v) in out.iter().enumerate() {
                    if let Some(slot) = (j + k as u64)
                        .checked_sub(day0)
                        .filter(|s| (*s as usize) < slots)
                    {
                        g[slot as usize] = Some(*v);
                    }
                }
            }
            n += 1;
        }
        sum.minutes.push(n);
        day.summarize();
        sum.channels.push(day);
        grid.push(g);
        freqs.push(freq / 1e6);
    }
    let props = ChannelProps {
        rate_num: a.rate,
        rate_den: 1,
        subdir_cadence_secs: 86_400,
        file_cadence_ms: 3_600_000,
        num_subchannels: a.channels.len() as u32,
        uuid: a.uuid.clone(),
    };
    let chdir = a.out.join(&a.drf_channel);
    let mut w = DrfWriter::create(&chdir, &props)?;
    let nan = C32::new(f32::NAN, f32::NAN);
    let mut rows = Vec::new();
    let mut run_start = None;
    for s in 0..=slots {
        let any = s < slots && grid.iter().any(|g| g[s].is_some());
        if any {
            run_start.get_or_insert(s);
            rows.extend(grid.iter().map(|g| g[s].unwrap_or(nan)));
        } else if let Some(r) = run_start.take() {
            w.write(day0 + r as u64, &rows)?;
            sum.rows += (rows.len() / a.channels.len()) as u64;
            rows.clear();
        }
    }
    w.close()?;
    let first = grid
        .iter()
        .filter_map(|g| g.iter().position(Option::is_some))
        .min();
    if let Some(first) = first {
        let mp = MetaProps {
            subdir_cadence_secs: 86_400,
            file_cadence_secs: 3600,
            rate_num: a.rate as i64,
            rate_den: 1,
        };
        let fields = [
            ("callsign", MetaValue::Str(a.callsign.clone())),
            ("grid_square", MetaValue::Str(a.grid.clone())),
            ("receiver_name", MetaValue::Str(a.receiver.clone())),
            ("lat", MetaValue::F32(a.lat)),
            ("long", MetaValue::F32(a.long)),
            ("center_frequencies", MetaValue::F64s(freqs)),
            ("uuid_str", MetaValue::Str(a.uuid.clone())),
            // Per subchannel and minute of the day: % of the archive's samples present.
            ("completeness_day_start", MetaValue::I64(t0)),
            (
                "completeness_pct",
                MetaValue::F32Matrix(
                    sum.channels.len(),
                    1440,
                    sum.channels
                        .iter()
                        .flat_map(|c| c.completeness_pct.iter().copied())
                        .collect(),
                ),
            ),
            // Where each subchannel's time came from (radiod's GPS time or the clock).
            (
                "time_source",
                MetaValue::Str(
                    sum.channels
                        .iter()
                        .map(|c| c.time_source.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ),
            (
                "time_provenance",
                MetaValue::Str(
                    serde_json::to_string(
                        &sum.channels
                            .iter()
                            .map(|c| (c.channel.clone(), c.time_sources.clone()))
                            .collect::<std::collections::BTreeMap<_, _>>(),
                    )
                    .unwrap_or_default(),
                ),
            ),
        ];
        metadata::write(&chdir.join("metadata"), &mp, day0 + first as u64, &fields)?;
    }
    Ok(sum)
}

fn main(args: &[OsString]) -> ExitCode {
    let a = match Args::try_parse_from(
        std::iter::once(OsString::from("flow convert")).chain(args.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    match convert(&a) {
        Ok(s) => {
            for b in &s.bad {
                eprintln!("warning: {b}");
            }
            println!(
                "{}: {} rows at {} Hz from {:?} minutes per channel ({} unreadable)",
                a.out.join(&a.drf_channel).display(),
                s.rows,
                a.rate,
                s.minutes,
                s.bad.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

flow_framework::register_command!(
    "convert",
    "A day of binary_archive minutes to 10 Hz Digital RF (PSWS).",
    main
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_days() {
        assert_eq!(
            day_start("2023-11-15").unwrap(),
            ("20231115".into(), 1_700_006_400)
        );
        assert_eq!(day_start("19700101").unwrap().1, 0);
        assert!(day_start("2023-11").is_err());
    }
}
