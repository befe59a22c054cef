//! Connections: resolves each block's `inputs` into edges (see [`super::requests`] for how
//! they map to ports and [`super::sources`] for how sources resolve), applies `policy`, and
//! checks that every required input has exactly one connection.

use crate::graph::EdgePolicy;
use crate::registry::{PortKind, Signature};

use super::block::BlockSpec;
use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::policy;
use super::requests::{self, Assigned};
use super::sources::resolve_source;
use super::tree::{Node, Origin};

/// One connection from an output to an input.
#[derive(Clone, Debug)]
pub(crate) struct Conn {
    /// Producing block.
    pub from: usize,
    /// Output index in the producer's signature (`None`: its signature is unknown).
    pub from_port: Option<usize>,
    /// Consuming block.
    pub to: usize,
    /// Input index in the consumer's expanded signature (`None`: its signature is unknown).
    pub to_port: Option<usize>,
    /// Where the connection is written.
    pub origin: Origin,
    /// `block.port` of the producer, for messages.
    pub source: String,
    /// Full-edge policy.
    pub policy: EdgePolicy,
}

/// The wiring of the whole flowgraph.
pub(crate) struct Wiring {
    /// Per block: the signature with variadic inputs expanded (if known).
    pub signatures: Vec<Option<Signature>>,
    /// Every connection.
    pub conns: Vec<Conn>,
    /// Per block: a problem with its inputs was reported (later checks stay quiet about it).
    pub troubled: Vec<bool>,
}

/// Resolves the `inputs` and `policy` of every block.
pub(crate) fn wire(ctx: &mut Ctx<'_>, specs: &[BlockSpec]) -> Wiring {
    let mut signatures = Vec::with_capacity(specs.len());
    let mut conns = Vec::new();
    let mut troubled = Vec::with_capacity(specs.len());
    for (bi, spec) in specs.iter().enumerate() {
        let start = conns.len();
        let errors_before = ctx.count();
        let sig = wire_block(ctx, specs, bi, &mut conns);
        troubled.push(
            ctx.count() > errors_before || spec.inputs.as_ref().is_some_and(Node::is_poisoned),
        );
        if let Some(policy) = &spec.policy {
            policy::apply(ctx, spec, sig.as_ref(), policy, &mut conns[start..]);
        }
        signatures.push(sig);
    }
    Wiring {
        signatures,
        conns,
        troubled,
    }
}

/// `blocks.NAME input `port`` for messages.
fn input_desc(spec: &BlockSpec, port: &str) -> String {
    format!("blocks.{} input `{port}`", spec.name)
}

/// Connects block `bi`'s inputs; returns its expanded signature.
fn wire_block(
    ctx: &mut Ctx<'_>,
    specs: &[BlockSpec],
    bi: usize,
    conns: &mut Vec<Conn>,
) -> Option<Signature> {
    let spec = &specs[bi];
    let errors_before = ctx.count();
    let requests = spec
        .inputs
        .as_ref()
        .and_then(|n| requests::read(ctx, spec, n));
    let Some(sig) = spec.signature.clone() else {
        // Unknown ports: still check that the named blocks exist.
        for r in requests
            .into_iter()
            .flat_map(|r| r.into_iter().flat_map(|(_, _, rs)| rs))
        {
            if let Some((from, from_port, source)) = resolve_source(ctx, specs, bi, &r, None, "") {
                conns.push(Conn {
                    from,
                    from_port,
                    to: bi,
                    to_port: None,
                    origin: r.origin,
                    source,
                    policy: EdgePolicy::Block,
                });
            }
        }
        return None;
    };
    // A malformed connection: its intended port would be reported unconnected too.
    let malformed = ctx.count() > errors_before;
    let Assigned {
        expanded,
        port_reqs,
        fixed,
        misspelt,
    } = requests::assign(ctx, specs, bi, &sig, requests);
    let where_ = spec
        .inputs
        .as_ref()
        .map_or(spec.header.clone(), |n| n.origin.clone());
    let requested: Vec<bool> = port_reqs.iter().map(|r| !r.is_empty()).collect();
    for (port, reqs) in port_reqs.into_iter().enumerate() {
        let p = &expanded.inputs[port];
        let target = input_desc(spec, &p.name);
        let mut first: Option<String> = None;
        for r in reqs {
            let Some((from, from_port, source)) =
                resolve_source(ctx, specs, bi, &r, Some(p), &target)
            else {
                continue;
            };
            // A message input takes any number of senders (their messages interleave); a
            // stream input takes one.
            let fan_in_ok = p.kind == PortKind::Message;
            if let (Some(f), false) = (&first, fan_in_ok) {
                ctx.error(
                    DiagnosticKind::ConnectedTwice,
                    &r.origin,
                    format!(
                        "input `{}` of {} is connected twice (`{f}` and `{source}`)",
                        p.name,
                        spec.describe()
                    ),
                )
                .help("an input takes one connection; fan out from the output instead");
                continue;
            }
            first = Some(source.clone());
            conns.push(Conn {
                from,
                from_port,
                to: bi,
                to_port: Some(port),
                origin: r.origin,
                source,
                policy: EdgePolicy::Block,
            });
        }
    }
    if malformed || misspelt || spec.inputs.as_ref().is_some_and(Node::is_poisoned) {
        return Some(expanded);
    }
    let unconnected = sig.inputs.iter().enumerate().filter(|(i, p)| {
        !p.optional
            && if p.variadic {
                expanded.inputs.len() == fixed
            } else {
                !requested[*i]
            }
    });
    for (_, p) in unconnected {
        let (what, example) = if p.variadic {
            ("variadic input", "`inputs = [\"a\", \"b\"]`".to_string())
        } else {
            (
                "input",
                format!(
                    "`inputs = [\"BLOCK\"]` or `inputs = {{ {} = \"BLOCK.PORT\" }}`",
                    p.name
                ),
            )
        };
        ctx.error(
            DiagnosticKind::Unconnected,
            &where_,
            format!(
                "{what} `{}` of {} is not connected",
                p.name,
                spec.describe()
            ),
        )
        .help(format!("connect it with {example}"));
    }
    Some(expanded)
}
