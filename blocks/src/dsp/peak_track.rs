//! Detections across spectra: a detection continues a track when it lies within the match
//! tolerance of one seen in the last `hold + 1` spectra, which gives it its first-seen time;
//! tracks not seen for longer end.

use flow_framework::message::{Message, Value};

/// One detection, as carried by a `detection` message.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Start of the spectrum's period (ns since the epoch).
    pub time_ns: i64,
    /// Sample index of that spectrum's first sample (extra field `index`).
    pub index: u64,
    /// Centre frequency in Hz.
    pub freq_hz: f64,
    /// Peak power in dB of the spectrum's units.
    pub power_db: f64,
    /// Peak over the CFAR noise estimate, dB.
    pub snr_db: f64,
    /// Bandwidth between the band-edge crossings, Hz.
    pub bandwidth_hz: f64,
    /// Start of the first spectrum of the track.
    pub first_seen_ns: i64,
    /// End of the last spectrum of the track.
    pub last_seen_ns: i64,
    /// Bins over threshold.
    pub bins: u64,
}

impl Detection {
    /// The `detection` message (agreed fields, then `index`).
    pub fn to_message(&self) -> Message {
        Message::new("detection")
            .with("time_ns", Value::Time(self.time_ns))
            .with("freq_hz", self.freq_hz)
            .with("power_db", self.power_db)
            .with("snr_db", self.snr_db)
            .with("bandwidth_hz", self.bandwidth_hz)
            .with("first_seen_ns", Value::Time(self.first_seen_ns))
            .with("last_seen_ns", Value::Time(self.last_seen_ns))
            .with("bins", self.bins)
            .with("index", self.index)
    }
}

struct Track {
    freq_hz: f64,
    bandwidth_hz: f64,
    first_ns: i64,
    missed: u32,
    seen: bool,
    /// Observations so far and the sums of their frequency, bandwidth and SNR.
    count: f64,
    sums: [f64; 3],
    /// The summary for `track` output: means, the strongest power, the most bins.
    best: Detection,
}

impl Track {
    fn observe(&mut self, d: &Detection) {
        self.count += 1.0;
        self.sums[0] += d.freq_hz;
        self.sums[1] += d.bandwidth_hz;
        self.sums[2] += d.snr_db;
        let b = &mut self.best;
        b.freq_hz = self.sums[0] / self.count;
        b.bandwidth_hz = self.sums[1] / self.count;
        b.snr_db = self.sums[2] / self.count;
        b.power_db = b.power_db.max(d.power_db);
        b.bins = b.bins.max(d.bins);
        b.first_seen_ns = self.first_ns;
        b.last_seen_ns = d.last_seen_ns;
    }
}

/// Tracks detections across spectra.
pub struct Tracker {
    tracks: Vec<Track>,
    hold: u32,
}

impl Tracker {
    /// Tracks survive `hold` spectra without a detection.
    pub fn new(hold: u32) -> Tracker {
        Tracker {
            tracks: Vec::new(),
            hold,
        }
    }

    /// Matches the detections of one spectrum (`tol_hz`: the least match distance), sets
    /// their `first_seen_ns`, and moves the tracks that ended into `ended`.
    pub fn update(&mut self, dets: &mut [Detection], tol_hz: f64, ended: &mut Vec<Detection>) {
        for t in &mut self.tracks {
            t.seen = false;
        }
        // Strongest first, so a weak neighbour does not steal a strong signal's track.
        let mut order: Vec<usize> = (0..dets.len()).collect();
        order.sort_by(|a, b| dets[*b].power_db.total_cmp(&dets[*a].power_db));
        for i in order {
            let d = &mut dets[i];
            let best = self
                .tracks
                .iter_mut()
                .filter(|t| !t.seen)
                .map(|t| ((t.freq_hz - d.freq_hz).abs(), t))
                .filter(|(df, t)| *df <= tol_hz.max(0.5 * t.bandwidth_hz.max(d.bandwidth_hz)))
                .min_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((_, t)) => {
                    t.seen = true;
                    t.missed = 0;
                    t.freq_hz = d.freq_hz;
                    t.bandwidth_hz = d.bandwidth_hz;
                    d.first_seen_ns = t.first_ns;
                    t.observe(d);
                }
                None => {
                    let mut t = Track {
                        freq_hz: d.freq_hz,
                        bandwidth_hz: d.bandwidth_hz,
                        first_ns: d.first_seen_ns,
                        missed: 0,
                        seen: true,
                        count: 0.0,
                        sums: [0.0; 3],
                        best: d.clone(),
                    };
                    t.observe(d);
                    self.tracks.push(t);
                }
            }
        }
        let hold = self.hold;
        self.tracks.retain_mut(|t| {
            if !t.seen {
                t.missed += 1;
            }
            if t.missed > hold {
                ended.push(t.best.clone());
                false
            } else {
                true
            }
        });
    }

    /// Ends every track (end of stream).
    pub fn finish(&mut self, ended: &mut Vec<Detection>) {
        ended.extend(self.tracks.drain(..).map(|t| t.best));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(t: i64, f: f64, p: f64) -> Detection {
        Detection {
            time_ns: t,
            index: 0,
            freq_hz: f,
            power_db: p,
            snr_db: 20.0,
            bandwidth_hz: 100.0,
            first_seen_ns: t,
            last_seen_ns: t + 10,
            bins: 3,
        }
    }

    #[test]
    fn tracks_carry_first_seen_and_end_after_hold() {
        let mut tr = Tracker::new(1);
        let mut ended = Vec::new();
        tr.update(&mut [det(0, 1000.0, -10.0)], 50.0, &mut ended);
        let mut d = [det(100, 1020.0, -5.0), det(100, 5000.0, -20.0)];
        tr.update(&mut d, 50.0, &mut ended);
        assert_eq!(d[0].first_seen_ns, 0);
        assert_eq!(d[1].first_seen_ns, 100);
        tr.update(&mut [], 50.0, &mut ended); // missed once: kept
        assert!(ended.is_empty());
        tr.update(&mut [], 50.0, &mut ended); // missed twice: ended
        assert_eq!(ended.len(), 2);
        // The track's summary: mean frequency, strongest power, first and last seen.
        let first = ended.iter().find(|d| d.freq_hz == 1010.0).unwrap();
        assert_eq!((first.first_seen_ns, first.last_seen_ns), (0, 110));
        assert_eq!(first.power_db, -5.0);
        tr.update(&mut [det(400, 1000.0, -10.0)], 50.0, &mut ended);
        tr.finish(&mut ended);
        assert_eq!(ended.len(), 3);
        assert_eq!(
            det(1, 2.0, 3.0).to_message().to_json().to_string(),
            r#"{"kind":"detection","time_ns":1,"freq_hz":2.0,"power_db":3.0,"snr_db":20.0,"bandwidth_hz":100.0,"first_seen_ns":1,"last_seen_ns":11,"bins":3,"index":0}"#
        );
    }
}
