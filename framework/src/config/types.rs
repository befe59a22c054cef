//! Item types along the edges: fixed ports must get their type, and the generic ports of a
//! block share one type variable, taken from whatever feeds its generic inputs (they must
//! agree) and carried by its generic outputs. Blocks are visited in topological order so a
//! chain of generic blocks takes its type from the source.

use crate::item::ItemType;
use crate::registry::{PortKind, TypeSpec};

use super::block::BlockSpec;
use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::wiring::Wiring;

/// Resolved stream types per block (`None` where unknown because of an earlier problem).
pub(crate) struct Types {
    /// Per block: the type of each stream input, in order.
    pub inputs: Vec<Option<Vec<ItemType>>>,
    /// Per block: the type of each output (`None` for message outputs), by output index.
    pub outputs: Vec<Option<Vec<Option<ItemType>>>>,
}

/// Infers and checks the item types of every block in `order`.
pub(crate) fn infer(
    ctx: &mut Ctx<'_>,
    specs: &[BlockSpec],
    wiring: &Wiring,
    order: &[usize],
) -> Types {
    let (sigs, conns) = (&wiring.signatures, &wiring.conns);
    let n = specs.len();
    let mut out_types: Vec<Vec<Option<ItemType>>> = vec![Vec::new(); n];
    let mut types = Types {
        inputs: vec![None; n],
        outputs: vec![None; n],
    };
    for &b in order {
        let Some(sig) = &sigs[b] else { continue };
        let spec = &specs[b];
        // The type variable: its type, the input that fixed it, and what feeds that input.
        let mut var: Option<(ItemType, String, String)> = None;
        let mut unknown_upstream = false;
        for (i, port) in sig.inputs.iter().enumerate() {
            let PortKind::Stream(spec_ty) = port.kind else {
                continue;
            };
            for c in conns.iter().filter(|c| c.to == b && c.to_port == Some(i)) {
                let src = c
                    .from_port
                    .and_then(|p| out_types[c.from].get(p).copied().flatten());
                let Some(src) = src else {
                    unknown_upstream = true;
                    continue;
                };
                let target = format!("blocks.{} input `{}`", spec.name, port.name);
                match (spec_ty, &var) {
                    (TypeSpec::Fixed(t), _) if t != src => {
                        ctx.error(
                            DiagnosticKind::TypeMismatch,
                            &c.origin,
                            format!("{target} expects {t} but `{}` produces {src}", c.source),
                        );
                    }
                    (TypeSpec::Generic, Some((t, by, from))) if *t != src => {
                        ctx.error(
                            DiagnosticKind::TypeMismatch,
                            &c.origin,
                            format!(
                                "{target} expects {t} (the type of `{by}`, fed by `{from}`) but `{}` produces {src}",
                                c.source
                            ),
                        )
                        .help("the generic ports of a block share one item type");
                    }
                    (TypeSpec::Generic, None) => {
                        var = Some((src, port.name.to_string(), c.source.clone()))
                    }
                    _ => {}
                }
            }
        }
        let is_generic = |k: &PortKind| *k == PortKind::Stream(TypeSpec::Generic);
        let has_generic = sig
            .inputs
            .iter()
            .chain(&sig.outputs)
            .any(|p| is_generic(&p.kind));
        if let Some((vt, by, from)) = &var {
            if !sig.generic_types.is_empty() && !sig.generic_types.contains(vt) {
                let allowed: Vec<&str> = sig.generic_types.iter().map(|t| t.name()).collect();
                ctx.error(
                    DiagnosticKind::TypeMismatch,
                    &spec.header,
                    format!(
                        "{} does not take {vt} (input `{by}` is fed {vt} by `{from}`)",
                        spec.describe()
                    ),
                )
                .help(format!("it takes {}", allowed.join(", ")));
            }
        }
        let t = var.map(|(t, _, _)| t);
        if has_generic && t.is_none() && !unknown_upstream && !wiring.troubled[b] {
            let generic_inputs: Vec<String> = sig
                .inputs
                .iter()
                .filter(|p| is_generic(&p.kind))
                .map(|p| format!("`{}`", p.name))
                .collect();
            let (why, help) = if generic_inputs.is_empty() {
                (
                    "it has no generic input to take a type from".to_string(),
                    None,
                )
            } else {
                (
                    "none of its generic inputs is connected".to_string(),
                    Some(format!(
                        "connect a stream to {}",
                        generic_inputs.join(" or ")
                    )),
                )
            };
            ctx.error(
                DiagnosticKind::UnresolvedType,
                &spec.header,
                format!("cannot infer the item type of {}: {why}", spec.describe()),
            )
            .maybe_help(help);
        }
        let resolve = |k: &PortKind| match k {
            PortKind::Stream(TypeSpec::Fixed(f)) => Some(*f),
            PortKind::Stream(TypeSpec::Generic) => t,
            PortKind::Message => None,
        };
        out_types[b] = sig.outputs.iter().map(|p| resolve(&p.kind)).collect();
        let stream_outs: Option<Vec<ItemType>> = sig
            .outputs
            .iter()
            .filter(|p| matches!(p.kind, PortKind::Stream(_)))
            .map(|p| resolve(&p.kind))
            .collect();
        let stream_ins: Option<Vec<ItemType>> = sig
            .inputs
            .iter()
            .filter(|p| matches!(p.kind, PortKind::Stream(_)))
            .map(|p| resolve(&p.kind))
            .collect();
        if stream_outs.is_some() {
            types.outputs[b] = Some(out_types[b].clone());
        }
        types.inputs[b] = stream_ins;
    }
    types
}
