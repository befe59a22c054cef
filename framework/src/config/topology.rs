//! The order blocks run in: a topological sort of the connections (producers before
//! consumers, file order among equals), and every cycle reported once with its path.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::block::BlockSpec;
use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::wiring::Conn;

/// The blocks in topological order; blocks in or after a cycle are left out (each cycle is
/// reported).
pub(crate) fn order(ctx: &mut Ctx<'_>, specs: &[BlockSpec], conns: &[Conn]) -> Vec<usize> {
    let n = specs.len();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indeg = vec![0usize; n];
    for c in conns {
        if !succ[c.from].contains(&c.to) {
            succ[c.from].push(c.to);
            indeg[c.to] += 1;
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| indeg[i] == 0).map(Reverse).collect();
    let mut out = Vec::with_capacity(n);
    while let Some(Reverse(b)) = ready.pop() {
        out.push(b);
        for &s in &succ[b] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                ready.push(Reverse(s));
            }
        }
    }
    if out.len() < n {
        let mut left = vec![true; n];
        out.iter().for_each(|&b| left[b] = false);
        report_cycles(ctx, specs, conns, &succ, &left);
    }
    out
}

/// Reports one cycle per strongly connected group of the blocks left by the sort.
fn report_cycles(
    ctx: &mut Ctx<'_>,
    specs: &[BlockSpec],
    conns: &[Conn],
    succ: &[Vec<usize>],
    left: &[bool],
) {
    let n = specs.len();
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (a, ss) in succ.iter().enumerate() {
        ss.iter().for_each(|&b| pred[b].push(a));
    }
    let mut reported = vec![false; n];
    for v in (0..n).filter(|&v| left[v]) {
        if reported[v] {
            continue;
        }
        let fwd = reach(v, succ, left);
        let bwd = reach(v, &pred, left);
        let group: Vec<usize> = (0..n).filter(|&i| fwd[i] && bwd[i]).collect();
        let Some(path) = cycle_through(v, succ, &group) else {
            continue;
        };
        group.iter().for_each(|&i| reported[i] = true);
        let names: Vec<&str> = path.iter().map(|&i| specs[i].name.as_str()).collect();
        // Point at the connection that closes the loop (into `v`, written in v's inputs).
        let last = path[path.len() - 2];
        let origin = conns
            .iter()
            .find(|c| c.from == last && c.to == v)
            .map_or_else(|| specs[v].header.clone(), |c| c.origin.clone());
        ctx.error(
            DiagnosticKind::Cycle,
            &origin,
            format!("cycle in the flowgraph: {}", names.join(" -> ")),
        )
        .help("data must flow one way; remove one of these connections");
    }
}

/// The blocks reachable from `v` (including it) along `edges`, among `left`.
fn reach(v: usize, edges: &[Vec<usize>], left: &[bool]) -> Vec<bool> {
    let mut seen = vec![false; edges.len()];
    let mut queue = VecDeque::from([v]);
    seen[v] = true;
    while let Some(a) = queue.pop_front() {
        for &b in &edges[a] {
            if left[b] && !seen[b] {
                seen[b] = true;
                queue.push_back(b);
            }
        }
    }
    seen
}

/// The shortest path `v -> ... -> v` inside `group`, if there is one.
fn cycle_through(v: usize, succ: &[Vec<usize>], group: &[usize]) -> Option<Vec<usize>> {
    let mut parent: Vec<Option<usize>> = vec![None; succ.len()];
    let mut queue = VecDeque::from([v]);
    while let Some(a) = queue.pop_front() {
        for &b in &succ[a] {
            if !group.contains(&b) {
                continue;
            }
            if b == v {
                let mut path = vec![v, a];
                let mut cur = a;
                while cur != v {
                    cur = parent[cur]?;
                    path.push(cur);
                }
                path.reverse();
                return Some(path);
            }
            if parent[b].is_none() {
                parent[b] = Some(a);
                queue.push_back(b);
            }
        }
    }
    None
}
