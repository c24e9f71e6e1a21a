//! Errors only a full build reports, so these run under `cargo build` (trybuild builds when a
//! case is expected to pass): a `#[hessian]` function that reaches, directly or through other
//! functions, a function with no second derivative (a hand-written pullback). Such a function's `_vjp_jvp` type-checks, so
//! that its callers keep theirs; compiling it stops with the reason.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test ui_build` and review
//! the diff.

#[test]
fn ui_build() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui-build/pass/*.rs");
    t.compile_fail("tests/ui-build/fail/*.rs");
}
