//! A block's `policy`: one name for all its inputs (`"drop_oldest"`), or a table by input
//! port (`{ in = "drop_oldest" }`; a variadic input's name covers all its ports).

use crate::graph::EdgePolicy;
use crate::registry::Signature;

use super::block::BlockSpec;
use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::suggest;
use super::tree::{Node, Value};
use super::values;
use super::wiring::Conn;

/// Applies a block's `policy` (one name for all inputs, or a table by input port).
pub(crate) fn apply(
    ctx: &mut Ctx<'_>,
    spec: &BlockSpec,
    sig: Option<&Signature>,
    node: &Node,
    conns: &mut [Conn],
) {
    const CHOICES: [(&str, EdgePolicy); 3] = [
        ("block", EdgePolicy::Block),
        ("drop_newest", EdgePolicy::DropNewest),
        ("drop_oldest", EdgePolicy::DropOldest),
    ];
    let owner = format!("block `{}`", spec.name);
    match &node.value {
        Value::Table(t) => {
            for e in &t.entries {
                let Some(p) = values::choice(ctx, &e.node, "policy", &owner, &CHOICES) else {
                    continue;
                };
                let Some(sig) = sig else { continue };
                let base = spec
                    .signature
                    .as_ref()
                    .and_then(|s| s.inputs.iter().find(|q| q.variadic && q.name == e.key));
                let ports: Vec<usize> = (0..sig.inputs.len())
                    .filter(|&i| {
                        sig.inputs[i].name == e.key
                            || base.is_some_and(|b| sig.inputs[i].variadic && b.variadic)
                    })
                    .collect();
                if ports.is_empty() && base.is_none() {
                    let mut names: Vec<&str> = sig.inputs.iter().map(|q| q.name.as_ref()).collect();
                    if let Some(v) = spec
                        .signature
                        .as_ref()
                        .and_then(|s| s.inputs.last())
                        .filter(|q| q.variadic)
                    {
                        names.push(v.name.as_ref());
                    }
                    let help = suggest::did_you_mean(&e.key, &names)
                        .unwrap_or_else(|| format!("its inputs are {}", suggest::list(&names)));
                    ctx.error(
                        DiagnosticKind::UnknownPort,
                        &e.key_origin,
                        format!("{} has no input `{}` (in `policy`)", spec.describe(), e.key),
                    )
                    .help(help);
                }
                for c in conns
                    .iter_mut()
                    .filter(|c| c.to_port.is_some_and(|i| ports.contains(&i)))
                {
                    c.policy = p;
                }
            }
        }
        _ => {
            if let Some(p) = values::choice(ctx, node, "policy", &owner, &CHOICES) {
                conns.iter_mut().for_each(|c| c.policy = p);
            }
        }
    }
}
