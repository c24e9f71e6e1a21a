//! The reference losses of `hessian_reference`, each with its Hessian computed five ways and
//! timed side by side: the generated `{name}_hessian`, a hand-written closed form (the practical
//! limit), `num_dual::hessian` (one forward pass over second-order vector dual numbers) and
//! central differences of the generated gradient; the generated gradient (`{name}_grad`) and
//! Hessian-vector product (`{name}_hvp`, in a fixed direction) are timed for scale.
//!
//! ```text
//! cargo bench --bench hessians                    # the full table
//! cargo bench --bench hessians -- --quick         # fewer, shorter rounds
//! cargo bench --bench hessians -- logistic fit    # only the losses whose names contain these
//! cargo test --benches                            # the Hessian check alone, untimed
//! ```
//!
//! Every method's value, gradient and Hessian are first checked against the hand-written ones,
//! and every generated Hessian for exact symmetry. Then, for each loss, the six methods are
//! timed in interleaved rounds: each round times one batch of every method, in an order rotated
//! from round to round, so that slow phases of a busy machine hit every method alike. The table
//! shows each method's median time per call and the medians of the per-round ratios. A batch
//! lasts half a millisecond, shorter than a scheduler time slice, so that on a machine shared
//! with other work most batches run uninterrupted and the medians are theirs; many rounds make
//! up for the short batches.

// `hessian_reference/mod.rs`, not `hessian_reference.rs`: Cargo would take a `benches/*.rs`
// file for a bench target of its own.
mod hessian_reference;
mod timing;

use std::fmt::Write as _;
use std::time::Duration;

use hessian_reference::{All, Loss};
use timing::{
    Settings, Timer, calibrate, cpu_model, format_ns, median, rustc_version, time_batch, utc_now,
};

/// The methods, in table order.
const METHODS: [&str; 6] = ["grad", "generated", "hvp", "hand", "num-dual", "FD"];
const GRAD: usize = 0;
const GENERATED: usize = 1;
const HVP: usize = 2;
const HAND: usize = 3;
const DUAL: usize = 4;

/// The number of differentiated scalars from which the generated Hessian must be ten times
/// faster than num-dual's.
const DUAL_TARGET_FROM: usize = 16;

/// One row of the table.
struct Row {
    name: &'static str,
    inputs: usize,
    /// Median ns per call of each method.
    ns: [f64; 6],
    gen_over_hand: f64,
    hvp_over_grad: f64,
    gen_over_dual: f64,
}

fn bench<L: Loss>(loss: &L, settings: &Settings) -> Row {
    // Each timer monomorphizes its method into the loop, so only the call per batch is indirect.
    let timers: [Timer<L>; 6] = [
        |l, n| time_batch(l, L::grad, n),
        |l, n| time_batch(l, L::generated, n),
        |l, n| time_batch(l, L::hvp, n),
        |l, n| time_batch(l, L::hand, n),
        |l, n| time_batch(l, L::dual, n),
        |l, n| time_batch(l, L::central, n),
    ];
    // Warm up and size each method's batch.
    let batch: [u64; 6] = std::array::from_fn(|m| calibrate(loss, timers[m], settings.batch));

    let mut per_call = vec![[0.0_f64; 6]; settings.rounds];
    for (round, times) in per_call.iter_mut().enumerate() {
        for k in 0..METHODS.len() {
            let m = (k + round) % METHODS.len();
            let elapsed = timers[m](loss, batch[m]);
            times[m] = elapsed.as_secs_f64() * 1e9 / batch[m] as f64;
        }
    }

    let column =
        |f: &dyn Fn(&[f64; 6]) -> f64| median(&mut per_call.iter().map(f).collect::<Vec<_>>());
    Row {
        name: L::NAME,
        inputs: L::INPUTS,
        ns: std::array::from_fn(|m| column(&|t| t[m])),
        gen_over_hand: column(&|t| t[GENERATED] / t[HAND]),
        hvp_over_grad: column(&|t| t[HVP] / t[GRAD]),
        gen_over_dual: column(&|t| t[GENERATED] / t[DUAL]),
    }
}

/// The targets a row misses, or "ok".
fn verdict(row: &Row) -> String {
    let mut misses = Vec::new();
    if row.gen_over_hand > 1.25 {
        misses.push("gen/hand > 1.25");
    }
    if row.hvp_over_grad > 4.0 {
        misses.push("hvp/grad > 4");
    }
    if row.inputs >= DUAL_TARGET_FROM && row.gen_over_dual > 0.1 {
        misses.push("not 10× faster than num-dual");
    }
    if misses.is_empty() {
        "ok".to_owned()
    } else {
        misses.join(", ")
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| loss | n | grad | generated | hvp | hand | num-dual | FD | gen/hand | hvp/grad \
         | gen/num-dual | targets |\n",
    );
    out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
    for row in rows {
        let _ = write!(out, "| {} | {} |", row.name, row.inputs);
        for ns in row.ns {
            let _ = write!(out, " {} |", format_ns(ns));
        }
        let _ = writeln!(
            out,
            " {:.2} | {:.2} | {:.3} | {} |",
            row.gen_over_hand,
            row.hvp_over_grad,
            row.gen_over_dual,
            verdict(row)
        );
    }
    out
}

/// The stack of the thread that runs the benchmark: num-dual's second-order numbers in 64
/// variables (the tanh layer) carry 4,161 floats each, far more than a main thread's 8 MiB
/// holds in a debug build.
const STACK: usize = 1 << 28;

fn main() {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(run_all)
        .expect("the benchmark thread starts")
        .join()
        .expect("the benchmark thread finishes");
}

fn run_all() {
    let settings = Settings::from_args_with(
        (301, Duration::from_micros(500)),
        (51, Duration::from_micros(250)),
    );
    hessian_reference::check_all();
    println!(
        "All Hessians agree with the hand-written closed forms, and every generated one is \
         exactly symmetric."
    );
    if !settings.timing {
        println!(
            "Not timing: run `cargo bench --bench hessians` (which passes `--bench`) for the table."
        );
        return;
    }
    println!();

    let all = All::new();
    let mut rows = Vec::new();
    let mut run = |row: fn(&All, &Settings) -> Row, name: &str| {
        if settings.wants(name) {
            let r = row(&all, &settings);
            eprintln!("  measured {}", r.name);
            rows.push(r);
        }
    };
    run(|a, s| bench(&a.logistic, s), "logistic");
    run(|a, s| bench(&a.gaussian, s), "gaussian");
    run(|a, s| bench(&a.fit, s), "fit");
    run(|a, s| bench(&a.rosenbrock, s), "rosenbrock");
    run(|a, s| bench(&a.layer, s), "layer");

    println!("# matgrad Hessian benchmark\n");
    println!("- date: {}", utc_now());
    println!("- rustc: {}", rustc_version());
    println!("- cpu: {}", cpu_model());
    println!(
        "- {} rounds, batches of ~{} µs per method, methods in rotated order each round\n",
        settings.rounds,
        settings.batch.as_micros()
    );
    print!("{}", table(&rows));
    println!();
    println!(
        "Times are medians per call; ratios are medians of per-round ratios. `n` is the number \
         of differentiated scalars (H is n×n; FD makes 2n + 1 gradient calls). `grad` is the \
         generated gradient, `hvp` the generated Hessian-vector product in a fixed direction; \
         every other column computes the value, the gradient and the whole Hessian."
    );
    println!(
        "Targets: gen/hand ≤ 1.25; hvp/grad ≤ 4; gen/num-dual ≤ 0.1 (10× faster) when \
         n ≥ {DUAL_TARGET_FROM}."
    );
}
