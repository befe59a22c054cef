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
    expect_err(load(text))
}

fn expect_err(r: Result<Graph, Diagnostics>) -> Diagnostics {
    match r {
        Ok(_) => panic!("expected errors"),
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

const SRC: &str = "[blocks.src]\ntype = \"t_source\"\nfrequency = 1.0\n";

#[test]
fn cycles_are_reported_once_with_their_path() {
    let text = format!(
        "{SRC}inputs = []\n[blocks.a]\ntype = \"t_add\"\ninputs = [\"src\", \"c\"]\n[blocks.b]\ntype = \"t_copy\"\ninputs = [\"a\"]\n[blocks.c]\ntype = \"t_copy\"\ninputs = [\"b\"]\n[blocks.self]\ntype = \"t_copy\"\ninputs = [\"self\"]\n"
    );
    let d = errors(&text);
    assert_eq!(
        d.iter()
            .map(|d| (d.line, d.column, d.message.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (7, 18, "cycle in the flowgraph: a -> b -> c -> a"),
            (16, 11, "cycle in the flowgraph: self -> self"),
        ]
    );
    assert_eq!(
        d.0[0].help.as_deref(),
        Some("data must flow one way; remove one of these connections")
    );
}

#[test]
fn variadic_inputs_expand_one_port_per_connection() {
    let text = format!(
        "{SRC}[blocks.b]\ntype = \"t_copy\"\ninputs = [\"src\"]\n[blocks.sum]\ntype = \"t_add\"\ninputs = [\"src\", \"b.out\", \"src\"]\n[blocks.sum2]\ntype = \"t_add\"\ninputs = {{ in = [\"src\", \"b\"], in2 = \"sum\" }}\n"
    );
    let g = load(&text).unwrap();
    let sum = &g.blocks[g.block_index("sum").unwrap()];
    let names: Vec<&str> = sum
        .signature
        .inputs
        .iter()
        .map(|p| p.name.as_ref())
        .collect();
    assert_eq!(names, ["in0", "in1", "in2"]);
    assert_eq!(sum.input_types, [ItemType::C32; 3]);
    assert_eq!(sum.output_types, [ItemType::C32]);
    let si = g.block_index("sum").unwrap();
    let into_sum: Vec<(usize, usize)> = g
        .edges
        .iter()
        .filter(|e| e.to_block == si)
        .map(|e| (e.from_block, e.to_port))
        .collect();
    let (src, b) = (g.block_index("src").unwrap(), g.block_index("b").unwrap());
    assert_eq!(into_sum, [(src, 0), (b, 1), (src, 2)]);
    let sum2 = &g.blocks[g.block_index("sum2").unwrap()];
    assert_eq!(sum2.signature.inputs.len(), 3);
    assert!(g.block_index("sum2").unwrap() > si);
}

#[test]
fn variadic_gaps_double_connections_and_missing_connections_are_errors() {
    let text = format!(
        "{SRC}[blocks.s1]\ntype = \"t_add\"\ninputs = {{ in = [\"src\"], in0 = \"src\" }}\n[blocks.s2]\ntype = \"t_add\"\ninputs = {{ in0 = \"src\", in2 = \"src\" }}\n[blocks.s3]\ntype = \"t_add\"\n[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = {{ in = [\"src\", \"s1\"] }}\n"
    );
    let d = errors(&text);
    assert_eq!(
        messages(&d),
        [
            "input `in0` of block `s1` (type `t_add`) is connected twice (`src.out` and `src.out`)",
            "input `in1` of block `s2` (type `t_add`) is not connected",
            "variadic input `in` of block `s3` (type `t_add`) is not connected",
            "input `in` of block `k` (type `t_sink`) is connected twice (`src.out` and `s1.out`)",
        ]
    );
    assert_eq!(places(&d)[0], (6, 32, DiagnosticKind::ConnectedTwice));
    assert_eq!(places(&d)[2], (10, 1, DiagnosticKind::Unconnected));
}

#[test]
fn stream_and_message_ports_do_not_mix() {
    let text = "[blocks.src]\ntype = \"t_source\"\nfrequency = 1.0\nevents = true\n[blocks.plain]\ntype = \"t_source\"\nfrequency = 1.0\n[blocks.m2]\ntype = \"t_msg_sink\"\ninputs = [\"src.out\"]\n[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"src.events\"]\n[blocks.k2]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"src\", \"plain\"]\n[blocks.q]\ntype = \"t_msg_sink\"\ninputs = [\"k\"]\n";
    let d = errors(text);
    assert_eq!(
        messages(&d),
        [
            "blocks.m2 input `in` takes messages but `src.out` is a stream output of c32",
            "blocks.k input `in` takes a stream but `src.events` is a message output",
            "blocks.k2 input `log` takes messages but block `plain` has only stream outputs",
            "block `k` (type `t_sink`) has no outputs",
        ]
    );
    assert_eq!(places(&d)[0], (10, 11, DiagnosticKind::KindMismatch));
    assert!(d.iter().all(|d| d.kind != DiagnosticKind::Unconnected));
}

#[test]
fn blk_means_the_only_output_of_the_needed_kind() {
    let text = "[blocks.src]\ntype = \"t_source\"\nfrequency = 1.0\nevents = true\n[blocks.m]\ntype = \"t_msg_sink\"\ninputs = [\"src\"]\n[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"src\", \"src\"]\n";
    let g = load(text).unwrap();
    let src = g.block_index("src").unwrap();
    let k = g.block_index("k").unwrap();
    let m = g.block_index("m").unwrap();
    let mut into_k: Vec<(usize, usize, Option<ItemType>)> = g
        .edges
        .iter()
        .filter(|e| e.to_block == k)
        .map(|e| (e.from_port, e.to_port, e.item_type))
        .collect();
    into_k.sort();
    assert_eq!(into_k, [(0, 0, Some(ItemType::C32)), (1, 1, None)]);
    let into_m: Vec<_> = g
        .edges
        .iter()
        .filter(|e| e.to_block == m)
        .map(|e| (e.from_block, e.from_port))
        .collect();
    assert_eq!(into_m, [(src, 1)]);
}

#[test]
fn ambiguous_and_unknown_outputs_suggest_names() {
    let text = format!(
        "{SRC}[blocks.sp]\ntype = \"t_split\"\ninputs = [\"src\"]\n[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"sp\"]\n[blocks.k2]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"sp.rea\"]\n"
    );
    let d = errors(&text);
    assert_eq!(
        d.to_string(),
        "fg.toml:10:11: error: block `sp` (type `t_split`) has several stream outputs (`re`, `im`): name one
   |
10 | inputs = [\"sp\"]
   |           ^^^^
   = help: write `sp.re`

fg.toml:14:11: error: block `sp` (type `t_split`) has no output `rea`
   |
14 | inputs = [\"sp.rea\"]
   |           ^^^^^^^^
   = help: did you mean `re`?"
    );
}

#[test]
fn generic_types_flow_through_chains_and_must_agree() {
    let text = "[blocks.a]\ntype = \"t_source\"\nfrequency = 1.0\nitem = \"f32\"\n[blocks.b]\ntype = \"t_source\"\nfrequency = 1.0\n[blocks.c1]\ntype = \"t_copy\"\ninputs = [\"a\"]\n[blocks.c2]\ntype = \"t_copy\"\ninputs = [\"c1\"]\n[blocks.sum]\ntype = \"t_add\"\ninputs = [\"c2\", \"b\"]\n";
    let d = errors(text);
    assert_eq!(
        messages(&d),
        ["blocks.sum input `in1` expects f32 (the type of `in0`, fed by `c2.out`) but `b.out` produces c32"]
    );
    assert_eq!(
        d.0[0].help.as_deref(),
        Some("the generic ports of a block share one item type")
    );
    let fixed = text.replace("[\"c2\", \"b\"]", "[\"c2\", \"a\"]");
    let g = load(&fixed).unwrap();
    let sum = &g.blocks[g.block_index("sum").unwrap()];
    assert_eq!(sum.input_types, [ItemType::F32, ItemType::F32]);
    let c2 = &g.blocks[g.block_index("c2").unwrap()];
    assert_eq!(c2.output_types, [ItemType::F32]);
}

#[test]
fn unresolvable_generic_type_is_reported_when_nothing_else_explains_it() {
    // t_sink's generic input is required: unconnected explains it, no second error.
    let d = errors("[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\n");
    assert_eq!(
        messages(&d),
        ["input `in` of block `k` (type `t_sink`) is not connected"]
    );
    assert_eq!(
        d.0[0].help.as_deref(),
        Some("connect it with `inputs = [\"BLOCK\"]` or `inputs = { in = \"BLOCK.PORT\" }`")
    );
}

#[test]
fn unresolvable_generic_types_are_reported() {
    let d = errors(
        "[blocks.c]\ntype = \"t_copy\"\noptional = true\n[blocks.g]\ntype = \"t_gen\"\n[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"c\"]\n",
    );
    assert_eq!(
        d.to_string(),
        "fg.toml:1:1: error: cannot infer the item type of block `c` (type `t_copy`): none of its generic inputs is connected
  |
1 | [blocks.c]
  | ^^^^^^^^^^
  = help: connect a stream to `in`

fg.toml:4:1: error: cannot infer the item type of block `g` (type `t_gen`): it has no generic input to take a type from
  |
4 | [blocks.g]
  | ^^^^^^^^^^"
    );
}

#[test]
fn a_variadic_slot_given_twice_is_a_double_connection() {
    let text = format!(
        "{SRC}[blocks.s]\ntype = \"t_add\"\ninputs = {{ in0 = \"src\", in2 = \"src\", in = [\"src\", \"src\", \"src\"] }}\n"
    );
    let d = errors(&text);
    assert_eq!(
        d.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [
            DiagnosticKind::ConnectedTwice,
            DiagnosticKind::ConnectedTwice
        ]
    );
}

#[test]
fn explicit_buffer_must_hold_twice_min_items() {
    let text = "[blocks.src]\ntype = \"t_source\"\nfrequency = 1.0\nchunk = 8\nbuffer = 100\n[blocks.c]\ntype = \"t_copy\"\nmin_items = 64\ninputs = [\"src\"]\nbuffer = 1\n[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"c\"]\nbuffer = 10\n";
    let d = errors(text);
    assert_eq!(
        messages(&d),
        [
            "`buffer = 100` of block `src` is smaller than twice the `min_items` of `c.in` (2 × 64 = 128 items)",
            "`buffer = 1` of block `c` is smaller than twice the `min_items` of `c.out` (2 × 1 = 2 items)",
            "`buffer` sizes stream output buffers, but block `k` (type `t_sink`) has no stream output",
        ]
    );
    assert_eq!(places(&d)[0], (5, 10, DiagnosticKind::BufferTooSmall));
    assert_eq!(
        d.0[0].help.as_deref(),
        Some("set `buffer` to at least 128, or remove it to size the buffer automatically")
    );
}

#[test]
fn interpolation_defaults_escapes_and_coercion() {
    let text = "[flowgraph]\nname = \"g-${NOPE:-x}\"\nworkers = \"${W:-2}\"\n[blocks.src]\ntype = \"t_source\"\nfrequency = \"${FREQ}\"\nssrc = \"${SSRC:-10000}\"\ncount = \"${COUNT:-5}\"\n[blocks.k]\ntype = \"t_sink\"\npath = \"${DATA}/raw/$$x\"\ninputs = [\"src\"]\n";
    let g = load(text).unwrap();
    assert_eq!(g.settings.name, "g-x");
    assert_eq!(g.settings.workers, Some(2));
    assert_eq!(param(&g, "src", "frequency").as_float(), Some(2500.0));
    assert_eq!(param(&g, "src", "ssrc").as_integer(), Some(10000));
    assert_eq!(param(&g, "src", "count").as_integer(), Some(5));
    assert_eq!(param(&g, "k", "path").as_str(), Some("/srv/data/raw/$x"));
}

#[test]
fn unset_variable_is_an_error_at_its_value_and_nothing_cascades() {
    let text = "[blocks.src]\ntype = \"t_source\"\nfrequency = \"${NO_SUCH_VAR}\"\n[blocks.k]\ntype = \"t_sink\"\npath = \"x\"\ninputs = [\"${NOPE}\"]\n";
    let d = errors(text);
    assert_eq!(
        d.to_string(),
        "fg.toml:3:13: error: environment variable `NO_SUCH_VAR` is not set
  |
3 | frequency = \"${NO_SUCH_VAR}\"
  |             ^^^^^^^^^^^^^^^^
  = help: set it, or give a default: `${NO_SUCH_VAR:-default}`

fg.toml:7:11: error: environment variable `NOPE` is not set
  |
7 | inputs = [\"${NOPE}\"]
  |           ^^^^^^^^^
  = help: set it, or give a default: `${NOPE:-default}`"
    );
    // A literal string is not coerced: it is a bad value.
    let d = errors("[blocks.src]\ntype = \"t_source\"\nfrequency = \"1000\"\n");
    assert_eq!(d.0[0].kind, DiagnosticKind::BadValue);
}

#[test]
fn set_overrides_replace_create_and_name_the_argument_in_errors() {
    let text = format!("[flowgraph]\nduration = \"1h\"\n{SRC}[blocks.archive]\ntype = \"t_sink\"\npath = \"${{NOPE}}\"\ninputs = [\"src\"]\n");
    let g = load_with(
        &text,
        &[
            "blocks.src.frequency=2000",
            "flowgraph.duration=10s",
            "blocks.archive.path=/x",
            "blocks.src.taps=[1, 2.5]",
            "blocks.archive.policy=\"drop_newest\"",
        ],
    )
    .unwrap();
    assert_eq!(param(&g, "src", "frequency").as_float(), Some(2000.0));
    assert_eq!(
        g.settings.duration,
        Some(std::time::Duration::from_secs(10))
    );
    assert_eq!(param(&g, "archive", "path").as_str(), Some("/x"));
    assert_eq!(param(&g, "src", "taps").as_array().map(Vec::len), Some(2));
    assert_eq!(g.edges[0].policy, EdgePolicy::DropNewest);

    let d = expect_err(load_with(
        &text,
        &[
            "blocks.src.frequncy=2000",
            "oops",
            "blocks.src.frequency.x=1",
            "blocks.archve.dir=/x",
            "blocks.archive.path=/x",
        ],
    ));
    assert_eq!(
        d.to_string(),
        "--set oops: error: expected KEY=VALUE, e.g. `--set blocks.src.frequency=2000`

--set blocks.src.frequency.x=1: error: `blocks.src.frequency` is a float, not a table

--set blocks.src.frequncy=2000: error: unknown parameter `frequncy` for block `src` (type `t_source`)
  = help: did you mean `frequency`?

--set blocks.archve.dir=/x: error: block `archve` has no `type`
  = help: did you mean `archive`?"
    );
}

#[test]
fn syntax_errors_are_located() {
    let d = errors("[blocks.a]\ntype = \"t_source\"\nfrequency = = 3\n");
    assert_eq!(places(&d)[0], (3, 13, DiagnosticKind::Syntax));
    assert!(
        d.0[0].message.starts_with("invalid TOML: "),
        "{}",
        d.0[0].message
    );
    let d = errors("[blocks.a]\ntype = \"t_source\"\nfrequency = 1e400\n");
    assert_eq!(places(&d), [(3, 13, DiagnosticKind::Syntax)]);
    assert_eq!(d.0[0].message, "float `1e400` is out of range (64-bit)");
    let d = errors("[blocks.a]\ntype = \"x\"\ntype = \"y\"\n");
    assert_eq!(d.0[0].kind, DiagnosticKind::Syntax);
    assert_eq!(d.0[0].line, 3);
}

#[test]
fn nested_bad_values_and_validation_errors_point_at_the_value() {
    let text = "[blocks.src]\ntype = \"t_source\"\nfrequency = 1.0\ntaps = [1.0, \"x\"]\nwindow = { len = \"y\" }\n";
    let d = errors(text);
    assert_eq!(
        places(&d),
        [
            (4, 14, DiagnosticKind::BadValue),
            (5, 18, DiagnosticKind::BadValue)
        ]
    );
    assert_eq!(
        d.0[0].message,
        "invalid value for parameter `taps[1]` of block `src` (type `t_source`): invalid type: string \"x\", expected f32"
    );
    let d = errors("[blocks.src]\ntype = \"t_source\"\nfrequency = 1.0\nwindow = { len = 0 }\n");
    assert_eq!(places(&d), [(4, 18, DiagnosticKind::Invalid)]);
    assert_eq!(
        d.0[0].message,
        "invalid `window.len` for block `src` (type `t_source`): must not be 0"
    );
}

#[test]
fn policies_apply_per_block_or_per_port() {
    let text = format!(
        "{SRC}[blocks.sum]\ntype = \"t_add\"\ninputs = [\"src\", \"src\"]\npolicy = {{ in = \"drop_newest\" }}\n[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"sum\"]\npolicy = {{ in = \"drop_oldest\" }}\n"
    );
    let g = load(&text).unwrap();
    let pol: Vec<EdgePolicy> = g.edges.iter().map(|e| e.policy).collect();
    assert_eq!(
        pol,
        [
            EdgePolicy::DropNewest,
            EdgePolicy::DropNewest,
            EdgePolicy::DropOldest
        ]
    );
    let bad = text.replace(
        "policy = { in = \"drop_oldest\" }",
        "policy = { inn = \"drop_oldest\" }",
    );
    let d = errors(&bad);
    assert_eq!(
        messages(&d),
        ["block `k` (type `t_sink`) has no input `inn` (in `policy`)"]
    );
    assert_eq!(d.0[0].help.as_deref(), Some("did you mean `in`?"));
}

#[test]
fn top_level_and_structural_problems() {
    let d = errors("[flowgraph]\nname = 3\n[blokcs.a]\ntype = \"t_source\"\n");
    assert_eq!(
        messages(&d),
        [
            "the flowgraph has no blocks",
            "`name` of [flowgraph] must be a string, found integer `3`",
            "unknown top-level key `blokcs`"
        ]
    );
    assert_eq!(places(&d)[0], (1, 1, DiagnosticKind::NoBlocks));
    assert_eq!(d.0[2].help.as_deref(), Some("did you mean `blocks`?"));
    let d = errors("blocks = 3\n");
    assert_eq!(
        messages(&d),
        ["`blocks` must be a table of blocks, found integer"]
    );
    let d = errors("[blocks]\na = 1\n[blocks.\"x.y\"]\ntype = \"t_copy\"\n");
    assert_eq!(
        places(&d),
        [
            (2, 5, DiagnosticKind::InvalidOption),
            (3, 1, DiagnosticKind::Unconnected),
            (3, 9, DiagnosticKind::BadBlockName)
        ]
    );
}

#[test]
fn odd_inputs_never_panic() {
    let texts = [
        "",
        "\u{feff}",
        "[blocks]",
        "[blocks.a]",
        "[blocks.a]\ntype = 5",
        "[blocks.a]\ntype = \"t_copy\"\ninputs = 5",
        "[blocks.a]\ntype = \"t_copy\"\ninputs = [1, {}]",
        "[blocks.a]\ntype = \"t_copy\"\ninputs = { in = 3 }",
        "[blocks.a]\ntype = \"t_copy\"\ninputs = [\".\", \"a.\", \".b\", \"\"]",
        "[blocks.a]\ntype = \"t_add\"\ninputs = { in9999 = \"a\", in99999999999999999999 = \"a\" }",
        "[blocks.a]\ntype = \"t_copy\"\npolicy = [1]\nbuffer = -1\nthread = 1\non_error = {}",
        "[[blocks]]\ntype = \"t_copy\"",
        "[flowgraph]\nworkers = 0\nbuffer_bytes = 1e3\nmessage_queue = \"${X:-nope}\"\nduration = 5",
        "flowgraph = 1\nblocks.a.type = \"t_source\"\nblocks.a.frequency = \"${\"",
        "[blocks.a]\ntype = \"t_source\"\nfrequency = 1e400",
        "[blocks.a]\ntype = \"t_source\"\nfrequency = nan\nchunk = 99999999999999",
        "a = \"\u{1F600}${\"",
    ];
    for t in texts {
        let _ = load(t);
        for s in [
            "blocks..x=1",
            "blocks.a=1",
            "=",
            "blocks.a.inputs=[\"a\"]",
            "flowgraph=3",
        ] {
            let _ = load_with(t, &[s]);
        }
    }
}

#[test]
fn load_file_names_the_flowgraph_after_the_file_and_reports_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grape.toml");
    std::fs::write(
        &path,
        format!("{SRC}[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"src\"]\n"),
    )
    .unwrap();
    let g = load_file(&path, &[]).unwrap();
    assert_eq!(g.settings.name, "grape");
    assert_eq!(g.base_dir, dir.path());
    let missing = dir.path().join("nope.toml");
    let d = expect_err(load_file(&missing, &[]));
    assert_eq!(d.0[0].kind, DiagnosticKind::Io);
    assert!(d.to_string().starts_with(&format!(
        "{}: error: cannot read the flowgraph: ",
        missing.display()
    )));
}

#[test]
fn mutated_flowgraphs_never_panic() {
    let base = "[flowgraph]\nname = \"x\"\n[blocks.src]\ntype = \"t_source\"\nfrequency = \"${F:-1}\"\nevents = true\nwindow = { len = 2 }\n[blocks.s]\ntype = \"t_add\"\ninputs = { in = [\"src\", \"src.out\"], in2 = \"src\" }\npolicy = { in = \"drop_oldest\" }\nbuffer = 8\n[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"s\", \"src\"]\n";
    if let Err(d) = load(base) {
        panic!("{d}");
    }
    let chars: Vec<char> = base.chars().collect();
    for i in 0..chars.len() {
        for replacement in [
            None,
            Some('"'),
            Some('['),
            Some('$'),
            Some('.'),
            Some('{'),
            Some('0'),
            Some('é'),
        ] {
            let mut t: Vec<char> = chars.clone();
            match replacement {
                None => {
                    t.remove(i);
                }
                Some(c) => t[i] = c,
            }
            let text: String = t.into_iter().collect();
            let _ = load_with(&text, &["blocks.k.path=/x"]);
        }
    }
}

#[test]
fn a_block_type_left_out_by_a_feature_names_the_feature() {
    let d = errors("[blocks.a]\ntype = \"t_needs_lib\"\n");
    assert_eq!(
        messages(&d),
        ["block type `t_needs_lib` of block `a` is not in this build: it needs the cargo feature `t-feature`"]
    );
    assert_eq!(
        d.0[0].help.as_deref(),
        Some("rebuild with `cargo build --release --features t-feature` (needs libt-dev)")
    );
}

#[test]
fn a_block_stall_after_is_read_and_a_bad_one_points_at_the_value() {
    let g = load_str(
        &format!("{SRC}stall_after = \"10min\"\n"),
        "t.toml",
        Path::new("."),
        &[],
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        g.blocks[0].stall_after,
        Some(std::time::Duration::from_secs(600))
    );
    let d = errors(&format!("{SRC}stall_after = \"soon\"\n"));
    assert_eq!(places(&d), vec![(4, 15, DiagnosticKind::InvalidOption)]);
    assert_eq!(
        messages(&d)[0],
        "`stall_after` of block `src` is not a duration (`soon`): expected number at 0"
    );
}
