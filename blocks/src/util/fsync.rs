//! The fsync policy parameter of storing sinks (`fsync = "always" | "never" | "<interval>"`)
//! and a small tracker that says when the next sync is due.
//!
//! What each policy risks on power loss (a kill -9 loses nothing already written, since the
//! kernel holds it): `always` loses nothing acknowledged; an interval loses at most that
//! interval of data; `never` leaves it to the kernel (typically up to 30 s on Linux).

use std::fmt;
use std::time::{Duration, Instant};

/// When a sink forces its data to stable storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// After every write.
    Always,
    /// At most this long after data was written.
    Interval(Duration),
    /// Only when the sink closes its file.
    #[default]
    Never,
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::Always => f.write_str("always"),
            FsyncPolicy::Never => f.write_str("never"),
            FsyncPolicy::Interval(d) => write!(f, "{}", humantime::format_duration(*d)),
        }
    }
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            other => humantime::parse_duration(other)
                .map(FsyncPolicy::Interval)
                .map_err(|e| format!("fsync must be \"always\", \"never\" or an interval like \"1s\" ({other}: {e})")),
        }
    }
}

impl serde::Serialize for FsyncPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FsyncPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for FsyncPolicy {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FsyncPolicy".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "\"always\", \"never\", or an interval such as \"1s\"",
            "examples": ["always", "1s", "never"]
        })
    }
}

/// Tracks when the next sync is due under a policy.
#[derive(Debug)]
pub struct SyncClock {
    policy: FsyncPolicy,
    dirty_since: Option<Instant>,
    syncs: flow_framework::metrics::Counter,
}

impl SyncClock {
    /// A clock for `policy`.
    pub fn new(policy: FsyncPolicy) -> Self {
        SyncClock {
            policy,
            dirty_since: None,
            syncs: Default::default(),
        }
    }

    /// Notes a write; returns true if a sync is due now.
    pub fn wrote(&mut self) -> bool {
        let since = *self.dirty_since.get_or_insert_with(Instant::now);
        match self.policy {
            FsyncPolicy::Always => true,
            FsyncPolicy::Never => false,
            FsyncPolicy::Interval(d) => since.elapsed() >= d,
        }
    }

    /// True if unsynced data is older than the interval (call when idle).
    pub fn due(&self) -> bool {
        match (self.policy, self.dirty_since) {
            (FsyncPolicy::Interval(d), Some(t)) => t.elapsed() >= d,
            (FsyncPolicy::Always, Some(_)) => true,
            _ => false,
        }
    }

    /// When unsynced data becomes due under an interval policy: what a sink returns from
    /// `Block::wake_at`, so its data is synced on time even when nothing more arrives.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.policy, self.dirty_since) {
            (FsyncPolicy::Interval(d), Some(t)) => Some(t + d),
            _ => None,
        }
    }

    /// Counts the syncs of written data in `counter` (a sink's `fsyncs`).
    pub fn count_into(&mut self, counter: flow_framework::metrics::Counter) {
        self.syncs = counter;
    }

    /// Notes a completed sync.
    pub fn synced(&mut self) {
        if self.dirty_since.take().is_some() {
            self.syncs.inc();
        }
    }
}

/// For sink tests: runs `h` (whose input was just given data, with an `interval` fsync
/// policy and nothing after it) until its `fsyncs` counter shows the one sync the deadline
/// calls for, at most 10 s; checks it came no earlier than the interval, and that an idle
/// sink does not sync again.
#[cfg(test)]
pub(crate) fn assert_synced_once_after(
    h: &mut flow_framework::harness::Harness,
    interval: Duration,
) {
    let written = Instant::now();
    h.run();
    while h.counter("fsyncs") == 0 && written.elapsed() < Duration::from_secs(10) {
        h.run_for(Duration::from_millis(20));
    }
    assert_eq!(h.counter("fsyncs"), 1, "no sync at the deadline");
    assert!(written.elapsed() >= interval, "synced before the interval");
    h.run_for(interval * 2);
    assert_eq!(h.counter("fsyncs"), 1, "an idle sink synced again");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_policy_has_a_deadline_only_while_data_is_unsynced() {
        let mut c = SyncClock::new(FsyncPolicy::Interval(Duration::from_secs(5)));
        assert_eq!(c.deadline(), None);
        let before = Instant::now();
        assert!(!c.wrote());
        let d = c.deadline().expect("a deadline after a write");
        assert!(d >= before + Duration::from_secs(5));
        c.synced();
        assert_eq!(c.deadline(), None);
        let mut always = SyncClock::new(FsyncPolicy::Always);
        assert!(always.wrote());
        assert_eq!(always.deadline(), None, "`always` syncs at once, not later");
    }

    #[test]
    fn parses_policies_and_rejects_nonsense() {
        assert_eq!("always".parse(), Ok(FsyncPolicy::Always));
        assert_eq!(
            "250ms".parse(),
            Ok(FsyncPolicy::Interval(Duration::from_millis(250)))
        );
        let e = "sometimes".parse::<FsyncPolicy>().unwrap_err();
        assert!(
            e.starts_with(
                "fsync must be \"always\", \"never\" or an interval like \"1s\" (sometimes:"
            ),
            "{e}"
        );
    }

    #[test]
    fn clock_reports_due_syncs() {
        let mut always = SyncClock::new(FsyncPolicy::Always);
        assert!(always.wrote());
        let mut never = SyncClock::new(FsyncPolicy::Never);
        assert!(!never.wrote());
        let mut iv = SyncClock::new(FsyncPolicy::Interval(Duration::ZERO));
        assert!(iv.wrote());
        iv.synced();
        assert!(!iv.due());
    }
}
