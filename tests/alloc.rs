//! Steady state allocates nothing: a flowgraph moving 1 M items and one moving 32 M items
//! make the same number of heap allocations (start-up and shutdown only), with fan-out, a
//! lossy edge and tags in the graph. A counting global allocator makes this its own test
//! binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn flowgraph(items: u64) -> String {
    format!(
        r#"
[flowgraph]
workers = 2
buffer_bytes = 65536

[blocks.src]
type = "signal_source"
item = "f32"
items = {items}

[blocks.copy]
type = "copy"
inputs = ["src"]

[blocks.gain]
type = "multiply_const"
inputs = ["copy"]
constant = 0.5

[blocks.sink]
type = "null_sink"
inputs = ["gain"]

[blocks.lossy]
type = "null_sink"
inputs = ["copy"]
policy = "drop_oldest"
"#
    )
}

/// Allocations made by loading, running and finishing the flowgraph.
fn allocations_for(items: u64) -> u64 {
    let graph =
        flow_framework::config::load_str(&flowgraph(items), "alloc.toml", Path::new("."), &[])
            .unwrap_or_else(|d| panic!("{d}"));
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let fg = flow_framework::runtime::Flowgraph::start(&graph).expect("start");
    let sink = fg.blocks[fg.blocks.len() - 2].metrics.clone();
    let report = fg.wait();
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(sink.total_in(), items);
    after - before
}

#[test]
fn steady_state_makes_no_allocations() {
    flow_blocks::link();
    // Warm up once so lazily initialised process state is not counted.
    allocations_for(100_000);
    let small = allocations_for(1_000_000);
    let large = allocations_for(32_000_000);
    // 31 M more items are ~500 more buffer turns per edge: a single allocation per chunk
    // would add thousands. Start-up and shutdown may differ by a few (thread timing).
    assert!(
        large.abs_diff(small) <= 8,
        "1 M items: {small} allocations; 32 M items: {large} allocations"
    );
}
