//! What the control port says about a flowgraph's structure: blocks with their ports, types,
//! settable parameters and current parameter values, and the edges between them. Built once
//! at start from the validated [`Graph`]; parameter values are read live.

use serde::Serialize;

use crate::graph::{Graph, GraphBlock};
use crate::registry::PortKind;
use crate::runtime::{BlockHandle, Flowgraph};

/// A port.
#[derive(Clone, Debug, Serialize)]
pub struct PortInfo {
    /// Port name.
    pub name: String,
    /// `stream` or `message`.
    pub kind: &'static str,
    /// Item type of a stream port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<&'static str>,
}

/// A block.
#[derive(Clone, Debug, Serialize)]
pub struct BlockInfo {
    /// Name in the flowgraph.
    pub name: String,
    /// TOML type.
    #[serde(rename = "type")]
    pub type_name: &'static str,
    /// One-line summary of the type.
    pub summary: &'static str,
    /// A live source.
    pub live: bool,
    /// Runs on its own thread.
    pub blocking: bool,
    /// Inputs.
    pub inputs: Vec<PortInfo>,
    /// Outputs.
    pub outputs: Vec<PortInfo>,
    /// Parameters that can be changed while running.
    pub settable: Vec<&'static str>,
}

/// An edge.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeInfo {
    /// `block.port` of the producer.
    pub from: String,
    /// `block.port` of the consumer.
    pub to: String,
    /// `stream` or `message`.
    pub kind: &'static str,
    /// Item type (stream edges).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<&'static str>,
    /// `block`, `drop_newest` or `drop_oldest`.
    pub policy: &'static str,
}

/// The flowgraph's structure.
#[derive(Clone, Debug, Serialize)]
pub struct GraphInfo {
    /// Flowgraph name.
    pub name: String,
    /// Blocks, producers first.
    pub blocks: Vec<BlockInfo>,
    /// Edges.
    pub edges: Vec<EdgeInfo>,
}

fn ports(b: &GraphBlock, outputs: bool) -> Vec<PortInfo> {
    let (specs, types) = if outputs {
        (&b.signature.outputs, &b.output_types)
    } else {
        (&b.signature.inputs, &b.input_types)
    };
    let mut k = 0;
    specs
        .iter()
        .map(|p| match p.kind {
            PortKind::Stream(_) => {
                let item = types.get(k).map(|t| t.name());
                k += 1;
                PortInfo {
                    name: p.name.to_string(),
                    kind: "stream",
                    item,
                }
            }
            PortKind::Message => PortInfo {
                name: p.name.to_string(),
                kind: "message",
                item: None,
            },
        })
        .collect()
}

impl GraphInfo {
    /// The structure of `graph`.
    pub fn of(graph: &Graph) -> Self {
        let blocks = graph
            .blocks
            .iter()
            .map(|b| BlockInfo {
                name: b.name.clone(),
                type_name: b.def.name(),
                summary: b.def.summary(),
                live: b.signature.live,
                blocking: b.signature.blocking,
                inputs: ports(b, false),
                outputs: ports(b, true),
                settable: b.def.settable().to_vec(),
            })
            .collect();
        let edges = graph
            .edges
            .iter()
            .map(|e| {
                let (f, t) = (&graph.blocks[e.from_block], &graph.blocks[e.to_block]);
                let out = &f.signature.outputs[e.from_port];
                EdgeInfo {
                    from: format!("{}.{}", f.name, out.name),
                    to: format!("{}.{}", t.name, t.signature.inputs[e.to_port].name),
                    kind: if out.kind == PortKind::Message {
                        "message"
                    } else {
                        "stream"
                    },
                    item: e.item_type.map(|t| t.name()),
                    policy: e.policy.name(),
                }
            })
            .collect();
        GraphInfo {
            name: graph.settings.name.clone(),
            blocks,
            edges,
        }
    }
}

/// The current params of a block as JSON (defaults filled in, run-time changes applied).
pub fn params_json(b: &BlockHandle) -> serde_json::Value {
    b.params
        .current()
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The structure with every block's current params, as JSON.
pub fn graph_json(info: &GraphInfo, fg_blocks: &[BlockHandle]) -> serde_json::Value {
    let mut v = serde_json::to_value(info).unwrap_or_default();
    if let Some(blocks) = v.get_mut("blocks").and_then(|b| b.as_array_mut()) {
        for b in blocks {
            let name = b["name"].as_str().unwrap_or_default().to_string();
            if let Some(h) = fg_blocks.iter().find(|h| h.name == name) {
                b["params"] = params_json(h);
            }
        }
    }
    v
}

/// A JSON value as TOML (what a parameter change is checked as); `null` has no TOML form.
pub fn json_to_toml(v: &serde_json::Value) -> Result<toml::Value, String> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => return Err("null is not a parameter value".into()),
        J::Bool(b) => toml::Value::Boolean(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => toml::Value::Integer(i),
            (None, Some(f)) => toml::Value::Float(f),
            _ => return Err(format!("{n} does not fit a TOML number")),
        },
        J::String(s) => toml::Value::String(s.clone()),
        J::Array(a) => toml::Value::Array(a.iter().map(json_to_toml).collect::<Result<_, _>>()?),
        J::Object(o) => toml::Value::Table(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), json_to_toml(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Handles the control port needs from a running flowgraph.
#[derive(Clone)]
pub struct Handles {
    /// Blocks.
    pub blocks: Vec<BlockHandle>,
    /// Stream edges.
    pub edges: Vec<crate::runtime::EdgeHandle>,
}

impl Handles {
    /// The handles of `fg`.
    pub fn of(fg: &Flowgraph) -> Self {
        Handles {
            blocks: fg.blocks.clone(),
            edges: fg.edges.clone(),
        }
    }
}
