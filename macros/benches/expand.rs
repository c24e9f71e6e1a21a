//! How long `#[gradient]` takes to expand the largest reference loss (mlp2, 676 inputs), and the
//! others, measured on the macro's own pipeline (proc-macro2 tokens in, tokens out); then how
//! the time grows with the length of a function, at 10, 100 and 1,000 statements.
//!
//! A proc-macro crate exports only its macros, so this benchmark compiles the pipeline's modules
//! into itself. `cargo bench -p matgrad-macros` prints the median time per expansion.

// The pipeline is compiled in whole, unit tests included under `cargo clippy --all-targets`;
// the benchmark calls only its entry point.
#![allow(dead_code, unused_imports)]

#[path = "../src/adjoint.rs"]
mod adjoint;
#[path = "../src/args.rs"]
mod args;
#[path = "../src/ast.rs"]
mod ast;
#[path = "../src/ctxt.rs"]
mod ctxt;
#[path = "../src/derivation/mod.rs"]
mod derivation;
#[path = "../src/diff.rs"]
mod diff;
#[path = "../src/emit/mod.rs"]
mod emit;
#[path = "../src/expand.rs"]
mod expand;
#[path = "../src/fallback.rs"]
mod fallback;
#[path = "../src/fuse.rs"]
mod fuse;
#[path = "../src/ir.rs"]
mod ir;
#[path = "../src/lower/mod.rs"]
mod lower;
#[path = "../src/plan.rs"]
mod plan;
#[path = "../src/reuse.rs"]
mod reuse;
#[path = "../src/rules.rs"]
mod rules;
#[path = "../src/second.rs"]
mod second;
#[path = "../src/shape.rs"]
mod shape;
#[path = "../src/simplify.rs"]
mod simplify;
#[path = "../src/tangent.rs"]
mod tangent;
#[path = "../src/text.rs"]
mod text;
#[path = "../src/types.rs"]
mod types;
#[path = "../src/verify.rs"]
mod verify;

use std::hint::black_box;
use std::time::{Duration, Instant};

use proc_macro2::TokenStream;

const LOSSES: [(&str, &str, &str); 4] = [
    (
        "mlp2",
        "wrt(w1, b1, w2, b2)",
        "fn mlp2(w1: &SMatrix<f64, 32, 16>, b1: &SVector<f64, 32>, w2: &SMatrix<f64, 4, 32>, b2: &SVector<f64, 4>,
                 x: &SVector<f64, 16>, y: &SVector<f64, 4>) -> f64 {
            let h = (w1 * x + b1).map(|v| v.tanh());
            let o = w2 * h + b2 - y;
            0.5 * o.norm_squared()
        }",
    ),
    (
        "gaussian_nll",
        "wrt(mu, sigma)",
        "fn gaussian_nll(mu: &SVector<f64, 6>, sigma: &SMatrix<f64, 6, 6>, x: &SVector<f64, 6>) -> f64 {
            let r = x - mu;
            let inv = sigma.try_inverse().unwrap();
            0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(inv * r))
        }",
    ),
    (
        "trace_quad",
        "wrt(x)",
        "fn trace_quad(a: &Matrix4<f64>, x: &Matrix4<f64>, b: &Matrix4<f64>, c: &Matrix4<f64>) -> f64 {
            (a * x * b * x.transpose() * c).trace()
        }",
    ),
    (
        "softmax_ce",
        "wrt(w)",
        "fn softmax_ce(w: &SMatrix<f64, 10, 20>, x: &SVector<f64, 20>, y: &SVector<f64, 10>) -> f64 {
            let z = w * x;
            z.map(|v| v.exp()).sum().ln() - y.dot(&z)
        }",
    ),
];

/// A straight-line function of `n` statements over 4-vectors, each reading the one before (and
/// some one further back): products, `map`s, sums, dots.
fn chain(n: usize) -> String {
    let mut body = String::new();
    for k in 1..=n {
        let (p, q) = (k - 1, k.saturating_sub(3));
        let stmt = match k % 4 {
            0 => format!("let v{k} = a * v{p};"),
            1 => format!("let v{k} = v{p}.map(|t| t.tanh());"),
            2 => format!("let v{k} = v{p} * 0.5 + v{q};"),
            _ => format!("let v{k} = v{p} - x * (v{p}.dot(x) * 0.1);"),
        };
        body.push_str(&stmt);
    }
    format!(
        "fn chain(a: &SMatrix<f64, 4, 4>, x: &SVector<f64, 4>) -> f64 {{ let v0 = *x; {body} \
         v{n}.norm_squared() }}"
    )
}

/// The median of `rounds` timed expansions of `source` under `#[gradient(attr)]`.
fn median_expansion(attr: &TokenStream, source: &TokenStream, rounds: usize) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        black_box(expand::gradient(
            black_box(attr.clone()),
            black_box(source.clone()),
        ));
        samples.push(start.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!("| loss | median expansion time |\n|---|--:|");
    for (name, attr, source) in LOSSES {
        let (attr, source): (TokenStream, TokenStream) = (
            attr.parse().expect("attribute"),
            source.parse().expect("source"),
        );
        let output = expand::gradient(attr.clone(), source.clone()).to_string();
        assert!(
            output.contains(&format!("fn {name}_grad")),
            "{name} did not expand:\n{output}"
        );
        let median = median_expansion(&attr, &source, if quick { 20 } else { 200 });
        println!("| {name} | {:.3} ms |", median.as_secs_f64() * 1e3);
    }
    println!(
        "\n| statements | generated code | median expansion time | per statement |\n|--:|--:|--:|--:|"
    );
    for n in [10, 100, 1000] {
        let attr = TokenStream::new();
        let source: TokenStream = chain(n).parse().expect("source");
        let output = expand::gradient(attr.clone(), source.clone()).to_string();
        assert!(
            output.contains("fn chain_grad") && !output.contains("compile_error"),
            "the chain of {n} did not expand:\n{output}"
        );
        let rounds = match (quick, n) {
            (true, _) => 3,
            (false, 1000) => 11,
            (false, _) => 51,
        };
        let median = median_expansion(&attr, &source, rounds);
        println!(
            "| {n} | {} KB | {:.2} ms | {:.1} µs |",
            output.len() / 1000,
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e6 / n as f64
        );
    }
}
