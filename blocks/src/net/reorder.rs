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

/// Limits of the window.
#[derive(Debug, Clone, Copy)]
pub struct ReorderConfig {
    /// Most packets held behind a hole.
    pub max_packets: usize,
    /// Most samples held past a hole (also the largest jump accepted without confirmation).
    pub max_samples: u64,
    /// Longest wall time a hole is waited for.
    pub max_hold: Duration,
}

/// A received packet.
#[derive(Debug)]
pub struct Packet {
    /// Extended timestamp of the first sample.
    pub ts: u64,
    /// RTP sequence number.
    pub seq: u16,
    /// Decoded samples.
    pub samples: Vec<C32>,
    /// When it arrived.
    pub arrived: Instant,
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
    /// Far ahead of the stream and not (yet) confirmed by a following packet.
    Suspect,
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
        }
    }

    /// The extended timestamp of the next sample to be released (None before the first).
    pub fn next_ts(&self) -> Option<u64> {
        self.next
    }

    /// The newest extended timestamp seen (a reference for extending 32-bit values).
    pub fn reference(&self) -> Option<u64> {
        self.next.map(|n| n.max(self.highest))
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

    /// Offers a packet to the window.
    pub fn push(&mut self, p: Packet) -> Verdict {
        let end = p.ts + p.samples.len() as u64;
        let Some(next) = self.next else {
            self.next = Some(p.ts);
            self.highest = p.ts;
            self.pending.insert(p.ts, p);
            self.advance(None, false);
            return Verdict::Accepted { reordered: false };
        };
        if end <= next || p.samples.is_empty() {
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
            return self.offer_jump(p);
        }
        self.suspect = None;
        let reordered = p.ts < self.highest;
        self.highest = self.highest.max(p.ts);
        self.pending.insert(p.ts, p);
        // Count and span limits apply per packet, whatever the batching of releases.
        self.advance(None, false);
        Verdict::Accepted { reordered }
    }

    /// A packet far ahead of the window: believed once the next packet continues it.
    fn offer_jump(&mut self, p: Packet) -> Verdict {
        let confirmed = self.suspect.as_ref().is_some_and(|s| {
            s.seq.wrapping_add(1) == p.seq && s.ts + s.samples.len() as u64 == p.ts
        });
        if !confirmed {
            if let Some(old) = self.suspect.replace(p) {
                self.recycle(old);
            }
            return Verdict::Suspect;
        }
        if let Some(s) = self.suspect.take() {
            self.highest = self.highest.max(p.ts);
            self.pending.insert(s.ts, s);
            self.pending.insert(p.ts, p);
            self.advance(None, false);
        }
        // Everything before the jump can no longer be waited for.
        Verdict::Accepted { reordered: false }
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
        }
    }

    /// Packet k: samples k*N .. k*N+N with value = their timestamp.
    fn pkt(k: u64, at: Instant) -> Packet {
        Packet {
            ts: 1000 + k * N as u64,
            seq: k as u16,
            samples: (0..N)
                .map(|i| C32::new((1000 + k * N as u64 + i as u64) as f32, 0.0))
                .collect(),
            arrived: at,
        }
    }

    /// Runs the window and returns (gaps and data) as a flat log: data as its sample values.
    fn drain(r: &mut Reorder, flush: bool, at: Instant, log: &mut Vec<String>) {
        r.release(at, flush, |e| match e {
            Release::Gap(n) => log.push(format!("gap {n}")),
            Release::Data { ts, samples } => {
                assert_eq!(samples[0].re as u64, ts, "data placed by timestamp");
                log.push(format!("{}..{}", ts, ts + samples.len() as u64));
            }
        });
    }

    #[test]
    fn in_order_packets_flow_straight_through() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        for k in 0..3 {
            assert_eq!(r.push(pkt(k, t)), Verdict::Accepted { reordered: false });
            drain(&mut r, false, t, &mut log);
        }
        assert_eq!(log, ["1000..1010", "1010..1020", "1020..1030"]);
        assert_eq!(r.next_ts(), Some(1030));
    }

    #[test]
    fn out_of_order_packets_are_placed_and_duplicates_dropped() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        r.push(pkt(0, t));
        r.push(pkt(2, t));
        drain(&mut r, false, t, &mut log);
        assert_eq!(r.push(pkt(1, t)), Verdict::Accepted { reordered: true });
        assert_eq!(r.push(pkt(2, t)), Verdict::Duplicate);
        drain(&mut r, false, t, &mut log);
        assert_eq!(r.push(pkt(1, t)), Verdict::Duplicate);
        assert_eq!(log, ["1000..1010", "1010..1020", "1020..1030"]);
    }

    #[test]
    fn a_hole_becomes_a_gap_when_the_window_fills_and_the_straggler_is_late() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        r.push(pkt(0, t));
        for k in 2..=6 {
            r.push(pkt(k, t));
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
        assert_eq!(r.push(pkt(1, t)), Verdict::Late);
        assert_eq!(r.push(pkt(3, t)), Verdict::Duplicate);
    }

    #[test]
    fn a_hole_older_than_max_hold_is_closed_and_flush_closes_everything() {
        let t = Instant::now();
        let mut r = Reorder::new(ReorderConfig {
            max_hold: Duration::from_millis(50),
            ..cfg()
        });
        let mut log = Vec::new();
        r.push(pkt(0, t));
        r.push(pkt(2, t));
        drain(&mut r, false, t + Duration::from_millis(10), &mut log);
        assert_eq!(log, ["1000..1010"]);
        drain(&mut r, false, t + Duration::from_millis(60), &mut log);
        assert_eq!(log, ["1000..1010", "gap 10", "1020..1030"]);
        r.push(pkt(4, t));
        drain(&mut r, true, t, &mut log);
        assert_eq!(&log[3..], ["gap 10", "1040..1050"]);
    }

    #[test]
    fn overlapping_packets_are_trimmed() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        r.push(pkt(0, t));
        let mut half = pkt(1, t);
        half.ts -= 5;
        for (i, s) in half.samples.iter_mut().enumerate() {
            s.re = (half.ts + i as u64) as f32;
        }
        r.push(half);
        drain(&mut r, false, t, &mut log);
        assert_eq!(log, ["1000..1010", "1010..1015"]);
    }

    #[test]
    fn a_far_jump_needs_a_following_packet_to_be_believed() {
        let t = Instant::now();
        let mut r = Reorder::new(cfg());
        let mut log = Vec::new();
        r.push(pkt(0, t));
        drain(&mut r, false, t, &mut log);
        // A lone corrupted timestamp far ahead: not believed, the stream goes on.
        assert_eq!(r.push(pkt(1_000_000, t)), Verdict::Suspect);
        assert_eq!(r.push(pkt(1, t)), Verdict::Accepted { reordered: false });
        drain(&mut r, false, t, &mut log);
        assert_eq!(log, ["1000..1010", "1010..1020"]);
        // An outage: the stream resumes 1000 packets later and continues from there.
        assert_eq!(r.push(pkt(1000, t)), Verdict::Suspect);
        let mut next = pkt(1001, t);
        next.seq = 1001;
        assert_eq!(r.push(next), Verdict::Accepted { reordered: false });
        drain(&mut r, false, t, &mut log);
        assert_eq!(&log[2..], ["gap 9980", "11000..11010", "11010..11020"]);
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
                    assert_eq!(samples[0].re as u64, ts, "placed by timestamp");
                    emitted += samples.len() as u64;
                    expect = Some(ts + samples.len() as u64);
                }
            };
            for k in order {
                r.push(pkt(k, t));
                r.release(t, false, &mut check);
            }
            r.release(t, true, &mut check);
            // Gaps plus data cover exactly the span from the first packet to the last.
            assert_eq!(Some(emitted), r.next_ts().zip(first).map(|(n, f)| n - f));
            assert_eq!(r.held(), 0);
        }
    }
}
