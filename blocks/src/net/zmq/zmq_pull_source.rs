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
