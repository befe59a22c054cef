//! `zmq_pull_source`: a stream from a ZeroMQ PULL socket, like gr-zeromq's `pull_source`.

use flow_framework::prelude::*;

use super::socket::{Mode, Pattern};
use super::source::{SourceConfig, ZmqSource};

/// Parameters of `zmq_pull_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZmqPullSourceParams {
    /// ZeroMQ endpoint: `tcp://HOST:PORT` (or `ipc://PATH`).
    pub address: String,
    /// `connect` (as GNU Radio's sources do) or `bind`.
    #[serde(default = "connect")]
    pub mode: Mode,
    /// Item type of the messages (the sender's item size must match).
    #[serde(default = "c32")]
    pub item: ItemType,
    /// High-water mark: messages queued for the block before it stops reading the socket
    /// (backpressure to the pusher).
    #[serde(default = "super::default_hwm")]
    pub hwm: usize,
    /// Turn the tags of gr-zeromq's tag header into flow tags (the header is recognised by
    /// its magic and skipped either way).
    #[serde(default = "super::default_true")]
    pub pass_tags: bool,
}

fn connect() -> Mode {
    Mode::Connect
}
fn c32() -> ItemType {
    ItemType::C32
}

/// Registration of `zmq_pull_source`.
pub struct ZmqPullSourceDef;

impl BlockDef for ZmqPullSourceDef {
    type Params = ZmqPullSourceParams;
    const NAME: &'static str = "zmq_pull_source";
    const SUMMARY: &'static str =
        "Receives a stream over ZeroMQ PULL, lossless (GNU Radio compatible).";
    const DOC: &'static str = "Output `out` (`item`). Lossless: when downstream is full the block \
        stops reading, and the pusher waits. Messages \
        are raw items, or gr-zeromq's tag header then items: the header is recognised by its \
        magic, its tags become flow tags (`rx_time` → time, `rx_rate` → rate, `rx_freq` → freq, \
        see docs/zmq.md), and a jump in its stream offset (messages the publisher dropped) \
        becomes a gap tag. Messages that are not whole items are dropped and counted. \
        Counters: `messages`, `malformed`, `lost` (items).";
    const EXAMPLE: &'static str =
        "address = \"tcp://127.0.0.1:5555\"\nmode = \"connect\"\nitem = \"c32\"\nhwm = 1000";

    fn signature(p: &ZmqPullSourceParams) -> Signature {
        Signature::new()
            .output("out", p.item)
            .manual_tags()
            .blocking()
    }

    fn validate(p: &ZmqPullSourceParams) -> Vec<ParamError> {
        super::validate(&p.address, p.hwm)
    }

    fn build(p: &ZmqPullSourceParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let cfg = SourceConfig {
            pattern: Pattern::Pull,
            address: p.address.clone(),
            mode: p.mode,
            hwm: p.hwm,
            pass_tags: p.pass_tags,
            key: None,
            item: p.item,
        };
        Ok(Box::new(ZmqSource::new(cfg, &ctx.name)))
    }
}

register_block!(ZmqPullSourceDef);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::zmq::header::{self, WireTag};
    use crate::net::zmq::pmt::Pmt;
    use crate::net::zmq::socket::{self, Sender};
    use flow_framework::harness::Harness;
    use std::time::{Duration, Instant};

    #[test]
    fn turns_tagged_and_raw_messages_into_items_and_tags() {
        let port = crate::net::zmq::testblocks::free_port();
        let address = format!("tcp://127.0.0.1:{port}");
        let p: ZmqPullSourceParams = toml::from_str(&format!(
            "address = \"{address}\"\nmode = \"bind\"\nitem = \"i16\""
        ))
        .unwrap();
        let mut h = Harness::of::<ZmqPullSourceDef>(p, &[]).unwrap();
        h.run_for(Duration::from_millis(50)); // bind
        let tx = Sender::open(Pattern::Push, &address, Mode::Connect, 10).unwrap();
        let mut tagged = Vec::new();
        let tag = WireTag {
            offset: 11,
            key: Pmt::symbol("rx_rate"),
            value: Pmt::Double(8000.0),
            srcid: Pmt::False,
        };
        header::encode(10, &[tag], &mut tagged);
        tagged.extend([1i16, 2, 3].iter().flat_map(|x| x.to_le_bytes()));
        tx.try_send(socket::message(None, tagged)).unwrap();
        tx.try_send(socket::message(None, vec![4, 0, 5, 0]))
            .unwrap();
        tx.try_send(socket::message(None, vec![9])).unwrap(); // not whole items
        let end = Instant::now() + Duration::from_secs(20);
        while h.output::<i16>(0).len() < 5 && Instant::now() < end {
            h.run_for(Duration::from_millis(20));
        }
        assert_eq!(h.output::<i16>(0), vec![1, 2, 3, 4, 5]);
        assert_eq!(
            h.output_tags(0),
            &[ItemTag {
                position: 1,
                tag: Tag::Rate(8000.0)
            }]
        );
        while h.counter("malformed") < 1 && Instant::now() < end {
            h.run_for(Duration::from_millis(20));
        }
        assert_eq!((h.counter("messages"), h.counter("malformed")), (2, 1));
    }
}
