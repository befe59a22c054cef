//! The block reference, generated from the registry so it cannot drift from the code:
//! [`blocks_markdown`] renders `docs/blocks.md` (printed by the hidden `flow docs blocks`),
//! and the helpers here compute what `flow blocks NAME` shows too (ports from default or
//! example params, parameter rows from the params schema).

use std::fmt::Write;

use crate::config::schema::{self, ParamDoc};
use crate::registry::{self, DynBlockDef, PortKind, PortSpec, Signature, TypeSpec};

/// A block's ports for documentation, and how they were obtained.
pub struct DocPorts {
    /// The signature.
    pub signature: Signature,
    /// True when the default params could not be built and the block's example params were
    /// used instead (ports may differ with other params).
    pub from_example: bool,
}

/// The ports of `def` with its default params, else with its example params.
pub fn doc_ports(def: &dyn DynBlockDef) -> Option<DocPorts> {
    let defaults = toml::Value::Table(toml::Table::new());
    if let Ok(p) = def.parse(defaults) {
        return Some(DocPorts {
            signature: p.signature(),
            from_example: false,
        });
    }
    let example: toml::Table = toml::from_str(def.example()).ok()?;
    let p = def.parse(toml::Value::Table(example)).ok()?;
    Some(DocPorts {
        signature: p.signature(),
        from_example: true,
    })
}

/// One port as documentation shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRow {
    /// Port name.
    pub name: String,
    /// `input` or `output`.
    pub direction: &'static str,
    /// `stream c32`, `stream T (generic)`, `message`.
    pub kind: String,
    /// Items needed per call.
    pub min_items: usize,
    /// `optional`, `variadic: in0, in1, ...`.
    pub notes: String,
}

/// The port rows of a signature, inputs first.
pub fn port_rows(sig: &Signature) -> Vec<PortRow> {
    let row = |p: &PortSpec, direction: &'static str| {
        let kind = match p.kind {
            PortKind::Stream(TypeSpec::Fixed(t)) => format!("stream {t}"),
            PortKind::Stream(TypeSpec::Generic) => "stream T (generic)".into(),
            PortKind::Message => "message".into(),
        };
        let mut notes = Vec::new();
        if p.optional {
            notes.push("optional".to_string());
        }
        if p.variadic {
            notes.push(format!("variadic: {0}0, {0}1, ...", p.name));
        }
        PortRow {
            name: p.name.to_string(),
            direction,
            kind,
            min_items: p.min_items,
            notes: notes.join(", "),
        }
    };
    sig.inputs
        .iter()
        .map(|p| row(p, "input"))
        .chain(sig.outputs.iter().map(|p| row(p, "output")))
        .collect()
}

/// The parameters of `def`.
pub fn param_docs(def: &dyn DynBlockDef) -> Vec<ParamDoc> {
    schema::params(&def.schema())
}

/// The example as a complete block table: `[blocks.NAME]`, `type = "NAME"`, the example.
pub fn example_toml(def: &dyn DynBlockDef) -> String {
    let mut s = format!("[blocks.{0}]\ntype = \"{0}\"\n", def.name());
    let body = def.example().trim();
    if !body.is_empty() {
        s.push_str(body);
        s.push('\n');
    }
    s
}

/// Escapes a Markdown table cell (pipes, line breaks).
fn cell(s: &str) -> String {
    s.trim()
        .replace('|', "\\|")
        .replace("\r\n", "\n")
        .replace("\n\n", "<br>")
        .replace('\n', " ")
}

/// `docs/blocks.md`: every registered block, sorted by name.
pub fn blocks_markdown() -> String {
    render(&registry::all())
}

/// The reference for `defs` (in the given order).
pub fn render(defs: &[&dyn DynBlockDef]) -> String {
    let mut out = String::new();
    out.push_str("# Block reference\n\n");
    out.push_str(
        "<!-- Generated from the block registry by `flow docs blocks`; do not edit. -->\n\n",
    );
    out.push_str("| type | summary |\n|---|---|\n");
    for d in defs {
        let _ = writeln!(out, "| [`{0}`](#{0}) | {1} |", d.name(), cell(d.summary()));
    }
    for d in defs {
        block_section(&mut out, *d);
    }
    out
}

fn block_section(out: &mut String, d: &dyn DynBlockDef) {
    let _ = write!(out, "\n## {}\n\n{}\n", d.name(), d.summary().trim());
    if !d.doc().trim().is_empty() {
        let _ = write!(out, "\n{}\n", d.doc().trim());
    }
    out.push_str("\n### Ports\n\n");
    match doc_ports(d) {
        None => out.push_str("The ports depend on the parameters.\n"),
        Some(ports) => {
            if ports.from_example {
                out.push_str("With the example parameters:\n\n");
            }
            let rows = port_rows(&ports.signature);
            if rows.is_empty() {
                out.push_str("None.\n");
            } else {
                out.push_str(
                    "| port | direction | kind | min_items | notes |\n|---|---|---|---|---|\n",
                );
                for r in rows {
                    let _ = writeln!(
                        out,
                        "| `{}` | {} | {} | {} | {} |",
                        r.name,
                        r.direction,
                        r.kind,
                        r.min_items,
                        cell(&r.notes)
                    );
                }
            }
        }
    }
    out.push_str("\n### Parameters\n\n");
    let params = param_docs(d);
    if params.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str("| name | type | default | description |\n|---|---|---|---|\n");
        for p in params {
            let default = match (&p.default, p.required) {
                (_, true) => "required".to_string(),
                (Some(v), false) => format!("`{}`", v.replace('|', "\\|")),
                (None, false) => "—".to_string(),
            };
            let mut doc = cell(&p.doc);
            for (value, vdoc) in &p.variants {
                let _ = write!(doc, "<br>`{}`: {}", value.replace('|', "\\|"), cell(vdoc));
            }
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                p.name,
                cell(&p.type_name),
                default,
                doc
            );
        }
    }
    let _ = write!(out, "\n### Example\n\n```toml\n{}```\n", example_toml(d));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_defaults_or_the_example() {
        let copy = registry::find("t_copy").unwrap();
        let p = doc_ports(copy).unwrap();
        assert!(!p.from_example);
        let rows = port_rows(&p.signature);
        assert_eq!(rows[0].kind, "stream T (generic)");
        let src = registry::find("t_source").unwrap();
        let p = doc_ports(src).unwrap();
        assert!(p.from_example, "t_source requires `frequency`");
        let add = registry::find("t_add").unwrap();
        let rows = port_rows(&doc_ports(add).unwrap().signature);
        assert_eq!(rows[0].notes, "variadic: in0, in1, ...");
        let sink = registry::find("t_sink").unwrap();
        let rows = port_rows(&doc_ports(sink).unwrap().signature);
        assert_eq!(
            rows[1],
            PortRow {
                name: "log".into(),
                direction: "input",
                kind: "message".into(),
                min_items: 1,
                notes: "optional".into()
            }
        );
    }

    #[test]
    fn markdown_has_every_block_with_ports_params_and_example() {
        let md = blocks_markdown();
        assert_eq!(md, blocks_markdown(), "deterministic");
        for d in registry::all() {
            assert!(md.contains(&format!("\n## {}\n", d.name())), "{}", d.name());
        }
        let src = registry::find("t_source").unwrap();
        let one = render(&[src]);
        assert!(one.contains("| [`t_source`](#t_source) | Test source of zeros. |"));
        assert!(one.contains(
            "With the example parameters:\n\n| port | direction | kind | min_items | notes |"
        ));
        assert!(one.contains("| `out` | output | stream c32 | 1 |  |"));
        assert!(one.contains("| `frequency` | number | required | Tone frequency in Hz. |"));
        assert!(one.contains("| `amplitude` | number | `1.0` | Peak amplitude. |"));
        assert!(one.contains("| `count` | optional integer | — | Items to produce, then stop. |"));
        assert!(one.contains("```toml\n[blocks.t_source]\ntype = \"t_source\"\nfrequency = 1000.0\ncount = 10\n```\n"));
        let sink = render(&[registry::find("t_sink").unwrap()]);
        assert!(
            sink.contains(
                "| `mode` | \"append\" \\| \"truncate\" | `\"append\"` | How to open the file.<br>`\"append\"`: Add to what is there.<br>`\"truncate\"`: Start empty. |"
            ),
            "{sink}"
        );
    }
}
