//! Reading flow's own options (`[flowgraph]` settings and the common block keys) from located
//! values, with a diagnostic at the value when it has the wrong type or an unknown name.

use super::coerce;
use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::suggest;
use super::tree::{Node, Value};

/// A string option `key` of `owner` (`block `x``, `[flowgraph]`), for messages.
pub(crate) fn string(ctx: &mut Ctx<'_>, node: &Node, key: &str, owner: &str) -> Option<String> {
    if node.poisoned {
        return None;
    }
    match &node.value {
        Value::String(s) => Some(s.clone()),
        _ => {
            ctx.error(
                DiagnosticKind::InvalidOption,
                &node.origin,
                format!(
                    "`{key}` of {owner} must be a string, found {} `{}`",
                    node.type_name(),
                    node.display()
                ),
            );
            None
        }
    }
}

/// A positive integer option (an interpolated string that parses as one is accepted).
pub(crate) fn positive(ctx: &mut Ctx<'_>, node: &Node, key: &str, owner: &str) -> Option<usize> {
    if node.poisoned {
        return None;
    }
    let mut n = node.clone();
    coerce::scalar(&mut n, &["integer"]);
    match n.value {
        Value::Integer(i) if i > 0 => usize::try_from(i).ok(),
        _ => {
            ctx.error(
                DiagnosticKind::InvalidOption,
                &node.origin,
                format!(
                    "`{key}` of {owner} must be a positive integer, found {} `{}`",
                    node.type_name(),
                    node.display()
                ),
            );
            None
        }
    }
}

/// One of a fixed set of names (`policy`, `on_error`, `thread`), with "did you mean".
pub(crate) fn choice<T: Copy>(
    ctx: &mut Ctx<'_>,
    node: &Node,
    key: &str,
    owner: &str,
    choices: &[(&str, T)],
) -> Option<T> {
    let s = string(ctx, node, key, owner)?;
    if let Some((_, v)) = choices.iter().find(|(n, _)| *n == s) {
        return Some(*v);
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let help = suggest::did_you_mean(&s, &names)
        .unwrap_or_else(|| format!("expected one of {}", suggest::list(&names)));
    ctx.error(
        DiagnosticKind::InvalidOption,
        &node.origin,
        format!("unknown {key} `{s}` for {owner}"),
    )
    .help(help);
    None
}

/// A duration such as `"30s"`, `"10min"` or `"2h 30m"`.
pub(crate) fn duration(
    ctx: &mut Ctx<'_>,
    node: &Node,
    key: &str,
    owner: &str,
) -> Option<std::time::Duration> {
    let text = string(ctx, node, key, owner)?;
    match humantime::parse_duration(&text) {
        Ok(d) => Some(d),
        Err(err) => {
            ctx.error(
                DiagnosticKind::InvalidOption,
                &node.origin,
                format!("`{key}` of {owner} is not a duration (`{text}`): {err}"),
            )
            .help("write it like \"30s\", \"10min\" or \"2h 30m\"");
            None
        }
    }
}
