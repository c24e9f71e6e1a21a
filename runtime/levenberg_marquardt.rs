//! levenberg-marquardt's `LeastSquaresProblem` for generated functions (feature
//! `levenberg-marquardt`).
//!
//! A [`LeastSquares`] wraps a function of the parameter vector returning `(residuals, J)`, as a
//! `{name}_jacobian` does with the data captured: J is `SMatrix<T, M, N>`, `J[(k, l)] = ∂r_k/∂p_l`.
//! Each time the solver moves to a point the function runs once, and the solver's separate
//! requests for the residuals and the Jacobian there read that one result.
//!
//! levenberg-marquardt 0.15 is written against nalgebra 0.34, re-exported here as
//! [`nalgebra`]; the function takes and returns `matgrad::nalgebra` types
//! whatever version is selected, and [`LeastSquares::parameters`] gives the solution back in
//! them.
//!
//! ```
//! use levenberg_marquardt::LevenbergMarquardt;
//! use matgrad::levenberg_marquardt::LeastSquares;
//! use matgrad::nalgebra::{SMatrix, SVector};
//!
//! // Residuals of the line y = a + b·t through three points, and their Jacobian.
//! let t = SVector::<f64, 3>::new(0.0, 1.0, 2.0);
//! let y = SVector::<f64, 3>::new(1.0, 3.0, 5.0);
//! let line = |p: &SVector<f64, 2>| {
//!     let r = t.map(|ti| p[0] + p[1] * ti) - y;
//!     let j = SMatrix::<f64, 3, 2>::from_fn(|k, l| if l == 0 { 1.0 } else { t[k] });
//!     (r, j)
//! };
//! let (fit, report) = LevenbergMarquardt::new().minimize(LeastSquares::new(line, &SVector::zeros()));
//! assert!(report.termination.was_successful());
//! assert!((fit.parameters() - SVector::<f64, 2>::new(1.0, 2.0)).norm() < 1e-9);
//! ```

use ::levenberg_marquardt::LeastSquaresProblem;

/// The nalgebra version levenberg-marquardt is written against.
pub use nalgebra_0_34 as nalgebra;

crate::convert::solver_conversions!(nalgebra, "levenberg-marquardt");

use self::nalgebra::{ArrayStorage, ComplexField, Const, SMatrix, SVector, Scalar};

/// The selected nalgebra's matrix, the type of the user's function.
type Own<T, const R: usize, const C: usize> = crate::nalgebra::SMatrix<T, R, C>;

/// A least-squares problem min ½‖r(p)‖² from a function returning `(residuals, jacobian)`.
///
/// `M` residuals, `N` parameters. The function has run at the current parameters, and
/// [`residuals`](LeastSquaresProblem::residuals) and [`jacobian`](LeastSquaresProblem::jacobian)
/// return what it gave.
pub struct LeastSquares<F, T: Scalar, const M: usize, const N: usize> {
    function: F,
    params: SVector<T, N>,
    residuals: SVector<T, M>,
    jacobian: SMatrix<T, M, N>,
    evaluations: usize,
}

impl<F, T, const M: usize, const N: usize> LeastSquares<F, T, M, N>
where
    F: Fn(&Own<T, N, 1>) -> (Own<T, M, 1>, Own<T, M, N>),
    T: Scalar + crate::nalgebra::Scalar,
{
    /// The problem at the starting point `initial`, where the function runs once.
    pub fn new(function: F, initial: &Own<T, N, 1>) -> Self {
        let (residuals, jacobian) = function(initial);
        LeastSquares {
            params: to_solver(initial),
            residuals: to_solver(&residuals),
            jacobian: to_solver(&jacobian),
            function,
            evaluations: 1,
        }
    }

    /// The current parameters, in `matgrad::nalgebra`: after the solver ran, the solution.
    pub fn parameters(&self) -> Own<T, N, 1> {
        from_solver(&self.params)
    }

    /// How many times the function has run: once per point the solver moved to.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }
}

impl<F, T, const M: usize, const N: usize> LeastSquaresProblem<T, Const<M>, Const<N>>
    for LeastSquares<F, T, M, N>
where
    F: Fn(&Own<T, N, 1>) -> (Own<T, M, 1>, Own<T, M, N>),
    T: ComplexField + Copy + crate::nalgebra::Scalar,
{
    type ResidualStorage = ArrayStorage<T, M, 1>;
    type JacobianStorage = ArrayStorage<T, M, N>;
    type ParameterStorage = ArrayStorage<T, N, 1>;

    fn set_params(&mut self, x: &SVector<T, N>) {
        let (residuals, jacobian) = (self.function)(&from_solver(x));
        self.params = *x;
        self.residuals = to_solver(&residuals);
        self.jacobian = to_solver(&jacobian);
        self.evaluations += 1;
    }

    fn params(&self) -> SVector<T, N> {
        self.params
    }

    fn residuals(&self) -> Option<SVector<T, M>> {
        Some(self.residuals)
    }

    fn jacobian(&self) -> Option<SMatrix<T, M, N>> {
        Some(self.jacobian)
    }
}
