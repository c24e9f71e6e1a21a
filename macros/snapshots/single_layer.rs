fn single_layer(
    w: &SMatrix<f64, 8, 16>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 8>,
) -> f64 {
    let s = (w * x).map(sigmoid);
    0.5 * (s - y).norm_squared()
}
/// The tangent of [`single_layer_vjp`] along the tangents of the float parameters and of the seed: `(single_layer(…), gradients, their tangents)`, the second derivatives a `#[hessian]` function differentiates a call of `single_layer` with.
#[doc(hidden)]
#[allow(unused_variables, unused_mut, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn single_layer_vjp_jvp<MatgradOrder: ::core::marker::Copy>(
    w: &SMatrix<f64, 8, 16>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 8>,
    seed: f64,
    dw: &SMatrix<f64, 8, 16>,
    dx: &SVector<f64, 16>,
    dy: &SVector<f64, 8>,
    seed_tangent: f64,
    order: MatgradOrder,
) -> (
    f64,
    (SMatrix<f64, 8, 16>, SVector<f64, 16>, SVector<f64, 8>),
    (SMatrix<f64, 8, 16>, SVector<f64, 16>, SVector<f64, 8>),
) {
    ::matgrad::__private::same_function(sigmoid, ::matgrad::__private::sigmoid::<f64>);
    let __mg_v3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = w * x;
    let __mg_v4: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = __mg_v3
        .map(|__mg_m4_x: f64| -> f64 {
            let __mg_m4_v1: f64 = ::matgrad::__private::sigmoid(__mg_m4_x);
            __mg_m4_v1
        });
    let __mg_v5: f64 = 0.5;
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = &__mg_v4 - y;
    let __mg_v7: f64 = __mg_v6.norm_squared();
    let __mg_v8: f64 = __mg_v5 * __mg_v7;
    let mut __mg_v4: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        8,
        1,
    >>::zeros();
    let mut __mg_p4_0: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        8,
        1,
    >>::zeros();
    for __mg_i in 0..__mg_v4.len() {
        let __mg_m4_x: f64 = __mg_v3[__mg_i];
        let __mg_m4_v1: f64 = ::matgrad::__private::sigmoid(__mg_m4_x);
        let __mg_m4_g1: f64 = 1.0;
        let __mg_m4_g0: f64 = (__mg_m4_g1 * (__mg_m4_v1 * (1.0 - __mg_m4_v1)));
        __mg_v4[__mg_i] = __mg_m4_v1;
        __mg_p4_0[__mg_i] = __mg_m4_g0;
    }
    let __mg_d3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = ((dw * x)
        + (w * dx));
    let __mg_d4: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = (__mg_p4_0
        .component_mul(&__mg_d3));
    let __mg_d6: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = (&__mg_d4 - dy);
    let __mg_d7: f64 = (2.0 * (__mg_v6.dot(&__mg_d6)));
    let __mg_d8: f64 = (__mg_v5 * __mg_d7);
    let __mg_g8: f64 = seed;
    let __mg_g7: f64 = (__mg_g8 * __mg_v5);
    let __mg_g3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = (((&__mg_v6
        * (2.0 * __mg_g7)))
        .zip_map(
            &__mg_v4,
            |__mg_m4_zbar: f64, __mg_m4_z: f64| -> f64 {
                let __mg_m4_g1: f64 = __mg_m4_zbar;
                let __mg_m4_g0: f64 = (__mg_m4_g1 * (__mg_m4_z * (1.0 - __mg_m4_z)));
                __mg_m4_g0
            },
        ));
    let __mg_g1: ::matgrad::__private::nalgebra::SMatrix<f64, 16, 1> = (w
        .tr_mul(&__mg_g3));
    let mut __mg_dg8: f64 = seed_tangent;
    let mut __mg_dg7: f64 = (__mg_dg8 * __mg_v5);
    let mut __mg_dg3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = ({
        let __mg_zbar_all = (&__mg_v6 * (2.0 * __mg_g7));
        let __mg_dzbar_all = ((&__mg_d6 * (2.0 * __mg_g7))
            + (&__mg_v6 * (2.0 * __mg_dg7)));
        <::matgrad::__private::nalgebra::SMatrix<
            f64,
            8,
            1,
        >>::from_fn(|__mg_m4s_i, __mg_m4s_j| -> f64 {
            let __mg_m4s_x: f64 = __mg_v3[(__mg_m4s_i, __mg_m4s_j)];
            let __mg_m4s_dx: f64 = __mg_d3[(__mg_m4s_i, __mg_m4s_j)];
            let __mg_m4s_zbar: f64 = __mg_zbar_all[(__mg_m4s_i, __mg_m4s_j)];
            let __mg_m4s_dzbar: f64 = __mg_dzbar_all[(__mg_m4s_i, __mg_m4s_j)];
            let __mg_m4s_v1: f64 = ::matgrad::__private::sigmoid(__mg_m4s_x);
            let __mg_m4s_d1: f64 = (__mg_m4s_dx * (__mg_m4s_v1 * (1.0 - __mg_m4s_v1)));
            let __mg_m4s_g1: f64 = __mg_m4s_zbar;
            let __mg_m4s_g0: f64 = (__mg_m4s_g1 * (__mg_m4s_v1 * (1.0 - __mg_m4s_v1)));
            let mut __mg_m4s_dg1: f64 = __mg_m4s_dzbar;
            let mut __mg_m4s_dg0: f64 = ((__mg_m4s_dg1
                * (__mg_m4s_v1 * (1.0 - __mg_m4s_v1)))
                + (__mg_m4s_g1
                    * ((__mg_m4s_d1 * (1.0 - __mg_m4s_v1))
                        + (__mg_m4s_v1 * (-__mg_m4s_d1)))));
            __mg_m4s_dg0
        })
    });
    let mut __mg_dg1: ::matgrad::__private::nalgebra::SMatrix<f64, 16, 1> = ((dw
        .tr_mul(&__mg_g3)) + (w.tr_mul(&__mg_dg3)));
    (
        __mg_v8,
        (((&__mg_g3 * (x.transpose()))), (*&__mg_g1), ((&__mg_v6 * (-(2.0 * __mg_g7))))),
        (
            ((&__mg_dg3 * (x.transpose())) + (&__mg_g3 * (dx.transpose()))),
            (*&__mg_dg1),
            ((&__mg_d6 * (-(2.0 * __mg_g7))) + (&__mg_v6 * (-(2.0 * __mg_dg7)))),
        ),
    )
}
/** Value and gradient of [`single_layer`] with respect to `w`, generated by `#[gradient]`.

 Returns `(single_layer(…), gradients)`. Each gradient has its parameter's shape, and its entry `(i, j)` is the partial derivative of `single_layer` with respect to entry `(i, j)` of that parameter.

 # Derivation

 ```text
 ∇w = ((s − y) ∘ sigmoid′(w·x))·xᵀ

 where
 s = (w·x).map(sigmoid)
 ```*/
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn single_layer_grad(
    w: &SMatrix<f64, 8, 16>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 8>,
) -> (f64, SMatrix<f64, 8, 16>) {
    ::matgrad::__private::same_function(sigmoid, ::matgrad::__private::sigmoid::<f64>);
    let __mg_v3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = w * x;
    let __mg_v4: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = __mg_v3
        .map(|__mg_m4_x: f64| -> f64 {
            let __mg_m4_v1: f64 = ::matgrad::__private::sigmoid(__mg_m4_x);
            __mg_m4_v1
        });
    let __mg_v5: f64 = 0.5;
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = &__mg_v4 - y;
    let __mg_v7: f64 = __mg_v6.norm_squared();
    let __mg_v8: f64 = __mg_v5 * __mg_v7;
    let __mg_g8: f64 = 1.0;
    let __mg_g7: f64 = (__mg_g8 * __mg_v5);
    let __mg_g3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = (((&__mg_v6
        * (2.0 * __mg_g7)))
        .zip_map(
            &__mg_v4,
            |__mg_m4_zbar: f64, __mg_m4_z: f64| -> f64 {
                let __mg_m4_g1: f64 = __mg_m4_zbar;
                let __mg_m4_g0: f64 = (__mg_m4_g1 * (__mg_m4_z * (1.0 - __mg_m4_z)));
                __mg_m4_g0
            },
        ));
    (__mg_v8, ((&__mg_g3 * (x.transpose()))))
}
/// The vector-Jacobian product of [`single_layer`], generated by `#[gradient]`: its value, and the gradient of ⟨seed, single_layer(…)⟩ with respect to each float parameter, in order. Other `#[gradient]` functions call it to differentiate through `single_layer`.
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn single_layer_vjp(
    w: &SMatrix<f64, 8, 16>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 8>,
    seed: f64,
) -> (f64, (SMatrix<f64, 8, 16>, SVector<f64, 16>, SVector<f64, 8>)) {
    ::matgrad::__private::same_function(sigmoid, ::matgrad::__private::sigmoid::<f64>);
    let __mg_v3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = w * x;
    let __mg_v4: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = __mg_v3
        .map(|__mg_m4_x: f64| -> f64 {
            let __mg_m4_v1: f64 = ::matgrad::__private::sigmoid(__mg_m4_x);
            __mg_m4_v1
        });
    let __mg_v5: f64 = 0.5;
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = &__mg_v4 - y;
    let __mg_v7: f64 = __mg_v6.norm_squared();
    let __mg_v8: f64 = __mg_v5 * __mg_v7;
    let __mg_g8: f64 = seed;
    let __mg_g7: f64 = (__mg_g8 * __mg_v5);
    let __mg_g3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = (((&__mg_v6
        * (2.0 * __mg_g7)))
        .zip_map(
            &__mg_v4,
            |__mg_m4_zbar: f64, __mg_m4_z: f64| -> f64 {
                let __mg_m4_g1: f64 = __mg_m4_zbar;
                let __mg_m4_g0: f64 = (__mg_m4_g1 * (__mg_m4_z * (1.0 - __mg_m4_z)));
                __mg_m4_g0
            },
        ));
    let __mg_g1: ::matgrad::__private::nalgebra::SMatrix<f64, 16, 1> = (w
        .tr_mul(&__mg_g3));
    (
        __mg_v8,
        (((&__mg_g3 * (x.transpose()))), __mg_g1, ((&__mg_v6 * (-(2.0 * __mg_g7))))),
    )
}
/// The Jacobian-vector product of [`single_layer`], generated by matgrad: its value, and its directional derivative Σₓ ∂single_layer/∂x · dx along the tangents `dw`, `dx`, `dy`, one for each float parameter in order, each shaped like its parameter. Other matgrad functions call it to differentiate through `single_layer` in forward mode.
#[allow(unused_variables, clippy::all, clippy::pedantic)]
#[must_use]
#[inline]
fn single_layer_jvp(
    w: &SMatrix<f64, 8, 16>,
    x: &SVector<f64, 16>,
    y: &SVector<f64, 8>,
    dw: &SMatrix<f64, 8, 16>,
    dx: &SVector<f64, 16>,
    dy: &SVector<f64, 8>,
) -> (f64, f64) {
    ::matgrad::__private::same_function(sigmoid, ::matgrad::__private::sigmoid::<f64>);
    let __mg_v3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = w * x;
    let mut __mg_v4: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        8,
        1,
    >>::zeros();
    let mut __mg_p4_0: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = <::matgrad::__private::nalgebra::SMatrix<
        f64,
        8,
        1,
    >>::zeros();
    for __mg_i in 0..__mg_v4.len() {
        let __mg_m4_x: f64 = __mg_v3[__mg_i];
        let __mg_m4_v1: f64 = ::matgrad::__private::sigmoid(__mg_m4_x);
        let __mg_m4_g1: f64 = 1.0;
        let __mg_m4_g0: f64 = (__mg_m4_g1 * (__mg_m4_v1 * (1.0 - __mg_m4_v1)));
        __mg_v4[__mg_i] = __mg_m4_v1;
        __mg_p4_0[__mg_i] = __mg_m4_g0;
    }
    let __mg_v5: f64 = 0.5;
    let __mg_v6: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = &__mg_v4 - y;
    let __mg_v7: f64 = __mg_v6.norm_squared();
    let __mg_v8: f64 = __mg_v5 * __mg_v7;
    let __mg_d3: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = ((dw * x)
        + (w * dx));
    let __mg_d4: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = (__mg_p4_0
        .component_mul(&__mg_d3));
    let __mg_d6: ::matgrad::__private::nalgebra::SMatrix<f64, 8, 1> = (&__mg_d4 - dy);
    let __mg_d7: f64 = (2.0 * (__mg_v6.dot(&__mg_d6)));
    let __mg_d8: f64 = (__mg_v5 * __mg_d7);
    (__mg_v8, __mg_d8)
}
