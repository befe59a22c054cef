//! Parameters of `rtp_source` (its TOML schema and docs) and their validation.

use std::time::Duration;

use flow_framework::prelude::*;

use super::encoding::Encoding;
use super::timing::DEFAULT_LEAP_SECONDS;
use super::udp::check_endpoint;

/// One channel of `rtp_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelParams {
    /// RTP SSRC of the channel (radiod: the frequency in kHz).
    pub ssrc: u32,
    /// Name of the channel's output port (`rx.NAME` in `inputs`): letters, digits, `_`, `-`.
    pub name: String,
    /// Centre frequency in Hz if radiod's status does not say (default: SSRC × 1000).
    #[serde(default)]
    pub frequency_hz: Option<f64>,
    /// Sample rate in Hz if radiod's status does not say (overrides the block's default).
    #[serde(default)]
    pub sample_rate: Option<f64>,
    /// Payload encoding if radiod's status does not say (overrides the block's default).
    #[serde(default)]
    pub encoding: Option<Encoding>,
}

/// Parameters of `rtp_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RtpSourceParams {
    /// Where the data arrives: a multicast group to join, or a local address to bind
    /// (`0.0.0.0` for any), as `host:port` (port 5004 if left out).
    pub address: String,
    /// radiod's status stream, `host:port` (default: the data address's host, port 5006);
    /// `""` turns status off (format and time then come from the parameters and the clock).
    #[serde(default)]
    pub status: Option<String>,
    /// Interface to join multicast groups on: an IPv4 address of it or its name (`eth0`);
    /// empty for the kernel's choice.
    #[serde(default)]
    pub interface: String,
    /// The channels to record, one output each.
    pub channels: Vec<ChannelParams>,
    /// Sample rate in Hz for channels whose status has not arrived.
    #[serde(default)]
    pub sample_rate: Option<f64>,
    /// Payload encoding for channels whose status has not arrived: s16be (radiod's
    /// default), s16le, f32le or f32be.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// How long a channel waits for radiod's status (for GPS time and its format) before it
    /// starts on the parameters and the system clock. Packets are held meanwhile.
    #[serde(default = "default_status_wait", with = "crate::util::duration::text")]
    #[schemars(with = "String")]
    pub status_wait: Duration,
    /// Reorder window: the most packets held behind a missing one.
    #[serde(default = "default_reorder_packets")]
    pub reorder_packets: usize,
    /// Reorder window: the longest a missing packet is waited for (and the most stream time
    /// held past it). After that its samples are a gap, and the packet, if it comes, is late.
    #[serde(default = "default_reorder_time", with = "crate::util::duration::text")]
    #[schemars(with = "String")]
    pub reorder_time: Duration,
    /// GPS − UTC in seconds, for GPS_TIME (18 since 2017).
    #[serde(default = "default_leap")]
    pub leap_seconds: i32,
    /// Re-tag time when radiod's GPS_TIME/RTP_TIMESNAP mapping moves by more than this many
    /// milliseconds from the one in use.
    #[serde(default = "default_time_step_ms")]
    pub time_step_ms: f64,
    /// Socket receive buffer in bytes (the kernel may cap it at net.core.rmem_max unless
    /// flow runs with CAP_NET_ADMIN).
    #[serde(default = "default_recv_buffer")]
    pub recv_buffer: usize,
    /// End the stream when no data packet has arrived for this long after the first one
    /// (relays, replays and demos whose sender finishes; absent: a live source runs until
    /// stopped).
    #[serde(default, with = "crate::util::duration::opt_text")]
    #[schemars(with = "Option<String>")]
    pub idle_end: Option<Duration>,
    /// No data packet for this long is a silence (radiod stopped or restarting, the network
    /// or the multicast membership lost): logged once, health degraded until data returns.
    #[serde(default = "default_stale_after", with = "crate::util::duration::text")]
    #[schemars(with = "String")]
    pub stale_after: Duration,
    /// While silent, leave and join the multicast groups again this often (the interface
    /// resolved anew: it may have been removed and created again).
    #[serde(default = "default_rejoin_every", with = "crate::util::duration::text")]
    #[schemars(with = "String")]
    pub rejoin_every: Duration,
}

fn default_stale_after() -> Duration {
    Duration::from_secs(5)
}
fn default_rejoin_every() -> Duration {
    Duration::from_secs(10)
}

fn default_status_wait() -> Duration {
    Duration::from_secs(2)
}
fn default_reorder_packets() -> usize {
    64
}
fn default_reorder_time() -> Duration {
    Duration::from_millis(200)
}
fn default_leap() -> i32 {
    DEFAULT_LEAP_SECONDS
}
fn default_time_step_ms() -> f64 {
    2.0
}
fn default_recv_buffer() -> usize {
    64 << 20
}

/// Checks the parameters (pure: no sockets), for `flow check`.
pub fn validate(p: &RtpSourceParams) -> Vec<ParamError> {
    let mut errs = Vec::new();
    if let Err(e) = check_endpoint(&p.address) {
        errs.push(ParamError::new("address", e));
    }
    if let Some(Err(e)) = p
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(check_endpoint)
    {
        errs.push(ParamError::new("status", e));
    }
    if p.channels.is_empty() {
        errs.push(ParamError::new("channels", "list at least one channel"));
    }
    let mut names = std::collections::HashSet::new();
    let mut ssrcs = std::collections::HashSet::new();
    for (i, ch) in p.channels.iter().enumerate() {
        if !valid_port_name(&ch.name) {
            errs.push(ParamError::new(
                format!("channels[{i}].name"),
                format!(
                    "`{}` is not a port name: use letters, digits, `_` and `-`",
                    ch.name
                ),
            ));
        }
        if !names.insert(ch.name.as_str()) {
            errs.push(ParamError::new(
                format!("channels[{i}].name"),
                format!("`{}` is used twice", ch.name),
            ));
        }
        if !ssrcs.insert(ch.ssrc) {
            errs.push(ParamError::new(
                format!("channels[{i}].ssrc"),
                format!("ssrc {} is listed twice", ch.ssrc),
            ));
        }
        if ch.sample_rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
            errs.push(ParamError::new(
                format!("channels[{i}].sample_rate"),
                "must be positive",
            ));
        }
    }
    if p.sample_rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
        errs.push(ParamError::new("sample_rate", "must be positive"));
    }
    if p.reorder_packets == 0 {
        errs.push(ParamError::new("reorder_packets", "must be at least 1"));
    }
    if p.time_step_ms.is_nan() || p.time_step_ms < 0.0 {
        errs.push(ParamError::new("time_step_ms", "must be zero or more"));
    }
    errs
}

/// True for a usable port name.
fn valid_port_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> RtpSourceParams {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_and_every_problem_at_once() {
        let p = parse("address = \"239.1.2.3\"\nchannels = [{ ssrc = 1, name = \"a\" }]");
        assert!(validate(&p).is_empty());
        assert_eq!(p.reorder_packets, 64);
        assert_eq!(p.status_wait, Duration::from_secs(2));
        let p = parse(
            "address = \"239.1.2.3:99999\"\nstatus = \":5006\"\nreorder_packets = 0\n\
             channels = [{ ssrc = 1, name = \"a.b\" }, { ssrc = 1, name = \"a.b\", sample_rate = -1.0 }]",
        );
        let fields: Vec<String> = validate(&p).iter().map(|e| e.param.clone()).collect();
        assert_eq!(
            fields,
            [
                "address",
                "status",
                "channels[0].name",
                "channels[1].name",
                "channels[1].name",
                "channels[1].ssrc",
                "channels[1].sample_rate",
                "reorder_packets"
            ]
        );
        assert!(
            toml::from_str::<RtpSourceParams>("address = \"x\"\nchannels = []\nbogus = 1").is_err()
        );
    }
}
