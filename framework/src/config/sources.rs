//! Resolving a source written in `inputs` (`blk` or `blk.port`) to a producer and one of
//! its outputs: the block and port must exist (else "did you mean"), `blk` alone means its
//! only output of the kind the input needs, and stream and message ports do not mix.

use crate::registry::{PortKind, PortSpec, TypeSpec};

use super::block::BlockSpec;
use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::requests::Request;
use super::suggest;

/// Which kind of output a connection needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Stream,
    Message,
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
pub(crate) fn resolve_source(
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
