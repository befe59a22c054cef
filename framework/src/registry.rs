//! The block registry: [`BlockDef`] (a block's name, docs, ports and constructor), the
//! [`register_block!`](crate::register_block) line that submits it to `inventory`, and
//! lookup by TOML `type` name.
//!
//! Everything `flow blocks`, `flow check` and `docs/blocks.md` say about a block comes from
//! its `BlockDef` and its params struct's JSON schema, so the docs cannot drift from code.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::block::{Block, BlockError};
use crate::item::ItemType;
pub use crate::plan::{PlanInfo, PlanInputs, Storage};
use crate::tag::Propagation;

/// The type of a stream port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeSpec {
    /// Always this type.
    Fixed(ItemType),
    /// The block's type variable `T`: taken from whatever is connected to its generic
    /// inputs (all must agree); generic outputs carry the same type.
    Generic,
}

impl From<ItemType> for TypeSpec {
    fn from(t: ItemType) -> Self {
        TypeSpec::Fixed(t)
    }
}

impl std::fmt::Display for TypeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypeSpec::Fixed(t) => write!(f, "{t}"),
            TypeSpec::Generic => f.write_str("T"),
        }
    }
}

/// Stream or message port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// Items of a type.
    Stream(TypeSpec),
    /// [`crate::message::Message`] records.
    Message,
}

/// One port of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// Port name (`in`, `out`, `detections`).
    pub name: Cow<'static, str>,
    /// Stream of a type, or messages.
    pub kind: PortKind,
    /// Items the block needs per work call (inputs) or space it needs (outputs).
    pub min_items: usize,
    /// An input that may stay unconnected.
    pub optional: bool,
    /// An input that takes any number of connections (`in0`, `in1`, ...); last input only.
    pub variadic: bool,
}

/// The ports and run-time traits of a block, computed from its params.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Signature {
    /// Inputs, in order (stream and message).
    pub inputs: Vec<PortSpec>,
    /// Outputs, in order (stream and message).
    pub outputs: Vec<PortSpec>,
    /// A live source: data arrives whether or not downstream keeps up, so it must never
    /// block. It runs on its own thread and drops (counted, tagged) when its outputs fill.
    pub live: bool,
    /// Waits on I/O in `work` (files, sockets, devices, sleeping): gets its own thread.
    pub blocking: bool,
    /// How tags pass through.
    pub propagation: Propagation,
    /// The item types the type variable `T` may take (empty: any type).
    pub generic_types: &'static [ItemType],
    last_added_output: bool,
}

impl Signature {
    /// No ports.
    pub fn new() -> Self {
        Signature::default()
    }

    fn port(name: impl Into<Cow<'static, str>>, kind: PortKind) -> PortSpec {
        PortSpec {
            name: name.into(),
            kind,
            min_items: 1,
            optional: false,
            variadic: false,
        }
    }

    /// Adds a stream input.
    pub fn input(mut self, name: impl Into<Cow<'static, str>>, ty: impl Into<TypeSpec>) -> Self {
        self.inputs
            .push(Self::port(name, PortKind::Stream(ty.into())));
        self.last_added_output = false;
        self
    }

    /// Adds a stream output.
    pub fn output(mut self, name: impl Into<Cow<'static, str>>, ty: impl Into<TypeSpec>) -> Self {
        self.outputs
            .push(Self::port(name, PortKind::Stream(ty.into())));
        self.last_added_output = true;
        self
    }

    /// Adds a message input.
    pub fn message_input(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.inputs.push(Self::port(name, PortKind::Message));
        self.last_added_output = false;
        self
    }

    /// Adds a message output.
    pub fn message_output(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.outputs.push(Self::port(name, PortKind::Message));
        self.last_added_output = true;
        self
    }

    /// Sets `min_items` of the port added last.
    pub fn min_items(mut self, n: usize) -> Self {
        let port = if self.last_added_output {
            self.outputs.last_mut()
        } else {
            self.inputs.last_mut()
        };
        if let Some(p) = port {
            p.min_items = n.max(1);
        }
        self
    }

    /// Marks the input added last as optional.
    pub fn optional(mut self) -> Self {
        if let Some(p) = self.inputs.last_mut() {
            p.optional = true;
        }
        self
    }

    /// Marks the input added last as variadic (`in0`, `in1`, ... one per connection).
    pub fn variadic(mut self) -> Self {
        if let Some(p) = self.inputs.last_mut() {
            p.variadic = true;
        }
        self
    }

    /// Marks the block as a live source (see [`Signature::live`]); implies `blocking`.
    pub fn live(mut self) -> Self {
        self.live = true;
        self.blocking = true;
        self
    }

    /// Marks the block as waiting on I/O (see [`Signature::blocking`]).
    pub fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// Restricts the type variable `T` to `types` (checked when the flowgraph is loaded).
    pub fn generic_types(mut self, types: &'static [ItemType]) -> Self {
        self.generic_types = types;
        self
    }

    /// Makes the block responsible for its own output tags.
    pub fn manual_tags(mut self) -> Self {
        self.propagation = Propagation::Manual;
        self
    }
}

/// What a block's constructor knows besides its params: its name and the item types the
/// flowgraph resolved for its ports.
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// Block name in the flowgraph.
    pub name: String,
    /// Item type per stream input (signature order, variadics expanded).
    pub input_types: Vec<ItemType>,
    /// Item type per stream output (signature order).
    pub output_types: Vec<ItemType>,
    /// Directory of the flowgraph file (relative paths in params resolve against it).
    pub base_dir: std::path::PathBuf,
}

impl BuildContext {
    /// The resolved type variable `T` (first stream input's type, else first output's).
    pub fn generic_type(&self) -> Result<ItemType, BlockError> {
        self.input_types
            .first()
            .or(self.output_types.first())
            .copied()
            .ok_or_else(|| {
                BlockError::internal(format!(
                    "block `{}` has no stream port to take a type from",
                    self.name
                ))
            })
    }
}

/// A problem with one parameter, found by [`BlockDef::validate`] (pure, no I/O).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter (TOML key; empty for the block as a whole).
    pub param: String,
    /// What is wrong and what would be right.
    pub message: String,
}

impl ParamError {
    /// An error about `param`.
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        ParamError {
            param: param.into(),
            message: message.into(),
        }
    }
}

/// The definition of a block type: implement it and register it with
/// [`register_block!`](crate::register_block).
pub trait BlockDef: 'static {
    /// The params struct: the TOML schema of the block.
    type Params: DeserializeOwned + Serialize + schemars::JsonSchema + Send + Sync + 'static;
    /// TOML `type` name (snake_case).
    const NAME: &'static str;
    /// One line for `flow blocks`.
    const SUMMARY: &'static str;
    /// Reference documentation (Markdown): what it does, ports, behaviour.
    const DOC: &'static str;
    /// The body of an example `[blocks.NAME]` table (params only, no `type`/`inputs`).
    const EXAMPLE: &'static str;
    /// Parameter names that can be changed while running ([`Block`] handles them).
    const SETTABLE: &'static [&'static str] = &[];

    /// The ports and run-time traits for these params.
    fn signature(params: &Self::Params) -> Signature;

    /// Checks values that the types cannot (pure: no files, no sockets).
    fn validate(params: &Self::Params) -> Vec<ParamError> {
        let _ = params;
        Vec::new()
    }

    /// Builds a fresh block (at start and at every restart).
    fn build(params: &Self::Params, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError>;

    /// What `flow plan` should know: output rates, pacing and storage (pure). The default is
    /// a 1:1 block that stores nothing.
    fn plan(params: &Self::Params, inputs: &PlanInputs) -> PlanInfo {
        let _ = (params, inputs);
        PlanInfo::default()
    }
}

/// Parsed params of some block type, type-erased.
pub trait AnyParams: Send + Sync {
    /// The block's signature.
    fn signature(&self) -> Signature;
    /// Pure validation.
    fn validate(&self) -> Vec<ParamError>;
    /// A fresh block.
    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError>;
    /// The params as TOML (effective values, defaults filled in).
    fn to_toml(&self) -> Option<toml::Value>;
    /// The block's plan at these input rates.
    fn plan(&self, inputs: &PlanInputs) -> PlanInfo;
}

struct Parsed<D: BlockDef>(D::Params);

impl<D: BlockDef> AnyParams for Parsed<D> {
    fn signature(&self) -> Signature {
        D::signature(&self.0)
    }
    fn validate(&self) -> Vec<ParamError> {
        D::validate(&self.0)
    }
    fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        D::build(&self.0, ctx)
    }
    fn to_toml(&self) -> Option<toml::Value> {
        toml::Value::try_from(&self.0).ok()
    }
    fn plan(&self, inputs: &PlanInputs) -> PlanInfo {
        D::plan(&self.0, inputs)
    }
}

/// A failed params parse: the TOML path inside the block table and serde's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Dotted path of the offending value inside the block table (may be empty).
    pub path: String,
    /// What serde said.
    pub message: String,
}

/// A block type, type-erased: what the registry stores.
pub trait DynBlockDef: Sync {
    /// TOML `type` name.
    fn name(&self) -> &'static str;
    /// One-line summary.
    fn summary(&self) -> &'static str;
    /// Reference documentation.
    fn doc(&self) -> &'static str;
    /// Example params.
    fn example(&self) -> &'static str;
    /// Parameters that can be changed while running.
    fn settable(&self) -> &'static [&'static str];
    /// JSON schema of the params.
    fn schema(&self) -> schemars::Schema;
    /// Parses a params table.
    fn parse(&self, table: toml::Value) -> Result<Arc<dyn AnyParams>, ParseError>;
}

/// Adapter from a [`BlockDef`] to [`DynBlockDef`].
pub struct DefAdapter<D>(PhantomData<fn() -> D>);

impl<D: BlockDef> DefAdapter<D> {
    /// The adapter as a trait object.
    pub const INSTANCE: &'static dyn DynBlockDef = &DefAdapter::<D>(PhantomData);
}

impl<D: BlockDef> DynBlockDef for DefAdapter<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }
    fn summary(&self) -> &'static str {
        D::SUMMARY
    }
    fn doc(&self) -> &'static str {
        D::DOC
    }
    fn example(&self) -> &'static str {
        D::EXAMPLE
    }
    fn settable(&self) -> &'static [&'static str] {
        D::SETTABLE
    }
    fn schema(&self) -> schemars::Schema {
        schemars::generate::SchemaSettings::draft2020_12()
            .into_generator()
            .into_root_schema_for::<D::Params>()
    }
    fn parse(&self, table: toml::Value) -> Result<Arc<dyn AnyParams>, ParseError> {
        match serde_path_to_error::deserialize::<_, D::Params>(table) {
            Ok(p) => Ok(Arc::new(Parsed::<D>(p))),
            Err(e) => {
                let path = e.path().to_string();
                Err(ParseError {
                    path: if path == "." { String::new() } else { path },
                    message: e.into_inner().to_string(),
                })
            }
        }
    }
}

/// One registered block type.
pub struct Registration {
    /// The definition.
    pub def: &'static dyn DynBlockDef,
}

impl Registration {
    /// The registration of `D` (what [`register_block!`](crate::register_block) submits).
    pub const fn of<D: BlockDef>() -> Self {
        Registration {
            def: DefAdapter::<D>::INSTANCE,
        }
    }
}

inventory::collect!(Registration);

/// Registers a [`BlockDef`] so that flowgraphs can use it by its `NAME`.
#[macro_export]
macro_rules! register_block {
    ($def:ty) => {
        $crate::inventory::submit! { $crate::registry::Registration::of::<$def>() }
    };
}

/// Every registered block type, sorted by name.
pub fn all() -> Vec<&'static dyn DynBlockDef> {
    let mut v: Vec<_> = inventory::iter::<Registration>
        .into_iter()
        .map(|r| r.def)
        .collect();
    v.sort_by_key(|d| d.name());
    v
}

/// The block type named `name`.
pub fn find(name: &str) -> Option<&'static dyn DynBlockDef> {
    inventory::iter::<Registration>
        .into_iter()
        .map(|r| r.def)
        .find(|d| d.name() == name)
}
