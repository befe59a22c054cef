//! Drawing a validated flowgraph as Graphviz DOT or Mermaid: one node per block labelled
//! `name` and `(type)`, one edge per connection labelled with its item type (or `msg`) and
//! `out → in` port names; lossy policies are named on the edge and drawn dashed.

use crate::graph::{Edge, EdgePolicy, Graph};

/// The label of an edge: `c32 out → in`, plus the policy when it is lossy.
fn edge_label(g: &Graph, e: &Edge) -> String {
    let ty = e
        .item_type
        .map_or_else(|| "msg".to_string(), |t| t.to_string());
    let from = g
        .blocks
        .get(e.from_block)
        .and_then(|b| b.signature.outputs.get(e.from_port));
    let to = g
        .blocks
        .get(e.to_block)
        .and_then(|b| b.signature.inputs.get(e.to_port));
    let mut s = format!(
        "{ty} {} → {}",
        from.map_or("?", |p| p.name.as_ref()),
        to.map_or("?", |p| p.name.as_ref())
    );
    if e.policy != EdgePolicy::Block {
        s.push_str(&format!(" ({})", e.policy.name()));
    }
    s
}

/// A DOT string literal.
fn dot_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT.
pub fn dot(g: &Graph) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box];\n",
        dot_str(&g.settings.name)
    );
    for b in &g.blocks {
        // `\n` inside a DOT label is a line break.
        let label = format!(
            "{}\\n({})",
            dot_str(&b.name).trim_matches('"'),
            b.def.name()
        );
        out.push_str(&format!("  {} [label=\"{label}\"];\n", dot_str(&b.name)));
    }
    for e in &g.edges {
        let (Some(from), Some(to)) = (g.blocks.get(e.from_block), g.blocks.get(e.to_block)) else {
            continue;
        };
        let mut attrs = format!("label={}", dot_str(&edge_label(g, e)));
        if e.item_type.is_none() {
            attrs.push_str(", style=dotted");
        } else if e.policy != EdgePolicy::Block {
            attrs.push_str(", style=dashed");
        }
        out.push_str(&format!(
            "  {} -> {} [{attrs}];\n",
            dot_str(&from.name),
            dot_str(&to.name)
        ));
    }
    out.push_str("}\n");
    out
}

/// Text for a Mermaid label (quotes become entities).
fn mermaid_str(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// Mermaid flowchart.
pub fn mermaid(g: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, b) in g.blocks.iter().enumerate() {
        out.push_str(&format!(
            "  n{i}[\"{}<br/>({})\"]\n",
            mermaid_str(&b.name),
            b.def.name()
        ));
    }
    for e in &g.edges {
        let arrow = if e.item_type.is_none() || e.policy != EdgePolicy::Block {
            "-.->"
        } else {
            "-->"
        };
        out.push_str(&format!(
            "  n{} {arrow}|\"{}\"| n{}\n",
            e.from_block,
            mermaid_str(&edge_label(g, e)),
            e.to_block
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn graph() -> Graph {
        let text = "[flowgraph]\nname = \"demo\"\n[blocks.src]\ntype = \"t_source\"\nfrequency = 1.0\nevents = true\n[blocks.c]\ntype = \"t_copy\"\ninputs = [\"src\"]\n[blocks.k]\ntype = \"t_sink\"\npath = \"p\"\ninputs = [\"c\", \"src\"]\npolicy = { in = \"drop_oldest\" }\n";
        match crate::config::load_str(text, "demo.toml", Path::new("."), &[]) {
            Ok(g) => g,
            Err(d) => panic!("{d}"),
        }
    }

    #[test]
    fn dot_labels_nodes_edges_types_ports_and_policies() {
        assert_eq!(
            dot(&graph()),
            "digraph \"demo\" {
  rankdir=LR;
  node [shape=box];
  \"src\" [label=\"src\\n(t_source)\"];
  \"c\" [label=\"c\\n(t_copy)\"];
  \"k\" [label=\"k\\n(t_sink)\"];
  \"src\" -> \"c\" [label=\"c32 out → in\"];
  \"c\" -> \"k\" [label=\"c32 out → in (drop_oldest)\", style=dashed];
  \"src\" -> \"k\" [label=\"msg events → log\", style=dotted];
}
"
        );
    }

    #[test]
    fn mermaid_flowchart() {
        assert_eq!(
            mermaid(&graph()),
            "flowchart LR
  n0[\"src<br/>(t_source)\"]
  n1[\"c<br/>(t_copy)\"]
  n2[\"k<br/>(t_sink)\"]
  n0 -->|\"c32 out → in\"| n1
  n1 -.->|\"c32 out → in (drop_oldest)\"| n2
  n0 -.->|\"msg events → log\"| n2
"
        );
    }

    #[test]
    fn dot_escapes_quotes() {
        assert_eq!(dot_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(mermaid_str("a\"b"), "a#quot;b");
    }
}
