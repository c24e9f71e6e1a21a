//! `#[gradient]` in a crate that depends on nalgebra 0.34 itself and selects matgrad's
//! `nalgebra_v0_34` feature.
//!
//! The functions below are written over this crate's own `nalgebra::SVector` and
//! `nalgebra::SMatrix`, never `matgrad::nalgebra`. That they compile, and that their gradients
//! go to functions typed with this crate's nalgebra, shows that generated code uses the selected
//! version: with another one, rustc would report two different versions of crate `nalgebra`.
//! The tests compare the gradients with closed forms.

#![allow(
    clippy::must_use_candidate,
    reason = "the gradient functions are test subjects, not an API"
)]

use matgrad::gradient;
use nalgebra::{SMatrix, SVector};

/// The quadratic ½·xᵀAx − bᵀx, whose gradient is ½(A + Aᵀ)x − b.
#[gradient(wrt(x))]
pub fn quadratic(x: &SVector<f64, 3>, a: &SMatrix<f64, 3, 3>, b: &SVector<f64, 3>) -> f64 {
    0.5 * x.dot(&(a * x)) - b.dot(x)
}

/// A least-squares fit ‖Wu − y‖² over a matrix, whose gradient is 2(Wu − y)uᵀ.
#[gradient(wrt(w))]
pub fn layer(w: &SMatrix<f64, 2, 3>, u: &SVector<f64, 3>, y: &SVector<f64, 2>) -> f64 {
    let r = w * u - y;
    r.norm_squared()
}

/// Takes this crate's own nalgebra vector: a gradient of another nalgebra's type would not
/// be accepted here.
pub fn own_norm(v: &nalgebra::SVector<f64, 3>) -> f64 {
    v.norm()
}

#[cfg(test)]
mod tests {
    use super::{layer_grad, own_norm, quadratic, quadratic_grad};
    use nalgebra::{SMatrix, SVector};

    #[test]
    fn quadratic_gradient_matches_closed_form() {
        let a = SMatrix::<f64, 3, 3>::new(4.0, 1.0, 0.5, -1.0, 3.0, 0.25, 2.0, 0.0, 5.0);
        let b = SVector::<f64, 3>::new(1.0, -2.0, 0.5);
        let x = SVector::<f64, 3>::new(0.3, -0.7, 1.1);
        let (value, grad) = quadratic_grad(&x, &a, &b);
        assert_eq!(value.to_bits(), quadratic(&x, &a, &b).to_bits());
        let expected = 0.5 * (a + a.transpose()) * x - b;
        assert!((grad - expected).norm() < 1e-12, "{grad} vs {expected}");
        assert!((own_norm(&grad) - expected.norm()).abs() < 1e-12);
    }

    #[test]
    fn matrix_gradient_matches_closed_form() {
        let w = SMatrix::<f64, 2, 3>::new(0.5, -1.0, 2.0, 1.5, 0.25, -0.75);
        let u = SVector::<f64, 3>::new(1.0, 2.0, -1.0);
        let y = SVector::<f64, 2>::new(0.5, -0.5);
        let (value, grad): (f64, SMatrix<f64, 2, 3>) = layer_grad(&w, &u, &y);
        let r = w * u - y;
        assert!((value - r.norm_squared()).abs() < 1e-12);
        let expected = 2.0 * r * u.transpose();
        assert!((grad - expected).norm() < 1e-12, "{grad} vs {expected}");
    }
}
