//! Every generated `_grad` of the reference losses (design.md §6) runs without touching the heap.
//!
//! A counting global allocator (`stats_alloc`'s instrumented `System`; the workspace forbids the
//! `unsafe` an allocator of our own would need) records every allocation of the process. Each
//! generated gradient is called once to warm up, then several times inside a counting region,
//! which must see no allocation and no reallocation. The counters are process-wide, so this file
//! holds a single test: no other test thread can allocate while it counts.

use std::alloc::System;
use std::hint::black_box;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[path = "../benches/reference/mod.rs"]
#[allow(
    dead_code,
    reason = "shared with the benchmark, which uses the hand-written, dual and FD forms too"
)]
mod reference;

use reference::All;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// How many calls each counting region makes.
const CALLS: usize = 8;

/// Calls `f` once to warm up, then [`CALLS`] times while counting, and returns the number of
/// allocations and reallocations the counted calls made.
fn count<R>(f: impl Fn() -> R) -> (usize, usize) {
    black_box(f());
    let region = Region::new(GLOBAL);
    for _ in 0..CALLS {
        black_box(f());
    }
    let change = region.change();
    (change.allocations, change.reallocations)
}

#[test]
fn generated_gradients_do_not_allocate() {
    // The counter counts: one `Vec::with_capacity(1)` is one allocation, and growing it past its
    // capacity is one reallocation.
    let (allocations, reallocations) = count(|| {
        let mut v: Vec<u64> = Vec::with_capacity(1);
        v.extend([1, 2]);
        v
    });
    assert_eq!(
        (allocations, reallocations),
        (CALLS, CALLS),
        "the counting allocator does not count"
    );

    let all = All::new();
    let (o, s, g, t, f, m, c) = (
        &all.ols,
        &all.single_layer,
        &all.gaussian_nll,
        &all.trace_quad,
        &all.frob_affine,
        &all.mlp2,
        &all.softmax_ce,
    );
    let counts = [
        (
            "ols_grad",
            count(|| reference::ols_grad(black_box(&o.beta), &o.x, &o.y)),
        ),
        (
            "single_layer_grad",
            count(|| reference::single_layer_grad(black_box(&s.w), &s.x, &s.y)),
        ),
        (
            "gaussian_nll_grad",
            count(|| reference::gaussian_nll_grad(black_box(&g.mu), &g.sigma, &g.x)),
        ),
        (
            "trace_quad_grad",
            count(|| reference::trace_quad_grad(&t.a, black_box(&t.x), &t.b, &t.c)),
        ),
        (
            "frob_affine_grad",
            count(|| reference::frob_affine_grad(&f.a, black_box(&f.x), &f.b, &f.c)),
        ),
        (
            "mlp2_grad",
            count(|| reference::mlp2_grad(black_box(&m.w1), &m.b1, &m.w2, &m.b2, &m.x, &m.y)),
        ),
        (
            "softmax_ce_grad",
            count(|| reference::softmax_ce_grad(black_box(&c.w), &c.x, &c.y)),
        ),
    ];
    let offenders: Vec<String> = counts
        .iter()
        .filter(|(_, counted)| *counted != (0, 0))
        .map(|(name, (allocations, reallocations))| {
            format!(
                "{name}: {allocations} allocations, {reallocations} reallocations in {CALLS} calls"
            )
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "generated gradients allocate:\n{}",
        offenders.join("\n")
    );
}
