//! `serial_source`: reads a serial instrument (meter, data logger) and emits one
//! `measurement` message per frame, or raw bytes; survives unplugs by reopening the port.

use std::io::Read;
use std::time::{Duration, Instant};

use flow_framework::log::{escape_bytes, RateLimited};
use flow_framework::metrics::unix_now_ns;
use flow_framework::prelude::*;

use super::framing::{FrameEvent, Framer, FramingKind};
use super::parse::Parser;
use super::port_config::{self, PortSettings};
use super::serial_params;
pub use super::serial_params::SerialSourceParams;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Reads the port, frames, parses, emits.
pub struct SerialSource {
    settings: PortSettings,
    p: SerialSourceParams,
    framer: Framer,
    parser: Parser,
    port: Option<Box<dyn serialport::SerialPort>>,
    retry_at: Instant,
    backoff: Duration,
    was_open: bool,
    seq: u64,
    buf: Vec<u8>,
    counters: [Counter; 5],
    malformed_log: RateLimited,
    open_log: RateLimited,
    health: Option<HealthHandle>,
}

impl SerialSource {
    fn try_open(&mut self) {
        let now = Instant::now();
        if now < self.retry_at {
            std::thread::sleep((self.retry_at - now).min(Duration::from_millis(50)));
            return;
        }
        match port_config::open(&self.settings) {
            Ok(port) => {
                tracing::info!(port = %self.settings.path, "serial port open");
                if self.was_open {
                    self.counters[4].inc();
                }
                self.port = Some(port);
                self.was_open = true;
                self.backoff = FIRST_BACKOFF;
                self.framer.reset();
                if let Some(h) = &self.health {
                    h.ok();
                }
            }
            Err(e) => {
                let why = format!("cannot open {}: {e}", self.settings.path);
                self.open_log
                    .warn(&format!("{why}; retrying in {:?}", self.backoff));
                if let Some(h) = &self.health {
                    h.degraded(&why);
                }
                self.retry_at = now + self.backoff;
                self.backoff = (self.backoff * 2).min(self.p.reconnect_max.max(FIRST_BACKOFF));
            }
        }
    }

    fn lost(&mut self, why: &str) {
        let why = format!("serial port {} lost: {why}", self.settings.path);
        tracing::warn!("{why}; reopening");
        if let Some(h) = &self.health {
            h.degraded(&why);
        }
        self.port = None;
        self.counters[3].inc();
        self.retry_at = Instant::now() + self.backoff;
    }

    fn handle(&mut self, n: usize, io: &mut WorkIo) {
        let [_, frames, malformed, ..] = &self.counters;
        if self.p.framing == FramingKind::Raw {
            io.outputs[0].write_live(&self.buf[..n]);
            frames.inc();
            return;
        }
        let now = unix_now_ns();
        let (parser, seq, log, kind) = (
            &self.parser,
            &mut self.seq,
            &mut self.malformed_log,
            &self.p.kind,
        );
        let line = self.p.framing == FramingKind::Line;
        self.framer.push(&self.buf[..n], |ev| {
            let (reason, bytes) = match ev {
                FrameEvent::Frame(f) if line && f.trim_ascii().is_empty() => return,
                FrameEvent::Frame(f) => {
                    let mut m = Message::new(kind.as_str())
                        .with("time", Value::Time(now))
                        .with("seq", *seq);
                    match parser.parse(f, &mut m) {
                        Ok(()) => {
                            io.msg_out[0].post(m);
                            frames.inc();
                            *seq += 1;
                            return;
                        }
                        Err(e) => (e, f),
                    }
                }
                FrameEvent::Malformed { reason, bytes } => (reason.to_string(), bytes),
            };
            malformed.inc();
            let shown = &bytes[..bytes.len().min(96)];
            log.warn(&format!("{reason}: \"{}\"", escape_bytes(shown)));
        });
    }
}

impl Block for SerialSource {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        let names = ["bytes", "frames", "malformed", "disconnects", "reconnects"];
        self.counters = names.map(|n| ctx.counter(n));
        self.health = Some(ctx.health());
        self.malformed_log = RateLimited::new(
            format!("`{}`: malformed input", ctx.name()),
            Duration::from_secs(10),
        );
        self.try_open();
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let Some(port) = self.port.as_mut() else {
            self.try_open();
            return Ok(Flow::Continue);
        };
        match port.read(&mut self.buf) {
            Ok(0) => self.lost("end of input"),
            Ok(n) => {
                self.counters[0].add(n as u64);
                self.handle(n, io);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => self.lost(&e.to_string()),
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        self.port = None;
        Ok(())
    }
}

/// Registration of `serial_source`.
pub struct SerialSourceDef;

impl BlockDef for SerialSourceDef {
    type Params = SerialSourceParams;
    const NAME: &'static str = "serial_source";
    const SUMMARY: &'static str =
        "Reads a serial instrument: framed, parsed measurements as messages, or raw bytes.";
    const DOC: &'static str =
        "No inputs. Output `out`: `measurement` messages (or `u8` items with \
        `framing = \"raw\"`). Opens `port` with the line settings, splits the bytes into frames \
        (`line`: up to `terminator`; `binary`: `frame_length` bytes from `frame_start` with a \
        `checksum` over the payload), parses each frame (`csv`, `regex` with named groups, or a \
        `binary` layout) into the declared `fields`, and emits a message of `kind` with `time` \
        (arrival, system clock), `seq` (0, 1, 2... per start of the block, contiguous) and the \
        fields. Malformed frames are counted (`malformed`), logged rate-limited with their bytes \
        escaped, and skipped. A lost or missing port (unplug, pty closed) turns health to \
        degraded and is reopened with backoff up to `reconnect_max` (`disconnects`, \
        `reconnects`). A live source: it never waits for downstream.";
    const EXAMPLE: &'static str = "port = \"/dev/ttyUSB0\"\nbaud = 9600\nterminator = \"\\r\\n\"\nparse = \"regex\"\npattern = '^(?P<volts>[-+0-9.]+) V$'\nfields = [{ name = \"volts\", type = \"f64\" }]";

    fn signature(p: &SerialSourceParams) -> Signature {
        let s = Signature::new();
        let s = if p.framing == FramingKind::Raw {
            s.output("out", ItemType::U8)
        } else {
            s.message_output("out")
        };
        s.live()
    }

    fn validate(p: &SerialSourceParams) -> Vec<ParamError> {
        serial_params::check(p)
    }

    fn build(p: &SerialSourceParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let framer = match p.framing {
            FramingKind::Line => Framer::line(p.terminator.as_bytes(), p.max_line),
            FramingKind::Binary => Framer::binary(
                p.frame_start.unwrap_or(0),
                p.frame_length.unwrap_or(2),
                p.checksum,
            ),
            FramingKind::Raw => Framer::raw(),
        };
        let delimiter = p.delimiter.bytes().next().unwrap_or(b',');
        let parser = Parser::new(
            p.parse,
            &p.fields,
            delimiter,
            &p.pattern,
            p.framing == FramingKind::Binary,
        )
        .map_err(|e| BlockError::config(format!("pattern: {e}")))?;
        let settings = p.port_settings();
        Ok(Box::new(SerialSource {
            open_log: RateLimited::new(format!("serial port {}", p.port), Duration::from_secs(30)),
            malformed_log: RateLimited::new("malformed input", Duration::from_secs(10)),
            settings,
            p: p.clone(),
            framer,
            parser,
            port: None,
            retry_at: Instant::now(),
            backoff: FIRST_BACKOFF,
            was_open: false,
            seq: 0,
            buf: vec![0; 4096],
            counters: Default::default(),
            health: None,
        }))
    }
}

register_block!(SerialSourceDef);
