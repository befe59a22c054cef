//! The upstream watch of `rtp_source`: notices when data stops arriving (radiod stopped or
//! restarting, the network or the multicast membership lost), says so once — a log line,
//! degraded health, the `silences` counter — rejoins the multicast groups periodically
//! while it lasts, and says once when data flows again. A silence is never an error: the
//! source keeps running, and the stream continues after a gap when data returns.

use std::time::{Duration, Instant};

use flow_framework::prelude::*;

/// What the watch asks of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Leave and join the multicast groups again.
    Rejoin,
}

/// Watches the arrival of data packets.
pub struct Upstream {
    stale_after: Duration,
    rejoin_every: Duration,
    started: Instant,
    silent_since: Option<Instant>,
    last_rejoin: Option<Instant>,
    health: Option<HealthHandle>,
    silences: Counter,
    rejoins: Counter,
    name: String,
}

impl Upstream {
    /// A watch that calls `stale_after` without data a silence and asks for a rejoin every
    /// `rejoin_every` while it lasts.
    pub fn new(stale_after: Duration, rejoin_every: Duration) -> Self {
        Upstream {
            stale_after,
            rejoin_every,
            started: Instant::now(),
            silent_since: None,
            last_rejoin: None,
            health: None,
            silences: Counter::default(),
            rejoins: Counter::default(),
            name: String::new(),
        }
    }

    /// Takes the block's counters and health.
    pub fn start(&mut self, ctx: &BlockContext) {
        self.silences = ctx.counter("silences");
        self.rejoins = ctx.counter("rejoins");
        self.health = Some(ctx.health());
        self.name = ctx.name().to_string();
        self.started = Instant::now();
    }

    /// True while data is missing.
    pub fn is_silent(&self) -> bool {
        self.silent_since.is_some()
    }

    /// Data arrived at `now`.
    pub fn on_data(&mut self, now: Instant) {
        if let Some(since) = self.silent_since.take() {
            // As loud as the silence was, so the log shows both ends of it.
            tracing::warn!(block = %self.name, after_s = format!("{:.1}", now.duration_since(since).as_secs_f64()),
                "rtp_source: data flows again");
            if let Some(h) = &self.health {
                h.ok();
            }
        }
        self.last_rejoin = None;
    }

    /// Checks at `now`, the last data having arrived at `last_data`; `multicast` says
    /// whether rejoining can help.
    pub fn tick(&mut self, now: Instant, last_data: Option<Instant>, multicast: bool) -> Action {
        let last = last_data.unwrap_or(self.started);
        if now.saturating_duration_since(last) < self.stale_after {
            return Action::None;
        }
        if self.silent_since.is_none() {
            self.silent_since = Some(last);
            self.silences.inc();
            let what = if last_data.is_some() {
                "no RTP data"
            } else {
                "no RTP data yet"
            };
            let m = format!(
                "{what} for {:.0} s (radiod stopped or restarting, the network, or the multicast membership lost){}",
                now.duration_since(last).as_secs_f64(),
                if multicast { "; rejoining the group periodically" } else { "" }
            );
            tracing::warn!(block = %self.name, "rtp_source: {m}");
            if let Some(h) = &self.health {
                h.degraded(&m);
            }
        }
        let due = self
            .last_rejoin
            .is_none_or(|t| now.saturating_duration_since(t) >= self.rejoin_every);
        if multicast && due {
            self.last_rejoin = Some(now);
            self.rejoins.inc();
            Action::Rejoin
        } else {
            Action::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::metrics::{BlockMetrics, Health};
    use std::sync::Arc;

    #[test]
    fn a_silence_is_reported_once_rejoins_periodically_and_ends_with_data() {
        let m = Arc::new(BlockMetrics::new(0, 1));
        let mut u = Upstream::new(Duration::from_secs(5), Duration::from_secs(10));
        u.start(&BlockContext::new("rx", m.clone()));
        let t = Instant::now();
        u.on_data(t);
        assert_eq!(
            u.tick(t + Duration::from_secs(4), Some(t), true),
            Action::None
        );
        assert_eq!(
            u.tick(t + Duration::from_secs(5), Some(t), true),
            Action::Rejoin
        );
        assert_eq!(m.health().0, Health::Degraded);
        assert!(
            m.health().1.starts_with("no RTP data for 5 s"),
            "{}",
            m.health().1
        );
        assert_eq!(
            u.tick(t + Duration::from_secs(9), Some(t), true),
            Action::None
        );
        assert_eq!(
            u.tick(t + Duration::from_secs(15), Some(t), true),
            Action::Rejoin
        );
        assert_eq!(
            (m.counter("silences").get(), m.counter("rejoins").get()),
            (1, 2)
        );
        u.on_data(t + Duration::from_secs(16));
        assert_eq!(m.health().0, Health::Ok);
        assert!(!u.is_silent());
        // Unicast: reported, nothing to rejoin.
        assert_eq!(
            u.tick(
                t + Duration::from_secs(30),
                Some(t + Duration::from_secs(16)),
                false
            ),
            Action::None
        );
        assert_eq!(m.counter("silences").get(), 2);
    }
}
