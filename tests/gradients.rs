//! Every rule of `#[gradient]` against central finite differences.
//!
//! Each `#[gradient]` function below exercises one rule or one piece of syntax. Its test draws
//! random well-conditioned inputs for several seeds, asserts that `{name}_grad` returns exactly
//! the value of `{name}`, and compares the gradient with central differences of `{name}` through
//! `matgrad::check_gradient`. Linear rules are read out through a random weight (`.dot(w)`), so a
//! gradient that is transposed, negated or summed into the wrong entry cannot pass. The matrix
//! rules run at several sizes, including 1×1 and non-square ones, through `matrix_rules!`.

// `{name}_grad` must return exactly the value of `{name}` (design §2.1), so values are compared
// with `assert_eq!`, not within a tolerance.
#![allow(clippy::float_cmp)]

#[macro_use]
mod common;

use common::{Rng, SEEDS, TOL, TOL_F32};
use matgrad::gradient;
use matgrad::nalgebra::{
    Matrix2x3, Matrix3, RowSVector, RowVector3, SMatrix, SVector, Vector3, Vector4,
};
use matgrad::{sigmoid, softplus};

// ---- matrix rules at several sizes ---------------------------------------------------------

/// The matrix rules at one size: `a` is R×K, `b` is K×C, and elementwise rules work on R×C.
macro_rules! matrix_rules {
    ($size:ident, $r:tt, $k:tt, $c:tt) => {
        mod $size {
            use super::common::{Rng, SEEDS, TOL};
            use matgrad::gradient;
            use matgrad::nalgebra::{RowSVector, SMatrix, SVector};

            // Z = A + B ⇒ Ā = B̄ = W
            #[gradient]
            fn add(
                a: &SMatrix<f64, $r, $c>,
                b: &SMatrix<f64, $r, $c>,
                w: &SMatrix<f64, $r, $c>,
            ) -> f64 {
                (a + b).dot(w)
            }

            #[test]
            fn add_of_matrices() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b, w) = (rng.matrix(), rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, add, add_grad, (a, b, w) => (&a, &b, &w));
                }
            }

            // Z = A − B ⇒ Ā = W, B̄ = −W
            #[gradient]
            fn sub(
                a: &SMatrix<f64, $r, $c>,
                b: &SMatrix<f64, $r, $c>,
                w: &SMatrix<f64, $r, $c>,
            ) -> f64 {
                (a - b).dot(w)
            }

            #[test]
            fn sub_of_matrices() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b, w) = (rng.matrix(), rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, sub, sub_grad, (a, b, w) => (&a, &b, &w));
                }
            }

            // Z = −A ⇒ Ā = −W
            #[gradient]
            fn neg(a: &SMatrix<f64, $r, $c>, w: &SMatrix<f64, $r, $c>) -> f64 {
                (-a).dot(w)
            }

            #[test]
            fn neg_of_matrix() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, w) = (rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, neg, neg_grad, (a, w) => (&a, &w));
                }
            }

            // Z = A·B ⇒ Ā = W·Bᵀ, B̄ = Aᵀ·W
            #[gradient]
            fn matmul(
                a: &SMatrix<f64, $r, $k>,
                b: &SMatrix<f64, $k, $c>,
                w: &SMatrix<f64, $r, $c>,
            ) -> f64 {
                (a * b).dot(w)
            }

            #[test]
            fn matrix_times_matrix() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b, w) = (rng.matrix(), rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, matmul, matmul_grad, (a, b, w) => (&a, &b, &w));
                }
            }

            #[gradient]
            fn matvec(a: &SMatrix<f64, $r, $k>, x: &SVector<f64, $k>, w: &SVector<f64, $r>) -> f64 {
                (a * x).dot(w)
            }

            #[test]
            fn matrix_times_vector() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, x, w) = (rng.matrix(), rng.vector(), rng.vector());
                    assert_gradient!(TOL, matvec, matvec_grad, (a, x, w) => (&a, &x, &w));
                }
            }

            #[gradient]
            fn rowmat(
                u: &RowSVector<f64, $r>,
                a: &SMatrix<f64, $r, $c>,
                w: &RowSVector<f64, $c>,
            ) -> f64 {
                (u * a).dot(w)
            }

            #[test]
            fn row_times_matrix() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (u, a, w) = (rng.row(), rng.matrix(), rng.row());
                    assert_gradient!(TOL, rowmat, rowmat_grad, (u, a, w) => (&u, &a, &w));
                }
            }

            #[gradient]
            fn outer(x: &SVector<f64, $r>, y: &RowSVector<f64, $c>, w: &SMatrix<f64, $r, $c>) -> f64 {
                (x * y).dot(w)
            }

            #[test]
            fn outer_product_of_column_and_row() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (x, y, w) = (rng.vector(), rng.row(), rng.matrix());
                    assert_gradient!(TOL, outer, outer_grad, (x, y, w) => (&x, &y, &w));
                }
            }

            #[gradient]
            fn outer_transposed(
                x: &SVector<f64, $r>,
                y: &SVector<f64, $c>,
                w: &SMatrix<f64, $r, $c>,
            ) -> f64 {
                (x * y.transpose()).dot(w)
            }

            #[test]
            fn outer_product_of_two_columns() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (x, y, w) = (rng.vector(), rng.vector(), rng.matrix());
                    assert_gradient!(
                        TOL, outer_transposed, outer_transposed_grad, (x, y, w) => (&x, &y, &w)
                    );
                }
            }

            // Z = s·A ⇒ s̄ = ⟨A, W⟩, Ā = s·W
            #[gradient]
            fn scale_left(s: f64, a: &SMatrix<f64, $r, $c>, w: &SMatrix<f64, $r, $c>) -> f64 {
                (s * a).dot(w)
            }

            #[test]
            fn scalar_times_matrix() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (s, a, w) = (rng.scalar(), rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, scale_left, scale_left_grad, (s, a, w) => (s, &a, &w));
                }
            }

            #[gradient]
            fn scale_right(a: &SMatrix<f64, $r, $c>, s: f64, w: &SMatrix<f64, $r, $c>) -> f64 {
                (a * s).dot(w)
            }

            #[test]
            fn matrix_times_scalar() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, s, w) = (rng.matrix(), rng.scalar(), rng.matrix());
                    assert_gradient!(TOL, scale_right, scale_right_grad, (a, s, w) => (&a, s, &w));
                }
            }

            // Z = A/s ⇒ Ā = W/s, s̄ = −⟨A, W⟩/s²
            #[gradient]
            fn divide(a: &SMatrix<f64, $r, $c>, s: f64, w: &SMatrix<f64, $r, $c>) -> f64 {
                (a / s).dot(w)
            }

            #[test]
            fn matrix_over_scalar() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, s, w) = (rng.matrix(), rng.nonzero_scalar(), rng.matrix());
                    assert_gradient!(TOL, divide, divide_grad, (a, s, w) => (&a, s, &w));
                }
            }

            // Z = Aᵀ ⇒ Ā = Wᵀ
            #[gradient]
            fn transpose(a: &SMatrix<f64, $r, $c>, w: &SMatrix<f64, $c, $r>) -> f64 {
                a.transpose().dot(w)
            }

            #[test]
            fn transpose_of_matrix() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, w) = (rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, transpose, transpose_grad, (a, w) => (&a, &w));
                }
            }

            // z = tr A ⇒ Ā = z̄·I; squared so that z̄ = 2 tr A is not 1
            #[gradient]
            fn trace_squared(a: &SMatrix<f64, $r, $r>) -> f64 {
                let t = a.trace();
                t * t
            }

            #[test]
            fn trace_of_square_matrix() {
                for seed in SEEDS {
                    let a = Rng::new(seed).matrix();
                    assert_gradient!(TOL, trace_squared, trace_squared_grad, a => (&a));
                }
            }

            #[gradient]
            fn trace_of_product(a: &SMatrix<f64, $r, $k>, b: &SMatrix<f64, $k, $r>) -> f64 {
                (a * b).trace()
            }

            #[test]
            fn trace_of_rectangular_product() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b) = (rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, trace_of_product, trace_of_product_grad, (a, b) => (&a, &b));
                }
            }

            // z = Σ A ⇒ Ā = z̄·𝟙
            #[gradient]
            fn sum_squared(a: &SMatrix<f64, $r, $c>) -> f64 {
                let s = a.sum();
                s * s
            }

            #[test]
            fn sum_of_entries() {
                for seed in SEEDS {
                    let a = Rng::new(seed).matrix();
                    assert_gradient!(TOL, sum_squared, sum_squared_grad, a => (&a));
                }
            }

            // z = mean A ⇒ Ā = z̄·𝟙/(R·C)
            #[gradient]
            fn mean_squared(a: &SMatrix<f64, $r, $c>) -> f64 {
                let m = a.mean();
                m * m
            }

            #[test]
            fn mean_of_entries() {
                for seed in SEEDS {
                    let a = Rng::new(seed).matrix();
                    assert_gradient!(TOL, mean_squared, mean_squared_grad, a => (&a));
                }
            }

            // z = ⟨A, B⟩ ⇒ Ā = B, B̄ = A
            #[gradient]
            fn frobenius(a: &SMatrix<f64, $r, $c>, b: &SMatrix<f64, $r, $c>) -> f64 {
                a.dot(b)
            }

            #[test]
            fn dot_of_matrices_is_frobenius() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b) = (rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, frobenius, frobenius_grad, (a, b) => (&a, &b));
                }
            }

            #[gradient]
            fn dot_vectors(x: &SVector<f64, $k>, y: &SVector<f64, $k>) -> f64 {
                x.dot(y)
            }

            #[test]
            fn dot_of_vectors() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (x, y) = (rng.vector(), rng.vector());
                    assert_gradient!(TOL, dot_vectors, dot_vectors_grad, (x, y) => (&x, &y));
                }
            }

            // z = ‖A‖ ⇒ Ā = z̄·A/‖A‖
            #[gradient]
            fn norm(a: &SMatrix<f64, $r, $c>) -> f64 {
                a.norm()
            }

            #[test]
            fn norm_of_matrix() {
                for seed in SEEDS {
                    // Entries at least 0.5 in magnitude keep ‖A‖ away from its kink at 0.
                    let a = Rng::new(seed).away_from_zero();
                    assert_gradient!(TOL, norm, norm_grad, a => (&a));
                }
            }

            // z = ‖A‖² ⇒ Ā = 2z̄·A
            #[gradient]
            fn norm_squared(a: &SMatrix<f64, $r, $c>) -> f64 {
                a.norm_squared()
            }

            #[test]
            fn norm_squared_of_matrix() {
                for seed in SEEDS {
                    let a = Rng::new(seed).matrix();
                    assert_gradient!(TOL, norm_squared, norm_squared_grad, a => (&a));
                }
            }

            // Z = A∘B ⇒ Ā = W∘B, B̄ = W∘A
            #[gradient]
            fn hadamard(
                a: &SMatrix<f64, $r, $c>,
                b: &SMatrix<f64, $r, $c>,
                w: &SMatrix<f64, $r, $c>,
            ) -> f64 {
                a.component_mul(b).dot(w)
            }

            #[test]
            fn component_mul_of_matrices() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b, w) = (rng.matrix(), rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, hadamard, hadamard_grad, (a, b, w) => (&a, &b, &w));
                }
            }

            // Z = A⊘B ⇒ Ā = W⊘B, B̄ = −W∘A⊘(B∘B)
            #[gradient]
            fn hadamard_div(
                a: &SMatrix<f64, $r, $c>,
                b: &SMatrix<f64, $r, $c>,
                w: &SMatrix<f64, $r, $c>,
            ) -> f64 {
                a.component_div(b).dot(w)
            }

            #[test]
            fn component_div_of_matrices() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b, w) = (rng.matrix(), rng.away_from_zero(), rng.matrix());
                    assert_gradient!(TOL, hadamard_div, hadamard_div_grad, (a, b, w) => (&a, &b, &w));
                }
            }

            // Z = f∘(A) ⇒ Ā = W∘f′∘(A)
            #[gradient]
            fn map_closure(a: &SMatrix<f64, $r, $c>, w: &SMatrix<f64, $r, $c>) -> f64 {
                a.map(|v| v.sin() * v).dot(w)
            }

            #[test]
            fn map_with_closure() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, w) = (rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, map_closure, map_closure_grad, (a, w) => (&a, &w));
                }
            }

            // A closure capturing a differentiated scalar: s̄ = Σ W∘A.
            #[gradient]
            fn map_capture(x: &SMatrix<f64, $r, $c>, w: &SMatrix<f64, $k, $k>) -> f64 {
                let s = w.sum();
                x.map(|v| v * s).sum()
            }

            #[test]
            fn map_capturing_a_differentiated_scalar() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (x, w) = (rng.matrix(), rng.matrix());
                    assert_gradient!(TOL, map_capture, map_capture_grad, (x, w) => (&x, &w));
                }
            }
        }
    };
}

matrix_rules!(size_1x1x1, 1, 1, 1);
matrix_rules!(size_2x3x4, 2, 3, 4);
matrix_rules!(size_4x4x4, 4, 4, 4);
matrix_rules!(size_3x1x5, 3, 1, 5);
matrix_rules!(size_1x5x2, 1, 5, 2);

// ---- scalar arithmetic ---------------------------------------------------------------------

#[gradient]
fn scalar_add(a: f64, b: f64) -> f64 {
    a + b
}

#[gradient]
fn scalar_sub(a: f64, b: f64) -> f64 {
    a - b
}

#[gradient]
fn scalar_mul(a: f64, b: f64) -> f64 {
    a * b
}

#[gradient]
fn scalar_div(a: f64, b: f64) -> f64 {
    a / b
}

#[gradient]
fn scalar_neg(a: f64, b: f64) -> f64 {
    -a * b
}

#[test]
fn scalar_addition() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.scalar(), rng.scalar());
        assert_gradient!(TOL, scalar_add, scalar_add_grad, (a, b) => (a, b));
    }
}

#[test]
fn scalar_subtraction() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.scalar(), rng.scalar());
        assert_gradient!(TOL, scalar_sub, scalar_sub_grad, (a, b) => (a, b));
    }
}

#[test]
fn scalar_multiplication() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.scalar(), rng.scalar());
        assert_gradient!(TOL, scalar_mul, scalar_mul_grad, (a, b) => (a, b));
    }
}

#[test]
fn scalar_division() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.scalar(), rng.nonzero_scalar());
        assert_gradient!(TOL, scalar_div, scalar_div_grad, (a, b) => (a, b));
    }
}

#[test]
fn scalar_negation() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.scalar(), rng.scalar());
        assert_gradient!(TOL, scalar_neg, scalar_neg_grad, (a, b) => (a, b));
    }
}

// A scalar computed from matrices, combined with every scalar operator at once.
#[gradient]
fn scalar_arithmetic_of_reductions(a: &Matrix2x3<f64>, b: &Matrix2x3<f64>) -> f64 {
    let p = a.sum();
    let q = b.norm_squared() + 1.0;
    (p - q) * p / q + -(p * q)
}

#[test]
fn scalar_arithmetic_of_matrix_reductions() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.matrix(), rng.matrix());
        assert_gradient!(
            TOL,
            scalar_arithmetic_of_reductions,
            scalar_arithmetic_of_reductions_grad,
            (a, b) => (&a, &b)
        );
    }
}

// ---- scalar functions: method, call, map-closure and map-path forms ------------------------

/// One scalar function `$f` in all four forms: `x.f()`, `f64::f(x)`, `a.map(|v| v.f())` and
/// `a.map(f64::f)`. Inputs come from `Rng::$scalar` and `Rng::$matrix`, inside `$f`'s domain.
macro_rules! scalar_function {
    ($f:ident, $scalar:ident, $matrix:ident) => {
        mod $f {
            use super::common::{Rng, SEEDS, TOL};
            use matgrad::gradient;
            use matgrad::nalgebra::SMatrix;

            #[gradient]
            fn method(x: f64) -> f64 {
                x.$f()
            }

            #[gradient]
            fn call(x: f64) -> f64 {
                f64::$f(x)
            }

            #[gradient]
            fn map_closure(a: &SMatrix<f64, 2, 3>, w: &SMatrix<f64, 2, 3>) -> f64 {
                a.map(|v| v.$f()).dot(w)
            }

            #[gradient]
            fn map_path(a: &SMatrix<f64, 3, 2>, w: &SMatrix<f64, 3, 2>) -> f64 {
                a.map(f64::$f).dot(w)
            }

            #[test]
            fn method_form() {
                for seed in SEEDS {
                    let x = Rng::new(seed).$scalar();
                    assert_gradient!(TOL, method, method_grad, x => (x));
                }
            }

            #[test]
            fn call_form() {
                for seed in SEEDS {
                    let x = Rng::new(seed).$scalar();
                    assert_gradient!(TOL, call, call_grad, x => (x));
                }
            }

            #[test]
            fn map_closure_form() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, w) = (rng.$matrix(), rng.matrix());
                    assert_gradient!(TOL, map_closure, map_closure_grad, (a, w) => (&a, &w));
                }
            }

            #[test]
            fn map_path_form() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, w) = (rng.$matrix(), rng.matrix());
                    assert_gradient!(TOL, map_path, map_path_grad, (a, w) => (&a, &w));
                }
            }
        }
    };
}

scalar_function!(exp, scalar, matrix);
scalar_function!(ln, positive_scalar, positive);
scalar_function!(ln_1p, positive_scalar, positive);
scalar_function!(sqrt, positive_scalar, positive);
scalar_function!(sin, scalar, matrix);
scalar_function!(cos, scalar, matrix);
scalar_function!(tanh, scalar, matrix);
// |x| has a kink at 0; inputs keep at least 0.5 away from it, with both signs.
scalar_function!(abs, nonzero_scalar, away_from_zero);

#[gradient]
fn powi_cube(x: f64) -> f64 {
    x.powi(3)
}

#[gradient]
fn powi_negative(x: f64) -> f64 {
    x.powi(-2)
}

#[gradient]
fn powi_zero(x: f64) -> f64 {
    x.powi(0) * x
}

#[gradient]
fn powi_call(x: f64) -> f64 {
    f64::powi(x, 4)
}

#[gradient]
fn powi_map(a: &Matrix2x3<f64>, w: &Matrix2x3<f64>) -> f64 {
    a.map(|v| v.powi(3)).dot(w)
}

#[test]
fn powi_with_positive_exponent() {
    for seed in SEEDS {
        let x = Rng::new(seed).scalar();
        assert_gradient!(TOL, powi_cube, powi_cube_grad, x => (x));
    }
}

#[test]
fn powi_with_negative_exponent() {
    for seed in SEEDS {
        let x = Rng::new(seed).nonzero_scalar();
        assert_gradient!(TOL, powi_negative, powi_negative_grad, x => (x));
    }
}

#[test]
fn powi_with_zero_exponent() {
    for seed in SEEDS {
        let x = Rng::new(seed).nonzero_scalar();
        assert_gradient!(TOL, powi_zero, powi_zero_grad, x => (x));
    }
}

#[test]
fn powi_call_form() {
    for seed in SEEDS {
        let x = Rng::new(seed).scalar();
        assert_gradient!(TOL, powi_call, powi_call_grad, x => (x));
    }
}

#[test]
fn powi_in_map() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, w) = (rng.matrix(), rng.matrix());
        assert_gradient!(TOL, powi_map, powi_map_grad, (a, w) => (&a, &w));
    }
}

// d xᵖ = p·xᵖ⁻¹ dx + xᵖ·ln x dp: both the base and the exponent are differentiated.
#[gradient]
fn powf_method(x: f64, p: f64) -> f64 {
    x.powf(p)
}

#[gradient]
fn powf_call(x: f64, p: f64) -> f64 {
    f64::powf(x, p)
}

#[gradient]
fn powf_literal(x: f64) -> f64 {
    x.powf(1.5)
}

#[gradient]
fn powf_map(a: &Matrix2x3<f64>, p: f64, w: &Matrix2x3<f64>) -> f64 {
    a.map(|v| v.powf(p)).dot(w)
}

#[test]
fn powf_in_base_and_exponent() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, p) = (rng.positive_scalar(), rng.scalar());
        assert_gradient!(TOL, powf_method, powf_method_grad, (x, p) => (x, p));
    }
}

#[test]
fn powf_at_a_zero_base() {
    // Away from 0 the slope p·xᵖ⁻¹ is computed as p·xᵖ/x, which cannot stand for it at x = 0:
    // there it is p·0ᵖ⁻¹ itself, 1 for p = 1, 0 for p > 1 and +∞ for 0 < p < 1.
    for (p, slope) in [(1.0, 1.0), (2.0, 0.0), (3.5, 0.0), (0.5, f64::INFINITY)] {
        let (value, (dx, _)) = powf_method_grad(0.0, p);
        assert_eq!(value, 0.0_f64.powf(p));
        assert_eq!(dx, slope, "d(xᵖ)/dx at x = 0 for p = {p}");
        let (_, dx) = powf_literal_grad(0.0);
        assert_eq!(dx, 0.0, "d(x^1.5)/dx at x = 0");
    }
}

#[test]
fn powf_call_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, p) = (rng.positive_scalar(), rng.scalar());
        assert_gradient!(TOL, powf_call, powf_call_grad, (x, p) => (x, p));
    }
}

#[test]
fn powf_with_literal_exponent() {
    for seed in SEEDS {
        let x = Rng::new(seed).positive_scalar();
        assert_gradient!(TOL, powf_literal, powf_literal_grad, x => (x));
    }
}

#[test]
fn powf_in_map_with_captured_exponent() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, p, w) = (rng.positive(), rng.scalar(), rng.matrix());
        assert_gradient!(TOL, powf_map, powf_map_grad, (a, p, w) => (&a, p, &w));
    }
}

// The runtime helpers, in every form the macro accepts.
#[gradient]
fn sigmoid_call(x: f64) -> f64 {
    sigmoid(x)
}

#[gradient]
fn sigmoid_path_call(x: f64) -> f64 {
    matgrad::sigmoid(x)
}

#[gradient]
fn softplus_call(x: f64) -> f64 {
    softplus(x)
}

#[gradient]
fn softplus_path_call(x: f64) -> f64 {
    matgrad::softplus(x)
}

#[test]
fn sigmoid_call_forms() {
    for seed in SEEDS {
        let x = 3.0 * Rng::new(seed).scalar();
        assert_gradient!(TOL, sigmoid_call, sigmoid_call_grad, x => (x));
        assert_gradient!(TOL, sigmoid_path_call, sigmoid_path_call_grad, x => (x));
    }
}

#[test]
fn softplus_call_forms() {
    for seed in SEEDS {
        let x = 3.0 * Rng::new(seed).scalar();
        assert_gradient!(TOL, softplus_call, softplus_call_grad, x => (x));
        assert_gradient!(TOL, softplus_path_call, softplus_path_call_grad, x => (x));
    }
}

#[gradient]
fn sigmoid_map_path(a: &Matrix2x3<f64>, w: &Matrix2x3<f64>) -> f64 {
    a.map(matgrad::sigmoid).dot(w)
}

#[gradient]
fn sigmoid_map_bare_path(a: &Matrix2x3<f64>, w: &Matrix2x3<f64>) -> f64 {
    a.map(sigmoid).dot(w)
}

#[gradient]
#[allow(clippy::redundant_closure)] // the closure form is what this test is about
fn sigmoid_map_closure(a: &Matrix2x3<f64>, w: &Matrix2x3<f64>) -> f64 {
    a.map(|v| sigmoid(v)).dot(w)
}

#[gradient]
fn softplus_map_path(a: &Matrix2x3<f64>, w: &Matrix2x3<f64>) -> f64 {
    a.map(matgrad::softplus).dot(w)
}

#[gradient]
#[allow(clippy::redundant_closure)] // the closure form is what this test is about
fn softplus_map_closure(a: &Matrix2x3<f64>, w: &Matrix2x3<f64>) -> f64 {
    a.map(|v| matgrad::softplus(v)).dot(w)
}

#[test]
fn sigmoid_map_forms() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, w) = (3.0 * rng.matrix::<2, 3>(), rng.matrix());
        assert_gradient!(TOL, sigmoid_map_path, sigmoid_map_path_grad, (a, w) => (&a, &w));
        assert_gradient!(
            TOL, sigmoid_map_bare_path, sigmoid_map_bare_path_grad, (a, w) => (&a, &w)
        );
        assert_gradient!(TOL, sigmoid_map_closure, sigmoid_map_closure_grad, (a, w) => (&a, &w));
    }
}

#[test]
fn softplus_map_forms() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, w) = (3.0 * rng.matrix::<2, 3>(), rng.matrix());
        assert_gradient!(TOL, softplus_map_path, softplus_map_path_grad, (a, w) => (&a, &w));
        assert_gradient!(
            TOL, softplus_map_closure, softplus_map_closure_grad, (a, w) => (&a, &w)
        );
    }
}

// Scalar methods on a reduction, chained.
#[gradient]
fn chained_scalar_methods(a: &Matrix3<f64>) -> f64 {
    let n = a.norm_squared();
    n.sqrt().ln().exp().sin().cos().tanh() + (1.0 + n).ln_1p().abs().powi(2).powf(0.5)
}

#[test]
fn scalar_methods_chained_on_a_reduction() {
    for seed in SEEDS {
        let a = Rng::new(seed).away_from_zero();
        assert_gradient!(TOL, chained_scalar_methods, chained_scalar_methods_grad, a => (&a));
    }
}

// A reduction divided by itself, and a reciprocal of a parameter.
#[gradient]
fn normalized(a: &Matrix2x3<f64>, w: &Matrix2x3<f64>, s: f64) -> f64 {
    (a / a.norm()).dot(w) + 1.0 / s + (a / s).sum() / a.norm_squared()
}

#[test]
fn division_by_a_differentiated_scalar() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, w, s) = (rng.away_from_zero(), rng.matrix(), rng.nonzero_scalar());
        assert_gradient!(TOL, normalized, normalized_grad, (a, w, s) => (&a, &w, s));
    }
}

// Float literals in their other spellings, on both sides of matrices and scalars. (`4f64`, a
// float literal without a point, is not covered: the macro rejects it as an integer literal.)
#[gradient]
fn literal_forms(a: &Matrix3<f64>, s: f64) -> f64 {
    (2.5_f64 * a + a * 1e-1 - a / 4.0E0).dot(&(0.5 * a)) + 3.0 * s - s * 2.0 + 1.0 / (s + 4.0)
}

#[test]
fn float_literal_spellings() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, s) = (rng.matrix(), rng.scalar());
        assert_gradient!(TOL, literal_forms, literal_forms_grad, (a, s) => (&a, s));
    }
}

// Each adjoint form (fill, identity, one-hot, negation) both declares an adjoint and
// accumulates into one: the reverse pass meets `norm_squared` first here, and `a - b` last.
#[gradient]
fn accumulation_forms(a: &Matrix3<f64>, b: &Matrix3<f64>) -> f64 {
    (b - a).sum() + a.sum() + a.mean() + a.trace() * a[(2, 1)] + (a - b).norm_squared()
}

#[test]
fn every_adjoint_form_accumulates() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.matrix(), rng.matrix());
        assert_gradient!(TOL, accumulation_forms, accumulation_forms_grad, (a, b) => (&a, &b));
    }
}

// A scalar that is subtracted before it is used again: `s̄ −= …` accumulates.
#[gradient]
fn scalar_negation_accumulates(s: f64, t: f64) -> f64 {
    (t - s) * s.exp() - (-s).sin() * t
}

#[test]
fn scalar_negative_contributions_accumulate() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (s, t) = (rng.scalar(), rng.scalar());
        assert_gradient!(
            TOL, scalar_negation_accumulates, scalar_negation_accumulates_grad, (s, t) => (s, t)
        );
    }
}

// `.into_owned()` is the identity for the macro.
#[gradient]
fn into_owned(a: &Matrix3<f64>, w: &Matrix3<f64>) -> f64 {
    let b = (a * 2.0).into_owned();
    b.dot(w) * b.into_owned().sum()
}

#[test]
fn into_owned_passes_through() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, w) = (rng.matrix(), rng.matrix());
        assert_gradient!(TOL, into_owned, into_owned_grad, (a, w) => (&a, &w));
    }
}

// ---- closures in `map` ---------------------------------------------------------------------

#[gradient]
fn map_capturing_parameter(x: &Matrix2x3<f64>, s: f64) -> f64 {
    x.map(|v| (v * s).exp()).sum()
}

#[test]
fn map_capturing_a_scalar_parameter() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, s) = (rng.matrix(), rng.scalar());
        assert_gradient!(
            TOL, map_capturing_parameter, map_capturing_parameter_grad, (x, s) => (&x, s)
        );
    }
}

// Two captures, one used twice and also outside the closure, a constant, and a block body.
#[gradient]
fn map_with_block_body(x: &Matrix3<f64>, w: &Vector4<f64>, t: f64) -> f64 {
    let s = w.norm();
    let y = x.map(|v| {
        let u = v * s - t;
        u * u + s * 0.5
    });
    y.sum() + s * t
}

#[test]
fn map_with_block_body_and_several_captures() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, w, t) = (rng.matrix(), rng.away_from_zero(), rng.scalar());
        assert_gradient!(
            TOL, map_with_block_body, map_with_block_body_grad, (x, w, t) => (&x, &w, t)
        );
    }
}

// A closure whose result does not depend on its argument: only the capture has a gradient.
#[gradient]
fn map_ignoring_entry(x: &Matrix2x3<f64>, s: f64) -> f64 {
    x.map(|_v| s * s).sum()
}

#[test]
fn map_closure_ignoring_its_entry() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, s) = (rng.matrix(), rng.scalar());
        let (_, (gx, _)) = map_ignoring_entry_grad(&x, s);
        assert_eq!(gx, Matrix2x3::zeros());
        assert_gradient!(TOL, map_ignoring_entry, map_ignoring_entry_grad, (x, s) => (&x, s));
    }
}

// A by-reference scalar parameter captured by the closure.
#[gradient]
#[allow(clippy::trivially_copy_pass_by_ref)] // `&f64` parameters are what this test is about
fn map_capturing_reference(x: &Matrix2x3<f64>, s: &f64) -> f64 {
    x.map(|v| (v - *s).tanh() * *s).sum()
}

#[test]
fn map_capturing_a_scalar_reference() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, s) = (rng.matrix(), rng.scalar());
        assert_gradient!(
            TOL, map_capturing_reference, map_capturing_reference_grad, (x, s) => (&x, &s)
        );
    }
}

// Only the captured scalar is differentiated; the mapped matrix is a constant.
#[gradient(wrt(s))]
fn map_of_constant(c: &Matrix3<f64>, s: f64) -> f64 {
    c.map(|v| (v * s).sin()).sum()
}

#[test]
fn map_differentiated_only_through_its_capture() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (c, s): (Matrix3<f64>, f64) = (rng.matrix(), rng.scalar());
        let (value, gs): (f64, f64) = map_of_constant_grad(&c, s);
        assert_eq!(value, map_of_constant(&c, s));
        matgrad::check_gradient(|s| map_of_constant(&c, *s), &s, &gs).assert_within(TOL);
    }
}

// A by-value matrix mapped, indexed and transposed.
#[gradient]
fn by_value_map(x: SMatrix<f64, 2, 2>, s: f64) -> f64 {
    x.map(|v| v * s + v.cos()).transpose()[(0, 1)] * x[(1, 0)]
}

#[test]
fn map_and_index_of_a_by_value_parameter() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, s) = (rng.matrix(), rng.scalar());
        assert_gradient!(TOL, by_value_map, by_value_map_grad, (x, s) => (x, s));
    }
}

// Maps of maps: the second closure sees the first one's results.
#[gradient]
fn map_of_map(x: &Matrix3<f64>, w: &Matrix3<f64>) -> f64 {
    x.map(f64::tanh).map(|v| v * v + v).dot(w)
}

#[test]
fn map_applied_twice() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, w) = (rng.matrix(), rng.matrix());
        assert_gradient!(TOL, map_of_map, map_of_map_grad, (x, w) => (&x, &w));
    }
}

// ---- indexing ------------------------------------------------------------------------------

#[gradient]
fn matrix_entry(m: &Matrix2x3<f64>) -> f64 {
    m[(1, 2)] * m[(0, 1)] + m[(1, 2)]
}

#[test]
fn index_of_matrix_entry() {
    for seed in SEEDS {
        let m = Rng::new(seed).matrix();
        assert_gradient!(TOL, matrix_entry, matrix_entry_grad, m => (&m));
    }
}

#[gradient]
fn entry_of_product(a: &Matrix3<f64>, b: &Matrix3<f64>) -> f64 {
    let c = a * b;
    c[(2, 0)] * c[(0, 2)]
}

#[test]
fn index_of_computed_matrix() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.matrix(), rng.matrix());
        assert_gradient!(TOL, entry_of_product, entry_of_product_grad, (a, b) => (&a, &b));
    }
}

// Regression: `v[i]` once kept `usize::MAX` as its column and panicked at run time.
#[gradient]
fn column_entry(v: &Vector4<f64>) -> f64 {
    v[1] * v[3]
}

#[test]
fn index_of_column_vector() {
    for seed in SEEDS {
        let v = Rng::new(seed).vector();
        assert_gradient!(TOL, column_entry, column_entry_grad, v => (&v));
    }
}

#[gradient]
fn row_entry(v: &RowVector3<f64>) -> f64 {
    v[0] * v[2]
}

#[test]
fn index_of_row_vector() {
    for seed in SEEDS {
        let v = Rng::new(seed).row();
        assert_gradient!(TOL, row_entry, row_entry_grad, v => (&v));
    }
}

// ---- bindings and control of the body ------------------------------------------------------

#[gradient]
fn shadowing(x: &Vector3<f64>) -> f64 {
    let y = x * 2.0;
    let y = y.component_mul(x);
    let x = y.sum();
    x * x
}

#[test]
fn let_with_shadowing() {
    for seed in SEEDS {
        let x = Rng::new(seed).vector();
        assert_gradient!(TOL, shadowing, shadowing_grad, x => (&x));
    }
}

#[gradient]
fn annotated(a: &Matrix2x3<f64>, x: &Vector3<f64>) -> f64 {
    let y: Vector3<f64> = a.transpose() * (a * x);
    let z: SMatrix<f64, 1, 1> = x.transpose() * y;
    let s: f64 = z[(0, 0)];
    s * s
}

#[test]
fn let_with_type_annotation() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x) = (rng.matrix(), rng.vector());
        assert_gradient!(TOL, annotated, annotated_grad, (a, x) => (&a, &x));
    }
}

#[gradient]
fn reassigned(a: &Matrix3<f64>, b: &Matrix3<f64>) -> f64 {
    let mut m = a * b;
    m = m.transpose() * a;
    m += b;
    m -= a * 0.5;
    m *= 2.0;
    m /= 3.0;
    let mut s = m.trace();
    s += b.sum();
    s *= s;
    s
}

#[test]
fn assignment_and_compound_assignment() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.matrix(), rng.matrix());
        assert_gradient!(TOL, reassigned, reassigned_grad, (a, b) => (&a, &b));
    }
}

#[gradient]
#[allow(clippy::needless_return)] // `return` is what this test is about
fn early_return(x: &Vector3<f64>) -> f64 {
    let y = x.map(f64::exp);
    return y.dot(x);
}

#[gradient]
#[allow(clippy::needless_return)] // `return` is what this test is about
fn return_without_semicolon(x: &Vector3<f64>) -> f64 {
    return x.norm_squared() * 0.5;
}

#[test]
fn return_statement() {
    for seed in SEEDS {
        let x = Rng::new(seed).vector();
        assert_gradient!(TOL, early_return, early_return_grad, x => (&x));
        assert_gradient!(TOL, return_without_semicolon, return_without_semicolon_grad, x => (&x));
    }
}

#[gradient]
fn block_expression(x: &Vector3<f64>) -> f64 {
    let y = {
        let t = x * 3.0;
        t.norm_squared()
    };
    y * x.sum()
}

#[test]
fn block_expression_with_inner_let() {
    for seed in SEEDS {
        let x = Rng::new(seed).vector();
        assert_gradient!(TOL, block_expression, block_expression_grad, x => (&x));
    }
}

// `mut` parameters rebound in the body, and a closure argument with a type annotation.
#[gradient]
fn mutable_parameters(mut s: f64, mut x: SMatrix<f64, 2, 2>) -> f64 {
    s *= 2.0;
    x += x.transpose() * s;
    x.map(|v: f64| v * s).norm_squared() + s
}

#[test]
fn mut_parameters_and_typed_closure_argument() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (s, x) = (rng.scalar(), rng.matrix());
        assert_gradient!(TOL, mutable_parameters, mutable_parameters_grad, (s, x) => (s, x));
    }
}

// User names that look like the generated locals (`__g0`, `__v1`, `__m0_x`) do not collide.
#[gradient]
#[allow(clippy::used_underscore_binding)] // names like the generated ones are the point
fn generated_looking_names(__g0: &Vector3<f64>, __v1: f64) -> f64 {
    let __v2 = __g0 * __v1;
    let __g3 = __v2.map(|__m0_x| __m0_x * __v1);
    __g3.sum() * __v2.norm()
}

#[test]
fn generated_locals_are_hygienic() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, s) = (rng.away_from_zero(), rng.nonzero_scalar());
        assert_gradient!(
            TOL, generated_looking_names, generated_looking_names_grad, (x, s) => (&x, s)
        );
    }
}

// Reductions and maps of a row vector.
#[gradient]
fn row_vector_reductions(r: &RowVector3<f64>) -> f64 {
    r.map(f64::sin).mean() * r.norm() + r.transpose().sum()
}

#[test]
fn row_vector_map_mean_and_norm() {
    for seed in SEEDS {
        let r = Rng::new(seed).away_from_zero();
        assert_gradient!(TOL, row_vector_reductions, row_vector_reductions_grad, r => (&r));
    }
}

// ---- literals, constants and integer parameters --------------------------------------------

/// A module-level constant, read by name inside a `#[gradient]` body.
const HALF: f64 = 0.5;

#[gradient]
fn constants(x: &Vector3<f64>) -> f64 {
    let angle = x.sum() * std::f64::consts::PI;
    angle.sin() * HALF + 1.25 * x.norm_squared() - f64::EPSILON
}

#[test]
fn float_literals_and_constants() {
    for seed in SEEDS {
        let x = Rng::new(seed).vector();
        assert_gradient!(TOL, constants, constants_grad, x => (&x));
    }
}

#[gradient]
#[allow(clippy::cast_lossless)] // the macro reads `n as f64`; `f64::from(n)` is not in its language
fn integer_parameter(x: &Vector3<f64>, n: i32) -> f64 {
    let s = x.sum();
    s.powi(n) / (n as f64) + x.map(|v| v.powi(n + 1) * (n as f64)).sum()
}

#[test]
fn integer_parameter_in_cast_and_powi() {
    for seed in SEEDS {
        let x = Rng::new(seed).vector();
        for n in [1, 2, 3, -1] {
            let (value, grad) = integer_parameter_grad(&x, n);
            assert_eq!(value, integer_parameter(&x, n));
            matgrad::check_gradient(|x| integer_parameter(x, n), &x, &grad).assert_within(TOL);
        }
    }
}

// Not covered: an integer parameter taken by reference (`n: &i32`). The macro rejects
// `*n as f64` and `.powi(*n)`, the only spellings Rust accepts for it, so such a function does
// not compile.

// ---- parameters used several times, or not at all ------------------------------------------

#[gradient]
fn self_dot(x: &Vector4<f64>) -> f64 {
    x.dot(x)
}

#[gradient]
fn self_product_trace(a: &Matrix3<f64>) -> f64 {
    (a * a).trace()
}

#[gradient]
fn quadratic_form(x: &Vector3<f64>, a: &Matrix3<f64>) -> f64 {
    (x.transpose() * a * x)[(0, 0)]
}

#[gradient]
fn self_hadamard(a: &Matrix2x3<f64>) -> f64 {
    a.component_mul(a).component_div(&a.map(f64::exp)).sum() + a.transpose().dot(&a.transpose())
}

#[test]
fn repeated_parameter_accumulates_in_dot() {
    for seed in SEEDS {
        let x = Rng::new(seed).vector();
        assert_gradient!(TOL, self_dot, self_dot_grad, x => (&x));
    }
}

#[test]
fn repeated_parameter_accumulates_in_product() {
    for seed in SEEDS {
        let a = Rng::new(seed).matrix();
        assert_gradient!(TOL, self_product_trace, self_product_trace_grad, a => (&a));
    }
}

#[test]
fn repeated_parameter_accumulates_in_quadratic_form() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, a) = (rng.vector(), rng.matrix());
        assert_gradient!(TOL, quadratic_form, quadratic_form_grad, (x, a) => (&x, &a));
    }
}

#[test]
fn repeated_parameter_accumulates_through_elementwise_rules() {
    for seed in SEEDS {
        let a = Rng::new(seed).matrix();
        assert_gradient!(TOL, self_hadamard, self_hadamard_grad, a => (&a));
    }
}

#[gradient]
#[allow(unused_variables)] // unused parameters are what this test is about
fn ignores_y(x: &Matrix2x3<f64>, y: &Matrix3<f64>, s: f64) -> f64 {
    x.norm_squared()
}

#[gradient]
#[allow(unused_variables)] // dead bindings are what this test is about
fn dead_binding(x: &Matrix2x3<f64>, y: &Matrix3<f64>, s: f64) -> f64 {
    let unused = y.map(|v| (v * s).exp()).sum();
    let shadowed = y.trace() * s;
    let shadowed = x.sum();
    shadowed * shadowed
}

#[gradient(wrt(y))]
#[allow(unused_variables)] // an unused parameter is what this test is about
fn ignores_the_only_wrt(x: &Matrix2x3<f64>, y: &Matrix3<f64>) -> f64 {
    x.norm()
}

#[test]
fn unused_parameter_has_exactly_zero_gradient() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, y, s) = (rng.matrix(), rng.matrix(), rng.scalar());
        let (_, (_, gy, gs)) = ignores_y_grad(&x, &y, s);
        assert_eq!(gy, Matrix3::zeros());
        assert!(gs == 0.0, "{gs}");
        assert_gradient!(TOL, ignores_y, ignores_y_grad, (x, y, s) => (&x, &y, s));
    }
}

#[test]
fn dead_binding_has_exactly_zero_gradient() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, y, s) = (rng.matrix(), rng.matrix(), rng.scalar());
        let (_, (_, gy, gs)) = dead_binding_grad(&x, &y, s);
        assert_eq!(gy, Matrix3::zeros());
        assert!(gs == 0.0, "{gs}");
        assert_gradient!(TOL, dead_binding, dead_binding_grad, (x, y, s) => (&x, &y, s));
    }
}

#[test]
fn unused_wrt_parameter_has_exactly_zero_gradient() {
    let mut rng = Rng::new(7);
    let (x, y): (Matrix2x3<f64>, Matrix3<f64>) = (rng.matrix(), rng.matrix());
    let (value, gy) = ignores_the_only_wrt_grad(&x, &y);
    assert_eq!(value, ignores_the_only_wrt(&x, &y));
    assert_eq!(gy, Matrix3::zeros());
}

// ---- which gradients are returned, in which order ------------------------------------------

#[gradient(wrt(b, a))]
fn reversed_wrt(a: &Matrix3<f64>, b: &Matrix3<f64>, c: &Matrix3<f64>) -> f64 {
    (a * b).dot(c)
}

#[test]
fn wrt_order_is_respected() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b, c): (Matrix3<f64>, Matrix3<f64>, Matrix3<f64>) =
            (rng.matrix(), rng.matrix(), rng.matrix());
        let (value, (gb, ga)) = reversed_wrt_grad(&a, &b, &c);
        assert_eq!(value, reversed_wrt(&a, &b, &c));
        matgrad::check_gradient(
            |p: &(Matrix3<f64>, Matrix3<f64>)| reversed_wrt(&p.1, &p.0, &c),
            &(b, a),
            &(gb, ga),
        )
        .assert_within(TOL);
    }
}

#[gradient(wrt(x))]
fn single_wrt(a: &Matrix2x3<f64>, x: &Vector3<f64>) -> f64 {
    (a * x).map(f64::tanh).sum()
}

#[test]
fn single_wrt_returns_the_bare_gradient() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x): (Matrix2x3<f64>, Vector3<f64>) = (rng.matrix(), rng.vector());
        // The annotation is the test: a one-element tuple would not compile.
        let (value, gx): (f64, Vector3<f64>) = single_wrt_grad(&a, &x);
        assert_eq!(value, single_wrt(&a, &x));
        matgrad::check_gradient(|x| single_wrt(&a, x), &x, &gx).assert_within(TOL);
    }
}

#[gradient]
fn single_float_parameter(x: &Vector3<f64>, n: usize, _flag: bool) -> f64 {
    x.norm_squared() * (n as f64)
}

#[test]
fn integer_and_bool_parameters_are_not_differentiated() {
    let x = Rng::new(11).vector();
    let (value, gx): (f64, Vector3<f64>) = single_float_parameter_grad(&x, 3, true);
    assert_eq!(value, single_float_parameter(&x, 3, true));
    matgrad::check_gradient(|x| single_float_parameter(x, 3, true), &x, &gx).assert_within(TOL);
}

// ---- parameter kinds -----------------------------------------------------------------------

#[gradient]
fn by_value(x: SMatrix<f64, 3, 3>, y: SVector<f64, 3>, s: f64) -> f64 {
    (x * y).norm() * s + x.transpose().dot(&x) * y.sum()
}

#[test]
fn by_value_parameters() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, y, s) = (rng.matrix(), rng.away_from_zero(), rng.scalar());
        assert_gradient!(TOL, by_value, by_value_grad, (x, y, s) => (x, y, s));
    }
}

#[gradient]
#[allow(clippy::trivially_copy_pass_by_ref)] // `&f64` parameters are what this test is about
fn scalar_references(s: &f64, t: &f64, a: &Vector3<f64>) -> f64 {
    *s * a.sum() + t.sin() * *s + (*t * a).norm_squared()
}

#[test]
fn scalar_parameters_by_reference() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (s, t, a) = (rng.scalar(), rng.scalar(), rng.vector());
        assert_gradient!(TOL, scalar_references, scalar_references_grad, (s, t, a) => (&s, &t, &a));
    }
}

#[gradient]
fn scalar_parameters_only(s: f64, t: f64) -> f64 {
    s * t + s.exp() - t / (1.0 + s * s)
}

#[test]
fn scalar_parameters_by_value() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (s, t) = (rng.scalar(), rng.scalar());
        assert_gradient!(TOL, scalar_parameters_only, scalar_parameters_only_grad, (s, t) => (s, t));
    }
}

#[gradient]
fn identity(s: f64) -> f64 {
    s
}

#[test]
fn parameter_returned_as_is() {
    let (value, g) = identity_grad(0.25);
    assert_eq!(value, identity(0.25));
    assert!(g == 1.0, "{g}");
}

#[gradient]
fn aliases(
    a: &Matrix3<f64>,
    b: &Matrix2x3<f64>,
    v: &Vector4<f64>,
    r: &RowVector3<f64>,
    u: &RowSVector<f64, 4>,
) -> f64 {
    (r * a * b.transpose()).sum() * (u * v)[(0, 0)] + (b * a).norm_squared()
}

#[test]
fn nalgebra_aliases() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b, v, r, u) = (
            rng.matrix(),
            rng.matrix(),
            rng.vector(),
            rng.row(),
            rng.row(),
        );
        assert_gradient!(TOL, aliases, aliases_grad, (a, b, v, r, u) => (&a, &b, &v, &r, &u));
    }
}

#[gradient]
fn path_prefix(
    a: &matgrad::nalgebra::SMatrix<f64, 2, 2>,
    x: &matgrad::nalgebra::Vector2<f64>,
    y: matgrad::nalgebra::base::RowSVector<f64, 2>,
) -> f64 {
    (y * a * x)[(0, 0)].tanh()
}

#[test]
fn types_under_a_path_prefix() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, x, y) = (rng.matrix(), rng.vector(), rng.row());
        assert_gradient!(TOL, path_prefix, path_prefix_grad, (a, x, y) => (&a, &x, y));
    }
}

// ---- f32 -----------------------------------------------------------------------------------

#[gradient]
fn f32_layer(w: &SMatrix<f32, 3, 4>, x: &SVector<f32, 4>, y: &SVector<f32, 3>) -> f32 {
    let s = (w * x).map(sigmoid);
    0.5 * (s - y).norm_squared()
}

#[gradient]
fn f32_rules(a: &SMatrix<f32, 2, 3>, b: &SMatrix<f32, 3, 2>, s: f32, n: i32) -> f32 {
    let p = a * b;
    let q = (p.transpose() / s).component_mul(&p) - p * 0.5;
    q.trace() + a.mean() * (n as f32) + b.map(f32::tanh).norm() + std::f32::consts::PI * s.powi(n)
}

#[gradient]
fn f32_scalar_functions(x: f32, y: f32) -> f32 {
    x.exp().ln_1p() + y.abs().sqrt() * x.sin() - x.cos().powf(2.0) + softplus(y) / 2.0
}

#[test]
fn f32_network_layer() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (w, x, y) = (rng.matrix_f32(), rng.matrix_f32(), rng.matrix_f32());
        assert_gradient!(TOL_F32, f32_layer, f32_layer_grad, (w, x, y) => (&w, &x, &y));
    }
}

#[test]
fn f32_matrix_rules() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (a, b) = (rng.matrix_f32(), rng.matrix_f32());
        let s = rng.nonzero_scalar() as f32;
        for n in [1, 2] {
            let (value, grad) = f32_rules_grad(&a, &b, s, n);
            assert_eq!(value, f32_rules(&a, &b, s, n));
            matgrad::check_gradient(
                |p: &(SMatrix<f32, 2, 3>, SMatrix<f32, 3, 2>, f32)| f32_rules(&p.0, &p.1, p.2, n),
                &(a, b, s),
                &grad,
            )
            .assert_within(TOL_F32);
        }
    }
}

#[test]
fn f32_scalar_function_rules() {
    for seed in SEEDS {
        let mut rng = Rng::new(seed);
        let (x, y) = (rng.scalar() as f32, rng.nonzero_scalar() as f32);
        assert_gradient!(TOL_F32, f32_scalar_functions, f32_scalar_functions_grad, (x, y) => (x, y));
    }
}

/// Traces of product chains are differentiated as one operation (each factor's gradient is the
/// product of the others in cyclic order); every orientation of neighbouring factors, shared
/// factors and non-square shapes must still give the gradient of the chain as written.
mod trace_chains {
    use super::*;

    #[gradient]
    fn transposed_neighbours(
        a: &SMatrix<f64, 3, 2>,
        b: &SMatrix<f64, 4, 3>,
        x: &SMatrix<f64, 2, 4>,
    ) -> f64 {
        (a.transpose() * b.transpose() * x.transpose()).trace()
    }

    #[gradient]
    fn repeated_factor(x: &SMatrix<f64, 3, 3>, b: &SMatrix<f64, 3, 3>) -> f64 {
        (x * b * x * x.transpose()).trace()
    }

    #[gradient(wrt(x))]
    fn rectangular_quadratic(
        a: &SMatrix<f64, 2, 4>,
        x: &SMatrix<f64, 4, 3>,
        b: &SMatrix<f64, 3, 3>,
        c: &SMatrix<f64, 4, 2>,
    ) -> f64 {
        let left = a * x;
        (left * b * x.transpose() * c).trace()
    }

    #[gradient]
    fn chain_beside_other_uses(a: &SMatrix<f64, 3, 3>, x: &SMatrix<f64, 3, 3>) -> f64 {
        let p = a * x;
        (p * a * x).trace() + p.sum()
    }

    #[test]
    fn transposed_neighbours_match_finite_differences() {
        for seed in SEEDS {
            let mut rng = Rng::new(seed);
            let (a, b, x) = (rng.matrix(), rng.matrix(), rng.matrix());
            assert_gradient!(TOL, transposed_neighbours, transposed_neighbours_grad, (a, b, x) => (&a, &b, &x));
        }
    }

    #[test]
    fn a_factor_used_three_times_accumulates() {
        for seed in SEEDS {
            let mut rng = Rng::new(seed);
            let (x, b) = (rng.matrix(), rng.matrix());
            assert_gradient!(TOL, repeated_factor, repeated_factor_grad, (x, b) => (&x, &b));
        }
    }

    #[test]
    fn rectangular_factors_match_finite_differences() {
        for seed in SEEDS {
            let mut rng = Rng::new(seed);
            let (a, x, b, c) = (rng.matrix(), rng.matrix(), rng.matrix(), rng.matrix());
            assert_gradient!(TOL, rectangular_quadratic, rectangular_quadratic_grad, x => (&a, &x, &b, &c));
        }
    }

    #[test]
    fn a_product_used_elsewhere_stays_a_product() {
        for seed in SEEDS {
            let mut rng = Rng::new(seed);
            let (a, x) = (rng.matrix(), rng.matrix());
            assert_gradient!(TOL, chain_beside_other_uses, chain_beside_other_uses_grad, (a, x) => (&a, &x));
        }
    }
}

/// The norm at zero: its kink gets the subgradient 0, not 0/0.
mod norm_at_zero {
    use super::common::{Rng, SEEDS, assert_close};
    use matgrad::gradient;
    use matgrad::nalgebra::Vector3;

    #[gradient]
    fn distance(a: &Vector3<f64>, b: &Vector3<f64>) -> f64 {
        (a - b).norm()
    }

    #[test]
    fn the_norm_of_zero_has_gradient_zero() {
        for seed in SEEDS {
            let a: Vector3<f64> = Rng::new(seed).vector();
            let (value, (ga, gb)) = distance_grad(&a, &a);
            assert_eq!(value, 0.0);
            assert_eq!((ga, gb), (Vector3::zeros(), Vector3::zeros()));
            // Away from zero: ∇a = (a − b)/‖a − b‖ = −∇b.
            let b = a + Vector3::new(0.3, -0.2, 0.1);
            let (value, (ga, gb)) = distance_grad(&a, &b);
            assert_eq!(value, distance(&a, &b));
            let unit = (a - b) / (a - b).norm();
            assert_close(&ga, &unit, 1e-14);
            assert_close(&gb, &-unit, 1e-14);
        }
    }
}
