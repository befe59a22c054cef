//! The reorder window of one RTP stream: packets are keyed by their extended timestamp,
//! held while a hole before them may still fill, and released in timestamp order. A hole
//! that does not fill within the window becomes a gap (samples lost, never silently);
//! packets for already released or abandoned ranges are duplicates or late.
//!
//! The window closes a hole when any of these holds: more than `max_packets` are held, the
//! held data reaches `max_samples` past the hole, or the packet after the hole has waited
//! `max_hold` of wall time. A packet that lands further ahead than the window (an outage,
//! or a corrupted timestamp) is only believed when the packet after it continues it; a lone
//! one is counted as malformed. Overlapping packets are trimmed so no sample is emitted twice.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use flow_framework::prelude::C32;

use super::timing::{extend, EXT_ORIGIN};

/// Limits of the window.
#[derive(Debug, Clone, Copy)]
pub struct ReorderConfig {
    /// Most packets held behind a hole.
    pub max_packets: usize,
    /// Most samples held past a hole (also the largest jump accepted without confirmation).
    pub max_samples: u64,
    /// Longest wall time a hole is waited for.
    pub max_hold: Duration,
    /// A packet this many samples behind the stream is not a straggler but a candidate
    /// restart of the sender's timestamps.
    pub max_behind: u64,
    /// Sample rate, to compare a timestamp jump with the wall time that passed.
    pub rate: f64,
}

/// A received packet.
#[derive(Debug)]
struct Packet {
    /// Stream timestamp of the first sample (the extended RTP timestamp plus the shift of
    /// any restarts of the sender).
    ts: u64,
    /// Extended RTP timestamp.
    raw: u64,
    /// RTP sequence number.
    seq: u16,
    /// Decoded samples.
    samples: Vec<C32>,
    /// When it arrived.
    arrived: Instant,
}

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Taken into the window; `reordered` if it arrived after a later packet.
    Accepted {
        /// It arrived after a packet with a later timestamp.
        reordered: bool,
    },
    /// Its samples were already received.
    Duplicate,
    /// Its samples were already declared lost (it arrived after the window closed).
    Late,
    /// Far from the stream: held until the next packet confirms it (then it is adopted)
    /// or not (then it is discarded and counted by [`Reorder::take_discarded`]).
    Held,
    /// Confirmed the held packet as the start of data after an outage: both are taken and
    /// the samples in between are a gap. `adopted`: samples of the held packet.
    Jumped {
        /// Samples of the adopted packet.
        adopted: u64,
    },
    /// Confirmed a restart of the sender's timestamps (or a jump that does not match the
    /// time that passed): the stream continues after a gap of the wall time that passed,
    /// and its time mapping must be learned again. `adopted` as for `Jumped`.
    Resync {
        /// Samples of the adopted packet.
        adopted: u64,
    },
}

/// What the window releases, in stream order.
#[derive(Debug, PartialEq)]
pub enum Release<'a> {
    /// `n` samples are missing before the next data.
    Gap(u64),
    /// Samples starting at extended timestamp `ts`.
    Data {
        /// Extended timestamp of `samples[0]`.
        ts: u64,
        /// The samples.
        samples: &'a [C32],
    },
}

/// Released in order, waiting to be handed out.
#[derive(Debug)]
enum Ready {
    Gap(u64),
    Data { skip: usize, p: Packet },
}

/// A silence this long makes the next packet that does not continue the stream a
/// candidate outage or restart (confirmed by the packet after it).
pub const RESTART_SILENCE: Duration = Duration::from_secs(1);

/// How many recently abandoned ranges are remembered (to tell late from duplicate).
const LOST_MEMORY: usize = 64;

/// The reorder window of one stream.
#[derive(Debug)]
pub struct Reorder {
    cfg: ReorderConfig,
    next: Option<u64>,
    pending: BTreeMap<u64, Packet>,
    highest: u64,
    lost: VecDeque<(u64, u64)>,
    suspect: Option<Packet>,
    ready: VecDeque<Ready>,
    pool: Vec<Vec<C32>>,
    /// Newest extended RTP timestamp accepted (the reference for extending the next).
    raw_ref: Option<u64>,
    /// Stream timestamp − extended RTP timestamp (changes at a resync).
    shift: i64,
    last_arrival: Option<Instant>,
    discarded: u64,
}

impl Reorder {
    /// An empty window; the first packet pushed starts the stream.
    pub fn new(cfg: ReorderConfig) -> Self {
        Reorder {
            cfg,
            next: None,
            pending: BTreeMap::new(),
            highest: 0,
            lost: VecDeque::new(),
            suspect: None,
            ready: VecDeque::new(),
            pool: Vec::new(),
            raw_ref: None,
            shift: 0,
            last_arrival: None,
            discarded: 0,
        }
    }

    /// The extended timestamp of the next sample to be released (None before the first).
    pub fn next_ts(&self) -> Option<u64> {
        self.next
    }

    /// The stream timestamp of a 32-bit RTP timestamp near the newest packets (e.g. a
    /// status packet's RTP_TIMESNAP); None before the first packet.
    pub fn stream_ts(&self, ts32: u32) -> Option<u64> {
        self.raw_ref
            .map(|r| extend(r, ts32).saturating_add_signed(self.shift))
    }

    /// Held packets discarded (never confirmed) since the last call.
    pub fn take_discarded(&mut self) -> u64 {
        std::mem::take(&mut self.discarded)
    }

    /// A sample buffer from the pool (recycled from released packets).
    pub fn buffer(&mut self) -> Vec<C32> {
        let mut b = self.pool.pop().unwrap_or_default();
        b.clear();
        b
    }

    /// Number of packets held (behind holes or ready to be released).
    pub fn held(&self) -> usize {
        self.pending.len() + self.ready.len()
    }

    fn recycle(&mut self, p: Packet) {
        if self.pool.len() < 2 * self.cfg.max_packets + 8 {
            self.pool.push(p.samples);
        }
    }

    /// Offers a packet (its 32-bit RTP timestamp, sequence number and samples).
    pub fn push(&mut self, ts32: u32, seq: u16, samples: Vec<C32>, arrived: Instant) -> Verdict {
        let raw = self
            .raw_ref
            .map_or(EXT_ORIGIN + u64::from(ts32), |r| extend(r, ts32));
        let p = Packet {
            ts: raw.saturating_add_signed(self.shift),
            raw,
            seq,
            samples,
            arrived,
        };
        let end = p.ts + p.samples.len() as u64;
        let Some(next) = self.next else {
            self.next = Some(p.ts);
            self.highest = p.ts;
            self.take(p);
            return Verdict::Accepted { reordered: false };
        };
        if p.samples.is_empty() {
            self.recycle(p);
            return Verdict::Duplicate;
        }
        // After a silence, a packet that does not continue the stream is an outage or a
        // restarted sender, whichever direction and size its timestamp jumped: a radiod
        // restarted after a few seconds starts again at timestamps the old stream already
        // passed, which would otherwise read as duplicates.
        let silent = self
            .last_arrival
            .is_some_and(|t| p.arrived.saturating_duration_since(t) >= RESTART_SILENCE);
        if silent && p.ts != next && !self.pending.contains_key(&p.ts) {
            return self.offer_jump(p, next);
        }
        if end + self.cfg.max_behind < next {
            return self.offer_jump(p, next);
        }
        if end <= next {
            let late = self.lost.iter().any(|&(a, b)| p.ts < b && end > a);
            self.recycle(p);
            return if late {
                Verdict::Late
            } else {
                Verdict::Duplicate
            };
        }
        if self.pending.contains_key(&p.ts) {
            self.recycle(p);
            return Verdict::Duplicate;
        }
        let horizon = self.pending.keys().next().map_or(next, |&k| k.min(next));
        if p.ts > horizon + self.cfg.max_samples {
            return self.offer_jump(p, next);
        }
        if let Some(s) = self.suspect.take() {
            self.discarded += 1;
            self.recycle(s);
        }
        let reordered = p.ts < self.highest;
        self.take(p);
        Verdict::Accepted { reordered }
    }

    /// Takes an accepted packet into the window.
    fn take(&mut self, p: Packet) {
        self.highest = self.highest.max(p.ts);
        self.raw_ref = Some(self.raw_ref.map_or(p.raw, |r| r.max(p.raw)));
        self.last_arrival = Some(p.arrived);
        self.pending.insert(p.ts, p);
        // Count and span limits apply per packet, whatever the batching of releases.
        self.advance(None, false);
    }

    /// A packet far from the stream (`next`): believed once the next packet continues it.
    /// A jump forward that matches the wall time since the last packet is an outage (its
    /// samples are a gap); any other jump is a restart of the sender's timestamps.
    fn offer_jump(&mut self, p: Packet, next: u64) -> Verdict {
        let confirmed = self.suspect.as_ref().is_some_and(|s| {
            s.seq.wrapping_add(1) == p.seq && s.raw + s.samples.len() as u64 == p.raw
        });
        if !confirmed {
            if let Some(old) = self.suspect.replace(p) {
                self.discarded += 1;
                self.recycle(old);
            }
            return Verdict::Held;
        }
        let Some(mut s) = self.suspect.take() else {
            return Verdict::Held;
        };
        let adopted = s.samples.len() as u64;
        let elapsed = self.last_arrival.map_or(0.0, |t| {
            s.arrived.saturating_duration_since(t).as_secs_f64()
        });
        let elapsed = (elapsed * self.cfg.rate).round() as i64;
        let jump = s.ts as i64 - next as i64;
        let tolerance = self.cfg.max_samples as i64 + (self.cfg.rate * 0.5) as i64;
        if jump > 0 && (jump - elapsed).abs() <= tolerance {
            self.take(s);
            self.take(p);
            return Verdict::Jumped { adopted };
        }
        // Restart: what is held belongs to the old stream; the new one continues after the
        // wall time that passed.
        self.advance(None, true);
        let Some(next) = self.next else {
            return Verdict::Held;
        };
        let target = next + elapsed.max(0) as u64;
        self.shift += target as i64 - s.ts as i64;
        s.ts = target;
        let mut p = p;
        p.ts = target + s.samples.len() as u64;
        self.raw_ref = Some(p.raw);
        self.take(s);
        self.take(p);
        Verdict::Resync { adopted }
    }

    /// Moves what is in order to the ready queue, closing holes the window gives up on:
    /// by count and span always, by age given `now`, all of them when `flush`.
    fn advance(&mut self, now: Option<Instant>, flush: bool) {
        while let Some(mut next) = self.next {
            let Some((&ts, first)) = self.pending.first_key_value() else {
                break;
            };
            if ts > next {
                let newest_end = self
                    .pending
                    .last_key_value()
                    .map_or(ts, |(k, p)| k + p.samples.len() as u64);
                let give_up = flush
                    || self.pending.len() > self.cfg.max_packets
                    || newest_end - next > self.cfg.max_samples
                    || now.is_some_and(|t| {
                        t.saturating_duration_since(first.arrived) >= self.cfg.max_hold
                    });
                if !give_up {
                    break;
                }
                self.ready.push_back(Ready::Gap(ts - next));
                if self.lost.len() == LOST_MEMORY {
                    self.lost.pop_front();
                }
                self.lost.push_back((next, ts));
                next = ts;
            }
            let Some((_, p)) = self.pending.pop_first() else {
                break;
            };
            let skip = (next - p.ts) as usize;
            if skip < p.samples.len() {
                next = p.ts + p.samples.len() as u64;
                self.ready.push_back(Ready::Data { skip, p });
            } else {
                self.recycle(p);
            }
            self.next = Some(next);
        }
    }

    /// Releases what is in order, closing holes the window gives up on (all of them when
    /// `flush`). Calls `out` for each gap and data run.
    pub fn release(&mut self, now: Instant, flush: bool, mut out: impl FnMut(Release<'_>)) {
        self.advance(Some(now), flush);
        while let Some(r) = self.ready.pop_front() {
            match r {
                Ready::Gap(n) => out(Release::Gap(n)),
                Ready::Data { skip, p } => {
                    out(Release::Data {
                        ts: p.ts + skip as u64,
                        samples: &p.samples[skip..],
                    });
                    self.recycle(p);
                }
            }
        }
        if flush {
            if let Some(s) = self.suspect.take() {
                self.discarded += 1;
                self.recycle(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 10;

    fn cfg() -> ReorderConfig {
        ReorderConfig {
            max_packets: 4,
            max_samples: 100,
            max_hold: Duration::from_secs(3600),
            max_behind: 1000,
            rate: 1000.0,
        }
    }

    /// Packet k: RTP timestamp 1000 + k·N, samples whose value is their timestamp.
    fn push(r: &mut Reorder, k: u64, at: Instant) -> Verdict {
        push_ts(r, k, 1000 + k * N as u64, at)
    }

    fn push_ts(r: &mut Reorder, seq: u64, ts: u64, at: Instant) -> Verdict {
        let samples = (0..N)
            .map(|i| C32::new((ts + i as u64) as f32, 0.0))
            .collect();
        r.push(ts as u32, seq as u16, samples, at)
    }

    /// Releases and logs gaps and data runs (data as stream timestamps − EXT_ORIGIN).
    fn drain(r: &mut Reorder, flush: bool, at: Instant, log: &mut Vec<String>) {
        r.release(at, flush, |e| match e {
            Release::Gap(n) => log.push(format!("gap {n}")),
            Release::Data { ts, samples } => {
                let t = ts - EXT_ORIGIN;
                log.push(format!("{}..{}", t, t + samples.len() as u64));
            }
        });
    }

    #[test]
    fn in_order_packets_flow_straight_through() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        for k in 0..3 {
            assert_eq!(push(&mut r, k, t), Verdict::Accepted { reordered: false });
            drain(&mut r, false, t, &mut log);
        }
        assert_eq!(log, ["1000..1010", "1010..1020", "1020..1030"]);
        assert_eq!(r.next_ts(), Some(EXT_ORIGIN + 1030));
        assert_eq!(r.stream_ts(1000), Some(EXT_ORIGIN + 1000));
    }

    #[test]
    fn out_of_order_packets_are_placed_and_duplicates_dropped() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        push(&mut r, 0, t);
        push(&mut r, 2, t);
        drain(&mut r, false, t, &mut log);
        assert_eq!(push(&mut r, 1, t), Verdict::Accepted { reordered: true });
        assert_eq!(push(&mut r, 2, t), Verdict::Duplicate);
        drain(&mut r, false, t, &mut log);
        assert_eq!(push(&mut r, 1, t), Verdict::Duplicate);
        assert_eq!(log, ["1000..1010", "1010..1020", "1020..1030"]);
    }

    #[test]
    fn a_hole_becomes_a_gap_when_the_window_fills_and_the_straggler_is_late() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        push(&mut r, 0, t);
        for k in 2..=6 {
            push(&mut r, k, t);
            drain(&mut r, false, t, &mut log);
        }
        // Five packets held (> 4): the hole of packet 1 is abandoned.
        assert_eq!(
            log,
            [
                "1000..1010",
                "gap 10",
                "1020..1030",
                "1030..1040",
                "1040..1050",
                "1050..1060",
                "1060..1070"
            ]
        );
        assert_eq!(push(&mut r, 1, t), Verdict::Late);
        assert_eq!(push(&mut r, 3, t), Verdict::Duplicate);
    }

    #[test]
    fn a_hole_older_than_max_hold_is_closed_and_flush_closes_everything() {
        let t = Instant::now();
        let mut r = Reorder::new(ReorderConfig {
            max_hold: Duration::from_millis(50),
            ..cfg()
        });
        let mut log = Vec::new();
        push(&mut r, 0, t);
        push(&mut r, 2, t);
        drain(&mut r, false, t + Duration::from_millis(10), &mut log);
        assert_eq!(log, ["1000..1010"]);
        drain(&mut r, false, t + Duration::from_millis(60), &mut log);
        assert_eq!(log, ["1000..1010", "gap 10", "1020..1030"]);
        push(&mut r, 4, t);
        drain(&mut r, true, t, &mut log);
        assert_eq!(&log[3..], ["gap 10", "1040..1050"]);
    }

    #[test]
    fn overlapping_packets_are_trimmed() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        push(&mut r, 0, t);
        push_ts(&mut r, 1, 1005, t);
        drain(&mut r, false, t, &mut log);
        assert_eq!(log, ["1000..1010", "1010..1015"]);
    }

    #[test]
    fn a_lone_far_timestamp_is_not_believed() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        push(&mut r, 0, t);
        assert_eq!(push_ts(&mut r, 1, 9_000_000, t), Verdict::Held);
        let behind = u64::from(u32::MAX) - 5000; // wraps to 6,000 samples behind
        assert_eq!(push_ts(&mut r, 2, behind, t), Verdict::Held);
        assert_eq!(push(&mut r, 1, t), Verdict::Accepted { reordered: false });
        assert_eq!(r.take_discarded(), 2);
        drain(&mut r, false, t, &mut log);
        assert_eq!(log, ["1000..1010", "1010..1020"]);
    }

    #[test]
    fn an_outage_is_a_gap_of_the_time_that_passed() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        push(&mut r, 0, t);
        // 10 s later (10,000 samples at 1 kHz) the stream resumes where time says.
        let later = t + Duration::from_secs(10);
        assert_eq!(push(&mut r, 1000, later), Verdict::Held);
        assert_eq!(push(&mut r, 1001, later), Verdict::Jumped { adopted: 10 });
        drain(&mut r, false, later, &mut log);
        assert_eq!(
            log,
            ["1000..1010", "gap 9990", "11000..11010", "11010..11020"]
        );
    }

    #[test]
    fn a_sender_restart_continues_after_the_wall_time_that_passed() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        for k in 0..3 {
            push_ts(&mut r, k, 1_000_000 + k * N as u64, t);
        }
        // 2 s later the sender starts again at timestamp 0, sequence 0.
        let later = t + Duration::from_secs(2);
        assert_eq!(push_ts(&mut r, 0, 0, later), Verdict::Held);
        assert_eq!(
            push_ts(&mut r, 1, 10, later),
            Verdict::Resync { adopted: 10 }
        );
        assert_eq!(
            push_ts(&mut r, 2, 20, later),
            Verdict::Accepted { reordered: false }
        );
        // The old stream's packets are duplicates now; the old stream's times map nowhere.
        drain(&mut r, false, later, &mut log);
        assert_eq!(
            log,
            [
                "1000000..1000010",
                "1000010..1000020",
                "1000020..1000030",
                "gap 2000",
                "1002030..1002040",
                "1002040..1002050",
                "1002050..1002060"
            ]
        );
        assert_eq!(r.stream_ts(30), Some(EXT_ORIGIN + 1_002_060));
    }

    #[test]
    fn a_restart_after_a_silence_is_found_even_behind_the_old_stream() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        // The old stream ran 300 samples (well within max_behind of a restart at 0).
        for k in 0..30 {
            push_ts(
                &mut r,
                100 + k,
                k * N as u64,
                t + Duration::from_millis(10 * k),
            );
        }
        // 3 s of silence, then the sender starts again at timestamp 0, sequence 0.
        let later = t + Duration::from_millis(290 + 3000);
        assert_eq!(push_ts(&mut r, 0, 0, later), Verdict::Held);
        assert_eq!(
            push_ts(&mut r, 1, 10, later),
            Verdict::Resync { adopted: 10 }
        );
        drain(&mut r, false, later, &mut log);
        assert_eq!(log[29], "290..300");
        assert_eq!(log[30], "gap 3000", "{log:?}");
        assert_eq!(log[31], "3300..3310");
        assert_eq!(log.len(), 33);
    }

    #[test]
    fn stays_exact_across_many_random_orders() {
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..200 {
            let t = Instant::now();
            let mut r = Reorder::new(ReorderConfig {
                max_packets: 8,
                max_samples: 1000,
                max_hold: Duration::from_secs(3600),
                max_behind: 10_000,
                rate: 1000.0,
            });
            // 200 packets, some lost, some duplicated, locally shuffled within 3 positions.
            let mut order: Vec<u64> = (0..200).filter(|_| rng.random_bool(0.95)).collect();
            for i in 0..order.len() {
                let j = (i + rng.random_range(0..3)).min(order.len() - 1);
                order.swap(i, j);
            }
            let dups: Vec<u64> = order
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.05))
                .collect();
            order.extend(dups);
            let mut emitted = 0u64;
            let mut first = None::<u64>;
            let mut expect = None::<u64>;
            let mut check = |e: Release<'_>| match e {
                Release::Gap(n) => {
                    emitted += n;
                    expect = expect.map(|x| x + n);
                }
                Release::Data { ts, samples } => {
                    first.get_or_insert(ts);
                    assert_eq!(*expect.get_or_insert(ts), ts, "contiguous, nothing twice");
                    assert_eq!(samples[0].re as u64, ts - EXT_ORIGIN, "placed by timestamp");
                    emitted += samples.len() as u64;
                    expect = Some(ts + samples.len() as u64);
                }
            };
            for k in order {
                push(&mut r, k, t);
                r.release(t, false, &mut check);
            }
            r.release(t, true, &mut check);
            // Gaps plus data cover exactly the span from the first packet to the last.
            assert_eq!(Some(emitted), r.next_ts().zip(first).map(|(n, f)| n - f));
            assert_eq!(r.held(), 0);
        }
    }
}
