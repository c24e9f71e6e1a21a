//! Deterministic random inputs for the gradient tests.
//!
//! [`Rng`] is splitmix64: tiny, dependency-free, and the same on every platform, so a failing
//! seed reproduces anywhere. The matrix constructors are generic over const sizes and keep every
//! entry O(1), so central differences are accurate to far better than the tests' tolerances;
//! the variants named after a precondition (`positive`, `away_from_zero`, `well_conditioned`)
//! keep inputs away from the singularities of `ln`, `sqrt`, `powf` and division.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use matgrad::nalgebra::{RowSVector, SMatrix, SVector};

/// The seeds every randomised test runs with.
pub const SEEDS: [u64; 4] = [1, 2, 3, 0x5eed_cafe];

/// The tolerance of a finite-difference check of an `f64` gradient.
pub const TOL: f64 = 1e-6;

/// The tolerance of a finite-difference check of an `f32` gradient: the function itself is
/// accurate to about 1e-7, and the central difference divides that by a step of about 5e-3.
pub const TOL_F32: f64 = 1e-3;

/// The splitmix64 generator (Steele, Lea and Flood, 2014).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// A scalar in [-1, 1).
    pub fn scalar(&mut self) -> f64 {
        self.uniform(-1.0, 1.0)
    }

    /// A scalar in [0.5, 2).
    pub fn positive_scalar(&mut self) -> f64 {
        self.uniform(0.5, 2.0)
    }

    /// A scalar with 0.5 ≤ |s| < 1.5 and a random sign.
    pub fn nonzero_scalar(&mut self) -> f64 {
        let magnitude = self.uniform(0.5, 1.5);
        if self.next_u64() & 1 == 0 {
            magnitude
        } else {
            -magnitude
        }
    }

    /// Entries uniform in [-1, 1).
    pub fn matrix<const R: usize, const C: usize>(&mut self) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|_, _| self.scalar())
    }

    /// Entries uniform in [0.5, 2): safe for `ln`, `sqrt` and `powf`.
    pub fn positive<const R: usize, const C: usize>(&mut self) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|_, _| self.positive_scalar())
    }

    /// Entries with 0.5 ≤ |a| < 1.5 and random signs: safe denominators for `component_div`.
    pub fn away_from_zero<const R: usize, const C: usize>(&mut self) -> SMatrix<f64, R, C> {
        SMatrix::from_fn(|_, _| self.nonzero_scalar())
    }

    /// (N + 1)·I plus entries in [-1, 1): strictly diagonally dominant by rows and columns with a
    /// margin of at least 1, so invertible with ‖A⁻¹‖∞ ≤ 1 (Varah's bound) whatever the seed.
    /// A diagonally dominant matrix with its rows rotated by one, so that an LU factorisation
    /// has to pivot (a dominant diagonal alone would never swap rows).
    pub fn well_conditioned<const N: usize>(&mut self) -> SMatrix<f64, N, N> {
        let dominant = SMatrix::<f64, N, N>::identity() * (N as f64 + 1.0) + self.matrix::<N, N>();
        SMatrix::from_fn(|i, j| dominant[((i + 1) % N, j)])
    }

    pub fn vector<const N: usize>(&mut self) -> SVector<f64, N> {
        self.matrix()
    }

    pub fn row<const N: usize>(&mut self) -> RowSVector<f64, N> {
        self.matrix()
    }

    /// An index uniform in 0..n.
    pub fn index(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Entries uniform in [-1, 1), as `f32`.
    pub fn matrix_f32<const R: usize, const C: usize>(&mut self) -> SMatrix<f32, R, C> {
        self.matrix::<R, C>().cast::<f32>()
    }
}

/// A matrix with entries uniform in [-1, 1), the same for the same seed.
pub fn matrix<const R: usize, const C: usize>(seed: u64) -> SMatrix<f64, R, C> {
    Rng::new(seed).matrix()
}

/// A vector with entries uniform in [-1, 1), the same for the same seed.
pub fn vector<const N: usize>(seed: u64) -> SVector<f64, N> {
    Rng::new(seed).vector()
}

/// A matrix with entries uniform in [0.5, 2), the same for the same seed.
pub fn positive<const R: usize, const C: usize>(seed: u64) -> SMatrix<f64, R, C> {
    Rng::new(seed).positive()
}

/// A strictly diagonally dominant square matrix, the same for the same seed.
pub fn well_conditioned<const N: usize>(seed: u64) -> SMatrix<f64, N, N> {
    Rng::new(seed).well_conditioned()
}

/// Asserts that two matrices agree to `rel` relative to the larger norm (absolute below 1).
#[track_caller]
pub fn assert_close<const R: usize, const C: usize>(
    actual: &SMatrix<f64, R, C>,
    expected: &SMatrix<f64, R, C>,
    rel: f64,
) {
    let scale = actual.norm().max(expected.norm()).max(1.0);
    let error = (actual - expected).norm();
    assert!(
        error <= rel * scale,
        "relative error {:e} above {rel:e}\n actual: {actual}\n expected: {expected}",
        error / scale
    );
}

/// The value `{name}_grad` returns is the value of `{name}`, up to rounding: the generated code
/// may evaluate the same expression in a cheaper order (tr(A·B) without forming A·B, say), which
/// changes the last bits but nothing more.
#[track_caller]
pub fn assert_same_value<T: Into<f64> + Copy>(actual: T, expected: T, what: &str) {
    // A few units in the last place of the type's precision.
    let rel = if std::mem::size_of::<T>() == 4 {
        1e-6
    } else {
        1e-13
    };
    let (actual, expected): (f64, f64) = (actual.into(), expected.into());
    let scale = actual.abs().max(expected.abs()).max(1.0);
    assert!(
        (actual - expected).abs() <= rel * scale,
        "the value of `{what}`: {actual} differs from {expected}"
    );
}

/// Asserts that two scalars agree to `rel` relative to the larger one (absolute below 1).
#[track_caller]
pub fn assert_close_scalar(actual: f64, expected: f64, rel: f64) {
    let scale = actual.abs().max(expected.abs()).max(1.0);
    assert!(
        (actual - expected).abs() <= rel * scale,
        "{actual} differs from {expected} by more than {rel:e} relative"
    );
}

/// Checks `$f_grad` against `$f` at one point: the value must equal `$f`'s exactly, and the
/// gradient must match central differences of `$f` within `$tol`.
///
/// The point is named by the variables that hold it, `x => (call args)` for one differentiated
/// parameter (the gradient is bare) or `(x, y) => (call args)` for several (a tuple), followed by
/// the arguments of the call written in terms of those variables, e.g.
/// `assert_gradient!(TOL, f, f_grad, (a, s) => (&a, s))`.
#[allow(unused_macros)] // `closed_forms` compares with closed forms instead
macro_rules! assert_gradient {
    ($tol:expr, $f:ident, $f_grad:ident, $x:ident => ($($arg:expr),*)) => {{
        let (value, grad) = $f_grad($($arg),*);
        $crate::common::assert_same_value(value, $f($($arg),*), stringify!($f_grad));
        matgrad::check_gradient(
            |p| {
                let $x = *p;
                $f($($arg),*)
            },
            &$x,
            &grad,
        )
        .assert_within($tol);
    }};
    ($tol:expr, $f:ident, $f_grad:ident, ($($x:ident),+) => ($($arg:expr),*)) => {{
        let (value, grad) = $f_grad($($arg),*);
        $crate::common::assert_same_value(value, $f($($arg),*), stringify!($f_grad));
        matgrad::check_gradient(
            |p| {
                let ($($x,)+) = *p;
                $f($($arg),*)
            },
            &($($x,)+),
            &grad,
        )
        .assert_within($tol);
    }};
}
