//! Rate-limited logging: a repeating warning is logged the first time, then at most once per
//! interval with the count of occurrences since ("malformed packet ×1,234 in the last 10 s"),
//! never once per packet.

use std::time::{Duration, Instant};

/// A log line that repeats with a count instead of flooding.
#[derive(Debug)]
pub struct RateLimited {
    what: String,
    interval: Duration,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    /// A limiter for lines about `what`, at most one per `interval`.
    pub fn new(what: impl Into<String>, interval: Duration) -> Self {
        RateLimited {
            what: what.into(),
            interval,
            last_logged: None,
            suppressed: 0,
        }
    }

    /// Counts an occurrence; returns the text to log now, if it is time to log.
    pub fn hit(&mut self, detail: &str) -> Option<String> {
        let now = Instant::now();
        match self.last_logged {
            Some(t) if now.duration_since(t) < self.interval => {
                self.suppressed += 1;
                None
            }
            Some(t) => {
                let n = self.suppressed + 1;
                self.suppressed = 0;
                self.last_logged = Some(now);
                Some(format!(
                    "{} ×{} in the last {} s (latest: {detail})",
                    self.what,
                    group_thousands(n),
                    now.duration_since(t).as_secs()
                ))
            }
            None => {
                self.last_logged = Some(now);
                Some(format!("{}: {detail}", self.what))
            }
        }
    }

    /// Counts an occurrence and logs it as a warning when due.
    pub fn warn(&mut self, detail: &str) {
        if let Some(line) = self.hit(detail) {
            tracing::warn!("{line}");
        }
    }

    /// Counts an occurrence and logs it as an error when due.
    pub fn error(&mut self, detail: &str) {
        if let Some(line) = self.hit(detail) {
            tracing::error!("{line}");
        }
    }
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Escapes bytes for a log line: printable ASCII as is, everything else as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_hit_logs_then_repeats_are_counted() {
        let mut r = RateLimited::new("malformed packet", Duration::from_secs(3600));
        assert_eq!(
            r.hit("short header").as_deref(),
            Some("malformed packet: short header")
        );
        assert_eq!(r.hit("x"), None);
        assert_eq!(r.hit("y"), None);
        r.last_logged = Some(Instant::now() - Duration::from_secs(3601));
        assert_eq!(
            r.hit("z").as_deref(),
            Some("malformed packet ×3 in the last 3601 s (latest: z)")
        );
    }

    #[test]
    fn formats_counts_and_bytes() {
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(12), "12");
        assert_eq!(escape_bytes(b"ok\r\n\xff"), "ok\\r\\n\\xff");
    }
}
