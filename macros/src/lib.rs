//! The `#[gradient]` attribute macro of matgrad.
//!
//! Users depend on the `matgrad` crate, which re-exports this macro together with the runtime the
//! generated code needs; this crate is an implementation detail. The pipeline lives in
//! `expand`, one module per stage.

mod adjoint;
mod args;
mod ast;
mod ctxt;
mod derivation;
mod diff;
mod emit;
mod expand;
mod fallback;
mod fuse;
mod ir;
mod lower;
mod plan;
mod reuse;
mod rules;
mod second;
mod shape;
mod simplify;
mod tangent;
mod text;
mod types;
mod verify;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod interp;
#[cfg(test)]
mod programs;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Differentiates a scalar function of fixed-size nalgebra matrices at compile time.
///
/// `#[gradient]` keeps the function as written and adds, with the same visibility, generics and
/// parameters, `{name}_grad(params…) -> (value, gradients)` and `{name}_vjp(params…, seed)`.
/// The gradient is straight-line nalgebra code on stack matrices: no tape, no heap, no `unsafe`.
///
/// ```ignore
/// use matgrad::gradient;
/// use matgrad::nalgebra::{SMatrix, SVector};
///
/// #[gradient(wrt(beta))]
/// fn ols(beta: &SVector<f64, 2>, x: &SMatrix<f64, 3, 2>, y: &SVector<f64, 3>) -> f64 {
///     let r = y - x * beta;
///     r.norm_squared()
/// }
///
/// let x = SMatrix::<f64, 3, 2>::new(1.0, 0.0, 1.0, 1.0, 1.0, 2.0);
/// let y = SVector::<f64, 3>::new(1.0, 2.0, 2.0);
/// let beta = SVector::<f64, 2>::new(0.5, 0.5);
/// let (value, grad) = ols_grad(&beta, &x, &y);
/// assert_eq!(value, ols(&beta, &x, &y));
/// // The closed form: ∇β = −2·xᵀ·(y − x·β).
/// let expected = -2.0 * x.transpose() * (y - x * beta);
/// assert!((grad - expected).norm() < 1e-12);
/// ```
///
/// # The contract
///
/// - `{name}_grad` returns `(value, gradients)`; the value is what the function returns, up to
///   rounding (the generated code may evaluate an expression in a cheaper order).
/// - The differentiated parameters are those named in `wrt(a, b, …)`, in that order; without
///   `wrt`, every float parameter (an `f64`/`f32` scalar or matrix) in signature order. Integer
///   and `bool` parameters are constants.
/// - One gradient per differentiated parameter, owned, of the parameter's type without `&`: bare
///   for one parameter, a tuple for several. ∇X has X's shape and `∇X[(i, j)] = ∂f/∂X[(i, j)]`;
///   symmetric inputs are treated as general matrices.
/// - `{name}_vjp(params…, seed)` returns `(value, (gradient of every float parameter, …))` of
///   `seed · f`: the vector-Jacobian product through which other `#[gradient]` functions call
///   this one. A function returning a matrix gets only `_vjp`, with a seed of its shape.
/// - `#[gradient(pullback = g)]` uses a hand-written `g(params…, seed) -> (value, (gradients…))`
///   instead of differentiating the body.
/// - `#[gradient(twice)]` (with `wrt` or without) also writes the second-order program
///   `{name}_vjp_jvp` through which `#[hessian]` functions differentiate a call of this one
///   twice; without it the function is differentiated once, and a `#[hessian]` function that
///   reaches it stops `cargo build` with an error saying so.
///
/// # The language
///
/// - **Methods** taking `&self`: fields are constants read with their type written, as in
///   `let x: &SMatrix<f64, 20, 3> = &self.x;`; the companions are methods too.
/// - **Types**, by value or `&`, under any path prefix: `f64`, `f32`, `SMatrix<T, R, C>`,
///   `SVector<T, N>`, `RowSVector<T, N>`, `Matrix1`…`Matrix6`, `Matrix2x3`-style aliases,
///   `Vector1`…`Vector6`, `RowVector1`…`RowVector6`; `T` is `f64`, `f32` or a type parameter
///   (`T: RealField + Copy`); sizes are literals or const generic parameters. Integer and `bool`
///   parameters are constants. Slices and arrays of samples (`xs: &[SVector<f64, 3>]`,
///   `ys: &[f64]`, `labels: &[usize]`) are data sets, read by loops over data; an integer sample
///   is a constant that can index (`z[label]`). Dynamic sizes (`DMatrix`) are not
///   supported.
/// - **Statements**: `let` (shadowing, `mut`, an optional type), `let (a, b) = (x, y);`,
///   `let (s, c) = t.sin_cos();`, `=`, `+=`, `-=`, `*=`, `/=`,
///   blocks, a final expression or `return`; `if`/`else` on conditions that need no derivative;
///   `for i in a..b` with literal bounds (unrolled up to 64 iterations; a longer loop stays a
///   loop outside `#[hessian]` where its body reads `i` only as a number or run-time index,
///   its carried values kept on a stack tape for the reverse pass; `for t in 0..N` over a const
///   generic `N` always stays a loop); loops over data, `for x in xs.iter()` or
///   `for (x, y) in xs.iter().zip(ys.iter())`, whose body adds each sample's part to variables
///   declared before the loop with `+=` or `-=` (and may not otherwise assign or read them):
///   their derivatives run the loop again, summing each sample's part, with nothing stored per
///   sample, and the value is the function's to the last bit (every addition made in the same
///   order). `xs.len() as f64` is a constant. No `while`, `loop` or `match`.
/// - **Expressions**: `+ - * /` (with `*` a matrix product, scaling or scalar product by shape,
///   `/` by a scalar), unary `-`, `&e`, float literals, array literals `[a, b, c]` read by index,
///   constants, `n as f64`, entries `m[(i, j)]`
///   and `v[i]` (literal or loop-counter indices, or integer parameters such as `z[label]`,
///   range-checked at run time as nalgebra does).
/// - **Building matrices**: `Vector3::new(a, b, c)`, `Matrix2x3::new(…)` (entries row by row, as
///   nalgebra takes them), `::zeros()`, `::identity()`, `::from_diagonal_element(s)`,
///   `::from_element(s)`, `::repeat(s)`, from scalars that may depend on the parameters; entries
///   of a local matrix assigned or updated, `m[(i, j)] = e`, `v[i] += e`; its rows and columns
///   replaced, `m.set_row(i, &r)`, `m.set_column(j, &c)`.
/// - **Blocks**: `.row(i) .column(j) .fixed_rows::<R>(i) .fixed_columns::<C>(j)
///   .fixed_view::<R, C>(i, j)` (literal or loop-counter offsets; sizes literals or const
///   generics), copied out; their adjoints add into the block only.
/// - **Matrix methods**: `.transpose() .trace() .sum() .mean() .dot(&b) .norm() .norm_squared()
///   .normalize() .magnitude() .magnitude_squared() .lp_norm(1) .lp_norm(2) .abs()
///   .component_mul(&b) .component_div(&b) .kronecker(&b) .diagonal() .cross(&b) .max() .min()
///   .amax() .amin() .map(|v| …) .map(f64::exp)`; `.cholesky().unwrap()` (reading the lower
///   triangle, as nalgebra does) with `.l() .solve(&b) .inverse() .determinant()
///   .ln_determinant()`; and on
///   square matrices `.determinant() .try_inverse().unwrap() .lu().solve(&b).unwrap() .pow(k)`.
/// - **Scalar methods**: `.exp() .ln() .ln_1p() .sqrt() .sin() .cos() .tanh() .abs() .powi(n)
///   .powf(p)` (also as `f64::exp(x)`, …), and matgrad's `sigmoid` and `softplus`.
/// - **Calls** to functions that have a `{name}_vjp` (any `#[gradient]` function); a call's
///   result is a scalar unless its `let` gives a matrix type.
///
/// Anything else, and every shape mismatch, is a compile error at the offending expression that
/// names the shapes or says what is supported; all errors of a function come in one compile.
///
/// ```ignore
/// use matgrad::gradient;
/// use matgrad::nalgebra::{SMatrix, SVector};
///
/// #[gradient]
/// fn bad(w: &SMatrix<f64, 3, 4>, y: &SVector<f64, 3>) -> f64 {
///     (w * y).sum() // error: `w` is 3×4 and `y` is 3×1
/// }
/// ```
///
/// Generated code reaches nalgebra through `matgrad`, so it uses the version `matgrad`'s
/// `nalgebra_v0_3x` feature selects; the macro is used through the `matgrad` crate, which
/// re-exports it.
#[proc_macro_attribute]
pub fn gradient(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::gradient(args.into(), item.into()).into()
}

/// The Jacobian of a function of fixed-size nalgebra matrices that returns a float scalar,
/// vector or matrix, at compile time.
///
/// `#[jacobian]` (or `#[jacobian(wrt(p, q))]`) adds `{name}_jacobian(…) -> (value, J)`, where
/// for each differentiated parameter X (those named in `wrt`, or every float parameter) `J` is
/// an `SMatrix<T, M, n>` with `J[(k, l)]` the derivative of entry k of the result (M entries)
/// with respect to entry l of X (n entries), entries numbered in nalgebra's column-major order.
/// One differentiated parameter gives `J` bare, several a tuple. Like `#[gradient]` it also adds
/// `{name}_jvp` and `{name}_vjp`, and it reads the same language. See the `matgrad` crate.
///
/// ```ignore
/// use matgrad::jacobian;
/// use matgrad::nalgebra::{SMatrix, SVector};
///
/// #[jacobian(wrt(p))]
/// fn residuals(p: &SVector<f64, 3>, t: &SVector<f64, 20>, y: &SVector<f64, 20>) -> SVector<f64, 20> {
///     let a = p[0];
///     let b = p[1];
///     let c = p[2];
///     y - t.map(|ti| a * (-b * ti).exp() + c)
/// }
/// // residuals_jacobian(&p, &t, &y) -> (SVector<f64, 20>, SMatrix<f64, 20, 3>)
///
/// let t = SVector::<f64, 20>::from_fn(|i, _| i as f64 * 0.1);
/// let y = t.map(|ti| 2.0 * (-0.5 * ti).exp());
/// let p = SVector::<f64, 3>::new(2.0, 0.5, 0.1);
/// let (r, j) = residuals_jacobian(&p, &t, &y);
/// assert_eq!(r, residuals(&p, &t, &y));
/// // ∂r/∂a = −e^(−b·t), ∂r/∂b = a·t·e^(−b·t), ∂r/∂c = −1.
/// let e = t.map(|ti| (-0.5 * ti).exp());
/// let expected = SMatrix::<f64, 20, 3>::from_columns(&[-e, t.component_mul(&e) * 2.0, -SVector::repeat(1.0)]);
/// assert!((j - expected).norm() < 1e-12);
/// ```
#[proc_macro_attribute]
pub fn jacobian(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::jacobian(args.into(), item.into()).into()
}

/// Exact Hessians and Hessian-vector products of a scalar function of fixed-size nalgebra
/// matrices, at compile time.
///
/// `#[hessian]` (or `#[hessian(wrt(x))]`) goes on a function returning a float scalar with
/// exactly one differentiated parameter X of n entries. Besides `{name}_grad`, `{name}_vjp` and
/// `{name}_jvp` (as `#[gradient]` adds them) it adds
///
/// - `{name}_hessian(params…) -> (value, ∇X, H)` with `H: SMatrix<T, n, n>`,
///   `H[(k, l)] = ∂²f/∂Xₖ∂Xₗ`, the entries of X numbered in nalgebra's column-major order, and
///   H symmetric to the last bit;
/// - `{name}_hvp(params…, v: &X) -> (value, ∇X, H·v)`, H·v shaped like X (for a scalar X: `v:
///   &T` and H·v a `T`), at the cost of a few gradients whatever n is.
///
/// Both are forward over reverse: the tangent of the gradient's adjoint program, along `v` or
/// along each unit direction. Second derivatives cover straight-line code, loops (unrolled, or
/// kept as loops: `0..N` over a const generic, or more than 64 iterations), `if` (each piece
/// differentiated twice), `map` closures (entry by entry), calls of other `#[hessian]`
/// functions and of functions annotated with `twice` (`#[gradient(twice)]`, `#[jacobian(twice)]`),
/// whatever they call in turn (through their `{name}_vjp_jvp`), and every scalar and matrix
/// operation. Reaching, directly or through other functions, a function with no second
/// derivative (one without `twice`, or with a hand-written `pullback`) stops `cargo build` with
/// an error that names it and says why (`cargo check` does not compile that far).
///
/// ```ignore
/// use matgrad::hessian;
/// use matgrad::nalgebra::{SMatrix, SVector};
///
/// #[hessian(wrt(x))]
/// fn quadratic(x: &SVector<f64, 3>, a: &SMatrix<f64, 3, 3>) -> f64 {
///     x.dot(&(a * x))
/// }
///
/// let a = SMatrix::<f64, 3, 3>::new(2.0, 1.0, 0.0, 0.0, 3.0, 1.0, 1.0, 0.0, 4.0);
/// let x = SVector::<f64, 3>::new(1.0, -1.0, 0.5);
/// let (value, grad, h) = quadratic_hessian(&x, &a);
/// assert_eq!(h, a + a.transpose()); // the Hessian of xᵀAx is A + Aᵀ
/// let (_, _, hv) = quadratic_hvp(&x, &a, &x);
/// assert!((hv - h * x).norm() < 1e-12);
/// ```
#[proc_macro_attribute]
pub fn hessian(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::hessian(args.into(), item.into()).into()
}
