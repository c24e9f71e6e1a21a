//! The reference residuals of `jacobian_reference`, each with its Jacobian computed four ways
//! and timed side by side: the generated `{name}_jacobian`, a hand-written closed form (the
//! practical limit), `num_dual::jacobian` (one forward pass over vector dual numbers) and
//! central finite differences; the function alone (primal) is timed for scale.
//!
//! ```text
//! cargo bench --bench jacobians                # the full table
//! cargo bench --bench jacobians -- --quick     # fewer, shorter rounds
//! cargo bench --bench jacobians -- rat43 arm   # only the residuals whose names contain these
//! cargo test --benches                         # the Jacobian check alone, untimed
//! ```
//!
//! Every method's value and Jacobian are first checked against the hand-written ones. Then, for
//! each residual, the five methods are timed in interleaved rounds: each round times one batch
//! of every method, in an order rotated from round to round, so that slow phases of a busy
//! machine hit every method alike. The table shows each method's median time per call and the
//! medians of the per-round ratios. A batch lasts half a millisecond, shorter than a scheduler
//! time slice, so that on a machine shared with other work most batches run uninterrupted and
//! the medians are theirs; many rounds make up for the short batches.

// `jacobian_reference/mod.rs`, not `jacobian_reference.rs`: Cargo would take a `benches/*.rs`
// file for a bench target of its own.
mod jacobian_reference;
mod timing;

use std::fmt::Write as _;
use std::time::Duration;

use jacobian_reference::{All, Residual};
use timing::{
    Settings, Timer, calibrate, cpu_model, format_ns, median, rustc_version, time_batch, utc_now,
};

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
    outputs: usize,
    /// Median ns per call of each method.
    ns: [f64; 5],
    gen_over_hand: f64,
    gen_over_dual: f64,
    gen_over_fd: f64,
    gen_over_primal: f64,
}

fn bench<R: Residual>(residual: &R, settings: &Settings) -> Row {
    // Each timer monomorphizes its method into the loop, so only the call per batch is indirect.
    let timers: [Timer<R>; 5] = [
        |r, n| time_batch(r, R::primal, n),
        |r, n| time_batch(r, R::generated, n),
        |r, n| time_batch(r, R::hand, n),
        |r, n| time_batch(r, R::dual, n),
        |r, n| time_batch(r, R::central, n),
    ];
    // Warm up and size each method's batch.
    let batch: [u64; 5] = std::array::from_fn(|m| calibrate(residual, timers[m], settings.batch));

    let mut per_call = vec![[0.0_f64; 5]; settings.rounds];
    for (round, times) in per_call.iter_mut().enumerate() {
        for k in 0..METHODS.len() {
            let m = (k + round) % METHODS.len();
            let elapsed = timers[m](residual, batch[m]);
            times[m] = elapsed.as_secs_f64() * 1e9 / batch[m] as f64;
        }
    }

    let column =
        |f: &dyn Fn(&[f64; 5]) -> f64| median(&mut per_call.iter().map(f).collect::<Vec<_>>());
    Row {
        name: R::NAME,
        inputs: R::INPUTS,
        outputs: R::OUTPUTS,
        ns: std::array::from_fn(|m| column(&|t| t[m])),
        gen_over_hand: column(&|t| t[GENERATED] / t[HAND]),
        gen_over_dual: column(&|t| t[GENERATED] / t[DUAL]),
        gen_over_fd: column(&|t| t[GENERATED] / t[FD]),
        gen_over_primal: column(&|t| t[GENERATED] / t[PRIMAL]),
    }
}

/// The targets a row misses, or "ok".
fn verdict(row: &Row) -> String {
    let mut misses = Vec::new();
    if row.gen_over_hand > 1.10 {
        misses.push("gen/hand > 1.10");
    }
    if row.gen_over_dual >= 1.0 {
        misses.push("not faster than num-dual");
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
        "| residual | in | out | primal | generated | hand | num-dual | FD | gen/hand \
         | gen/num-dual | gen/FD | gen/primal | targets |\n",
    );
    out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
    for row in rows {
        let _ = write!(out, "| {} | {} | {} |", row.name, row.inputs, row.outputs);
        for ns in row.ns {
            let _ = write!(out, " {} |", format_ns(ns));
        }
        let _ = writeln!(
            out,
            " {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            row.gen_over_hand,
            row.gen_over_dual,
            row.gen_over_fd,
            row.gen_over_primal,
            verdict(row)
        );
    }
    out
}

fn main() {
    let settings = Settings::from_args_with(
        (301, Duration::from_micros(500)),
        (51, Duration::from_micros(250)),
    );
    jacobian_reference::check_all();
    println!("All Jacobians agree with the hand-written closed forms.");
    if !settings.timing {
        println!(
            "Not timing: run `cargo bench --bench jacobians` (which passes `--bench`) for the table."
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
    run(|a, s| bench(&a.decay, s), "decay");
    run(|a, s| bench(&a.rat43, s), "rat43");
    run(|a, s| bench(&a.pinhole, s), "pinhole");
    run(|a, s| bench(&a.arm, s), "arm");
    run(|a, s| bench(&a.axb, s), "axb");

    println!("# matgrad Jacobian benchmark\n");
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
        "Times are medians per call; ratios are medians of per-round ratios. `in` is the number \
         of differentiated scalars (FD makes two passes per input), `out` the number of residuals."
    );
    println!("Targets: gen/hand ≤ 1.10; gen/num-dual < 1 on every residual.");
}
