//! Gradients from `#[gradient]` against closed forms.
//!
//! The worked examples of the seed notes (least squares, a one-layer logistic network, a
//! quadratic form, softmax cross-entropy) and the trace identities (100)–(122) of the Matrix
//! Cookbook (Petersen & Pedersen, 2012), each with non-square shapes where the identity allows
//! them. Every test runs over several seeds, checks that `{name}_grad` returns the value of
//! `{name}` (to rounding), and compares the gradient with the closed form to 1e-10 relative.

#[macro_use]
mod common;

use common::{Rng, SEEDS, assert_close};
use matgrad::gradient;
use matgrad::nalgebra::{SMatrix, SVector};

/// Closed forms and generated gradients differ only by rounding.
const REL: f64 = 1e-10;

/// `let (value, grad) = $f_grad(args)`, asserting that the value is `$f(args)` to rounding.
macro_rules! value_and_grad {
    ($f:ident, $f_grad:ident($($arg:expr),*)) => {{
        let (value, grad) = $f_grad($($arg),*);
        common::assert_same_value(value, $f($($arg),*), stringify!($f_grad));
        grad
    }};
}

// ---- the seed examples ---------------------------------------------------------------------

// f(β, X, y) = ‖y − Xβ‖²: ∇β = −2Xᵀr, ∇X = −2rβᵀ, ∇y = 2r with r = y − Xβ.
#[gradient]
fn least_squares(beta: &SVector<f64, 3>, x: &SMatrix<f64, 7, 3>, y: &SVector<f64, 7>) -> f64 {
    let r = y - x * beta;
    r.norm_squared()
}

#[test]
fn least_squares_gradients() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (beta, x, y) = (rng.vector(), rng.matrix(), rng.vector());
        let (g_beta, g_x, g_y) = value_and_grad!(least_squares, least_squares_grad(&beta, &x, &y));
        let r = y - x * beta;
        assert_close(&g_beta, &(-2.0 * x.transpose() * r), REL);
        assert_close(&g_x, &(-2.0 * r * beta.transpose()), REL);
        assert_close(&g_y, &(2.0 * r), REL);
    }
}

// f(W) = ½‖σ(Wx) − y‖²: with s = σ(Wx) and δ = (s − y)∘s∘(1 − s), ∇W = δxᵀ, ∇x = Wᵀδ,
// ∇y = −(s − y).
#[gradient]
fn logistic_layer(w: &SMatrix<f64, 4, 6>, x: &SVector<f64, 6>, y: &SVector<f64, 4>) -> f64 {
    let s = (w * x).map(matgrad::sigmoid);
    0.5 * (s - y).norm_squared()
}

#[test]
fn logistic_layer_gradients() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x, y) = (
            2.0 * rng.matrix::<4, 6>(),
            rng.vector(),
            rng.positive() / 2.0,
        );
        let (g_w, g_x, g_y) = value_and_grad!(logistic_layer, logistic_layer_grad(&w, &x, &y));
        let s = (w * x).map(matgrad::sigmoid);
        let delta = (s - y).component_mul(&s).component_mul(&s.map(|v| 1.0 - v));
        assert_close(&g_w, &(delta * x.transpose()), REL);
        assert_close(&g_x, &(w.transpose() * delta), REL);
        assert_close(&g_y, &(y - s), REL);
    }
}

// ∇ₓ(xᵀAx) = (A + Aᵀ)x and ∇_A(xᵀAx) = xxᵀ, written two ways.
#[gradient]
fn quadratic_form_product(x: &SVector<f64, 4>, a: &SMatrix<f64, 4, 4>) -> f64 {
    (x.transpose() * a * x)[(0, 0)]
}

#[gradient]
fn quadratic_form_dot(x: &SVector<f64, 4>, a: &SMatrix<f64, 4, 4>) -> f64 {
    x.dot(&(a * x))
}

#[test]
fn quadratic_form_as_a_product() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, a) = (rng.vector(), rng.matrix());
        let (g_x, g_a) =
            value_and_grad!(quadratic_form_product, quadratic_form_product_grad(&x, &a));
        assert_close(&g_x, &((a + a.transpose()) * x), REL);
        assert_close(&g_a, &(x * x.transpose()), REL);
    }
}

#[test]
fn quadratic_form_as_a_dot() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, a) = (rng.vector(), rng.matrix());
        let (g_x, g_a) = value_and_grad!(quadratic_form_dot, quadratic_form_dot_grad(&x, &a));
        assert_close(&g_x, &((a + a.transpose()) * x), REL);
        assert_close(&g_a, &(x * x.transpose()), REL);
    }
}

// f(W) = −ln softmax(Wx)ₖ with k = 2: ∇W = (p − eₖ)xᵀ and ∇x = Wᵀ(p − eₖ), p = softmax(Wx).
#[gradient]
fn softmax_cross_entropy(w: &SMatrix<f64, 5, 3>, x: &SVector<f64, 3>) -> f64 {
    let z = w * x;
    let e = z.map(f64::exp);
    e.sum().ln() - z[(2, 0)]
}

// The same loss through the probability itself: −ln(e_k / Σ e).
#[gradient]
fn softmax_cross_entropy_of_probability(w: &SMatrix<f64, 5, 3>, x: &SVector<f64, 3>) -> f64 {
    let e = (w * x).map(f64::exp);
    let p = e / e.sum();
    -p[(2, 0)].ln()
}

/// p − e₂ for the logits Wx.
fn softmax_residual(w: &SMatrix<f64, 5, 3>, x: &SVector<f64, 3>) -> SVector<f64, 5> {
    let e = (w * x).map(f64::exp);
    let mut residual = e / e.sum();
    residual[2] -= 1.0;
    residual
}

#[test]
fn softmax_cross_entropy_gradients() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x) = (rng.matrix(), rng.vector());
        let (g_w, g_x) = value_and_grad!(softmax_cross_entropy, softmax_cross_entropy_grad(&w, &x));
        let residual = softmax_residual(&w, &x);
        assert_close(&g_w, &(residual * x.transpose()), REL);
        assert_close(&g_x, &(w.transpose() * residual), REL);
    }
}

#[test]
fn softmax_cross_entropy_through_probability_gradients() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x) = (rng.matrix(), rng.vector());
        let (g_w, g_x) = value_and_grad!(
            softmax_cross_entropy_of_probability,
            softmax_cross_entropy_of_probability_grad(&w, &x)
        );
        let residual = softmax_residual(&w, &x);
        assert_close(&g_w, &(residual * x.transpose()), REL);
        assert_close(&g_x, &(w.transpose() * residual), REL);
    }
}

// A parameter used twice accumulates: ∇(x·x) = 2x, ∇‖x‖ = x/‖x‖.
#[gradient]
fn self_dot(x: SVector<f64, 5>) -> f64 {
    x.dot(&x)
}

#[gradient]
fn norm(x: &SMatrix<f64, 2, 3>) -> f64 {
    x.norm()
}

#[test]
fn self_dot_is_twice_the_vector() {
    for seed in SEEDS {
        let x = Rng::new(seed).vector();
        let g = value_and_grad!(self_dot, self_dot_grad(x));
        assert_close(&g, &(2.0 * x), REL);
    }
}

#[test]
fn norm_gradient_is_the_unit_direction() {
    for seed in SEEDS {
        let x = Rng::new(seed).away_from_zero();
        let g = value_and_grad!(norm, norm_grad(&x));
        assert_close(&g, &(x / x.norm()), REL);
    }
}

// ---- Matrix Cookbook, first-order trace identities (100)–(105) -----------------------------

// (100) ∂tr(X)/∂X = I
#[gradient]
fn tr_x(x: &SMatrix<f64, 4, 4>) -> f64 {
    x.trace()
}

#[test]
fn cookbook_100_trace() {
    for seed in SEEDS {
        let x = Rng::new(seed).matrix();
        let g = value_and_grad!(tr_x, tr_x_grad(&x));
        assert_close(&g, &SMatrix::<f64, 4, 4>::identity(), REL);
    }
}

// (101) ∂tr(XA)/∂X = Aᵀ, X 3×4, A 4×3
#[gradient(wrt(x))]
fn tr_xa(x: &SMatrix<f64, 3, 4>, a: &SMatrix<f64, 4, 3>) -> f64 {
    (x * a).trace()
}

#[test]
fn cookbook_101_trace_xa() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, a) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_xa, tr_xa_grad(&x, &a));
        assert_close(&g, &a.transpose(), REL);
    }
}

// (102) ∂tr(AXB)/∂X = AᵀBᵀ, A 2×3, X 3×4, B 4×2
#[gradient(wrt(x))]
fn tr_axb(a: &SMatrix<f64, 2, 3>, x: &SMatrix<f64, 3, 4>, b: &SMatrix<f64, 4, 2>) -> f64 {
    (a * x * b).trace()
}

#[test]
fn cookbook_102_trace_axb() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x, b) = (rng.matrix(), rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_axb, tr_axb_grad(&a, &x, &b));
        assert_close(&g, &(a.transpose() * b.transpose()), REL);
    }
}

// (103) ∂tr(AXᵀB)/∂X = BA, A 2×4, X 3×4, B 3×2
#[gradient(wrt(x))]
fn tr_axtb(a: &SMatrix<f64, 2, 4>, x: &SMatrix<f64, 3, 4>, b: &SMatrix<f64, 3, 2>) -> f64 {
    (a * x.transpose() * b).trace()
}

#[test]
fn cookbook_103_trace_axtb() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x, b) = (rng.matrix(), rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_axtb, tr_axtb_grad(&a, &x, &b));
        assert_close(&g, &(b * a), REL);
    }
}

// (104) ∂tr(XᵀA)/∂X = A, X and A 3×5
#[gradient(wrt(x))]
fn tr_xta(x: &SMatrix<f64, 3, 5>, a: &SMatrix<f64, 3, 5>) -> f64 {
    (x.transpose() * a).trace()
}

#[test]
fn cookbook_104_trace_xta() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, a) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_xta, tr_xta_grad(&x, &a));
        assert_close(&g, &a, REL);
    }
}

// (105) ∂tr(AXᵀ)/∂X = A, X and A 3×5
#[gradient(wrt(x))]
fn tr_axt(a: &SMatrix<f64, 3, 5>, x: &SMatrix<f64, 3, 5>) -> f64 {
    (a * x.transpose()).trace()
}

#[test]
fn cookbook_105_trace_axt() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_axt, tr_axt_grad(&a, &x));
        assert_close(&g, &a, REL);
    }
}

// ---- Matrix Cookbook, second-order trace identities (107)–(122) ----------------------------

// (107) ∂tr(X²)/∂X = 2Xᵀ
#[gradient]
fn tr_x2(x: &SMatrix<f64, 4, 4>) -> f64 {
    (x * x).trace()
}

#[test]
fn cookbook_107_trace_x_squared() {
    for seed in SEEDS {
        let x = Rng::new(seed).matrix();
        let g = value_and_grad!(tr_x2, tr_x2_grad(&x));
        assert_close(&g, &(2.0 * x.transpose()), REL);
    }
}

// (108) ∂tr(X²B)/∂X = (XB + BX)ᵀ
#[gradient(wrt(x))]
fn tr_x2b(x: &SMatrix<f64, 4, 4>, b: &SMatrix<f64, 4, 4>) -> f64 {
    (x * x * b).trace()
}

#[test]
fn cookbook_108_trace_x_squared_b() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_x2b, tr_x2b_grad(&x, &b));
        assert_close(&g, &(x * b + b * x).transpose(), REL);
    }
}

// (109) ∂tr(XᵀBX)/∂X = BX + BᵀX, X 4×3, B 4×4
#[gradient(wrt(x))]
fn tr_xtbx(x: &SMatrix<f64, 4, 3>, b: &SMatrix<f64, 4, 4>) -> f64 {
    (x.transpose() * b * x).trace()
}

#[test]
fn cookbook_109_trace_xt_b_x() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_xtbx, tr_xtbx_grad(&x, &b));
        assert_close(&g, &(b * x + b.transpose() * x), REL);
    }
}

// (110) ∂tr(BXXᵀ)/∂X = BX + BᵀX, X 4×3, B 4×4
#[gradient(wrt(x))]
fn tr_bxxt(x: &SMatrix<f64, 4, 3>, b: &SMatrix<f64, 4, 4>) -> f64 {
    (b * x * x.transpose()).trace()
}

#[test]
fn cookbook_110_trace_b_x_xt() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_bxxt, tr_bxxt_grad(&x, &b));
        assert_close(&g, &(b * x + b.transpose() * x), REL);
    }
}

// (111) ∂tr(XXᵀB)/∂X = BX + BᵀX, X 4×3, B 4×4
#[gradient(wrt(x))]
fn tr_xxtb(x: &SMatrix<f64, 4, 3>, b: &SMatrix<f64, 4, 4>) -> f64 {
    (x * x.transpose() * b).trace()
}

#[test]
fn cookbook_111_trace_x_xt_b() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_xxtb, tr_xxtb_grad(&x, &b));
        assert_close(&g, &(b * x + b.transpose() * x), REL);
    }
}

// (112) ∂tr(XBXᵀ)/∂X = XBᵀ + XB, X 4×3, B 3×3
#[gradient(wrt(x))]
fn tr_xbxt(x: &SMatrix<f64, 4, 3>, b: &SMatrix<f64, 3, 3>) -> f64 {
    (x * b * x.transpose()).trace()
}

#[test]
fn cookbook_112_trace_x_b_xt() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_xbxt, tr_xbxt_grad(&x, &b));
        assert_close(&g, &(x * b.transpose() + x * b), REL);
    }
}

// (113) ∂tr(BXᵀX)/∂X = XBᵀ + XB, X 4×3, B 3×3
#[gradient(wrt(x))]
fn tr_bxtx(x: &SMatrix<f64, 4, 3>, b: &SMatrix<f64, 3, 3>) -> f64 {
    (b * x.transpose() * x).trace()
}

#[test]
fn cookbook_113_trace_b_xt_x() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_bxtx, tr_bxtx_grad(&x, &b));
        assert_close(&g, &(x * b.transpose() + x * b), REL);
    }
}

// (114) ∂tr(XᵀXB)/∂X = XBᵀ + XB, X 4×3, B 3×3
#[gradient(wrt(x))]
fn tr_xtxb(x: &SMatrix<f64, 4, 3>, b: &SMatrix<f64, 3, 3>) -> f64 {
    (x.transpose() * x * b).trace()
}

#[test]
fn cookbook_114_trace_xt_x_b() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b) = (rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_xtxb, tr_xtxb_grad(&x, &b));
        assert_close(&g, &(x * b.transpose() + x * b), REL);
    }
}

// (115) ∂tr(AXBX)/∂X = AᵀXᵀBᵀ + BᵀXᵀAᵀ, X 3×2, A 2×3, B 2×3
#[gradient(wrt(x))]
fn tr_axbx(a: &SMatrix<f64, 2, 3>, x: &SMatrix<f64, 3, 2>, b: &SMatrix<f64, 2, 3>) -> f64 {
    (a * x * b * x).trace()
}

#[test]
fn cookbook_115_trace_a_x_b_x() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x, b) = (rng.matrix(), rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_axbx, tr_axbx_grad(&a, &x, &b));
        let expected = a.transpose() * x.transpose() * b.transpose()
            + b.transpose() * x.transpose() * a.transpose();
        assert_close(&g, &expected, REL);
    }
}

// (116) ∂tr(XᵀX)/∂X = ∂tr(XXᵀ)/∂X = 2X, X 2×5
#[gradient]
fn tr_xtx(x: &SMatrix<f64, 2, 5>) -> f64 {
    (x.transpose() * x).trace()
}

#[gradient]
fn tr_xxt(x: &SMatrix<f64, 2, 5>) -> f64 {
    (x * x.transpose()).trace()
}

#[test]
fn cookbook_116_trace_xt_x_and_x_xt() {
    for seed in SEEDS {
        let x = Rng::new(seed).matrix();
        let g = value_and_grad!(tr_xtx, tr_xtx_grad(&x));
        assert_close(&g, &(2.0 * x), REL);
        let g = value_and_grad!(tr_xxt, tr_xxt_grad(&x));
        assert_close(&g, &(2.0 * x), REL);
    }
}

// (117) ∂tr(BᵀXᵀCXB)/∂X = CᵀXBBᵀ + CXBBᵀ, X 4×3, C 4×4, B 3×2
#[gradient(wrt(x))]
fn tr_btxtcxb(x: &SMatrix<f64, 4, 3>, b: &SMatrix<f64, 3, 2>, c: &SMatrix<f64, 4, 4>) -> f64 {
    (b.transpose() * x.transpose() * c * x * b).trace()
}

#[test]
fn cookbook_117_trace_bt_xt_c_x_b() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b, c) = (rng.matrix(), rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_btxtcxb, tr_btxtcxb_grad(&x, &b, &c));
        let bbt = b * b.transpose();
        assert_close(&g, &(c.transpose() * x * bbt + c * x * bbt), REL);
    }
}

// (118) ∂tr(XᵀBXC)/∂X = BXC + BᵀXCᵀ, X 4×3, B 4×4, C 3×3
#[gradient(wrt(x))]
fn tr_xtbxc(x: &SMatrix<f64, 4, 3>, b: &SMatrix<f64, 4, 4>, c: &SMatrix<f64, 3, 3>) -> f64 {
    (x.transpose() * b * x * c).trace()
}

#[test]
fn cookbook_118_trace_xt_b_x_c() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, b, c) = (rng.matrix(), rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_xtbxc, tr_xtbxc_grad(&x, &b, &c));
        assert_close(&g, &(b * x * c + b.transpose() * x * c.transpose()), REL);
    }
}

// (119) ∂tr(AXBXᵀC)/∂X = AᵀCᵀXBᵀ + CAXB, X 3×2, A 4×3, B 2×2, C 3×4
#[gradient(wrt(x))]
fn tr_axbxtc(
    a: &SMatrix<f64, 4, 3>,
    x: &SMatrix<f64, 3, 2>,
    b: &SMatrix<f64, 2, 2>,
    c: &SMatrix<f64, 3, 4>,
) -> f64 {
    (a * x * b * x.transpose() * c).trace()
}

#[test]
fn cookbook_119_trace_a_x_b_xt_c() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x, b, c) = (rng.matrix(), rng.matrix(), rng.matrix(), rng.matrix());
        let g = value_and_grad!(tr_axbxtc, tr_axbxtc_grad(&a, &x, &b, &c));
        let expected = a.transpose() * c.transpose() * x * b.transpose() + c * a * x * b;
        assert_close(&g, &expected, REL);
    }
}

// (120) ∂tr[(AXB + C)(AXB + C)ᵀ]/∂X = 2Aᵀ(AXB + C)Bᵀ, A 2×3, X 3×4, B 4×5, C 2×5
#[gradient(wrt(x))]
fn tr_affine_squared(
    a: &SMatrix<f64, 2, 3>,
    x: &SMatrix<f64, 3, 4>,
    b: &SMatrix<f64, 4, 5>,
    c: &SMatrix<f64, 2, 5>,
) -> f64 {
    let y = a * x * b + c;
    (y * y.transpose()).trace()
}

// The same loss as a squared Frobenius norm, the design's `frob_affine`.
#[gradient(wrt(x))]
fn frobenius_affine(
    a: &SMatrix<f64, 2, 3>,
    x: &SMatrix<f64, 3, 4>,
    b: &SMatrix<f64, 4, 5>,
    c: &SMatrix<f64, 2, 5>,
) -> f64 {
    (a * x * b + c).norm_squared()
}

#[test]
fn cookbook_120_trace_of_affine_gram() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x, b, c): (
            SMatrix<f64, 2, 3>,
            SMatrix<f64, 3, 4>,
            SMatrix<f64, 4, 5>,
            SMatrix<f64, 2, 5>,
        ) = (rng.matrix(), rng.matrix(), rng.matrix(), rng.matrix());
        let expected = 2.0 * a.transpose() * (a * x * b + c) * b.transpose();
        let g = value_and_grad!(tr_affine_squared, tr_affine_squared_grad(&a, &x, &b, &c));
        assert_close(&g, &expected, REL);
        let g = value_and_grad!(frobenius_affine, frobenius_affine_grad(&a, &x, &b, &c));
        assert_close(&g, &expected, REL);
    }
}

// (121) ∂[tr(X)·tr(X)]/∂X = 2tr(X)·I
#[gradient]
fn tr_x_squared_scalar(x: &SMatrix<f64, 3, 3>) -> f64 {
    x.trace() * x.trace()
}

#[test]
fn cookbook_121_square_of_trace() {
    for seed in SEEDS {
        let x = Rng::new(seed).matrix();
        let g = value_and_grad!(tr_x_squared_scalar, tr_x_squared_scalar_grad(&x));
        assert_close(
            &g,
            &(2.0 * x.trace() * SMatrix::<f64, 3, 3>::identity()),
            REL,
        );
    }
}

// (122) ∂tr(Xᵏ)/∂X = k(Xᵏ⁻¹)ᵀ, for k = 3 by repeated products
#[gradient]
fn tr_x3(x: &SMatrix<f64, 4, 4>) -> f64 {
    (x * x * x).trace()
}

#[test]
fn cookbook_122_trace_x_cubed() {
    for seed in SEEDS {
        let x = Rng::new(seed).matrix();
        let g = value_and_grad!(tr_x3, tr_x3_grad(&x));
        assert_close(&g, &(3.0 * (x * x).transpose()), REL);
    }
}

// ---- nalgebra spellings ----------------------------------------------------------------------

// f(u, w) = wᵀ(u/‖u‖) + ‖u‖²: ∇u = (I − n nᵀ) w / ‖u‖ + 2u with n = u/‖u‖, and ∇w = n.
// `.magnitude()` is `.norm()` and `.magnitude_squared()` is `.norm_squared()`.
#[gradient]
fn projected(u: &SVector<f64, 4>, w: &SVector<f64, 4>) -> f64 {
    w.dot(&u.normalize()) + u.magnitude_squared()
}

#[test]
fn normalize_differentiates_as_u_over_its_norm() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (u, w): (SVector<f64, 4>, SVector<f64, 4>) = (rng.away_from_zero(), rng.vector());
        let (gu, gw) = value_and_grad!(projected, projected_grad(&u, &w));
        let n = u / u.norm();
        let projector = SMatrix::<f64, 4, 4>::identity() - n * n.transpose();
        assert_close(&gu, &(projector * w / u.norm() + 2.0 * u), REL);
        assert_close(&gw, &n, REL);
    }
}

// f(u) = ‖u‖ through `.magnitude()`: ∇u = u/‖u‖.
#[gradient]
fn magnitude(u: &SVector<f64, 3>) -> f64 {
    u.magnitude()
}

#[test]
fn magnitude_is_the_norm() {
    for seed in SEEDS {
        let u: SVector<f64, 3> = Rng::new(seed).away_from_zero();
        let g = value_and_grad!(magnitude, magnitude_grad(&u));
        assert_close(&g, &(u / u.norm()), REL);
    }
}
