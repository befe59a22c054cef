//! Tests of the whole loader: one flowgraph text in, a graph or the exact diagnostics out
//! (block types from [`super::testblocks`]).

use std::path::Path;

use super::*;
use crate::graph::{EdgePolicy, OnError, ThreadChoice};
use crate::item::ItemType;

fn env(name: &str) -> Option<String> {
    match name {
        "DATA" => Some("/srv/data".into()),
        "FREQ" => Some("2500".into()),
        _ => None,
    }
}

fn load_with(text: &str, sets: &[&str]) -> Result<Graph, Diagnostics> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    load_str_with_env(text, "fg.toml", Path::new("/base"), &sets, &env)
}

fn load(text: &str) -> Result<Graph, Diagnostics> {
    load_with(text, &[])
}

fn errors(text: &str) -> Diagnostics {
    match load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d,
    }
}

/// `(line, column, kind)` of every diagnostic.
fn places(d: &Diagnostics) -> Vec<(usize, usize, DiagnosticKind)> {
    d.iter().map(|d| (d.line, d.column, d.kind)).collect()
}

fn messages(d: &Diagnostics) -> Vec<String> {
    d.iter().map(|d| d.message.clone()).collect()
}

fn param(g: &Graph, block: &str, key: &str) -> toml::Value {
    let b = &g.blocks[g.block_index(block).unwrap()];
    b.params.to_toml().unwrap()[key].clone()
}

#[test]
fn loads_a_valid_flowgraph_in_topological_order_with_inferred_types() {
    let g = load(
        r#"
[flowgraph]
workers = 3
duration = "1m 30s"

[blocks.sink]
type = "t_sink"
path = "x.bin"
inputs = ["f"]
policy = "drop_oldest"
on_error = "restart"

[blocks.f]
type = "t_copy"
inputs = ["src"]
thread = "own"

[blocks.src]
type = "t_source"
frequency = 1000
item = "f32"
buffer = 4096
"#,
    )
    .unwrap();
    assert_eq!(g.settings.name, "fg");
    assert_eq!(g.settings.workers, Some(3));
    assert_eq!(
        g.settings.duration,
        Some(std::time::Duration::from_secs(90))
    );
    assert_eq!(g.base_dir, Path::new("/base"));
    let names: Vec<&str> = g.blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["src", "f", "sink"]);
    assert_eq!(g.blocks[0].output_types, [ItemType::F32]);
    assert_eq!(g.blocks[0].buffer_items, Some(4096));
    assert_eq!(
        (
            g.blocks[1].input_types.as_slice(),
            g.blocks[1].output_types.as_slice()
        ),
        (&[ItemType::F32][..], &[ItemType::F32][..])
    );
    assert_eq!(g.blocks[1].thread, ThreadChoice::Own);
    assert_eq!(g.blocks[2].input_types, [ItemType::F32]);
    assert_eq!(g.blocks[2].on_error, OnError::Restart);
    assert_eq!(g.edges.len(), 2);
    let e = &g.edges[1];
    assert_eq!(
        (e.from_block, e.from_port, e.to_block, e.to_port),
        (1, 0, 2, 0)
    );
    assert_eq!(
        (e.item_type, e.policy),
        (Some(ItemType::F32), EdgePolicy::DropOldest)
    );
    assert_eq!(g.edges[0].policy, EdgePolicy::Block);
    assert_eq!(param(&g, "src", "frequency").as_float(), Some(1000.0));
}

#[test]
fn unknown_parameter_renders_exactly_with_did_you_mean() {
    let d = errors("[blocks.rx]\ntype = \"t_source\"\nfrequncy = 1000.0\n");
    assert_eq!(
        d.to_string(),
        "fg.toml:1:1: error: missing parameter `frequency` for block `rx` (type `t_source`)
  |
1 | [blocks.rx]
  | ^^^^^^^^^^^
  = help: add `frequency = <number>`

fg.toml:3:1: error: unknown parameter `frequncy` for block `rx` (type `t_source`)
  |
3 | frequncy = 1000.0
  | ^^^^^^^^
  = help: did you mean `frequency`?"
    );
}

#[test]
fn unknown_block_type_renders_exactly() {
    let d = errors("[blocks.a]\ntype = \"t_sorce\"\nfrequency = 1.0\n");
    assert_eq!(
        d.to_string(),
        "fg.toml:2:8: error: unknown block type `t_sorce` for block `a`
  |
2 | type = \"t_sorce\"
  |        ^^^^^^^^^
  = help: did you mean `t_source`?"
    );
}

#[test]
fn type_mismatch_names_both_ports_and_types() {
    let d = errors(
        "[blocks.src]\ntype = \"t_source\"\nfrequency = 1.0\n\n[blocks.sink]\ntype = \"t_sink\"\npath = \"p\"\nitem = \"f32\"\ninputs = [\"src\"]\n",
    );
    assert_eq!(
        d.to_string(),
        "fg.toml:9:11: error: blocks.sink input `in` expects f32 but `src.out` produces c32
  |
9 | inputs = [\"src\"]
  |           ^^^^^"
    );
}

#[test]
fn reports_every_problem_at_once_in_file_order() {
    let text = r#"[flowgraph]
workrs = 2
duration = "soon"

[blocks.src]
type = "t_source"
frequency = -5.0
amplitude = "loud"
ssrc = -1
on_error = "retsart"

[blocks.mid]
type = "t_coppy"
inputs = ["scr"]

[blocks.sink]
type = "t_sink"
path = "x"
inputs = { inn = "src.outt" }
policy = "dorp_oldest"
"#;
    let d = errors(text);
    assert_eq!(
        places(&d),
        vec![
            (2, 1, DiagnosticKind::UnknownKey),
            (3, 12, DiagnosticKind::InvalidOption),
            (7, 13, DiagnosticKind::Invalid),
            (8, 13, DiagnosticKind::BadValue),
            (9, 8, DiagnosticKind::BadValue),
            (10, 12, DiagnosticKind::InvalidOption),
            (13, 8, DiagnosticKind::UnknownBlockType),
            (14, 11, DiagnosticKind::UnknownBlock),
            (19, 12, DiagnosticKind::UnknownPort),
            (19, 18, DiagnosticKind::UnknownPort),
            (20, 10, DiagnosticKind::InvalidOption),
        ]
    );
    let help: Vec<Option<&str>> = d.iter().map(|d| d.help.as_deref()).collect();
    assert_eq!(help[0], Some("did you mean `workers`?"));
    assert_eq!(help[5], Some("did you mean `restart`?"));
    assert_eq!(help[6], Some("did you mean `t_copy`?"));
    assert_eq!(help[7], Some("did you mean `src`?"));
    assert_eq!(help[8], Some("did you mean `in`?"));
    assert_eq!(help[9], Some("did you mean `out`?"));
    assert_eq!(help[10], Some("did you mean `drop_oldest`?"));
    let m = messages(&d);
    assert_eq!(
        m[1],
        "`duration` of [flowgraph] is not a duration (`soon`): expected number at 0"
    );
    assert_eq!(
        m[2],
        "invalid `frequency` for block `src` (type `t_source`): must be positive"
    );
    assert_eq!(
        m[3],
        "invalid value for parameter `amplitude` of block `src` (type `t_source`): invalid type: string \"loud\", expected f32"
    );
    assert_eq!(
        m[4],
        "invalid value for parameter `ssrc` of block `src` (type `t_source`): invalid value: integer `-1`, expected u32"
    );
    assert_eq!(m[5], "unknown on_error `retsart` for block `src`");
    assert_eq!(m[8], "block `sink` (type `t_sink`) has no input `inn`");
    assert_eq!(m[9], "block `src` (type `t_source`) has no output `outt`");
    assert_eq!(m[10], "unknown policy `dorp_oldest` for block `sink`");
}

#[test]
fn zz_debug() {
    let text = std::fs::read_to_string("/tmp/dbg.toml").unwrap_or_default();
    if !text.is_empty() {
        match load(&text) {
            Ok(_) => eprintln!("OK"),
            Err(d) => eprintln!("{d}"),
        }
    }
}
