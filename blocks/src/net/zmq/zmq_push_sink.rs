//! `zmq_push_sink`: pushes a stream to a ZeroMQ PUSH socket, like gr-zeromq's `push_sink`.

use flow_framework::prelude::*;

use super::sink::{SinkConfig, ZmqSink};
use super::socket::{Mode, Pattern};

/// Parameters of `zmq_push_sink`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZmqPushSinkParams {
    /// ZeroMQ endpoint: `tcp://HOST:PORT` (or `ipc://PATH`).
    pub address: String,
    /// `bind` (listen, as GNU Radio's sinks do) or `connect`.
    #[serde(default = "bind")]
    pub mode: Mode,
    /// High-water mark: messages queued for sending before the block waits (backpressure).
    #[serde(default = "super::default_hwm")]
    pub hwm: usize,
    /// Put gr-zeromq's tag header (tags as PMTs) before the items of every message.
    #[serde(default)]
    pub pass_tags: bool,
    /// Most items per message.
    #[serde(default = "super::default_max_items")]
    pub max_items: usize,
}

fn bind() -> Mode {
    Mode::Bind
}

/// Registration of `zmq_push_sink`.
pub struct ZmqPushSinkDef;

impl BlockDef for ZmqPushSinkDef {
    type Params = ZmqPushSinkParams;
    const NAME: &'static str = "zmq_push_sink";
    const SUMMARY: &'static str =
        "Pushes a stream over ZeroMQ PUSH, lossless (GNU Radio compatible).";
    const DOC: &'static str = "Input `in` (any item type). Every work call sends one message of \
        up to `max_items` items (raw, native layout) to one of the connected pullers (round \
        robin), preceded by gr-zeromq's \
        tag header when `pass_tags` is on (time, rate and frequency as `rx_time`, `rx_rate`, \
        `rx_freq`; see docs/zmq.md). Lossless: when `hwm` messages are queued (no puller, or a \
        slow one) the block waits and backpressure reaches upstream. Counter: `messages`.";
    const EXAMPLE: &'static str =
        "address = \"tcp://127.0.0.1:5555\"\nmode = \"bind\"\nhwm = 1000\npass_tags = true";

    fn signature(p: &ZmqPushSinkParams) -> Signature {
        let _ = p;
        Signature::new()
            .input("in", TypeSpec::Generic)
            .manual_tags()
            .blocking()
    }

    fn validate(p: &ZmqPushSinkParams) -> Vec<ParamError> {
        let mut e = super::validate(&p.address, p.hwm);
        if p.max_items == 0 {
            e.push(ParamError::new("max_items", "must be at least 1"));
        }
        e
    }

    fn build(p: &ZmqPushSinkParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let cfg = SinkConfig {
            pattern: Pattern::Push,
            address: p.address.clone(),
            mode: p.mode,
            hwm: p.hwm,
            pass_tags: p.pass_tags,
            key: None,
            max_items: p.max_items,
        };
        Ok(Box::new(ZmqSink::new(cfg, &ctx.name)))
    }
}

register_block!(ZmqPushSinkDef);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::zmq::header;
    use crate::net::zmq::socket::{Receiver, WhenFull};
    use flow_framework::harness::Harness;
    use std::time::Duration;

    #[test]
    fn sends_items_with_the_tag_header() {
        let port = crate::net::zmq::testblocks::free_port();
        let address = format!("tcp://127.0.0.1:{port}");
        let p: ZmqPushSinkParams = toml::from_str(&format!(
            "address = \"{address}\"\npass_tags = true\nmax_items = 100"
        ))
        .unwrap();
        let mut h = Harness::of::<ZmqPushSinkDef>(p, &[ItemType::F32]).unwrap();
        let rx = Receiver::open(
            Pattern::Pull,
            &address,
            Mode::Connect,
            10,
            None,
            WhenFull::Wait,
        )
        .unwrap();
        h.push_tag(0, 3, Tag::Freq(7e6));
        h.push_input(0, &(0..250).map(|x| x as f32).collect::<Vec<_>>());
        h.run_to_end().unwrap();
        assert_eq!(h.counter("messages"), 3);
        let mut items = Vec::new();
        for k in 0..3 {
            let m = rx
                .recv_timeout(Duration::from_secs(10))
                .expect("a message")
                .data;
            let (hdr, start) = header::decode(&m).unwrap();
            assert_eq!(hdr.offset, 100 * k);
            assert_eq!(hdr.tags.len(), usize::from(k == 0));
            items.extend(
                m[start..]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
        }
        assert_eq!(items, (0..250).map(|x| x as f32).collect::<Vec<_>>());
    }
}
