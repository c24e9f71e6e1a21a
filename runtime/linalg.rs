//! Adjoints of the linear-algebra rules that are loops rather than one nalgebra expression.
//!
//! Generated code calls these through `__private`; they are public so their identities are
//! documented and testable, but users rarely need them directly. None allocates.

use nalgebra::linalg::LU;
use nalgebra::{Const, DimMin, RealField, SMatrix};

/// ∂ det A / ∂A: det(A)·A⁻ᵀ when A is invertible, and the cofactor matrix in general.
///
/// The cofactor form holds for singular matrices too (where the inverse does not exist but the
/// gradient does, e.g. for rank n − 1): entry (i, j) is det(A) with row i replaced by eⱼᵀ, by
/// the Laplace expansion det A = Σⱼ aᵢⱼ·Cᵢⱼ.
///
/// ```
/// use matgrad::nalgebra::Matrix2;
/// let a = Matrix2::new(1.0, 2.0, 2.0, 4.0); // singular
/// let g = matgrad::__private::determinant_gradient(&a, a.determinant());
/// // d det / d a₁₁ = a₂₂ and so on: the cofactors.
/// assert_eq!(g, Matrix2::new(4.0, -2.0, -2.0, 1.0));
/// ```
#[must_use]
pub fn determinant_gradient<T: RealField + Copy, const N: usize>(
    a: &SMatrix<T, N, N>,
    det: T,
) -> SMatrix<T, N, N>
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    if det != T::zero()
        && let Some(inverse) = a.try_inverse()
    {
        return inverse.transpose() * det;
    }
    SMatrix::from_fn(|i, j| {
        let mut replaced = *a;
        for c in 0..N {
            replaced[(i, c)] = if c == j { T::one() } else { T::zero() };
        }
        replaced.determinant()
    })
}

/// A⁻ᵀ·B through the LU factors of A, without forming A⁻¹ or factoring Aᵀ.
///
/// nalgebra's factors satisfy P·A = L·U, so A⁻ᵀ = Pᵀ·L⁻ᵀ·U⁻ᵀ: two triangular solves with the
/// transposed factors and the inverse row permutation. When the forward solve with the same
/// factors succeeded, U has a non-zero diagonal and so do these solves; the zero matrix returned
/// otherwise is never reached from generated code.
#[must_use]
pub fn lu_solve_transposed<T: RealField + Copy, const N: usize, const K: usize>(
    lu: &LU<T, Const<N>, Const<N>>,
    b: &SMatrix<T, N, K>,
) -> SMatrix<T, N, K>
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    // The right-hand side's dimensions are spelled out: under the `DimMin` bound and without
    // nalgebra's `std` (so with only its static allocator), rustc would infer N for K.
    let Some(y) = lu.u().tr_solve_upper_triangular::<Const<N>, Const<K>, _>(b) else {
        return SMatrix::zeros();
    };
    let Some(mut x) = lu
        .l()
        .tr_solve_lower_triangular::<Const<N>, Const<K>, _>(&y)
    else {
        return SMatrix::zeros();
    };
    lu.p().inv_permute_rows(&mut x);
    x
}

/// A⁻¹·B through the LU factors of A: the tangent of a solve, dZ = A⁻¹(dB − dA·Z), reuses the
/// factors of the forward solve. When the forward solve with the same factors succeeded, so
/// does this one; the zero matrix returned otherwise is never reached from generated code.
#[must_use]
pub fn lu_solve<T: RealField + Copy, const N: usize, const K: usize>(
    lu: &LU<T, Const<N>, Const<N>>,
    b: &SMatrix<T, N, K>,
) -> SMatrix<T, N, K>
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    lu.solve::<Const<N>, Const<K>, _>(b)
        .unwrap_or_else(SMatrix::zeros)
}

/// The adjoint of A in Z = A⊗B: Āᵢⱼ = ⟨Z̄₍ᵢⱼ₎, B⟩, the inner product of B with block (i, j) of Z̄.
#[must_use]
pub fn kronecker_adjoint_left<
    T: RealField + Copy,
    const RA: usize,
    const CA: usize,
    const RB: usize,
    const CB: usize,
    const RZ: usize,
    const CZ: usize,
>(
    g: &SMatrix<T, RZ, CZ>,
    b: &SMatrix<T, RB, CB>,
) -> SMatrix<T, RA, CA> {
    SMatrix::from_fn(|i, j| {
        let mut sum = T::zero();
        for q in 0..CB {
            for p in 0..RB {
                sum += g[(i * RB + p, j * CB + q)] * b[(p, q)];
            }
        }
        sum
    })
}

/// The adjoint of B in Z = A⊗B: B̄ = Σᵢⱼ Aᵢⱼ·Z̄₍ᵢⱼ₎, the blocks of Z̄ weighted by A.
#[must_use]
pub fn kronecker_adjoint_right<
    T: RealField + Copy,
    const RA: usize,
    const CA: usize,
    const RB: usize,
    const CB: usize,
    const RZ: usize,
    const CZ: usize,
>(
    g: &SMatrix<T, RZ, CZ>,
    a: &SMatrix<T, RA, CA>,
) -> SMatrix<T, RB, CB> {
    SMatrix::from_fn(|p, q| {
        let mut sum = T::zero();
        for j in 0..CA {
            for i in 0..RA {
                sum += a[(i, j)] * g[(i * RB + p, j * CB + q)];
            }
        }
        sum
    })
}

/// The adjoint of A in Z = Aᵏ: Σ_{r<k} (Aʳ)ᵀ·Z̄·(Aᵏ⁻¹⁻ʳ)ᵀ.
///
/// With B = Aᵀ the sum is Tₖ for T₁ = Z̄, Tₘ₊₁ = B·Tₘ + Z̄·Bᵐ: k − 1 steps of two products
/// each, with no stored powers.
#[must_use]
pub fn power_adjoint<T: RealField + Copy, const N: usize>(
    a: &SMatrix<T, N, N>,
    g: &SMatrix<T, N, N>,
    k: u32,
) -> SMatrix<T, N, N> {
    if k == 0 {
        return SMatrix::zeros();
    }
    let b = a.transpose();
    let mut t = *g;
    let mut power = b;
    for _ in 1..k {
        t = b * t + g * power;
        power *= b;
    }
    t
}

/// The tangent of [`power_adjoint`]`(a, g, k)` along `da` and `dg`, for second derivatives
/// through a matrix power.
///
/// Differentiates its recurrence: with B = Aᵀ and Pₘ = Bᵐ, Tₘ₊₁ = B·Tₘ + G·Pₘ gives
/// dTₘ₊₁ = dB·Tₘ + B·dTₘ + dG·Pₘ + G·dPₘ, and Pₘ₊₁ = Pₘ·B gives dPₘ₊₁ = dPₘ·B + Pₘ·dB.
#[must_use]
pub fn power_adjoint_tangent<T: RealField + Copy, const N: usize>(
    a: &SMatrix<T, N, N>,
    da: &SMatrix<T, N, N>,
    g: &SMatrix<T, N, N>,
    dg: &SMatrix<T, N, N>,
    k: u32,
) -> SMatrix<T, N, N> {
    if k == 0 {
        return SMatrix::zeros();
    }
    let (b, db) = (a.transpose(), da.transpose());
    let (mut t, mut dt) = (*g, *dg);
    let (mut power, mut dpower) = (b, db);
    for _ in 1..k {
        let next = db * t + b * dt + dg * power + g * dpower;
        t = b * t + g * power;
        dt = next;
        dpower = dpower * b + power * db;
        power *= b;
    }
    dt
}

/// The tangent of Z = Aᵏ: dZ = Σ_{r<k} Aʳ·dA·Aᵏ⁻¹⁻ʳ.
///
/// With Dₘ the tangent of Aᵐ, D₁ = dA and Dₘ₊₁ = A·Dₘ + dA·Aᵐ: k − 1 steps of two products
/// each, with no stored powers.
#[must_use]
pub fn power_tangent<T: RealField + Copy, const N: usize>(
    a: &SMatrix<T, N, N>,
    da: &SMatrix<T, N, N>,
    k: u32,
) -> SMatrix<T, N, N> {
    if k == 0 {
        return SMatrix::zeros();
    }
    let mut t = *da;
    let mut power = *a;
    for _ in 1..k {
        t = a * t + da * power;
        power *= a;
    }
    t
}

/// The column-major index of the entry a reduction takes: `m.max()` (`kind` 0), `m.min()` (1),
/// `m.amax()` (2, the largest magnitude) or `m.amin()` (3); the first such entry at a tie.
///
/// The derivative of the reduction is that of the entry it took, so its adjoint is one entry
/// (times the entry's sign for `amax`/`amin`).
///
/// ```
/// use matgrad::nalgebra::Matrix2;
/// let m = Matrix2::new(1.0, -4.0, 4.0, 2.0); // column-major: 1, 4, -4, 2
/// assert_eq!(matgrad::__private::extremum_index(&m, 0), 1); // max: 4 at (1, 0)
/// assert_eq!(matgrad::__private::extremum_index(&m, 1), 2); // min: −4 at (0, 1)
/// assert_eq!(matgrad::__private::extremum_index(&m, 2), 1); // |4| = |−4|: the first
/// assert_eq!(matgrad::__private::extremum_index(&m, 3), 0); // amin: |1|
/// ```
#[must_use]
pub fn extremum_index<T: RealField + Copy, const R: usize, const C: usize>(
    m: &SMatrix<T, R, C>,
    kind: u8,
) -> usize {
    let key = |x: T| if kind >= 2 { x.abs() } else { x };
    let largest = kind & 1 == 0;
    let better = |x: T, best: T| if largest { x > best } else { x < best };
    let mut index = 0;
    for k in 1..R * C {
        if better(key(m[k]), key(m[index])) {
            index = k;
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix2x3, Matrix3, Matrix4, SMatrix};

    fn sample3() -> Matrix3<f64> {
        Matrix3::new(2.0, 0.5, -1.0, 0.3, 3.0, 0.7, -0.4, 1.1, 2.5)
    }

    #[test]
    fn power_tangent_is_the_directional_derivative_of_the_power() {
        // d(A³) = dA·A² + A·dA·A + A²·dA, and the product rule at k = 1, 0.
        let a = sample3();
        let da = Matrix3::new(0.1, -0.2, 0.3, 0.0, 0.5, -0.1, 0.2, 0.1, -0.4);
        let expected = da * a * a + a * da * a + a * a * da;
        assert!((power_tangent(&a, &da, 3) - expected).norm() < 1e-12);
        assert_eq!(power_tangent(&a, &da, 1), da);
        assert_eq!(power_tangent(&a, &da, 0), Matrix3::zeros());
    }

    #[test]
    fn power_adjoint_tangent_is_the_directional_derivative_of_the_power_adjoint() {
        // power_adjoint(A, G, 3) = G·(A²)ᵀ + Aᵀ·G·Aᵀ + (A²)ᵀ·G; its differential along (dA, dG),
        // term by term by the product rule.
        let a = sample3();
        let da = Matrix3::new(0.1, -0.2, 0.3, 0.0, 0.5, -0.1, 0.2, 0.1, -0.4);
        let g = Matrix3::new(0.7, 0.1, -0.3, 0.2, -0.6, 0.4, 0.5, 0.3, 0.9);
        let dg = Matrix3::new(-0.2, 0.4, 0.1, 0.3, 0.2, -0.5, 0.6, -0.1, 0.2);
        let (b, db) = (a.transpose(), da.transpose());
        let expected = dg * b * b
            + g * (db * b + b * db)
            + db * g * b
            + b * dg * b
            + b * g * db
            + (db * b + b * db) * g
            + b * b * dg;
        let actual = power_adjoint_tangent(&a, &da, &g, &dg, 3);
        assert!((actual - expected).norm() < 1e-12, "{actual} vs {expected}");
        assert_eq!(power_adjoint_tangent(&a, &da, &g, &dg, 1), dg);
        assert_eq!(
            power_adjoint_tangent(&a, &da, &g, &dg, 0),
            Matrix3::zeros()
        );
    }

    #[test]
    fn lu_solve_solves() {
        let a = sample3();
        let b = Matrix2x3::new(1.0, 2.0, 3.0, -1.0, 0.5, 0.25).transpose();
        let x = lu_solve(&a.lu(), &b);
        assert!((a * x - b).norm() < 1e-12);
    }

    #[test]
    fn determinant_gradient_is_det_times_inverse_transpose() {
        let a = sample3();
        let g = determinant_gradient(&a, a.determinant());
        let expected = a.try_inverse().unwrap().transpose() * a.determinant();
        assert!((g - expected).norm() < 1e-12);
    }

    #[test]
    fn determinant_gradient_of_a_singular_matrix_is_the_cofactor_matrix() {
        // Rank 2: the third row is the sum of the first two.
        let a = Matrix3::new(1.0, 2.0, 3.0, 0.5, -1.0, 2.0, 1.5, 1.0, 5.0);
        let g: Matrix3<f64> = determinant_gradient(&a, 0.0);
        // Cofactor (0, 0) = det [[-1, 2], [1, 5]] = -7, (1, 2) = -det [[1, 2], [1.5, 1]] = 2.
        assert!((g[(0, 0)] + 7.0).abs() < 1e-12, "{g}");
        assert!((g[(1, 2)] - 2.0).abs() < 1e-12, "{g}");
        // The gradient is not zero, although the inverse does not exist.
        assert!(g.norm() > 1.0);
    }

    #[test]
    fn lu_solve_transposed_matches_the_transposed_inverse() {
        let a = Matrix4::from_fn(|i, j| {
            if i == j {
                4.0
            } else {
                ((i * 3 + j * 5) % 7) as f64 / 7.0 - 0.5
            }
        });
        let b = SMatrix::<f64, 4, 2>::from_fn(|i, j| (i + 2 * j) as f64 - 1.5);
        let x = lu_solve_transposed(&a.lu(), &b);
        let expected = a.transpose().try_inverse().unwrap() * b;
        assert!((x - expected).norm() < 1e-12, "{x} {expected}");
    }

    #[test]
    fn kronecker_adjoints_are_the_transposed_maps() {
        // ⟨Z̄, A⊗B⟩ = ⟨Ā, A⟩ = ⟨B̄, B⟩ for the bilinear map.
        let a = Matrix2x3::new(1.0, -2.0, 0.5, 3.0, 0.25, -1.0);
        let b = SMatrix::<f64, 3, 2>::new(0.3, 1.2, -0.7, 2.0, 1.1, -0.4);
        let g = SMatrix::<f64, 6, 6>::from_fn(|i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0);
        let z = a.kronecker(&b);
        let left = kronecker_adjoint_left::<f64, 2, 3, 3, 2, 6, 6>(&g, &b);
        let right = kronecker_adjoint_right::<f64, 2, 3, 3, 2, 6, 6>(&g, &a);
        assert!((g.dot(&z) - left.dot(&a)).abs() < 1e-12);
        assert!((g.dot(&z) - right.dot(&b)).abs() < 1e-12);
    }

    #[test]
    fn power_adjoint_matches_the_sum_of_products() {
        let a = sample3();
        let g = Matrix3::from_fn(|i, j| (i as f64) - 0.5 * (j as f64));
        for k in 0..5u32 {
            let mut expected = Matrix3::zeros();
            for r in 0..k {
                expected += a.pow(r).transpose() * g * a.pow(k - 1 - r).transpose();
            }
            assert!(
                (power_adjoint(&a, &g, k) - expected).norm() < 1e-9,
                "k = {k}"
            );
        }
    }
}

