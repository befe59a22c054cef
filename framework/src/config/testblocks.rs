//! Test-only block types (`t_source`, `t_copy`, `t_sink`, `t_add`, `t_msg_sink`, `t_split`)
//! that exercise every kind of port the loader handles: fixed and generic stream ports,
//! message ports, an optional input, a variadic input, two outputs of one kind, required
//! parameters, enums and nested values. They run, too, so `flow run` can be tested.

use crate::prelude::*;

/// How `t_sink` opens its file.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Add to what is there.
    #[default]
    Append,
    /// Start empty.
    Truncate,
}

/// A nested table parameter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Window length.
    pub len: u32,
}

/// Parameters of `t_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceParams {
    /// Tone frequency in Hz.
    pub frequency: f64,
    /// Peak amplitude.
    #[serde(default = "one")]
    pub amplitude: f32,
    /// Item type of `out`.
    #[serde(default = "c32")]
    pub item: ItemType,
    /// Items to produce, then stop.
    #[serde(default)]
    pub count: Option<u64>,
    /// RTP SSRC.
    #[serde(default)]
    pub ssrc: u32,
    /// Emits an `events` message output.
    #[serde(default)]
    pub events: bool,
    /// `min_items` of `out`.
    #[serde(default = "one_usize")]
    pub chunk: usize,
    /// Analysis window.
    #[serde(default)]
    pub window: Option<Window>,
    /// Filter taps.
    #[serde(default)]
    pub taps: Vec<f32>,
}

fn one() -> f32 {
    1.0
}
fn one_usize() -> usize {
    1
}
fn c32() -> ItemType {
    ItemType::C32
}

/// Produces `count` zero items.
struct Source {
    left: u64,
    total: u64,
}

impl Block for Source {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let n = (io.outputs[0].space() as u64).min(self.left);
        io.outputs[0].produce(n as usize);
        self.left -= n;
        Ok(if self.left == 0 {
            Flow::Done
        } else {
            Flow::Continue
        })
    }
    fn expected_items(&self) -> Option<u64> {
        Some(self.total)
    }
}

/// `t_source`.
pub struct SourceDef;
impl BlockDef for SourceDef {
    type Params = SourceParams;
    const NAME: &'static str = "t_source";
    const SUMMARY: &'static str = "Test source of zeros.";
    const DOC: &'static str = "Produces `count` zero items on `out`.";
    const EXAMPLE: &'static str = "frequency = 1000.0\ncount = 10";
    fn signature(p: &SourceParams) -> Signature {
        let s = Signature::new().output("out", p.item).min_items(p.chunk);
        if p.events {
            s.message_output("events")
        } else {
            s
        }
    }
    fn validate(p: &SourceParams) -> Vec<ParamError> {
        let mut v = Vec::new();
        if p.frequency <= 0.0 {
            v.push(ParamError::new("frequency", "must be positive"));
        }
        if p.window.as_ref().is_some_and(|w| w.len == 0) {
            v.push(ParamError::new("window.len", "must not be 0"));
        }
        v
    }
    fn build(p: &SourceParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let total = p.count.unwrap_or(1000);
        Ok(Box::new(Source { left: total, total }))
    }
}
crate::register_block!(SourceDef);

/// Parameters of `t_copy`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CopyParams {
    /// `min_items` of `in`.
    pub min_items: usize,
    /// Makes `in` optional.
    pub optional: bool,
}

/// Copies input to output.
struct Copy;

impl Block for Copy {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let ty = io.inputs[0].item_type();
        crate::dispatch_item_type!(ty, T => {
            let i = io.inputs[0].slice::<T>();
            let o = io.outputs[0].slice_mut::<T>();
            let n = i.len().min(o.len());
            o[..n].copy_from_slice(&i[..n]);
            io.inputs[0].consume(n);
            io.outputs[0].produce(n);
        });
        Ok(Flow::Continue)
    }
}

/// `t_copy`.
pub struct CopyDef;
impl BlockDef for CopyDef {
    type Params = CopyParams;
    const NAME: &'static str = "t_copy";
    const SUMMARY: &'static str = "Test copy.";
    const DOC: &'static str = "Copies `in` to `out` (generic).";
    const EXAMPLE: &'static str = "";
    fn signature(p: &CopyParams) -> Signature {
        let s = Signature::new()
            .input("in", TypeSpec::Generic)
            .min_items(p.min_items);
        let s = if p.optional { s.optional() } else { s };
        s.output("out", TypeSpec::Generic)
    }
    fn build(_: &CopyParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Copy))
    }
}
crate::register_block!(CopyDef);

/// Parameters of `t_sink`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SinkParams {
    /// Where to write.
    pub path: String,
    /// How to open the file.
    #[serde(default)]
    pub mode: Mode,
    /// Fixed item type of `in` (generic when unset).
    #[serde(default)]
    pub item: Option<ItemType>,
    /// Fail at the first work call.
    #[serde(default)]
    pub fail: bool,
}

/// Consumes everything.
struct Sink {
    fail: bool,
}

impl Block for Sink {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        if self.fail {
            return Err(BlockError::data("told to fail"));
        }
        let n = io.inputs[0].len();
        io.inputs[0].consume(n);
        while io.msg_in.first_mut().and_then(|m| m.recv()).is_some() {}
        Ok(Flow::Continue)
    }
}

/// `t_sink`.
pub struct SinkDef;
impl BlockDef for SinkDef {
    type Params = SinkParams;
    const NAME: &'static str = "t_sink";
    const SUMMARY: &'static str = "Test sink.";
    const DOC: &'static str = "Consumes `in`; optional message input `log`.";
    const EXAMPLE: &'static str = "path = \"out.bin\"";
    fn signature(p: &SinkParams) -> Signature {
        let ty = p.item.map_or(TypeSpec::Generic, TypeSpec::Fixed);
        Signature::new()
            .input("in", ty)
            .message_input("log")
            .optional()
    }
    fn build(p: &SinkParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Sink { fail: p.fail }))
    }
}
crate::register_block!(SinkDef);

/// Parameters of `t_add` (none).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `t_add`: variadic generic input.
pub struct AddDef;
impl BlockDef for AddDef {
    type Params = NoParams;
    const NAME: &'static str = "t_add";
    const SUMMARY: &'static str = "Test adder.";
    const DOC: &'static str = "Adds `in0`, `in1`, ...";
    const EXAMPLE: &'static str = "";
    fn signature(_: &NoParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .variadic()
            .output("out", TypeSpec::Generic)
    }
    fn build(_: &NoParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Err(BlockError::internal("test block, not runnable"))
    }
}
crate::register_block!(AddDef);

/// `t_msg_sink`: one message input.
pub struct MsgSinkDef;
impl BlockDef for MsgSinkDef {
    type Params = NoParams;
    const NAME: &'static str = "t_msg_sink";
    const SUMMARY: &'static str = "Test message sink.";
    const DOC: &'static str = "Takes messages on `in`.";
    const EXAMPLE: &'static str = "";
    fn signature(_: &NoParams) -> Signature {
        Signature::new().message_input("in")
    }
    fn build(_: &NoParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Err(BlockError::internal("test block, not runnable"))
    }
}
crate::register_block!(MsgSinkDef);

/// `t_split`: two f32 outputs.
pub struct SplitDef;
impl BlockDef for SplitDef {
    type Params = NoParams;
    const NAME: &'static str = "t_split";
    const SUMMARY: &'static str = "Test splitter.";
    const DOC: &'static str = "Splits `in` (c32) into `re` and `im` (f32).";
    const EXAMPLE: &'static str = "";
    fn signature(_: &NoParams) -> Signature {
        Signature::new()
            .input("in", ItemType::C32)
            .output("re", ItemType::F32)
            .output("im", ItemType::F32)
    }
    fn build(_: &NoParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Err(BlockError::internal("test block, not runnable"))
    }
}
crate::register_block!(SplitDef);

/// `t_gen`: a generic output and no input (a definition bug the loader must report).
pub struct GenDef;
impl BlockDef for GenDef {
    type Params = NoParams;
    const NAME: &'static str = "t_gen";
    const SUMMARY: &'static str = "Test generic source.";
    const DOC: &'static str = "Output `out` of no knowable type.";
    const EXAMPLE: &'static str = "";
    fn signature(_: &NoParams) -> Signature {
        Signature::new().output("out", TypeSpec::Generic)
    }
    fn build(_: &NoParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Err(BlockError::internal("test block, not runnable"))
    }
}
crate::register_block!(GenDef);

crate::register_disabled_block!("t_needs_lib", "t-feature", "needs libt-dev");
