//! Scalar helpers that `#[gradient]` knows how to differentiate.
//!
//! Each helper is written to be numerically stable over the whole real line, because generated
//! code calls it on whatever values the user's data produce. The doc comment of each helper
//! states the derivative the macro uses for it, so the two can be checked against each other.

use nalgebra::RealField;

/// The logistic function σ(x) = 1 / (1 + e⁻ˣ).
///
/// The result lies in [0, 1] and never overflows: for x ≥ 0 it is computed as 1 / (1 + e⁻ˣ),
/// for x < 0 as eˣ / (1 + eˣ), so the exponential is always of a non-positive number. A NaN
/// input gives NaN.
///
/// Derivative (what `#[gradient]` uses): σ′(x) = σ(x)·(1 − σ(x)).
///
/// ```
/// let s: f64 = matgrad::sigmoid(0.0);
/// assert_eq!(s, 0.5);
///
/// // Large inputs saturate instead of overflowing.
/// assert_eq!(matgrad::sigmoid(1000.0_f64), 1.0);
/// assert_eq!(matgrad::sigmoid(-1000.0_f64), 0.0);
///
/// // σ′ = σ·(1 − σ), compared with a central difference.
/// let (x, h) = (0.3_f64, 1e-6);
/// let numeric = (matgrad::sigmoid(x + h) - matgrad::sigmoid(x - h)) / (2.0 * h);
/// let s = matgrad::sigmoid(x);
/// assert!((numeric - s * (1.0 - s)).abs() < 1e-9);
/// ```
#[must_use]
pub fn sigmoid<T: RealField + Copy>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        // For negative x, e⁻ˣ could overflow; eˣ cannot.
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// The softplus function ln(1 + eˣ), a smooth version of max(x, 0).
///
/// Computed as `max(x, 0) + ln_1p(exp(-abs(x)))`, which never overflows and keeps full
/// precision both for large negative x (where the result is about eˣ) and for large positive
/// x (where it is about x). A NaN input gives NaN.
///
/// Derivative (what `#[gradient]` uses): softplus′(x) = σ(x), the [`sigmoid`].
///
/// ```
/// let y: f64 = matgrad::softplus(0.0);
/// assert!((y - 2.0_f64.ln()).abs() < 1e-15);
///
/// // Large inputs do not overflow.
/// assert_eq!(matgrad::softplus(1000.0_f64), 1000.0);
/// assert!(matgrad::softplus(-1000.0_f64) >= 0.0);
///
/// // softplus′ = σ, compared with a central difference.
/// let (x, h) = (-0.7_f64, 1e-6);
/// let numeric = (matgrad::softplus(x + h) - matgrad::softplus(x - h)) / (2.0 * h);
/// assert!((numeric - matgrad::sigmoid(x)).abs() < 1e-9);
/// ```
#[must_use]
pub fn softplus<T: RealField + Copy>(x: T) -> T {
    x.max(T::zero()) + (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::{sigmoid, softplus};

    /// Moderate inputs, where the naive formulas are accurate.
    fn moderate() -> impl Iterator<Item = f64> {
        (-80..=80).map(|k| f64::from(k) * 0.25)
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
    }

    #[test]
    fn sigmoid_matches_naive_formula() {
        for x in moderate() {
            let naive = 1.0 / (1.0 + (-x).exp());
            assert!(
                close(sigmoid(x), naive, 1e-14),
                "x = {x}: {} vs {naive}",
                sigmoid(x)
            );
        }
    }

    #[test]
    fn softplus_matches_naive_formula() {
        for x in moderate() {
            let naive = x.exp().ln_1p();
            assert!(
                close(softplus(x), naive, 1e-14),
                "x = {x}: {} vs {naive}",
                softplus(x)
            );
        }
    }

    #[test]
    fn f64_extremes_stay_finite() {
        for x in [-1000.0_f64, -710.0, -100.0, 100.0, 710.0, 1000.0] {
            let s = sigmoid(x);
            let p = softplus(x);
            assert!(
                s.is_finite() && (0.0..=1.0).contains(&s),
                "sigmoid({x}) = {s}"
            );
            assert!(p.is_finite() && p >= 0.0, "softplus({x}) = {p}");
        }
        assert!(close(sigmoid(1000.0_f64), 1.0, 0.0));
        assert!(sigmoid(-1000.0_f64).abs() <= f64::MIN_POSITIVE);
        assert!(close(softplus(1000.0_f64), 1000.0, 0.0));
        // ln(1 + e⁻¹⁰⁰) ≈ e⁻¹⁰⁰: small but represented with full relative precision.
        assert!(close(softplus(-100.0_f64), (-100.0_f64).exp(), 1e-14));
    }

    #[test]
    fn f32_extremes_stay_finite() {
        for x in [-100.0_f32, -89.0, -50.0, 50.0, 89.0, 100.0] {
            let s = sigmoid(x);
            let p = softplus(x);
            assert!(
                s.is_finite() && (0.0..=1.0).contains(&s),
                "sigmoid({x}) = {s}"
            );
            assert!(p.is_finite() && p >= 0.0, "softplus({x}) = {p}");
        }
        assert!((sigmoid(100.0_f32) - 1.0).abs() <= f32::EPSILON);
        assert!((softplus(100.0_f32) - 100.0).abs() <= f32::EPSILON * 100.0);
    }

    #[test]
    fn nan_propagates() {
        assert!(sigmoid(f64::NAN).is_nan());
        assert!(softplus(f64::NAN).is_nan());
        assert!(sigmoid(f32::NAN).is_nan());
        assert!(softplus(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_is_antisymmetric_about_one_half() {
        // σ(−x) = 1 − σ(x)
        for x in moderate().chain([-1000.0, 1000.0]) {
            let lhs = sigmoid(-x);
            let rhs = 1.0 - sigmoid(x);
            assert!(
                (lhs - rhs).abs() <= 2.0 * f64::EPSILON,
                "x = {x}: {lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn softplus_difference_is_identity() {
        // softplus(x) − softplus(−x) = ln((1 + eˣ) / (1 + e⁻ˣ)) = x
        for x in moderate().chain([-1000.0, 1000.0]) {
            let d = softplus(x) - softplus(-x);
            assert!(
                (d - x).abs() <= 4.0 * f64::EPSILON * x.abs().max(1.0),
                "x = {x}: {d}"
            );
        }
    }

    #[test]
    fn softplus_derivative_is_sigmoid() {
        let h = 1e-5;
        for x in moderate() {
            let numeric = (softplus(x + h) - softplus(x - h)) / (2.0 * h);
            assert!((numeric - sigmoid(x)).abs() < 1e-9, "x = {x}");
        }
    }

    #[test]
    fn sigmoid_derivative_is_s_times_one_minus_s() {
        let h = 1e-5;
        for x in moderate() {
            let numeric = (sigmoid(x + h) - sigmoid(x - h)) / (2.0 * h);
            let s = sigmoid(x);
            assert!((numeric - s * (1.0 - s)).abs() < 1e-9, "x = {x}");
        }
    }
}
