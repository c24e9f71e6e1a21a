//! Compile-time reverse-mode differentiation of fixed-size [`nalgebra`] matrix code.
//!
//! Put [`#[gradient]`](gradient) on an ordinary function that computes a scalar from
//! fixed-size matrices. At compile time the macro checks every shape, applies the rules of
//! matrix differential calculus and writes a companion `{name}_grad` that returns the value
//! together with the gradient: straight-line nalgebra code with no tape, no heap and no
//! `unsafe`.
//!
//! ```
//! use matgrad::gradient;
//! use matgrad::nalgebra::{SMatrix, SVector};
//!
//! #[gradient(wrt(beta))]
//! fn ols(beta: &SVector<f64, 2>, x: &SMatrix<f64, 3, 2>, y: &SVector<f64, 3>) -> f64 {
//!     let r = y - x * beta;
//!     r.norm_squared()
//! }
//!
//! let x = SMatrix::<f64, 3, 2>::new(1.0, 0.0, 1.0, 1.0, 1.0, 2.0);
//! let y = SVector::<f64, 3>::new(1.0, 2.0, 2.0);
//! let beta = SVector::<f64, 2>::new(0.5, 0.5);
//! let (value, grad) = ols_grad(&beta, &x, &y);
//! assert_eq!(value, ols(&beta, &x, &y));
//! // The closed form: ∇β = −2·xᵀ·(y − x·β).
//! let expected = -2.0 * x.transpose() * (y - x * beta);
//! assert!((grad - expected).norm() < 1e-12);
//! ```
//!
//! Shape mistakes are compile errors that name both shapes and point at the expression:
//!
//! ```compile_fail
//! use matgrad::gradient;
//! use matgrad::nalgebra::{SMatrix, SVector};
//!
//! #[gradient]
//! fn bad(w: &SMatrix<f64, 3, 4>, y: &SVector<f64, 3>) -> f64 {
//!     (w * y).sum() // error: `w` is 3×4 and `y` is 3×1
//! }
//! ```
//!
//! The body may branch (`if` on conditions that need no derivative), unroll `for` loops over
//! literal ranges, be generic over sizes (`const N: usize`) and over the scalar
//! (`T: RealField + Copy`), and call other `#[gradient]` functions: every annotated function also
//! gets a `{name}_vjp`, its vector-Jacobian product, through which callers differentiate it.
//! `#[gradient(pullback = f)]` gives a function a hand-written derivative instead:
//!
//! ```
//! use matgrad::gradient;
//! use matgrad::nalgebra::SVector;
//!
//! #[gradient(pullback = log_cosh_pullback)]
//! fn log_cosh(x: f64) -> f64 {
//!     x.cosh().ln()
//! }
//!
//! /// The value, and the gradient of `seed · log_cosh(x)`.
//! fn log_cosh_pullback(x: f64, seed: f64) -> (f64, (f64,)) {
//!     (x.cosh().ln(), (seed * x.tanh(),))
//! }
//!
//! #[gradient]
//! fn smooth_l1<const N: usize>(v: &SVector<f64, N>) -> f64 {
//!     let mut total = 0.0;
//!     for i in 0..3 {
//!         total += log_cosh(v[i]);
//!     }
//!     total
//! }
//!
//! let v = SVector::<f64, 3>::new(0.5, -1.0, 2.0);
//! let (_, grad) = smooth_l1_grad(&v);
//! assert!((grad - v.map(f64::tanh)).norm() < 1e-12);
//! ```
//!
//! Every annotated function also gets `{name}_jvp`, its Jacobian-vector product (the value and
//! the directional derivative along one tangent per float parameter). For residual functions,
//! [`#[jacobian]`](jacobian) adds `{name}_jacobian`: the value and, for each differentiated
//! parameter X, `J[(k, l)] = ∂Fₖ/∂Xₗ` with entries numbered column-major, computed by whichever
//! of tangent sweeps, adjoint sweeps or a closed form costs least for the shapes:
//!
//! ```
//! use matgrad::jacobian;
//! use matgrad::nalgebra::{SMatrix, SVector};
//!
//! #[jacobian(wrt(p))]
//! fn residuals(p: &SVector<f64, 3>, t: &SVector<f64, 20>, y: &SVector<f64, 20>) -> SVector<f64, 20> {
//!     let a = p[0];
//!     let b = p[1];
//!     let c = p[2];
//!     y - t.map(|ti| a * (-b * ti).exp() + c)
//! }
//! // residuals_jacobian(&p, &t, &y) -> (SVector<f64, 20>, SMatrix<f64, 20, 3>)
//!
//! let t = SVector::<f64, 20>::from_fn(|i, _| i as f64 * 0.1);
//! let y = t.map(|ti| 2.0 * (-0.5 * ti).exp());
//! let p = SVector::<f64, 3>::new(2.0, 0.5, 0.1);
//! let (r, j) = residuals_jacobian(&p, &t, &y);
//! assert_eq!(r, residuals(&p, &t, &y));
//! // ∂r/∂a = −e^(−b·t), ∂r/∂b = a·t·e^(−b·t), ∂r/∂c = −1.
//! let e = t.map(|ti| (-0.5 * ti).exp());
//! let expected = SMatrix::<f64, 20, 3>::from_columns(&[-e, t.component_mul(&e) * 2.0, -SVector::repeat(1.0)]);
//! assert!((j - expected).norm() < 1e-12);
//! ```
//!
//! For second derivatives, [`#[hessian]`](hessian) adds `{name}_hessian`, the value, the
//! gradient and the exact Hessian `H[(k, l)] = ∂²f/∂Xₖ∂Xₗ` (symmetric to the last bit), and
//! `{name}_hvp`, the Hessian-vector product at the cost of a few gradients, both forward over
//! reverse (the tangent of the gradient's adjoint program):
//!
//! ```
//! use matgrad::hessian;
//! use matgrad::nalgebra::{SMatrix, SVector};
//!
//! #[hessian(wrt(x))]
//! fn quadratic(x: &SVector<f64, 3>, a: &SMatrix<f64, 3, 3>) -> f64 {
//!     x.dot(&(a * x))
//! }
//!
//! let a = SMatrix::<f64, 3, 3>::new(2.0, 1.0, 0.0, 0.0, 3.0, 1.0, 1.0, 0.0, 4.0);
//! let x = SVector::<f64, 3>::new(1.0, -1.0, 0.5);
//! let (value, grad, h) = quadratic_hessian(&x, &a);
//! assert_eq!(h, a + a.transpose()); // the Hessian of xᵀAx is A + Aᵀ
//! let (_, _, hv) = quadratic_hvp(&x, &a, &x);
//! assert!((hv - h * x).norm() < 1e-12);
//! ```
//!
//! Beside the macro this crate holds the scalar helpers the macro knows how to differentiate
//! ([`sigmoid`], [`softplus`]) and a finite-difference [`check_gradient`] for your own tests.
//!
//! # Features
//!
//! - `std` (default): the standard library, and with it the gradient checker
//!   ([`check_gradient`], [`GradientCheck`], [`Point`]).
//! - `libm`: the [`libm`](https://crates.io/crates/libm) crate as the math backend of `f32` and
//!   `f64`, for `no_std` builds (`default-features = false, features = ["libm",
//!   "nalgebra_v0_35"]`). Everything but the gradient checker is then available, and generated
//!   code uses only `core`. In a `no_std` crate the scalar methods (`x.exp()`, `x.ln()`, …) come
//!   from nalgebra's `ComplexField` trait, so bring it into scope:
//!   `use matgrad::nalgebra::ComplexField;`.
//! - `nalgebra_v0_35` (default), `nalgebra_v0_34`, `nalgebra_v0_33`: which nalgebra
//!   [`nalgebra`] is, and so which one generated code uses; exactly one. A crate on nalgebra 0.34
//!   (as argmin-math's `nalgebra_latest` and levenberg-marquardt 0.15 are) writes
//!   `matgrad = { default-features = false, features = ["std", "nalgebra_v0_34"] }` and passes
//!   its own matrices straight to generated functions.
//! - `argmin`: `matgrad::argmin::Problem`, argmin's `CostFunction`, `Gradient`, `Hessian`,
//!   `Jacobian` and `Operator` from a `{name}_grad` (or a function returning a Hessian or a
//!   Jacobian), one evaluation per point. Needs `std`.
//! - `levenberg-marquardt`: `matgrad::levenberg_marquardt::LeastSquares`, levenberg-marquardt's
//!   `LeastSquaresProblem` from a function returning residuals and their Jacobian.

#![cfg_attr(not(feature = "std"), no_std)]
// Without `std` the gradient checker, which the text above links to, is left out.
#![cfg_attr(not(feature = "std"), allow(rustdoc::broken_intra_doc_links))]
// On docs.rs, items behind a feature say so.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

// Without `std`, f32 and f64 implement nalgebra's `RealField` only through `libm`.
#[cfg(not(any(feature = "std", feature = "libm")))]
compile_error!(
    "matgrad needs the `std` feature (on by default) or, for `no_std`, the `libm` feature: \
     `matgrad = { default-features = false, features = [\"libm\", \"nalgebra_v0_35\"] }`"
);

// Exactly one nalgebra version is selected; the others are not even dependencies. The selected
// one enters the extern prelude as `nalgebra`, so the modules below name it as usual, and is
// re-exported as `matgrad::nalgebra`.
#[cfg(not(any(
    feature = "nalgebra_v0_33",
    feature = "nalgebra_v0_34",
    feature = "nalgebra_v0_35"
)))]
compile_error!(
    "matgrad needs one nalgebra version feature: `nalgebra_v0_35` (on by default), \
     `nalgebra_v0_34` or `nalgebra_v0_33`"
);
#[cfg(any(
    all(feature = "nalgebra_v0_33", feature = "nalgebra_v0_34"),
    all(feature = "nalgebra_v0_33", feature = "nalgebra_v0_35"),
    all(feature = "nalgebra_v0_34", feature = "nalgebra_v0_35"),
))]
compile_error!(
    "matgrad's nalgebra version features `nalgebra_v0_33`, `nalgebra_v0_34` and \
     `nalgebra_v0_35` exclude each other: select one, with `default-features = false` to drop \
     the default `nalgebra_v0_35`, e.g. `features = [\"std\", \"nalgebra_v0_34\"]`"
);
#[cfg(all(
    feature = "nalgebra_v0_33",
    not(any(feature = "nalgebra_v0_34", feature = "nalgebra_v0_35"))
))]
/// nalgebra 0.33, selected by the `nalgebra_v0_33` feature: the version generated code uses.
pub extern crate nalgebra_0_33 as nalgebra;
#[cfg(all(feature = "nalgebra_v0_34", not(feature = "nalgebra_v0_35")))]
/// nalgebra 0.34, selected by the `nalgebra_v0_34` feature: the version generated code uses.
pub extern crate nalgebra_0_34 as nalgebra;
#[cfg(feature = "nalgebra_v0_35")]
/// nalgebra 0.35, selected by the `nalgebra_v0_35` feature: the version generated code uses.
pub extern crate nalgebra_0_35 as nalgebra;

/// Applies to each item the condition that some nalgebra version is selected, so that a build
/// without one reports the missing feature and nothing else.
macro_rules! with_nalgebra {
    ($($item:item)*) => {
        $(
            #[cfg(any(
                feature = "nalgebra_v0_33",
                feature = "nalgebra_v0_34",
                feature = "nalgebra_v0_35"
            ))]
            $item
        )*
    };
}

pub use matgrad_macros::{gradient, hessian, jacobian};

with_nalgebra! {
    #[cfg(feature = "argmin")]
    #[cfg_attr(docsrs, doc(cfg(feature = "argmin")))]
    pub mod argmin;
    #[cfg(feature = "std")]
    mod check;
    #[cfg(any(feature = "argmin", feature = "levenberg-marquardt"))]
    mod convert;
    #[cfg(feature = "levenberg-marquardt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "levenberg-marquardt")))]
    pub mod levenberg_marquardt;
    mod linalg;
    mod scalar;

    #[cfg(feature = "std")]
    pub use check::{GradientCheck, Point, check_gradient};
    pub use scalar::{sigmoid, softplus};
}

// Not in `with_nalgebra!`, which would indent it: compile errors in generated code quote
// `same_function` below, and the UI tests' expected output has it at this indentation.
#[cfg(any(
    feature = "nalgebra_v0_33",
    feature = "nalgebra_v0_34",
    feature = "nalgebra_v0_35"
))]
/// What generated code names. Not part of the public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::linalg::{
        Inverted, OUTER_BY_GER_MAX, cholesky_adjoint, cholesky_factor, determinant_gradient,
        extremum_index, kronecker_adjoint_left, kronecker_adjoint_right, lu_solve,
        lu_solve_transposed, outer, power_adjoint, power_adjoint_tangent, power_tangent,
        solve_lower, tr_solve_lower,
    };
    pub use crate::scalar::{sigmoid, softplus};
    pub use core;

    /// Compiles only when both arguments are the same function: every function item has a
    /// type of its own.
    #[inline(always)]
    pub fn same_function<F>(_: F, _: F) {}
    pub use crate::nalgebra;
}
