//! The reference losses of design.md §6, each differentiated five ways and timed side by side:
//! the primal alone, the generated `{name}_grad`, a hand-written closed form (the practical
//! limit), forward-mode dual numbers (`num-dual`, one pass per input) and central finite
//! differences.
//!
//! ```text
//! cargo bench                                # the full table
//! cargo bench --bench gradients -- --quick   # fewer, shorter rounds
//! cargo bench -- mlp2 softmax                # only the losses whose names contain these
//! cargo test --benches                       # the gradient check alone, untimed
//! ```
//!
//! Every method's gradient is first checked against the hand-written one. Then, for each loss,
//! the five methods are timed in interleaved rounds: each round times one batch of every method
//! (a batch lasts a few milliseconds), in an order rotated from round to round, so that slow
//! phases of a busy machine hit every method alike. The table shows each method's median time
//! per call and the medians of the per-round ratios.

// `reference/mod.rs`, not `reference.rs`: Cargo would take a `benches/*.rs` file for a bench
// target of its own.
mod reference;
mod timing;

use std::fmt::Write as _;

use reference::{All, Loss};
use timing::{Settings, Timer, calibrate, cpu_model, format_ns, median, rustc_version, utc_now};

/// The methods, in table order.
const METHODS: [&str; 5] = ["primal", "generated", "hand", "num-dual", "FD"];
const PRIMAL: usize = 0;
const GENERATED: usize = 1;
const HAND: usize = 2;
const DUAL: usize = 3;
const FD: usize = 4;

/// One row of the table.
struct Row {
    name: &'static str,
    inputs: usize,
    /// Median ns per call of each method.
    ns: [f64; 5],
    gen_over_hand: f64,
    gen_over_primal: f64,
    dual_over_gen: f64,
    fd_over_gen: f64,
}

fn bench<L: Loss>(loss: &L, settings: &Settings) -> Row {
    // Each timer monomorphizes its method into the loop, so only the call per batch is indirect.
    let timers: [Timer<L>; 5] = [
        |l, n| timing::time_batch(l, L::primal, n),
        |l, n| timing::time_batch(l, L::generated, n),
        |l, n| timing::time_batch(l, L::hand, n),
        |l, n| timing::time_batch(l, reference::dual, n),
        |l, n| timing::time_batch(l, reference::finite_differences, n),
    ];
    // Warm up and size each method's batch.
    let batch: [u64; 5] = std::array::from_fn(|m| calibrate(loss, timers[m], settings.batch));

    let mut per_call = vec![[0.0_f64; 5]; settings.rounds];
    for (round, times) in per_call.iter_mut().enumerate() {
        for k in 0..METHODS.len() {
            let m = (k + round) % METHODS.len();
            let elapsed = timers[m](loss, batch[m]);
            times[m] = elapsed.as_secs_f64() * 1e9 / batch[m] as f64;
        }
    }

    let column =
        |f: &dyn Fn(&[f64; 5]) -> f64| median(&mut per_call.iter().map(f).collect::<Vec<_>>());
    Row {
        name: L::NAME,
        inputs: <L::Wrt as reference::Params>::LEN,
        ns: std::array::from_fn(|m| column(&|t| t[m])),
        gen_over_hand: column(&|t| t[GENERATED] / t[HAND]),
        gen_over_primal: column(&|t| t[GENERATED] / t[PRIMAL]),
        dual_over_gen: column(&|t| t[DUAL] / t[GENERATED]),
        fd_over_gen: column(&|t| t[FD] / t[GENERATED]),
    }
}

/// The targets of the performance issue that a row misses, or "ok".
fn verdict(row: &Row) -> String {
    let mut misses = Vec::new();
    if row.gen_over_hand > 1.10 {
        misses.push("gen/hand > 1.10");
    }
    if row.gen_over_primal > 4.0 {
        misses.push("gen/primal > 4");
    }
    if row.inputs >= 50 && row.dual_over_gen < 10.0 {
        misses.push("dual/gen < 10");
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
        "| loss | inputs | primal | generated | hand | num-dual | FD | gen/hand | gen/primal \
         | dual/gen | FD/gen | targets |\n",
    );
    out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
    for row in rows {
        let _ = write!(out, "| {} | {} |", row.name, row.inputs);
        for ns in row.ns {
            let _ = write!(out, " {} |", format_ns(ns));
        }
        let _ = writeln!(
            out,
            " {:.2} | {:.2} | {:.1} | {:.1} | {} |",
            row.gen_over_hand,
            row.gen_over_primal,
            row.dual_over_gen,
            row.fd_over_gen,
            verdict(row)
        );
    }
    out
}

fn main() {
    let settings = Settings::from_args();
    reference::check_all();
    println!("All gradients agree with the hand-written closed forms.");
    if !settings.timing {
        println!("Not timing: run `cargo bench` (which passes `--bench`) for the table.");
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
    run(|a, s| bench(&a.ols, s), "ols");
    run(|a, s| bench(&a.single_layer, s), "single_layer");
    run(|a, s| bench(&a.gaussian_nll, s), "gaussian_nll");
    run(|a, s| bench(&a.gaussian_nll_chol, s), "gaussian_nll_chol");
    run(|a, s| bench(&a.trace_quad, s), "trace_quad");
    run(|a, s| bench(&a.frob_affine, s), "frob_affine");
    run(|a, s| bench(&a.mlp2, s), "mlp2");
    run(|a, s| bench(&a.softmax_ce, s), "softmax_ce");
    run(|a, s| bench(&a.logistic_data, s), "logistic_data");

    println!("# matgrad gradient benchmark\n");
    println!("- date: {}", utc_now());
    println!("- rustc: {}", rustc_version());
    println!("- cpu: {}", cpu_model());
    println!(
        "- {} rounds, batches of ~{} ms per method, methods in rotated order each round\n",
        settings.rounds,
        settings.batch.as_millis()
    );
    print!("{}", table(&rows));
    println!();
    println!(
        "Times are medians per call; ratios are medians of per-round ratios. `inputs` is the \
         number of differentiated scalars (num-dual makes one pass per input, FD two)."
    );
    println!("Targets: gen/hand ≤ 1.10; gen/primal ≤ 4; dual/gen ≥ 10 where inputs ≥ 50.");
}
