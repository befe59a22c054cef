//! `flow blocks [NAME]`: lists every registered block type with its summary, or describes
//! one: its doc, ports (from default params, else from its example) and every parameter
//! with type, default and doc, all from the block's one definition.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use crate::config;
use crate::docgen;
use crate::registry::{self, DynBlockDef};

/// Arguments of `flow blocks`.
#[derive(Args, Debug, Clone)]
pub struct BlocksArgs {
    /// A block type to describe (omit to list them all).
    pub name: Option<String>,
}

/// Runs `flow blocks`.
pub fn execute(args: &BlocksArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let all = registry::all();
    let Some(name) = &args.name else {
        if all.is_empty() {
            let _ = writeln!(err, "no block types are registered in this build");
        }
        let _ = out.write_all(list(&all).as_bytes());
        let _ = out.write_all(list_disabled().as_bytes());
        return ExitCode::SUCCESS;
    };
    if let Some(d) = registry::disabled(name) {
        let _ = writeln!(
            err,
            "error: block type `{name}` is not in this build: it needs the cargo feature `{}`\n  = help: rebuild with `cargo build --release --features {}` ({})",
            d.feature, d.feature, d.needs
        );
        return ExitCode::from(1);
    }
    match registry::find(name) {
        Some(def) => {
            let _ = out.write_all(describe(def).as_bytes());
            ExitCode::SUCCESS
        }
        None => {
            let names: Vec<&str> = all.iter().map(|d| d.name()).collect();
            let help = config::closest(name, &names).map_or_else(
                || "`flow blocks` lists them".to_string(),
                |c| format!("did you mean `{c}`?"),
            );
            let _ = writeln!(err, "error: unknown block type `{name}`\n  = help: {help}");
            ExitCode::from(1)
        }
    }
}

/// One line per block type: name and summary, aligned.
pub fn list(defs: &[&dyn DynBlockDef]) -> String {
    let width = defs.iter().map(|d| d.name().len()).max().unwrap_or(0);
    defs.iter().fold(String::new(), |mut s, d| {
        let _ = writeln!(s, "{:width$}  {}", d.name(), d.summary().trim());
        s
    })
}

/// The block types this build leaves out, with the cargo feature of each (empty if none).
pub fn list_disabled() -> String {
    let v = registry::all_disabled();
    if v.is_empty() {
        return String::new();
    }
    let width = v.iter().map(|d| d.name.len()).max().unwrap_or(0);
    v.iter()
        .fold(String::from("\nNot in this build:\n"), |mut s, d| {
            let _ = writeln!(
                s,
                "  {:width$}  needs the cargo feature `{}` ({})",
                d.name, d.feature, d.needs
            );
            s
        })
}

/// Everything about one block type.
pub fn describe(def: &dyn DynBlockDef) -> String {
    let mut s = format!("{} — {}\n", def.name(), def.summary().trim());
    if !def.doc().trim().is_empty() {
        let _ = write!(s, "\n{}\n", def.doc().trim());
    }
    s.push_str("\nPorts");
    match docgen::doc_ports(def) {
        None => s.push_str(":\n  (they depend on the parameters)\n"),
        Some(p) => {
            s.push_str(if p.from_example {
                " (with the example parameters):\n"
            } else {
                ":\n"
            });
            let rows = docgen::port_rows(&p.signature);
            if rows.is_empty() {
                s.push_str("  none\n");
            }
            let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
            let kw = rows.iter().map(|r| r.kind.len()).max().unwrap_or(0);
            for r in rows {
                let line = format!(
                    "  {:6}  {:w$}  {:kw$}  min_items {}  {}",
                    r.direction, r.name, r.kind, r.min_items, r.notes
                );
                let _ = writeln!(s, "{}", line.trim_end());
            }
        }
    }
    let params = docgen::param_docs(def);
    s.push_str("\nParameters:\n");
    if params.is_empty() {
        s.push_str("  none\n");
    }
    for p in params {
        let default = match (&p.default, p.required) {
            (_, true) => "required".to_string(),
            (Some(d), false) => format!("default {d}"),
            (None, false) => "optional".to_string(),
        };
        let _ = writeln!(s, "  {}: {}, {}", p.name, p.type_name, default);
        for line in p.doc.lines() {
            let _ = writeln!(s, "      {}", line.trim_end());
        }
        let vw = p.variants.iter().map(|(v, _)| v.len()).max().unwrap_or(0);
        for (v, d) in &p.variants {
            let _ = writeln!(s, "        {v:vw$}  {d}");
        }
    }
    if !def.settable().is_empty() {
        let _ = writeln!(s, "\nSettable while running: {}", def.settable().join(", "));
    }
    s.push_str("\nExample:\n");
    for line in docgen::example_toml(def).lines() {
        let _ = writeln!(s, "  {line}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: Option<&str>) -> (ExitCode, String, String) {
        let args = BlocksArgs {
            name: name.map(str::to_string),
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = execute(&args, &mut out, &mut err);
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn lists_every_block_with_its_summary() {
        let (code, out, _) = run(None);
        assert_eq!(code, ExitCode::SUCCESS);
        for d in registry::all() {
            assert!(
                out.lines()
                    .any(|l| l.starts_with(d.name()) && l.ends_with(d.summary())),
                "{}",
                d.name()
            );
        }
    }

    #[test]
    fn lists_and_explains_the_block_types_a_feature_leaves_out() {
        let (code, out, _) = run(None);
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(out.contains("\nNot in this build:\n"), "{out}");
        assert!(
            out.contains("t_needs_lib  needs the cargo feature `t-feature` (needs libt-dev)"),
            "{out}"
        );
        let (code, _, err) = run(Some("t_needs_lib"));
        assert_eq!(code, ExitCode::from(1));
        assert!(err.contains("needs the cargo feature `t-feature`"), "{err}");
    }

    #[test]
    fn describes_one_block_from_its_definition() {
        let (code, out, _) = run(Some("t_sink"));
        assert_eq!(code, ExitCode::SUCCESS);
        assert_eq!(
            out,
            "t_sink — Test sink.

Consumes `in`; optional message input `log`.

Ports (with the example parameters):
  input   in   stream T (generic)  min_items 1
  input   log  message             min_items 1  optional

Parameters:
  path: string, required
      Where to write.
  mode: \"append\" | \"truncate\", default \"append\"
      How to open the file.
        \"append\"    Add to what is there.
        \"truncate\"  Start empty.
  item: optional \"c32\" | \"c64\" | \"f32\" | \"f64\" | \"c16\" | \"i16\" | \"i32\" | \"u8\" | \"cu8\" | \"cs8\", optional
      Fixed item type of `in` (generic when unset).
  fail: boolean, default false
      Fail at the first work call.

Example:
  [blocks.t_sink]
  type = \"t_sink\"
  path = \"out.bin\"
"
        );
        let (_, out, _) = run(Some("t_source"));
        assert!(
            out.contains(
                "Ports (with the example parameters):\n  output  out  stream c32  min_items 1\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn unknown_block_suggests_and_fails() {
        let (code, out, err) = run(Some("t_sinc"));
        assert_eq!(code, ExitCode::from(1));
        assert_eq!(out, "");
        assert_eq!(
            err,
            "error: unknown block type `t_sinc`\n  = help: did you mean `t_sink`?\n"
        );
    }
}
