//! Copies fixed-size matrices between `matgrad::nalgebra`, the version generated code uses, and
//! the nalgebra an optimisation crate is written against.
//!
//! argmin-math implements its math for nalgebra up to 0.34 and levenberg-marquardt 0.15 is
//! written against 0.34, while the default `matgrad::nalgebra` is 0.35. The adapters therefore
//! take the user's function in the selected version and hand the solver its own version, copying
//! at the boundary: a few dozen numbers per call, nothing next to evaluating the function. When
//! both are the same crate the copy is still made, so one code path serves every selection.

/// Defines `to_solver` and `from_solver` between `crate::nalgebra` and the nalgebra crate
/// `$solver`, documented as the one `$name` uses.
macro_rules! solver_conversions {
    ($solver:ident, $name:literal) => {
        #[doc = concat!(
            "Copies a matrix of `matgrad::nalgebra` into the nalgebra ", $name,
            " works with (the same shape, in column-major order)."
        )]
        pub fn to_solver<T, const R: usize, const C: usize>(
            m: &crate::nalgebra::SMatrix<T, R, C>,
        ) -> $solver::SMatrix<T, R, C>
        where
            T: crate::nalgebra::Scalar + $solver::Scalar,
        {
            $solver::SMatrix::from_column_slice(m.as_slice())
        }

        #[doc = concat!(
            "Copies a matrix of the nalgebra ", $name,
            " works with into `matgrad::nalgebra` (the same shape, in column-major order)."
        )]
        pub fn from_solver<T, const R: usize, const C: usize>(
            m: &$solver::SMatrix<T, R, C>,
        ) -> crate::nalgebra::SMatrix<T, R, C>
        where
            T: crate::nalgebra::Scalar + $solver::Scalar,
        {
            crate::nalgebra::SMatrix::from_column_slice(m.as_slice())
        }
    };
}

pub(crate) use solver_conversions;
