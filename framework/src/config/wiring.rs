//! Connections: each block's `inputs` (positional `["src", "f.out"]` filling its input ports
//! in signature order, or a table `{ in = "src.out" }` by port name), variadic expansion
//! (`in` → `in0`, `in1`, ... one per connection), edge `policy`, and the checks that every
//! named block and port exists, kinds match (stream vs message), every required input has
//! exactly one connection.

use std::borrow::Cow;

use crate::graph::EdgePolicy;
use crate::registry::{PortKind, PortSpec, Signature, TypeSpec};

use super::block::BlockSpec;
use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::suggest;
use super::tree::{Node, Origin, Value};
use super::values;

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

/// Which kind of output a connection needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Stream,
    Message,
}

/// A requested connection before it is mapped to a port.
struct Request {
    text: String,
    origin: Origin,
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
            apply_policy(ctx, spec, sig.as_ref(), policy, &mut conns[start..]);
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
    let requests = spec.inputs.as_ref().and_then(|n| requests(ctx, spec, n));
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
    let variadic = sig.inputs.last().filter(|p| p.variadic).cloned();
    let fixed = sig.inputs.len() - usize::from(variadic.is_some());
    // Per fixed port: its requests; per variadic slot: its requests.
    let mut fixed_reqs: Vec<Vec<Request>> = (0..fixed).map(|_| Vec::new()).collect();
    let mut slots: Vec<(usize, Request)> = Vec::new();
    // A malformed or misspelt connection: its intended port would be reported unconnected too.
    let mut skip_unconnected = ctx.count() > errors_before;
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
            if let Some(f) = &first {
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
    if skip_unconnected || spec.inputs.as_ref().is_some_and(Node::is_poisoned) {
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

/// `in3` → 3 for a variadic input named `in`.
fn variadic_slot(base: &str, key: &str) -> Option<usize> {
    let digits = key.strip_prefix(base)?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 4 {
        return None;
    }
    digits.parse().ok()
}

/// The requests of an `inputs` value: `None` keys for the positional form, port names for
/// the table form (with where the key is written).
type Requests = Vec<(Option<String>, Origin, Vec<Request>)>;

fn requests(ctx: &mut Ctx<'_>, spec: &BlockSpec, node: &Node) -> Option<Requests> {
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

/// Describes an input port's kind: `a stream of f32`, `messages`.
fn takes(p: &PortSpec) -> String {
    match p.kind {
        PortKind::Stream(TypeSpec::Fixed(t)) => format!("a stream of {t}"),
        PortKind::Stream(TypeSpec::Generic) => "a stream".into(),
        PortKind::Message => "messages".into(),
    }
}

/// Describes an output port's kind: `a stream of c32 output`, `a message output`.
fn gives(p: &PortSpec) -> String {
    match p.kind {
        PortKind::Stream(TypeSpec::Fixed(t)) => format!("a stream output of {t}"),
        PortKind::Stream(TypeSpec::Generic) => "a stream output".into(),
        PortKind::Message => "a message output".into(),
    }
}

fn kind_of(p: &PortSpec) -> Want {
    match p.kind {
        PortKind::Stream(_) => Want::Stream,
        PortKind::Message => Want::Message,
    }
}

/// Resolves `blk` / `blk.port` for the input `target` of block `to` (the port `want`, if
/// known): the producer, its output index and `blk.port`.
fn resolve_source(
    ctx: &mut Ctx<'_>,
    specs: &[BlockSpec],
    to: usize,
    r: &Request,
    want: Option<&PortSpec>,
    target: &str,
) -> Option<(usize, Option<usize>, String)> {
    let (blk, port) = match r.text.split_once('.') {
        Some((b, p)) => (b, Some(p)),
        None => (r.text.as_str(), None),
    };
    if blk.is_empty() || port.is_some_and(str::is_empty) {
        let msg = format!(
            "`inputs` of block `{}` lists \"{}\", expected \"block\" or \"block.port\"",
            specs[to].name, r.text
        );
        ctx.error(DiagnosticKind::InvalidOption, &r.origin, msg);
        return None;
    }
    let Some(from) = specs.iter().position(|s| s.name == blk) else {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let help = suggest::did_you_mean(blk, &names)
            .unwrap_or_else(|| format!("the blocks are {}", suggest::list(&names)));
        ctx.error(
            DiagnosticKind::UnknownBlock,
            &r.origin,
            format!(
                "unknown block `{blk}` in `inputs` of block `{}`",
                specs[to].name
            ),
        )
        .help(help);
        return None;
    };
    let producer = &specs[from];
    let Some(sig) = &producer.signature else {
        return Some((from, None, r.text.clone()));
    };
    let outs = &sig.outputs;
    let index = match port {
        Some(p) => match outs.iter().position(|o| o.name == p) {
            Some(i) => i,
            None => {
                let names: Vec<&str> = outs.iter().map(|o| o.name.as_ref()).collect();
                let help =
                    suggest::did_you_mean(p, &names).unwrap_or_else(|| match names.is_empty() {
                        true => "it has no outputs".into(),
                        false => format!("its outputs are {}", suggest::list(&names)),
                    });
                ctx.error(
                    DiagnosticKind::UnknownPort,
                    &r.origin,
                    format!("{} has no output `{p}`", producer.describe()),
                )
                .help(help);
                return None;
            }
        },
        None => {
            let Some(w) = want.map(kind_of) else {
                return Some((from, None, r.text.clone()));
            };
            let matching: Vec<usize> = (0..outs.len())
                .filter(|&i| kind_of(&outs[i]) == w)
                .collect();
            match matching.as_slice() {
                [i] => *i,
                [] if outs.is_empty() => {
                    ctx.error(
                        DiagnosticKind::UnknownPort,
                        &r.origin,
                        format!("{} has no outputs", producer.describe()),
                    );
                    return None;
                }
                [] => {
                    let (need, has) = match w {
                        Want::Stream => ("a stream", "only message outputs"),
                        Want::Message => ("messages", "only stream outputs"),
                    };
                    ctx.error(
                        DiagnosticKind::KindMismatch,
                        &r.origin,
                        format!("{target} takes {need} but block `{blk}` has {has}"),
                    );
                    return None;
                }
                several => {
                    let names: Vec<&str> = several.iter().map(|&i| outs[i].name.as_ref()).collect();
                    let kind = if w == Want::Stream {
                        "stream"
                    } else {
                        "message"
                    };
                    ctx.error(
                        DiagnosticKind::UnknownPort,
                        &r.origin,
                        format!(
                            "{} has several {kind} outputs ({}): name one",
                            producer.describe(),
                            suggest::list(&names)
                        ),
                    )
                    .help(format!("write `{blk}.{}`", names[0]));
                    return None;
                }
            }
        }
    };
    let source = format!("{blk}.{}", outs[index].name);
    if let Some(p) = want {
        if kind_of(&outs[index]) != kind_of(p) {
            ctx.error(
                DiagnosticKind::KindMismatch,
                &r.origin,
                format!(
                    "{target} takes {} but `{source}` is {}",
                    takes(p),
                    gives(&outs[index])
                ),
            );
            return None;
        }
    }
    Some((from, Some(index), source))
}

/// Applies a block's `policy` (one name for all inputs, or a table by input port).
fn apply_policy(
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
