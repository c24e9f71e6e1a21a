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

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jacobian_reference::{All, Residual};

/// The methods, in table order.
const METHODS: [&str; 5] = ["primal", "generated", "hand", "num-dual", "FD"];
const PRIMAL: usize = 0;
const GENERATED: usize = 1;
const HAND: usize = 2;
const DUAL: usize = 3;
const FD: usize = 4;

/// Rounds and batch length of a run.
struct Settings {
    /// Whether to time at all: `cargo bench` passes `--bench`; `cargo test --benches` does not,
    /// and then only the Jacobian check runs (in a debug build, timings would mean nothing).
    timing: bool,
    rounds: usize,
    batch: Duration,
    filters: Vec<String>,
}

impl Settings {
    fn from_args() -> Self {
        let mut settings = Settings {
            timing: false,
            rounds: 301,
            batch: Duration::from_micros(500),
            filters: Vec::new(),
        };
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "--quick" => {
                    settings.rounds = 51;
                    settings.batch = Duration::from_micros(250);
                }
                "--bench" => settings.timing = true,
                // Flags meant for libtest harnesses.
                a if a.starts_with('-') => {}
                a => settings.filters.push(a.to_owned()),
            }
        }
        settings
    }

    fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

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

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Runs `f` `n` times on a black-boxed input and returns the elapsed time.
fn time_batch<R, Out>(residual: &R, f: impl Fn(&R) -> Out, n: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        black_box(f(black_box(residual)));
    }
    start.elapsed()
}

/// Times a batch of `n` calls of one method.
type Timer<R> = fn(&R, u64) -> Duration;

/// The number of calls that take about `target`.
fn calibrate<R>(residual: &R, timer: Timer<R>, target: Duration) -> u64 {
    let mut n = 1_u64;
    loop {
        let t = timer(residual, n);
        if t >= target / 4 || n >= 1 << 30 {
            let per_call = t.as_secs_f64() / n as f64;
            // At least one call, at most 2³⁰: the float is positive and far below u64::MAX.
            let calls = (target.as_secs_f64() / per_call)
                .ceil()
                .clamp(1.0, (1_u64 << 30) as f64);
            #[allow(clippy::cast_sign_loss, reason = "clamped to [1, 2³⁰] just above")]
            return calls as u64;
        }
        n *= 2;
    }
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

/// Nanoseconds with three significant digits, in a unit that keeps the number short.
fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
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

/// The UTC date and time, from the system clock (days-to-civil after H. Hinnant).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() {
    let settings = Settings::from_args();
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
