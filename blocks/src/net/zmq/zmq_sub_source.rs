//! `zmq_sub_source`: a stream from a ZeroMQ SUB socket, like gr-zeromq's `sub_source`.

use flow_framework::prelude::*;

use super::socket::{Mode, Pattern};
use super::source::{SourceConfig, ZmqSource};

/// Parameters of `zmq_sub_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZmqSubSourceParams {
    /// ZeroMQ endpoint: `tcp://HOST:PORT` (or `ipc://PATH`).
    pub address: String,
    /// `connect` (as GNU Radio's sources do) or `bind`.
    #[serde(default = "connect")]
    pub mode: Mode,
    /// Item type of the messages (the sender's item size must match).
    #[serde(default = "c32")]
    pub item: ItemType,
    /// High-water mark: messages queued for the block before new ones are dropped (counted,
    /// reported as a gap).
    #[serde(default = "super::default_hwm")]
    pub hwm: usize,
    /// Turn the tags of gr-zeromq's tag header into flow tags (the header is recognised by
    /// its magic and skipped either way).
    #[serde(default = "super::default_true")]
    pub pass_tags: bool,
    /// Topic to subscribe to (the sender's `key`); default all messages.
    #[serde(default)]
    pub key: Option<String>,
}

fn connect() -> Mode {
    Mode::Connect
}
fn c32() -> ItemType {
    ItemType::C32
}

/// Registration of `zmq_sub_source`.
pub struct ZmqSubSourceDef;

impl BlockDef for ZmqSubSourceDef {
    type Params = ZmqSubSourceParams;
    const NAME: &'static str = "zmq_sub_source";
    const SUMMARY: &'static str = "Receives a stream over ZeroMQ SUB (GNU Radio compatible).";
    const DOC: &'static str = "Output `out` (`item`). A live source: messages arrive whether or \
        not downstream keeps up, so it drops (counted, gap-tagged) rather than block. Messages \
        are raw items, or gr-zeromq's tag header then items: the header is recognised by its \
        magic, its tags become flow tags (`rx_time` → time, `rx_rate` → rate, `rx_freq` → freq, \
        see docs/zmq.md), and a jump in its stream offset (messages the publisher dropped) \
        becomes a gap tag. Messages that are not whole items are dropped and counted. \
        Counters: `messages`, `malformed`, `lost` (items), `queue_dropped` (messages this \
        block's own queue dropped at `hwm`).";
    const EXAMPLE: &'static str =
        "address = \"tcp://127.0.0.1:5555\"\nmode = \"connect\"\nitem = \"c32\"\nhwm = 1000";

    fn signature(p: &ZmqSubSourceParams) -> Signature {
        Signature::new().output("out", p.item).manual_tags().live()
    }

    fn validate(p: &ZmqSubSourceParams) -> Vec<ParamError> {
        super::validate(&p.address, p.hwm)
    }

    fn build(p: &ZmqSubSourceParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let cfg = SourceConfig {
            pattern: Pattern::Sub,
            address: p.address.clone(),
            mode: p.mode,
            hwm: p.hwm,
            pass_tags: p.pass_tags,
            key: p.key.clone(),
            item: p.item,
        };
        Ok(Box::new(ZmqSource::new(cfg, &ctx.name)))
    }
}

register_block!(ZmqSubSourceDef);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::zmq::header;
    use crate::net::zmq::socket::{self, Sender};
    use flow_framework::harness::Harness;
    use std::time::{Duration, Instant};

    #[test]
    fn a_jump_in_the_senders_offset_becomes_a_gap() {
        let port = crate::net::zmq::testblocks::free_port();
        let address = format!("tcp://127.0.0.1:{port}");
        let p: ZmqSubSourceParams = toml::from_str(&format!(
            "address = \"{address}\"\nmode = \"bind\"\nitem = \"f32\""
        ))
        .unwrap();
        let mut h = Harness::of::<ZmqSubSourceDef>(p, &[]).unwrap();
        h.run_for(Duration::from_millis(50)); // bind
        let tx = Sender::open(Pattern::Pub, &address, Mode::Connect, 10).unwrap();
        let msg = |offset: u64, values: &[f32]| {
            let mut m = Vec::new();
            header::encode(offset, &[], &mut m);
            m.extend(values.iter().flat_map(|x| x.to_le_bytes()));
            socket::message(None, m)
        };
        // The publisher drops until the subscription arrives: repeat the first message (its
        // offset stays 0) until it comes through, then skip 5 items.
        let end = Instant::now() + Duration::from_secs(20);
        while h.output::<f32>(0).is_empty() {
            assert!(Instant::now() < end, "nothing received");
            let _ = tx.try_send(msg(0, &[0.0, 1.0]));
            h.run_for(Duration::from_millis(50));
        }
        tx.try_send(msg(7, &[7.0, 8.0])).unwrap();
        while !h.output::<f32>(0).contains(&7.0) {
            assert!(Instant::now() < end, "second message not received");
            h.run_for(Duration::from_millis(20));
        }
        let out = h.output::<f32>(0);
        let at = out.iter().position(|x| *x == 7.0).unwrap();
        assert!(
            h.output_tags(0)
                .iter()
                .any(|t| t.position == at as u64 && t.tag == Tag::Gap(5)),
            "{:?}",
            h.output_tags(0)
        );
        assert_eq!(h.counter("lost"), 5);
    }
}

#[cfg(test)]
mod health_tests {
    use super::*;
    use crate::net::zmq::socket::Sender;
    use flow_framework::harness::Harness;
    use flow_framework::metrics::Health;
    use std::time::{Duration, Instant};

    #[test]
    fn degraded_while_the_publisher_is_away_then_ok() {
        let port = crate::net::zmq::testblocks::free_port();
        let address = format!("tcp://127.0.0.1:{port}");
        let p: ZmqSubSourceParams = toml::from_str(&format!("address = \"{address}\"")).unwrap();
        let mut h = Harness::of::<ZmqSubSourceDef>(p, &[]).unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        while h.metrics().health().0 != Health::Degraded {
            assert!(Instant::now() < end, "not degraded while nobody listens");
            h.run_for(Duration::from_millis(50));
        }
        assert!(
            h.metrics()
                .health()
                .1
                .starts_with(&format!("connecting to {address}")),
            "{:?}",
            h.metrics().health()
        );
        let _publisher = Sender::open(Pattern::Pub, &address, Mode::Bind, 10).unwrap();
        while h.metrics().health().0 != Health::Ok {
            assert!(
                Instant::now() < end,
                "not ok once the publisher is there: {:?}",
                h.metrics().health()
            );
            h.run_for(Duration::from_millis(50));
        }
    }
}
