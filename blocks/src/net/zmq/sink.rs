//! The stream-to-ZeroMQ block shared by `zmq_pub_sink` and `zmq_push_sink`: cuts the input
//! into messages of whole items, with gr-zeromq's tag header when `pass_tags` is on.

use std::time::Duration;

use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use super::header::{self, WireTag};
use super::socket::{self, HealthWatch, Mode, Pattern, Sender};
use super::tags;

/// How long a PUSH sink waits for room before the runtime calls it again.
const PUSH_WAIT: Duration = Duration::from_millis(50);
/// How long the queued messages may take to go out at the end (libzmq's linger, as in gr-zeromq).
const LINGER: Duration = Duration::from_secs(1);

/// Settings of a sink.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    /// PUB or PUSH.
    pub pattern: Pattern,
    /// ZeroMQ endpoint.
    pub address: String,
    /// Bind or connect.
    pub mode: Mode,
    /// Queue length in messages.
    pub hwm: usize,
    /// Send gr-zeromq's tag header.
    pub pass_tags: bool,
    /// Topic frame before each message (PUB).
    pub key: Option<String>,
    /// Most items per message.
    pub max_items: usize,
}

/// Sends the input stream as ZeroMQ messages.
pub struct ZmqSink {
    cfg: SinkConfig,
    name: String,
    sender: Option<Sender>,
    /// A message the PUSH queue had no room for yet, and its item count.
    pending: Option<(zeromq::ZmqMessage, usize)>,
    messages: Counter,
    dropped_messages: Counter,
    watch: HealthWatch,
    health: Option<HealthHandle>,
    log: RateLimited,
    wire_tags: Vec<WireTag>,
}

impl ZmqSink {
    /// A sink for `cfg`.
    pub fn new(cfg: SinkConfig, name: &str) -> Self {
        ZmqSink {
            log: RateLimited::new(
                format!("zmq sink `{name}` ({})", cfg.address),
                Duration::from_secs(10),
            ),
            cfg,
            name: name.to_string(),
            sender: None,
            pending: None,
            messages: Counter::default(),
            dropped_messages: Counter::default(),
            watch: HealthWatch::new(),
            health: None,
            wire_tags: Vec::new(),
        }
    }

    fn build_message(&mut self, input: &StreamInput, n: usize) -> zeromq::ZmqMessage {
        let size = input.item_type().size();
        let bytes = input_bytes(input);
        let mut data = Vec::with_capacity(n * size + if self.cfg.pass_tags { 64 } else { 0 });
        if self.cfg.pass_tags {
            let start = input.position();
            let end = start + n as u64;
            self.wire_tags.clear();
            // Only a publisher loses messages on the way (PUSH waits instead), so only its
            // receivers need the sample index to place items after a lost message's gaps.
            let first_sample = input.sample_index(0);
            if self.cfg.pattern == Pattern::Pub && first_sample != start {
                let (key, value, srcid) = tags::sample_index_pmt(first_sample, &self.name);
                self.wire_tags.push(WireTag {
                    offset: start,
                    key,
                    value,
                    srcid,
                });
            }
            for t in input.tags().iter().take_while(|t| t.position < end) {
                if let Some((key, value, srcid)) = tags::to_pmt(&t.tag, &self.name) {
                    self.wire_tags.push(WireTag {
                        offset: t.position,
                        key,
                        value,
                        srcid,
                    });
                }
            }
            header::encode(start, &self.wire_tags, &mut data);
        }
        data.extend_from_slice(&bytes[..n * size]);
        socket::message(self.cfg.key.as_deref(), data)
    }

    fn report_socket_errors(&mut self) {
        if let Some(s) = &self.sender {
            self.watch
                .update(&s.stats, self.health.as_ref(), &mut self.log);
        }
    }
}

/// The unconsumed items of `input` as bytes.
pub(crate) fn input_bytes(input: &StreamInput) -> &[u8] {
    flow_framework::dispatch_item_type!(input.item_type(), T => bytemuck::cast_slice::<T, u8>(input.slice::<T>()))
}

impl Block for ZmqSink {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.messages = ctx.counter("messages");
        self.dropped_messages = ctx.counter("dropped_messages");
        self.health = Some(ctx.health());
        let c = &self.cfg;
        self.sender =
            Some(Sender::open(c.pattern, &c.address, c.mode, c.hwm).map_err(BlockError::config)?);
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        self.report_socket_errors();
        let input = &mut io.inputs[0];
        let (msg, n) = match self.pending.take() {
            Some(p) => p,
            None => {
                let n = input.len().min(self.cfg.max_items);
                if n == 0 {
                    return Ok(Flow::Continue);
                }
                (self.build_message(input, n), n)
            }
        };
        let Some(sender) = &self.sender else {
            return Err(BlockError::internal("work before start"));
        };
        match self.cfg.pattern {
            Pattern::Push => match sender.send_timeout(msg, PUSH_WAIT) {
                Ok(()) => {
                    self.messages.inc();
                    input.consume(n);
                }
                Err(m) => self.pending = Some((m, n)),
            },
            _ => {
                match sender.try_send(msg) {
                    Ok(()) => self.messages.inc(),
                    Err(_) => self.dropped_messages.inc(),
                }
                input.consume(n);
            }
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        if let Some(s) = &self.sender {
            if let Some((m, _)) = self.pending.take() {
                let _ = s.send_timeout(m, LINGER);
            }
        }
        if let Some(mut s) = self.sender.take() {
            s.close(LINGER);
        }
        Ok(())
    }
}
