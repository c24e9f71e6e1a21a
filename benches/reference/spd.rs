//! Triangular kernels of the SPD experts: a Cholesky factor, its inverse and a triangular
//! product, as column loops on stack matrices (shared by the gradient and Hessian references).

use matgrad::nalgebra::{SMatrix, SVector};

/// The lower Cholesky factor L of a symmetric positive definite Σ = L·Lᵀ (left-looking, column by
/// column: column j of Σ minus Lⱼₖ times column k of L for every k < j, then scaled by 1/Lⱼⱼ).
/// Only Σ's lower triangle is read; L's strict upper triangle is zero.
///
/// # Panics
///
/// If Σ is not positive definite.
pub fn cholesky_lower<const N: usize>(sigma: &SMatrix<f64, N, N>) -> SMatrix<f64, N, N> {
    let mut l = SMatrix::<f64, N, N>::zeros();
    for j in 0..N {
        for i in j..N {
            l[(i, j)] = sigma[(i, j)];
        }
        for k in 0..j {
            let ljk = l[(j, k)];
            for i in j..N {
                l[(i, j)] -= ljk * l[(i, k)];
            }
        }
        let d = l[(j, j)];
        assert!(d > 0.0, "Σ is not positive definite");
        let d = d.sqrt();
        let inv_d = 1.0 / d;
        l[(j, j)] = d;
        for i in j + 1..N {
            l[(i, j)] *= inv_d;
        }
    }
    l
}

/// The inverse of a lower triangular L with a nonzero diagonal, itself lower triangular: column
/// j solves Ly = eⱼ by forward substitution, in column-oriented (axpy) form.
pub fn lower_inverse<const N: usize>(l: &SMatrix<f64, N, N>) -> SMatrix<f64, N, N> {
    let mut li = SMatrix::<f64, N, N>::zeros();
    for j in 0..N {
        li[(j, j)] = 1.0;
        for k in j..N {
            let yk = li[(k, j)] / l[(k, k)];
            li[(k, j)] = yk;
            for i in k + 1..N {
                li[(i, j)] -= l[(i, k)] * yk;
            }
        }
    }
    li
}

/// The product of a lower triangular matrix and a vector, skipping the zero upper triangle.
pub fn lower_mul<const N: usize>(l: &SMatrix<f64, N, N>, v: &SVector<f64, N>) -> SVector<f64, N> {
    let mut out = SVector::<f64, N>::zeros();
    for k in 0..N {
        let vk = v[k];
        for i in k..N {
            out[i] += l[(i, k)] * vk;
        }
    }
    out
}
