//! `zmq_pub_sink`: publishes a stream on a ZeroMQ PUB socket, like gr-zeromq's `pub_sink`.

use flow_framework::prelude::*;

use super::sink::{SinkConfig, ZmqSink};
use super::socket::{Mode, Pattern};

/// Parameters of `zmq_pub_sink`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZmqPubSinkParams {
    /// ZeroMQ endpoint: `tcp://HOST:PORT` (or `ipc://PATH`).
    pub address: String,
    /// `bind` (listen, as GNU Radio's sinks do) or `connect`.
    #[serde(default = "bind")]
    pub mode: Mode,
    /// High-water mark: messages queued for sending before new ones are dropped.
    #[serde(default = "super::default_hwm")]
    pub hwm: usize,
    /// Put gr-zeromq's tag header (tags as PMTs) before the items of every message.
    #[serde(default)]
    pub pass_tags: bool,
    /// Topic: a first frame of every message (subscribers filter on it), as gr-zeromq's `key`.
    #[serde(default)]
    pub key: Option<String>,
    /// Most items per message.
    #[serde(default = "super::default_max_items")]
    pub max_items: usize,
}

fn bind() -> Mode {
    Mode::Bind
}

/// Registration of `zmq_pub_sink`.
pub struct ZmqPubSinkDef;

impl BlockDef for ZmqPubSinkDef {
    type Params = ZmqPubSinkParams;
    const NAME: &'static str = "zmq_pub_sink";
    const SUMMARY: &'static str = "Publishes a stream over ZeroMQ PUB (GNU Radio compatible).";
    const DOC: &'static str = "Input `in` (any item type). Every work call sends one message of \
        up to `max_items` items (raw, native layout) to all subscribers, preceded by gr-zeromq's \
        tag header when `pass_tags` is on (time, rate and frequency as `rx_time`, `rx_rate`, \
        `rx_freq`; see docs/zmq.md). Never blocks: when `hwm` messages are queued, new ones are \
        dropped and counted (`dropped_messages`); a tagged receiver sees the loss as a gap. \
        Counters: `messages`, `dropped_messages`.";
    const EXAMPLE: &'static str =
        "address = \"tcp://127.0.0.1:5555\"\nmode = \"bind\"\nhwm = 1000\npass_tags = true";

    fn signature(p: &ZmqPubSinkParams) -> Signature {
        let _ = p;
        Signature::new()
            .input("in", TypeSpec::Generic)
            .manual_tags()
    }

    fn validate(p: &ZmqPubSinkParams) -> Vec<ParamError> {
        let mut e = super::validate(&p.address, p.hwm);
        if p.max_items == 0 {
            e.push(ParamError::new("max_items", "must be at least 1"));
        }
        e
    }

    fn build(p: &ZmqPubSinkParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let cfg = SinkConfig {
            pattern: Pattern::Pub,
            address: p.address.clone(),
            mode: p.mode,
            hwm: p.hwm,
            pass_tags: p.pass_tags,
            key: p.key.clone(),
            max_items: p.max_items,
        };
        Ok(Box::new(ZmqSink::new(cfg, &ctx.name)))
    }
}

register_block!(ZmqPubSinkDef);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::zmq::socket::{Receiver, WhenFull};
    use flow_framework::harness::Harness;
    use std::time::{Duration, Instant};

    /// A subscriber that binds (the publisher connects: either side may bind) and a
    /// `zmq_pub_sink` with `extra` parameters for `item` streams.
    fn pair(key: Option<&str>, item: ItemType, extra: &str) -> (Receiver, Harness) {
        let port = crate::net::zmq::testblocks::free_port();
        let address = format!("tcp://127.0.0.1:{port}");
        let when_full = WhenFull::Drop {
            item_size: item.size(),
        };
        let rx = Receiver::open(Pattern::Sub, &address, Mode::Bind, 1000, key, when_full).unwrap();
        let p: ZmqPubSinkParams = toml::from_str(&format!(
            "address = \"{address}\"\nmode = \"connect\"\n{extra}"
        ))
        .unwrap();
        (rx, Harness::of::<ZmqPubSinkDef>(p, &[item]).unwrap())
    }

    /// Publishes `items` again and again until the subscriber gets a message (a publisher
    /// drops until the subscription has arrived); returns that message's data.
    fn first_message<T: Item>(rx: &Receiver, h: &mut Harness, items: &[T]) -> bytes::Bytes {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            h.push_input(0, items);
            h.run();
            if let Some(m) = rx.recv_timeout(Duration::from_millis(50)) {
                return m.data;
            }
            assert!(Instant::now() < end, "nothing received");
        }
    }

    #[test]
    fn publishes_raw_items_under_its_key() {
        let (rx, mut h) = pair(Some("iq"), ItemType::C32, "key = \"iq\"");
        let got = first_message(&rx, &mut h, &[C32::new(1.0, -2.0); 4]);
        assert_eq!(got.len(), 4 * 8, "raw c32 items, no header");
        assert_eq!(
            &got[..8],
            [1.0f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()
        );
        assert!(h.counter("messages") >= 1);
    }

    #[test]
    fn after_a_gap_each_message_carries_its_first_sample_index() {
        let (rx, mut h) = pair(None, ItemType::I32, "max_items = 4\npass_tags = true");
        // 5 samples were lost before the stream's first item: every item's sample index is
        // its position + 5 from there on, so every message says so.
        h.push_tag(0, 0, Tag::Gap(5));
        let got = first_message(&rx, &mut h, &[7i32; 4]);
        let (hdr, _) = crate::net::zmq::header::decode(&got).expect("a tag header");
        let index: Vec<u64> = hdr
            .tags
            .iter()
            .filter(|t| t.offset == hdr.offset)
            .filter_map(|t| crate::net::zmq::tags::sample_index_of(&t.key, &t.value))
            .collect();
        assert_eq!(index, vec![hdr.offset + 5], "{hdr:?}");
    }

    #[test]
    fn rejects_bad_endpoints() {
        let p: ZmqPubSinkParams = toml::from_str("address = \"localhost:5\"\nhwm = 0").unwrap();
        let e = ZmqPubSinkDef::validate(&p);
        assert_eq!(e[0].param, "address");
        assert_eq!(e[1], ParamError::new("hwm", "must be at least 1 message"));
    }
}
