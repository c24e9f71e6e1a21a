//! Compile-fail tests: every mistake `#[gradient]` reports, with the exact message and span.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test ui` and review the
//! diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
