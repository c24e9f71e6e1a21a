//! argmin's problem traits for generated functions (feature `argmin`).
//!
//! A [`Problem`] wraps a function of the parameter vector alone (a `{name}_grad` with the data
//! captured) and implements the argmin traits its result answers: value and gradient give
//! [`CostFunction`] and [`Gradient`]; value, gradient and Hessian add [`Hessian`]; residuals and
//! Jacobian give [`Operator`] and [`Jacobian`]. argmin asks for the cost and then the gradient
//! (or the residuals and then the Jacobian) at the same point in separate calls, while the
//! generated function computes them together, so the problem evaluates the function once and
//! keeps the last result: the second call at that point is a copy.
//!
//! Parameters are vectors, `SVector<T, N>`, as argmin's solvers expect. The function takes and
//! returns `matgrad::nalgebra` types, and argmin sees those of [`nalgebra`],
//! the version argmin-math implements its math for: the selected one if it is 0.33 or 0.34, 0.34
//! otherwise (see the crate's features).
//!
//! ```
//! use argmin::core::{CostFunction, Executor, Gradient, State};
//! use argmin::solver::linesearch::MoreThuenteLineSearch;
//! use argmin::solver::quasinewton::LBFGS;
//! use matgrad::gradient;
//! use matgrad::nalgebra::SVector;
//!
//! #[gradient]
//! fn bowl(p: &SVector<f64, 2>) -> f64 {
//!     (p[0] - 1.0).powi(2) + 4.0 * (p[1] + 2.0).powi(2)
//! }
//!
//! let problem = matgrad::argmin::Problem::gradient(bowl_grad);
//! let start = matgrad::argmin::to_solver(&SVector::<f64, 2>::new(0.0, 0.0));
//! let solver = LBFGS::new(MoreThuenteLineSearch::new(), 5);
//! let result = Executor::new(problem, solver)
//!     .configure(|state| state.param(start).max_iters(50))
//!     .run()
//!     .unwrap();
//! let best = result.state().get_best_param().unwrap();
//! assert!((best[0] - 1.0).abs() < 1e-6 && (best[1] + 2.0).abs() < 1e-6);
//! ```

use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ::argmin::core::{CostFunction, Error, Gradient, Hessian, Jacobian, Operator};

/// The nalgebra version argmin-math implements its math traits for, and so the one of the
/// parameters, gradients, Hessians and Jacobians argmin sees.
#[cfg(feature = "nalgebra_v0_33")]
pub use nalgebra_0_33 as nalgebra;
/// The nalgebra version argmin-math implements its math traits for, and so the one of the
/// parameters, gradients, Hessians and Jacobians argmin sees.
#[cfg(not(feature = "nalgebra_v0_33"))]
pub use nalgebra_0_34 as nalgebra;

crate::convert::solver_conversions!(nalgebra, "argmin-math");

use self::nalgebra::{DMatrix, DVector, SMatrix, SVector};

/// A function of the parameters as an argmin problem, evaluated once per point.
///
/// Built by [`Problem::gradient`], [`Problem::hessian`] or [`Problem::jacobian`]; `E` is what
/// one evaluation gives ([`WithGradient`], [`WithHessian`] or [`WithJacobian`]), which decides
/// the argmin traits the problem implements. The last evaluation is kept behind a mutex, so the
/// problem is `Sync` whenever the function is, as argmin's parallel `bulk_*` methods require.
pub struct Problem<F, E> {
    function: F,
    last: Mutex<Option<E>>,
    evaluations: AtomicUsize,
}

/// What one evaluation of a function gives, at the point it was evaluated.
pub trait Evaluation<F>: Sized {
    /// The parameter type argmin sees.
    type Param: PartialEq;

    /// Evaluates `function` at `param`.
    fn evaluate(function: &F, param: &Self::Param) -> Self;

    /// The point this evaluation was made at.
    fn param(&self) -> &Self::Param;
}

/// The value and gradient of a scalar function at `param`.
#[derive(Clone, Debug, PartialEq)]
pub struct WithGradient<T: nalgebra::Scalar, const N: usize> {
    /// The point.
    pub param: SVector<T, N>,
    /// The function's value there.
    pub value: T,
    /// Its gradient there.
    pub gradient: SVector<T, N>,
}

/// The value, gradient and Hessian of a scalar function at `param`.
#[derive(Clone, Debug, PartialEq)]
pub struct WithHessian<T: nalgebra::Scalar, const N: usize> {
    /// The point.
    pub param: SVector<T, N>,
    /// The function's value there.
    pub value: T,
    /// Its gradient there.
    pub gradient: SVector<T, N>,
    /// Its Hessian there, `H[(k, l)] = ∂²f/∂p_k∂p_l`.
    pub hessian: SMatrix<T, N, N>,
}

/// The residuals of a vector function at `param` and their Jacobian.
#[derive(Clone, Debug, PartialEq)]
pub struct WithJacobian<T: nalgebra::Scalar, const M: usize, const N: usize> {
    /// The point.
    pub param: SVector<T, N>,
    /// The residuals there.
    pub residuals: SVector<T, M>,
    /// Their Jacobian there, `J[(k, l)] = ∂r_k/∂p_l`.
    pub jacobian: SMatrix<T, M, N>,
}

/// The residuals of a vector function at `param` and their Jacobian, as dynamic matrices: for
/// solvers whose bounds need a Jacobian of the same type as its transpose, as argmin's
/// Gauss–Newton does. `M` residuals, `N` parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct WithDynamicJacobian<T: nalgebra::Scalar, const M: usize, const N: usize> {
    /// The point.
    pub param: DVector<T>,
    /// The residuals there.
    pub residuals: DVector<T>,
    /// Their Jacobian there, `J[(k, l)] = ∂r_k/∂p_l`, M×N.
    pub jacobian: DMatrix<T>,
}

/// The selected nalgebra's vector, the parameter type of the user's function.
type Own<T, const R: usize, const C: usize> = crate::nalgebra::SMatrix<T, R, C>;

impl<F, T, const N: usize> Evaluation<F> for WithGradient<T, N>
where
    F: Fn(&Own<T, N, 1>) -> (T, Own<T, N, 1>),
    T: nalgebra::Scalar + crate::nalgebra::Scalar,
{
    type Param = SVector<T, N>;

    fn evaluate(function: &F, param: &SVector<T, N>) -> Self {
        let (value, gradient) = function(&from_solver(param));
        let gradient = to_solver(&gradient);
        WithGradient { param: param.clone(), value, gradient }
    }

    fn param(&self) -> &SVector<T, N> {
        &self.param
    }
}

impl<F, T, const N: usize> Evaluation<F> for WithHessian<T, N>
where
    F: Fn(&Own<T, N, 1>) -> (T, Own<T, N, 1>, Own<T, N, N>),
    T: nalgebra::Scalar + crate::nalgebra::Scalar,
{
    type Param = SVector<T, N>;

    fn evaluate(function: &F, param: &SVector<T, N>) -> Self {
        let (value, gradient, hessian) = function(&from_solver(param));
        let (gradient, hessian) = (to_solver(&gradient), to_solver(&hessian));
        WithHessian { param: param.clone(), value, gradient, hessian }
    }

    fn param(&self) -> &SVector<T, N> {
        &self.param
    }
}

impl<F, T, const M: usize, const N: usize> Evaluation<F> for WithJacobian<T, M, N>
where
    F: Fn(&Own<T, N, 1>) -> (Own<T, M, 1>, Own<T, M, N>),
    T: nalgebra::Scalar + crate::nalgebra::Scalar,
{
    type Param = SVector<T, N>;

    fn evaluate(function: &F, param: &SVector<T, N>) -> Self {
        let (residuals, jacobian) = function(&from_solver(param));
        let (residuals, jacobian) = (to_solver(&residuals), to_solver(&jacobian));
        WithJacobian { param: param.clone(), residuals, jacobian }
    }

    fn param(&self) -> &SVector<T, N> {
        &self.param
    }
}

impl<F, T, const M: usize, const N: usize> Evaluation<F> for WithDynamicJacobian<T, M, N>
where
    F: Fn(&Own<T, N, 1>) -> (Own<T, M, 1>, Own<T, M, N>),
    T: nalgebra::Scalar + crate::nalgebra::Scalar + Copy,
{
    type Param = DVector<T>;

    /// # Panics
    ///
    /// If `param` does not have `N` entries: the starting point given to the solver has the
    /// wrong length.
    fn evaluate(function: &F, param: &DVector<T>) -> Self {
        assert_eq!(
            param.len(),
            N,
            "the parameter vector has {} entries where the function takes {N}",
            param.len()
        );
        let point = Own::<T, N, 1>::from_iterator(param.iter().copied());
        let (residuals, jacobian) = function(&point);
        WithDynamicJacobian {
            param: param.clone(),
            residuals: DVector::from_column_slice(residuals.as_slice()),
            jacobian: DMatrix::from_column_slice(M, N, jacobian.as_slice()),
        }
    }

    fn param(&self) -> &DVector<T> {
        &self.param
    }
}

impl<F, T, const N: usize> Problem<F, WithGradient<T, N>>
where
    F: Fn(&Own<T, N, 1>) -> (T, Own<T, N, 1>),
    T: nalgebra::Scalar + crate::nalgebra::Scalar,
{
    /// A problem from a function returning `(value, gradient)`, as `{name}_grad` does: argmin's
    /// [`CostFunction`] and [`Gradient`].
    ///
    /// Capture the data in a closure: `Problem::gradient(|w| nll_grad(w, &x, &y))`.
    pub fn gradient(function: F) -> Self {
        Self::new(function)
    }
}

impl<F, T, const N: usize> Problem<F, WithHessian<T, N>>
where
    F: Fn(&Own<T, N, 1>) -> (T, Own<T, N, 1>, Own<T, N, N>),
    T: nalgebra::Scalar + crate::nalgebra::Scalar,
{
    /// A problem from a function returning `(value, gradient, hessian)`, as `{name}_hessian`
    /// does: argmin's [`CostFunction`], [`Gradient`] and [`Hessian`].
    pub fn hessian(function: F) -> Self {
        Self::new(function)
    }
}

impl<F, T, const M: usize, const N: usize> Problem<F, WithJacobian<T, M, N>>
where
    F: Fn(&Own<T, N, 1>) -> (Own<T, M, 1>, Own<T, M, N>),
    T: nalgebra::Scalar + crate::nalgebra::Scalar,
{
    /// A problem from a function returning `(residuals, jacobian)`, as `{name}_jacobian` does,
    /// with `J[(k, l)] = ∂r_k/∂p_l`: argmin's [`Operator`] (the residuals) and [`Jacobian`].
    pub fn jacobian(function: F) -> Self {
        Self::new(function)
    }
}

impl<F, T, const M: usize, const N: usize> Problem<F, WithDynamicJacobian<T, M, N>>
where
    F: Fn(&Own<T, N, 1>) -> (Own<T, M, 1>, Own<T, M, N>),
    T: nalgebra::Scalar + crate::nalgebra::Scalar + Copy,
{
    /// A problem from a function returning `(residuals, jacobian)`, as `{name}_jacobian` does,
    /// seen by argmin through dynamic vectors and matrices (`DVector`, `DMatrix`): argmin's
    /// [`Operator`] and [`Jacobian`] for solvers whose bounds need the Jacobian to be of the
    /// same type as its transpose, as Gauss–Newton's do. The generated function still runs on
    /// fixed-size matrices; the copies into dynamic ones are the adapter's.
    pub fn dynamic_jacobian(function: F) -> Self {
        Self::new(function)
    }
}

impl<F, E: Evaluation<F>> Problem<F, E> {
    fn new(function: F) -> Self {
        Problem { function, last: Mutex::new(None), evaluations: AtomicUsize::new(0) }
    }

    /// How many times the function has been evaluated: once per distinct point argmin asked
    /// about in a row.
    pub fn evaluations(&self) -> usize {
        self.evaluations.load(Ordering::Relaxed)
    }

    /// Reads the evaluation at `param`, evaluating the function only if the last evaluation
    /// was at another point. The function runs outside the lock, so a panic in it leaves the
    /// cache as it was, and parallel callers are not serialised behind it.
    fn at<R>(&self, param: &E::Param, read: impl FnOnce(&E) -> R) -> R {
        if let Some(last) = self.lock().as_ref().filter(|last| last.param() == param) {
            return read(last);
        }
        let evaluation = E::evaluate(&self.function, param);
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let result = read(&evaluation);
        *self.lock() = Some(evaluation);
        result
    }

    fn lock(&self) -> MutexGuard<'_, Option<E>> {
        // A panic elsewhere while the lock was held cannot leave a half-written evaluation:
        // only whole evaluations are stored.
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<F, T, const N: usize> CostFunction for Problem<F, WithGradient<T, N>>
where
    WithGradient<T, N>: Evaluation<F, Param = SVector<T, N>>,
    T: nalgebra::Scalar + Copy,
{
    type Param = SVector<T, N>;
    type Output = T;

    fn cost(&self, param: &SVector<T, N>) -> Result<T, Error> {
        Ok(self.at(param, |e| e.value))
    }
}

impl<F, T, const N: usize> Gradient for Problem<F, WithGradient<T, N>>
where
    WithGradient<T, N>: Evaluation<F, Param = SVector<T, N>>,
    T: nalgebra::Scalar,
{
    type Param = SVector<T, N>;
    type Gradient = SVector<T, N>;

    fn gradient(&self, param: &SVector<T, N>) -> Result<SVector<T, N>, Error> {
        Ok(self.at(param, |e| e.gradient.clone()))
    }
}

impl<F, T, const N: usize> CostFunction for Problem<F, WithHessian<T, N>>
where
    WithHessian<T, N>: Evaluation<F, Param = SVector<T, N>>,
    T: nalgebra::Scalar + Copy,
{
    type Param = SVector<T, N>;
    type Output = T;

    fn cost(&self, param: &SVector<T, N>) -> Result<T, Error> {
        Ok(self.at(param, |e| e.value))
    }
}

impl<F, T, const N: usize> Gradient for Problem<F, WithHessian<T, N>>
where
    WithHessian<T, N>: Evaluation<F, Param = SVector<T, N>>,
    T: nalgebra::Scalar,
{
    type Param = SVector<T, N>;
    type Gradient = SVector<T, N>;

    fn gradient(&self, param: &SVector<T, N>) -> Result<SVector<T, N>, Error> {
        Ok(self.at(param, |e| e.gradient.clone()))
    }
}

impl<F, T, const N: usize> Hessian for Problem<F, WithHessian<T, N>>
where
    WithHessian<T, N>: Evaluation<F, Param = SVector<T, N>>,
    T: nalgebra::Scalar,
{
    type Param = SVector<T, N>;
    type Hessian = SMatrix<T, N, N>;

    fn hessian(&self, param: &SVector<T, N>) -> Result<SMatrix<T, N, N>, Error> {
        Ok(self.at(param, |e| e.hessian.clone()))
    }
}

impl<F, T, const M: usize, const N: usize> Operator for Problem<F, WithJacobian<T, M, N>>
where
    WithJacobian<T, M, N>: Evaluation<F, Param = SVector<T, N>>,
    T: nalgebra::Scalar,
{
    type Param = SVector<T, N>;
    type Output = SVector<T, M>;

    fn apply(&self, param: &SVector<T, N>) -> Result<SVector<T, M>, Error> {
        Ok(self.at(param, |e| e.residuals.clone()))
    }
}

impl<F, T, const M: usize, const N: usize> Jacobian for Problem<F, WithJacobian<T, M, N>>
where
    WithJacobian<T, M, N>: Evaluation<F, Param = SVector<T, N>>,
    T: nalgebra::Scalar,
{
    type Param = SVector<T, N>;
    type Jacobian = SMatrix<T, M, N>;

    fn jacobian(&self, param: &SVector<T, N>) -> Result<SMatrix<T, M, N>, Error> {
        Ok(self.at(param, |e| e.jacobian.clone()))
    }
}

impl<F, T, const M: usize, const N: usize> Operator for Problem<F, WithDynamicJacobian<T, M, N>>
where
    WithDynamicJacobian<T, M, N>: Evaluation<F, Param = DVector<T>>,
    T: nalgebra::Scalar,
{
    type Param = DVector<T>;
    type Output = DVector<T>;

    fn apply(&self, param: &DVector<T>) -> Result<DVector<T>, Error> {
        Ok(self.at(param, |e| e.residuals.clone()))
    }
}

impl<F, T, const M: usize, const N: usize> Jacobian for Problem<F, WithDynamicJacobian<T, M, N>>
where
    WithDynamicJacobian<T, M, N>: Evaluation<F, Param = DVector<T>>,
    T: nalgebra::Scalar,
{
    type Param = DVector<T>;
    type Jacobian = DMatrix<T>;

    fn jacobian(&self, param: &DVector<T>) -> Result<DMatrix<T>, Error> {
        Ok(self.at(param, |e| e.jacobian.clone()))
    }
}
