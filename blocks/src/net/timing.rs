//! RTP time: extending 32-bit RTP timestamps to 64 bits across wraps, and mapping a
//! timestamp to UTC from radiod's GPS_TIME / RTP_TIMESNAP pair or from the system clock.
//!
//! `unix_ns = GPS_TIME + 1e9·(315964800 − leap) + 1e9·(int32)(ts − RTP_TIMESNAP) / rate`
//! (315964800 s is 1980-01-06T00:00:00Z, the GPS epoch; GPS time runs `leap` seconds ahead
//! of UTC, 18 s since 2017).

use flow_framework::tag::TimeSource;

/// Seconds from the Unix epoch to the GPS epoch (1980-01-06T00:00:00Z).
pub const GPS_EPOCH_UNIX_S: i64 = 315_964_800;
/// GPS − UTC in seconds since 2017-01-01 (radiod's `GPS_UTC_OFFSET`).
pub const DEFAULT_LEAP_SECONDS: i32 = 18;

/// Converts GPS-scale ns since the GPS epoch to Unix ns (UTC).
pub fn gps_to_unix_ns(gps_ns: i64, leap_seconds: i32) -> i64 {
    gps_ns + (GPS_EPOCH_UNIX_S - i64::from(leap_seconds)) * 1_000_000_000
}

/// Converts Unix ns (UTC) to GPS-scale ns since the GPS epoch.
pub fn unix_to_gps_ns(unix_ns: i64, leap_seconds: i32) -> i64 {
    unix_ns - (GPS_EPOCH_UNIX_S - i64::from(leap_seconds)) * 1_000_000_000
}

/// Where the extended timestamp of a stream's first packet is placed, so that packets a
/// little older than the first one still have a positive extended timestamp.
pub const EXT_ORIGIN: u64 = 1 << 32;

/// Extends a 32-bit timestamp to the 64-bit value nearest to `reference` (a recent extended
/// timestamp of the same stream): correct as long as the two are within 2^31 samples.
pub fn extend(reference: u64, ts: u32) -> u64 {
    let delta = i64::from(ts.wrapping_sub(reference as u32) as i32);
    reference.saturating_add_signed(delta)
}

/// A mapping from extended RTP timestamps to UTC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeMap {
    /// An extended timestamp...
    pub anchor_ts: u64,
    /// ...and the Unix time (ns) of that sample.
    pub anchor_ns: i64,
    /// Sample rate in Hz.
    pub rate: f64,
    /// Where the anchor came from.
    pub source: TimeSource,
}

impl TimeMap {
    /// The mapping given by a status packet's GPS_TIME and RTP_TIMESNAP; `reference` is a
    /// recent extended timestamp of the stream (to extend the snapshot).
    pub fn from_status(
        gps_time_ns: i64,
        timesnap: u32,
        reference: u64,
        rate: f64,
        leap_seconds: i32,
    ) -> Self {
        Self::from_gps(gps_time_ns, extend(reference, timesnap), rate, leap_seconds)
    }

    /// The mapping "the sample with extended timestamp `anchor_ts` was taken at GPS time
    /// `gps_time_ns`".
    pub fn from_gps(gps_time_ns: i64, anchor_ts: u64, rate: f64, leap_seconds: i32) -> Self {
        TimeMap {
            anchor_ts,
            anchor_ns: gps_to_unix_ns(gps_time_ns, leap_seconds),
            rate,
            source: TimeSource::Gpsdo,
        }
    }

    /// Unix ns of the sample with extended timestamp `ts`.
    pub fn ns_at(&self, ts: u64) -> i64 {
        let delta = i128::from(ts) - i128::from(self.anchor_ts);
        let offset = if self.rate.fract() == 0.0 && self.rate >= 1.0 {
            let r = self.rate as i128;
            // Rounded integer division (toward nearest) in ns.
            let num = delta * 1_000_000_000;
            (num + num.signum() * r / 2) / r
        } else {
            (delta as f64 * 1e9 / self.rate).round() as i128
        };
        self.anchor_ns.saturating_add(offset as i64)
    }

    /// Difference in ns between this mapping and `other` at timestamp `ts`.
    pub fn offset_from(&self, other: &TimeMap, ts: u64) -> i64 {
        self.ns_at(ts) - other.ns_at(ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_across_the_wrap_both_ways() {
        let r = EXT_ORIGIN + u64::from(u32::MAX) - 10; // just before a wrap
        assert_eq!(extend(r, 5), EXT_ORIGIN + (1 << 32) + 5);
        assert_eq!(extend(r, u32::MAX - 20), r - 10);
        let after = EXT_ORIGIN + (1 << 32) + 3;
        assert_eq!(extend(after, u32::MAX), EXT_ORIGIN + u64::from(u32::MAX));
        assert_eq!(extend(EXT_ORIGIN, 0), EXT_ORIGIN);
        // Many wraps in a row (59.6 h each at 20 kHz) keep counting.
        let mut ext = EXT_ORIGIN;
        for _ in 0..10 {
            for _ in 0..4 {
                ext = extend(ext, (ext as u32).wrapping_add(1 << 30));
            }
        }
        assert_eq!(ext, EXT_ORIGIN + 10 * (1 << 32));
    }

    #[test]
    fn status_mapping_follows_the_formula() {
        // GPS_TIME of 2025-12-06T14:44:00Z is unix − 315964800 + 18 s.
        let unix_s = 1_765_032_240i64;
        let gps_ns = (unix_s - GPS_EPOCH_UNIX_S + 18) * 1_000_000_000;
        let m = TimeMap::from_status(gps_ns, 0xffff_ff00, EXT_ORIGIN + 0x100, 20_000.0, 18);
        assert_eq!(m.anchor_ts, EXT_ORIGIN - 0x100);
        assert_eq!(m.anchor_ns, unix_s * 1_000_000_000);
        // 0x200 samples after the snapshot, across the wrap: 25.6 ms later.
        assert_eq!(
            m.ns_at(EXT_ORIGIN + 0x100),
            unix_s * 1_000_000_000 + 25_600_000
        );
        assert_eq!(
            m.ns_at(EXT_ORIGIN - 0x100 - 1),
            unix_s * 1_000_000_000 - 50_000
        );
        assert_eq!(unix_to_gps_ns(m.anchor_ns, 18), gps_ns);
    }

    #[test]
    fn fractional_rates_round_to_the_nearest_ns() {
        let m = TimeMap {
            anchor_ts: 0,
            anchor_ns: 0,
            rate: 3.0,
            source: TimeSource::SystemClock,
        };
        assert_eq!(m.ns_at(1), 333_333_333);
        assert_eq!(m.ns_at(2), 666_666_667);
        let f = TimeMap { rate: 2.5, ..m };
        assert_eq!(f.ns_at(1), 400_000_000);
        assert_eq!(m.offset_from(&f, 1), -66_666_667);
    }
}
