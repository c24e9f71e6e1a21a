//! What the benchmark targets share: their command-line settings, batch timing with calibration,
//! medians, and the description of the machine and compiler printed above each table.
//!
//! A module, not a bench target (Cargo would make a bench of a `benches/*.rs` file, hence
//! `timing/mod.rs`): `gradients.rs`, `jacobians.rs` and `scaling.rs` declare it with `mod timing;`.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rounds and batch length of a run.
pub struct Settings {
    /// Whether to time at all: `cargo bench` passes `--bench`; `cargo test --benches` does not,
    /// and then only the gradient checks run (in a debug build, timings would mean nothing).
    pub timing: bool,
    pub rounds: usize,
    pub batch: Duration,
    pub filters: Vec<String>,
}

impl Settings {
    /// The settings from the command line: `--quick` for fewer, shorter rounds, and any other
    /// argument not starting with `-` as a filter on case names.
    #[allow(
        dead_code,
        reason = "`jacobians.rs` times shorter calls, with its own rounds"
    )]
    pub fn from_args() -> Self {
        Self::from_args_with(
            (61, Duration::from_millis(4)),
            (11, Duration::from_millis(1)),
        )
    }

    /// As [`Settings::from_args`], with the (rounds, batch) of a full and of a `--quick` run.
    pub fn from_args_with(full: (usize, Duration), quick: (usize, Duration)) -> Self {
        let mut settings = Settings {
            timing: false,
            rounds: full.0,
            batch: full.1,
            filters: Vec::new(),
        };
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "--quick" => (settings.rounds, settings.batch) = quick,
                "--bench" => settings.timing = true,
                // Flags meant for libtest harnesses.
                a if a.starts_with('-') => {}
                a => settings.filters.push(a.to_owned()),
            }
        }
        settings
    }

    /// Whether a case of this name is to be measured.
    pub fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// The median of `values` (which it sorts).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Runs `f` `n` times on a black-boxed input and returns the elapsed time.
pub fn time_batch<L: ?Sized, R>(loss: &L, f: impl Fn(&L) -> R, n: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        black_box(f(black_box(loss)));
    }
    start.elapsed()
}

/// Times a batch of `n` calls of one method.
pub type Timer<L> = fn(&L, u64) -> Duration;

/// The number of calls that take about `target`.
pub fn calibrate<L: ?Sized>(loss: &L, timer: Timer<L>, target: Duration) -> u64 {
    let mut n = 1_u64;
    loop {
        let t = timer(loss, n);
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

/// Nanoseconds with three significant digits, in a unit that keeps the number short.
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// The UTC date and time, from the system clock (days-to-civil after H. Hinnant).
pub fn utc_now() -> String {
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

/// The compiler's version line, as `rustc -V` prints it.
pub fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned())
}

/// The processor's model name and the number of processors the process may use.
pub fn cpu_model() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{model}, {cores} cores")
}
