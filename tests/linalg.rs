//! The linear-algebra rules of `#[gradient]` against closed forms and finite differences.
//!
//! Every identity is checked three ways on random inputs from a small deterministic generator,
//! over several seeds and, where the identity holds at any size, at several sizes: the gradient
//! matches the closed form to 1e-10 relative, it matches central differences of the original
//! function (`matgrad::check_gradient`), and `{name}_grad` returns the original value (to
//! rounding: the generated code may evaluate tr(A·B) without forming A·B).
//!
//! Sources: the Matrix Cookbook (Petersen and Pedersen, 2012), eqs (49)–(64) on determinants and
//! inverses and eqs (120)–(122) on Kronecker products and traces of powers; M. B. Giles, "An
//! extended collection of matrix derivative results for forward and reverse mode algorithmic
//! differentiation" (2008), for the reverse-mode rules of the product, the inverse, the
//! determinant, a linear solve and the quadratic forms. A matrix rule Z = f(A) is
//! read out through a scalar loss ⟨W, Z⟩ with a random W, so Z̄ = W in Giles' notation and a
//! gradient that is transposed, negated or summed into the wrong entry cannot pass.

// Exact float comparisons are intended here: determinants that must be exactly zero and
// gradients that must be identical.
#![allow(clippy::float_cmp)]

use std::panic::{self, AssertUnwindSafe};

use matgrad::nalgebra::{Const, DimMin, SMatrix};
use matgrad::{Point, gradient};

/// The seeds every randomised test runs with.
const SEEDS: [u64; 4] = [1, 2, 3, 0x5eed_2008];

/// Closed forms must agree to this relative error: ‖actual − expected‖ / max(1, ‖expected‖).
const CLOSED_FORM: f64 = 1e-10;

/// Central differences must agree to this relative error (the measure of `check_gradient`).
const FINITE_DIFFERENCE: f64 = 1e-6;

/// `{name}_grad`'s value must agree with `{name}`'s to this relative error: rounding only.
const VALUE: f64 = 1e-13;

/// The splitmix64 generator (Steele, Lea and Flood, 2014): tiny and the same on every platform,
/// so a failing seed reproduces anywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [−1, 1), from the top 53 bits.
    fn scalar(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64 * 2.0 - 1.0
    }

    /// Entries uniform in [−1, 1).
    fn matrix<const R: usize, const C: usize>(&mut self) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|_, _| self.scalar())
    }

    /// I + R/(n + 1) with R as in [`matrix`](Self::matrix), its rows rotated up by one, and its
    /// first row negated if that makes the determinant positive.
    ///
    /// Since ‖R‖₂ ≤ ‖R‖_F ≤ n, every singular value of I + R/(n + 1) lies in
    /// [1/(n + 1), (2n + 1)/(n + 1)], and permuting and negating rows keeps them, so the
    /// condition number is at most 2n + 1 while the entries stay O(1), where central differences
    /// are accurate. The rotation moves the large entries off the diagonal, so every LU
    /// factorisation must pivot (a diagonally dominant input would never exercise the
    /// permutation).
    fn well_conditioned<const N: usize>(&mut self) -> SMatrix<f64, N, N>
    where
        Const<N>: DimMin<Const<N>, Output = Const<N>>,
    {
        let dominant = SMatrix::<f64, N, N>::identity() + self.matrix::<N, N>() / (N as f64 + 1.0);
        let mut x = SMatrix::<f64, N, N>::from_fn(|i, j| dominant[((i + 1) % N, j)]);
        if x.determinant() < 0.0 {
            x.row_mut(0).neg_mut();
        }
        x
    }

    /// Mᵀ·M + n·I: symmetric positive definite with eigenvalues in [n, n + n²].
    fn spd<const N: usize>(&mut self) -> SMatrix<f64, N, N> {
        let m = self.matrix::<N, N>();
        m.transpose() * m + SMatrix::<f64, N, N>::identity() * N as f64
    }
}

/// The gradient from a `{name}_grad` result, after checking that its value is the original
/// function's, up to rounding.
#[track_caller]
fn gradient_of<G>((value, gradient): (f64, G), original: f64) -> G {
    let error = (value - original).abs() / original.abs().max(1.0);
    assert!(
        error <= VALUE,
        "`_grad` returned {value:e}, the function {original:e}"
    );
    gradient
}

#[track_caller]
fn assert_close<const R: usize, const C: usize>(
    actual: &SMatrix<f64, R, C>,
    expected: &SMatrix<f64, R, C>,
) {
    let error = (actual - expected).norm() / expected.norm().max(1.0);
    assert!(
        error <= CLOSED_FORM,
        "relative error {error:e}; actual{actual}expected{expected}"
    );
}

#[track_caller]
fn assert_close_scalar(actual: f64, expected: f64) {
    let error = (actual - expected).abs() / expected.abs().max(1.0);
    assert!(
        error <= CLOSED_FORM,
        "relative error {error:e}: actual {actual}, expected {expected}"
    );
}

/// Compares `gradient` with central differences of `f` at `x`.
#[track_caller]
fn assert_finite_differences<P: Point>(f: impl Fn(&P) -> f64, x: &P, gradient: &P) {
    matgrad::check_gradient(f, x, gradient).assert_within(FINITE_DIFFERENCE);
}

/// A⁻¹ of a test input known to be invertible.
fn inv<const N: usize>(a: &SMatrix<f64, N, N>) -> SMatrix<f64, N, N>
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    a.try_inverse().expect("test inputs are invertible")
}

/// A⁻ᵀ of a test input known to be invertible.
fn inv_t<const N: usize>(a: &SMatrix<f64, N, N>) -> SMatrix<f64, N, N>
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    inv(a).transpose()
}

/// Σ_{r<k} (XʳAXᵏ⁻ʳ⁻¹)ᵀ, the gradient of tr(AXᵏ) with respect to X (Cookbook eq. 122).
fn trace_power_product_gradient<const N: usize>(
    a: &SMatrix<f64, N, N>,
    x: &SMatrix<f64, N, N>,
    k: u32,
) -> SMatrix<f64, N, N>
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    (0..k)
        .map(|r| (x.pow(r) * a * x.pow(k - r - 1)).transpose())
        .sum()
}

/// The cofactor matrix, entry by entry from the minors: Cᵢⱼ = (−1)ⁱ⁺ʲ·det(X without row i and
/// column j). A macro rather than a function because the minors are (n − 1)×(n − 1), a size a
/// const-generic function cannot name.
macro_rules! cofactors {
    ($x:expr) => {{
        let x = $x;
        x.map_with_location(|i, j, _| {
            let sign = if (i + j) % 2 == 0 { 1.0 } else { -1.0 };
            sign * x.remove_row(i).remove_column(j).determinant()
        })
    }};
}

/// The message of the panic `f` raises.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(f))
        .err()
        .expect("the call should panic");
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        panic!("the panic payload is not a string")
    }
}

// ---- Matrix Cookbook (49)–(64): determinants and inverses -----------------------------------

/// The determinant and inverse identities at one size n.
macro_rules! cookbook_at_size {
    ($size:ident, $n:tt) => {
        mod $size {
            use super::*;

            use matgrad::nalgebra::SVector;

            type M = SMatrix<f64, $n, $n>;
            type V = SVector<f64, $n>;
            type Wide = SMatrix<f64, 2, $n>;
            type Tall = SMatrix<f64, $n, 2>;

            #[gradient]
            fn det(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.determinant()
            }

            // ∂ det X = det(X)·X⁻ᵀ
            #[test]
            fn det_gradient_is_det_times_inverse_transpose() {
                for seed in SEEDS {
                    let x: M = Rng::new(seed).well_conditioned();
                    let g = gradient_of(det_grad(&x), det(&x));
                    assert_close(&g, &(x.determinant() * inv_t(&x)));
                    assert_finite_differences(det, &x, &g);
                }
            }

            #[gradient]
            fn det_of_product(
                a: &SMatrix<f64, $n, $n>,
                x: &SMatrix<f64, $n, $n>,
                b: &SMatrix<f64, $n, $n>,
            ) -> f64 {
                (a * x * b).determinant()
            }

            // ∂ det(AXB) / ∂X = det(AXB)·X⁻ᵀ, and by symmetry the same form for A and B
            #[test]
            fn det_of_product_gradient_is_det_times_inverse_transpose() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, x, b): (M, M, M) = (
                        rng.well_conditioned(),
                        rng.well_conditioned(),
                        rng.well_conditioned(),
                    );
                    let g =
                        gradient_of(det_of_product_grad(&a, &x, &b), det_of_product(&a, &x, &b));
                    let d = (a * x * b).determinant();
                    assert_close(&g.0, &(d * inv_t(&a)));
                    assert_close(&g.1, &(d * inv_t(&x)));
                    assert_close(&g.2, &(d * inv_t(&b)));
                    let f = |p: &(M, M, M)| det_of_product(&p.0, &p.1, &p.2);
                    assert_finite_differences(f, &(a, x, b), &g);
                }
            }

            #[gradient]
            fn ln_det(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.determinant().ln()
            }

            // ∂ ln det X = X⁻ᵀ
            #[test]
            fn ln_det_gradient_is_inverse_transpose() {
                for seed in SEEDS {
                    let x: M = Rng::new(seed).well_conditioned();
                    let g = gradient_of(ln_det_grad(&x), ln_det(&x));
                    assert_close(&g, &inv_t(&x));
                    assert_finite_differences(ln_det, &x, &g);
                }
            }

            #[gradient]
            fn ln_abs_det(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.determinant().abs().ln()
            }

            // ∂ ln |det X| = X⁻ᵀ, also where det X < 0
            #[test]
            fn ln_abs_det_gradient_is_inverse_transpose_for_negative_det() {
                for seed in SEEDS {
                    let mut x: M = Rng::new(seed).well_conditioned();
                    x.row_mut(0).neg_mut();
                    assert!(x.determinant() < 0.0);
                    let g = gradient_of(ln_abs_det_grad(&x), ln_abs_det(&x));
                    assert_close(&g, &inv_t(&x));
                    assert_finite_differences(ln_abs_det, &x, &g);
                }
            }

            #[gradient]
            fn det_of_square(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.pow(2).determinant()
            }

            #[gradient]
            fn det_of_cube(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.pow(3).determinant()
            }

            #[gradient]
            fn det_of_power(x: &SMatrix<f64, $n, $n>, k: u32) -> f64 {
                x.pow(k).determinant()
            }

            // ∂ det(Xᵏ) = k·det(Xᵏ)·X⁻ᵀ
            #[test]
            fn det_of_power_gradient_is_k_det_times_inverse_transpose() {
                for seed in SEEDS {
                    let x: M = Rng::new(seed).well_conditioned();
                    let expected = |k: u32| f64::from(k) * x.pow(k).determinant() * inv_t(&x);
                    let g = gradient_of(det_of_square_grad(&x), det_of_square(&x));
                    assert_close(&g, &expected(2));
                    assert_finite_differences(det_of_square, &x, &g);
                    let g = gradient_of(det_of_cube_grad(&x), det_of_cube(&x));
                    assert_close(&g, &expected(3));
                    assert_finite_differences(det_of_cube, &x, &g);
                    for k in 0..=4 {
                        let g = gradient_of(det_of_power_grad(&x, k), det_of_power(&x, k));
                        assert_close(&g, &expected(k));
                        assert_finite_differences(|x: &M| det_of_power(x, k), &x, &g);
                    }
                }
            }

            #[gradient]
            fn det_of_inverse(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.try_inverse().unwrap().determinant()
            }

            // ∂ det(X⁻¹) = −det(X⁻¹)·X⁻ᵀ
            #[test]
            fn det_of_inverse_gradient_is_minus_det_times_inverse_transpose() {
                for seed in SEEDS {
                    let x: M = Rng::new(seed).well_conditioned();
                    let g = gradient_of(det_of_inverse_grad(&x), det_of_inverse(&x));
                    assert_close(&g, &(-inv(&x).determinant() * inv_t(&x)));
                    assert_finite_differences(det_of_inverse, &x, &g);
                }
            }

            #[gradient]
            fn bilinear_inverse(
                a: &SVector<f64, $n>,
                x: &SMatrix<f64, $n, $n>,
                b: &SVector<f64, $n>,
            ) -> f64 {
                a.dot(&(x.try_inverse().unwrap() * b))
            }

            // ∂ aᵀX⁻¹b / ∂X = −X⁻ᵀabᵀX⁻ᵀ, ∂/∂a = X⁻¹b, ∂/∂b = X⁻ᵀa
            #[test]
            fn bilinear_inverse_gradient_is_minus_inverse_transpose_outer_product() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, x, b): (V, M, V) = (rng.matrix(), rng.well_conditioned(), rng.matrix());
                    let g = gradient_of(
                        bilinear_inverse_grad(&a, &x, &b),
                        bilinear_inverse(&a, &x, &b),
                    );
                    assert_close(&g.0, &(inv(&x) * b));
                    assert_close(&g.1, &(-inv_t(&x) * a * b.transpose() * inv_t(&x)));
                    assert_close(&g.2, &(inv_t(&x) * a));
                    let f = |p: &(V, M, V)| bilinear_inverse(&p.0, &p.1, &p.2);
                    assert_finite_differences(f, &(a, x, b), &g);
                }
            }

            #[gradient]
            fn trace_of_sandwiched_inverse(
                a: &SMatrix<f64, 2, $n>,
                x: &SMatrix<f64, $n, $n>,
                b: &SMatrix<f64, $n, 2>,
            ) -> f64 {
                (a * x.try_inverse().unwrap() * b).trace()
            }

            // ∂ tr(AX⁻¹B) / ∂X = −(X⁻¹BAX⁻¹)ᵀ, ∂/∂A = (X⁻¹B)ᵀ, ∂/∂B = (AX⁻¹)ᵀ
            #[test]
            fn trace_of_sandwiched_inverse_gradient_is_minus_transposed_sandwich() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, x, b): (Wide, M, Tall) =
                        (rng.matrix(), rng.well_conditioned(), rng.matrix());
                    let g = gradient_of(
                        trace_of_sandwiched_inverse_grad(&a, &x, &b),
                        trace_of_sandwiched_inverse(&a, &x, &b),
                    );
                    let xi = inv(&x);
                    assert_close(&g.0, &(xi * b).transpose());
                    assert_close(&g.1, &(-(xi * b * a * xi).transpose()));
                    assert_close(&g.2, &(a * xi).transpose());
                    let f = |p: &(Wide, M, Tall)| trace_of_sandwiched_inverse(&p.0, &p.1, &p.2);
                    assert_finite_differences(f, &(a, x, b), &g);
                }
            }

            #[gradient]
            fn trace_of_inverse_of_sum(x: &SMatrix<f64, $n, $n>, a: &SMatrix<f64, $n, $n>) -> f64 {
                (x + a).try_inverse().unwrap().trace()
            }

            // ∂ tr((X + A)⁻¹) / ∂X = −((X + A)⁻¹(X + A)⁻¹)ᵀ, and the same for A
            #[test]
            fn trace_of_inverse_of_sum_gradient_is_minus_transposed_squared_inverse() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (x, a): (M, M) = (rng.well_conditioned(), rng.well_conditioned());
                    let g = gradient_of(
                        trace_of_inverse_of_sum_grad(&x, &a),
                        trace_of_inverse_of_sum(&x, &a),
                    );
                    let s = inv(&(x + a));
                    let expected = -(s * s).transpose();
                    assert_close(&g.0, &expected);
                    assert_close(&g.1, &expected);
                    let f = |p: &(M, M)| trace_of_inverse_of_sum(&p.0, &p.1);
                    assert_finite_differences(f, &(x, a), &g);
                }
            }

            // A matrix with a zero row has rank n − 1 at most and det exactly 0 (no rounding in
            // any algorithm), but a nonzero determinant gradient: the cofactors of that row.
            #[test]
            fn det_gradient_of_rank_deficient_matrix_is_its_cofactor_matrix() {
                for seed in SEEDS {
                    for row in 0..$n {
                        let mut x: M = Rng::new(seed).well_conditioned();
                        x.row_mut(row).fill(0.0);
                        assert_eq!(x.determinant(), 0.0);
                        let g = gradient_of(det_grad(&x), det(&x));
                        let expected: M = cofactors!(x);
                        assert!(expected.norm() > 0.1);
                        assert_close(&g, &expected);
                        assert_finite_differences(det, &x, &g);
                    }
                }
            }
        }
    };
}

mod cookbook {
    use super::*;

    cookbook_at_size!(n1, 1);
    cookbook_at_size!(n2, 2);
    cookbook_at_size!(n3, 3);
    cookbook_at_size!(n4, 4);
    cookbook_at_size!(n5, 5);
}

// ---- Kronecker products (Cookbook 120; Āᵢⱼ = ⟨Z̄₍ᵢⱼ₎, B⟩, B̄ = Σ Aᵢⱼ·Z̄₍ᵢⱼ₎) -------------------------

mod kronecker {
    use super::*;
    use matgrad::nalgebra::{Matrix2, Matrix3, SMatrix};

    type A = SMatrix<f64, 2, 3>;
    type B = SMatrix<f64, 4, 2>;
    type C = SMatrix<f64, 8, 6>;

    #[gradient]
    fn trace_of_product(a: &Matrix2<f64>, b: &Matrix3<f64>) -> f64 {
        a.kronecker(b).trace()
    }

    // tr(A⊗B) = tr A·tr B ⇒ ∇A = tr B·I, ∇B = tr A·I
    #[test]
    fn trace_of_kronecker_product_is_product_of_traces() {
        for seed in SEEDS {
            let mut rng = Rng::new(seed);
            let (a, b): (Matrix2<f64>, Matrix3<f64>) = (rng.matrix(), rng.matrix());
            let g = gradient_of(trace_of_product_grad(&a, &b), trace_of_product(&a, &b));
            assert_close_scalar(trace_of_product(&a, &b), a.trace() * b.trace());
            assert_close(&g.0, &(b.trace() * Matrix2::identity()));
            assert_close(&g.1, &(a.trace() * Matrix3::identity()));
            let f = |p: &(Matrix2<f64>, Matrix3<f64>)| trace_of_product(&p.0, &p.1);
            assert_finite_differences(f, &(a, b), &g);
        }
    }

    #[gradient]
    fn det_of_product(a: &Matrix2<f64>, b: &Matrix3<f64>) -> f64 {
        a.kronecker(b).determinant()
    }

    // det(A⊗B) = det(A)ⁿ·det(B)ᵐ for A m×m, B n×n (here m = 2, n = 3)
    // ⇒ ∇A = n·det(A⊗B)·A⁻ᵀ, ∇B = m·det(A⊗B)·B⁻ᵀ
    #[test]
    fn det_of_kronecker_product_is_product_of_powers_of_dets() {
        for seed in SEEDS {
            let mut rng = Rng::new(seed);
            let (a, b): (Matrix2<f64>, Matrix3<f64>) =
                (rng.well_conditioned(), rng.well_conditioned());
            let g = gradient_of(det_of_product_grad(&a, &b), det_of_product(&a, &b));
            let d = a.determinant().powi(3) * b.determinant().powi(2);
            assert_close_scalar(det_of_product(&a, &b), d);
            assert_close(&g.0, &(3.0 * d * inv_t(&a)));
            assert_close(&g.1, &(2.0 * d * inv_t(&b)));
            let f = |p: &(Matrix2<f64>, Matrix3<f64>)| det_of_product(&p.0, &p.1);
            assert_finite_differences(f, &(a, b), &g);
        }
    }

    #[gradient]
    fn inner_product(
        a: &SMatrix<f64, 2, 3>,
        b: &SMatrix<f64, 4, 2>,
        c: &SMatrix<f64, 8, 6>,
    ) -> f64 {
        a.kronecker(b).dot(c)
    }

    // ⟨C, A⊗B⟩ with non-square factors ⇒ ∇C = A⊗B, ∇Aᵢⱼ = ⟨C₍ᵢⱼ₎, B⟩, ∇B = Σᵢⱼ Aᵢⱼ·C₍ᵢⱼ₎,
    // where C₍ᵢⱼ₎ is block (i, j) of C, of B's shape
    #[test]
    fn inner_product_with_kronecker_product_of_non_square_factors() {
        for seed in SEEDS {
            let mut rng = Rng::new(seed);
            let (a, b, c): (A, B, C) = (rng.matrix(), rng.matrix(), rng.matrix());
            let g = gradient_of(inner_product_grad(&a, &b, &c), inner_product(&a, &b, &c));
            let block = |i: usize, j: usize| c.fixed_view::<4, 2>(4 * i, 2 * j).into_owned();
            let expected_a = A::from_fn(|i, j| block(i, j).dot(&b));
            let expected_b: B = (0..2)
                .flat_map(|i| (0..3).map(move |j| (i, j)))
                .map(|(i, j)| a[(i, j)] * block(i, j))
                .sum();
            assert_close(&g.0, &expected_a);
            assert_close(&g.1, &expected_b);
            assert_close(&g.2, &a.kronecker(&b));
            let f = |p: &(A, B, C)| inner_product(&p.0, &p.1, &p.2);
            assert_finite_differences(f, &(a, b, c), &g);
        }
    }

    #[gradient]
    fn trace_of_self_product(x: &Matrix3<f64>) -> f64 {
        x.kronecker(x).trace()
    }

    // tr(X⊗X) = tr(X)² ⇒ ∂ = 2·tr(X)·I (Cookbook eq. 120)
    #[test]
    fn trace_of_kronecker_square_gradient_is_twice_trace_times_identity() {
        for seed in SEEDS {
            let x: Matrix3<f64> = Rng::new(seed).matrix();
            let g = gradient_of(trace_of_self_product_grad(&x), trace_of_self_product(&x));
            assert_close_scalar(trace_of_self_product(&x), x.trace().powi(2));
            assert_close(&g, &(2.0 * x.trace() * Matrix3::identity()));
            assert_finite_differences(trace_of_self_product, &x, &g);
        }
    }
}

// ---- Giles (2008): reverse-mode rules, read out through ⟨W, C⟩ so that C̄ = W ---------------

/// Giles' rules at one size n, with right-hand sides of two columns.
macro_rules! giles_at_size {
    ($size:ident, $n:tt) => {
        mod $size {
            use super::*;
            use matgrad::nalgebra::{Matrix2, SVector};

            type M = SMatrix<f64, $n, $n>;
            type Tall = SMatrix<f64, $n, 2>;
            type V = SVector<f64, $n>;

            #[gradient]
            fn product(
                a: &SMatrix<f64, $n, 3>,
                b: &SMatrix<f64, 3, 2>,
                w: &SMatrix<f64, $n, 2>,
            ) -> f64 {
                (a * b).dot(w)
            }

            // C = AB ⇒ Ā = C̄Bᵀ, B̄ = AᵀC̄
            #[test]
            fn product_adjoints() {
                type A = SMatrix<f64, $n, 3>;
                type B = SMatrix<f64, 3, 2>;
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b, w): (A, B, Tall) = (rng.matrix(), rng.matrix(), rng.matrix());
                    let g = gradient_of(product_grad(&a, &b, &w), product(&a, &b, &w));
                    assert_close(&g.0, &(w * b.transpose()));
                    assert_close(&g.1, &(a.transpose() * w));
                    assert_close(&g.2, &(a * b));
                    let f = |p: &(A, B, Tall)| product(&p.0, &p.1, &p.2);
                    assert_finite_differences(f, &(a, b, w), &g);
                }
            }

            #[gradient]
            fn inverse(a: &SMatrix<f64, $n, $n>, w: &SMatrix<f64, $n, $n>) -> f64 {
                a.try_inverse().unwrap().dot(w)
            }

            // C = A⁻¹ ⇒ Ā = −CᵀC̄Cᵀ
            #[test]
            fn inverse_adjoint() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, w): (M, M) = (rng.well_conditioned(), rng.matrix());
                    let g = gradient_of(inverse_grad(&a, &w), inverse(&a, &w));
                    let c = inv(&a);
                    assert_close(&g.0, &(-c.transpose() * w * c.transpose()));
                    assert_close(&g.1, &c);
                    let f = |p: &(M, M)| inverse(&p.0, &p.1);
                    assert_finite_differences(f, &(a, w), &g);
                }
            }

            #[gradient]
            fn determinant(a: &SMatrix<f64, $n, $n>, w: f64) -> f64 {
                w * a.determinant()
            }

            // C = det A ⇒ Ā = C̄·C·A⁻ᵀ
            #[test]
            fn determinant_adjoint() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, w): (M, f64) = (rng.well_conditioned(), rng.scalar());
                    let g = gradient_of(determinant_grad(&a, w), determinant(&a, w));
                    assert_close(&g.0, &(w * a.determinant() * inv_t(&a)));
                    assert_close_scalar(g.1, a.determinant());
                    let f = |p: &(M, f64)| determinant(&p.0, p.1);
                    assert_finite_differences(f, &(a, w), &g);
                }
            }

            #[gradient]
            fn solve(
                a: &SMatrix<f64, $n, $n>,
                b: &SMatrix<f64, $n, 2>,
                w: &SMatrix<f64, $n, 2>,
            ) -> f64 {
                a.lu().solve(b).unwrap().dot(w)
            }

            // C = A⁻¹B ⇒ Ā = −A⁻ᵀC̄Cᵀ, B̄ = A⁻ᵀC̄
            #[test]
            fn solve_adjoints() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b, w): (M, Tall, Tall) =
                        (rng.well_conditioned(), rng.matrix(), rng.matrix());
                    let g = gradient_of(solve_grad(&a, &b, &w), solve(&a, &b, &w));
                    let c = inv(&a) * b;
                    assert_close(&g.0, &(-inv_t(&a) * w * c.transpose()));
                    assert_close(&g.1, &(inv_t(&a) * w));
                    assert_close(&g.2, &c);
                    let f = |p: &(M, Tall, Tall)| solve(&p.0, &p.1, &p.2);
                    assert_finite_differences(f, &(a, b, w), &g);
                }
            }

            #[gradient]
            fn solve_vector(
                a: &SMatrix<f64, $n, $n>,
                b: &SVector<f64, $n>,
                w: &SVector<f64, $n>,
            ) -> f64 {
                a.lu().solve(b).expect("singular").dot(w)
            }

            // c = A⁻¹b ⇒ Ā = −A⁻ᵀw·cᵀ, b̄ = A⁻ᵀw
            #[test]
            fn solve_vector_adjoints() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b, w): (M, V, V) = (rng.well_conditioned(), rng.matrix(), rng.matrix());
                    let g = gradient_of(solve_vector_grad(&a, &b, &w), solve_vector(&a, &b, &w));
                    let c = inv(&a) * b;
                    assert_close(&g.0, &(-inv_t(&a) * w * c.transpose()));
                    assert_close(&g.1, &(inv_t(&a) * w));
                    assert_close(&g.2, &c);
                    let f = |p: &(M, V, V)| solve_vector(&p.0, &p.1, &p.2);
                    assert_finite_differences(f, &(a, b, w), &g);
                }
            }

            #[gradient]
            fn quadratic_form(
                a: &SMatrix<f64, $n, $n>,
                b: &SMatrix<f64, $n, 2>,
                w: &Matrix2<f64>,
            ) -> f64 {
                (b.transpose() * a * b).dot(w)
            }

            // C = BᵀAB ⇒ Ā = BC̄Bᵀ, B̄ = ABC̄ᵀ + AᵀBC̄
            #[test]
            fn quadratic_form_adjoints() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, b, w): (M, Tall, Matrix2<f64>) =
                        (rng.matrix(), rng.matrix(), rng.matrix());
                    let g =
                        gradient_of(quadratic_form_grad(&a, &b, &w), quadratic_form(&a, &b, &w));
                    assert_close(&g.0, &(b * w * b.transpose()));
                    assert_close(&g.1, &(a * b * w.transpose() + a.transpose() * b * w));
                    assert_close(&g.2, &(b.transpose() * a * b));
                    let f = |p: &(M, Tall, Matrix2<f64>)| quadratic_form(&p.0, &p.1, &p.2);
                    assert_finite_differences(f, &(a, b, w), &g);
                }
            }

            #[gradient]
            fn inverse_quadratic_form(
                a: &SMatrix<f64, $n, $n>,
                b: &SMatrix<f64, $n, 2>,
                w: &Matrix2<f64>,
            ) -> f64 {
                (b.transpose() * a.try_inverse().unwrap() * b).dot(w)
            }

            #[gradient]
            fn solved_quadratic_form(
                a: &SMatrix<f64, $n, $n>,
                b: &SMatrix<f64, $n, 2>,
                w: &Matrix2<f64>,
            ) -> f64 {
                (b.transpose() * a.lu().solve(b).unwrap()).dot(w)
            }

            // C = BᵀA⁻¹B ⇒ Ā = −A⁻ᵀBC̄BᵀA⁻ᵀ, B̄ = A⁻¹BC̄ᵀ + A⁻ᵀBC̄, with A⁻¹ by try_inverse or
            // by an LU solve
            #[test]
            fn inverse_quadratic_form_adjoints() {
                type F = fn(&M, &Tall, &Matrix2<f64>) -> f64;
                type G = fn(&M, &Tall, &Matrix2<f64>) -> (f64, (M, Tall, Matrix2<f64>));
                let forms: [(F, G); 2] = [
                    (inverse_quadratic_form, inverse_quadratic_form_grad),
                    (solved_quadratic_form, solved_quadratic_form_grad),
                ];
                for seed in SEEDS {
                    for (f, f_grad) in forms {
                        let mut rng = Rng::new(seed);
                        let (a, b, w): (M, Tall, Matrix2<f64>) =
                            (rng.well_conditioned(), rng.matrix(), rng.matrix());
                        let g = gradient_of(f_grad(&a, &b, &w), f(&a, &b, &w));
                        let (ai, ait) = (inv(&a), inv_t(&a));
                        assert_close(&g.0, &(-ait * b * w * b.transpose() * ait));
                        assert_close(&g.1, &(ai * b * w.transpose() + ait * b * w));
                        assert_close(&g.2, &(b.transpose() * ai * b));
                        assert_finite_differences(
                            |p: &(M, Tall, Matrix2<f64>)| f(&p.0, &p.1, &p.2),
                            &(a, b, w),
                            &g,
                        );
                    }
                }
            }
        }
    };
}

mod giles {
    use super::*;

    giles_at_size!(n1, 1);
    giles_at_size!(n2, 2);
    giles_at_size!(n3, 3);
    giles_at_size!(n5, 5);
}

// ---- Traces of matrix powers (Cookbook 121, 122) --------------------------------------------

/// tr(Xᵏ) and tr(AXᵏ) at one size n, for k = 0..4 as a literal and as a `u32` parameter.
macro_rules! powers_at_size {
    ($size:ident, $n:tt) => {
        mod $size {
            use super::*;

            type M = SMatrix<f64, $n, $n>;

            #[gradient]
            fn trace_of_power_0(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.pow(0).trace()
            }
            #[gradient]
            fn trace_of_power_1(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.pow(1).trace()
            }
            #[gradient]
            fn trace_of_power_2(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.pow(2).trace()
            }
            #[gradient]
            fn trace_of_power_3(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.pow(3).trace()
            }
            #[gradient]
            fn trace_of_power_4(x: &SMatrix<f64, $n, $n>) -> f64 {
                x.pow(4).trace()
            }
            #[gradient]
            fn trace_of_power(x: &SMatrix<f64, $n, $n>, k: u32) -> f64 {
                x.pow(k).trace()
            }
            #[gradient]
            fn trace_of_power_by_reference(x: &SMatrix<f64, $n, $n>, k: &u32) -> f64 {
                x.pow(*k).trace()
            }

            /// ∂ tr(Xᵏ) = k·(Xᵏ⁻¹)ᵀ, and 0 for k = 0.
            fn expected_trace_of_power(x: &M, k: u32) -> M {
                match k {
                    0 => M::zeros(),
                    _ => f64::from(k) * x.pow(k - 1).transpose(),
                }
            }

            #[test]
            fn trace_of_literal_power_gradient_is_k_times_transposed_power_k_minus_1() {
                type F = fn(&M) -> f64;
                type G = fn(&M) -> (f64, M);
                let powers: [(u32, F, G); 5] = [
                    (0, trace_of_power_0, trace_of_power_0_grad),
                    (1, trace_of_power_1, trace_of_power_1_grad),
                    (2, trace_of_power_2, trace_of_power_2_grad),
                    (3, trace_of_power_3, trace_of_power_3_grad),
                    (4, trace_of_power_4, trace_of_power_4_grad),
                ];
                for seed in SEEDS {
                    let x: M = Rng::new(seed).matrix();
                    for (k, f, f_grad) in powers {
                        let g = gradient_of(f_grad(&x), f(&x));
                        assert_close(&g, &expected_trace_of_power(&x, k));
                        assert_finite_differences(f, &x, &g);
                    }
                }
            }

            #[test]
            fn trace_of_parameter_power_gradient_is_k_times_transposed_power_k_minus_1() {
                for seed in SEEDS {
                    let x: M = Rng::new(seed).matrix();
                    for k in 0..=4 {
                        let g = gradient_of(trace_of_power_grad(&x, k), trace_of_power(&x, k));
                        assert_close(&g, &expected_trace_of_power(&x, k));
                        assert_finite_differences(|x: &M| trace_of_power(x, k), &x, &g);
                        let by_reference = gradient_of(
                            trace_of_power_by_reference_grad(&x, &k),
                            trace_of_power_by_reference(&x, &k),
                        );
                        assert_eq!(by_reference, g);
                    }
                }
            }

            #[gradient]
            fn trace_of_product_with_power_0(
                a: &SMatrix<f64, $n, $n>,
                x: &SMatrix<f64, $n, $n>,
            ) -> f64 {
                (a * x.pow(0)).trace()
            }
            #[gradient]
            fn trace_of_product_with_power_1(
                a: &SMatrix<f64, $n, $n>,
                x: &SMatrix<f64, $n, $n>,
            ) -> f64 {
                (a * x.pow(1)).trace()
            }
            #[gradient]
            fn trace_of_product_with_power_2(
                a: &SMatrix<f64, $n, $n>,
                x: &SMatrix<f64, $n, $n>,
            ) -> f64 {
                (a * x.pow(2)).trace()
            }
            #[gradient]
            fn trace_of_product_with_power_3(
                a: &SMatrix<f64, $n, $n>,
                x: &SMatrix<f64, $n, $n>,
            ) -> f64 {
                (a * x.pow(3)).trace()
            }
            #[gradient]
            fn trace_of_product_with_power_4(
                a: &SMatrix<f64, $n, $n>,
                x: &SMatrix<f64, $n, $n>,
            ) -> f64 {
                (a * x.pow(4)).trace()
            }
            #[gradient]
            fn trace_of_product_with_power(
                a: &SMatrix<f64, $n, $n>,
                x: &SMatrix<f64, $n, $n>,
                k: u32,
            ) -> f64 {
                (a * x.pow(k)).trace()
            }

            /// ∂ tr(AXᵏ) / ∂A = (Xᵏ)ᵀ, ∂/∂X = Σ_{r<k} (XʳAXᵏ⁻ʳ⁻¹)ᵀ.
            #[track_caller]
            fn assert_trace_of_product_with_power(a: &M, x: &M, k: u32, g: &(M, M)) {
                assert_close(&g.0, &x.pow(k).transpose());
                assert_close(&g.1, &trace_power_product_gradient(a, x, k));
            }

            #[test]
            fn trace_of_product_with_literal_power_gradient_is_sum_of_transposed_sandwiches() {
                type F = fn(&M, &M) -> f64;
                type G = fn(&M, &M) -> (f64, (M, M));
                let powers: [(u32, F, G); 5] = [
                    (
                        0,
                        trace_of_product_with_power_0,
                        trace_of_product_with_power_0_grad,
                    ),
                    (
                        1,
                        trace_of_product_with_power_1,
                        trace_of_product_with_power_1_grad,
                    ),
                    (
                        2,
                        trace_of_product_with_power_2,
                        trace_of_product_with_power_2_grad,
                    ),
                    (
                        3,
                        trace_of_product_with_power_3,
                        trace_of_product_with_power_3_grad,
                    ),
                    (
                        4,
                        trace_of_product_with_power_4,
                        trace_of_product_with_power_4_grad,
                    ),
                ];
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, x): (M, M) = (rng.matrix(), rng.matrix());
                    for (k, f, f_grad) in powers {
                        let g = gradient_of(f_grad(&a, &x), f(&a, &x));
                        assert_trace_of_product_with_power(&a, &x, k, &g);
                        assert_finite_differences(|p: &(M, M)| f(&p.0, &p.1), &(a, x), &g);
                    }
                }
            }

            #[test]
            fn trace_of_product_with_parameter_power_gradient_is_sum_of_transposed_sandwiches() {
                for seed in SEEDS {
                    let mut rng = Rng::new(seed);
                    let (a, x): (M, M) = (rng.matrix(), rng.matrix());
                    for k in 0..=4 {
                        let g = gradient_of(
                            trace_of_product_with_power_grad(&a, &x, k),
                            trace_of_product_with_power(&a, &x, k),
                        );
                        assert_trace_of_product_with_power(&a, &x, k, &g);
                        let f = |p: &(M, M)| trace_of_product_with_power(&p.0, &p.1, k);
                        assert_finite_differences(f, &(a, x), &g);
                    }
                }
            }
        }
    };
}

mod powers {
    use super::*;

    powers_at_size!(n1, 1);
    powers_at_size!(n2, 2);
    powers_at_size!(n3, 3);
    powers_at_size!(n5, 5);
}

// ---- Gaussian negative log-likelihood, Σ 6×6 --------------------------------------------------

mod gaussian_nll {
    use super::*;
    use matgrad::nalgebra::{Matrix6, Vector6};

    type M = Matrix6<f64>;
    type V = Vector6<f64>;

    #[gradient]
    fn with_inverse(mu: &Vector6<f64>, sigma: &Matrix6<f64>, x: &Vector6<f64>) -> f64 {
        let r = x - mu;
        let precision = sigma.try_inverse().unwrap();
        0.5 * sigma.determinant().ln() + 0.5 * r.dot(&(precision * r))
    }

    #[gradient]
    fn with_solve(mu: &Vector6<f64>, sigma: &Matrix6<f64>, x: &Vector6<f64>) -> f64 {
        let r = x - mu;
        0.5 * sigma.determinant().ln() + 0.5 * r.dot(&sigma.lu().solve(&r).unwrap())
    }

    type F = fn(&V, &M, &V) -> f64;
    type G = fn(&V, &M, &V) -> (f64, (V, M, V));
    const FORMS: [(F, G); 2] = [
        (with_inverse, with_inverse_grad),
        (with_solve, with_solve_grad),
    ];

    fn inputs(seed: u64) -> (V, M, V) {
        let mut rng = Rng::new(seed);
        (rng.matrix(), rng.spd(), rng.matrix())
    }

    // ∇μ = −Σ⁻¹r, ∇Σ = ½(Σ⁻¹ − Σ⁻¹rrᵀΣ⁻¹), ∇x = Σ⁻¹r, for symmetric Σ
    #[test]
    fn gradients_at_spd_sigma_match_closed_form() {
        for seed in SEEDS {
            for (f, f_grad) in FORMS {
                let (mu, sigma, x) = inputs(seed);
                let g = gradient_of(f_grad(&mu, &sigma, &x), f(&mu, &sigma, &x));
                let (p, r) = (inv(&sigma), x - mu);
                assert_close(&g.0, &(-p * r));
                assert_close(&g.1, &(0.5 * (p - p * r * r.transpose() * p)));
                assert_close(&g.2, &(p * r));
            }
        }
    }

    // Entry-by-entry differences perturb Σ non-symmetrically, so they check the unstructured
    // gradient (design §2.4), not the symmetrised one 2G − diag(G).
    #[test]
    fn gradients_at_spd_sigma_match_finite_differences() {
        for seed in SEEDS {
            for (f, f_grad) in FORMS {
                let point = inputs(seed);
                let (mu, sigma, x) = point;
                let g = gradient_of(f_grad(&mu, &sigma, &x), f(&mu, &sigma, &x));
                assert_finite_differences(|p: &(V, M, V)| f(&p.0, &p.1, &p.2), &point, &g);
            }
        }
    }

    // For a general Σ: ∇Σ = ½(Σ⁻ᵀ − Σ⁻ᵀrrᵀΣ⁻ᵀ), ∇μ = −½(Σ⁻¹ + Σ⁻ᵀ)r. At a non-symmetric Σ
    // the transposes change the answer, so this tells the unstructured gradient from one that
    // dropped a transpose.
    #[test]
    fn sigma_gradient_at_non_symmetric_sigma_is_the_unstructured_one() {
        for seed in SEEDS {
            for (f, f_grad) in FORMS {
                let mut rng = Rng::new(seed);
                let (mu, sigma, x): (V, M, V) =
                    (rng.matrix(), rng.well_conditioned(), rng.matrix());
                let g = gradient_of(f_grad(&mu, &sigma, &x), f(&mu, &sigma, &x));
                let (p, pt, r) = (inv(&sigma), inv_t(&sigma), x - mu);
                let unstructured = 0.5 * (pt - pt * r * r.transpose() * pt);
                let without_transposes = 0.5 * (p - p * r * r.transpose() * p);
                assert!((unstructured - without_transposes).norm() > 1e-3);
                assert_close(&g.1, &unstructured);
                assert_close(&g.0, &(-0.5 * (p + pt) * r));
                assert_close(&g.2, &(0.5 * (p + pt) * r));
                let point = (mu, sigma, x);
                assert_finite_differences(|p: &(V, M, V)| f(&p.0, &p.1, &p.2), &point, &g);
            }
        }
    }
}

// ---- Single entries of linear-algebra results, read out by literal indices ----------------------

mod entries {
    use super::*;
    use matgrad::nalgebra::{Matrix2, Matrix3, SMatrix, Vector3};

    /// The matrix with a 1 at (i, j) and zeros elsewhere.
    fn unit<const R: usize, const C: usize>(i: usize, j: usize) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|r, c| if (r, c) == (i, j) { 1.0 } else { 0.0 })
    }

    #[gradient]
    fn inverse_entry(x: &Matrix3<f64>) -> f64 {
        x.try_inverse().unwrap()[(2, 0)]
    }

    // ∂(X⁻¹)ₖₗ/∂Xᵢⱼ = −(X⁻¹)ₖᵢ(X⁻¹)ⱼₗ ⇒ ∇ = −X⁻ᵀ·eₖeₗᵀ·X⁻ᵀ
    #[test]
    fn inverse_entry_gradient_is_minus_product_of_inverse_column_and_row() {
        for seed in SEEDS {
            let x: Matrix3<f64> = Rng::new(seed).well_conditioned();
            let g = gradient_of(inverse_entry_grad(&x), inverse_entry(&x));
            assert_close(&g, &(-inv_t(&x) * unit::<3, 3>(2, 0) * inv_t(&x)));
            assert_finite_differences(inverse_entry, &x, &g);
        }
    }

    #[gradient]
    fn solution_entry(a: &Matrix3<f64>, b: &Vector3<f64>) -> f64 {
        a.lu().solve(b).unwrap()[1]
    }

    // c = A⁻¹b, f = c₁ ⇒ ∇A = −A⁻ᵀe₁cᵀ, ∇b = A⁻ᵀe₁
    #[test]
    fn solution_entry_gradient_is_transposed_solve_of_unit_vector() {
        for seed in SEEDS {
            let mut rng = Rng::new(seed);
            let (a, b): (Matrix3<f64>, Vector3<f64>) = (rng.well_conditioned(), rng.matrix());
            let g = gradient_of(solution_entry_grad(&a, &b), solution_entry(&a, &b));
            let (c, e) = (inv(&a) * b, Vector3::y());
            assert_close(&g.0, &(-inv_t(&a) * e * c.transpose()));
            assert_close(&g.1, &(inv_t(&a) * e));
            let f = |p: &(Matrix3<f64>, Vector3<f64>)| solution_entry(&p.0, &p.1);
            assert_finite_differences(f, &(a, b), &g);
        }
    }

    #[gradient]
    fn kronecker_entry(a: &Matrix2<f64>, b: &SMatrix<f64, 3, 2>) -> f64 {
        a.kronecker(b)[(4, 3)]
    }

    // (A⊗B)₄₃ = A₁₁·B₁₁ (row 4 = 1·3 + 1, column 3 = 1·2 + 1)
    #[test]
    fn kronecker_entry_gradient_is_one_entry_of_each_factor() {
        for seed in SEEDS {
            let mut rng = Rng::new(seed);
            let (a, b): (Matrix2<f64>, SMatrix<f64, 3, 2>) = (rng.matrix(), rng.matrix());
            let g = gradient_of(kronecker_entry_grad(&a, &b), kronecker_entry(&a, &b));
            assert_close_scalar(kronecker_entry(&a, &b), a[(1, 1)] * b[(1, 1)]);
            assert_close(&g.0, &(b[(1, 1)] * unit::<2, 2>(1, 1)));
            assert_close(&g.1, &(a[(1, 1)] * unit::<3, 2>(1, 1)));
            let f = |p: &(Matrix2<f64>, SMatrix<f64, 3, 2>)| kronecker_entry(&p.0, &p.1);
            assert_finite_differences(f, &(a, b), &g);
        }
    }

    #[gradient]
    fn power_entry(x: &Matrix3<f64>) -> f64 {
        x.pow(3)[(0, 1)]
    }

    // d(X³) = dX·X² + X·dX·X + X²·dX ⇒ ∇(X³)₀₁ = Σ_{r<3} (Xʳ)ᵀ·e₀e₁ᵀ·(X²⁻ʳ)ᵀ
    #[test]
    fn power_entry_gradient_is_sum_of_transposed_sandwiches_of_unit_matrix() {
        for seed in SEEDS {
            let x: Matrix3<f64> = Rng::new(seed).matrix();
            let g = gradient_of(power_entry_grad(&x), power_entry(&x));
            let e = unit::<3, 3>(0, 1);
            let expected: Matrix3<f64> = (0..3)
                .map(|r| x.pow(r).transpose() * e * x.pow(2 - r).transpose())
                .sum();
            assert_close(&g, &expected);
            assert_finite_differences(power_entry, &x, &g);
        }
    }
}

// ---- Singular inputs ----------------------------------------------------------------------------

mod singular {
    use super::*;
    use matgrad::nalgebra::{Matrix3, SMatrix, Vector3};

    /// Rank 2: the second row is twice the first. Integer entries make det exactly 0.
    fn rank_two() -> Matrix3<f64> {
        Matrix3::new(1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 1.0, 0.0, 1.0)
    }

    #[gradient]
    fn det(x: &Matrix3<f64>) -> f64 {
        x.determinant()
    }

    #[test]
    fn det_gradient_of_dependent_rows_is_the_cofactor_matrix() {
        let x = rank_two();
        assert_eq!(x.determinant(), 0.0);
        let g = gradient_of(det_grad(&x), det(&x));
        // Cᵢⱼ = (−1)ⁱ⁺ʲ·Mᵢⱼ, worked by hand: the 2×2 minors of `rank_two`.
        let expected = Matrix3::new(4.0, 4.0, -4.0, -2.0, -2.0, 2.0, 0.0, 0.0, 0.0);
        assert_eq!(cofactors!(x), expected);
        assert_close(&g, &expected);
        assert_finite_differences(det, &x, &g);
    }

    #[gradient]
    fn det_5(x: &SMatrix<f64, 5, 5>) -> f64 {
        x.determinant()
    }

    // Rank 4 by a dependent row: det computed by LU is rounding noise, not 0, and the gradient
    // must still be the cofactor matrix (which the finite differences see as well).
    #[test]
    fn det_gradient_of_numerically_singular_matrix_is_the_cofactor_matrix() {
        for seed in SEEDS {
            let mut x: SMatrix<f64, 5, 5> = Rng::new(seed).well_conditioned();
            let dependent = x.row(0) + 2.0 * x.row(1) - x.row(3);
            x.set_row(4, &dependent);
            let g = gradient_of(det_5_grad(&x), det_5(&x));
            let expected: SMatrix<f64, 5, 5> = cofactors!(x);
            assert!(expected.norm() > 0.1);
            assert_close(&g, &expected);
            assert_finite_differences(det_5, &x, &g);
        }
    }

    #[gradient]
    fn inverse_with_expect(x: &Matrix3<f64>) -> f64 {
        x.try_inverse().expect("singular").sum()
    }

    #[gradient]
    fn inverse_with_unwrap(x: &Matrix3<f64>) -> f64 {
        x.try_inverse().unwrap().sum()
    }

    #[gradient]
    fn solve_with_expect(a: &Matrix3<f64>, b: &Vector3<f64>) -> f64 {
        a.lu().solve(b).expect("singular system").norm_squared()
    }

    #[test]
    fn singular_inverse_with_expect_panics_with_the_original_message() {
        let x = rank_two();
        let original = panic_message(|| inverse_with_expect(&x));
        assert_eq!(original, "singular");
        assert_eq!(panic_message(|| inverse_with_expect_grad(&x)), original);
    }

    #[test]
    fn singular_inverse_with_unwrap_panics_with_the_original_message() {
        let x = rank_two();
        let original = panic_message(|| inverse_with_unwrap(&x));
        assert_eq!(panic_message(|| inverse_with_unwrap_grad(&x)), original);
    }

    #[test]
    fn singular_solve_with_expect_panics_with_the_original_message() {
        let (a, b) = (rank_two(), Vector3::new(1.0, 2.0, 3.0));
        let original = panic_message(|| solve_with_expect(&a, &b));
        assert_eq!(original, "singular system");
        assert_eq!(panic_message(|| solve_with_expect_grad(&a, &b)), original);
    }
}
