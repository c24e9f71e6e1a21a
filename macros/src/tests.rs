//! Pass-level tests (IR and adjoint text, one-line cases), error messages, and expansion
//! snapshots. A proc-macro crate exports only macros, so its internals are tested from within.
//!
//! Snapshots live in `macros/snapshots/*.rs`; `MATGRAD_BLESS=1 cargo test -p matgrad-macros`
//! rewrites them, and the diff is reviewed like any other change.

use proc_macro2::TokenStream;

use crate::args::Attribute;
use crate::ctxt::Ctxt;
use crate::ir::{Program, Shape};
use crate::{args, ast, diff, expand, lower, shape};

/// Runs every stage up to shapes on `src` (a whole `fn`), with `attr` as the attribute arguments.
fn front(attr: &str, src: &str) -> (Option<(ast::Func, Program)>, Vec<String>) {
    let item: syn::ItemFn = syn::parse_str(src).expect("test source parses");
    let cx = Ctxt::new();
    let args = args::parse(
        &cx,
        Attribute::Gradient,
        attr.parse().expect("attribute tokens"),
    );
    let result = ast::from_syn(&cx, &item, &args).map(|func| {
        let mut prog = lower::lower(&cx, &func, &item);
        let shapes: Vec<Shape> = func
            .params
            .iter()
            .map(|p| p.kind.shape().unwrap_or(Shape::Poison))
            .collect();
        shape::infer(&cx, &mut prog, &shapes, func.float);
        shape::check_output(&cx, &prog, &func);
        (func, prog)
    });
    let errors = cx.finish().iter().map(ToString::to_string).collect();
    (result, errors)
}

fn ir(src: &str) -> String {
    let (result, errors) = front("", src);
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    result.expect("lowered").1.to_string()
}

/// The IR after `fuse`.
fn fused(src: &str) -> String {
    let (result, errors) = front("", src);
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    let mut prog = result.expect("lowered").1;
    crate::fuse::fuse(&mut prog, true);
    prog.to_string()
}

fn adjoint(attr: &str, src: &str) -> String {
    let (result, errors) = front(attr, src);
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    let (func, prog) = result.expect("lowered");
    let text = diff::differentiate(&prog, &func.wrt).to_string();
    // Every adjoint program starts by seeding the result with 1; the rules come after.
    let (seed, rules) = text.split_once('\n').expect("a seed line");
    assert!(seed.ends_with("+= seed0"), "{text}");
    rules.to_string()
}

/// The one error `src` produces.
fn error(src: &str) -> String {
    let (_, errors) = front("", src);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:?}");
    errors[0].clone()
}

fn expansion(attr: &str, src: &str) -> String {
    let tokens = expand::gradient(
        attr.parse().expect("attribute"),
        src.parse().expect("source"),
    );
    let file: syn::File = syn::parse2(tokens).expect("expansion parses as items");
    prettyplease::unparse(&file)
}

#[track_caller]
fn snapshot(name: &str, attr: &str, src: &str) {
    let actual = expansion(attr, src);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(format!("{name}.rs"));
    if std::env::var_os("MATGRAD_BLESS").is_some() {
        std::fs::write(&path, &actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with MATGRAD_BLESS=1",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "expansion of `{name}` changed; rerun with MATGRAD_BLESS=1 and review the diff\n{actual}"
    );
}

fn tokens_equal(a: &TokenStream, b: &TokenStream) -> bool {
    a.to_string() == b.to_string()
}

// ---- lowering and shapes -------------------------------------------------------------------

#[test]
fn products_of_three_matrices_take_the_cheaper_order() {
    // A 3×4, X 4×5, B 5×2: (A·X)·B multiplies 90 entries, A·(X·B) 64.
    let text = fused(
        "fn f(a: &SMatrix<f64, 3, 4>, x: &SMatrix<f64, 4, 5>, b: &SMatrix<f64, 5, 2>) -> f64 {
            (a * x * b).sum()
        }",
    );
    assert!(text.contains("v3 = mul v1 v2 : 4×2"), "{text}");
    assert!(text.contains("v4 = mul v0 v3 : 3×2"), "{text}");
    // A 2×5, X 5×4, B 4×3, written A·(X·B): 2·5·4 + 2·4·3 = 64 against 5·4·3 + 2·5·3 = 90.
    let text = fused(
        "fn f(a: &SMatrix<f64, 2, 5>, x: &SMatrix<f64, 5, 4>, b: &SMatrix<f64, 4, 3>) -> f64 {
            (a * (x * b)).sum()
        }",
    );
    assert!(text.contains("v3 = mul v0 v1 : 2×4"), "{text}");
    assert!(text.contains("v4 = mul v3 v2 : 2×3"), "{text}");
    // A product that is used twice stays as written.
    let text = fused(
        "fn f(a: &SMatrix<f64, 3, 4>, x: &SMatrix<f64, 4, 5>, b: &SMatrix<f64, 5, 2>) -> f64 {
            let ax = a * x;
            (ax * b).sum() + ax.sum()
        }",
    );
    assert!(text.contains("v3 = mul v0 v1 : 3×5"), "{text}");
}

#[test]
fn lowers_least_squares() {
    let text = ir(
        "fn f(beta: &SVector<f64, 5>, x: &SMatrix<f64, 20, 5>, y: &SVector<f64, 20>) -> f64 {
        let r = y - x * beta;
        r.norm_squared()
    }",
    );
    assert_eq!(
        text,
        "v0 = param 0 : 5×1\nv1 = param 1 : 20×5\nv2 = param 2 : 20×1\nv3 = mul v1 v0 : 20×1\n\
         v4 = sub v2 v3 : 20×1\nv5 = norm_squared v4 : scalar\nreturn v5\n"
    );
}

#[test]
fn shadowing_and_assignment_are_ssa() {
    let text =
        ir("fn f(x: f64) -> f64 { let y = x * 2.0; let y = y + x; let mut z = y; z += 1.0; z }");
    assert_eq!(
        text,
        "v0 = param 0 : scalar\nv1 = const 2.0 : scalar\nv2 = mul v0 v1 : scalar\nv3 = add v2 v0 : scalar\n\
         v4 = const 1.0 : scalar\nv5 = add v3 v4 : scalar\nreturn v5\n"
    );
}

#[test]
fn shapes_of_products_and_transposes() {
    let text =
        ir("fn f(a: &Matrix2x3<f64>, x: &RowVector2<f64>) -> f64 { (x * a).transpose().sum() }");
    assert!(
        text.contains("v2 = mul v1 v0 : 1×3\nv3 = transpose v2 : 3×1\nv4 = sum v3 : scalar"),
        "{text}"
    );
}

#[test]
fn map_closure_captures_outer_scalars() {
    let text = ir(
        "fn f(w: &Matrix3<f64>, s: f64) -> f64 { let t = s * 2.0; w.map(|v| (v * t).exp()).sum() }",
    );
    assert!(text.contains("v4 = map v0 v3 : 3×3"), "{text}");
    assert!(
        text.contains(
            "    v1 = param 1 : scalar\n    v2 = mul v0 v1 : scalar\n    v3 = exp v2 : scalar"
        ),
        "{text}"
    );
}

#[test]
fn integer_parameters_by_reference_are_read_through_the_reference() {
    // Regression: `*n` was rejected for `n: &i32`, although the original needs it.
    let text = ir("fn f(x: f64, n: &i32) -> f64 { x.powi(*n) * (*n as f64) }");
    assert!(text.contains("v1 = powi (* n) v0 : scalar"), "{text}");
    assert!(
        text.contains("v2 = const ((* n) as f64) : scalar"),
        "{text}"
    );
}

#[test]
fn suffixed_integer_literals_are_floats() {
    // Regression: `2f64` was reported as an integer literal.
    let text = ir("fn f(x: f64) -> f64 { x * 2f64 }");
    assert!(text.contains("v1 = const 2f64 : scalar"), "{text}");
}

#[test]
fn integer_parameters_are_constants() {
    let text = ir("fn f(x: f64, n: i32) -> f64 { x.powi(n) * (n as f64) }");
    assert!(text.contains("v1 = powi n v0 : scalar"), "{text}");
    assert!(text.contains("v2 = const (n as f64) : scalar"), "{text}");
}

#[test]
fn vector_index_reads_row_or_column() {
    // Regression: `v[i]` once kept `usize::MAX` as its column and panicked at run time.
    let text = ir("fn f(v: &RowVector3<f64>, u: &Vector3<f64>) -> f64 { v[2] + u[1] }");
    assert!(text.contains("v2 = index (0, 2) v0 : scalar"), "{text}");
    assert!(text.contains("v3 = index (1, 0) v1 : scalar"), "{text}");
}

#[test]
fn index_arithmetic_on_loop_counters_is_evaluated() {
    let text = ir(
        "fn f(m: &Matrix3<f64>) -> f64 { let mut t = 0.0; for k in 1..3 { t += m[(k, (k - 1) * 2 - k + 1)] * m[(2 * k - 2, k)]; } t }",
    );
    let indices: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split(" = ").nth(1)?.strip_prefix("index "))
        .collect();
    assert_eq!(
        indices,
        [
            "(1, 0) v0 : scalar",
            "(0, 1) v0 : scalar",
            "(2, 1) v0 : scalar",
            "(2, 2) v0 : scalar"
        ],
        "{text}"
    );
}

#[test]
fn dead_code_is_not_live() {
    let (result, _) = front("", "fn f(x: f64) -> f64 { let unused = x.exp(); x * 3.0 }");
    let (func, prog) = result.expect("lowered");
    let adj = diff::differentiate(&prog, &func.wrt);
    assert_eq!(adj.live, vec![true, false, true, true]);
}

/// A variable one branch assigns and the other only reads, in every arrangement: the reading
/// branch passes it through with the node it read it with.
#[test]
fn a_branch_reads_each_capture_through_one_node() {
    let bodies = [
        // One branch assigns `x`, the other reads it.
        "let mut x = a * a; let mut y = a; if flag { x = a; } else { y = x; } x + y",
        // The reading branch reads it twice.
        "let mut x = a * a; let mut y = a; if flag { x = a; } else { y = x * x + x; } x + y",
        // `else if`.
        "let mut x = a * a; let mut y = a; if a > 0.0 { y -= x * a; } else if flag { x = a * 3.0; } x + y",
        // Nested `if` in the reading branch.
        "let mut x = a * a; let mut y = a; if flag { x = a; } else { if a > 0.0 { y = x; } else { y = x * 2.0; } } x + y",
        // A loop in the reading branch whose `let` shadows the captured name for an iteration.
        "let mut x = a * a; let mut y = a; if flag { x = a; } else { for _ in 0..2 { let x = y * 2.0; y += x; } y += x; } x + y",
        // A closure in the reading branch.
        "let mut x = a * a; let mut y = a; if flag { x = a; } else { y = m.map(|v| v * x).sum() + x; } x + y",
        // A block in the reading branch.
        "let mut x = a * a; let mut y = a; if flag { x = a; } else { { let x = a; y = x; } y += x; } x + y",
    ];
    for body in bodies {
        let src = format!("fn f(flag: bool, a: f64, m: &Matrix2<f64>) -> f64 {{ {body} }}");
        let (result, errors) = front("", &src);
        assert!(errors.is_empty(), "{body}: unexpected errors: {errors:?}");
        lower::assert_one_node_per_param(&result.expect("lowered").1);
    }
}

// ---- adjoints ------------------------------------------------------------------------------

#[test]
fn adjoint_of_least_squares() {
    let text = adjoint(
        "wrt(beta)",
        "fn f(beta: &SVector<f64, 5>, x: &SMatrix<f64, 20, 5>, y: &SVector<f64, 20>) -> f64 {
        let r = y - x * beta;
        r.norm_squared()
    }",
    );
    assert_eq!(text, "g4 += (v4 * (2.0 * g5))\ng3 += -g4\ng0 += v1ᵀ · g3\n");
}

#[test]
fn adjoint_skips_constants_and_parameters_outside_wrt() {
    let text = adjoint(
        "wrt(x)",
        "fn f(x: &Vector3<f64>, a: &Matrix3<f64>) -> f64 { (a * a * x).sum() }",
    );
    assert_eq!(text, "g3 += g4·𝟙3×1\ng0 += v2ᵀ · g3\n");
}

#[test]
fn repeated_use_accumulates() {
    let text = adjoint("", "fn f(x: &Vector3<f64>) -> f64 { x.dot(&x) }");
    assert_eq!(text, "g0 += (v0 * g1)\ng0 += (v0 * g1)\n");
}

#[test]
fn adjoint_of_scalar_rules() {
    let cases = [
        ("x.exp()", "g0 += (g1 * v1)\n"),
        ("x.ln()", "g0 += (g1 * (1.0 / v0))\n"),
        ("x.sqrt()", "g0 += (g1 * (0.5 / v1))\n"),
        ("x.sin()", "g0 += (g1 * v0.cos())\n"),
        ("x.tanh()", "g0 += (g1 * (1.0 - (v1 * v1)))\n"),
        ("sigmoid(x)", "g0 += (g1 * (v1 * (1.0 - v1)))\n"),
        ("softplus(x)", "g0 += (g1 * sigmoid(v0))\n"),
        ("x.powi(3)", "g0 += (g1 * (3 * v0.powi(((3) - 1))))\n"),
    ];
    for (body, expected) in cases {
        let text = adjoint("", &format!("fn f(x: f64) -> f64 {{ {body} }}"));
        assert_eq!(text, expected, "{body}");
    }
}

#[test]
fn adjoint_of_matrix_rules() {
    let cases = [
        ("a.trace()", "g0 += g1·I3\n"),
        ("a.mean()", "g0 += (g1 / 9.0)·𝟙3×3\n"),
        ("a.transpose().sum()", "g1 += g2·𝟙3×3\ng0 += g1ᵀ\n"),
        ("a.norm()", "g0 += (v0 * (g1 / v1 or 0))\n"),
        ("a[(1, 2)]", "g0 += g1·e(1, 2) of 3×3\n"),
        ("(a * 2.0).sum()", "g2 += g3·𝟙3×3\ng0 += (g2 * v1)\n"),
        (
            "(a / 2.0).sum()",
            "g2 += g3·𝟙3×3\ng0 += (g2 * (1.0 / v1))\n",
        ),
    ];
    for (body, expected) in cases {
        let text = adjoint("", &format!("fn f(a: &Matrix3<f64>) -> f64 {{ {body} }}"));
        assert_eq!(text, expected, "{body}");
    }
}

// ---- errors --------------------------------------------------------------------------------

#[test]
fn product_mismatch_names_both_shapes() {
    let message =
        error("fn f(w: &SMatrix<f64, 3, 4>, y: &SVector<f64, 3>) -> f64 { (w * y).sum() }");
    assert_eq!(
        message,
        "shape mismatch in `w * y`: `w` is 3×4 and `y` is 3×1; a product needs the left's 4 columns to match the right's 3 rows"
    );
}

#[test]
fn one_mistake_gives_one_error() {
    // `z` is poisoned by the mismatch; its later uses stay silent.
    let message = error(
        "fn f(a: &Matrix2<f64>, b: &Matrix3<f64>) -> f64 { let z = a + b; let y = z * a; (y * z).sum() }",
    );
    assert!(
        message.starts_with("shape mismatch in `a + b`"),
        "{message}"
    );
}

#[test]
fn errors_from_several_statements_are_all_reported() {
    let (_, errors) = front(
        "",
        "fn f(a: &Matrix2<f64>, b: &Matrix3<f64>) -> f64 { let z = a + b; let y = a.frobnicate(); a.trace() }",
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn an_option_opened_after_its_error_gives_one_error() {
    // Regression: `inv.unwrap()` was reported again after `let inv = x.try_inverse();`.
    let message =
        error("fn f(x: &Matrix3<f64>) -> f64 { let inv = x.try_inverse(); inv.unwrap().sum() }");
    assert!(
        message.starts_with("`.try_inverse(…)` is supported in the forms"),
        "{message}"
    );
}

#[test]
fn signature_errors() {
    let cases = [
        ("fn f(x: f64) {}", "add `-> f64`"),
        (
            "fn f(x: DMatrix<f64>) -> f64 { 0.0 }",
            "`DMatrix` has a size known only at run time",
        ),
        (
            "fn f(x: f64, y: f32) -> f64 { x }",
            "mixed float types: `y` is `f32` but the return type is `f64`",
        ),
        (
            "fn f(x: &mut Vector3<f64>) -> f64 { x.sum() }",
            "`&mut` parameters are not supported",
        ),
        (
            "fn f<const N: u8>(x: &SVector<f64, N>) -> f64 { x.sum() }",
            "const generic sizes are `usize`",
        ),
    ];
    for (src, fragment) in cases {
        let (_, errors) = front("", src);
        assert!(
            errors.iter().any(|e| e.contains(fragment)),
            "{src}: {errors:?}"
        );
    }
}

#[test]
fn wrt_errors() {
    let (_, errors) = front("wrt(z)", "fn f(x: f64, n: usize) -> f64 { x }");
    assert_eq!(
        errors,
        ["`wrt` names `z`, which is not a parameter of `f`; its parameters are `x`, `n`"]
    );
    let (_, errors) = front("wrt(n)", "fn f(x: f64, n: usize) -> f64 { x }");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("`n` is `usize`, which has no gradient"),
        "{errors:?}"
    );
}

#[test]
fn a_misspelt_local_is_one_error() {
    let message = error(
        "fn loss(x: &Vector3<f64>) -> f64 { let residual = x * 2.0; residal.norm_squared() }",
    );
    assert!(
        message.starts_with(
            "cannot find `residal` among the parameters and locals of `loss`; did you mean `residual`?"
        ),
        "{message}"
    );
    let message = error(
        "fn loss(x: &Vector3<f64>, s: f64) -> f64 { let total = x.sum(); if s > 0.0 { x.map(|v| v * totl).sum() } else { total } }",
    );
    assert!(message.contains("did you mean `total`?"), "{message}");
    // Constants of the module, and names like no local, are read as written.
    for body in [
        "x.sum() * SCALE",
        "x.sum() * weight",
        "x.sum() * convert(half)",
    ] {
        let (_, errors) = front(
            "",
            &format!("fn loss(x: &Vector3<f64>) -> f64 {{ {body} }}"),
        );
        assert!(errors.is_empty(), "{body}: {errors:?}");
    }
}

#[test]
fn a_misspelt_wrt_name_keeps_the_gradient_type_of_the_parameter_it_resembles() {
    let (result, errors) = front(
        "wrt(x, betta)",
        "fn f(alpha: f64, beta: &Vector3<f64>, x: &Matrix3<f64>, n: usize) -> f64 { alpha * x.sum() + beta.sum() }",
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(result.expect("lowered").0.wrt, [2, 1]);
}

#[test]
fn edit_distances() {
    for (a, b, d) in [
        ("betta", "beta", 1),
        ("kitten", "sitting", 3),
        ("", "abc", 3),
        ("same", "same", 0),
        ("ab", "ba", 2),
    ] {
        assert_eq!(ast::edit_distance(a, b), d, "{a} {b}");
        assert_eq!(ast::edit_distance(b, a), d, "{b} {a}");
    }
}

#[test]
fn wrt_on_a_matrix_valued_function_is_an_error() {
    let (_, errors) = front(
        "wrt(x)",
        "fn layer(w: &Matrix3<f64>, x: &Vector3<f64>) -> Vector3<f64> { w * x }",
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("gets only `layer_vjp`") && errors[0].contains("`#[jacobian]`"),
        "{errors:?}"
    );
    // Without `wrt`, a matrix-valued function is a valid helper.
    let (_, errors) = front(
        "",
        "fn layer(w: &Matrix3<f64>, x: &Vector3<f64>) -> Vector3<f64> { w * x }",
    );
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn body_errors() {
    let cases = [
        (
            "fn f(x: f64, n: usize) -> f64 { for i in 0..n {} x }",
            "bounds of the loop must be integer literals",
        ),
        (
            "fn f(x: f64) -> f64 { while true {} x }",
            "cannot differentiate through `while` loops",
        ),
        (
            "fn f(x: &Vector3<f64>) -> f64 { x.frobnicate() }",
            "does not know the method `frobnicate`",
        ),
        (
            "fn f(x: &Vector3<f64>) -> f64 { x.exp() }",
            "`exp` applies to scalars, but `x` is 3×1",
        ),
        (
            "fn f(x: &Matrix2x3<f64>) -> f64 { x.trace() }",
            "`trace` needs a square matrix, but `x` is 2×3",
        ),
        (
            "fn f(x: &Vector3<f64>) -> f64 { x[3] }",
            "index `[3]` is out of range for `x`, which is 3×1",
        ),
        (
            "fn f(x: &Vector3<f64>) -> f64 { x * 2.0 }",
            "its body evaluates to a 3×1 matrix",
        ),
        (
            "fn f(x: f64) -> f64 { 2 * x }",
            "integer literal `2` where a float is expected",
        ),
        (
            "fn f(x: &Vector3<f64>) -> f64 { let y: Vector2<f64> = x * 2.0; y.sum() }",
            "declares 2×1, but the value is 3×1",
        ),
        (
            "fn f(x: &Vector3<f64>, s: f64) -> f64 { s + x }",
            "`+` of a scalar and a matrix is not defined",
        ),
        (
            "fn f(x: &Vector3<f64>, w: &Matrix3<f64>) -> f64 { x.map(|v| v * w).sum() }",
            "may use scalars from outside, but `w` is a 3×3 matrix",
        ),
        ("fn f(x: f64) -> f64 { f(x) }", "`f` calls itself"),
        (
            "fn f(x: &Vector3<f64>) -> f64 { let mut t = 0.0; for i in 0..3 { t += x[i + 1]; } t }",
            "index `[3]` is out of range for `x`, which is 3×1",
        ),
        (
            "fn f(x: &Matrix3<f64>) -> f64 { let mut t = 0.0; for k in 0..3 { t += x[(k, k - 1)]; } t }",
            "index `[(0, -1)]` is out of range for `x`: it is negative",
        ),
        (
            "fn f(x: &Vector3<f64>, s: f64) -> f64 { x[s] }",
            "indices must be integer literals, loop counters, integer parameters, or `+ - *`",
        ),
    ];
    for (src, fragment) in cases {
        let (_, errors) = front("", src);
        assert!(
            errors.iter().any(|e| e.contains(fragment)),
            "{src}: {errors:?}"
        );
    }
}

#[test]
fn expansion_never_panics_on_odd_input() {
    let sources = [
        "struct S;",
        "fn f() {}",
        "fn f(x: f64) -> f64 { }",
        "fn f(x: f64) -> f64 { return; }",
        "fn f((a, b): (f64, f64)) -> f64 { a }",
        "fn f(x: f64) -> f64 { let (a, b) = (x, x); a }",
        "fn f(x: f64) -> f64 { x.powi(x) }",
        "fn f(x: f64) -> f64 { x.map(|v| v) }",
        "fn f(x: &Vector3<f64>) -> f64 { x.map(|a, b| a).sum() }",
        "fn f(x: &Vector3<f64>) -> f64 { x.map(1.0).sum() }",
        "fn f(x: &Vector3<f64>) -> f64 { x[(0, 0, 0)] }",
        "fn f(x: &SMatrix<f64, 0, 3>) -> f64 { x.sum() }",
        "fn f(x: &SMatrix<f64, 99999999999999999999, 3>) -> f64 { x.sum() }",
        "fn f(x: &Vector3<f64>) -> f64 { return x.sum(); x.sum() }",
        "fn f(x: f64) -> f64 { x = 1.0; x }",
        "fn f(x: f64) -> f64 { y += 1.0; x }",
    ];
    for src in sources {
        let tokens = expand::gradient(TokenStream::new(), src.parse().expect("tokens"));
        assert!(!tokens.is_empty(), "{src}");
    }
    for attr in [
        "wrt",
        "wrt(",
        "wrt(x, x)",
        "wrt = 3",
        "foo",
        "wrt(x) wrt(x)",
    ] {
        if let Ok(args) = attr.parse::<TokenStream>() {
            let tokens =
                expand::gradient(args, "fn f(x: f64) -> f64 { x }".parse().expect("tokens"));
            assert!(tokens.to_string().contains("compile_error"), "{attr}");
        }
    }
}

#[test]
fn expansion_is_deterministic() {
    let src = "fn f(a: &Matrix3<f64>, b: &Matrix3<f64>, x: &Vector3<f64>) -> f64 { (a * b * x).map(|v| v.tanh()).sum() + a.trace() }";
    let first = expand::gradient(TokenStream::new(), src.parse().expect("tokens"));
    let second = expand::gradient(TokenStream::new(), src.parse().expect("tokens"));
    assert!(tokens_equal(&first, &second));
}

// ---- expansion snapshots -------------------------------------------------------------------

#[test]
fn snapshot_least_squares() {
    snapshot(
        "least_squares",
        "",
        "pub fn ols(beta: &SVector<f64, 5>, x: &SMatrix<f64, 20, 5>, y: &SVector<f64, 20>) -> f64 {
            let r = y - x * beta;
            r.norm_squared()
        }",
    );
}

#[test]
fn snapshot_single_layer() {
    snapshot(
        "single_layer",
        "wrt(w)",
        "fn single_layer(w: &SMatrix<f64, 8, 16>, x: &SVector<f64, 16>, y: &SVector<f64, 8>) -> f64 {
            let s = (w * x).map(sigmoid);
            0.5 * (s - y).norm_squared()
        }",
    );
}

#[test]
fn snapshot_trace_quad() {
    snapshot(
        "trace_quad",
        "wrt(x)",
        "fn trace_quad(a: &Matrix4<f64>, x: &Matrix4<f64>, b: &Matrix4<f64>, c: &Matrix4<f64>) -> f64 {
            (a * x * b * x.transpose() * c).trace()
        }",
    );
}

#[test]
fn snapshot_gaussian_nll() {
    snapshot(
        "gaussian_nll",
        "wrt(mu, sigma)",
        "fn gaussian_nll(mu: &SVector<f64, 6>, sigma: &SMatrix<f64, 6, 6>, x: &SVector<f64, 6>) -> f64 {
            let r = x - mu;
            let inv = sigma.try_inverse().unwrap();
            0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(inv * r))
        }",
    );
}

/// The text of `f_vjp` in the expansion of a function `f`, up to the next companion.
fn vjp_of_f(text: &str) -> &str {
    text.split("fn f_vjp(")
        .nth(1)
        .and_then(|rest| rest.split("fn f_").next())
        .unwrap_or_default()
}

#[test]
fn scalar_adjoints_that_repeat_another_are_not_stored_again() {
    // Each sum's adjoint is the seed times 0.1 (from two literal nodes); the terms of the outer
    // sum only pass the seed on.
    let text = expansion(
        "",
        "fn f(x: &Vector3<f64>, y: &Vector3<f64>) -> f64 { x.sum() * 0.1 + y.sum() * 0.1 }",
    );
    let vjp = vjp_of_f(&text);
    let scalings: Vec<&str> = vjp
        .lines()
        .filter(|l| l.contains(": f64 = (__mg_g") && l.contains("* 0.1f64)"))
        .collect();
    assert_eq!(scalings.len(), 1, "{vjp}");
    assert_eq!(vjp.matches(": f64 = __mg_g").count(), 0, "{vjp}");
    // Both gradients read that one variable.
    let variable = scalings[0]
        .split_whitespace()
        .nth(1)
        .map(|v| v.trim_end_matches(':'))
        .unwrap_or_default();
    assert!(vjp.matches(variable).count() >= 3, "{vjp}");
}

#[test]
fn a_quadratic_form_through_a_cholesky_factor_solves_only_forward() {
    // rᵀ(LLᵀ)⁻¹r: w = L⁻¹r and α = L⁻ᵀw are solved forward; the reverse pass's L⁻¹(½r) and
    // L⁻ᵀ(½w) are ½w and ½α, read, not solved again.
    let text = expansion(
        "",
        "fn f(s: &Matrix4<f64>, r: &Vector4<f64>) -> f64 { \
         let c = s.cholesky().unwrap(); r.dot(&c.solve(r)) }",
    );
    let vjp = vjp_of_f(&text);
    assert_eq!(vjp.matches("::solve_lower(").count(), 1, "{vjp}");
    assert_eq!(vjp.matches("::tr_solve_lower(").count(), 1, "{vjp}");
    // Unless the adjoint is not a multiple of what the forward pass solved: here the solve's
    // adjoint is r + 1·(2r), a sum of two contributions.
    let text = expansion(
        "",
        "fn f(s: &Matrix4<f64>, r: &Vector4<f64>) -> f64 { \
         let c = s.cholesky().unwrap(); let z = c.solve(r); r.dot(&z) + z.norm_squared() }",
    );
    let vjp = vjp_of_f(&text);
    assert_eq!(vjp.matches("::solve_lower(").count(), 2, "{vjp}");
    assert_eq!(vjp.matches("::tr_solve_lower(").count(), 2, "{vjp}");
}

#[test]
fn an_inverse_and_a_determinant_share_one_factorisation() {
    // `Inverted` factors by Cholesky when the matrix is symmetric positive definite, else by LU.
    let text = expansion(
        "",
        "fn f(s: &Matrix4<f64>) -> f64 { s.determinant().ln() + s.try_inverse().unwrap().sum() }",
    );
    // The gradient is `_vjp`'s program (`_grad` calls it).
    let grad = vjp_of_f(&text);
    assert!(text.contains("f_vjp(s, 1.0)"), "{text}");
    assert_eq!(grad.matches("Inverted::new(").count(), 1, "{text}");
    assert!(
        text.contains(".try_inverse().unwrap()") && text.contains(".determinant()"),
        "{text}"
    );
}

#[test]
fn snapshot_mlp2() {
    snapshot(
        "mlp2",
        "wrt(w1, b1, w2, b2)",
        "fn mlp2(w1: &SMatrix<f64, 32, 16>, b1: &SVector<f64, 32>, w2: &SMatrix<f64, 4, 32>, b2: &SVector<f64, 4>,
                 x: &SVector<f64, 16>, y: &SVector<f64, 4>) -> f64 {
            let h = (w1 * x + b1).map(f64::tanh);
            0.5 * (w2 * h + b2 - y).norm_squared()
        }",
    );
}

#[test]
fn snapshot_map_with_capture() {
    snapshot(
        "map_with_capture",
        "",
        "fn scaled_exp(w: &Vector3<f64>, s: f64) -> f64 {
            w.map(|v| (v * s).exp()).sum()
        }",
    );
}

// ---- derivations ---------------------------------------------------------------------------

fn derive(attr: &str, src: &str) -> String {
    let (result, errors) = front(attr, src);
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    let (func, prog) = result.expect("lowered");
    let adj = diff::differentiate(&prog, &func.wrt);
    let params: Vec<(usize, String)> = func
        .wrt
        .iter()
        .map(|&k| (k, func.params[k].name.to_string()))
        .collect();
    crate::derivation::derivation(&prog, &adj, &params)
        .lines
        .join("\n")
}

#[test]
fn derivation_of_least_squares() {
    let text = derive(
        "wrt(beta)",
        "fn f(beta: &SVector<f64, 5>, x: &SMatrix<f64, 20, 5>, y: &SVector<f64, 20>) -> f64 {
        let r = y - x * beta;
        r.norm_squared()
    }",
    );
    assert_eq!(text, "∇beta = −2·xᵀ·r\n\nwhere\nr = y − x·beta");
}

#[test]
fn derivation_of_the_logistic_layer() {
    let text = derive(
        "wrt(w)",
        "fn f(w: &SMatrix<f64, 3, 4>, x: &SVector<f64, 4>, y: &SVector<f64, 3>) -> f64 {
        let s = (w * x).map(sigmoid);
        0.5 * (s - y).norm_squared()
    }",
    );
    assert_eq!(
        text,
        "∇w = ((s − y) ∘ sigmoid′(w·x))·xᵀ\n\nwhere\ns = (w·x).map(sigmoid)"
    );
}

#[test]
fn derivation_of_a_quadratic_form() {
    let text = derive(
        "wrt(x)",
        "fn f(x: &Vector3<f64>, a: &Matrix3<f64>) -> f64 { (x.transpose() * a * x)[(0, 0)] }",
    );
    assert_eq!(text, "∇x = aᵀ·x + a·x");
}

#[test]
fn derivation_of_a_trace_identity() {
    // (106): ∂ tr(X²) = 2Xᵀ, as the sum of the two uses of X.
    let text = derive("", "fn f(x: &Matrix3<f64>) -> f64 { (x * x).trace() }");
    assert_eq!(text, "∇x = 2·xᵀ");
}

#[test]
fn derivation_of_gradients_with_respect_to_several_parameters() {
    let text = derive(
        "",
        "fn f(a: &Vector3<f64>, b: &Vector3<f64>, s: f64) -> f64 { s * a.dot(&b) }",
    );
    assert_eq!(text, "∇a = s·b\n∇b = s·a\n∇s = ⟨a, b⟩");
}

// ---- simplification ------------------------------------------------------------------------

/// A product tree with its parentheses, for checking association.
fn tree(e: &crate::adjoint::AExpr) -> String {
    use crate::adjoint::AExpr;
    match e {
        AExpr::MatMul(a, b) => format!("({} {})", tree(a), tree(b)),
        AExpr::Transpose(a) => format!("{}'", tree(a)),
        AExpr::Neg(a) => format!("-{}", tree(a)),
        AExpr::Scale(a, s) => format!("[{} * {s}]", tree(a)),
        other => other.to_string(),
    }
}

fn simplified(src: &str, build: impl Fn() -> crate::adjoint::AExpr) -> String {
    let (result, errors) = front("", src);
    assert!(errors.is_empty(), "{errors:?}");
    let (func, prog) = result.expect("lowered");
    let adj = diff::differentiate(&prog, &func.wrt);
    tree(&crate::simplify::simplify(&prog, &adj, build()))
}

#[test]
fn products_are_reassociated_in_chain_order() {
    use crate::adjoint::AExpr::{MatMul, Transpose, Val};
    let src = "fn f(a: &Matrix6<f64>, u: &Vector6<f64>, v: &Vector6<f64>, b: &Matrix6<f64>) -> f64 { a.sum() }";
    // (A·u)·vᵀ·B as written costs 36 + 36 + 216; (A·u)·(vᵀ·B) costs 36 + 36 + 36.
    let text = simplified(src, || {
        MatMul(
            Box::new(MatMul(
                Box::new(MatMul(Box::new(Val(0)), Box::new(Val(1)))),
                Box::new(Transpose(Box::new(Val(2)))),
            )),
            Box::new(Val(3)),
        )
    });
    assert_eq!(text, "((v0 v1) (v2' v3))");
}

#[test]
fn products_with_identity_become_scalings() {
    use crate::adjoint::AExpr::{Diag, Lit, MatMul, Transpose, Val};
    let src = "fn f(a: &Matrix3<f64>) -> f64 { a.sum() }";
    let text = simplified(src, || {
        MatMul(
            Box::new(Diag(Box::new(Lit("2.0".into())), crate::ir::Dim::Lit(3))),
            Box::new(Transpose(Box::new(Val(0)))),
        )
    });
    assert_eq!(text, "[v0' * 2.0]");
}

#[test]
fn signs_leave_products_and_transposes_reach_leaves() {
    use crate::adjoint::AExpr::{MatMul, Neg, Transpose, Val};
    let src = "fn f(a: &Matrix3<f64>, b: &Matrix3<f64>) -> f64 { a.sum() }";
    let text = simplified(src, || {
        Transpose(Box::new(MatMul(
            Box::new(Neg(Box::new(Val(0)))),
            Box::new(Val(1)),
        )))
    });
    assert_eq!(text, "-(v1' v0')");
}

#[test]
fn a_trace_of_a_product_does_not_form_the_product() {
    let text = expansion(
        "",
        "fn f(a: &Matrix3<f64>, b: &Matrix3<f64>) -> f64 { (a * b).trace() }",
    );
    assert!(text.contains("a.tr_dot(b)"), "{text}");
    assert!(!text.contains("from_diagonal_element"), "{text}");
}

#[test]
fn an_outer_product_adjoint_is_not_stored() {
    // ∇A of uᵀ·A⁻¹·u: the adjoint of A⁻¹ is the outer product of two vectors, so the inverse's
    // rule multiplies vectors (A⁻ᵀ·u, then …), never 3×3 by 3×3 twice.
    let text = expansion(
        "wrt(a)",
        "fn f(a: &Matrix3<f64>, u: &Vector3<f64>) -> f64 { u.dot(&(a.try_inverse().unwrap() * u)) }",
    );
    assert!(
        !text.contains("let __mg_g2"),
        "the adjoint of the inverse is stored:\n{text}"
    );
    // uᵀ·A⁻ᵀ is (A⁻¹·u)ᵀ, which the forward pass already has: the row of the outer product.
    let flat: String = text.split_whitespace().collect();
    assert!(
        flat.contains("outer(&(__mg_v2.tr_mul(u)),&__mg_v3,)"),
        "{text}"
    );
}

/// The snapshot of a `#[jacobian]` expansion.
#[track_caller]
fn jacobian_snapshot(name: &str, attr: &str, src: &str) {
    let tokens = expand::jacobian(
        attr.parse().expect("attribute"),
        src.parse().expect("source"),
    );
    let file: syn::File = syn::parse2(tokens).expect("expansion parses as items");
    let actual = prettyplease::unparse(&file);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("snapshots")
        .join(format!("{name}.rs"));
    if std::env::var_os("MATGRAD_BLESS").is_some() {
        std::fs::write(&path, &actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "expansion of `{name}` changed; rerun with MATGRAD_BLESS=1 and review the diff\n{actual}"
    );
}

#[test]
fn snapshot_jacobian_of_a_curve_fit() {
    // Each parameter entry is read by one index: its column touches only what depends on it.
    jacobian_snapshot(
        "jacobian_decay",
        "wrt(p)",
        "pub fn residuals(p: &SVector<f64, 3>, t: &SVector<f64, 20>, y: &SVector<f64, 20>) -> SVector<f64, 20> {
            let a = p[0];
            let b = p[1];
            let c = p[2];
            y - t.map(|ti| a * (-b * ti).exp() + c)
        }",
    );
}

#[test]
fn derivation_of_a_running_maximum_defines_every_version() {
    // Once the first version's definition `m = z[(0, 0)]` stood for a later one, and the
    // closed form read `t0.1`, a shared tuple of the adjoint program defined nowhere.
    let text = derive(
        "",
        "fn f(z: &Vector3<f64>, a: f64) -> f64 {
            let mut m = z[0];
            for i in 1..3 { if z[i] > m { m = z[i]; } }
            m * a
        }",
    );
    assert!(text.starts_with("the adjoint program"), "{text}");
    assert!(text.contains("\nt0 = ∂if(z[2] > m₁; "), "{text}");
    let definitions = text.split("\nwhere\n").nth(1).expect("a where list");
    assert_eq!(
        definitions,
        "m = z[0]\nm₁ = z[1] if z[1] > m else m\nm₂ = z[2] if z[2] > m₁ else m₁"
    );
}

#[test]
fn derivation_of_a_log_determinant_cancels_the_determinant() {
    // Was `1/det(s)·det(s)·s⁻ᵀ`.
    let text = derive("", "fn f(s: &Matrix3<f64>) -> f64 { s.determinant().ln() }");
    assert_eq!(text, "∇s = s⁻ᵀ");
}

#[test]
fn derivation_of_powers_writes_superscripts() {
    // Was `2·2·(a·a)^(((2) - 1))·a + 3·a^(((3) - 1))`.
    let text = derive("", "fn f(a: f64) -> f64 { a.powi(3) + (a * a).powi(2) }");
    assert_eq!(text, "∇a = 4·a³ + 3·a²");
}

#[test]
fn derivation_of_cancelling_terms_is_zero() {
    // Was `∇x = −y + y`.
    let text = derive(
        "",
        "fn f(x: &Vector3<f64>, y: &Vector3<f64>) -> f64 {
            (x.transpose() * y)[(0, 0)] - (y.transpose() * x)[(0, 0)]
        }",
    );
    assert_eq!(text, "∇x = 0\n∇y = 0");
}

#[test]
fn derivation_of_a_loop_names_versions_by_subscript() {
    // Was `y′′′·y′′·y′·y`, each version one prime longer.
    let text = derive(
        "",
        "fn f(x: f64) -> f64 { let mut y = x; for _ in 0..5 { y = y * y - x; } y }",
    );
    assert_eq!(
        text,
        "∇x = −1 − 2·y₃ − 4·y₃·y₂ − 8·y₃·y₂·y₁ − 16·y₃·y₂·y₁·y + 32·y₃·y₂·y₁·y·x\n\nwhere\n\
         y = x² − x\ny₁ = y² − x\ny₂ = y₁² − x\ny₃ = y₂² − x"
    );
}

#[test]
fn derivation_of_a_map_writes_its_closure_as_mathematics() {
    // Was `(v ↦ (v * s).tanh())′(w·x)`, the closure's Rust source.
    let text = derive(
        "",
        "fn f(w: &SMatrix<f64, 4, 3>, x: &Vector3<f64>, s: f64) -> f64 {
            (w * x).map(|v| (v * s).tanh()).sum()
        }",
    );
    assert_eq!(
        text,
        "∇w = (v ↦ tanh(v·s))′(w·x)·xᵀ\n∇x = wᵀ·(v ↦ tanh(v·s))′(w·x)\n∇s = Σ(∂(v ↦ tanh(v·s))/∂s)"
    );
}

/// Prints the expansion of every `#[gradient]`/`#[jacobian]`/`#[hessian]` function of the file named by
/// `MATGRAD_EXPAND` (stable Rust has no `cargo expand`):
/// `MATGRAD_EXPAND=benches/jacobian_reference/mod.rs cargo test -p matgrad-macros -- --ignored
/// --nocapture print_expansions`.
#[test]
#[ignore = "a tool: prints the expansions of the file named by MATGRAD_EXPAND"]
fn print_expansions() {
    let Some(path) = std::env::var_os("MATGRAD_EXPAND") else {
        println!("set MATGRAD_EXPAND to a Rust source file");
        return;
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    let text = std::fs::read_to_string(&path).expect("MATGRAD_EXPAND names a readable file");
    let file = syn::parse_file(&text).expect("the file parses");
    for item in file.items {
        let syn::Item::Fn(mut func) = item else {
            continue;
        };
        let Some(at) = func.attrs.iter().position(|a| {
            ["gradient", "jacobian", "hessian"]
                .iter()
                .any(|name| a.path().is_ident(name))
        }) else {
            continue;
        };
        let attr = func.attrs.remove(at);
        let args = match &attr.meta {
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::Path(_) | syn::Meta::NameValue(_) => TokenStream::new(),
        };
        let source = quote::quote!(#func);
        let tokens = if attr.path().is_ident("gradient") {
            expand::gradient(args, source)
        } else if attr.path().is_ident("jacobian") {
            expand::jacobian(args, source)
        } else {
            expand::hessian(args, source)
        };
        let file: syn::File = syn::parse2(tokens).expect("expansion parses as items");
        println!("{}", prettyplease::unparse(&file));
    }
}

#[test]
fn a_repeated_expression_is_computed_once() {
    let src = "fn f(w: &SMatrix<f64, 4, 3>, x: &Vector3<f64>) -> f64 { (w * x).norm_squared() + (w * x).map(f64::tanh).sum() * 0.5 + 0.5 }";
    let out = expansion("wrt(w)", src);
    let grad = &out[out.find("fn f_grad").expect("a gradient")..];
    let grad = &grad[..grad.find("fn f_vjp").expect("a vjp after it")];
    assert_eq!(grad.matches("w * x").count(), 1, "{grad}");
}

#[test]
fn a_product_two_rules_need_is_computed_once() {
    // The inverse's rule and the product's both need A⁻ᵀ·r: one `tr_mul`, no `gemm_tr`.
    let text = expansion(
        "",
        "fn f(a: &Matrix4<f64>, r: &Vector4<f64>) -> f64 { r.dot(&(a.try_inverse().unwrap() * r)) }",
    );
    let grad = vjp_of_f(&text);
    assert_eq!(grad.matches(".tr_mul(").count(), 1, "{grad}");
    assert!(!grad.contains("gemm_tr"), "{grad}");
}
