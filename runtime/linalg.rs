//! Adjoints of the linear-algebra rules that are loops rather than one nalgebra expression.
//!
//! Generated code calls these through `__private`; they are public so their identities are
//! documented and testable, but users rarely need them directly. None allocates.

use nalgebra::linalg::LU;
use nalgebra::storage::Storage;
use nalgebra::{Const, DimMin, Matrix, RealField, SMatrix, U1};

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

/// `a.cholesky().map(|c| c.unpack())`, the lower factor L of A = L·Lᵀ read from A's lower
/// triangle with zeros above the diagonal, or `None` where nalgebra gives `None`: the same
/// operations in the same order, so the same bits, without nalgebra's copies of the matrix into
/// and out of its factorisation (one matrix of stack, and at 6×6 a third of the time).
///
/// Column j, left-looking as nalgebra's: for each k < j, column j from row j down gets
/// −Lⱼₖ times column k added (as its `axpy` computes a·x·1 + 1·y); then the pivot d is refused
/// if it is zero or has no square root, else Lⱼⱼ = √d and the entries below are divided by it.
#[must_use]
#[inline]
pub fn cholesky_factor<T: RealField + Copy, const N: usize>(
    a: &SMatrix<T, N, N>,
) -> Option<SMatrix<T, N, N>> {
    let mut m = *a;
    let one = T::one();
    for j in 0..N {
        for k in 0..j {
            let (left, right) = m.as_mut_slice().split_at_mut(j * N);
            let (column_k, column_j) = (&left[k * N + j..(k + 1) * N], &mut right[j..N]);
            let factor = -column_k[0];
            for (y, &x) in column_j.iter_mut().zip(column_k) {
                *y = factor * x * one + one * *y;
            }
        }
        let column = &mut m.as_mut_slice()[j * N + j..(j + 1) * N];
        let pivot = column[0];
        if pivot.is_zero() {
            return None;
        }
        let root = pivot.try_sqrt()?;
        column[0] = root;
        for y in &mut column[1..] {
            *y /= root;
        }
    }
    for j in 1..N {
        m.as_mut_slice()[j * N..j * N + j].fill(T::zero());
    }
    Some(m)
}

/// `l.solve_lower_triangular(b)` for the lower triangular L of a Cholesky factorisation:
/// L⁻¹·B, column by column by forward substitution, with nalgebra's operations in nalgebra's
/// order (so the same bits), in place of its generic views; `None` where a diagonal entry is
/// zero, as nalgebra. Written out beside [`tr_solve_lower`] rather than through a shared
/// per-column closure, which measured 2.52 against 2.13 of the expert for the 6×6 Gaussian NLL's
/// gradient through `cholesky()`.
#[must_use]
#[inline]
pub fn solve_lower<T, const N: usize, const C: usize, S>(
    l: &SMatrix<T, N, N>,
    b: &Matrix<T, Const<N>, Const<C>, S>,
) -> Option<SMatrix<T, N, C>>
where
    T: RealField + Copy,
    S: Storage<T, Const<N>, Const<C>>,
{
    let mut x = b.clone_owned();
    let one = T::one();
    for c in 0..C {
        let column = &mut x.as_mut_slice()[c * N..(c + 1) * N];
        for i in 0..N {
            let diagonal = l[(i, i)];
            if diagonal.is_zero() {
                return None;
            }
            let coefficient = column[i] / diagonal;
            column[i] = coefficient;
            // nalgebra's axpy: y = a·x·1 + 1·y with a = −coefficient.
            let below = &l.as_slice()[i * N + i + 1..(i + 1) * N];
            for (y, &lk) in column[i + 1..].iter_mut().zip(below) {
                *y = -coefficient * lk * one + one * *y;
            }
        }
    }
    Some(x)
}

/// `l.tr_solve_lower_triangular(b)` for the lower triangular L of a Cholesky factorisation:
/// L⁻ᵀ·B, column by column by back substitution, bᵢ = (bᵢ − Σₖ Lₖᵢ·bₖ)/Lᵢᵢ over k > i, the sum
/// in the order of nalgebra's `dot` (so the same bits); `None` where a diagonal entry is zero.
#[must_use]
#[inline]
pub fn tr_solve_lower<T, const N: usize, const C: usize, S>(
    l: &SMatrix<T, N, N>,
    b: &Matrix<T, Const<N>, Const<C>, S>,
) -> Option<SMatrix<T, N, C>>
where
    T: RealField + Copy,
    S: Storage<T, Const<N>, Const<C>>,
{
    let mut x = b.clone_owned();
    for c in 0..C {
        let column = &mut x.as_mut_slice()[c * N..(c + 1) * N];
        for i in (0..N).rev() {
            let below = &l.as_slice()[i * N + i + 1..(i + 1) * N];
            let sum = dot_as_nalgebra(below, &column[i + 1..]);
            let diagonal = l[(i, i)];
            if diagonal.is_zero() {
                return None;
            }
            column[i] = (column[i] - sum) / diagonal;
        }
    }
    Some(x)
}

/// Σ aₖ·bₖ as nalgebra's `dot` sums a vector of run-time length: eight running sums over blocks
/// of eight, added pairwise into a total that starts at zero, then the rest one at a time.
#[inline]
fn dot_as_nalgebra<T: RealField + Copy>(a: &[T], b: &[T]) -> T {
    let mut total = T::zero();
    let blocks = a.len() / 8;
    let mut sums = [T::zero(); 8];
    for k in 0..blocks {
        for (s, (x, y)) in sums
            .iter_mut()
            .zip(a[8 * k..8 * k + 8].iter().zip(&b[8 * k..8 * k + 8]))
        {
            *s += *x * *y;
        }
    }
    total += sums[0] + sums[4];
    total += sums[1] + sums[5];
    total += sums[2] + sums[6];
    total += sums[3] + sums[7];
    for (x, y) in a[8 * blocks..].iter().zip(&b[8 * blocks..]) {
        total += *x * *y;
    }
    total
}

/// The adjoint of A in L = chol(A) from L's adjoint Ḡ, folded onto the lower triangle that the
/// factorisation reads: with P = Φ(Lᵀ·Ḡ) (the lower triangle, the diagonal halved) and
/// M = L⁻ᵀ·P·L⁻¹ (Murray 2016), entry (i, j) is Mᵢⱼ + Mⱼᵢ below the diagonal, Mᵢᵢ on it and zero
/// above. Ḡ's upper triangle does not matter.
///
/// Computed without forming L⁻¹, P or M: the factorisation's own steps run backwards (Smith
/// 1995), on one matrix that starts as Ḡ's lower triangle and ends as Ā. Step k of the
/// factorisation took Lₖₖ = √Aₖₖ, Lᵢₖ = Aᵢₖ/Lₖₖ below it, then Aᵢⱼ −= Lᵢₖ·Lⱼₖ for k < j ≤ i;
/// undone from the last step to the first:
///
/// - the update: L̄ᵢₖ −= Āᵢⱼ·Lⱼₖ for i ≥ j, and L̄ⱼₖ −= Σᵢ Āᵢⱼ·Lᵢₖ over i ≥ j (an axpy and a dot
///   down column j, both contiguous);
/// - the division: Āᵢₖ = L̄ᵢₖ/Lₖₖ, and L̄ₖₖ −= Āᵢₖ·Lᵢₖ;
/// - the root: Āₖₖ = L̄ₖₖ/(2Lₖₖ).
///
/// That is N³/3 multiply–adds, where forming L⁻¹, P, P·L⁻¹ and then L⁻ᵀ·(P·L⁻¹) takes 5N³/6:
/// with this sweep the gradient of a Gaussian NLL written through `cholesky()` went from 1.96 to
/// 1.09 of the expert's at Σ 16×16 and from 1.90 to 1.05 at 32×32 (`cargo bench --bench scaling
/// -- chol`, side by side), and needs one matrix of stack instead of four.
#[must_use]
#[inline]
pub fn cholesky_adjoint<T: RealField + Copy, const N: usize>(
    l: &SMatrix<T, N, N>,
    g: SMatrix<T, N, N>,
) -> SMatrix<T, N, N> {
    // Ḡ by value: the sweep runs in its storage, which the caller no longer needs.
    let mut a = g;
    a.fill_upper_triangle(T::zero(), 1);
    let l = l.as_slice();
    let half = T::one() / (T::one() + T::one());
    for k in (0..N).rev() {
        // Column k of L, and of Ā, in column-major storage.
        let lk = &l[k * N..(k + 1) * N];
        for j in k + 1..N {
            let (left, right) = a.as_mut_slice().split_at_mut(j * N);
            let (ak, aj) = (&mut left[k * N..(k + 1) * N], &right[..N]);
            let ljk = lk[j];
            let mut s = T::zero();
            for i in j..N {
                s += aj[i] * lk[i];
                ak[i] -= aj[i] * ljk;
            }
            ak[j] -= s;
        }
        let ak = &mut a.as_mut_slice()[k * N..(k + 1) * N];
        let r = T::one() / lk[k];
        let mut diagonal = ak[k];
        for i in k + 1..N {
            let aik = ak[i] * r;
            ak[i] = aik;
            diagonal -= aik * lk[i];
        }
        ak[k] = diagonal * r * half;
    }
    a
}

/// L⁻¹ given the reciprocals of L's diagonal: column j solves L·y = eⱼ by forward substitution.
#[inline]
fn lower_inverse_with<T: RealField + Copy, const N: usize>(
    l: &SMatrix<T, N, N>,
    reciprocal: &[T; N],
) -> SMatrix<T, N, N> {
    let mut li = SMatrix::<T, N, N>::zeros();
    for j in 0..N {
        li[(j, j)] = T::one();
        for k in j..N {
            let yk = li[(k, j)] * reciprocal[k];
            li[(k, j)] = yk;
            for i in k + 1..N {
                let lik = l[(i, k)];
                li[(i, j)] -= lik * yk;
            }
        }
    }
    li
}

/// The inverse and the determinant of a square matrix, from one factorisation.
///
/// A symmetric positive definite matrix (a covariance, a Gram matrix, a Hessian) is factored by
/// Cholesky, A = L·Lᵀ, in half the work of an LU: det A = (Π Lᵢᵢ)² and A⁻¹ = L⁻ᵀ·L⁻¹, symmetric,
/// so one triangle is computed and mirrored. Any other matrix, and one that is symmetric but not
/// positive definite, is factored by nalgebra's LU with partial pivoting, as `try_inverse` and
/// `determinant` would. Which one applies is decided at run time from the entries (an exact
/// symmetry test, then the factorisation itself); the results agree to rounding.
///
/// ```
/// use matgrad::nalgebra::Matrix4;
/// use matgrad::__private::Inverted;
/// let m = Matrix4::<f64>::new(
///     2.0, 1.0, 0.0, 0.0, 1.0, 2.0, 1.0, 0.0, 0.0, 1.0, 2.0, 1.0, 0.0, 0.0, 1.0, 2.0,
/// );
/// let f = Inverted::new(&m);
/// assert!((f.determinant() - 5.0).abs() < 1e-12);
/// let inverse = f.try_inverse().unwrap();
/// assert!((inverse * m - Matrix4::identity()).norm() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Inverted<T: RealField + Copy, const N: usize> {
    inverse: Option<SMatrix<T, N, N>>,
    determinant: T,
}

impl<T: RealField + Copy, const N: usize> Inverted<T, N>
where
    Const<N>: DimMin<Const<N>, Output = Const<N>>,
{
    /// Factors `a` (by Cholesky when it is exactly symmetric and positive definite, else by LU)
    /// and computes its inverse and determinant.
    #[must_use]
    #[inline]
    pub fn new(a: &SMatrix<T, N, N>) -> Self {
        if is_symmetric(a)
            && let Some((inverse, determinant)) = spd_inverse_and_determinant(a)
        {
            return Inverted {
                inverse: Some(inverse),
                determinant,
            };
        }
        Self::by_lu(a)
    }

    /// The general path, kept out of line so that the symmetric one stays compact where it is
    /// inlined.
    #[cold]
    #[inline(never)]
    fn by_lu(a: &SMatrix<T, N, N>) -> Self {
        let lu = a.lu();
        Inverted {
            inverse: lu.try_inverse(),
            determinant: lu.determinant(),
        }
    }

    /// A⁻¹, or `None` when A is singular (as nalgebra's `try_inverse`).
    #[must_use]
    #[inline]
    pub fn try_inverse(&self) -> Option<SMatrix<T, N, N>> {
        self.inverse
    }

    /// det A.
    #[must_use]
    #[inline]
    pub fn determinant(&self) -> T {
        self.determinant
    }
}

/// Whether A = Aᵀ exactly.
#[inline]
fn is_symmetric<T: RealField + Copy, const N: usize>(a: &SMatrix<T, N, N>) -> bool {
    (0..N).all(|j| (j + 1..N).all(|i| a[(i, j)] == a[(j, i)]))
}

/// A⁻¹ and det A of a symmetric A (only its lower triangle is read) through its Cholesky
/// factor A = L·Lᵀ, or `None` when a pivot is not positive (A is not positive definite).
///
/// - Column j of L, left-looking, in a copy of A: cᵢ = Aᵢⱼ − Σₖ Lᵢₖ·Lⱼₖ for i ≥ j and k < j,
///   Lⱼⱼ = √cⱼ and Lᵢⱼ = cᵢ·rⱼ with the reciprocal rⱼ = 1/Lⱼⱼ kept; det A = Π cⱼ.
/// - L⁻¹ by forward substitution with those reciprocals, in a second matrix.
/// - A⁻¹ = L⁻ᵀ·L⁻¹ in L⁻¹'s place: entry (i, j), i ≥ j, is the dot of columns i and j of L⁻¹
///   from row i down, written over (i, j), which no later entry reads, and mirrored to (j, i).
///
/// Two N×N matrices on the stack where three would do the same (at 32×32, 16 KiB in place of
/// 24). L⁻¹ in L's own place, from its last column back, would save another, but at 6×6 it took
/// 1.5× as long (a scratch crate, side by side with this form).
#[inline]
fn spd_inverse_and_determinant<T: RealField + Copy, const N: usize>(
    a: &SMatrix<T, N, N>,
) -> Option<(SMatrix<T, N, N>, T)> {
    let mut l = *a;
    let mut reciprocal = [T::zero(); N];
    let mut determinant = T::one();
    for j in 0..N {
        for k in 0..j {
            let ljk = l[(j, k)];
            for i in j..N {
                let lik = l[(i, k)];
                l[(i, j)] -= ljk * lik;
            }
        }
        let d = l[(j, j)];
        // A NaN pivot is refused too.
        if d.partial_cmp(&T::zero()) != Some(core::cmp::Ordering::Greater) {
            return None;
        }
        determinant *= d;
        let root = d.sqrt();
        let r = T::one() / root;
        reciprocal[j] = r;
        l[(j, j)] = root;
        for i in j + 1..N {
            l[(i, j)] *= r;
        }
    }
    let mut m = lower_inverse_with(&l, &reciprocal);
    for j in 0..N {
        for i in j..N {
            let s = m
                .column(i)
                .rows_range(i..)
                .dot(&m.column(j).rows_range(i..));
            m[(i, j)] = s;
            m[(j, i)] = s;
        }
    }
    Some((m, determinant))
}

/// The largest outer product, in entries, that [`outer`] forms with `ger`.
///
/// Measured on the two-layer network's gradient at W₁ 32×16 (`cargo bench --bench scaling --
/// 32`, three runs each way): with nalgebra's `u * v.transpose()` the gradient took 1.34–1.41×
/// the expert's time, because the benchmark's operator form has the same product and the
/// compiler kept it as a function of its own, whose 4 KiB result was then copied; with `ger`,
/// 1.02–1.03× (the expert forms it the same way). Above this size `*` was a few per cent faster
/// (128×128 and 512×512).
pub const OUTER_BY_GER_MAX: usize = 1024;

/// The outer product u·vᵀ of two columns: `ger` into zeros up to [`OUTER_BY_GER_MAX`] entries,
/// nalgebra's `*` above (the sizes are constants, so the choice costs nothing at run time).
///
/// ```
/// use matgrad::nalgebra::{Matrix2x3, Vector2, Vector3};
/// let (u, v) = (Vector2::new(1.0, 2.0), Vector3::new(3.0, 4.0, 5.0));
/// assert_eq!(matgrad::__private::outer(&u, &v), Matrix2x3::new(3.0, 4.0, 5.0, 6.0, 8.0, 10.0));
/// ```
#[must_use]
#[allow(
    clippy::inline_always,
    reason = "a copy of its own, shared by callers, would be the out-of-line product it avoids"
)]
#[inline(always)]
pub fn outer<T, const R: usize, const C: usize, S1, S2>(
    u: &Matrix<T, Const<R>, U1, S1>,
    v: &Matrix<T, Const<C>, U1, S2>,
) -> SMatrix<T, R, C>
where
    T: RealField + Copy,
    S1: Storage<T, Const<R>, U1>,
    S2: Storage<T, Const<C>, U1>,
{
    if R * C <= OUTER_BY_GER_MAX {
        let mut m = SMatrix::<T, R, C>::zeros();
        m.ger(T::one(), u, v, T::zero());
        m
    } else {
        u * v.transpose()
    }
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

    /// A symmetric positive definite 6×6 matrix, Mᵀ·M + 2I.
    fn spd6() -> SMatrix<f64, 6, 6> {
        let m = SMatrix::<f64, 6, 6>::from_fn(|i, j| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
        m.tr_mul(&m) + SMatrix::<f64, 6, 6>::identity() * 2.0
    }

    /// Checks `Inverted` against nalgebra's own inverse and determinant.
    fn agrees_with_nalgebra<const N: usize>(a: &SMatrix<f64, N, N>)
    where
        Const<N>: DimMin<Const<N>, Output = Const<N>>,
    {
        let f = Inverted::new(a);
        let (inverse, expected) = (f.try_inverse().unwrap(), a.try_inverse().unwrap());
        assert!((inverse - expected).norm() < 1e-12 * expected.norm(), "{inverse} {expected}");
        assert!((inverse * a - SMatrix::<f64, N, N>::identity()).norm() < 1e-12);
        let det = a.determinant();
        assert!((f.determinant() - det).abs() < 1e-12 * det.abs(), "{}", f.determinant());
    }

    #[test]
    fn a_symmetric_positive_definite_matrix_is_inverted_through_cholesky() {
        let a = spd6();
        let (inverse, det) = spd_inverse_and_determinant(&a).expect("positive definite");
        assert!((inverse * a - SMatrix::<f64, 6, 6>::identity()).norm() < 1e-12);
        assert!((det - a.determinant()).abs() < 1e-12 * det);
        // The inverse is exactly symmetric: one triangle, mirrored.
        assert_eq!(inverse, inverse.transpose());
        agrees_with_nalgebra(&a);
    }

    #[test]
    fn the_inverse_through_cholesky_agrees_with_nalgebra_at_every_size() {
        // A⁻¹ is built in L⁻¹'s place; the sizes cover the first column, the
        // last, and the loops over the rows between them.
        for seed in 0..5 {
            agrees_with_nalgebra(&spd::<f64, 1>(seed));
            agrees_with_nalgebra(&spd::<f64, 2>(seed));
            agrees_with_nalgebra(&spd::<f64, 5>(seed));
            agrees_with_nalgebra(&spd::<f64, 17>(seed));
            agrees_with_nalgebra(&spd::<f64, 32>(seed));
            let a = spd::<f64, 9>(seed);
            let (inverse, _) = spd_inverse_and_determinant(&a).expect("positive definite");
            assert_eq!(inverse, inverse.transpose());
        }
    }

    #[test]
    fn other_matrices_are_inverted_through_lu() {
        // Symmetric but indefinite: the factorisation meets a negative pivot.
        let indefinite = spd6() - SMatrix::<f64, 6, 6>::identity() * 30.0;
        assert!(indefinite.symmetric_eigenvalues().min() < 0.0);
        assert!(spd_inverse_and_determinant(&indefinite).is_none());
        agrees_with_nalgebra(&indefinite);
        // Not symmetric, though positive definite in its lower triangle.
        let mut skew = spd6();
        skew[(0, 5)] += 0.5;
        assert!(!is_symmetric(&skew));
        agrees_with_nalgebra(&skew);
        agrees_with_nalgebra(&sample3());
    }

    #[test]
    fn a_singular_matrix_has_no_inverse_and_a_zero_determinant() {
        // Rank 1, symmetric and positive semidefinite.
        let v = SMatrix::<f64, 4, 1>::new(1.0, 2.0, -1.0, 0.5);
        let f = Inverted::new(&(v * v.transpose()));
        assert!(f.try_inverse().is_none());
        assert!(f.determinant().abs() < 1e-12);
    }

    #[test]
    fn inverted_works_in_f32() {
        let a: SMatrix<f32, 6, 6> = spd6().cast();
        let f = Inverted::new(&a);
        let inverse = f.try_inverse().unwrap();
        assert!((inverse * a - SMatrix::<f32, 6, 6>::identity()).norm() < 1e-4);
        assert!((f.determinant() / a.determinant() - 1.0).abs() < 1e-4);
    }

    /// Σ = BBᵀ/n + I from a deterministic B, symmetric positive definite at any size.
    fn spd<T: RealField + Copy, const N: usize>(seed: usize) -> SMatrix<T, N, N> {
        let b = SMatrix::<T, N, N>::from_fn(|i, j| {
            let k = (i * 31 + j * 17 + seed * 7) % 23;
            nalgebra::convert::<f64, T>(k as f64 / 23.0 - 0.5)
        });
        b * b.transpose() / nalgebra::convert::<f64, T>(N as f64) + SMatrix::<T, N, N>::identity()
    }

    fn factor_is_nalgebras<T: RealField + Copy, const N: usize>(a: &SMatrix<T, N, N>) {
        let expected = a.cholesky().map(nalgebra::Cholesky::unpack);
        assert_eq!(cholesky_factor(a), expected, "{a}");
    }

    #[test]
    fn cholesky_factor_is_nalgebras_bit_for_bit() {
        for seed in 0..20 {
            factor_is_nalgebras(&spd::<f64, 1>(seed));
            factor_is_nalgebras(&spd::<f64, 3>(seed));
            factor_is_nalgebras(&spd::<f64, 6>(seed));
            factor_is_nalgebras(&spd::<f64, 17>(seed));
            factor_is_nalgebras(&spd::<f32, 6>(seed));
            // Only the lower triangle is read: anything above it is ignored.
            let mut a = spd::<f64, 5>(seed);
            a[(0, 4)] = 1e300;
            factor_is_nalgebras(&a);
        }
        // Refused pivots: negative, zero, and NaN, at the first column and a later one.
        let mut a = spd::<f64, 4>(1);
        a[(0, 0)] = -1.0;
        factor_is_nalgebras(&a);
        assert!(cholesky_factor(&a).is_none());
        a[(0, 0)] = 0.0;
        assert!(cholesky_factor(&a).is_none());
        factor_is_nalgebras(&a);
        let mut a = spd::<f64, 4>(2);
        a[(2, 2)] = 0.0;
        assert!(cholesky_factor(&a).is_none());
        factor_is_nalgebras(&a);
        a[(2, 2)] = f64::NAN;
        assert!(cholesky_factor(&a).is_none());
        factor_is_nalgebras(&a);
    }

    fn solves_are_nalgebras<const N: usize, const C: usize>(seed: usize) {
        let l = spd::<f64, N>(seed).cholesky().unwrap().unpack();
        let b = SMatrix::<f64, N, C>::from_fn(|i, j| ((i * 13 + j * 5 + seed) % 17) as f64 - 8.3);
        assert_eq!(solve_lower(&l, &b), l.solve_lower_triangular(&b));
        assert_eq!(tr_solve_lower(&l, &b), l.tr_solve_lower_triangular(&b));
    }

    #[test]
    fn triangular_solves_are_nalgebras_bit_for_bit() {
        for seed in 0..20 {
            solves_are_nalgebras::<1, 1>(seed);
            solves_are_nalgebras::<6, 1>(seed);
            solves_are_nalgebras::<6, 3>(seed);
            // Sums of 8 and more terms, where nalgebra's dot keeps eight running sums.
            solves_are_nalgebras::<9, 1>(seed);
            solves_are_nalgebras::<20, 2>(seed);
        }
        // A view as the right-hand side, and f32.
        let l = spd::<f32, 5>(3).cholesky().unwrap().unpack();
        let m = SMatrix::<f32, 5, 4>::from_fn(|i, j| (i + 2 * j) as f32 - 3.5);
        assert_eq!(solve_lower(&l, &m.column(2)), l.solve_lower_triangular(&m.column(2)));
        assert_eq!(tr_solve_lower(&l, &m.column(1)), l.tr_solve_lower_triangular(&m.column(1)));
        // A zero on the diagonal: no solution, as nalgebra.
        let mut singular = SMatrix::<f64, 3, 3>::identity();
        singular[(1, 1)] = 0.0;
        let b = SMatrix::<f64, 3, 1>::new(1.0, 2.0, 3.0);
        assert!(solve_lower(&singular, &b).is_none() && tr_solve_lower(&singular, &b).is_none());
    }

    #[test]
    fn cholesky_adjoint_is_murrays_pullback_folded_onto_the_lower_triangle() {
        let a = spd6();
        let l = a.cholesky().unwrap().l();
        let g = SMatrix::<f64, 6, 6>::from_fn(|i, j| ((i * 5 + j * 2) % 9) as f64 / 4.0 - 1.0);
        // The formula as written, with nalgebra's solves.
        let mut p = (l.transpose() * g).lower_triangle();
        let half = p.diagonal() * 0.5;
        p.set_diagonal(&half);
        let li = l.solve_lower_triangular(&SMatrix::<f64, 6, 6>::identity()).unwrap();
        let m = li.transpose() * p * li;
        let mut expected = m.lower_triangle() + m.transpose().lower_triangle();
        expected.set_diagonal(&m.diagonal());
        let actual = cholesky_adjoint(&l, g);
        assert!((actual - expected).norm() < 1e-12 * expected.norm(), "{actual} {expected}");
        // The directional derivative it is the adjoint of: ⟨Ḡ, dL⟩ = ⟨Ā, dA⟩ for a dA in the
        // lower triangle, dL by central differences of the factor.
        let da = SMatrix::<f64, 6, 6>::from_fn(|i, j| if i >= j { ((i + 3 * j) % 5) as f64 / 5.0 } else { 0.0 });
        let h = 1e-6;
        let dl = ((a + da * h).cholesky().unwrap().l() - (a - da * h).cholesky().unwrap().l())
            / (2.0 * h);
        assert!((g.dot(&dl) - actual.dot(&da)).abs() < 1e-7, "{} {}", g.dot(&dl), actual.dot(&da));
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

    #[test]
    fn outer_is_the_product_of_a_column_and_a_row_on_both_paths() {
        // 16×8 = 128 entries (by `ger`) and 40×30 = 1200 (by `*`), one operand a view.
        fn check<const R: usize, const C: usize>() {
            let u = SMatrix::<f64, R, 2>::from_fn(|i, j| (i * 3 + j) as f64 * 0.25 - 1.5);
            let v = SMatrix::<f64, C, 1>::from_fn(|i, _| 1.0 / (i as f64 + 1.5));
            let expected = SMatrix::<f64, R, C>::from_fn(|i, j| u[(i, 1)] * v[j]);
            assert_eq!(outer(&u.column(1), &v), expected);
            assert_eq!(outer(&u.column(1).into_owned(), &v), expected);
        }
        const { assert!(16 * 8 <= OUTER_BY_GER_MAX && 40 * 30 > OUTER_BY_GER_MAX) };
        check::<16, 8>();
        check::<40, 30>();
    }
}
