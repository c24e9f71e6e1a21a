//! Tests of the interpreter: values of programs written as source against the same expressions
//! in nalgebra, and dual-number gradients and Jacobians against closed forms.
#![allow(
    clippy::float_cmp,
    reason = "exact results (a zero determinant, saturated helpers) are compared exactly"
)]

use nalgebra::{Matrix2, Matrix3, SMatrix, Vector2, Vector3};

use super::{
    Constants, Dual, Env, Function, Mat, Num, Registry, Value, compile, gradient, jacobian, run,
};
use crate::ir::Op;

/// A deterministic source of well-spread test numbers (a Weyl sequence scrambled by
/// multiplication), so every run sees the same inputs.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (self.0 ^ (self.0 >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = z ^ (z >> 32);
        // Uniform on [−1, 1).
        (z >> 11) as f64 / (1_u64 << 52) as f64 - 1.0
    }

    fn matrix<const R: usize, const C: usize>(&mut self) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|_, _| self.next())
    }

    /// A matrix near the identity times 2: well conditioned, with a positive determinant.
    fn regular<const N: usize>(&mut self) -> SMatrix<f64, N, N> {
        SMatrix::<f64, N, N>::identity() * 2.0 + self.matrix::<N, N>() * 0.3
    }
}

fn value<const R: usize, const C: usize>(m: &SMatrix<f64, R, C>) -> Value<f64> {
    Value::Matrix(Mat {
        rows: R,
        cols: C,
        data: m.as_slice().to_vec(),
    })
}

fn scalar(v: &Value<f64>) -> f64 {
    match v {
        Value::Scalar(s) => *s,
        other => panic!("expected a scalar, got {other:?}"),
    }
}

/// The entries of a value, in vec order.
fn entries(v: &Value<f64>) -> Vec<f64> {
    v.entries().expect("a scalar or a matrix")
}

#[track_caller]
fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance * (1.0 + e.abs()),
            "entry {k}: {a} vs {e}\nactual {actual:?}\nexpected {expected:?}"
        );
    }
}

fn program(src: &str) -> crate::ir::Program {
    compile("", src).unwrap_or_else(|e| panic!("{src}: {e}")).1
}

/// The value of the one-function source `src` on `inputs`.
fn eval(src: &str, inputs: &[Value<f64>]) -> Value<f64> {
    run(&program(src), inputs, &Env::default()).unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// The value and gradients of `src` with respect to every input.
fn grad(src: &str, inputs: &[Value<f64>]) -> (f64, Vec<Vec<f64>>) {
    let wrt: Vec<usize> = (0..inputs.len()).collect();
    let (v, g) =
        gradient(&program(src), inputs, &wrt, &Env::default()).unwrap_or_else(|e| panic!("{e}"));
    (scalar(&v), g.iter().map(entries).collect())
}

// ---- values against nalgebra ----------------------------------------------------------------

#[test]
fn values_of_matrix_expressions_match_nalgebra() {
    let mut r = Numbers(1);
    let (a, b) = (r.regular::<3>(), r.matrix::<3, 3>());
    let x: Vector3<f64> = r.matrix();
    let inputs = [value(&a), value(&b), value(&x)];
    let sig = "fn f(a: &Matrix3<f64>, b: &Matrix3<f64>, x: &Vector3<f64>) -> f64";
    let inv = a.try_inverse().expect("regular");
    let cases: Vec<(&str, f64)> = vec![
        ("(a * b.transpose()).trace()", (a * b.transpose()).trace()),
        ("a.sum() + b.mean()", a.sum() + b.mean()),
        ("a.dot(&b) - x.norm()", a.dot(&b) - x.norm()),
        (
            "a.component_mul(&b).norm_squared()",
            a.component_mul(&b).norm_squared(),
        ),
        ("b.component_div(&a)[(1, 2)]", b.component_div(&a)[(1, 2)]),
        (
            "a.map(|v| v.exp() - v.sin()).sum()",
            a.map(|v| v.exp() - v.sin()).sum(),
        ),
        (
            "a.try_inverse().unwrap()[(0, 1)] + x[2]",
            inv[(0, 1)] + x[2],
        ),
        ("a.determinant() / 2.0", a.determinant() / 2.0),
        (
            "a.lu().solve(&x).unwrap().sum()",
            a.lu().solve(&x).expect("regular").sum(),
        ),
        ("a.kronecker(&b)[(4, 7)]", a.kronecker(&b)[(4, 7)]),
        ("a.pow(3).trace() + b.pow(0).sum()", a.pow(3).trace() + 3.0),
        (
            "(x.transpose() * a * x)[(0, 0)] * -1.5",
            (x.transpose() * a * x)[(0, 0)] * -1.5,
        ),
    ];
    for (body, expected) in cases {
        let src = format!("{sig} {{ {body} }}");
        let actual = scalar(&eval(&src, &inputs));
        assert_close(&[actual], &[expected], 1e-12);
    }
}

#[test]
fn scalar_functions_match_std_and_the_runtime_helpers() {
    let src = "fn f(x: f64) -> f64 { x.exp() + x.ln() * x.ln_1p() - x.sqrt() + x.cos() * x.tanh() \
               + (-x).abs() + x.powi(3) + x.powf(0.7) + sigmoid(x) + matgrad::softplus(-x) }";
    for x in [0.3_f64, 1.7, 25.0] {
        let sigmoid = 1.0 / (1.0 + (-x).exp());
        let softplus = (-x).exp().ln_1p();
        let expected = x.exp() + x.ln() * x.ln_1p() - x.sqrt()
            + x.cos() * x.tanh()
            + x.abs()
            + x.powi(3)
            + x.powf(0.7)
            + sigmoid
            + softplus;
        assert_close(
            &[scalar(&eval(src, &[Value::Scalar(x)]))],
            &[expected],
            1e-13,
        );
    }
}

#[test]
fn the_stable_helpers_saturate_as_the_runtime_does() {
    assert_eq!(1000.0_f64.sigmoid(), 1.0);
    assert_eq!((-1000.0_f64).sigmoid(), 0.0);
    assert_eq!(1000.0_f64.softplus(), 1000.0);
    let tiny = (-100.0_f64).softplus();
    assert_close(&[tiny], &[(-100.0_f64).exp()], 1e-14);
}

#[test]
fn a_matrix_result_matches_nalgebra() {
    let mut r = Numbers(2);
    let (a, b) = (r.regular::<3>(), r.matrix::<3, 3>());
    let src = "fn f(a: &Matrix3<f64>, b: &Matrix3<f64>) -> Matrix3<f64> { a.try_inverse().unwrap() * b - b.transpose() * 2.0 }";
    let expected = a.try_inverse().expect("regular") * b - b.transpose() * 2.0;
    let actual = eval(src, &[value(&a), value(&b)]);
    assert_close(&entries(&actual), expected.as_slice(), 1e-12);
}

#[test]
fn constants_read_literals_standard_names_and_integer_parameters() {
    let src = "fn f(x: f64, n: i32, k: &usize, b: bool) -> f64 {
        let c = if b { 2f64 } else { 1e-1_f64 };
        x.powi(n + 1) * (n as f64) + std::f64::consts::PI * c + f64::EPSILON + (*k as f64)
    }";
    let prog = program(src);
    let inputs = [
        Value::Scalar(1.5),
        Value::Constant,
        Value::Constant,
        Value::Constant,
    ];
    for (n, k, b) in [(2_i64, 7_i64, true), (-3, 0, false)] {
        let env = Env::default().int("n", n).int("k", k).flag("b", b);
        let c = if b { 2.0 } else { 0.1 };
        let n32 = i32::try_from(n).expect("small");
        let expected =
            1.5_f64.powi(n32 + 1) * n as f64 + std::f64::consts::PI * c + f64::EPSILON + k as f64;
        let actual = scalar(&run(&prog, &inputs, &env).expect("runs"));
        assert_close(&[actual], &[expected], 1e-15);
    }
}

#[test]
fn a_module_constant_is_read_from_the_environment() {
    let prog = program("fn f(x: f64) -> f64 { x * SCALE }");
    let env = Env::default().float("SCALE", 2.5);
    let actual = run(&prog, &[Value::Scalar(3.0)], &env).expect("runs");
    assert_eq!(actual, Value::Scalar(7.5));
    assert!(run(&prog, &[Value::Scalar(3.0)], &Env::default()).is_err());
}

#[test]
fn a_matrix_power_reads_an_integer_parameter() {
    let mut r = Numbers(3);
    let a = r.matrix::<2, 2>();
    let prog = program("fn f(a: &Matrix2<f64>, k: u32) -> f64 { a.pow(k).sum() }");
    for k in [0, 1, 2, 3, 6, 13] {
        let env = Env::default().int("k", i64::from(k));
        let actual = run(&prog, &[value(&a), Value::Constant], &env).expect("runs");
        assert_close(&[scalar(&actual)], &[a.pow(k).sum()], 1e-13);
    }
}

#[test]
fn failures_are_errors_that_say_what_failed() {
    let singular = Matrix2::new(1.0, 2.0, 2.0, 4.0);
    let inverse = "fn f(a: &Matrix2<f64>) -> f64 { a.try_inverse().expect(\"invertible\").sum() }";
    let error = run(&program(inverse), &[value(&singular)], &Env::default()).expect_err("singular");
    assert!(
        error.contains("singular") && error.contains("expect"),
        "{error}"
    );
    let solve =
        "fn f(a: &Matrix2<f64>, b: &Vector2<f64>) -> f64 { a.lu().solve(&b).unwrap().sum() }";
    let inputs = [value(&singular), value(&Vector2::new(1.0, 1.0))];
    let error = run(&program(solve), &inputs, &Env::default()).expect_err("singular");
    assert!(
        error.contains("singular") && error.contains("unwrap"),
        "{error}"
    );
    let unknown = "fn f(x: f64) -> f64 { x * table_entry(0.5) }";
    let error = run(&program(unknown), &[Value::Scalar(1.0)], &Env::default()).expect_err("opaque");
    assert!(error.contains("cannot evaluate"), "{error}");
    let missing = "fn f(x: f64, n: i32) -> f64 { x.powi(n) }";
    let inputs = [Value::Scalar(1.0), Value::Constant];
    let error = run(&program(missing), &inputs, &Env::default()).expect_err("no `n`");
    assert!(error.contains("integer"), "{error}");
    let call = "fn f(x: f64) -> f64 { g(x) }";
    let error = run(&program(call), &[Value::Scalar(1.0)], &Env::default()).expect_err("no `g`");
    assert!(error.contains("no function `g`"), "{error}");
}

#[test]
fn factorisations_that_pivot_match_nalgebra() {
    // Unstructured matrices: partial pivoting swaps rows, which flips the determinant's sign.
    let mut r = Numbers(4);
    for _ in 0..5 {
        let (a, b) = (r.matrix::<5, 5>(), r.matrix::<5, 2>());
        let inputs = [value(&a), value(&b)];
        let sig = "fn f(a: &SMatrix<f64, 5, 5>, b: &SMatrix<f64, 5, 2>) -> f64";
        let det = eval(&format!("{sig} {{ a.determinant() }}"), &inputs);
        assert_close(&[scalar(&det)], &[a.determinant()], 1e-12);
        let inv = eval(
            &format!("{sig} {{ a.try_inverse().unwrap()[(3, 1)] }}"),
            &inputs,
        );
        let expected = a.try_inverse().expect("regular");
        assert_close(&[scalar(&inv)], &[expected[(3, 1)]], 1e-10);
        let x = eval(
            &format!("{sig} {{ a.lu().solve(&b).unwrap()[(4, 1)] }}"),
            &inputs,
        );
        assert_close(&[scalar(&x)], &[(expected * b)[(4, 1)]], 1e-10);
    }
}

#[test]
fn gradient_of_a_determinant_that_pivots_is_det_times_inverse_transpose() {
    let a = Numbers(5).matrix::<4, 4>();
    let (v, g) = grad(
        "fn f(a: &Matrix4<f64>) -> f64 { a.determinant() }",
        &[value(&a)],
    );
    assert_close(&[v], &[a.determinant()], 1e-12);
    let expected = a.try_inverse().expect("regular").transpose() * a.determinant();
    assert_close(&g[0], expected.as_slice(), 1e-11);
}

#[test]
fn a_vector_index_left_unresolved_reads_the_vector_s_entry() {
    let column: Mat<f64> = Mat::from_column_major(3, 1, vec![1.0, 2.0, 3.0]).expect("3×1");
    let row: Mat<f64> = Mat::from_column_major(1, 3, vec![4.0, 5.0, 6.0]).expect("1×3");
    assert_eq!(super::index(&column, 1, usize::MAX), Ok(Value::Scalar(2.0)));
    assert_eq!(super::index(&row, 2, usize::MAX), Ok(Value::Scalar(6.0)));
    let square: Mat<f64> = Mat::identity(2);
    assert!(super::index(&square, 0, usize::MAX).is_err());
    assert!(super::index(&column, 3, usize::MAX).is_err());
}

#[test]
fn an_out_of_range_index_is_an_error() {
    let m: Mat<f64> = Mat::from_column_major(2, 2, vec![1.0, 2.0, 3.0, 4.0]).expect("2×2");
    assert!(m.get(2, 0).is_err() && m.get(0, 2).is_err());
    assert_eq!(m.get(1, 0), Ok(2.0));
    assert_eq!(m.get(0, 1), Ok(3.0));
}

#[test]
fn constants_outside_the_lowered_forms_are_errors() {
    let constants = Constants::default();
    for text in [
        "T::one()",
        "x + 1.0",
        "\"s\"",
        "n",
        "std::f64::consts::NOPE",
        "foo::PI",
    ] {
        let tokens: proc_macro2::TokenStream = text.parse().expect("tokens");
        assert!(constants.float(&tokens).is_err(), "{text}");
    }
    let big: proc_macro2::TokenStream = "(9223372036854775807 + 1)".parse().expect("tokens");
    assert!(constants.int(&big).is_err());
    let f32_eps: proc_macro2::TokenStream = "f32::EPSILON".parse().expect("tokens");
    assert_eq!(constants.float(&f32_eps), Ok(f64::from(f32::EPSILON)));
}

// ---- dual numbers ---------------------------------------------------------------------------

/// A scalar function on dual numbers.
type Unary = fn(Dual) -> Dual;

/// d/dx of `f` at `x` on one dual number.
fn derivative(f: impl Fn(Dual) -> Dual, x: f64) -> f64 {
    f(Dual::new(x, 1.0)).eps
}

#[test]
fn dual_derivatives_of_scalar_functions_are_the_closed_forms() {
    let x = 0.6_f64;
    let s = 1.0 / (1.0 + (-x).exp());
    let cases: [(&str, Unary, f64); 12] = [
        ("exp", Num::exp, x.exp()),
        ("ln", Num::ln, 1.0 / x),
        ("ln_1p", Num::ln_1p, 1.0 / (1.0 + x)),
        ("sqrt", Num::sqrt, 0.5 / x.sqrt()),
        ("sin", Num::sin, x.cos()),
        ("cos", Num::cos, -x.sin()),
        ("tanh", Num::tanh, 1.0 / x.cosh().powi(2)),
        ("abs of −x", |d| (-d).abs(), 1.0),
        ("sigmoid", Num::sigmoid, s * (1.0 - s)),
        ("softplus", Num::softplus, s),
        ("powi 3", |d| d.powi(3), 3.0 * x * x),
        ("1/x", |d| Dual::constant(1.0) / d, -1.0 / (x * x)),
    ];
    for (name, f, expected) in cases {
        let actual = derivative(f, x);
        assert!(
            (actual - expected).abs() <= 1e-14 * (1.0 + expected.abs()),
            "{name}: {actual} vs {expected}"
        );
    }
    // Below zero, |x| goes down and softplus uses its other branch.
    assert_eq!(derivative(Num::abs, -x), -1.0);
    assert_close(&[derivative(Num::softplus, -x)], &[1.0 - s], 1e-14);
}

#[test]
fn powf_differentiates_base_and_exponent() {
    let (x, p) = (1.7_f64, 0.8_f64);
    let base = Dual::new(x, 1.0).powf(Dual::constant(p)).eps;
    let exponent = Dual::constant(x).powf(Dual::new(p, 1.0)).eps;
    assert_close(
        &[base, exponent],
        &[p * x.powf(p - 1.0), x.powf(p) * x.ln()],
        1e-14,
    );
    // A zero base with a constant exponent has no 0·ln 0 term.
    assert_eq!(Dual::new(0.0, 1.0).powf(Dual::constant(2.0)).eps, 0.0);
}

// ---- gradients against closed forms ---------------------------------------------------------

#[test]
fn ols_gradient_is_minus_two_xt_residual() {
    let mut r = Numbers(10);
    let beta: SMatrix<f64, 3, 1> = r.matrix();
    let x: SMatrix<f64, 6, 3> = r.matrix();
    let y: SMatrix<f64, 6, 1> = r.matrix();
    let src = "fn ols(beta: &SVector<f64, 3>, x: &SMatrix<f64, 6, 3>, y: &SVector<f64, 6>) -> f64 {
        let r = y - x * beta;
        r.norm_squared()
    }";
    let (v, g) = grad(src, &[value(&beta), value(&x), value(&y)]);
    let residual = y - x * beta;
    assert_close(&[v], &[residual.norm_squared()], 1e-13);
    assert_close(&g[0], (x.transpose() * residual * -2.0).as_slice(), 1e-12);
    assert_close(
        &g[1],
        (residual * beta.transpose() * -2.0).as_slice(),
        1e-12,
    );
    assert_close(&g[2], (residual * 2.0).as_slice(), 1e-12);
}

#[test]
fn gradient_of_trace_axb_is_at_bt() {
    let mut r = Numbers(11);
    let (a, x, b) = (r.matrix::<2, 3>(), r.matrix::<3, 4>(), r.matrix::<4, 2>());
    let src =
        "fn f(a: &SMatrix<f64, 2, 3>, x: &SMatrix<f64, 3, 4>, b: &SMatrix<f64, 4, 2>) -> f64 {
        (a * x * b).trace()
    }";
    let (v, g) = grad(src, &[value(&a), value(&x), value(&b)]);
    assert_close(&[v], &[(a * x * b).trace()], 1e-13);
    assert_close(&g[1], (a.transpose() * b.transpose()).as_slice(), 1e-13);
    assert_close(&g[0], (x * b).transpose().as_slice(), 1e-13);
}

#[test]
fn gradient_of_ln_det_is_the_inverse_transpose() {
    let x = Numbers(12).regular::<4>();
    let (v, g) = grad(
        "fn f(x: &Matrix4<f64>) -> f64 { x.determinant().ln() }",
        &[value(&x)],
    );
    let inverse = x.try_inverse().expect("regular");
    assert_close(&[v], &[x.determinant().ln()], 1e-13);
    assert_close(&g[0], inverse.transpose().as_slice(), 1e-12);
}

#[test]
fn gradient_of_a_singular_determinant_is_the_adjugate_transpose() {
    // det A = 0, but d det A = tr(adj(A) dA) does not vanish: ∇ = adj(A)ᵀ.
    let a = Matrix2::new(1.0, 2.0, 2.0, 4.0);
    let (v, g) = grad(
        "fn f(a: &Matrix2<f64>) -> f64 { a.determinant() }",
        &[value(&a)],
    );
    assert_eq!(v, 0.0);
    assert_close(&g[0], Matrix2::new(4.0, -2.0, -2.0, 1.0).as_slice(), 1e-15);
}

#[test]
fn gradient_of_a_quadratic_form_in_the_inverse() {
    let mut r = Numbers(13);
    let (a, x) = (r.regular::<3>(), r.matrix::<3, 1>());
    let src = "fn f(x: &Vector3<f64>, a: &Matrix3<f64>) -> f64 {
        (x.transpose() * a.try_inverse().unwrap() * x)[(0, 0)]
    }";
    let (v, g) = grad(src, &[value(&x), value(&a)]);
    let inv = a.try_inverse().expect("regular");
    assert_close(&[v], &[(x.transpose() * inv * x)[(0, 0)]], 1e-13);
    // ∇x = (A⁻¹ + A⁻ᵀ)x, ∇A = −A⁻ᵀxxᵀA⁻ᵀ
    assert_close(&g[0], ((inv + inv.transpose()) * x).as_slice(), 1e-12);
    let expected = -(inv.transpose() * x * x.transpose() * inv.transpose());
    assert_close(&g[1], expected.as_slice(), 1e-12);
}

#[test]
fn gradient_of_a_sigmoid_layer_loss() {
    let mut r = Numbers(14);
    let (w, x, y) = (r.matrix::<3, 4>(), r.matrix::<4, 1>(), r.matrix::<3, 1>());
    let src = "fn f(w: &SMatrix<f64, 3, 4>, x: &SVector<f64, 4>, y: &SVector<f64, 3>) -> f64 {
        ((w * x).map(sigmoid) - y).norm_squared()
    }";
    let (v, g) = grad(src, &[value(&w), value(&x), value(&y)]);
    let s = (w * x).map(|z| 1.0 / (1.0 + (-z).exp()));
    assert_close(&[v], &[(s - y).norm_squared()], 1e-13);
    // ∇W = 2((s − y) ∘ s ∘ (1 − s)) xᵀ
    let delta = (s - y).component_mul(&s.map(|v| v * (1.0 - v))) * 2.0;
    assert_close(&g[0], (delta * x.transpose()).as_slice(), 1e-13);
    assert_close(&g[1], (w.transpose() * delta).as_slice(), 1e-13);
}

#[test]
fn gradient_of_the_kronecker_trace_identity() {
    // tr(A⊗B) = tr A · tr B ⇒ ∇A = tr B · I, ∇B = tr A · I
    let mut r = Numbers(15);
    let (a, b) = (r.matrix::<2, 2>(), r.matrix::<3, 3>());
    let src = "fn f(a: &Matrix2<f64>, b: &Matrix3<f64>) -> f64 { a.kronecker(&b).trace() }";
    let (v, g) = grad(src, &[value(&a), value(&b)]);
    assert_close(&[v], &[a.trace() * b.trace()], 1e-13);
    assert_close(&g[0], (Matrix2::identity() * b.trace()).as_slice(), 1e-13);
    assert_close(&g[1], (Matrix3::identity() * a.trace()).as_slice(), 1e-13);
}

#[test]
fn gradient_of_powf_in_base_and_exponent() {
    let src = "fn f(x: f64, p: f64) -> f64 { (x * 2.0).powf(p.sin()) }";
    let (x, p) = (0.9_f64, 1.3_f64);
    let (v, g) = grad(src, &[Value::Scalar(x), Value::Scalar(p)]);
    let (base, e) = (2.0 * x, p.sin());
    assert_close(&[v], &[base.powf(e)], 1e-14);
    assert_close(&g[0], &[2.0 * e * base.powf(e - 1.0)], 1e-14);
    assert_close(&g[1], &[base.powf(e) * base.ln() * p.cos()], 1e-14);
}

#[test]
fn gradient_through_an_if_follows_the_taken_branch() {
    // The Huber loss of x·y: quadratic near zero, linear beyond d.
    let src = "fn f(x: f64, y: f64, d: f64) -> f64 {
        let a = (x * y).abs();
        if a <= d { 0.5 * a * a } else { d * (a - 0.5 * d) }
    }";
    let d = 1.0;
    for (x, y) in [(0.5_f64, 0.8_f64), (2.0, -1.5)] {
        let a = (x * y).abs();
        let sign = (x * y).signum();
        let (v, g) = grad(src, &[Value::Scalar(x), Value::Scalar(y), Value::Scalar(d)]);
        let (value, da, dd) = if a <= d {
            (0.5 * a * a, a, 0.0)
        } else {
            (d * (a - 0.5 * d), d, a - d)
        };
        assert_close(&[v], &[value], 1e-14);
        assert_close(&g[0], &[da * sign * y], 1e-14);
        assert_close(&g[1], &[da * sign * x], 1e-14);
        assert_close(&g[2], &[dd], 1e-14);
    }
}

#[test]
fn gradient_through_an_if_that_assigns_an_outer_variable() {
    let src = "fn f(x: f64, y: f64) -> f64 {
        let mut s = x * y;
        if x > y { s = s * x; } else { s = s + y.exp(); }
        s
    }";
    let (v, g) = grad(src, &[Value::Scalar(2.0), Value::Scalar(0.5)]);
    assert_close(&[v, g[0][0], g[1][0]], &[2.0, 4.0 * 0.5, 4.0], 1e-14);
    let (v, g) = grad(src, &[Value::Scalar(0.5), Value::Scalar(2.0)]);
    let e = 2.0_f64.exp();
    assert_close(&[v, g[0][0], g[1][0]], &[1.0 + e, 2.0, 0.5 + e], 1e-14);
}

#[test]
fn gradient_through_an_else_if_chain_inside_a_map_closure() {
    let src = "fn f(w: &Matrix2<f64>, s: f64) -> f64 {
        w.map(|v| if v > 0.0 && !(v > s) { v * s } else if v <= 0.0 || s < 0.0 { 0.1 * v } else { v * v }).sum()
    }";
    let w = Matrix2::new(0.3, 0.9, -0.4, 0.2);
    let s = 0.5;
    let (v, g) = grad(src, &[value(&w), Value::Scalar(s)]);
    // Entries 0.3 and 0.2 take the first branch, −0.4 the second, 0.9 the third.
    let expected = 0.3 * s + 0.2 * s + 0.1 * -0.4 + 0.9 * 0.9;
    assert_close(&[v], &[expected], 1e-15);
    assert_close(&g[0], Matrix2::new(s, 1.8, 0.1, s).as_slice(), 1e-15);
    assert_close(&g[1], &[0.3 + 0.2], 1e-15);
}

#[test]
fn gradient_through_for_loops() {
    let src = "fn f(x: &Vector3<f64>, a: &Matrix2<f64>) -> f64 {
        let mut s = 0.0;
        for i in 0..3 { s += x[i] * x[i] * ((i + 1) as f64); }
        let mut m = a.clone();
        for _ in 1..3 { m = m * a; }
        s + m.trace()
    }";
    let mut r = Numbers(16);
    let (x, a) = (r.matrix::<3, 1>(), r.matrix::<2, 2>());
    let (v, g) = grad(src, &[value(&x), value(&a)]);
    let s: f64 = (0..3).map(|i| x[i] * x[i] * (i + 1) as f64).sum();
    assert_close(&[v], &[s + (a * a * a).trace()], 1e-13);
    let expected: Vec<f64> = (0..3).map(|i| 2.0 * x[i] * (i + 1) as f64).collect();
    assert_close(&g[0], &expected, 1e-13);
    // ∇ tr(A³) = 3(A²)ᵀ
    assert_close(&g[1], ((a * a).transpose() * 3.0).as_slice(), 1e-13);
}

#[test]
fn gradient_of_a_map_closure_with_a_captured_scalar() {
    let src =
        "fn f(w: &Matrix2<f64>, s: f64) -> f64 { let t = s * 2.0; w.map(|v| (v * t).exp()).sum() }";
    let w = Numbers(17).matrix::<2, 2>();
    let s = 0.7;
    let (v, g) = grad(src, &[value(&w), Value::Scalar(s)]);
    let t = 2.0 * s;
    assert_close(&[v], &[w.map(|v| (v * t).exp()).sum()], 1e-14);
    assert_close(&g[0], w.map(|v| t * (v * t).exp()).as_slice(), 1e-14);
    assert_close(&g[1], &[w.map(|v| 2.0 * v * (v * t).exp()).sum()], 1e-14);
}

#[test]
fn gradient_through_calls_of_registered_functions() {
    let mut registry = Registry::new();
    for (name, src) in [
        (
            "inner",
            "fn inner(a: &Matrix2<f64>, x: &Vector2<f64>) -> f64 { (a * x).norm_squared() }",
        ),
        (
            "scale",
            "fn scale(x: &Vector2<f64>, k: i32) -> f64 { x.sum().powi(k) }",
        ),
    ] {
        let (func, prog) = compile("", src).expect("compiles");
        let constants = Constants::default();
        registry.insert(
            name.to_string(),
            Function {
                func,
                prog,
                constants,
            },
        );
    }
    let src = "fn outer(a: &Matrix2<f64>, x: &Vector2<f64>, n: i32) -> f64 {
        inner(a, x) * 3.0 + scale(x, n + 1)
    }";
    let mut r = Numbers(18);
    let (a, x) = (r.matrix::<2, 2>(), r.matrix::<2, 1>());
    let env = Env::with_functions(&registry).int("n", 2);
    let inputs = [value(&a), value(&x), Value::Constant];
    let (v, g) = gradient(&program(src), &inputs, &[0, 1], &env).expect("runs");
    let sum = x.sum();
    assert_close(
        &[scalar(&v)],
        &[3.0 * (a * x).norm_squared() + sum.powi(3)],
        1e-13,
    );
    // ∇A = 6(Ax)xᵀ, ∇x = 6AᵀAx + 3(Σx)²𝟙
    assert_close(
        &entries(&g[0]),
        (a * x * x.transpose() * 6.0).as_slice(),
        1e-13,
    );
    let expected = a.transpose() * a * x * 6.0 + Vector2::repeat(3.0 * sum * sum);
    assert_close(&entries(&g[1]), expected.as_slice(), 1e-13);
}

#[test]
fn calls_in_a_cycle_stop_with_an_error() {
    let mut registry = Registry::new();
    for (name, src) in [
        ("ping", "fn ping(x: f64) -> f64 { pong(x) }"),
        ("pong", "fn pong(x: f64) -> f64 { ping(x) }"),
    ] {
        let (func, prog) = compile("", src).expect("compiles");
        let constants = Constants::default();
        registry.insert(
            name.to_string(),
            Function {
                func,
                prog,
                constants,
            },
        );
    }
    let prog = &registry["ping"].prog;
    let env = Env::with_functions(&registry);
    let error = run(prog, &[Value::Scalar(1.0)], &env).expect_err("a cycle");
    assert!(
        error.contains("calls deep"),
        "{}",
        &error[error.len().saturating_sub(200)..]
    );
}

#[test]
fn inconsistent_inputs_are_errors() {
    let prog = program("fn f(a: &Matrix2<f64>) -> f64 { a.sum() }");
    let short = Value::Matrix(Mat {
        rows: 2,
        cols: 2,
        data: vec![1.0; 3],
    });
    assert!(run(&prog, &[short], &Env::default()).is_err());
    assert!(run::<f64>(&prog, &[], &Env::default()).is_err());
    assert!(run(&prog, &[Value::Scalar(1.0)], &Env::default()).is_err());
}

#[test]
fn gradient_of_a_fused_trace_chain() {
    let src =
        "fn f(a: &Matrix3<f64>, x: &Matrix3<f64>, b: &Matrix3<f64>, c: &Matrix3<f64>) -> f64 {
        (a * x * b * x.transpose() * c).trace()
    }";
    let prog = program(src);
    let fused = prog.output.map(|out| &prog.nodes[out].op);
    assert!(
        matches!(fused, Some(Op::TraceChain(flags)) if flags == &[false, false, false, true, false]),
        "{prog}"
    );
    let mut r = Numbers(19);
    let (a, x, b, c) = (
        r.matrix::<3, 3>(),
        r.matrix::<3, 3>(),
        r.matrix::<3, 3>(),
        r.matrix::<3, 3>(),
    );
    let inputs = [value(&a), value(&x), value(&b), value(&c)];
    let (v, g) = gradient(&prog, &inputs, &[1], &Env::default()).expect("runs");
    assert_close(
        &[scalar(&v)],
        &[(a * x * b * x.transpose() * c).trace()],
        1e-13,
    );
    // ∇X = AᵀCᵀXBᵀ + CAXB
    let expected = a.transpose() * c.transpose() * x * b.transpose() + c * a * x * b;
    assert_close(&entries(&g[0]), expected.as_slice(), 1e-12);
}

#[test]
fn jacobian_of_a_matrix_product_is_a_kronecker_product() {
    // vec(AX) = (I ⊗ A) vec X, and vec(AX) = (Xᵀ ⊗ I) vec A
    let mut r = Numbers(20);
    let (a, x) = (r.matrix::<3, 2>(), r.matrix::<2, 2>());
    let src = "fn f(a: &SMatrix<f64, 3, 2>, x: &Matrix2<f64>) -> SMatrix<f64, 3, 2> { a * x }";
    let (v, j) = jacobian(
        &program(src),
        &[value(&a), value(&x)],
        &[1, 0],
        &Env::default(),
    )
    .expect("runs");
    assert_close(&entries(&v), (a * x).as_slice(), 1e-14);
    let (jx, ja) = (&j[0], &j[1]);
    assert_eq!((jx.rows, jx.cols, ja.rows, ja.cols), (6, 4, 6, 6));
    let expected_x = Matrix2::<f64>::identity().kronecker(&a);
    let expected_a = x.transpose().kronecker(&Matrix3::<f64>::identity());
    assert_close(&jx.data, expected_x.as_slice(), 1e-14);
    assert_close(&ja.data, expected_a.as_slice(), 1e-14);
}

#[test]
fn jacobian_of_a_scalar_is_one_row_and_matches_the_gradient() {
    let src = "fn f(x: &Vector3<f64>) -> f64 { x.map(|v| v.tanh()).dot(&x) }";
    let x = Numbers(21).matrix::<3, 1>();
    let prog = program(src);
    let (_, j) = jacobian(&prog, &[value(&x)], &[0], &Env::default()).expect("runs");
    let (_, g) = gradient(&prog, &[value(&x)], &[0], &Env::default()).expect("runs");
    assert_eq!((j[0].rows, j[0].cols), (1, 3));
    assert_eq!(j[0].data, entries(&g[0]));
    let expected = x.map(|v| v.tanh() + v * (1.0 - v.tanh().powi(2)));
    assert_close(&j[0].data, expected.as_slice(), 1e-14);
}

#[test]
fn a_gradient_of_a_matrix_result_is_an_error() {
    let src = "fn f(a: &Matrix2<f64>) -> Matrix2<f64> { a * a }";
    let a = Matrix2::new(1.0, 2.0, 3.0, 4.0);
    let error = gradient(&program(src), &[value(&a)], &[0], &Env::default()).expect_err("matrix");
    assert!(error.contains("jacobian"), "{error}");
}
