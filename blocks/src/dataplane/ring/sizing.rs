//! How big a ring must be to hold a span of time: data bytes plus per-record overhead, and
//! enough index entries for the records that span holds.

/// Bytes of record header plus Arrow IPC metadata assumed per record when sizing.
pub const RECORD_OVERHEAD: u64 = 512;

/// Data capacity and index entries for `seconds` of a stream at `rate` items/s of
/// `item_size` bytes, written in records of at least `min_rows` rows on average.
pub fn for_stream(seconds: f64, rate: f64, item_size: usize, min_rows: usize) -> (u64, u64) {
    let items = (seconds * rate).ceil().max(1.0);
    let records = (items / min_rows.max(1) as f64).ceil().max(16.0);
    let bytes = items * item_size as f64 + records * RECORD_OVERHEAD as f64;
    ((bytes * 1.05) as u64, records as u64 + 16)
}

/// Data capacity and index entries for `seconds` of messages at `per_second` messages/s,
/// each about `row_bytes` encoded, in records of one work call each.
pub fn for_messages(seconds: f64, per_second: f64, row_bytes: u64) -> (u64, u64) {
    let records = (seconds * per_second).ceil().max(16.0);
    let bytes = records * (row_bytes + RECORD_OVERHEAD) as f64;
    ((bytes * 1.25) as u64, records as u64 + 16)
}

/// Index entries for a ring sized in bytes: one per 512 bytes (records smaller than that
/// on average push old ones out by count before the bytes are used).
pub fn entries_for_bytes(bytes: u64) -> u64 {
    (bytes / RECORD_OVERHEAD).max(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_minutes_of_c32_at_20khz() {
        let (bytes, entries) = for_stream(300.0, 20_000.0, 8, 1024);
        assert!((48_000_000..56_000_000).contains(&bytes), "{bytes}");
        assert!(entries >= 5860, "{entries}");
        let (b, e) = for_messages(300.0, 10.0, 4096);
        assert!(b >= 3000 * 4096 && e >= 3000);
        assert_eq!(entries_for_bytes(1 << 20), 2048);
    }
}
