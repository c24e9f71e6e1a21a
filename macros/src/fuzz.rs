//! Property tests of the whole expansion over thousands of generated and mutated functions.
//!
//! A small grammar writes function sources: signatures that mix every parameter type the macro
//! accepts with ones it must reject (`DMatrix`, `Vec<f64>`, tuples, generics, `self`,
//! `impl Trait`, odd return types), and bodies drawn from the supported language, most of them
//! well-shaped, salted with shape mistakes and constructs outside the language. A second
//! generator mutates the tokens of valid sources (deletes, duplicates, swaps, changes numbers
//! and delimiters), which yields inputs that still parse as a function and inputs that do not.
//!
//! Every input goes through [`check`], which asserts what `expand::gradient` promises whatever
//! it is given:
//!
//! - it does not panic;
//! - it is deterministic: the same input gives the same tokens, although every `HashMap` in the
//!   pipeline is seeded differently on each expansion, and (one case in eight) when the second
//!   expansion runs on a fresh thread, which shares no thread-local state with the first;
//! - when the input is items, the output is items too (it parses as a `syn::File`);
//! - the output is either the original function and `{name}_grad` with no `compile_error!`, or
//!   at least one `compile_error!` with a message in the house style (lowercase, no trailing
//!   period, no internal invariant), and for a function the original signature is kept so
//!   callers see no second error;
//! - a body the generator wrote from the supported language only, with every shape right,
//!   expands without errors.
//!
//! The generator is a seeded splitmix64, so a failure reproduces from the case it prints, and a
//! failing input is shrunk token by token before it is printed.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};

use crate::expand;

// ---- the properties ------------------------------------------------------------------------

/// What one expansion produced, for the statistics a fuzz test checks it covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// `{name}_grad` was generated.
    Generated,
    /// The input was a function and errors were reported.
    Rejected,
    /// The input was not a function (other items, or tokens that are not items at all).
    NotAFunction,
}

/// Expands `item` under `#[gradient(attr)]` twice and checks every property; `Err` says which
/// one broke. With `fresh_thread`, the second expansion runs on a new thread (slower, so the
/// fuzz tests do it for one case in eight).
fn check(
    attr: &TokenStream,
    item: &TokenStream,
    valid: bool,
    fresh_thread: bool,
) -> Result<Outcome, String> {
    let first = expand_caught(attr, item)?;
    let second = if fresh_thread {
        expand_elsewhere(attr, item)?
    } else {
        expand_caught(attr, item)?.to_string()
    };
    if first.to_string() != second {
        return Err("two expansions of the same input differ".into());
    }
    let errors = compile_errors(&first);
    if let Some(message) = errors.iter().find(|m| m.trim().is_empty()) {
        return Err(format!("a `compile_error!` without a message: {message:?}"));
    }
    if let Some(message) = errors.iter().find(|m| m.contains("invariant")) {
        return Err(format!("an internal invariant reached the user: {message}"));
    }
    // House style: lowercase, no trailing period (code in backticks may come first).
    if let Some(message) = errors
        .iter()
        .find(|m| m.starts_with(char::is_uppercase) || m.ends_with('.'))
    {
        return Err(format!("a message out of the house style: {message}"));
    }
    let Ok(input) = syn::parse2::<syn::ItemFn>(item.clone()) else {
        if syn::parse2::<syn::File>(item.clone()).is_ok()
            && syn::parse2::<syn::File>(first).is_err()
        {
            return Err("items in, but the output does not parse as items".into());
        }
        if errors.is_empty() {
            return Err("not a function, but no `compile_error!`".into());
        }
        return Ok(Outcome::NotAFunction);
    };
    let output: syn::File = syn::parse2(first)
        .map_err(|e| format!("a function in, but the output does not parse as items: {e}"))?;
    // `r#match` is called `match_grad`'s companion, as `format_ident!` writes it.
    let name = input.sig.ident.to_string();
    let bare = name.trim_start_matches("r#");
    let has_fn = |wanted: &str| {
        output
            .items
            .iter()
            .any(|i| matches!(i, syn::Item::Fn(f) if f.sig.ident == wanted))
    };
    if !has_fn(&name) {
        return Err(format!("the output lost the original function `{name}`"));
    }
    if !errors.is_empty() {
        if valid {
            return Err(format!("a valid function was rejected: {errors:?}"));
        }
        return Ok(Outcome::Rejected);
    }
    if !has_fn(&format!("{bare}_grad")) {
        return Err(format!("no error, but no `{bare}_grad` either"));
    }
    Ok(Outcome::Generated)
}

thread_local! {
    /// Whether this thread runs the macro under `catch_unwind`: a panic is then recorded in
    /// [`PANICKED_AT`] instead of printed, since the fuzz reports it itself.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// Where the last caught panic happened.
    static PANICKED_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that stays silent for panics the fuzz catches and
/// hands every other panic (other tests' included) to the hook that was there before.
fn hush_caught_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) {
                let location = info.location().map(ToString::to_string);
                PANICKED_AT.with(|p| *p.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs the macro, turning a panic into an `Err` with its message and location.
fn expand_caught(attr: &TokenStream, item: &TokenStream) -> Result<TokenStream, String> {
    hush_caught_panics();
    let (attr, item) = (attr.clone(), item.clone());
    CATCHING.with(|c| c.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| expand::gradient(attr, item)));
    CATCHING.with(|c| c.set(false));
    let location = PANICKED_AT.with(|p| p.borrow_mut().take());
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!(
            "the macro panicked: {message} (at {})",
            location.unwrap_or_default()
        )
    })
}

/// The text of a second expansion of the same input, made on a fresh thread when the input
/// survives a round trip through text, so that nothing a thread keeps between expansions
/// (a thread-local table, a cache) can leak into the output.
fn expand_elsewhere(attr: &TokenStream, item: &TokenStream) -> Result<String, String> {
    if !survives_text(attr) || !survives_text(item) {
        return expand_caught(attr, item).map(|t| t.to_string());
    }
    let (attr, item) = (attr.to_string(), item.to_string());
    std::thread::scope(|s| {
        s.spawn(|| {
            let attr: TokenStream = attr.parse().map_err(|e| format!("relex: {e}"))?;
            let item: TokenStream = item.parse().map_err(|e| format!("relex: {e}"))?;
            expand_caught(&attr, &item).map(|t| t.to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("the second expansion's thread panicked".into()))
    })
}

/// Whether `tokens` lex back from their text as the same tokens. Invisible groups (from
/// `macro_rules!` fragments) do not, nor does a joint punctuation mark that a mutation left
/// before a letter (`>` of `->` before `i64` prints as `>i64`).
fn survives_text(tokens: &TokenStream) -> bool {
    fn invisible(tokens: &TokenStream) -> bool {
        tokens.clone().into_iter().any(|tree| match tree {
            TokenTree::Group(g) => g.delimiter() == Delimiter::None || invisible(&g.stream()),
            _ => false,
        })
    }
    let text = tokens.to_string();
    !invisible(tokens)
        && text
            .parse::<TokenStream>()
            .is_ok_and(|t| t.to_string() == text)
}

/// The messages of every `compile_error!{"…"}` / `compile_error!("…")` in `tokens`.
fn compile_errors(tokens: &TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    collect_compile_errors(tokens.clone(), &mut out);
    out
}

fn collect_compile_errors(tokens: TokenStream, out: &mut Vec<String>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident) if ident == "compile_error" => {
                let message = match trees.get(i + 2) {
                    Some(TokenTree::Group(g)) => g.stream().to_string(),
                    _ => String::new(),
                };
                out.push(message.trim_matches('"').to_string());
            }
            TokenTree::Group(g) => collect_compile_errors(g.stream(), out),
            _ => {}
        }
    }
}

// ---- driving -------------------------------------------------------------------------------

/// The result of one fuzz run: how the cases came out, and the failures, shrunk.
#[derive(Default)]
struct Report {
    cases: usize,
    generated: usize,
    rejected: usize,
    not_a_function: usize,
    /// Failures of a bug in [`KNOWN_BUGS`] (which has its own regression test), by test name.
    known: Vec<&'static str>,
    failures: Vec<String>,
}

/// Failures the fuzz has found and that are not fixed yet: a fragment of the failure, and the
/// regression test below that reproduces it. A fuzz test counts these instead of failing, so it
/// keeps guarding everything else; delete the entry when the regression test passes.
const KNOWN_BUGS: &[(&str, &str)] = &[];

impl Report {
    fn run(&mut self, case: usize, attr: &TokenStream, item: &TokenStream, valid: bool) {
        self.cases += 1;
        match check(attr, item, valid, case.is_multiple_of(8)) {
            Ok(Outcome::Generated) => self.generated += 1,
            Ok(Outcome::Rejected) => self.rejected += 1,
            Ok(Outcome::NotAFunction) => self.not_a_function += 1,
            Err(why) => {
                if let Some((_, test)) = KNOWN_BUGS.iter().find(|(f, _)| why.contains(f)) {
                    self.known.push(test);
                    return;
                }
                if self.failures.len() < 5 {
                    let item = shrink(attr, item, valid, &why);
                    self.failures.push(format!(
                        "case {case}: {why}\n  #[gradient({attr})]\n  {item}\n"
                    ));
                } else {
                    self.failures.push(format!("case {case}: {why}"));
                }
            }
        }
    }

    /// Fails the test with every failure, and checks the run covered both outcomes.
    #[track_caller]
    fn finish(self, name: &str, min_generated: usize, min_rejected: usize) {
        let summary = format!(
            "{name}: {} cases, {} generated, {} rejected, {} not a function, {} failures, \
             {} of known bugs {:?}",
            self.cases,
            self.generated,
            self.rejected,
            self.not_a_function,
            self.failures.len(),
            self.known.len(),
            {
                let mut tests = self.known.clone();
                tests.sort_unstable();
                tests.dedup();
                tests
            }
        );
        println!("{summary}");
        assert!(
            self.failures.is_empty(),
            "{summary}\n{}",
            self.failures.join("\n")
        );
        assert!(
            self.generated >= min_generated && self.rejected >= min_rejected,
            "the fuzzer lost its coverage: {summary}"
        );
    }
}

/// A smaller input that fails the same way (the same panic, or the same property), found by
/// deleting runs of token trees and emptying groups while the failure persists.
fn shrink(attr: &TokenStream, item: &TokenStream, valid: bool, why: &str) -> TokenStream {
    // Deleting tokens from a valid function makes it invalid, which is not the same failure.
    if valid {
        return item.clone();
    }
    let kind = |w: &str| match w.split_once(" (at ") {
        Some((_, location)) => location.to_string(),
        None => w.split(':').next().unwrap_or_default().to_string(),
    };
    let wanted = kind(why);
    let fails = |candidate: &TokenStream| {
        check(attr, candidate, false, true).is_err_and(|w| kind(&w) == wanted)
    };
    let mut best = item.clone();
    'smaller: loop {
        for run in [4, 2, 1] {
            for k in 0..count_trees(&best) {
                let candidate = edit_at(&best, k, &mut |trees, i| {
                    trees.drain(i..(i + run).min(trees.len()));
                });
                if fails(&candidate) {
                    best = candidate;
                    continue 'smaller;
                }
            }
        }
        for k in 0..count_trees(&best) {
            let candidate = edit_at(&best, k, &mut |trees, i| {
                if let TokenTree::Group(g) = &trees[i] {
                    trees[i] = TokenTree::Group(Group::new(g.delimiter(), TokenStream::new()));
                }
            });
            if candidate.to_string() != best.to_string() && fails(&candidate) {
                best = candidate;
                continue 'smaller;
            }
        }
        return best;
    }
}

// ---- randomness ----------------------------------------------------------------------------

/// splitmix64 (Steele, Lea and Flood, 2014): tiny, and the same everywhere.
pub struct Rng(pub u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`, for `n > 0`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---- the grammar ---------------------------------------------------------------------------

/// The shape of a generated value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sh {
    Scalar,
    Mat(usize, usize),
}

/// Names a user might pick, including every spelling the expansion uses for its own locals.
const NAMES: &[&str] = &[
    "x",
    "y",
    "a",
    "b",
    "w",
    "s",
    "t",
    "v",
    "m",
    "u",
    "z",
    "q",
    "beta",
    "sigma",
    "grad",
    "value",
    "x_grad",
    "__v0",
    "__v3",
    "__g0",
    "__g2",
    "__adj0",
    "__t0",
    "__lu3",
    "__f1",
    "__m",
    "__s",
    "__i",
    "__m4_x",
    "__m2_zbar",
    "__w9_1_2",
    "r#loop",
    "nalgebra",
    "matgrad",
];

/// Sizes of generated matrices: small ones most of the time, so shapes meet often.
const DIMS: &[usize] = &[1, 2, 2, 3, 3, 3, 4, 4, 5, 6];

const SCALAR_METHODS: &[&str] = &["exp", "ln", "ln_1p", "sqrt", "sin", "cos", "tanh", "abs"];

const REDUCTIONS: &[&str] = &["sum", "mean", "norm", "norm_squared"];

/// Expressions the generator does not vouch for: outside the language when this was written
/// (some, like `if`, have joined it since), or with shapes that cannot be right. `$s` stands
/// for a scalar expression, `$m` for a matrix, `$n` for an integer.
const ODD_EXPRS: &[&str] = &[
    "$m.frobnicate()",
    "$m.max()",
    "$s.frobnicate()",
    "$m.iter().sum::<f64>()",
    "$m.sum::<f64>()",
    "if $s > 0.0 { $s } else { -$s }",
    "match $n { 0 => $s, _ => $s }",
    "loop { break $s; }",
    "while false {}",
    "for i in 0..3 {}",
    "async { $s }",
    "unsafe { $s }",
    "$s.await",
    "$s?",
    "[$s, $s]",
    "($s, $s)",
    "($s, $s).0",
    "S { x: $s }",
    "$s as i32",
    "!$s",
    "($s == $s)",
    "($s < $s)",
    "&mut $m",
    "$m.0",
    "\"text\"",
    "'c'",
    "true",
    "2",
    "0x10",
    "1u8",
    "($s..$s)",
    "$m[..]",
    "$m[(0, 0, 0)]",
    "$m[(0, 99)]",
    "$m[(0usize, 0usize)]",
    "$m[(-1, 0)]",
    "$m[$n]",
    "$m[0][0]",
    "$m.transpose",
    "$m.map(|a, b| a).sum()",
    "$m.map(1.0).sum()",
    "$m.map(|(a, b)| a).sum()",
    "$m.map(|_| 1.0).sum()",
    "$m.map(|v| $m.sum()).sum()",
    "$m.map(|v| v.map(|u| u)).sum()",
    "$m.map(|v| { let c = |u: f64| u; c(v) }).sum()",
    "$m.map(f64::powi).sum()",
    "$m.map(f32::exp).sum()",
    "$m.map(move |v| v).sum()",
    "$m.map(|v| -> f64 { v }).sum()",
    "$m.map(|v| return v).sum()",
    "$m.map(|ref v| *v).sum()",
    "$m.map(|v| { x += v; v }).sum()",
    "$m.dot(&$m, &$m)",
    "$m.dot($s)",
    "$m.sum(1.0)",
    "$s.powi(2.0)",
    "$s.powi($s)",
    "$s.powf($m)",
    "$m.exp()",
    "sigmoid($m)",
    "f64::exp($s, $s)",
    "f64::powi($s)",
    "foo($s)",
    "helper($m, $s)",
    "helper(&$m).sum()",
    "helper::<f64>($s)",
    "self::helper($s)",
    "helper($s).sqrt()",
    "helper(|v| v)",
    "helper($n)",
    "Self::f($s)",
    "matgrad::nope($s)",
    "f64::nope($s)",
    "<f64>::exp($s)",
    "<f64 as Float>::exp($s)",
    "(|v: f64| v)($s)",
    "$m.try_inverse()",
    "$m.lu()",
    "$m.lu().solve(&$m)",
    "$m.unwrap()",
    "$m.expect()",
    "$m.try_inverse().expect(\"a\", \"b\")",
    "$m.try_inverse().unwrap_or_default()",
    "$m.lu().solve(&$m).unwrap().sum()",
    "$m.lu().solve(&$s).unwrap().sum()",
    "$m.kronecker(&$m).kronecker(&$m).kronecker(&$m).sum()",
    "$m.pow($s).sum()",
    "$m.pow(-1).sum()",
    "$m.pow(99999999999999999999).sum()",
    "$m.pow(0).sum()",
    "$s.pow(2)",
    "$s.transpose()",
    "$s.sum()",
    "$s[0]",
    "$s.map(|v| v)",
    "$s.try_inverse().unwrap()",
    "$s.kronecker(&$s)",
    "$m.determinant().determinant()",
    "$m.trace().transpose()",
    "($m * $m * $m * $m * $m).trace()",
    "$m as f64",
    "*$s",
    "**$m",
    "&&$m",
    "$s.clone()",
    "$m.into_owned().sum()",
    "$m.map(sigmoid).map(softplus).sum()",
    "$m.len() as f64",
    "todo!()",
    "vec![1.0][0]",
    "x.y.z",
    "std::f64::consts::PI.exp()",
    "f64::MAX",
    "$s % $s",
    "$s ^ $s",
    "$s << 1",
    "$s = $s",
    "$s += $s",
    "try { $s }",
    "const { 1.0 }",
    "break",
    "continue",
    "return",
    "$m + $s",
    "$s - $m",
    "$s / $m",
    "$m * $m",
    "$m - $m.transpose()",
    "$m.component_mul(&$m.transpose())",
    "$m.component_div(&$s)",
    "$m.dot(&$m.transpose())",
    "$m.norm_squared(1)",
];

/// Statements the generator does not vouch for; the same placeholders as [`ODD_EXPRS`].
const ODD_STMTS: &[&str] = &[
    "for i in 0..3 { $s; }",
    "while $s > 0.0 {}",
    "loop { break; }",
    "if $s > 0.0 {}",
    "match $n { _ => {} }",
    "println!(\"{}\", $s);",
    "assert!($s > 0.0);",
    "unsafe {}",
    "$m.frobnicate();",
    "fn inner() {}",
    "struct Inner;",
    "use std::f64::consts::PI;",
    "const C: f64 = 1.0;",
    "let (p, q) = ($s, $s);",
    "let _ = $s;",
    "let unset;",
    "let unset: f64;",
    "let z = $s else { return 0.0; };",
    "let ref z = $s;",
    "let z @ _ = $s;",
    "let z: i32 = 1;",
    "let z: bool = $s;",
    "let z: DMatrix<f64> = $m;",
    "let z: SMatrix<f64, 0, 1> = $m;",
    "let z: Matrix9<f64> = $m;",
    "let z: SMatrix<f64, N, 1> = $m;",
    "let z: impl Sized = $s;",
    "let z: (f64, f64) = $s;",
    "return $s;",
    "$s;",
    "$m;",
    ";",
    "{ let q = $s; }",
    "async {};",
    "$s = $s;",
    "x.y = $s;",
    "undefined += $s;",
    "$n += 1;",
    "let z = |v: f64| v;",
    "let z: SVector<f64, 3> = layer($m, $s);",
    "let z: SMatrix<f64, 0, 3> = layer($m);",
    "let z: f64 = helper($m);",
    "let z = vec![$s];",
    "#[allow(unused)] let z = $s;",
    "let z = { return $s; };",
    "x[(0, 0)] = $s;",
    "*x = $m;",
    "let z = &mut $m;",
    "let z = $m; let z = z.map(|v| v * z.sum());",
    "let mut z = $s; { z += 1.0; }",
    "z %= $s;",
];

/// Parameter types the macro must reject.
const ODD_TYPES: &[&str] = &[
    "DMatrix<f64>",
    "&DVector<f64>",
    "nalgebra::DMatrix<f32>",
    "OMatrix<f64, U3, U3>",
    "Matrix3xX<f64>",
    "Vec<f64>",
    "&[f64]",
    "[f64; 3]",
    "(f64, f64)",
    "()",
    "impl Fn(f64) -> f64",
    "&impl Sized",
    "T",
    "&mut SMatrix<f64, 3, 3>",
    "&&f64",
    "&'a f64",
    "SMatrix<f64, N, 3>",
    "SMatrix<f64, 0, 3>",
    "SMatrix<f64, 3>",
    "SMatrix<f64, 3, 3, 3>",
    "SMatrix<f64, -1, 3>",
    "SMatrix<f64, { 1 + 2 }, 3>",
    "SMatrix<f64, 3usize, 3>",
    "SMatrix<f64, 99999999999999999999999, 1>",
    "SMatrix<f64, 200, 200>",
    "SMatrix<T, 3, 3>",
    "SMatrix<i32, 3, 3>",
    "SMatrix<SMatrix<f64, 2, 2>, 2, 2>",
    "SMatrix<'a, f64, 3, 3>",
    "SMatrix<f64, 3, 3>::Output",
    "Matrix7<f64>",
    "Matrix0<f64>",
    "Matrix3x0<f64>",
    "Matrix6x7<f64>",
    "Matrix<f64, U3, U3, ArrayStorage<f64, 3, 3>>",
    "Matrix3",
    "Matrix3<f64, f64>",
    "Vector<f64>",
    "RowVector<f64>",
    "Box<f64>",
    "Option<f64>",
    "fn(f64) -> f64",
    "dyn Fn()",
    "Self",
    "<f64 as Tr>::X",
    "_",
    "!",
    "f16",
    "f128",
    "char",
    "str",
    "String",
    "Fn(f64)",
    "r#f64",
    "std::f64",
    "f64<f64>",
];

const ODD_RETURNS: &[&str] = &[
    "",
    "-> f32",
    "-> SMatrix<f64, 3, 3>",
    "-> (f64, f64)",
    "-> impl Sized",
    "-> Self",
    "-> !",
    "-> &'static f64",
    "-> Result<f64, ()>",
    "-> ()",
    "-> usize",
    "-> bool",
    "-> _",
    "-> Vector1<f64>",
];

const ODD_ATTRS: &[&str] = &[
    "wrt",
    "wrt(",
    "wrt()",
    "wrt(x, x)",
    "wrt = 3",
    "foo",
    "wrt(x) wrt(x)",
    "wrt(x), wrt(y)",
    "wrt(x::y)",
    "wrt(1)",
    "wrt(\"x\")",
    "wrt(self)",
    "wrt[x]",
    "wrt { x }",
    "wrt(x)(y)",
    "#",
    "wrt(r#type)",
    ",",
    "wrt(x) extra",
    "wrt(n)",
    "wrt(nope)",
    "wrt(x = 1)",
    "wrt(x(y))",
    "crate::wrt(x)",
    "Wrt(x)",
    "pullback = my_pullback",
    "pullback",
    "pullback = 1",
    "pullback = a::b",
    "pullback(f)",
    "pullback = f, wrt(x)",
    "pullback = f, pullback = g",
];

/// Items that are not free functions, or not items at all.
const NOT_FUNCTIONS: &[&str] = &[
    "struct Loss { x: SVector<f64, 3> }",
    "enum E { A }",
    "impl S { fn f(&self) -> f64 { 0.0 } }",
    "trait T { fn f(x: f64) -> f64; }",
    "mod m {}",
    "const C: f64 = 1.0;",
    "static S: f64 = 1.0;",
    "use nalgebra::SMatrix;",
    "type T = f64;",
    "macro_rules! m { () => {} }",
    "extern \"C\" { fn f(x: f64) -> f64; }",
    "fn f(x: f64) -> f64;",
    "fn f(x: f64) -> f64 { x } fn g(x: f64) -> f64 { x }",
    "",
    "x",
    "1.0",
    "fn",
    "fn f",
    "fn f(",
    "fn f(x: f64) -> f64 { x",
    "#[gradient]",
    "pub",
    "{ x }",
    "let x = 1.0;",
    "=> , ;",
];

/// Sizes written as the const generic parameters `N` and `M`.
const SYM_N: usize = 1000;
const SYM_M: usize = 1001;

fn dim_name(d: usize) -> String {
    match d {
        SYM_N => "N".to_string(),
        SYM_M => "M".to_string(),
        _ => d.to_string(),
    }
}

/// The scope a block, a branch, a loop body or a closure restores when it ends.
struct Saved {
    scope: Vec<(String, Sh)>,
    ints: Vec<String>,
    bools: Vec<String>,
    counters: Vec<(String, usize)>,
    muts: Vec<String>,
}

/// Writes one function: a signature, a body, and the attribute arguments.
struct Gen<'r> {
    rng: &'r mut Rng,
    /// `f64`, `f32`, or a type parameter `T`: the float of the function.
    float: &'static str,
    /// Float values in scope; a later entry shadows an earlier one of the same name.
    scope: Vec<(String, Sh)>,
    /// Integer parameters in scope.
    ints: Vec<String>,
    /// `bool` parameters in scope.
    bools: Vec<String>,
    /// Counters of the enclosing `for` loops, with the loop's end (exclusive).
    counters: Vec<(String, usize)>,
    /// Locals declared `let mut`, which may be assigned to.
    muts: Vec<String>,
    /// Whether the function has `const N: usize, const M: usize` for sizes (and then, half the
    /// time, a type parameter `T` for its float).
    generic: bool,
    /// Percent chance that a construct outside the language is written at each choice.
    odd: u64,
    /// False once anything outside the language or any shape mistake was written.
    valid: bool,
    fresh: usize,
}

impl<'r> Gen<'r> {
    fn new(rng: &'r mut Rng, odd: u64) -> Self {
        let float = if rng.chance(15) { "f32" } else { "f64" };
        Gen {
            rng,
            float,
            scope: Vec::new(),
            ints: Vec::new(),
            bools: Vec::new(),
            counters: Vec::new(),
            muts: Vec::new(),
            generic: false,
            odd,
            valid: true,
            fresh: 0,
        }
    }

    /// Whether to write something odd now; marks the function invalid if so.
    fn odd(&mut self) -> bool {
        let odd = self.odd > 0 && self.rng.chance(self.odd);
        if odd {
            self.valid = false;
        }
        odd
    }

    // ---- names and scope ----

    /// The names in scope with their current shape (the last binding of each name).
    fn visible(&self) -> Vec<(String, Sh)> {
        let mut out: Vec<(String, Sh)> = Vec::new();
        for (name, sh) in self.scope.iter().rev() {
            if !out.iter().any(|(n, _)| n == name) {
                out.push((name.clone(), *sh));
            }
        }
        out
    }

    fn of_shape(&self, sh: Sh) -> Vec<String> {
        self.visible()
            .into_iter()
            .filter(|(_, s)| *s == sh)
            .map(|(n, _)| n)
            .collect()
    }

    fn matrix_shapes(&self) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for (_, sh) in self.visible() {
            if let Sh::Mat(r, c) = sh
                && !out.contains(&(r, c))
            {
                out.push((r, c));
            }
        }
        out
    }

    /// Binds `name` as a float value, so it is no longer an integer or (unless `mutable`) `mut`.
    fn bind(&mut self, name: &str, sh: Sh, mutable: bool) {
        self.scope.push((name.to_string(), sh));
        self.ints.retain(|n| n != name);
        self.bools.retain(|n| n != name);
        self.counters.retain(|(n, _)| n != name);
        self.muts.retain(|n| n != name);
        if mutable {
            self.muts.push(name.to_string());
        }
    }

    /// What a block, a branch, a loop body or a closure restores when it ends.
    fn save(&self) -> Saved {
        Saved {
            scope: self.scope.clone(),
            ints: self.ints.clone(),
            bools: self.bools.clone(),
            counters: self.counters.clone(),
            muts: self.muts.clone(),
        }
    }

    fn restore(&mut self, saved: Saved) {
        self.scope = saved.scope;
        self.ints = saved.ints;
        self.bools = saved.bools;
        self.counters = saved.counters;
        self.muts = saved.muts;
    }

    /// A name for a new local: sometimes one in scope (shadowing), sometimes a fresh one.
    fn local_name(&mut self) -> String {
        if self.rng.chance(25) && !self.scope.is_empty() {
            return self.scope[self.rng.below(self.scope.len())].0.clone();
        }
        if self.rng.chance(50) {
            return (*self.rng.pick(NAMES)).to_string();
        }
        self.fresh += 1;
        format!("l{}", self.fresh)
    }

    // ---- types ----

    fn dim(&mut self) -> usize {
        if self.generic && self.rng.chance(30) {
            *self.rng.pick(&[SYM_N, SYM_M])
        } else {
            *self.rng.pick(DIMS)
        }
    }

    /// A nalgebra spelling of `sh`, under a random path prefix.
    fn spell(&mut self, sh: Sh) -> String {
        let t = self.float;
        let Sh::Mat(r, c) = sh else {
            return t.to_string();
        };
        if r >= SYM_N || c >= SYM_N {
            let (rn, cn) = (dim_name(r), dim_name(c));
            return match (r, c) {
                (_, 1) => format!("SVector<{t}, {rn}>"),
                (1, _) => format!("RowSVector<{t}, {cn}>"),
                _ => format!("SMatrix<{t}, {rn}, {cn}>"),
            };
        }
        let mut options = vec![format!("SMatrix<{t}, {r}, {c}>")];
        if c == 1 {
            options.push(format!("SVector<{t}, {r}>"));
            if r <= 6 {
                options.push(format!("Vector{r}<{t}>"));
            }
        }
        if r == 1 {
            options.push(format!("RowSVector<{t}, {c}>"));
            if c <= 6 {
                options.push(format!("RowVector{c}<{t}>"));
            }
        }
        if r == c && r <= 6 {
            options.push(format!("Matrix{r}<{t}>"));
        }
        if r <= 6 && c <= 6 {
            options.push(format!("Matrix{r}x{c}<{t}>"));
        }
        if self.rng.chance(5) {
            options.push(format!("SMatrix<{t}, {{ {r} }}, {c}>"));
        }
        let prefix = *self.rng.pick(&[
            "",
            "",
            "",
            "nalgebra::",
            "matgrad::nalgebra::",
            "::matgrad::nalgebra::",
        ]);
        format!("{prefix}{}", self.rng.pick(&options))
    }

    // ---- expressions ----

    fn literal(&mut self) -> String {
        let options: &[&str] = if self.float == "T" {
            &[
                "convert(0.5)",
                "T::one()",
                "T::from_f64(2.0).unwrap()",
                "1.0",
            ]
        } else if self.float == "f32" {
            &["1.0", "0.5", "2.0", "0.25f32", "3f32", "1e-2"]
        } else {
            &[
                "1.0", "2.0", "0.5", "3.25", "1e-3", "2.5e1", "1_000.0", "4f64", "0.1f64",
            ]
        };
        (*self.rng.pick(options)).to_string()
    }

    fn int(&mut self) -> String {
        if !self.ints.is_empty() && self.rng.chance(40) {
            return self.rng.pick(&self.ints).clone();
        }
        (*self.rng.pick(&["1", "2", "3", "-1", "(1 + 1)"])).to_string()
    }

    /// Fills the placeholders of an odd template.
    fn fill(&mut self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let tag = rest[i + 1..].chars().next().unwrap_or(' ');
            let piece = match tag {
                's' => self.scalar(0),
                'm' => self.any_matrix_leaf(),
                'n' => self.int(),
                _ => "$".to_string(),
            };
            out.push_str(&piece);
            rest = &rest[(i + 2).min(rest.len())..];
        }
        out.push_str(rest);
        out
    }

    /// Any matrix name in scope, or a scalar one when there is none (itself a mistake).
    fn any_matrix_leaf(&mut self) -> String {
        let names: Vec<String> = self
            .visible()
            .into_iter()
            .filter(|(_, s)| matches!(s, Sh::Mat(..)))
            .map(|(n, _)| n)
            .collect();
        if names.is_empty() {
            self.valid = false;
            return self.scalar(0);
        }
        self.rng.pick(&names).clone()
    }

    fn expr(&mut self, sh: Sh, depth: u32) -> String {
        match sh {
            Sh::Scalar => self.scalar(depth),
            Sh::Mat(r, c) => self.matrix(r, c, depth),
        }
    }

    /// A value of a random shape in scope, with that shape.
    fn any(&mut self, depth: u32) -> (String, Sh) {
        let shapes = self.matrix_shapes();
        if shapes.is_empty() || self.rng.chance(40) {
            return (self.scalar(depth), Sh::Scalar);
        }
        let (r, c) = *self.rng.pick(&shapes);
        let (r, c) = if self.rng.chance(15) { (c, r) } else { (r, c) };
        (self.matrix(r, c, depth), Sh::Mat(r, c))
    }

    fn scalar(&mut self, depth: u32) -> String {
        if self.odd() {
            let template = *self.rng.pick(ODD_EXPRS);
            return self.fill(template);
        }
        if depth == 0 || self.rng.chance(20) {
            return self.scalar_leaf();
        }
        let (d, t) = (depth - 1, self.float);
        match self.rng.below(13) {
            0 | 1 => {
                let op = *self.rng.pick(&["+", "-", "*", "/"]);
                format!("({} {op} {})", self.scalar(d), self.scalar(d))
            }
            2 => format!("(-{})", self.scalar(d)),
            3 => {
                let method = *self.rng.pick(SCALAR_METHODS);
                format!("({}).{method}()", self.scalar(d))
            }
            4 => match self.rng.below(5) {
                0 => format!("({}).powi({})", self.scalar(d), self.int()),
                1 => format!("({}).powf({})", self.scalar(d), self.scalar(d)),
                2 => format!("{t}::powi({}, {})", self.scalar(d), self.int()),
                3 => format!("{t}::powf({}, {})", self.scalar(d), self.scalar(d)),
                _ => {
                    let method = *self.rng.pick(SCALAR_METHODS);
                    format!("{t}::{method}({})", self.scalar(d))
                }
            },
            5 => {
                let helper = *self.rng.pick(&[
                    "sigmoid",
                    "softplus",
                    "matgrad::sigmoid",
                    "matgrad::softplus",
                ]);
                format!("{helper}({})", self.scalar(d))
            }
            6..=8 => self.reduction(d),
            9 => self.block(Sh::Scalar, d),
            10 => format!("({})", self.scalar(d)),
            11 => self.if_expr(Sh::Scalar, d),
            _ => self.scalar_leaf(),
        }
    }

    fn scalar_leaf(&mut self) -> String {
        let names = self.of_shape(Sh::Scalar);
        match self.rng.below(8) {
            0..=2 if !names.is_empty() => self.rng.pick(&names).clone(),
            3 if !self.ints.is_empty() => {
                format!("({} as {})", self.rng.pick(&self.ints).clone(), self.float)
            }
            4 if self.float == "T" => "T::pi()".to_string(),
            4 => format!("std::{}::consts::PI", self.float),
            5 if !self.matrix_shapes().is_empty() => self.reduction(0),
            6 => (*self.rng.pick(&["C", "EPS", "f64::EPSILON"])).to_string(),
            7 if !self.counters.is_empty() => {
                format!(
                    "({} as {})",
                    self.rng.pick(&self.counters).0.clone(),
                    self.float
                )
            }
            _ => self.literal(),
        }
    }

    /// A scalar read out of a matrix: a reduction, a dot product, an entry, a trace.
    fn reduction(&mut self, depth: u32) -> String {
        let shapes = self.matrix_shapes();
        if shapes.is_empty() {
            return self.scalar_leaf();
        }
        let (r, c) = *self.rng.pick(&shapes);
        let m = self.matrix(r, c, depth);
        match self.rng.below(7) {
            0 | 1 => format!("({m}).{}()", self.rng.pick(REDUCTIONS)),
            2 => format!("({m}).dot(&{})", self.matrix(r, c, depth)),
            3 if r < SYM_N && c < SYM_N => {
                let (i, j) = (self.rng.below(r), self.rng.below(c));
                format!("({m})[({i}, {j})]")
            }
            4 if (r == 1 || c == 1) && r.max(c) < SYM_N => {
                let len = r.max(c);
                let counters: Vec<String> = self
                    .counters
                    .iter()
                    .filter(|(_, end)| *end <= len)
                    .map(|(n, _)| n.clone())
                    .collect();
                if !counters.is_empty() && self.rng.chance(50) {
                    format!("({m})[{}]", self.rng.pick(&counters))
                } else {
                    format!("({m})[{}]", self.rng.below(len))
                }
            }
            5 if r == c => format!("({m}).trace()"),
            6 if r == c => format!("({m}).determinant()"),
            _ => format!("({m}).sum()"),
        }
    }

    /// A `{ let …; value }` block, whose locals go out of scope after it.
    fn block(&mut self, sh: Sh, depth: u32) -> String {
        let saved = self.save();
        let mut out = String::from("{ ");
        for _ in 0..=self.rng.below(2) {
            let stmt = self.statement(depth);
            out.push_str(&stmt);
            out.push(' ');
        }
        let value = self.expr(sh, depth);
        out.push_str(&value);
        out.push_str(" }");
        self.restore(saved);
        out
    }

    fn matrix(&mut self, r: usize, c: usize, depth: u32) -> String {
        if depth == 0 || self.rng.chance(25) {
            return self.matrix_leaf(r, c);
        }
        let d = depth - 1;
        match self.rng.below(17) {
            0 | 1 => {
                let op = *self.rng.pick(&["+", "-"]);
                format!("({} {op} {})", self.matrix(r, c, d), self.matrix(r, c, d))
            }
            2 => {
                let method = *self.rng.pick(&["component_mul", "component_div"]);
                format!(
                    "({}).{method}(&{})",
                    self.matrix(r, c, d),
                    self.matrix(r, c, d)
                )
            }
            3 => match self.rng.below(3) {
                0 => format!("({} * {})", self.scalar(d), self.matrix(r, c, d)),
                1 => format!("({} * {})", self.matrix(r, c, d), self.scalar(d)),
                _ => format!("({} / {})", self.matrix(r, c, d), self.scalar(d)),
            },
            4 => format!("(-{})", self.matrix(r, c, d)),
            5 => format!("({}).transpose()", self.matrix(c, r, d)),
            6 | 7 => {
                let k = self.inner_dim(r, c);
                format!("({} * {})", self.matrix(r, k, d), self.matrix(k, c, d))
            }
            8 | 9 => self.map(r, c, d),
            10 if r == c => match self.rng.below(3) {
                0 => format!("({}).try_inverse().unwrap()", self.matrix(r, c, d)),
                1 => format!(
                    "({}).try_inverse().expect(\"singular\")",
                    self.matrix(r, c, d)
                ),
                _ => format!("({}).pow({})", self.matrix(r, c, d), self.rng.below(3) + 1),
            },
            11 => {
                let (a, b) = (self.matrix(r, r, d), self.matrix(r, c, d));
                let finish = *self.rng.pick(&["unwrap()", "expect(\"singular\")"]);
                format!("({a}).lu().solve(&{b}).{finish}")
            }
            12 => self.kronecker(r, c, d),
            13 => self.block(Sh::Mat(r, c), d),
            14 => format!("({}).clone()", self.matrix(r, c, d)),
            15 => self.if_expr(Sh::Mat(r, c), d),
            _ if r < SYM_N && c < SYM_N && self.rng.chance(50) => self.view(r, c, d),
            _ => self.matrix_leaf(r, c),
        }
    }

    /// An r×c block of a larger matrix: `.row(i)`, `.column(j)`, `.fixed_rows::<r>(i)`,
    /// `.fixed_columns::<c>(j)` or `.fixed_view::<r, c>(i, j)` (literal sizes only).
    fn view(&mut self, r: usize, c: usize, d: u32) -> String {
        let (extra_r, extra_c) = (self.rng.below(2), self.rng.below(2));
        let (i, j) = (self.rng.below(extra_r + 1), self.rng.below(extra_c + 1));
        let source = self.matrix(r + extra_r, c + extra_c, d);
        match self.rng.below(3) {
            0 if r == 1 && extra_c == 0 => format!("({source}).row({i})"),
            0 if c == 1 && extra_r == 0 => format!("({source}).column({j})"),
            1 if extra_c == 0 => format!("({source}).fixed_rows::<{r}>({i})"),
            1 if extra_r == 0 => format!("({source}).fixed_columns::<{c}>({j})"),
            _ => format!("({source}).fixed_view::<{r}, {c}>({i}, {j})"),
        }
    }

    /// An inner dimension for a product that ends up r×c, preferring ones that shapes in scope
    /// can supply.
    fn inner_dim(&mut self, r: usize, c: usize) -> usize {
        let candidates: Vec<usize> = self
            .matrix_shapes()
            .into_iter()
            .filter_map(|(a, b)| {
                if a == r {
                    Some(b)
                } else if b == c {
                    Some(a)
                } else {
                    None
                }
            })
            .collect();
        if candidates.is_empty() {
            self.dim()
        } else {
            *self.rng.pick(&candidates)
        }
    }

    /// A matrix of shape r×c from the names in scope: itself, a transpose, or a product; when
    /// none fits, a name of the wrong shape, which makes the function a shape mistake.
    fn matrix_leaf(&mut self, r: usize, c: usize) -> String {
        let exact = self.of_shape(Sh::Mat(r, c));
        if !exact.is_empty() && !self.rng.chance(10) {
            return self.rng.pick(&exact).clone();
        }
        let transposed = self.of_shape(Sh::Mat(c, r));
        if !transposed.is_empty() && self.rng.chance(70) {
            return format!("{}.transpose()", self.rng.pick(&transposed));
        }
        for (a, k) in self.matrix_shapes() {
            let right = self.of_shape(Sh::Mat(k, c));
            if a == r && !right.is_empty() {
                let left = self.of_shape(Sh::Mat(r, k));
                return format!("({} * {})", self.rng.pick(&left), self.rng.pick(&right));
            }
        }
        if !exact.is_empty() {
            return self.rng.pick(&exact).clone();
        }
        self.valid = false;
        self.any_matrix_leaf()
    }

    /// `m.map(|v| …)` or `m.map(f64::exp)`; the closure sees scalars from outside only.
    fn map(&mut self, r: usize, c: usize, depth: u32) -> String {
        let receiver = self.matrix(r, c, depth);
        if self.rng.chance(30) {
            let f = match self.rng.below(3) {
                0 => format!("{}::{}", self.float, self.rng.pick(SCALAR_METHODS)),
                1 => (*self.rng.pick(&["sigmoid", "softplus"])).to_string(),
                _ => (*self.rng.pick(&["matgrad::sigmoid", "matgrad::softplus"])).to_string(),
            };
            return format!("({receiver}).map({f})");
        }
        let saved = self.save();
        // Only scalars can be captured; a matrix from outside is a mistake `odd` may still make.
        self.scope = self
            .visible()
            .into_iter()
            .filter(|(_, sh)| *sh == Sh::Scalar)
            .collect();
        self.muts.clear();
        let entry = (*self
            .rng
            .pick(&["v", "x", "e", "__m4_x", "__x", "grad", "s"]))
        .to_string();
        self.bind(&entry, Sh::Scalar, false);
        let annotated = if self.rng.chance(20) {
            format!("{entry}: {}", self.float)
        } else {
            entry
        };
        let body = self.scalar(depth);
        self.restore(saved);
        format!("({receiver}).map(|{annotated}| {body})")
    }

    /// `a.kronecker(&b)` with a r₁×c₁ and b r₂×c₂ such that r₁r₂ = r and c₁c₂ = c.
    fn kronecker(&mut self, r: usize, c: usize, depth: u32) -> String {
        if r >= SYM_N || c >= SYM_N {
            return self.matrix_leaf(r, c);
        }
        let divisors = |n: usize| (1..=n).filter(|&d| n.is_multiple_of(d)).collect::<Vec<_>>();
        let r1 = *self.rng.pick(&divisors(r));
        let c1 = *self.rng.pick(&divisors(c));
        let a = self.matrix(r1, c1, depth);
        let b = self.matrix(r / r1, c / c1, depth);
        format!("({a}).kronecker(&{b})")
    }

    // ---- statements ----

    fn statement(&mut self, depth: u32) -> String {
        if self.odd() {
            let template = *self.rng.pick(ODD_STMTS);
            return self.fill(template);
        }
        let muts = self.muts.clone();
        if !muts.is_empty() && self.rng.chance(30) {
            return self.assignment(&muts, depth);
        }
        if depth > 0 && self.rng.chance(12) {
            return if self.rng.chance(50) {
                self.if_statement(depth - 1)
            } else {
                self.for_loop(depth - 1)
            };
        }
        let (value, sh) = self.any(depth);
        let name = self.local_name();
        let mutable = self.rng.chance(20);
        let keyword = if mutable { "let mut" } else { "let" };
        let stmt = if self.rng.chance(20) {
            format!("{keyword} {name}: {} = {value};", self.spell(sh))
        } else {
            format!("{keyword} {name} = {value};")
        };
        self.bind(&name, sh, mutable);
        stmt
    }

    /// `x = …`, `x += …`, `x *= s` on a `let mut` local, keeping its shape.
    fn assignment(&mut self, muts: &[String], depth: u32) -> String {
        let name = self.rng.pick(muts).clone();
        let sh = self.of_shape_of(&name);
        match self.rng.below(5) {
            0 => format!("{name} = {};", self.expr(sh, depth)),
            4 => match sh {
                Sh::Mat(r, c) if r < SYM_N && c < SYM_N => {
                    if self.rng.chance(50) {
                        let i = self.rng.below(r);
                        format!("{name}.set_row({i}, &{});", self.expr(Sh::Mat(1, c), depth))
                    } else {
                        let j = self.rng.below(c);
                        format!(
                            "{name}.set_column({j}, &{});",
                            self.expr(Sh::Mat(r, 1), depth)
                        )
                    }
                }
                _ => format!("{name} = {};", self.expr(sh, depth)),
            },
            1 => {
                let op = *self.rng.pick(&["+=", "-="]);
                format!("{name} {op} {};", self.expr(sh, depth))
            }
            _ => {
                let op = *self.rng.pick(&["*=", "/="]);
                format!("{name} {op} {};", self.scalar(depth))
            }
        }
    }

    /// Statements for a branch or a loop body, which may assign the enclosing `mut` locals.
    fn statements(&mut self, depth: u32) -> String {
        let saved = self.save();
        let mut out = String::new();
        for _ in 0..=self.rng.below(2) {
            let stmt = self.statement(depth);
            out.push_str(&stmt);
            out.push(' ');
        }
        self.restore(saved);
        out
    }

    /// `if c { … }` or `if c { … } else { … }` as a statement.
    fn if_statement(&mut self, depth: u32) -> String {
        let cond = self.condition(depth);
        let then = self.statements(depth);
        match self.rng.below(3) {
            0 => format!("if {cond} {{ {then}}}"),
            1 => format!("if {cond} {{ {then}}} else {{ {}}}", self.statements(depth)),
            _ => {
                let cond2 = self.condition(depth);
                let (a, b) = (self.statements(depth), self.statements(depth));
                format!("if {cond} {{ {then}}} else if {cond2} {{ {a}}} else {{ {b}}}")
            }
        }
    }

    /// `if c { a } else { b }` with a value of shape `sh`.
    fn if_expr(&mut self, sh: Sh, depth: u32) -> String {
        let cond = self.condition(depth);
        let then = self.block(sh, depth);
        let otherwise = if self.rng.chance(25) {
            let cond2 = self.condition(depth);
            let (a, b) = (self.block(sh, depth), self.block(sh, depth));
            format!("if {cond2} {a} else {b}")
        } else {
            self.block(sh, depth)
        };
        format!("(if {cond} {then} else {otherwise})")
    }

    /// `for i in 0..k { … }` over a literal range.
    fn for_loop(&mut self, depth: u32) -> String {
        let counter = (*self.rng.pick(&["i", "j", "k", "_"])).to_string();
        let (range, end) = match self.rng.below(3) {
            0 => ("0..3".to_string(), 3),
            1 => ("1..=2".to_string(), 3),
            _ => {
                let n = 1 + self.rng.below(4);
                (format!("0..{n}"), n)
            }
        };
        let saved = self.save();
        if counter != "_" {
            self.scope.retain(|(n, _)| *n != counter);
            self.counters.push((counter.clone(), end));
        }
        let body = self.statements(depth);
        // Assignments in the body keep each variable's shape, so the scope outside is unchanged.
        self.restore(saved);
        format!("for {counter} in {range} {{ {body}}}")
    }

    /// A condition: comparisons of scalars, `&&`, `||`, `!`, and `bool` parameters.
    fn condition(&mut self, depth: u32) -> String {
        if self.odd() {
            let template = *self
                .rng
                .pick(&["$m < $m", "$s", "1", "$n", "$s && $s", "$m == $m"]);
            return self.fill(template);
        }
        if depth > 0 && self.rng.chance(25) {
            let d = depth - 1;
            return match self.rng.below(3) {
                0 => format!("({} && {})", self.condition(d), self.condition(d)),
                1 => format!("({} || {})", self.condition(d), self.condition(d)),
                _ => format!("!({})", self.condition(d)),
            };
        }
        if !self.bools.is_empty() && self.rng.chance(20) {
            return self.rng.pick(&self.bools).clone();
        }
        let op = *self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
        format!("({} {op} {})", self.scalar(depth), self.scalar(depth))
    }

    fn of_shape_of(&self, name: &str) -> Sh {
        self.visible()
            .into_iter()
            .find(|(n, _)| n == name)
            .map_or(Sh::Scalar, |(_, sh)| sh)
    }

    fn body(&mut self) -> String {
        let mut out = String::from("{\n");
        for _ in 0..self.rng.below(5) {
            let stmt = self.statement(2);
            let _ = writeln!(out, "    {stmt}");
        }
        let depth = 1 + self.rng.below(3) as u32;
        let last = if self.odd() {
            match self.rng.below(4) {
                0 => self.any_matrix_leaf(),
                1 => String::new(),
                2 => "return;".to_string(),
                _ => format!("return {}; {}", self.scalar(depth), self.scalar(0)),
            }
        } else if self.rng.chance(15) {
            format!("return {};", self.scalar(depth))
        } else {
            self.scalar(depth)
        };
        let _ = writeln!(out, "    {last}\n}}");
        out
    }

    // ---- signatures ----

    /// The attribute arguments, and the signature up to the body.
    fn signature(&mut self) -> (String, String) {
        let name = (*self
            .rng
            .pick(&["loss", "f", "value", "grad", "__v0", "r#match"]))
        .to_string();
        // Const generic sizes: not in the language the generator vouches for.
        self.generic = self.rng.chance(8);
        if self.generic {
            self.valid = false;
            if self.rng.chance(50) {
                self.float = "T";
            }
        }
        let mut params: Vec<String> = Vec::new();
        let mut floats: Vec<String> = Vec::new();
        let mut ints: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let count = 1 + self.rng.below(4);
        for _ in 0..count {
            let mut pname = (*self.rng.pick(NAMES)).to_string();
            if names.contains(&pname) && !self.odd() {
                self.fresh += 1;
                pname = format!("p{}", self.fresh);
            }
            names.push(pname.clone());
            let param = self.param(&pname, &mut floats, &mut ints);
            params.push(param);
        }
        if floats.is_empty() {
            self.valid = false;
        }
        self.ints = ints.clone();
        if self.odd() {
            let receiver = *self
                .rng
                .pick(&["&self", "self", "mut self: Box<Self>", "&mut self"]);
            params.insert(0, receiver.to_string());
        }
        if self.odd() {
            params.push("...".to_string());
        }
        let attr = self.attr(&floats, &ints);
        let qualifiers = if self.odd() {
            *self.rng.pick(&[
                "async ",
                "unsafe ",
                "const ",
                "extern \"C\" ",
                "async unsafe ",
            ])
        } else {
            ""
        };
        let generics = if self.generic && self.float == "T" {
            "<T: RealField + Copy, const N: usize, const M: usize>"
        } else if self.generic {
            "<const N: usize, const M: usize>"
        } else if self.odd() {
            *self
                .rng
                .pick(&["<T>", "<const N: usize>", "<'a>", "<T: Copy>", "<>"])
        } else {
            ""
        };
        let ret = if self.odd() {
            (*self.rng.pick(ODD_RETURNS)).to_string()
        } else {
            format!("-> {}", self.float)
        };
        let where_clause = if self.odd() { " where f64: Copy" } else { "" };
        let vis = *self
            .rng
            .pick(&["", "", "pub ", "pub(crate) ", "pub(super) "]);
        let doc = if self.rng.chance(20) {
            "/// Docs.\n#[inline]\n"
        } else {
            ""
        };
        let header = format!(
            "{doc}{vis}{qualifiers}fn {name}{generics}({}) {ret}{where_clause}",
            params.join(", ")
        );
        (attr, header)
    }

    /// One parameter; float ones join `floats` and the scope, integer ones `ints`.
    fn param(&mut self, name: &str, floats: &mut Vec<String>, ints: &mut Vec<String>) -> String {
        let by_ref = if self.rng.chance(60) { "&" } else { "" };
        let pattern = if self.odd() {
            (*self.rng.pick(&[
                "(a, b)", "_", "ref x", "x @ _", "S { x }", "[a, b]", "mut x",
            ]))
            .to_string()
        } else if self.rng.chance(10) {
            format!("mut {name}")
        } else {
            name.to_string()
        };
        if self.odd() {
            let ty = *self.rng.pick(ODD_TYPES);
            return format!("{pattern}: {ty}");
        }
        match self.rng.below(10) {
            0 => {
                ints.push(name.to_string());
                let ty = *self.rng.pick(&["usize", "i32", "u8", "i64"]);
                format!("{pattern}: {by_ref}{ty}")
            }
            1 if self.rng.chance(30) => {
                self.bools.push(name.to_string());
                format!("{pattern}: {by_ref}bool")
            }
            2 | 3 => {
                floats.push(name.to_string());
                self.bind(name, Sh::Scalar, false);
                let ty = self.mixed_float();
                format!("{pattern}: {by_ref}{ty}")
            }
            _ => {
                floats.push(name.to_string());
                let sh = Sh::Mat(self.dim(), self.dim());
                self.bind(name, sh, false);
                let saved = self.float;
                self.float = self.mixed_float();
                let ty = self.spell(sh);
                self.float = saved;
                format!("{pattern}: {by_ref}{ty}")
            }
        }
    }

    /// The function's float, or, as a mistake, the other one.
    fn mixed_float(&mut self) -> &'static str {
        if self.odd() {
            if self.float == "f64" { "f32" } else { "f64" }
        } else {
            self.float
        }
    }

    fn attr(&mut self, floats: &[String], ints: &[String]) -> String {
        if self.odd() {
            let odd = *self.rng.pick(ODD_ATTRS);
            return if odd == "wrt(n)" && !ints.is_empty() {
                format!("wrt({})", ints[0])
            } else {
                odd.to_string()
            };
        }
        if floats.is_empty() || self.rng.chance(60) {
            return String::new();
        }
        let mut chosen: Vec<&String> = floats.iter().filter(|_| self.rng.chance(60)).collect();
        if chosen.is_empty() {
            chosen.push(&floats[0]);
        }
        let names: Vec<&str> = chosen.iter().map(|s| s.as_str()).collect();
        format!("wrt({})", names.join(", "))
    }
}

/// One generated case: attribute arguments, the item, and whether it is in the language.
pub struct Case {
    pub attr: String,
    pub item: String,
    pub valid: bool,
}

/// Generates one function with the given chance of odd constructs at each choice.
pub fn generate(rng: &mut Rng, odd: u64) -> Case {
    let mut g = Gen::new(rng, odd);
    let (attr, header) = g.signature();
    let body = g.body();
    Case {
        attr,
        item: format!("{header} {body}"),
        valid: g.valid,
    }
}

fn tokens(src: &str) -> Option<TokenStream> {
    src.parse().ok()
}

// ---- token mutations -----------------------------------------------------------------------

/// Token trees in `stream`, counting those inside groups.
fn count_trees(stream: &TokenStream) -> usize {
    stream
        .clone()
        .into_iter()
        .map(|t| match &t {
            TokenTree::Group(g) => 1 + count_trees(&g.stream()),
            _ => 1,
        })
        .sum()
}

/// Applies `f` to the list holding the `target`-th tree (depth first) and that tree's index.
fn edit_at(
    stream: &TokenStream,
    target: usize,
    f: &mut dyn FnMut(&mut Vec<TokenTree>, usize),
) -> TokenStream {
    let mut remaining = Some(target);
    edit_inner(stream, &mut remaining, f)
}

fn edit_inner(
    stream: &TokenStream,
    remaining: &mut Option<usize>,
    f: &mut dyn FnMut(&mut Vec<TokenTree>, usize),
) -> TokenStream {
    let mut trees: Vec<TokenTree> = stream.clone().into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        let Some(k) = *remaining else { break };
        if k == 0 {
            f(&mut trees, i);
            *remaining = None;
            break;
        }
        *remaining = Some(k - 1);
        if let TokenTree::Group(g) = &trees[i] {
            let inner = edit_inner(&g.stream(), remaining, f);
            if remaining.is_none() {
                let mut group = Group::new(g.delimiter(), inner);
                group.set_span(g.span());
                trees[i] = TokenTree::Group(group);
                break;
            }
        }
        i += 1;
    }
    trees.into_iter().collect()
}

/// Tokens a mutation may insert or substitute.
const VOCABULARY: &[&str] = &[
    "self",
    "Self",
    "crate",
    "super",
    "async",
    "await",
    "unsafe",
    "move",
    "mut",
    "ref",
    "dyn",
    "impl",
    "fn",
    "let",
    "if",
    "else",
    "match",
    "while",
    "for",
    "loop",
    "return",
    "break",
    "as",
    "in",
    "where",
    "const",
    "static",
    "pub",
    "_",
    ";",
    ",",
    ".",
    "..",
    "::",
    "&",
    "&&",
    "*",
    "-",
    "+",
    "/",
    "%",
    "=",
    "+=",
    "==",
    "<",
    ">",
    "!",
    "?",
    "#",
    "@",
    "|",
    "=>",
    "->",
    "'a",
    "x",
    "y",
    "__v0",
    "__g1",
    "__m",
    "f64",
    "f32",
    "usize",
    "SMatrix",
    "Vector3",
    "sum",
    "map",
    "transpose",
    "unwrap",
    "try_inverse",
    "lu",
    "solve",
    "DMatrix",
    "r#type",
    "sigmoid",
    "0",
    "1",
    "2.0",
    "0.0",
    "-1",
    "1e400",
    "99999999999999999999999",
    "1.5e-7f32",
    "3f64",
    "0x10",
    "'c'",
    "\"s\"",
    "b'x'",
    "true",
    "(x)",
    "[0]",
    "{ }",
    "(0, 0)",
    "<f64, 3, 3>",
    "&x",
];

/// Keywords a gentle mutation leaves alone.
const KEYWORDS: &[&str] = &[
    "fn", "let", "mut", "pub", "crate", "as", "return", "if", "else", "for", "in", "move", "ref",
    "self", "Self", "super", "async", "unsafe", "const", "extern", "where", "impl", "dyn",
];

/// Literals a mutation may put in place of another.
const LITERALS: &[&str] = &[
    "0",
    "1",
    "2",
    "0.0",
    "1.0",
    "2.0",
    "-1.0",
    "1e400",
    "99999999999999999999999",
    "3f64",
    "1.5e-7f32",
    "0x10",
    "128",
    "127",
    "0usize",
    "'c'",
    "\"s\"",
];

/// Mutates one token tree of `stream` at random. A `gentle` mutation only substitutes a
/// literal for a literal or a name for a name, duplicates a tree, or changes parentheses to an
/// invisible group and back, so the result usually still parses.
fn mutate(rng: &mut Rng, stream: &TokenStream, gentle: bool) -> TokenStream {
    let total = count_trees(stream);
    if total == 0 {
        let word = *rng.pick(VOCABULARY);
        return tokens(word).unwrap_or_default();
    }
    let target = rng.below(total);
    let op = if gentle {
        *rng.pick(&[5, 7, 8, 8])
    } else {
        rng.below(9)
    };
    let word = if op >= 7 {
        *rng.pick(LITERALS)
    } else {
        *rng.pick(VOCABULARY)
    };
    let extra: Vec<TokenTree> = tokens(word).unwrap_or_default().into_iter().collect();
    let name = *rng.pick(NAMES);
    let name = tokens(name).unwrap_or_default();
    let delimiter = if gentle {
        *rng.pick(&[Delimiter::Parenthesis, Delimiter::None])
    } else {
        *rng.pick(&[
            Delimiter::Parenthesis,
            Delimiter::Bracket,
            Delimiter::Brace,
            Delimiter::None,
        ])
    };
    let shift = rng.below(8);
    edit_at(stream, target, &mut |trees, i| match (op, &trees[i]) {
        (0, _) => drop(trees.remove(i)),
        (1, _) => trees.insert(i, trees[i].clone()),
        (2, _) if i + 1 < trees.len() => trees.swap(i, i + 1),
        (3, _) | (7 | 8, TokenTree::Literal(_)) => {
            drop(trees.splice(i..=i, extra.iter().cloned()));
        }
        (4, _) => drop(trees.splice(i..i, extra.iter().cloned())),
        (5, TokenTree::Group(g)) => {
            trees[i] = TokenTree::Group(Group::new(delimiter, g.stream()));
        }
        (5, tree) => {
            let inner: TokenStream = std::iter::once(tree.clone()).collect();
            trees[i] = TokenTree::Group(Group::new(delimiter, inner));
        }
        (6, _) => {
            let tree = trees.remove(i);
            let to = (i + shift).min(trees.len());
            trees.insert(to, tree);
        }
        // A number for a number (above) and a name for a name: mutations that usually parse.
        (_, TokenTree::Ident(ident)) if !KEYWORDS.contains(&ident.to_string().as_str()) => {
            drop(trees.splice(i..=i, name.clone()));
        }
        (_, TokenTree::Ident(_)) => {}
        _ => drop(trees.splice(i..i, extra.iter().cloned())),
    })
}

// ---- the tests -----------------------------------------------------------------------------

// Each fuzz runs as two tests of half the cases with different seeds, so that the test harness
// spreads them evenly over the cores.

/// Functions from the grammar with no odd constructs: most are valid and must expand without
/// errors; the others (where the generator found no name of the shape it needed and wrote a
/// shape mistake, or used const generic sizes) must expand or report errors.
fn fuzz_valid_bodies(seed: u64) {
    let mut rng = Rng(seed);
    let mut report = Report::default();
    let mut valid = 0;
    for case in 0..600 {
        let c = generate(&mut rng, 0);
        valid += usize::from(c.valid);
        let (Some(attr), Some(item)) = (tokens(&c.attr), tokens(&c.item)) else {
            panic!(
                "case {case}: the generator wrote tokens that do not lex:\n{}",
                c.item
            );
        };
        assert!(
            syn::parse2::<syn::ItemFn>(item.clone()).is_ok(),
            "case {case}: the generator wrote a function that does not parse:\n{}",
            c.item
        );
        report.run(case, &attr, &item, c.valid);
    }
    report.finish("valid bodies", 300, 50);
    assert!(
        valid >= 300,
        "only {valid} of 600 generated functions are valid"
    );
}

#[test]
fn fuzz_valid_bodies_expand_or_report_shape_errors() {
    fuzz_valid_bodies(0x5eed_0001);
}

#[test]
fn fuzz_valid_bodies_expand_or_report_shape_errors_2() {
    fuzz_valid_bodies(0x5eed_1001);
}

/// Functions with constructs outside the language mixed in at every choice.
fn fuzz_odd_bodies(seed: u64) {
    let mut rng = Rng(seed);
    let mut report = Report::default();
    for case in 0..800 {
        let odd = *rng.pick(&[2, 5, 10, 25]);
        let c = generate(&mut rng, odd);
        let (Some(attr), Some(item)) = (tokens(&c.attr), tokens(&c.item)) else {
            continue;
        };
        report.run(case, &attr, &item, c.valid);
    }
    report.finish("odd bodies", 50, 500);
}

#[test]
fn fuzz_odd_bodies_and_signatures_never_panic() {
    fuzz_odd_bodies(0x5eed_0002);
}

#[test]
fn fuzz_odd_bodies_and_signatures_never_panic_2() {
    fuzz_odd_bodies(0x5eed_1002);
}

/// Functions from the grammar with one to three token-level mutations.
fn fuzz_mutated_tokens(seed: u64) {
    let mut rng = Rng(seed);
    let mut report = Report::default();
    for case in 0..900 {
        let c = generate(&mut rng, 0);
        let (Some(original_attr), Some(original)) = (tokens(&c.attr), tokens(&c.item)) else {
            continue;
        };
        // Half the cases are mutated gently until the result still parses as a function, since
        // those reach every stage of the macro rather than the first.
        let must_parse = case % 2 == 0;
        let (mut attr, mut item) = (original_attr.clone(), original.clone());
        for _ in 0..5 {
            (attr, item) = (original_attr.clone(), original.clone());
            for _ in 0..=rng.below(3) {
                if rng.chance(10) {
                    attr = mutate(&mut rng, &attr, must_parse);
                } else {
                    item = mutate(&mut rng, &item, must_parse);
                }
            }
            if !must_parse || syn::parse2::<syn::ItemFn>(item.clone()).is_ok() {
                break;
            }
        }
        report.run(case, &attr, &item, false);
    }
    report.finish("mutated tokens", 50, 250);
}

#[test]
fn fuzz_mutated_tokens_never_panic() {
    fuzz_mutated_tokens(0x5eed_0003);
}

#[test]
fn fuzz_mutated_tokens_never_panic_2() {
    fuzz_mutated_tokens(0x5eed_1003);
}

/// Odd attribute arguments and items that are not free functions.
#[test]
fn fuzz_attributes_and_non_functions_report_errors() {
    let mut rng = Rng(0x5eed_0004);
    let mut report = Report::default();
    let mut case = 0;
    for odd in ODD_ATTRS {
        for _ in 0..8 {
            let c = generate(&mut rng, 0);
            if let (Some(attr), Some(item)) = (tokens(odd), tokens(&c.item)) {
                report.run(case, &attr, &item, false);
            }
            case += 1;
        }
    }
    for item in NOT_FUNCTIONS {
        let (Some(attr), Some(item)) = (tokens(""), tokens(item)) else {
            continue;
        };
        report.run(case, &attr, &item, false);
        case += 1;
    }
    report.finish("attributes and non-functions", 0, 150);
}

/// Every construct of the odd tables, alone in an otherwise valid function.
#[test]
fn every_odd_construct_alone_is_handled() {
    let mut report = Report::default();
    let sigs = [
        "fn f(x: &Matrix3<f64>, s: f64, n: usize) -> f64",
        "fn f(x: SVector<f64, 3>, s: &f64, n: &i32) -> f64",
    ];
    let mut case = 0;
    for sig in sigs {
        for template in ODD_EXPRS {
            let e = template
                .replace("$s", "s")
                .replace("$m", "x")
                .replace("$n", "n");
            let src = format!("{sig} {{ let z = {e}; x.sum() + s }}");
            if let Some(item) = tokens(&src) {
                report.run(case, &TokenStream::new(), &item, false);
            }
            case += 1;
        }
        for template in ODD_STMTS {
            let e = template
                .replace("$s", "s")
                .replace("$m", "x")
                .replace("$n", "n");
            let src = format!("{sig} {{ {e} x.sum() + s }}");
            if let Some(item) = tokens(&src) {
                report.run(case, &TokenStream::new(), &item, false);
            }
            case += 1;
        }
    }
    for ty in ODD_TYPES {
        let src = format!("fn f(x: {ty}, s: f64) -> f64 {{ x.sum() + s }}");
        if let Some(item) = tokens(&src) {
            report.run(case, &TokenStream::new(), &item, false);
        }
        case += 1;
    }
    for ret in ODD_RETURNS {
        let src = format!("fn f(x: &Matrix3<f64>) {ret} {{ x.sum() }}");
        if let Some(item) = tokens(&src) {
            report.run(case, &TokenStream::new(), &item, false);
        }
        case += 1;
    }
    report.finish("odd constructs alone", 0, 300);
}

// ---- regressions found by the fuzz ---------------------------------------------------------

/// Expands `src` with no attribute arguments and checks every property of [`check`].
#[track_caller]
fn regression(src: &str) {
    let item = tokens(src).expect("regression source lexes");
    if let Err(why) = check(&TokenStream::new(), &item, false, true) {
        panic!("{why}\n{src}");
    }
}

/// An `if` that assigns an outer variable named with a raw identifier (`r#loop`) rebuilt the
/// name with `Ident::new`, which panics on `r#`.
#[test]
fn an_if_assigning_a_raw_identifier_does_not_panic() {
    regression("fn f(r#loop: f64) -> f64 { if r#loop > 0.0 { r#loop = 1.0; } r#loop }");
}

/// A `let` in one branch of an `if` that shadows a variable the other branch assigns is read
/// back as that variable's value after the `if`. With different shapes that is a spurious
/// error (below); with equal shapes a silently wrong result: for `x < 0`,
/// `let mut t = x; if x > 0.0 { t = 2.0 * x; } else { let t = 5.0 * x; } t` returns `x`, but
/// its `_grad` returns the value `5·x` and the derivative 5.
#[test]
fn a_let_in_one_branch_is_not_the_value_of_the_if() {
    let src = "fn f(x: &Vector2<f64>, s: f64) -> f64 {
        let mut t = s;
        if s > 0.0 { t = 2.0 * s; } else { let t = x; }
        t
    }";
    regression(src);
    let item = tokens(src).expect("lexes");
    let output = expand::gradient(TokenStream::new(), item).to_string();
    assert!(!output.contains("compile_error"), "{output}");
}

/// A `return` inside a block expression leaves the function in Rust, but the macro takes it
/// as the block's value and differentiates the rest of the body: `f` below returns `2·s`, while
/// `f_grad` returns the value and gradient of `x.sum() + s`. Found while reviewing what the
/// fuzz saw accepted; it must be an error like a `return` anywhere else but at the end.
#[test]
fn a_return_inside_a_block_expression_is_rejected() {
    let src = "fn f(x: &Vector3<f64>, s: f64) -> f64 {
        let z = { return s * 2.0; };
        x.sum() + s
    }";
    regression(src);
    let item = tokens(src).expect("lexes");
    let output = expand::gradient(TokenStream::new(), item).to_string();
    assert!(output.contains("compile_error"), "{output}");
}

/// The same bodies under `#[jacobian]`: the macro does not panic, writes items, reports no
/// internal invariant, and for a valid body generates `{name}_jacobian` (or an error that
/// names a Jacobian it cannot name), whatever the function returns.
#[test]
fn fuzz_jacobian_expansions_never_panic() {
    hush_caught_panics();
    let mut rng = Rng(0x5eed_1ac0);
    let (mut generated, mut failures) = (0, Vec::new());
    for case in 0..300 {
        let c = generate(&mut rng, 0);
        let (Some(attr), Some(item)) = (tokens(&c.attr), tokens(&c.item)) else {
            continue;
        };
        CATCHING.with(|flag| flag.set(true));
        let result = panic::catch_unwind(AssertUnwindSafe(|| expand::jacobian(attr, item)));
        CATCHING.with(|flag| flag.set(false));
        let Ok(out) = result else {
            let at = PANICKED_AT
                .with(|p| p.borrow_mut().take())
                .unwrap_or_default();
            failures.push(format!(
                "case {case}: the macro panicked at {at}\n  {}",
                c.item
            ));
            continue;
        };
        let errors = compile_errors(&out);
        if let Some(message) = errors.iter().find(|m| m.contains("invariant")) {
            failures.push(format!("case {case}: {message}\n  {}", c.item));
        }
        match syn::parse2::<syn::File>(out) {
            Ok(file) => {
                let has_jacobian = file.items.iter().any(|i| {
                    matches!(i, syn::Item::Fn(f) if f.sig.ident.to_string().ends_with("_jacobian"))
                });
                generated += usize::from(has_jacobian && errors.is_empty());
            }
            Err(e) => failures.push(format!("case {case}: output is not items: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(generated >= 150, "only {generated} Jacobians generated");
}
