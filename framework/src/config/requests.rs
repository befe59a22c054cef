//! The connections written in a block's `inputs` (positional `["src", "f.out"]` or a table
//! `{ in = "src.out" }`), and their mapping to the block's input ports: signature order for
//! the positional form, names for the table form, one port per connection for a variadic
//! input (`in` → `in0`, `in1`, ...; also `in0 = ...` keys, numbered without gaps).

use std::borrow::Cow;

use crate::registry::{PortSpec, Signature};

use super::block::BlockSpec;
use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::sources::resolve_source;
use super::suggest;
use super::tree::{Node, Origin, Value};

/// A requested connection before it is mapped to a port.
pub(crate) struct Request {
    /// `blk` or `blk.port`.
    pub text: String,
    /// Where it is written.
    pub origin: Origin,
}

/// The requests of an `inputs` value: `None` keys for the positional form, port names for
/// the table form (with where the key is written).
pub(crate) type Requests = Vec<(Option<String>, Origin, Vec<Request>)>;

pub(crate) fn read(ctx: &mut Ctx<'_>, spec: &BlockSpec, node: &Node) -> Option<Requests> {
    if node.is_poisoned() {
        return None;
    }
    let list = |ctx: &mut Ctx<'_>, n: &Node| -> Vec<Request> {
        let items: Vec<&Node> = match &n.value {
            Value::Array(a) => a.iter().collect(),
            _ => vec![n],
        };
        items
            .into_iter()
            .filter_map(|item| match &item.value {
                Value::String(s) => Some(Request { text: s.clone(), origin: item.origin.clone() }),
                _ => {
                    ctx.error(
                        DiagnosticKind::InvalidOption,
                        &item.origin,
                        format!(
                            "`inputs` of block `{}` lists {} `{}`, expected \"block\" or \"block.port\"",
                            spec.name,
                            item.type_name(),
                            item.display()
                        ),
                    );
                    None
                }
            })
            .collect()
    };
    match &node.value {
        Value::Array(_) | Value::String(_) => {
            Some(vec![(None, node.origin.clone(), list(ctx, node))])
        }
        Value::Table(t) => Some(
            t.entries
                .iter()
                .map(|e| {
                    (
                        Some(e.key.clone()),
                        e.key_origin.clone(),
                        list(ctx, &e.node),
                    )
                })
                .collect(),
        ),
        _ => {
            ctx.error(
                DiagnosticKind::InvalidOption,
                &node.origin,
                format!(
                    "`inputs` of block `{}` must be an array or a table, found {}",
                    spec.name,
                    node.type_name()
                ),
            )
            .help("write `inputs = [\"src\"]` or `inputs = { in = \"src.out\" }`");
            None
        }
    }
}

/// Requests mapped to the ports of a block's signature, variadics expanded.
pub(crate) struct Assigned {
    /// The signature with the variadic input expanded (`in0`, `in1`, ...).
    pub expanded: Signature,
    /// Per expanded input port: the connections written for it.
    pub port_reqs: Vec<Vec<Request>>,
    /// Number of non-variadic inputs.
    pub fixed: usize,
    /// A misspelt input port was reported (its intended port would look unconnected).
    pub misspelt: bool,
}

/// Maps the requests of block `bi` to the ports of `sig`: positionally in signature order,
/// or by port name; the variadic input gets one port per connection.
pub(crate) fn assign(
    ctx: &mut Ctx<'_>,
    specs: &[BlockSpec],
    bi: usize,
    sig: &Signature,
    requests: Option<Requests>,
) -> Assigned {
    let spec = &specs[bi];
    let variadic = sig.inputs.last().filter(|p| p.variadic).cloned();
    let fixed = sig.inputs.len() - usize::from(variadic.is_some());
    // Per fixed port: its requests; per variadic slot: its requests.
    let mut fixed_reqs: Vec<Vec<Request>> = (0..fixed).map(|_| Vec::new()).collect();
    let mut slots: Vec<(usize, Request)> = Vec::new();
    let mut skip_unconnected = false;
    match requests {
        None => {}
        Some(list) if list.first().is_some_and(|(k, _, _)| k.is_none()) => {
            // Positional.
            let mut too_many = false;
            for (k, r) in list.into_iter().flat_map(|(_, _, rs)| rs).enumerate() {
                if k < fixed {
                    fixed_reqs[k].push(r);
                } else if variadic.is_some() {
                    slots.push((k - fixed, r));
                } else if !too_many {
                    too_many = true;
                    let names: Vec<&str> = sig.inputs.iter().map(|p| p.name.as_ref()).collect();
                    let has = match names.len() {
                        0 => "no inputs".to_string(),
                        1 => format!("1 input ({})", suggest::list(&names)),
                        n => format!("{n} inputs ({})", suggest::list(&names)),
                    };
                    ctx.error(
                        DiagnosticKind::UnknownPort,
                        &r.origin,
                        format!("too many inputs: {} has {has}", spec.describe()),
                    );
                }
            }
        }
        Some(list) => {
            let mut next_slot = 0;
            for (key, key_origin, reqs) in list {
                let key = key.unwrap_or_default();
                if let Some(i) = sig.inputs[..fixed].iter().position(|p| p.name == key) {
                    fixed_reqs[i].extend(reqs);
                } else if variadic.as_ref().is_some_and(|v| v.name == key) {
                    for r in reqs {
                        slots.push((next_slot, r));
                        next_slot += 1;
                    }
                } else if let Some(slot) =
                    variadic.as_ref().and_then(|v| variadic_slot(&v.name, &key))
                {
                    slots.extend(reqs.into_iter().map(|r| (slot, r)));
                } else {
                    let names: Vec<&str> = sig.inputs.iter().map(|p| p.name.as_ref()).collect();
                    let help = suggest::did_you_mean(&key, &names).unwrap_or_else(|| {
                        match names.is_empty() {
                            true => "it has no inputs".into(),
                            false => format!("its inputs are {}", suggest::list(&names)),
                        }
                    });
                    ctx.error(
                        DiagnosticKind::UnknownPort,
                        &key_origin,
                        format!("{} has no input `{key}`", spec.describe()),
                    )
                    .help(help);
                    skip_unconnected = true;
                    // Still check the sources it names.
                    for r in reqs {
                        let _ = resolve_source(ctx, specs, bi, &r, None, "");
                    }
                }
            }
        }
    }

    // Expand the variadic input: one port per slot, numbered from 0 without gaps.
    slots.sort_by_key(|(s, _)| *s);
    let mut expanded = sig.clone();
    expanded.inputs.truncate(fixed);
    let mut port_reqs = fixed_reqs;
    if let Some(v) = &variadic {
        let mut k = 0;
        let mut last: Option<usize> = None;
        for (slot, r) in slots {
            if last == Some(slot) {
                // The same slot again: a second connection to the port just made.
                if let Some(reqs) = port_reqs.last_mut() {
                    reqs.push(r);
                }
                continue;
            }
            last = Some(slot);
            if slot != k {
                ctx.error(
                    DiagnosticKind::Unconnected,
                    &r.origin,
                    format!(
                        "input `{}{k}` of {} is not connected",
                        v.name,
                        spec.describe()
                    ),
                )
                .help(format!(
                    "number variadic inputs from `{}0` without gaps",
                    v.name
                ));
            }
            expanded.inputs.push(PortSpec {
                name: Cow::Owned(format!("{}{k}", v.name)),
                ..v.clone()
            });
            port_reqs.push(vec![r]);
            k += 1;
        }
    }
    Assigned {
        expanded,
        port_reqs,
        fixed,
        misspelt: skip_unconnected,
    }
}

/// `in3` → 3 for a variadic input named `in`.
fn variadic_slot(base: &str, key: &str) -> Option<usize> {
    let digits = key.strip_prefix(base)?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 4 {
        return None;
    }
    digits.parse().ok()
}
