//! Every generated `_grad` of the reference losses (design.md §6), every generated `_jacobian`
//! of the reference residuals of `benches/jacobians.rs`, a `_jvp`, and the `_hessian` and `_hvp`
//! of the reference losses of `benches/hessians.rs`, run without touching the heap.
//!
//! A counting global allocator (`stats_alloc`'s instrumented `System`; the workspace forbids the
//! `unsafe` an allocator of our own would need) records every allocation of the process. Each
//! generated gradient is called once to warm up, then several times inside a counting region,
//! which must see no allocation and no reallocation. The counters are process-wide, so this test
//! target has no harness (`harness = false` in `Cargo.toml`): its `main` runs every check on the
//! one thread of the process, and no harness thread can allocate while it counts. It prints one
//! line per check and `N passed, M failed`, and exits with a failure status if any check failed.

use std::alloc::System;
use std::hint::black_box;
use std::process::ExitCode;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[path = "../benches/reference/mod.rs"]
#[allow(
    dead_code,
    reason = "shared with the benchmark, which uses the hand-written, dual and FD forms too"
)]
mod reference;

#[path = "../benches/jacobian_reference/mod.rs"]
#[allow(
    dead_code,
    reason = "shared with the benchmark, which uses the hand-written, dual and FD forms too"
)]
mod jacobian_reference;

#[path = "../benches/hessian_reference/mod.rs"]
#[allow(
    dead_code,
    reason = "shared with the benchmark, which uses the hand-written, dual and FD forms too"
)]
mod hessian_reference;

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

/// The counter counts: one `Vec::with_capacity(1)` is one allocation, and growing it past its
/// capacity is one reallocation.
fn counter_counts() -> Result<(), String> {
    let counted = count(|| {
        let mut v: Vec<u64> = Vec::with_capacity(1);
        v.extend([1, 2]);
        v
    });
    if counted == (CALLS, CALLS) {
        Ok(())
    } else {
        Err(format!(
            "the counting allocator does not count: {counted:?} (allocations, reallocations) \
             where {CALLS} calls made ({CALLS}, {CALLS})"
        ))
    }
}

/// `f` makes no allocation and no reallocation.
fn no_allocation<R>(f: impl Fn() -> R) -> Result<(), String> {
    match count(f) {
        (0, 0) => Ok(()),
        (allocations, reallocations) => Err(format!(
            "{allocations} allocations, {reallocations} reallocations in {CALLS} calls"
        )),
    }
}

/// One check: `Err` says what went wrong.
type Check<'a> = dyn Fn() -> Result<(), String> + 'a;

fn main() -> ExitCode {
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
    let residuals = jacobian_reference::All::new();
    let (d, r, p, a, x) = (
        &residuals.decay,
        &residuals.rat43,
        &residuals.pinhole,
        &residuals.arm,
        &residuals.axb,
    );
    // Each check runs when its turn comes, after the previous result is printed, so the
    // printing never falls inside a counting region.
    let checks: [(&str, &Check); 15] = [
        ("the counter counts", &counter_counts),
        ("ols_grad", &|| {
            no_allocation(|| reference::ols_grad(black_box(&o.beta), &o.x, &o.y))
        }),
        ("single_layer_grad", &|| {
            no_allocation(|| reference::single_layer_grad(black_box(&s.w), &s.x, &s.y))
        }),
        ("gaussian_nll_grad", &|| {
            no_allocation(|| reference::gaussian_nll_grad(black_box(&g.mu), &g.sigma, &g.x))
        }),
        ("trace_quad_grad", &|| {
            no_allocation(|| reference::trace_quad_grad(&t.a, black_box(&t.x), &t.b, &t.c))
        }),
        ("frob_affine_grad", &|| {
            no_allocation(|| reference::frob_affine_grad(&f.a, black_box(&f.x), &f.b, &f.c))
        }),
        ("mlp2_grad", &|| {
            no_allocation(|| {
                reference::mlp2_grad(black_box(&m.w1), &m.b1, &m.w2, &m.b2, &m.x, &m.y)
            })
        }),
        ("softmax_ce_grad", &|| {
            no_allocation(|| reference::softmax_ce_grad(black_box(&c.w), &c.x, &c.y))
        }),
        ("logistic_data_grad (a loop over data)", &|| {
            let l = &all.logistic_data;
            no_allocation(|| reference::logistic_data_grad(black_box(&l.w), &l.xs, &l.ys))
        }),
        ("decay_jacobian", &|| {
            no_allocation(|| jacobian_reference::decay_jacobian(black_box(&d.p), &d.t, &d.y))
        }),
        ("rat43_jacobian", &|| {
            no_allocation(|| jacobian_reference::rat43_jacobian(black_box(&r.b), &r.x, &r.y))
        }),
        ("pinhole_jacobian", &|| {
            no_allocation(|| jacobian_reference::pinhole_jacobian(black_box(&p.r), &p.t, &p.x))
        }),
        ("arm_jacobian", &|| {
            no_allocation(|| jacobian_reference::arm_jacobian(black_box(&a.theta), &a.l))
        }),
        ("axb_jacobian", &|| {
            no_allocation(|| jacobian_reference::axb_jacobian(&x.a, black_box(&x.x), &x.b))
        }),
        ("decay_jvp", &|| {
            // A tangent in every float parameter: the parameters, the sample times and the data.
            let (dp, dt, dy) = (d.p * 0.5, d.t * 0.25, d.y * 0.125);
            no_allocation(|| {
                jacobian_reference::decay_jvp(black_box(&d.p), &d.t, &d.y, &dp, &dt, &dy)
            })
        }),
    ];
    let (passed, failed) = run(&checks);
    let (hessian_passed, hessian_failed) = hessian_checks();
    let (passed, failed) = (passed + hessian_passed, failed + hessian_failed);
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs `checks` in order, printing one line each; returns how many passed and failed.
fn run(checks: &[(&str, &Check)]) -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in checks {
        match check() {
            Ok(()) => {
                passed += 1;
                println!("{name} ... ok");
            }
            Err(why) => {
                failed += 1;
                println!("{name} ... FAILED: {why}");
            }
        }
    }
    (passed, failed)
}

/// The `_hessian` and `_hvp` of the reference losses of `benches/hessians.rs`.
fn hessian_checks() -> (usize, usize) {
    let losses = hessian_reference::All::new();
    let (lo, ga, fi, ro, la) = (
        &losses.logistic,
        &losses.gaussian,
        &losses.fit,
        &losses.rosenbrock,
        &losses.layer,
    );
    let checks: [(&str, &Check); 10] = [
        ("logistic_hessian", &|| {
            no_allocation(|| {
                hessian_reference::logistic_hessian(black_box(&lo.w), &lo.x, &lo.y, lo.lambda)
            })
        }),
        ("logistic_hvp", &|| {
            no_allocation(|| {
                hessian_reference::logistic_hvp(black_box(&lo.w), &lo.x, &lo.y, lo.lambda, &lo.v)
            })
        }),
        ("gaussian_hessian", &|| {
            no_allocation(|| {
                hessian_reference::gaussian_hessian(black_box(&ga.mu), &ga.x, &ga.sigma)
            })
        }),
        ("gaussian_hvp", &|| {
            no_allocation(|| {
                hessian_reference::gaussian_hvp(black_box(&ga.mu), &ga.x, &ga.sigma, &ga.v)
            })
        }),
        ("fit_hessian", &|| {
            no_allocation(|| hessian_reference::fit_hessian(&fi.a, black_box(&fi.x), &fi.b, &fi.c))
        }),
        ("fit_hvp", &|| {
            no_allocation(|| {
                hessian_reference::fit_hvp(&fi.a, black_box(&fi.x), &fi.b, &fi.c, &fi.v)
            })
        }),
        ("rosenbrock_hessian", &|| {
            no_allocation(|| hessian_reference::rosenbrock_hessian(black_box(&ro.x)))
        }),
        ("rosenbrock_hvp", &|| {
            no_allocation(|| hessian_reference::rosenbrock_hvp(black_box(&ro.x), &ro.v))
        }),
        ("layer_hessian", &|| {
            no_allocation(|| hessian_reference::layer_hessian(black_box(&la.w), &la.x, &la.y))
        }),
        ("layer_hvp", &|| {
            no_allocation(|| hessian_reference::layer_hvp(black_box(&la.w), &la.x, &la.y, &la.v))
        }),
    ];
    run(&checks)
}
