//! `${VAR}` / `${VAR:-default}` interpolation of string values from the environment, with
//! `$$` for a literal dollar. Applied to every string the file holds (in arrays and tables
//! too), not to keys and not to `--set` values (the shell has expanded those already).

use std::fmt;

use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::tree::{Node, Origin, Value};

/// Why a string could not be interpolated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${NAME}` without a default, and `NAME` is unset or empty.
    Unset(String),
    /// `${` without its closing `}`.
    Unterminated,
    /// `${...}` whose content is not `NAME` or `NAME:-default`.
    BadReference(String),
}

impl fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpolationError::Unset(n) => write!(f, "environment variable `{n}` is not set"),
            InterpolationError::Unterminated => {
                f.write_str("unterminated `${` (the closing `}` is missing)")
            }
            InterpolationError::BadReference(r) => {
                write!(
                    f,
                    "`${{{r}}}` is not a variable reference (`${{NAME}}` or `${{NAME:-default}}`)"
                )
            }
        }
    }
}

/// The result of interpolating one string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expanded {
    /// The new text.
    pub text: String,
    /// True when a `${...}` reference was replaced (not only `$$`).
    pub substituted: bool,
}

/// Interpolates `s`, looking variables up with `env`. Returns `None` when `s` has no `$`.
pub fn expand(
    s: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Expanded>, InterpolationError> {
    if !s.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(s.len());
    let mut substituted = false;
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = matching_brace(body).ok_or(InterpolationError::Unterminated)?;
            out.push_str(&reference(&body[..end], env)?);
            substituted = true;
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Some(Expanded {
        text: out,
        substituted,
    }))
}

/// Index of the `}` closing a `${` whose body starts `body` (nested braces allowed).
fn matching_brace(body: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The value of one `NAME` or `NAME:-default` reference.
fn reference(
    inner: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let (name, default) = match inner.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (inner, None),
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(InterpolationError::BadReference(inner.to_string()));
    }
    match (env(name).filter(|v| !v.is_empty()), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(expand(d, env)?.map_or_else(|| d.to_string(), |e| e.text)),
        (None, None) => Err(InterpolationError::Unset(name.to_string())),
    }
}

/// Interpolates every string of the file in `node` (not `--set` values), recording errors.
pub(crate) fn interpolate_tree(
    node: &mut Node,
    env: &dyn Fn(&str) -> Option<String>,
    ctx: &mut Ctx<'_>,
) {
    match &mut node.value {
        Value::String(s) if matches!(node.origin, Origin::File(_)) => match expand(s, env) {
            Ok(None) => {}
            Ok(Some(e)) => {
                *s = e.text;
                node.interpolated = e.substituted;
            }
            Err(err) => {
                let help = match &err {
                    InterpolationError::Unset(n) => {
                        format!("set it, or give a default: `${{{n}:-default}}`")
                    }
                    _ => "write `$$` for a literal `$`".to_string(),
                };
                ctx.error(DiagnosticKind::Interpolation, &node.origin, err.to_string())
                    .help(help);
                node.poisoned = true;
            }
        },
        Value::Array(a) => a.iter_mut().for_each(|n| interpolate_tree(n, env, ctx)),
        Value::Table(t) => t
            .entries
            .iter_mut()
            .for_each(|e| interpolate_tree(&mut e.node, env, ctx)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("239.1.2.3".into()),
            "EMPTY" => Some(String::new()),
            "N" => Some("7".into()),
            _ => None,
        }
    }

    fn x(s: &str) -> Result<String, InterpolationError> {
        expand(s, &env).map(|e| e.map_or_else(|| s.to_string(), |e| e.text))
    }

    #[test]
    fn expands_variables_defaults_and_escapes() {
        assert_eq!(x("${HOST}:5004").unwrap(), "239.1.2.3:5004");
        assert_eq!(x("${GRAPE:-./data}/raw").unwrap(), "./data/raw");
        assert_eq!(x("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(x("${NOPE:-${N}}").unwrap(), "7");
        assert_eq!(x("cost $$5 and $HOME").unwrap(), "cost $5 and $HOME");
        assert_eq!(x("$${HOST}").unwrap(), "${HOST}");
        assert_eq!(x("plain").unwrap(), "plain");
        assert_eq!(
            expand("$$", &env).unwrap().map(|e| e.substituted),
            Some(false)
        );
        assert_eq!(
            expand("${N}", &env).unwrap().map(|e| e.substituted),
            Some(true)
        );
    }

    #[test]
    fn reports_unset_unterminated_and_bad_references() {
        assert_eq!(x("${NOPE}"), Err(InterpolationError::Unset("NOPE".into())));
        assert_eq!(
            x("${EMPTY}"),
            Err(InterpolationError::Unset("EMPTY".into()))
        );
        assert_eq!(x("a ${HOST"), Err(InterpolationError::Unterminated));
        assert_eq!(
            x("${1X}"),
            Err(InterpolationError::BadReference("1X".into()))
        );
        assert_eq!(
            x("${}"),
            Err(InterpolationError::BadReference(String::new()))
        );
        assert_eq!(
            InterpolationError::BadReference("a b".into()).to_string(),
            "`${a b}` is not a variable reference (`${NAME}` or `${NAME:-default}`)"
        );
    }
}
